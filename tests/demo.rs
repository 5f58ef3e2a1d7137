//! `ktail demo`: the README's first command, on the built-in simulated cluster.

use std::path::PathBuf;

use crate::util::{Running, ktail_command};

/// Processes whose command line mentions `needle` (the demo's kubeconfig directory).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
            && String::from_utf8_lossy(&cmdline).contains(needle)
        {
            found.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    found
}

/// Starts the demo and waits for a rolling deployment's lines and notices.
async fn start_demo(home: &std::path::Path) -> (Running, PathBuf) {
    let mut cmd = ktail_command(home);
    cmd.args(["demo", "--color", "never"]);
    let mut demo = Running::spawn(cmd);
    let dir = std::env::temp_dir().join(format!("ktail-demo-{}", demo.child.id().unwrap()));
    demo.wait_until("lines from the demo's pods, and notices", |out, err| {
        out.iter().filter(|l| l.starts_with("web-")).count() >= 5
            && err
                .iter()
                .any(|l| l.starts_with("+ web-") && l.contains(" › "))
    })
    .await;
    assert!(
        demo.stderr()
            .iter()
            .any(|l| l.starts_with("ktail demo: kube-sim listening on ")),
        "{:?}",
        demo.stderr()
    );
    assert!(dir.join("kubeconfig").is_file(), "{}", dir.display());
    assert!(
        !processes_mentioning(&dir.display().to_string()).is_empty(),
        "the simulator and ktail run with the demo's kubeconfig"
    );
    (demo, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_streams_and_leaves_nothing_behind_on_sigterm_or_sigint() {
    let home = tempfile::tempdir().unwrap();
    for (sig, code) in [(libc::SIGTERM, 143), (libc::SIGINT, 130)] {
        let (mut demo, dir) = start_demo(home.path()).await;
        // Only the demo process gets the signal (as from `kill`, not a terminal).
        demo.signal(sig);
        assert_eq!(demo.exit_code().await, Some(code), "{:?}", demo.stderr());
        assert!(!dir.exists(), "{} is removed", dir.display());
        let left = processes_mentioning(&dir.display().to_string());
        assert!(left.is_empty(), "processes left behind: {left:?}");
        assert!(
            !demo.stderr().iter().any(|l| l.contains("panicked")),
            "{:?}",
            demo.stderr()
        );
    }
}
