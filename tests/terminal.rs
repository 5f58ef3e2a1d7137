//! Terminal safety: escape sequences in log lines on a pseudo-terminal and in a pipe.

use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::Stdio;

use kube_sim::{ContainerSpec, PodSpec};

use crate::util::{Cluster, start_pod};

const HOSTILE: [&str; 4] = [
    "\x1b]0;owned title\x07after title",
    "\x1b[2J\x1b[Hcleared the screen",
    "\x1b[5A\x1b[Kmoved the cursor\x07",
    "\x1b[31mplain red\x1b[0m",
];

/// `HOSTILE` as a terminal must get it: every escape in caret notation but colour.
const NEUTRALISED: &str = "^[]0;owned title^Gafter title\n\
                           ^[[2J^[[Hcleared the screen\n\
                           ^[[5A^[[Kmoved the cursor^G\n\
                           \x1b[31mplain red\x1b[0m\n";

/// A pseudo-terminal pair: (master, slave).
fn openpty() -> (std::fs::File, OwnedFd) {
    // SAFETY: plain libc calls on fds we own; every result is checked.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(master >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(master), 0);
        assert_eq!(libc::unlockpt(master), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(master, name.as_mut_ptr(), name.len()), 0);
        let slave = libc::open(name.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
        assert!(slave >= 0, "open slave");
        // Raw output: no \n → \r\n translation, so bytes compare as written.
        let mut tio: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(slave, &mut tio), 0);
        libc::cfmakeraw(&mut tio);
        assert_eq!(libc::tcsetattr(slave, libc::TCSANOW, &tio), 0);
        (
            std::fs::File::from_raw_fd(master),
            OwnedFd::from_raw_fd(slave),
        )
    }
}

async fn hostile_pod() -> Cluster {
    let c = Cluster::start().await;
    start_pod(
        &c.sim,
        "default",
        PodSpec::new("evil").container(ContainerSpec::new("c").lines(HOSTILE)),
    )
    .await;
    c
}

/// Runs ktail with its stdout on a pseudo-terminal and returns what the terminal got.
async fn on_a_terminal(c: &Cluster, args: &[&str]) -> String {
    terminal_output(c.ktail(args), None).await
}

/// Runs `cmd` with its stdout on a pseudo-terminal and `input` on its stdin, and
/// returns what the terminal got.
async fn terminal_output(mut cmd: tokio::process::Command, input: Option<&str>) -> String {
    use tokio::io::AsyncWriteExt;
    let (mut master, slave) = openpty();
    cmd.stdout(Stdio::from(slave));
    if input.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let mut child = cmd.spawn().expect("ktail starts");
    if let Some(text) = input {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(text.as_bytes()).await.unwrap();
    }
    let out = tokio::time::timeout(crate::util::TIMEOUT, child.wait_with_output())
        .await
        .expect("ktail ends")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The child is gone: read what it left in the terminal's buffer.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // SAFETY: fcntl on an fd we own, to stop at the end of the buffer instead of blocking.
    unsafe {
        use std::os::fd::AsRawFd;
        let fl = libc::fcntl(master.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(master.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn escape_sequences_are_neutralised_on_a_terminal() {
    let c = hostile_pod().await;
    let got = on_a_terminal(
        &c,
        &["evil", "--no-follow", "-o", "raw", "--color", "never"],
    )
    .await;
    assert_eq!(got, NEUTRALISED);
    // --raw-escapes hands the terminal everything as logged.
    let got = on_a_terminal(
        &c,
        &[
            "evil",
            "--no-follow",
            "-o",
            "raw",
            "--color",
            "never",
            "--raw-escapes",
        ],
    )
    .await;
    assert_eq!(
        got,
        HOSTILE.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_lines_are_neutralised_on_a_terminal_too() {
    let home = tempfile::tempdir().unwrap();
    let input: String = HOSTILE.iter().map(|l| format!("{l}\n")).collect();
    let stdin = |extra: &[&str]| {
        let mut cmd = crate::util::ktail_command(home.path());
        cmd.args(["--stdin", "--color", "never"]).args(extra);
        cmd
    };
    let got = terminal_output(stdin(&[]), Some(&input)).await;
    assert_eq!(got, NEUTRALISED);
    let got = terminal_output(stdin(&["--raw-escapes"]), Some(&input)).await;
    assert_eq!(got, input);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pipe_gets_the_bytes_exactly() {
    let c = hostile_pod().await;
    let out = c.run(&["evil", "--no-follow", "-o", "raw"]).await;
    assert_eq!(
        out.stdout,
        HOSTILE.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
}
