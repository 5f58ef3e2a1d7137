//! `ktail demo [args…]`: ktail on the built-in simulated cluster.
//!
//! Starts the `kube-sim` binary (built beside `ktail` by `cargo build --workspace`, or
//! found on PATH) with its demo scenario, where a deployment keeps rolling, and runs
//! ktail against it. It prints, once, the kubectl and `kube-sim ctl` commands to try in
//! another terminal (the simulator serves HTTPS, so kubectl sends its token). The
//! simulator is a separate program so that ktail itself carries none of its code.

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::cli::{Args, Parsed, Program};
use crate::error::{Error, Result};
use crate::signals::Signals;

/// Runs the demo and returns ktail's exit code.
///
/// `args` are checked as ktail's own before anything starts: a bad flag is one line and
/// exit 2, and `--help` prints ktail's help, without a simulator. SIGINT and SIGTERM are
/// passed on to the inner ktail, which drains and exits as it would alone; the simulator
/// runs in its own process group, so a Ctrl-C at the terminal does not stop it under
/// the draining ktail (which would warn of refused connections): it is stopped, and the
/// temporary kubeconfig removed, once ktail has ended, so no process or file is left
/// behind.
///
/// `check` is what ktail itself would make of the arguments (the settings, one layer
/// up): a bad value is refused by it before the simulator starts.
pub fn run(program: Program, args: &[OsString], check: impl Fn(&Args) -> Result<()>) -> Result<u8> {
    let argv: Vec<OsString> = std::iter::once(OsString::from(program.name()))
        .chain(args.iter().cloned())
        .collect();
    let given = match crate::cli::parse(program, &argv) {
        Ok(Parsed::Run(a)) => a,
        Ok(Parsed::Builtin(_)) => {
            return Err(Error::usage(format!(
                "`{0} demo` takes ktail's flags and QUERY, not a command; see {0} demo --help",
                program.name()
            )));
        }
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return Ok(crate::error::exit::OK);
        }
        Err(e) => return Err(Error::usage(crate::cli::clap_error_line(program, &e))),
    };
    // A bad value (`--since 5x`, a template that does not compile) is one line before
    // the simulator starts, as it would be without the demo.
    let mut checked = given.clone();
    if !selects_pods(&checked) {
        checked.query = Some(".".into());
    }
    check(&checked)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(demo(args, &given))
}

/// Whether the arguments say which pods to follow.
fn selects_pods(a: &Args) -> bool {
    a.query.is_some() || a.selector.is_some() || a.field_selector.is_some() || a.node.is_some()
}

async fn demo(args: &[OsString], given: &Args) -> Result<u8> {
    let sim = find_simulator()?;
    let dir = TempDir(std::env::temp_dir().join(format!("ktail-demo-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0)
        .map_err(|e| Error::Other(format!("cannot create {}: {e}", dir.0.display())))?;
    let kubeconfig = dir.0.join("kubeconfig");
    let mut signals = Signals::new();
    let mut cluster = Command::new(&sim)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--tls", "--scenario", "demo"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Other(format!("cannot start {}: {e}", sim.display())))?;
    // The simulator prints one line once it listens and the kubeconfig is written.
    let stdout = cluster.stdout.take().expect("stdout is piped");
    let (mut reader, mut ready) = (BufReader::new(stdout), String::new());
    tokio::select! {
        r = reader.read_line(&mut ready) => {
            r.map_err(|e| Error::Other(format!("the simulated cluster did not start: {e}")))?;
        }
        stop = signals.recv() => return Ok(stop.exit_code()),
    }
    if ready.is_empty() {
        return Err(Error::Other(
            "the simulated cluster exited before it was ready".into(),
        ));
    }
    eprintln!("ktail demo: {}", ready.trim());
    eprintln!(
        "ktail demo: deployment 'web' in namespace 'demo' rolls every 20 s until you change it; Ctrl-C ends the demo"
    );
    eprint!("{}", try_these(&kubeconfig, &sim));

    let me = std::env::current_exe()
        .map_err(|e| Error::Other(format!("cannot find ktail itself: {e}")))?;
    let mut cmd = Command::new(me);
    cmd.arg("--kubeconfig").arg(&kubeconfig);
    cmd.args(args);
    // Fill in what the user left out: every pod (the kubeconfig says namespace `demo`).
    if !selects_pods(given) {
        cmd.arg(".");
    }
    let mut ktail = cmd
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Other(format!("cannot run ktail: {e}")))?;
    let status = loop {
        tokio::select! {
            status = ktail.wait() => break status,
            // A Ctrl-C reaches the whole process group; a SIGTERM only the demo.
            // ktail ignores a second signal while it drains, so passing both on is safe.
            stop = signals.recv() => {
                if let Some(pid) = ktail.id().and_then(|p| i32::try_from(p).ok()) {
                    // SAFETY: kill(2) with the pid of our own child, still unreaped.
                    unsafe { libc::kill(pid, stop.number()) };
                }
            }
        }
    }
    .map_err(|e| Error::Other(format!("cannot run ktail: {e}")))?;
    let _ = cluster.kill().await;
    Ok(match (status.code(), status.signal()) {
        (Some(code), _) => code as u8,
        (None, Some(sig)) => 128u8.saturating_add(sig as u8),
        (None, None) => crate::error::exit::SIGINT,
    })
}

/// The tutorial, one copy-paste away: what to type in another terminal while ktail
/// follows the demo (the kubeconfig's context works in namespace `demo`).
fn try_these(kubeconfig: &std::path::Path, sim: &std::path::Path) -> String {
    let sim = sim.display();
    format!(
        "ktail demo: try these in another terminal, and watch ktail follow:
  export KUBECONFIG={}
  kubectl get pods -w
  kubectl set image deploy/web app=nginx:1.29 && kubectl rollout status deploy/web
  kubectl rollout undo deploy/web && kubectl rollout history deploy/web
  kubectl scale deploy/web --replicas=5
  kubectl delete pod $(kubectl get pods -l app=web -o name | head -1 | cut -d/ -f2)
  kubectl create job hello --image=busybox -- echo hello from a job
  {sim} ctl crash $(kubectl get pods -l app=web -o name | head -1 | cut -d/ -f2) --reason OOMKilled --exit-code 137
  {sim} ctl image-pull-fail nginx:1.30 && kubectl set image deploy/web app=nginx:1.30
  {sim} ctl liveness-fail $(kubectl get pods -l app=web -o name | head -1 | cut -d/ -f2)
  ktail deploy/web --events     # the Kubernetes events of the pods, in the stream
",
        kubeconfig.display()
    )
}

/// The demo's kubeconfig directory, removed when the demo ends.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn find_simulator() -> Result<PathBuf> {
    let name = "kube-sim";
    if let Ok(me) = std::env::current_exe()
        && let Some(dir) = me.parent()
    {
        let beside = dir.join(name);
        if beside.is_file() {
            return Ok(beside);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(Error::Other(
        "the demo needs the kube-sim binary: build it with `cargo build --release --workspace`"
            .into(),
    ))
}
