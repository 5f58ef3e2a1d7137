//! What the binary generates about itself: shell completions, the man page and `--help`.
//! The committed copies must match; `KTAIL_BLESS=1 cargo test -p ktail generated`
//! rewrites them after a deliberate CLI change, so the change shows in the diff.

use std::path::PathBuf;

use crate::util::{ktail_command, run};

/// Compares `actual` with the committed file, or rewrites it when blessing.
fn check(relative: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    if std::env::var_os("KTAIL_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{relative} is missing ({e}); run KTAIL_BLESS=1 cargo test -p ktail generated")
    });
    assert!(
        committed == actual,
        "{relative} is stale: run KTAIL_BLESS=1 cargo test -p ktail generated and commit the result\n\
         first difference at line {:?}",
        committed
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .map(|i| i + 1)
    );
}

async fn ktail(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = ktail_command(dir.path());
    cmd.args(args);
    let out = run(cmd).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    out.stdout
}

#[tokio::test]
async fn completions_are_fresh() {
    for (shell, file) in [
        ("bash", "ktail.bash"),
        ("zsh", "_ktail"),
        ("fish", "ktail.fish"),
        ("powershell", "_ktail.ps1"),
        ("elvish", "ktail.elv"),
    ] {
        let script = ktail(&["completions", shell]).await;
        // The script registers ktail and asks it for candidates at TAB.
        assert!(script.contains("COMPLETE"), "{shell}: {script}");
        check(&format!("completions/{file}"), &script);
    }
}

#[tokio::test]
async fn man_page_is_fresh() {
    let page = ktail(&["man"]).await;
    assert!(
        page.starts_with(".ie") && page.contains(".TH ktail 1"),
        "{page}"
    );
    check("doc/ktail.1", &page);
}

#[tokio::test]
async fn help_matches_the_snapshot() {
    let help = ktail(&["--help"]).await;
    check("tests/snapshots/help.txt", &help);
}

#[tokio::test]
async fn generators_reject_bad_arguments_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        (
            &["completions", "tcsh"][..],
            "invalid value 'tcsh' for '<SHELL>': use one of bash, elvish, fish, powershell, zsh",
        ),
        (&["completions"][..], "not provided: <SHELL>"),
        (&["man", "extra"][..], "unexpected argument 'extra'"),
    ] {
        let mut cmd = ktail_command(dir.path());
        cmd.args(args);
        run(cmd).await.assert_one_error_line(2, needle);
    }
}
