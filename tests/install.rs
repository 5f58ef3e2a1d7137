//! Installing ktail as users do: a `kubectl-ktail` link on PATH that the real kubectl runs
//! as `kubectl ktail`, the version it reports, and the crate package `cargo install` and
//! crates.io get.

use std::path::Path;

use crate::util::{Cluster, TIMEOUT, ktail_command, pod_with_lines, run};

/// The real kubectl with a directory holding only `kubectl-ktail` (a link to the binary
/// under test) first on PATH, as krew installs plugins.
fn kubectl_with_plugin(c: &Cluster, plugins: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = c.kubectl(args);
    cmd.env(
        "PATH",
        format!(
            "{}:{}",
            plugins.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn kubectl_runs_ktail_as_a_plugin_that_calls_itself_kubectl_ktail() {
    let c = Cluster::start().await;
    pod_with_lines(&c.sim, &["one", "two"]).await;
    let plugins = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        env!("CARGO_BIN_EXE_ktail"),
        plugins.path().join("kubectl-ktail"),
    )
    .unwrap();

    let listed = run(kubectl_with_plugin(&c, plugins.path(), &["plugin", "list"])).await;
    assert!(listed.stdout.contains("kubectl-ktail"), "{listed:?}");

    let out = run(kubectl_with_plugin(
        &c,
        plugins.path(),
        &[
            "ktail",
            "web",
            "-n",
            "default",
            "--no-follow",
            "--color",
            "never",
        ],
    ))
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.lines(), ["web-1 app one", "web-1 app two"]);

    let help = run(kubectl_with_plugin(
        &c,
        plugins.path(),
        &["ktail", "--help"],
    ))
    .await;
    assert_eq!(help.code, Some(0), "{}", help.stderr);
    assert!(
        help.stdout
            .contains("Usage: kubectl ktail [OPTIONS] [QUERY]\n       kubectl ktail <COMMAND>"),
        "{}",
        help.stdout
    );
    assert!(
        help.stdout.contains("`kubectl ktail -- demo`"),
        "{}",
        help.stdout
    );
    let version = run(kubectl_with_plugin(
        &c,
        plugins.path(),
        &["ktail", "--version"],
    ))
    .await;
    assert!(
        version.stdout.starts_with("kubectl ktail 0."),
        "{version:?}"
    );

    let bad = run(kubectl_with_plugin(
        &c,
        plugins.path(),
        &["ktail", "web", "--bogus"],
    ))
    .await;
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert_eq!(
        bad.stderr,
        "kubectl ktail: unexpected argument '--bogus' found; see kubectl ktail --help\n"
    );
    let demo = run(kubectl_with_plugin(
        &c,
        plugins.path(),
        &["ktail", "demo", "--help"],
    ))
    .await;
    assert!(
        demo.stdout.contains("Usage: kubectl ktail demo [ARGS]..."),
        "{demo:?}"
    );
    let missing = run(kubectl_with_plugin(
        &c,
        plugins.path(),
        &["ktail", "web", "-n", "nowhere", "--no-follow"],
    ))
    .await;
    assert_eq!(missing.code, Some(6), "{missing:?}");
    assert!(
        missing.stderr.starts_with("kubectl ktail: ") && missing.stderr.contains("nowhere"),
        "{}",
        missing.stderr
    );
}

#[tokio::test]
async fn version_names_the_commit_it_was_built_from() {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = ktail_command(home.path());
    cmd.arg("--version");
    let out = run(cmd).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let head = std::process::Command::new("git")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["rev-parse", "HEAD"])
        .output()
        .expect("git runs");
    let head = String::from_utf8(head.stdout).unwrap();
    assert_eq!(
        out.stdout,
        format!(
            "ktail {} (commit {})\n",
            env!("CARGO_PKG_VERSION"),
            &head.trim()[..12]
        )
    );
}

/// `cargo package --list`: the tool's code, lock file, documents, completions and man
/// page; never the tests, benchmarks, the simulator or CI.
#[tokio::test]
async fn the_crate_package_holds_the_tool_and_nothing_of_its_test_bench() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = tokio::process::Command::new(cargo);
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "package",
            "--list",
            "--allow-dirty",
            "--offline",
            "-p",
            "ktail",
        ])
        .kill_on_drop(true);
    let out = tokio::time::timeout(TIMEOUT * 4, cmd.output())
        .await
        .expect("cargo package --list ends in time")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let files: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    for want in [
        "Cargo.toml",
        "Cargo.lock",
        "README.md",
        "CHANGELOG.md",
        "build.rs",
        "src/main.rs",
        "src/complete.rs",
        "completions/ktail.bash",
        "doc/ktail.1",
    ] {
        assert!(files.iter().any(|f| f == want), "{want} in {files:?}");
    }
    let unwanted: Vec<&String> = files
        .iter()
        .filter(|f| {
            [
                "tests/",
                "bench/",
                "crates/",
                ".ci/",
                "examples/",
                "packaging/",
                "target/",
            ]
            .iter()
            .any(|dir| f.starts_with(dir))
        })
        .collect();
    assert!(unwanted.is_empty(), "not for the package: {unwanted:?}");
    // A test binary left out of the package is said once, by cargo, and nothing else.
    assert!(!stderr.contains("error"), "{stderr}");
}

/// The krew manifest and the README's install commands name the repository Cargo.toml
/// names.
#[test]
fn install_instructions_name_the_repository_of_the_package() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = env!("CARGO_PKG_REPOSITORY");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("cargo install --locked --git {repo} ktail")),
        "README: cargo install from {repo}"
    );
    let krew = std::fs::read_to_string(root.join("packaging/krew/ktail.yaml")).unwrap();
    assert!(krew.contains(&format!("homepage: {repo}")), "{krew}");
    assert!(
        krew.contains("name: ktail") && krew.contains("bin: kubectl-ktail"),
        "{krew}"
    );
}
