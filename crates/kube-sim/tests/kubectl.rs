//! Conformance of the simulator with the real kubectl 1.37.1.
//!
//! Every test starts its own simulator over HTTPS (HTTP/2 offered, as kube-apiserver
//! does; one test serves HTTP/1.1 only) with a bearer token, writes a kubeconfig
//! into a private temporary HOME, runs kubectl (with its own `--cache-dir`) against it and
//! checks what kubectl prints: tables, watch events, logs with every flag, and its normal
//! messages for 401, 403 and 404. kubectl is found through `KUBECTL` or `PATH`; when no
//! kubectl 1.37 is there the tests fail, they do not skip. Every kubectl run is bounded by
//! a deadline and killed past it; every wait awaits an event (a line of output, a state
//! change of the simulator, a process exit) under a timeout.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kube_sim::{ContainerSpec, JobSpec, PodSpec, Sim, SimOptions, WorkloadSpec};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{OnceCell, mpsc};

/// Bound of a kubectl run that is expected to finish by itself.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound of waiting for the simulator to reach a state, or for a line of streamed output.
const WAIT: Duration = Duration::from_secs(30);

static KUBECTL: OnceCell<PathBuf> = OnceCell::const_new();

/// The kubectl 1.37 binary (`kube_sim::kubectl::find_kubectl`); the tests fail without it.
async fn kubectl_path() -> PathBuf {
    KUBECTL
        .get_or_init(|| async {
            tokio::task::spawn_blocking(kube_sim::kubectl::find_kubectl)
                .await
                .expect("the kubectl search runs")
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .await
        .clone()
}

/// The result of a finished kubectl run.
#[derive(Debug)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// A simulator, a private HOME with its kubeconfig, and the kubectl to drive them.
struct Env {
    sim: Sim,
    dir: PathBuf,
    kubectl: PathBuf,
}

impl Env {
    /// HTTPS with HTTP/2 offered, as kube-apiserver serves.
    async fn start() -> Env {
        Env::start_with(SimOptions {
            tls: true,
            ..Default::default()
        })
        .await
    }

    async fn start_with(opts: SimOptions) -> Env {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let kubectl = kubectl_path().await;
        let sim = Sim::start(opts).await.expect("simulator starts");
        assert!(sim.url().starts_with("https://127.0.0.1:"), "{}", sim.url());
        let dir = std::env::temp_dir().join(format!(
            "kube-sim-kubectl-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(dir.join("home")).expect("temp HOME");
        sim.write_kubeconfig(&dir.join("kubeconfig"))
            .expect("kubeconfig written");
        Env { sim, dir, kubectl }
    }

    /// kubectl with a scrubbed environment: only HOME, KUBECONFIG and a minimal PATH.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.kubectl);
        let cache = self.dir.join("cache");
        cmd.arg("--cache-dir")
            .arg(&cache)
            .args(args)
            .env_clear()
            .env("HOME", self.dir.join("home"))
            .env("KUBECONFIG", self.dir.join("kubeconfig"))
            .env("PATH", "/usr/bin:/bin")
            .env("NO_COLOR", "1")
            .env("TERM", "dumb")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs kubectl to completion; panics if it takes longer than [`RUN_TIMEOUT`].
    async fn run(&self, args: &[&str]) -> Out {
        let fut = self.command(args).output();
        let out = match tokio::time::timeout(RUN_TIMEOUT, fut).await {
            Ok(r) => r.expect("kubectl runs"),
            // Dropping the future kills the child (kill_on_drop).
            Err(_) => panic!("kubectl {args:?} did not finish within {RUN_TIMEOUT:?}"),
        };
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs kubectl and expects success; returns stdout.
    async fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert_eq!(out.code, Some(0), "kubectl {args:?} failed: {out:?}");
        out.stdout
    }

    /// Starts a long-running kubectl whose stdout lines arrive on a channel.
    fn stream(&self, args: &[&str]) -> Stream {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl starts");
        let (tx, rx) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().expect("piped stdout");
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = child.stderr.take().expect("piped stderr");
        let err_task = tokio::spawn(async move {
            let mut text = String::new();
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        Stream {
            child,
            rx,
            err_task,
            seen: Vec::new(),
            args: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    async fn wait_for(&self, what: &str, cond: impl Fn(&Sim) -> bool) {
        assert!(
            self.sim.wait_for(WAIT, cond).await,
            "simulator did not reach: {what}"
        );
    }

    async fn wait_running(&self, ns: &str, pod: &str) {
        self.wait_for(&format!("{ns}/{pod} Running"), |s| {
            phase(s, ns, pod).as_deref() == Some("Running")
        })
        .await;
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running kubectl whose stdout is read line by line.
struct Stream {
    child: Child,
    rx: mpsc::UnboundedReceiver<String>,
    err_task: tokio::task::JoinHandle<String>,
    seen: Vec<String>,
    args: Vec<String>,
}

impl Stream {
    /// Reads lines until `done` holds over everything read so far.
    async fn until(&mut self, what: &str, done: impl Fn(&[String]) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(&self.seen) {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(line)) => self.seen.push(line),
                Ok(None) => panic!(
                    "kubectl {:?} ended before {what}; output:\n{}",
                    self.args,
                    self.seen.join("\n")
                ),
                Err(_) => panic!(
                    "kubectl {:?}: no {what} within {WAIT:?}; output:\n{}",
                    self.args,
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Waits for kubectl to exit by itself; returns its exit code and stderr.
    async fn exit(mut self) -> (Option<i32>, String) {
        let status = match tokio::time::timeout(WAIT, self.child.wait()).await {
            Ok(s) => s.expect("wait for kubectl"),
            Err(_) => panic!(
                "kubectl {:?} did not exit within {WAIT:?}; output:\n{}",
                self.args,
                self.seen.join("\n")
            ),
        };
        // Collect what is left of stdout so callers can inspect it.
        while let Ok(Some(line)) = tokio::time::timeout(WAIT, self.rx.recv()).await {
            self.seen.push(line);
        }
        let stderr = tokio::time::timeout(WAIT, self.err_task)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        (status.code(), stderr)
    }
}

fn phase(sim: &Sim, ns: &str, pod: &str) -> Option<String> {
    sim.pod(ns, pod)?["status"]["phase"]
        .as_str()
        .map(str::to_string)
}

fn restart_count(sim: &Sim, ns: &str, pod: &str, container: &str) -> u64 {
    sim.pod(ns, pod)
        .and_then(|p| {
            p["status"]["containerStatuses"]
                .as_array()?
                .iter()
                .find(|c| c["name"] == container)?["restartCount"]
                .as_u64()
        })
        .unwrap_or(0)
}

fn running_pods(sim: &Sim, ns: &str, prefix: &str) -> Vec<String> {
    sim.pod_names(ns)
        .into_iter()
        .filter(|n| n.starts_with(prefix))
        .filter(|n| phase(sim, ns, n).as_deref() == Some("Running"))
        .collect()
}

/// A table printed by kubectl: header columns and rows split on runs of spaces.
fn table(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect();
    (header, rows)
}

impl Env {
    /// Creates pod `name` in `default` (one container `app`, nginx:1.27) and waits until
    /// it runs.
    async fn app_pod(&self, name: &str) {
        self.sim.create_pod(
            "default",
            PodSpec::new(name).container(ContainerSpec::new("app").image("nginx:1.27")),
        );
        self.wait_running("default", name).await;
    }

    /// `kubectl get events --field-selector SELECTOR EXTRA...`: its output, and its table
    /// split into header and rows.
    async fn events_table(
        &self,
        selector: &str,
        extra: &[&str],
    ) -> (String, Vec<String>, Vec<Vec<String>>) {
        let args = [&["get", "events", "--field-selector", selector], extra].concat();
        let out = self.ok(&args).await;
        let (header, rows) = table(&out);
        (out, header, rows)
    }
}

/// kubectl's AGE column: `5s`, `2m3s`, `4m`, ...
fn is_age(s: &str) -> bool {
    !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, 's' | 'm' | 'h' | 'd'))
}

/// `2024-01-02T03:04:05.123456789Z`: the kubelet's fixed-width timestamp.
fn is_kubelet_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 30
        && b.iter().enumerate().all(|(i, &c)| match i {
            4 | 7 => c == b'-',
            10 => c == b'T',
            13 | 16 => c == b':',
            19 => c == b'.',
            29 => c == b'Z',
            _ => c.is_ascii_digit(),
        })
        && s.parse::<jiff::Timestamp>().is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pods_all_namespaces_shows_ready_status_restarts_age() {
    let env = Env::start().await;
    let sim = &env.sim;
    sim.create_namespace("shop");
    sim.create_namespace("ops");
    sim.create_pod(
        "shop",
        PodSpec::new("web-1")
            .container(ContainerSpec::new("app"))
            .container(ContainerSpec::new("sidecar")),
    );
    sim.create_pod(
        "shop",
        PodSpec::new("stuck").container(ContainerSpec::new("app").waiting("ImagePullBackOff")),
    );
    sim.create_pod(
        "shop",
        PodSpec::new("unscheduled")
            .node(None)
            .container(ContainerSpec::new("app")),
    );
    sim.create_pod(
        "ops",
        PodSpec::new("db-0").container(ContainerSpec::new("db")),
    );
    env.wait_running("shop", "web-1").await;
    env.wait_running("ops", "db-0").await;
    sim.restart_container("ops", "db-0", "db", 1);
    env.wait_for("db-0 restarted and running", |s| {
        restart_count(s, "ops", "db-0", "db") == 1
            && phase(s, "ops", "db-0").as_deref() == Some("Running")
    })
    .await;

    let out = env.ok(&["get", "pods", "-A"]).await;
    let (header, rows) = table(&out);
    assert_eq!(
        header,
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    let by_name: BTreeMap<(String, String), Vec<String>> = rows
        .into_iter()
        .map(|r| ((r[0].clone(), r[1].clone()), r))
        .collect();
    let row = |ns: &str, name: &str| -> &Vec<String> {
        by_name
            .get(&(ns.to_string(), name.to_string()))
            .unwrap_or_else(|| panic!("no row for {ns}/{name} in\n{out}"))
    };
    let expect = |ns: &str, name: &str, ready: &str, status: &str, restarts: &str| {
        let r = row(ns, name);
        assert_eq!(&r[2..5], [ready, status, restarts], "{ns}/{name} in\n{out}");
        assert!(is_age(r.last().unwrap()), "{ns}/{name} AGE in\n{out}");
    };
    expect("shop", "web-1", "2/2", "Running", "0");
    expect("shop", "stuck", "0/1", "ImagePullBackOff", "0");
    expect("shop", "unscheduled", "0/1", "Pending", "0");
    // A restarted container shows `1 (4s ago)`.
    let db = row("ops", "db-0");
    assert_eq!(&db[2..5], ["1/1", "Running", "1"], "{out}");
    assert!(db[5].starts_with('(') && db[6] == "ago)", "{out}");
    assert_eq!(by_name.len(), 4, "{out}");

    // Namespaced get and a single pod by name.
    let one = env.ok(&["get", "pod", "web-1", "-n", "shop"]).await;
    let (_, rows) = table(&one);
    assert_eq!(rows.len(), 1, "{one}");
    assert_eq!(&rows[0][..3], ["web-1", "2/2", "Running"], "{one}");
    let none = env.run(&["get", "pods", "-n", "empty"]).await;
    assert_eq!(none.code, Some(0), "{none:?}");
    assert!(
        none.stderr
            .contains("No resources found in empty namespace."),
        "{none:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_pods_watch_sees_a_rolling_update() {
    let env = Env::start().await;
    let sim = &env.sim;
    sim.create_namespace("shop");
    sim.create_deployment(
        "shop",
        WorkloadSpec::new("web", 2).container(ContainerSpec::new("app").image("nginx:1.26")),
    );
    env.wait_for("2 web pods running", |s| {
        running_pods(s, "shop", "web-").len() == 2
    })
    .await;
    let old: BTreeSet<String> = running_pods(sim, "shop", "web-").into_iter().collect();

    let mut watch = env.stream(&["get", "pods", "-n", "shop", "-w", "--output-watch-events"]);
    watch
        .until("the header and two ADDED events", |seen| {
            seen.iter().filter(|l| l.starts_with("ADDED ")).count() == 2
        })
        .await;
    let (header, _) = table(&watch.seen[0]);
    assert_eq!(
        header,
        ["EVENT", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );

    sim.set_image("shop", "web", "app", "nginx:1.27");
    watch
        .until(
            "ADDED of a new pod, MODIFIED and DELETED of both old pods",
            |seen| {
                let events: Vec<(&str, &str)> = seen.iter().filter_map(|l| event_of(l)).collect();
                let added_new = events
                    .iter()
                    .any(|(e, n)| *e == "ADDED" && n.starts_with("web-") && !old.contains(*n));
                let modified = events.iter().any(|(e, _)| *e == "MODIFIED");
                let deleted = events
                    .iter()
                    .filter(|(e, n)| *e == "DELETED" && old.contains(*n))
                    .count();
                added_new && modified && deleted == 2
            },
        )
        .await;
    // An old pod is deleted only after it was seen terminating (MODIFIED first).
    for name in &old {
        let first_mod = watch
            .seen
            .iter()
            .position(|l| event_of(l) == Some(("MODIFIED", name.as_str())));
        let deleted = watch
            .seen
            .iter()
            .position(|l| event_of(l) == Some(("DELETED", name.as_str())));
        assert!(
            first_mod.is_some() && first_mod < deleted,
            "{name}: {:#?}",
            watch.seen
        );
    }
    env.wait_for("2 new pods running", |s| {
        let now = running_pods(s, "shop", "web-");
        now.len() == 2 && now.iter().all(|n| !old.contains(n))
    })
    .await;
}

/// `ADDED   web-x   1/1 ...` → ("ADDED", "web-x")
fn event_of(line: &str) -> Option<(&str, &str)> {
    let mut words = line.split_whitespace();
    Some((words.next()?, words.next()?))
}

/// `kubectl logs -n shop app-1 <extra>`, expected to succeed; returns stdout.
async fn app_logs(env: &Env, extra: &[&str]) -> String {
    let mut args = vec!["logs", "-n", "shop", "app-1"];
    args.extend_from_slice(extra);
    env.ok(&args).await
}

/// One pod with two containers and known lines for the `kubectl logs` flag tests.
async fn logs_env() -> Env {
    let env = Env::start().await;
    env.sim.create_namespace("shop");
    env.sim.create_pod(
        "shop",
        PodSpec::new("app-1")
            .container(ContainerSpec::new("app").lines(["one", "two", "three"]))
            .container(ContainerSpec::new("sidecar").lines(["side"])),
    );
    env.wait_running("shop", "app-1").await;
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_flags_select_and_shape_the_output() {
    let env = logs_env().await;
    // Without -c kubectl picks the first container and says so on stderr.
    let out = env.run(&["logs", "-n", "shop", "app-1"]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, "one\ntwo\nthree\n");
    assert!(
        out.stderr
            .contains("Defaulted container \"app\" out of: app, sidecar"),
        "{out:?}"
    );
    assert_eq!(app_logs(&env, &["-c", "sidecar"]).await, "side\n");
    assert_eq!(
        app_logs(&env, &["-c", "app", "--tail=2"]).await,
        "two\nthree\n"
    );
    assert_eq!(app_logs(&env, &["-c", "app", "--tail=0"]).await, "");
    assert_eq!(
        app_logs(&env, &["-c", "app", "--limit-bytes=6"]).await,
        "one\ntw"
    );
    assert_eq!(
        app_logs(&env, &["-c", "app", "--since=1h"]).await,
        "one\ntwo\nthree\n"
    );
    assert_eq!(
        app_logs(&env, &["-c", "app", "--since=1h", "--tail=1"]).await,
        "three\n"
    );
    assert_eq!(
        app_logs(&env, &["-c", "app", "--since-time=2999-01-01T00:00:00Z"]).await,
        ""
    );

    let stamped = app_logs(&env, &["-c", "app", "--timestamps"]).await;
    let lines: Vec<&str> = stamped.lines().collect();
    assert_eq!(lines.len(), 3, "{stamped}");
    for (line, text) in lines.iter().zip(["one", "two", "three"]) {
        let (ts, rest) = line.split_at(30);
        assert!(is_kubelet_timestamp(ts), "{line}");
        assert_eq!(rest, format!(" {text}"));
    }
    // sinceTime has whole-second precision: asking for the last nanosecond of the first
    // line's second still returns that line.
    let late_in_second = format!("--since-time={}.999999999Z", &lines[0][..19]);
    let since_out = env
        .ok(&["logs", "-n", "shop", "app-1", "-c", "app", &late_in_second])
        .await;
    assert!(
        since_out.starts_with("one\n"),
        "{late_in_second}: {since_out}"
    );
    // And with timestamps, the limit counts the timestamp bytes too.
    assert_eq!(
        app_logs(&env, &["-c", "app", "--timestamps", "--limit-bytes=31"]).await,
        format!("{} ", &lines[0][..30])
    );

    // kubectl checks the container name itself against the pod it fetched.
    let bad = env
        .run(&["logs", "-n", "shop", "app-1", "-c", "nope"])
        .await;
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert_eq!(
        bad.stderr,
        "error: container nope is not valid for pod app-1 out of: app, sidecar\n"
    );
    // `kubectl logs` words a missing pod its own way (the resource builder's NotFound).
    let missing = env.run(&["logs", "-n", "shop", "nope"]).await;
    assert_eq!(missing.code, Some(1), "{missing:?}");
    assert_eq!(
        missing.stderr,
        "error: error from server (NotFound): pods \"nope\" not found in namespace \"shop\"\n"
    );
    let prev = env
        .run(&["logs", "-n", "shop", "app-1", "-c", "app", "--previous"])
        .await;
    assert!(
        prev.stderr.contains(
            "Error from server (BadRequest): previous terminated container \"app\" in pod \"app-1\" not found"
        ),
        "{prev:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_previous_reads_the_last_instance() {
    let env = logs_env().await;
    let sim = &env.sim;
    sim.restart_container("shop", "app-1", "app", 2);
    env.wait_for("app restarted and running", |s| {
        restart_count(s, "shop", "app-1", "app") == 1
            && phase(s, "shop", "app-1").as_deref() == Some("Running")
    })
    .await;
    sim.log("shop", "app-1", "app", "after restart");
    let prev = env
        .ok(&["logs", "-n", "shop", "app-1", "-c", "app", "--previous"])
        .await;
    assert_eq!(prev, "one\ntwo\nthree\n");
    let current = env.ok(&["logs", "-n", "shop", "app-1", "-c", "app"]).await;
    assert_eq!(current, "after restart\n");
    let tail = env
        .ok(&["logs", "-n", "shop", "app-1", "-c", "app", "-p", "--tail=1"])
        .await;
    assert_eq!(tail, "three\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_waiting_container_is_a_bad_request() {
    let env = Env::start().await;
    env.sim.create_namespace("shop");
    env.sim.create_pod(
        "shop",
        PodSpec::new("stuck").container(ContainerSpec::new("app").waiting("ImagePullBackOff")),
    );
    env.wait_for("stuck pod exists", |s| s.pod("shop", "stuck").is_some())
        .await;
    let out = env.run(&["logs", "-n", "shop", "stuck"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains(
            "Error from server (BadRequest): container \"app\" in pod \"stuck\" is waiting to start: trying and failing to pull image"
        ),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_ends_when_the_container_terminates() {
    let env = logs_env().await;
    let sim = &env.sim;
    let mut follow = env.stream(&["logs", "-n", "shop", "app-1", "-c", "app", "-f"]);
    follow.until("the backlog", |seen| seen.len() >= 3).await;
    sim.log("shop", "app-1", "app", "live line");
    follow
        .until("the live line", |seen| {
            seen.iter().any(|l| l == "live line")
        })
        .await;
    sim.terminate_container("shop", "app-1", "app", 0);
    let (code, stderr) = follow.exit().await;
    assert_eq!(code, Some(0), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_by_selector_streams_every_pod_and_container() {
    let env = Env::start().await;
    let sim = &env.sim;
    sim.create_namespace("shop");
    sim.create_deployment(
        "shop",
        WorkloadSpec::new("web", 3)
            .label("app", "web")
            .container(ContainerSpec::new("app").rate(20.0))
            .container(ContainerSpec::new("sidecar").rate(20.0)),
    );
    sim.create_deployment(
        "shop",
        WorkloadSpec::new("other", 1)
            .label("app", "other")
            .container(ContainerSpec::new("app").rate(20.0)),
    );
    env.wait_for("3 web pods running", |s| {
        running_pods(s, "shop", "web-").len() == 3
    })
    .await;
    let pods = running_pods(sim, "shop", "web-");
    let mut stream = env.stream(&[
        "logs",
        "-n",
        "shop",
        "-l",
        "app=web",
        "--prefix",
        "--all-containers",
        "-f",
        "--max-log-requests",
        "20",
    ]);
    let wanted: BTreeSet<(String, String)> = pods
        .iter()
        .flat_map(|p| {
            [
                (p.clone(), "app".to_string()),
                (p.clone(), "sidecar".to_string()),
            ]
        })
        .collect();
    stream
        .until("lines from every pod and container", |seen| {
            let got: BTreeSet<(String, String)> =
                seen.iter().filter_map(|l| prefix_of(l)).collect();
            wanted.is_subset(&got)
        })
        .await;
    for line in &stream.seen {
        // `[pod/<pod>/<container>] pod=<pod> container=<container> seq=N ...`
        let (pod, container) = prefix_of(line).unwrap_or_else(|| panic!("no prefix: {line}"));
        assert!(pods.contains(&pod), "a pod outside the selector: {line}");
        let body = line.split_once("] ").map(|x| x.1).unwrap_or_default();
        assert!(
            body.starts_with(&format!("pod={pod} container={container} seq=")),
            "{line}"
        );
    }
    // Sequence numbers of one container arrive in order without gaps.
    for (pod, container) in &wanted {
        let seqs: Vec<u64> = stream
            .seen
            .iter()
            .filter(|l| prefix_of(l).as_ref() == Some(&(pod.clone(), container.clone())))
            .filter_map(|l| l.split(" seq=").nth(1)?.split(' ').next()?.parse().ok())
            .collect();
        assert!(
            seqs.windows(2).all(|w| w[1] == w[0] + 1),
            "{pod}/{container}: {seqs:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_stay_within_the_limit_and_go_on_after_goaway() {
    // kubectl speaks HTTP/2 when offered; at 4 streams per connection its 10 log streams
    // and the requests before them need at least 3 connections.
    let env = Env::start_with(SimOptions {
        tls: true,
        http2_max_streams: 4,
        ..Default::default()
    })
    .await;
    let sim = &env.sim;
    let pods: Vec<String> = (0..10).map(|i| format!("many-{i}")).collect();
    for p in &pods {
        sim.create_pod(
            "default",
            PodSpec::new(p)
                .label("app", "many")
                .container(ContainerSpec::new("app").rate(10.0)),
        );
    }
    for p in &pods {
        env.wait_running("default", p).await;
    }
    let mut stream = env.stream(&[
        "logs",
        "-l",
        "app=many",
        "--prefix",
        "-f",
        "--max-log-requests",
        "20",
    ]);
    let lines_of_every_pod = |after: usize| {
        let pods = pods.clone();
        move |seen: &[String]| {
            let got: BTreeSet<String> = seen[after.min(seen.len())..]
                .iter()
                .filter_map(|l| prefix_of(l).map(|(p, _)| p))
                .collect();
            pods.iter().all(|p| got.contains(p))
        }
    };
    stream
        .until("lines from every pod", lines_of_every_pod(0))
        .await;
    let h2: Vec<_> = sim
        .connections()
        .into_iter()
        .filter(|c| c.protocol == kube_sim::Protocol::Http2)
        .collect();
    assert!(h2.len() >= 3, "{h2:?}");
    assert!(h2.iter().all(|c| c.peak_streams <= 4), "{h2:?}");
    assert!(
        h2.iter().map(|c| c.active_streams).sum::<usize>() >= 10,
        "{h2:?}"
    );
    // GOAWAY: the streams in flight finish their work, every pod goes on logging.
    sim.goaway();
    let after = stream.seen.len();
    stream
        .until(
            "lines from every pod after GOAWAY",
            lines_of_every_pod(after),
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_only_server_is_spoken_to_in_http1() {
    let env = Env::start_with(SimOptions {
        tls: true,
        http2: false,
        ..Default::default()
    })
    .await;
    env.sim.create_pod(
        "default",
        PodSpec::new("web-1").container(ContainerSpec::new("app").lines(["hello", "world"])),
    );
    env.wait_running("default", "web-1").await;
    let out = env.ok(&["get", "pods"]).await;
    assert!(out.contains("web-1"), "{out}");
    assert_eq!(env.ok(&["logs", "web-1"]).await, "hello\nworld\n");
    let conns = env.sim.connections();
    assert!(!conns.is_empty());
    assert!(
        conns
            .iter()
            .all(|c| c.protocol == kube_sim::Protocol::Http1),
        "{conns:?}"
    );
}

/// `[pod/web-x/app] ...` → (web-x, app)
fn prefix_of(line: &str) -> Option<(String, String)> {
    let inner = line.strip_prefix("[pod/")?.split_once(']')?.0;
    let (pod, container) = inner.split_once('/')?;
    Some((pod.to_string(), container.to_string()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_workloads_and_services() {
    let env = Env::start().await;
    let sim = &env.sim;
    sim.create_namespace("shop");
    sim.create_deployment(
        "shop",
        WorkloadSpec::new("web", 2).container(ContainerSpec::new("app")),
    );
    sim.create_statefulset(
        "shop",
        WorkloadSpec::new("db", 1).container(ContainerSpec::new("postgres")),
    );
    sim.create_daemonset(
        "shop",
        WorkloadSpec::new("agent", 1).container(ContainerSpec::new("agent")),
    );
    sim.create_job(
        "shop",
        JobSpec::new("migrate")
            .container(ContainerSpec::new("migrate"))
            .run_for(Duration::from_millis(200))
            .exit_code(0),
    );
    sim.create_service("shop", "web", &[("app", "web")]);
    env.wait_for("web, db and agent running and migrate done", |s| {
        running_pods(s, "shop", "web-").len() == 2
            && running_pods(s, "shop", "db-").len() == 1
            && !running_pods(s, "shop", "agent-").is_empty()
            && s.pod_names("shop").iter().any(|n| {
                n.starts_with("migrate-") && phase(s, "shop", n).as_deref() == Some("Succeeded")
            })
    })
    .await;
    // Controllers update their status a moment after the pods change; kubectl's own
    // watch-based waits see that happen.
    for kind in ["deployment/web", "statefulset/db", "daemonset/agent"] {
        let out = env
            .ok(&["rollout", "status", kind, "-n", "shop", "--timeout=30s"])
            .await;
        // A StatefulSet has a (defaulted) partition, so kubectl reports a partitioned
        // roll out, as it does against a real cluster.
        let done = if kind.starts_with("statefulset") {
            "partitioned roll out complete: 1 new pods have been updated...\n".to_string()
        } else {
            let (k, name) = kind.split_once('/').unwrap_or_default();
            let k = if k == "daemonset" { "daemon set" } else { k };
            format!("{k} \"{name}\" successfully rolled out\n")
        };
        assert!(out.ends_with(&done), "{kind}: {out}");
    }
    let out = env
        .ok(&[
            "wait",
            "--for=condition=complete",
            "job/migrate",
            "-n",
            "shop",
            "--timeout=30s",
        ])
        .await;
    assert_eq!(out, "job.batch/migrate condition met\n");
    let out = env
        .ok(&["get", "deploy,rs,sts,ds,job,svc", "-n", "shop"])
        .await;
    let deploy = find_row(&out, "deployment.apps/web").unwrap();
    assert_eq!(&deploy[1..4], ["2/2", "2", "2"], "{out}");
    let rs = out
        .lines()
        .find(|l| l.starts_with("replicaset.apps/web-"))
        .unwrap_or_else(|| panic!("no replicaset in\n{out}"));
    assert_eq!(
        &rs.split_whitespace().collect::<Vec<_>>()[1..4],
        ["2", "2", "2"],
        "{out}"
    );
    assert_eq!(
        find_row(&out, "statefulset.apps/db").unwrap()[1],
        "1/1",
        "{out}"
    );
    let ds = find_row(&out, "daemonset.apps/agent").unwrap_or_else(|| panic!("{out}"));
    assert!(ds[1] != "0" && ds[1] == ds[4], "DESIRED == READY: {out}");
    let job = find_row(&out, "job.batch/migrate").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(&job[1..3], ["Complete", "1/1"], "{out}");
    let svc = find_row(&out, "service/web").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(svc[1], "ClusterIP", "{out}");
    // Each kind's table has its own header.
    for header in [
        "NAME                  READY   UP-TO-DATE   AVAILABLE   AGE",
        "DESIRED   CURRENT   READY",
        "STATUS     COMPLETIONS   DURATION   AGE",
        "TYPE        CLUSTER-IP",
    ] {
        let words: Vec<&str> = header.split_whitespace().collect();
        assert!(
            out.lines().any(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                w.windows(words.len()).any(|win| win == words.as_slice())
            }),
            "missing header {header:?} in\n{out}"
        );
    }

    // The pods carry their owners the way the controllers set them.
    let pods = env
        .ok(&["get", "pods", "-n", "shop", "-l", "app=web", "-o", "json"])
        .await;
    let pods: Value = serde_json::from_str(&pods).expect("pod list JSON");
    let items = pods["items"].as_array().expect("items");
    assert_eq!(items.len(), 2, "{pods}");
    for p in items {
        let owner = &p["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "ReplicaSet", "{p}");
        assert!(
            owner["name"].as_str().unwrap_or("").starts_with("web-"),
            "{p}"
        );
    }
}

fn find_row(out: &str, name: &str) -> Option<Vec<String>> {
    out.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|w| w.first().map(String::as_str) == Some(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_read_like_a_real_cluster() {
    let env = Env::start().await;
    let sim = &env.sim;
    sim.create_namespace("secret");
    sim.create_pod(
        "secret",
        PodSpec::new("vault-0").container(ContainerSpec::new("vault")),
    );
    sim.forbid_namespace("secret");

    // 401 with a cold discovery cache: discovery fails first and client-go reports the
    // generic 401 text, as against a real cluster.
    let out = env.run(&["--token", "wrong", "get", "pods"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.ends_with(
            "error: You must be logged in to the server (the server has asked for the client to provide credentials)\n"
        ),
        "{out:?}"
    );
    assert_eq!(out.stdout, "");
    // 401 with a warm cache: the list itself fails with the apiserver's Status message.
    env.ok(&["get", "pods"]).await;
    let out = env.run(&["--token", "wrong", "get", "pods"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(
        out.stderr,
        "error: You must be logged in to the server (Unauthorized)\n"
    );
    let out = env
        .run(&["--token", "wrong", "logs", "vault-0", "-n", "secret"])
        .await;
    assert_eq!(
        out.stderr,
        "error: You must be logged in to the server (Unauthorized)\n"
    );

    // 403: a forbidden namespace, for list, get and logs.
    let out = env.run(&["get", "pods", "-n", "secret"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains(
            "Error from server (Forbidden): pods is forbidden: User \"sim-user\" cannot list resource \"pods\" in API group \"\" in the namespace \"secret\""
        ),
        "{out:?}"
    );
    let out = env.run(&["get", "pod", "vault-0", "-n", "secret"]).await;
    assert!(
        out.stderr.contains(
            "Error from server (Forbidden): pods \"vault-0\" is forbidden: User \"sim-user\" cannot get resource \"pods\" in API group \"\" in the namespace \"secret\""
        ),
        "{out:?}"
    );
    let out = env.run(&["logs", "vault-0", "-n", "secret"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("Error from server (Forbidden): pods \"vault-0\" is forbidden"),
        "{out:?}"
    );

    // 404: a pod that does not exist.
    let out = env.run(&["get", "pod", "x"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("Error from server (NotFound): pods \"x\" not found"),
        "{out:?}"
    );
    let out = env.run(&["get", "deploy", "x", "-n", "default"]).await;
    assert!(
        out.stderr
            .contains("Error from server (NotFound): deployments.apps \"x\" not found"),
        "{out:?}"
    );
    // A bad selector is the apiserver's 400.
    let out = env.run(&["get", "pods", "-l", "app in (a"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("Error from server (BadRequest)"),
        "{out:?}"
    );
    let out = env
        .run(&["get", "pods", "--field-selector", "spec.foo=x"])
        .await;
    assert!(
        out.stderr.contains("field label not supported: spec.foo"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_sees_clean_ends_and_resets() {
    let env = logs_env().await;
    let sim = &env.sim;
    // A clean end while the container keeps running: kubectl just stops, successfully.
    let mut follow = env.stream(&["logs", "-n", "shop", "app-1", "-c", "app", "-f"]);
    follow.until("the backlog", |seen| seen.len() >= 3).await;
    sim.end_log_streams(kube_sim::StreamEnd::Clean);
    let (code, stderr) = follow.exit().await;
    assert_eq!(code, Some(0), "{stderr}");
    // A reset mid-stream: the body never completes and kubectl reports it: over HTTP/2
    // (kubectl's choice when offered) the stream is reset with INTERNAL_ERROR, as Go's
    // server resets an aborted handler's stream; over HTTP/1.1 the chunked body ends
    // early.
    let mut follow = env.stream(&["logs", "-n", "shop", "app-1", "-c", "app", "-f"]);
    follow.until("the backlog", |seen| seen.len() >= 3).await;
    sim.end_log_streams(kube_sim::StreamEnd::Reset);
    let (code, stderr) = follow.exit().await;
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("stream error") && stderr.contains("INTERNAL_ERROR"),
        "{stderr}"
    );
    // The container still runs and new requests work.
    assert_eq!(app_logs(&env, &["-c", "app"]).await, "one\ntwo\nthree\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_log_hides_old_lines_but_follow_continues() {
    let env = logs_env().await;
    let sim = &env.sim;
    let mut follow = env.stream(&["logs", "-n", "shop", "app-1", "-c", "app", "-f"]);
    follow.until("the backlog", |seen| seen.len() >= 3).await;
    sim.rotate_log("shop", "app-1", "app");
    sim.log("shop", "app-1", "app", "after rotation");
    follow
        .until("the line after the rotation", |seen| {
            seen.iter().any(|l| l == "after rotation")
        })
        .await;
    assert_eq!(follow.seen, ["one", "two", "three", "after rotation"]);
    // Only the current file is served to new requests.
    assert_eq!(app_logs(&env, &["-c", "app"]).await, "after rotation\n");
}

/// Jobs and CronJobs: what `get`, `describe` and `wait` show of the Job controller's work.
#[path = "kubectl/jobs.rs"]
mod jobs;

/// The write requests of a rollout tutorial: set image, rollout restart/undo/status/history,
/// scale, delete pod, create ns/job, apply.
#[path = "kubectl/writes.rs"]
mod writes;

/// `kube-sim ctl`: crashes, failing probes and refused images, as kubectl then shows them.
#[path = "kubectl/ctl.rs"]
mod ctl;

/// Events: `get events` and the Events section of `describe pod`.
#[path = "kubectl/events.rs"]
mod events;
