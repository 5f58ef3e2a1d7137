//! Limits: how soon ktail recovers or ends, and how much memory it holds.
//!
//! A test belongs here when it asserts a bound on elapsed time, latency or memory (a
//! deadline tighter than `TIMEOUT`, a peak RSS), not when it only waits for an event
//! under `TIMEOUT`. Each still checks what ktail prints. On a loaded machine these are
//! the first to fail: re-run one alone before suspecting ktail.

use std::time::Duration;

use kube_sim::StreamEnd;
use tokio::io::AsyncBufReadExt;

use crate::util::{
    Cluster, Running, TIMEOUT, assert_nothing_lost, ground_truth, logging_pod, logging_pods,
    sim_wait,
};

#[tokio::test(flavor = "multi_thread")]
async fn every_stream_is_back_within_5_s_after_an_api_stall_and_bursts_of_429_and_500() {
    let c = Cluster::start().await;
    let names = logging_pods(&c.sim, "burst", 4, 100.0).await;
    let mut k = c.spawn(&["burst"]);
    k.wait_for_more_lines(200).await;
    // A 10-second stall: open streams keep delivering while new requests wait.
    c.sim.stall(Duration::from_secs(10));
    k.wait_for_more_lines(1000).await;
    // Reconnects run into a stalled API, then into bursts of errors.
    c.sim.end_log_streams(StreamEnd::Reset);
    c.sim.fail_next(10, 429, Some(1));
    c.sim.expire_watches();
    k.wait_for_more_lines(200).await;
    c.sim.fail_next(10, 500, None);
    c.sim.end_log_streams(StreamEnd::Clean);
    c.sim.expire_watches();
    // Once the API answers again, every stream is back within 5 seconds (with a sixth of
    // TIMEOUT to spare for a loaded machine).
    let mark = ground_truth(&c.sim, "default", &names, &["c"]);
    let back = tokio::time::timeout(Duration::from_secs(5) + TIMEOUT / 6, async {
        k.wait_for_seqs("every stream back", |t| {
            mark.iter().all(|(key, n)| {
                t.get(key)
                    .is_some_and(|s| s.last().is_some_and(|l| *l >= *n))
            })
        })
        .await
    })
    .await;
    assert!(back.is_ok(), "streams were not back in time");
    let truth = ground_truth(&c.sim, "default", &names, &["c"]);
    assert_nothing_lost(&mut k, &truth).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blocked_stdout_keeps_peak_memory_under_96_mib_and_loses_nothing() {
    let c = Cluster::start().await;
    let names = logging_pods(&c.sim, "fast", 50, 400.0).await;
    let mut cmd = c.ktail(&["fast"]);
    // Nobody reads stdout while the cluster logs 10 seconds' worth of lines (4000 a
    // pod): the pipe fills and ktail must wait.
    let mut child = cmd.spawn().unwrap();
    let pid = child.id().unwrap();
    let before = ground_truth(&c.sim, "default", &names, &["c"]);
    sim_wait(
        &c.sim,
        "10 s of lines logged while stdout is blocked",
        |s| {
            before
                .iter()
                .all(|((p, ctr), n)| s.generated("default", p, ctr) >= n + 4000)
        },
    )
    .await;
    let hwm_kib = peak_rss_kib(pid);
    eprintln!(
        "peak RSS after 10 s with stdout blocked, 50 pods at 400 lines/s: {} MiB",
        hwm_kib / 1024
    );
    assert!(hwm_kib < 96 * 1024, "memory bounded: {hwm_kib} KiB");
    // Now read: every line arrives.
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut k = Running::attach(child, stdout, stderr);
    k.wait_for_more_lines(1000).await;
    let truth = ground_truth(&c.sim, "default", &names, &["c"]);
    assert_nothing_lost(&mut k, &truth).await;
}

/// The peak resident set size (VmHWM) of process `pid`, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_pipe_ends_ktail_within_10_s_with_exit_0() {
    let c = Cluster::start().await;
    logging_pod(&c.sim, "web-1", "app", 5, 200.0, 5).await;
    let mut child = c.ktail(&["web"]).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    // `| head -1`: read one line, then close the pipe.
    let first = tokio::time::timeout(TIMEOUT, lines.next_line())
        .await
        .unwrap()
        .unwrap();
    assert!(first.is_some());
    drop(lines);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("ktail ends soon after its reader goes away")
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    assert!(
        !stderr.contains("error") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn until_done_ends_within_2_s_of_the_last_container_though_the_kubelet_holds_its_stream_10_s()
{
    use kube_sim::{ContainerSpec, PodSpec, SimOptions};
    // The kubelet notices a container's exit at its next state check: here, 10 s late.
    let c = Cluster::start_with(SimOptions {
        exit_stream_hold: Duration::from_secs(10),
        ..Default::default()
    })
    .await;
    c.sim.create_pod(
        "default",
        PodSpec::new("e2e").restart_policy("Never").container(
            ContainerSpec::new("app")
                .lines(["test 1 passed", "test 2 passed"])
                .exit_after(Duration::from_millis(800), 0),
        ),
    );
    let mut k = c.spawn(&["e2e", "--until-done", "-o", "raw"]);
    sim_wait(&c.sim, "the pod succeeded", |s| {
        s.pod("default", "e2e")
            .is_some_and(|p| p["status"]["phase"] == "Succeeded")
    })
    .await;
    let ended = tokio::time::Instant::now();
    assert_eq!(k.exit_code().await, Some(0), "{:?}", k.stderr());
    let took = ended.elapsed();
    assert!(
        took < Duration::from_secs(2),
        "ktail ended {took:?} after the pod"
    );
    assert_eq!(k.stdout(), ["test 1 passed", "test 2 passed"]);
}

/// A TAB against an API server that accepts connections and never answers: every shell
/// gets its (empty) answer within the completion's 1 s limit, and nothing on the
/// terminal.
#[tokio::test(flavor = "multi_thread")]
async fn completion_against_a_silent_api_server_answers_nothing_within_a_second() {
    use crate::shells::{SHELLS, Scripts, kubeconfig_for};
    // Connections complete in the listen backlog; nothing ever reads or answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let server = format!("http://{}", silent.local_addr().unwrap());
    std::fs::write(&kubeconfig, kubeconfig_for(&server)).unwrap();
    let scripts = Scripts::new().await;
    for shell in SHELLS {
        for words in [
            &["ktail", "-n", ""][..],
            &["ktail", "deploy/"],
            &["ktail", "x", "-c", ""],
        ] {
            let start = std::time::Instant::now();
            let (offered, stderr) = scripts.offer(shell, &kubeconfig, words).await;
            let took = start.elapsed();
            assert!(
                offered.is_empty() && stderr.is_empty(),
                "{shell:?} {words:?}: {offered:?} {stderr}"
            );
            // The 1 s limit, and the shell's and ktail's own start on a loaded machine.
            assert!(
                took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
                "{shell:?} {words:?} took {took:?}"
            );
        }
    }
}
