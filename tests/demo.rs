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

/// A directory holding a hard link to ktail and no kube-sim, on PATH alone: a demo that
/// tried to start the simulator would say it cannot find it.
fn ktail_without_simulator() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ktail = dir.path().join("ktail");
    std::fs::hard_link(env!("CARGO_BIN_EXE_ktail"), &ktail).unwrap();
    (dir, ktail)
}

#[tokio::test]
async fn demo_help_and_bad_flags_answer_without_a_simulator() {
    let (dir, ktail) = ktail_without_simulator();
    let command = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(&ktail);
        cmd.env_clear()
            .env("HOME", dir.path())
            .env("PATH", dir.path())
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        cmd
    };
    let help = crate::util::run(command(&["demo", "--help"])).await;
    assert_eq!(help.code, Some(0), "{}", help.stderr);
    assert!(help.stderr.is_empty(), "{}", help.stderr);
    assert!(
        help.stdout.contains("Usage: ktail demo [ARGS]...") && help.stdout.contains("kube-sim"),
        "{}",
        help.stdout
    );
    crate::util::run(command(&["demo", "--bogus"]))
        .await
        .assert_one_error_line(2, "unexpected argument '--bogus' found; see ktail --help");
    crate::util::run(command(&["demo", "-o", "yaml"]))
        .await
        .assert_one_error_line(2, "use one of default, raw, json, extjson, ppextjson");
    // A value clap takes but ktail refuses is refused before the simulator starts too.
    crate::util::run(command(&["demo", "--since", "5x"]))
        .await
        .assert_one_error_line(2, "--since");
    // Without those, the demo does look for its simulator.
    crate::util::run(command(&["demo", "-o", "json"]))
        .await
        .assert_one_error_line(1, "the demo needs the kube-sim binary");
}

/// A Ctrl-C at a terminal signals the whole foreground process group: the demo and its
/// ktail, not the simulator, which must outlive the draining ktail so that no
/// connection-refused warning reaches the screen.
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_ends_the_demo_without_a_warning() {
    let home = tempfile::tempdir().unwrap();
    for _ in 0..3 {
        let mut cmd = ktail_command(home.path());
        cmd.args(["demo", "--color", "never"]).process_group(0);
        let mut demo = Running::spawn(cmd);
        let pid = demo.child.id().unwrap() as i32;
        demo.wait_until("lines from the demo's pods", |out, _| {
            out.iter().filter(|l| l.starts_with("web-")).count() >= 5
        })
        .await;
        // SAFETY: kill(2) of the process group the test created for the demo.
        assert_eq!(unsafe { libc::kill(-pid, libc::SIGINT) }, 0);
        assert_eq!(demo.exit_code().await, Some(130), "{:?}", demo.stderr());
        let noisy: Vec<String> = demo
            .stderr()
            .into_iter()
            .filter(|l| l.contains("warning") || l.contains("refused") || l.contains("error"))
            .collect();
        assert!(noisy.is_empty(), "{noisy:?}");
        let dir = std::env::temp_dir().join(format!("ktail-demo-{pid}"));
        assert!(!dir.exists(), "{} is removed", dir.display());
    }
}

/// The README's template example, run on the demo's own pods: every line keeps its pod
/// name, JSON lines show their message, other lines as they are, and no warning.
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_template_example_works_on_the_demo() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let example = readme
        .lines()
        .find(|l| l.starts_with("ktail web --template '{{ color(pod_color, pod) }}"))
        .expect("the README's template example");
    let template = example
        .split('\'')
        .nth(1)
        .expect("the template between quotes");
    let home = tempfile::tempdir().unwrap();
    let mut cmd = ktail_command(home.path());
    cmd.args(["demo", "web", "--color", "never", "--template", template]);
    let mut demo = Running::spawn(cmd);
    demo.wait_until("lines of both containers of a web pod", |out, _| {
        // The app logs access lines (text), the sidecar JSON with a "msg".
        out.iter().any(|l| l.contains("HTTP/1.1"))
            && out.iter().filter(|l| !l.contains("HTTP/1.1")).count() >= 3
    })
    .await;
    demo.signal(libc::SIGTERM);
    assert_eq!(demo.exit_code().await, Some(143));
    for line in demo.stdout() {
        let (pod, rest) = line.split_once(' ').unwrap_or_default();
        assert!(pod.starts_with("web-") && !rest.is_empty(), "{line:?}");
        assert!(
            !rest.starts_with('{'),
            "the JSON message is shown: {line:?}"
        );
    }
    assert!(demo.warnings().is_empty(), "{:?}", demo.warnings());
}
