//! In-process tests of the orchestration: the whole pipeline (sources, admission, tails,
//! queueing, notices, the writer, exit codes) against a simulated API server on
//! 127.0.0.1, with the cluster's client, stdout, stderr and the stop signal injected —
//! no binary, no process environment.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_sim::{ContainerSpec, PodSpec, Sim, SimOptions};
use tokio::sync::{oneshot, watch};

use crate::app::{Io, run_with};
use crate::cli::{Args, Env};
use crate::config::Settings;
use crate::error::{Error, exit};
use crate::kube::client::Cluster;
use crate::signals::Stop;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A stream the writer writes into and a test watches.
#[derive(Clone)]
struct Buffer(Arc<watch::Sender<Vec<u8>>>);

impl Buffer {
    fn new() -> Buffer {
        Buffer(Arc::new(watch::channel(Vec::new()).0))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.borrow()).into_owned()
    }

    /// Waits until the text satisfies `cond`.
    async fn wait(&self, what: &str, cond: impl Fn(&str) -> bool) {
        let mut rx = self.0.subscribe();
        let seen = rx.wait_for(|b| cond(&String::from_utf8_lossy(b)));
        let ok = tokio::time::timeout(TIMEOUT, seen).await.is_ok();
        assert!(ok, "timed out waiting for {what}; got:\n{}", self.text());
    }
}

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.send_modify(|b| b.extend_from_slice(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A reader of stdout that went away.
struct Closed;

impl Write for Closed {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Err(std::io::ErrorKind::BrokenPipe.into())
    }
}

/// A run of ktail inside this process.
struct Run {
    stdout: Buffer,
    stderr: Buffer,
    stop: Option<oneshot::Sender<Stop>>,
    task: tokio::task::JoinHandle<crate::error::Result<u8>>,
}

impl Run {
    /// `ktail ARGS` against `sim`, its output in buffers.
    async fn start(sim: &Sim, args: &[&str]) -> Run {
        Run::start_with(sim, args, Box::new(std::io::empty())).await
    }

    async fn start_with(sim: &Sim, args: &[&str], stdin: Box<dyn std::io::Read + Send>) -> Run {
        let settings = settings(args);
        let cluster = cluster(sim).await;
        let (stdout, stderr) = (Buffer::new(), Buffer::new());
        let io = Io {
            stdout: Box::new(stdout.clone()),
            stderr: Box::new(stderr.clone()),
            stdin,
        };
        let (stop, stopped) = oneshot::channel();
        let stopped = async move { stopped.await.unwrap_or(Stop::Terminate) };
        let task = tokio::spawn(run_with(settings, Some(cluster), io, stopped));
        Run {
            stdout,
            stderr,
            stop: Some(stop),
            task,
        }
    }

    /// Waits for the run to end by itself.
    async fn end(self) -> crate::error::Result<u8> {
        let _keep_running = self.stop;
        tokio::time::timeout(TIMEOUT, self.task)
            .await
            .expect("the run ends")
            .expect("the run does not panic")
    }

    /// Stops the run as a signal would, and waits for it.
    async fn interrupt(mut self) -> crate::error::Result<u8> {
        let _ = self.stop.take().expect("running").send(Stop::Interrupt);
        self.end().await
    }
}

fn settings(args: &[&str]) -> Settings {
    let args = Args::try_parse_from(std::iter::once("ktail").chain(args.iter().copied()))
        .expect("valid arguments");
    let env = Env {
        now: jiff::Timestamp::now().as_second(),
        ..Env::default()
    };
    Settings::resolve(&args, &env).expect("valid settings")
}

/// A client of `sim`, as its kubeconfig describes it.
async fn cluster(sim: &Sim) -> Cluster {
    let kc = Kubeconfig::from_yaml(&sim.kubeconfig()).expect("the simulator's kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("a client config");
    let client = kube::Client::try_from(config).expect("a client");
    Cluster::new(client, "default", &sim.url(), "sim")
}

async fn sim() -> Sim {
    Sim::start(SimOptions::default())
        .await
        .expect("the simulator starts")
}

/// Creates a pod whose container `app` has logged `lines`, and waits until it runs.
async fn pod(sim: &Sim, name: &str, lines: &[&str]) {
    sim.create_pod(
        "default",
        PodSpec::new(name).container(ContainerSpec::new("app").lines(lines.iter().copied())),
    );
    let running = |s: &Sim| {
        s.pod("default", name)
            .is_some_and(|p| p["status"]["phase"] == "Running")
    };
    assert!(sim.wait_for(TIMEOUT, running).await, "{name} runs");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_drain_prints_every_selected_container_and_exits_0() {
    let sim = sim().await;
    pod(&sim, "web-1", &["one", "two"]).await;
    pod(&sim, "web-2", &["three"]).await;
    pod(&sim, "db-0", &["not selected"]).await;
    let run = Run::start(&sim, &["web", "--no-follow", "--color", "never"]).await;
    let (stdout, stderr) = (run.stdout.clone(), run.stderr.clone());
    assert_eq!(run.end().await.unwrap(), exit::OK);
    let mut lines: Vec<String> = stdout.text().lines().map(String::from).collect();
    lines.sort();
    assert_eq!(lines, ["web-1 app one", "web-1 app two", "web-2 app three"]);
    let mut notices: Vec<String> = stderr.text().lines().map(String::from).collect();
    notices.sort();
    assert_eq!(
        notices,
        [
            "+ web-1 › app",
            "+ web-2 › app",
            "- web-1 › app",
            "- web-2 › app"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_that_has_not_started_is_a_notice_and_the_others_stream() {
    let sim = sim().await;
    pod(&sim, "web-1", &["fine"]).await;
    sim.create_pod(
        "default",
        PodSpec::new("web-2").container(ContainerSpec::new("app").waiting("ContainerCreating")),
    );
    assert!(
        sim.wait_for(TIMEOUT, |s| s.pod("default", "web-2").is_some())
            .await
    );
    let run = Run::start(&sim, &["web", "--no-follow", "--color", "never"]).await;
    let (stdout, stderr) = (run.stdout.clone(), run.stderr.clone());
    assert_eq!(run.end().await.unwrap(), exit::OK);
    assert_eq!(stdout.text(), "web-1 app fine\n", "the other pod streams");
    assert!(
        stderr
            .text()
            .contains("ktail: default/web-2 › app has not started (ContainerCreating"),
        "{}",
        stderr.text()
    );
    assert!(!stderr.text().contains("warning"), "{}", stderr.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn following_picks_up_new_pods_says_when_they_go_and_stops_on_a_signal() {
    let sim = sim().await;
    pod(&sim, "web-1", &["first"]).await;
    let run = Run::start(&sim, &["web", "--color", "never"]).await;
    run.stdout
        .wait("web-1's line", |t| t.contains("web-1 app first"))
        .await;
    pod(&sim, "web-2", &["second"]).await;
    run.stdout
        .wait("the new pod's line", |t| t.contains("web-2 app second"))
        .await;
    run.stderr
        .wait("its notice", |t| t.contains("+ web-2 › app"))
        .await;
    sim.log("default", "web-2", "app", "third");
    run.stdout
        .wait("a line logged while following", |t| {
            t.contains("web-2 app third")
        })
        .await;
    sim.delete_pod("default", "web-1", Duration::ZERO);
    run.stderr
        .wait("the deleted pod's end", |t| t.contains("- web-1 › app"))
        .await;
    let stderr = run.stderr.clone();
    assert_eq!(run.interrupt().await.unwrap(), exit::SIGINT);
    assert!(
        !stderr.text().contains("- web-2"),
        "a signal cuts streams without '-': {}",
        stderr.text()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_beyond_max_log_requests_wait_in_a_queue() {
    let sim = sim().await;
    for name in ["web-1", "web-2", "web-3"] {
        pod(&sim, name, &["hello"]).await;
    }
    let run = Run::start(
        &sim,
        &["web", "--max-log-requests", "2", "--color", "never"],
    )
    .await;
    run.stdout
        .wait("two streams", |t| t.lines().count() == 2)
        .await;
    run.stderr
        .wait("the queue notice", |t| {
            t.contains("2 log streams are open (--max-log-requests)")
        })
        .await;
    // A stream ends when its pod goes: the queued container gets the slot.
    let streaming: Vec<String> = run
        .stdout
        .text()
        .lines()
        .map(|l| l.split(' ').next().unwrap_or_default().to_string())
        .collect();
    sim.delete_pod("default", &streaming[0], Duration::ZERO);
    run.stdout
        .wait("the third stream", |t| t.lines().count() == 3)
        .await;
    let stderr = run.stderr.clone();
    assert_eq!(run.interrupt().await.unwrap(), exit::SIGINT);
    assert_eq!(
        stderr.text().matches("(--max-log-requests)").count(),
        1,
        "said once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stdout_ends_the_run_with_exit_0() {
    let sim = sim().await;
    pod(&sim, "web-1", &["one"]).await;
    let cluster = cluster(&sim).await;
    let io = Io {
        stdout: Box::new(Closed),
        stderr: Box::new(Buffer::new()),
        stdin: Box::new(std::io::empty()),
    };
    let never = std::future::pending::<Stop>();
    let run = run_with(settings(&["web"]), Some(cluster), io, never);
    let code = tokio::time::timeout(TIMEOUT, run)
        .await
        .expect("the run ends");
    assert_eq!(code.unwrap(), exit::OK);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_that_does_not_exist_ends_the_run_before_it_starts() {
    let sim = sim().await;
    let run = Run::start(&sim, &["web", "-n", "nope"]).await;
    let stdout = run.stdout.clone();
    let err = run.end().await.unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err}");
    assert_eq!(err.exit_code(), exit::NOT_FOUND);
    assert!(err.to_string().contains("namespace 'nope'"), "{err}");
    assert_eq!(stdout.text(), "");
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_is_a_source_like_the_others() {
    let input = "keep one\ndrop this\nkeep two\nno newline at the end";
    let settings = settings(&["--stdin", "-e", "drop"]);
    let (stdout, stderr) = (Buffer::new(), Buffer::new());
    let io = Io {
        stdout: Box::new(stdout.clone()),
        stderr: Box::new(stderr.clone()),
        stdin: Box::new(std::io::Cursor::new(input.as_bytes().to_vec())),
    };
    let never = std::future::pending::<Stop>();
    let code = tokio::time::timeout(TIMEOUT, run_with(settings, None, io, never))
        .await
        .expect("the run ends");
    assert_eq!(code.unwrap(), exit::OK);
    assert_eq!(stdout.text(), "keep one\nkeep two\nno newline at the end\n");
    assert_eq!(stderr.text(), "", "no notices without containers");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_selection_says_so_and_a_follow_run_waits_for_pods() {
    let sim = sim().await;
    pod(&sim, "web-1", &["not this one"]).await;
    let run = Run::start(&sim, &["api", "--no-follow"]).await;
    let (stdout, stderr) = (run.stdout.clone(), run.stderr.clone());
    assert_eq!(run.end().await.unwrap(), exit::OK);
    assert_eq!(stdout.text(), "");
    assert_eq!(
        stderr.text(),
        "ktail: no pod matches 'api' in namespace 'default'\n"
    );

    let run = Run::start(&sim, &["api", "-l", "tier=back", "--color", "never"]).await;
    run.stderr
        .wait("the notice", |t| {
            t == "ktail: no pod matches 'api' with -l tier=back in namespace 'default' yet; ktail waits for pods to appear\n"
        })
        .await;
    sim.create_pod(
        "default",
        PodSpec::new("api-1")
            .label("tier", "back")
            .container(ContainerSpec::new("app").lines(["at last"])),
    );
    run.stdout
        .wait("the pod that appeared", |t| t == "api-1 app at last\n")
        .await;
    assert_eq!(run.interrupt().await.unwrap(), exit::SIGINT);
}
