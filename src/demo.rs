//! `ktail demo [args…]`: ktail on the built-in simulated cluster.
//!
//! Starts the `kube-sim` binary (built beside `ktail` by `cargo build --workspace`, or
//! found on PATH) with its demo scenario, where a deployment keeps rolling, and runs
//! ktail against it. The simulator is a separate program so that ktail itself carries
//! none of its code.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::error::{Error, Result};

/// Runs the demo and returns ktail's exit code.
pub fn run(args: &[OsString]) -> Result<u8> {
    let sim = find_simulator()?;
    let dir = std::env::temp_dir().join(format!("ktail-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::Other(format!("cannot create {}: {e}", dir.display())))?;
    let kubeconfig = dir.join("kubeconfig");
    let mut child = Command::new(&sim)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--scenario", "demo"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Error::Other(format!("cannot start {}: {e}", sim.display())))?;
    let guard = KillOnDrop(&mut child, dir.clone());
    // The simulator prints one line once it listens and the kubeconfig is written.
    let stdout = guard.0.stdout.take().expect("stdout is piped");
    let mut ready = String::new();
    BufReader::new(stdout)
        .read_line(&mut ready)
        .map_err(|e| Error::Other(format!("the simulated cluster did not start: {e}")))?;
    if ready.is_empty() {
        return Err(Error::Other(
            "the simulated cluster exited before it was ready".into(),
        ));
    }
    eprintln!("ktail demo: {}", ready.trim());
    eprintln!(
        "ktail demo: deployment 'web' in namespace 'demo' rolls every 20 s; Ctrl-C ends the demo"
    );

    let me = std::env::current_exe()
        .map_err(|e| Error::Other(format!("cannot find ktail itself: {e}")))?;
    let mut cmd = Command::new(me);
    cmd.arg("--kubeconfig").arg(&kubeconfig);
    cmd.args(args);
    // Fill in what the user left out: every pod, in the demo namespace.
    let given = <crate::cli::Args as clap::Parser>::try_parse_from(
        std::iter::once(OsString::from("ktail")).chain(args.iter().cloned()),
    );
    if let Ok(a) = given {
        if a.query.is_none()
            && a.selector.is_none()
            && a.field_selector.is_none()
            && a.node.is_none()
        {
            cmd.arg(".");
        }
        if a.namespaces.is_empty()
            && !a.all_namespaces
            && a.namespace_regex.is_none()
            && a.namespace_selector.is_none()
        {
            cmd.args(["--namespace", "demo"]);
        }
    }
    let status = cmd
        .status()
        .map_err(|e| Error::Other(format!("cannot run ktail: {e}")))?;
    drop(guard);
    Ok(status
        .code()
        .map(|c| c as u8)
        .unwrap_or(crate::error::exit::SIGINT))
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

struct KillOnDrop<'a>(&'a mut Child, PathBuf);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}
