//! The test harness: start a simulated cluster, run ktail against it, and check lines.

#![allow(dead_code)]

pub mod proxy;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube_sim::{ContainerSpec, PodSpec, Sim, SimOptions};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// Generous bound for anything a test waits for; a pass takes far less.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A simulated cluster and a directory with its kubeconfig.
pub struct Cluster {
    pub sim: Sim,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

impl Cluster {
    pub async fn start() -> Cluster {
        Cluster::start_with(SimOptions::default()).await
    }

    /// A cluster served over https with its CA in the kubeconfig (kubectl sends its token
    /// only over https).
    pub async fn start_tls() -> Cluster {
        Cluster::start_with(SimOptions {
            tls: true,
            ..Default::default()
        })
        .await
    }

    /// A cluster served over https that does not offer HTTP/2, as some servers and
    /// proxies do not: every connection is HTTP/1.1.
    pub async fn start_tls_http1() -> Cluster {
        Cluster::start_with(SimOptions {
            tls: true,
            http2: false,
            ..Default::default()
        })
        .await
    }

    pub async fn start_with(opts: SimOptions) -> Cluster {
        let sim = Sim::start(opts).await.expect("the simulator starts");
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        sim.write_kubeconfig(&kubeconfig).unwrap();
        Cluster {
            sim,
            dir,
            kubeconfig,
        }
    }

    /// A ktail command with a scrubbed environment and this cluster's kubeconfig.
    pub fn ktail(&self, args: &[&str]) -> Command {
        let mut cmd = ktail_command(self.dir.path());
        cmd.env("KUBECONFIG", &self.kubeconfig);
        cmd.args(args);
        cmd
    }

    /// Runs ktail to its end (it must end within `TIMEOUT`).
    pub async fn run(&self, args: &[&str]) -> Output {
        run(self.ktail(args)).await
    }

    /// Starts ktail and collects its output while it runs.
    pub fn spawn(&self, args: &[&str]) -> Running {
        Running::spawn(self.ktail(args))
    }

    /// The real kubectl against this cluster, with a scrubbed environment.
    pub fn kubectl(&self, args: &[&str]) -> Command {
        let mut cmd = scrubbed(kubectl(), self.dir.path());
        cmd.env("KUBECONFIG", &self.kubeconfig).args(args);
        cmd
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// ktail with nothing inherited from the developer's environment but PATH.
pub fn ktail_command(home: &Path) -> Command {
    let mut cmd = scrubbed(env!("CARGO_BIN_EXE_ktail"), home);
    cmd.env("PATH", std::env::var_os("PATH").unwrap_or_default());
    cmd
}

/// `program` with an empty environment but HOME=`home`, no stdin, its output piped, and
/// killed if the test drops it.
fn scrubbed(program: impl AsRef<OsStr>, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("HOME", home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// What a finished run printed.
#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// stderr must be exactly one line, a clear message, never a panic or a debug dump.
    pub fn assert_one_error_line(&self, code: i32, needle: &str) {
        assert_eq!(self.code, Some(code), "exit code; stderr: {}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr, got: {:?}", self.stderr);
        assert!(lines[0].starts_with("ktail: "), "{:?}", lines[0]);
        assert!(
            lines[0].contains(needle),
            "{:?} should mention {needle:?}",
            lines[0]
        );
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert!(self.stdout.is_empty(), "nothing on stdout: {}", self.stdout);
    }
}

/// Runs `ktail --stdin ARGS` on `input`, with no cluster and a scrubbed environment.
pub async fn run_stdin(args: &[&str], input: &str) -> Output {
    use tokio::io::AsyncWriteExt;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = ktail_command(home.path());
    cmd.arg("--stdin").args(args).stdin(Stdio::piped());
    let mut child = cmd.spawn().expect("ktail starts");
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(input.as_bytes()).await.unwrap();
    drop(pipe);
    output_of(child).await
}

pub async fn run(mut cmd: Command) -> Output {
    output_of(cmd.spawn().expect("ktail starts")).await
}

/// Waits (within `TIMEOUT`) for a started ktail and collects its output.
async fn output_of(child: Child) -> Output {
    let out = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .expect("ktail finishes in time")
        .unwrap();
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Sequence numbers of generated lines by (pod, container), shared with a collector.
type SharedSeqs = Arc<Mutex<BTreeMap<(String, String), Vec<u64>>>>;

/// A ktail process that is still running, with its output collected line by line.
pub struct Running {
    pub child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Sequence numbers of generated lines per (pod, container), kept as lines arrive so
    /// that long runs can be checked without re-reading everything.
    seqs: SharedSeqs,
    changed: watch::Receiver<u64>,
}

impl Running {
    pub fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd.spawn().expect("ktail starts");
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        Running::attach(child, stdout, stderr)
    }

    /// Starts collecting the output of a process that is already running.
    pub fn attach(
        child: Child,
        stdout: impl AsyncRead + Unpin + Send + 'static,
        stderr: impl AsyncRead + Unpin + Send + 'static,
    ) -> Running {
        let (tx, changed) = watch::channel(0u64);
        let tx = Arc::new(tx);
        let out_lines = Arc::new(Mutex::new(Vec::new()));
        let err_lines = Arc::new(Mutex::new(Vec::new()));
        let seqs = Arc::new(Mutex::new(BTreeMap::new()));
        collect(stdout, out_lines.clone(), Some(seqs.clone()), tx.clone());
        collect(stderr, err_lines.clone(), None, tx);
        Running {
            child,
            stdout: out_lines,
            stderr: err_lines,
            seqs,
            changed,
        }
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// The lines on stderr so far that are warnings.
    pub fn warnings(&self) -> Vec<String> {
        self.stderr()
            .into_iter()
            .filter(|l| l.contains("warning"))
            .collect()
    }

    /// The generated lines printed so far, by (pod, container), in arrival order.
    pub fn seqs(&self) -> BTreeMap<(String, String), Vec<u64>> {
        self.seqs.lock().unwrap().clone()
    }

    /// Waits until `cond` holds for the generated lines printed so far.
    pub async fn wait_for_seqs(
        &mut self,
        what: &str,
        cond: impl Fn(&BTreeMap<(String, String), Vec<u64>>) -> bool,
    ) {
        let seqs = self.seqs.clone();
        self.wait_until(what, move |_, _| cond(&seqs.lock().unwrap()))
            .await
    }

    /// Waits until `cond(stdout, stderr)` holds, re-checking whenever output arrives.
    pub async fn wait_until(&mut self, what: &str, cond: impl Fn(&[String], &[String]) -> bool) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let holds = {
                let (out, err) = (self.stdout.lock().unwrap(), self.stderr.lock().unwrap());
                cond(&out, &err)
            };
            if holds {
                return;
            }
            match tokio::time::timeout_at(deadline, self.changed.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => {
                    // Both pipes closed: one last look.
                    assert!(
                        cond(&self.stdout(), &self.stderr()),
                        "ktail ended before: {what}\nstderr: {:?}",
                        self.stderr()
                    );
                    return;
                }
                Err(_) => panic!(
                    "timed out waiting for: {what}\nstderr: {:?}\nlast stdout: {:?}",
                    self.stderr(),
                    self.stdout().iter().rev().take(5).collect::<Vec<_>>()
                ),
            }
        }
    }

    /// Waits until ktail has printed `more` lines beyond those it had: paces a fault loop
    /// by output, not by the clock.
    pub async fn wait_for_more_lines(&mut self, more: usize) {
        let have = self.stdout().len();
        self.wait_until("more output", |out, _| out.len() >= have + more)
            .await;
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .try_wait()
            .expect("the process can be asked")
            .is_none()
    }

    pub fn signal(&self, sig: i32) {
        let pid = self.child.id().expect("ktail still runs") as i32;
        // SAFETY: kill(2) with a pid we own and a valid signal number.
        assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
    }

    /// Waits for the process to exit (it must within `TIMEOUT`) and returns its code.
    pub async fn exit_code(&mut self) -> Option<i32> {
        let status = tokio::time::timeout(TIMEOUT, self.child.wait())
            .await
            .expect("ktail exits in time")
            .unwrap();
        // Let the collectors read what is left in the pipes.
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while self.changed.changed().await.is_ok() {}
        })
        .await;
        status.code()
    }
}

fn collect(
    pipe: impl AsyncRead + Unpin + Send + 'static,
    into: Arc<Mutex<Vec<String>>>,
    seqs: Option<SharedSeqs>,
    tx: Arc<watch::Sender<u64>>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(pipe).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(seqs) = &seqs
                && let Some(g) = parse_generated(&line)
            {
                seqs.lock()
                    .unwrap()
                    .entry((g.pod, g.container))
                    .or_default()
                    .push(g.seq);
            }
            into.lock().unwrap().push(line);
            tx.send_modify(|n| *n += 1);
        }
        drop(tx);
    });
}

/// A generated line as printed: the prefix ktail put before it, and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    pub prefix: String,
    pub pod: String,
    pub container: String,
    pub seq: u64,
}

/// Parses `<prefix>pod=<pod> container=<c> seq=<n> …`.
pub fn parse_generated(line: &str) -> Option<Generated> {
    let at = line.find("pod=")?;
    let mut fields = line[at..].split(' ');
    let pod = fields.next()?.strip_prefix("pod=")?.to_string();
    let container = fields.next()?.strip_prefix("container=")?.to_string();
    let seq = fields.next()?.strip_prefix("seq=")?.parse().ok()?;
    Some(Generated {
        prefix: line[..at].to_string(),
        pod,
        container,
        seq,
    })
}

/// Every generated line printed, by (pod, container), checking each one's prefix is
/// `<pod> <container> ` (with `ns` first when given).
pub fn tally(
    lines: &[impl AsRef<str>],
    namespace_of: Option<&dyn Fn(&str) -> String>,
) -> BTreeMap<(String, String), Vec<u64>> {
    let mut out: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for line in lines {
        let Some(g) = parse_generated(line.as_ref()) else {
            continue;
        };
        let want = match namespace_of {
            Some(ns) => format!("{} {} {} ", ns(&g.pod), g.pod, g.container),
            None => format!("{} {} ", g.pod, g.container),
        };
        assert_eq!(g.prefix, want, "prefix of {:?}", line.as_ref());
        out.entry((g.pod, g.container)).or_default().push(g.seq);
    }
    out
}

/// What the cluster has logged so far, per container of `pods`.
pub fn ground_truth(
    sim: &Sim,
    ns: &str,
    pods: &[String],
    containers: &[&str],
) -> BTreeMap<(String, String), u64> {
    pods.iter()
        .flat_map(|p| containers.iter().map(move |c| (p.clone(), c.to_string())))
        .map(|(p, c)| {
            let n = sim.generated(ns, &p, &c);
            ((p, c), n)
        })
        .collect()
}

/// Waits until ktail has printed at least `truth` for every container, then counts:
/// every line 0..n exactly once per container. Panics with the counts otherwise.
pub async fn assert_nothing_lost(k: &mut Running, truth: &BTreeMap<(String, String), u64>) {
    let caught_up = |t: &BTreeMap<(String, String), Vec<u64>>| {
        truth
            .iter()
            .all(|(key, n)| t.get(key).is_some_and(|s| s.len() as u64 >= *n))
    };
    let waited = tokio::time::timeout(
        TIMEOUT - Duration::from_secs(5),
        k.wait_for_seqs("ktail caught up with the cluster", caught_up),
    )
    .await;
    if waited.is_err() {
        let t = k.seqs();
        let behind: Vec<String> = truth
            .iter()
            .filter(|(key, n)| t.get(*key).is_none_or(|s| (s.len() as u64) < **n))
            .map(|(key, n)| {
                let s = t.get(key).cloned().unwrap_or_default();
                format!("{key:?}: {} of {n} (last {:?})", s.len(), s.last())
            })
            .collect();
        let warnings = k.warnings();
        panic!("ktail did not catch up: {behind:?}\nwarnings: {warnings:?}");
    }
    // Every line has the right prefix.
    let mut t = tally(&k.stdout(), None);
    // Only the containers the truth speaks for (a test may expect loss elsewhere).
    t.retain(|key, _| truth.contains_key(key));
    let (mut lines, mut lost, mut dup) = (0u64, 0u64, 0u64);
    for seqs in t.values() {
        let unique: BTreeSet<u64> = seqs.iter().copied().collect();
        dup += seqs.len() as u64 - unique.len() as u64;
        let max = unique.iter().next_back().copied().unwrap_or(0);
        lost += (0..=max).filter(|s| !unique.contains(s)).count() as u64;
        lines += seqs.len() as u64;
    }
    eprintln!(
        "{lines} lines from {} containers: {lost} lost, {dup} duplicated",
        t.len()
    );
    assert_eq!((lost, dup), (0, 0), "{lost} lost, {dup} duplicated");
}

/// Asserts that `seqs` is exactly 0..n, each once, in order, and returns n.
pub fn assert_exactly_once(what: &str, seqs: &[u64]) -> u64 {
    let dups = seqs.len() - seqs.iter().collect::<BTreeSet<_>>().len();
    let expected: Vec<u64> = (0..seqs.len() as u64).collect();
    let missing = expected.iter().filter(|s| !seqs.contains(s)).count();
    assert!(
        dups == 0 && seqs == expected,
        "{what}: {missing} lost, {dups} duplicated (printed {} lines, first out of order at {:?})",
        seqs.len(),
        seqs.iter().zip(&expected).position(|(a, b)| a != b)
    );
    seqs.len() as u64
}

/// The pod `ns/name` as the API serves it now, if its phase is Running.
pub fn running_pod(sim: &Sim, ns: &str, name: &str) -> Option<serde_json::Value> {
    sim.pod(ns, name)
        .filter(|p| p["status"]["phase"] == "Running")
}

/// Creates the pod `spec` in `ns` and waits until it is Running.
pub async fn start_pod(sim: &Sim, ns: &str, spec: PodSpec) {
    let name = sim.create_pod(ns, spec);
    sim_wait(sim, &format!("{name} running"), |s| {
        running_pod(s, ns, &name).is_some()
    })
    .await;
}

/// Starts pod `web-1` in `default` (label app=web, annotation team=core) whose one
/// container, `app`, has logged `lines`.
pub async fn pod_with_lines(sim: &Sim, lines: &[&str]) {
    start_pod(
        sim,
        "default",
        PodSpec::new("web-1")
            .label("app", "web")
            .annotation("team", "core")
            .container(ContainerSpec::new("app").lines(lines.iter().copied())),
    )
    .await;
}

/// Creates pod `pod` in `default` with one container that has logged `backlog` lines
/// and logs `rate` more per second, and waits until it has logged `at_least`.
pub async fn logging_pod(
    sim: &Sim,
    pod: &str,
    container: &str,
    backlog: u64,
    rate: f64,
    at_least: u64,
) {
    sim.create_pod(
        "default",
        PodSpec::new(pod).container(ContainerSpec::new(container).backlog(backlog).rate(rate)),
    );
    sim_wait(sim, &format!("{pod} logging"), |s| {
        s.generated("default", pod, container) >= at_least
    })
    .await;
}

/// Creates `n` bare pods `prefix-0..` in `default`, each with one container `c` logging
/// `rate` lines a second, and waits until each has logged; returns their names.
pub async fn logging_pods(sim: &Sim, prefix: &str, n: usize, rate: f64) -> Vec<String> {
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    for p in &names {
        sim.create_pod(
            "default",
            PodSpec::new(p).container(ContainerSpec::new("c").rate(rate)),
        );
    }
    sim_wait(sim, "pods logging", |s| {
        names.iter().all(|p| s.generated("default", p, "c") > 0)
    })
    .await;
    names
}

/// Waits until `ns` holds exactly `n` pods and each one's `container` has logged a line
/// (a workload's replicas are up); returns their names.
pub async fn wait_pods_logging(sim: &Sim, ns: &str, n: usize, container: &str) -> Vec<String> {
    sim_wait(sim, &format!("{n} pods logging in {ns}"), |s| {
        let pods = s.pod_names(ns);
        pods.len() == n && pods.iter().all(|p| s.generated(ns, p, container) > 0)
    })
    .await;
    sim.pod_names(ns)
}

/// Restarts `container` and waits until its new instance has logged `more` lines;
/// returns how many lines the container has logged by then, over both instances.
pub async fn restart_and_log(sim: &Sim, ns: &str, pod: &str, container: &str, more: u64) -> u64 {
    let restarts = |s: &Sim| {
        s.pod(ns, pod).map_or(0, |p| {
            p["status"]["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|c| c["name"] == container)
                .filter_map(|c| c["restartCount"].as_u64())
                .sum::<u64>()
        })
    };
    let before = restarts(sim);
    sim.restart_container(ns, pod, container, 137);
    sim_wait(sim, "the new instance", |s| restarts(s) > before).await;
    let want = sim.generated(ns, pod, container) + more;
    sim_wait(sim, "lines of the new instance", |s| {
        s.generated(ns, pod, container) >= want
    })
    .await;
    want
}

/// Waits until the simulator says `cond`.
pub async fn sim_wait(sim: &Sim, what: &str, cond: impl Fn(&Sim) -> bool) {
    assert!(
        sim.wait_for(TIMEOUT, cond).await,
        "timed out waiting for the cluster: {what}"
    );
}

/// The real kubectl 1.37 (KUBECTL, else the first on PATH that reports v1.37). Tests that
/// compare with kubectl fail, not skip, without it.
pub fn kubectl() -> PathBuf {
    kube_sim::kubectl::find_kubectl().unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `openssl ARGS` in `dir` (tests make keys and certificates with it); panics with
/// its stderr when it fails.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes `out` in `dir`: a certificate for the PEM key file `key` there, for `subject`
/// ("/CN=alice/O=devs") with openssl extension lines `extensions`, signed by the
/// simulator's CA (whose `ca.crt` is left in `dir` too).
pub fn issue_certificate(
    sim: &Sim,
    dir: &Path,
    key: &str,
    subject: &str,
    extensions: &str,
    out: &str,
) {
    std::fs::write(dir.join("ca.crt"), sim.ca_pem().expect("a TLS simulator")).unwrap();
    std::fs::write(
        dir.join("ca.key"),
        sim.ca_key_pem().expect("a TLS simulator"),
    )
    .unwrap();
    let (csr, ext) = (format!("{out}.csr"), format!("{out}.ext"));
    std::fs::write(dir.join(&ext), extensions).unwrap();
    openssl(
        dir,
        &["req", "-new", "-key", key, "-subj", subject, "-out", &csr],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            out,
        ],
    );
}
