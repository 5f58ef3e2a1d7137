//! `--sort`: lines of every container in the order of their API timestamps, exactly with
//! `--no-follow`, within `--sort-window` when following.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use kube_sim::{ContainerSpec, PodSpec};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::util::{Cluster, TIMEOUT, logging_pods, start_pod};

/// One `-o json` record: its API timestamp, and its container and message.
fn record(line: &str) -> (jiff::Timestamp, String, String) {
    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON record");
    let ts = v["timestamp"]
        .as_str()
        .expect("a timestamp")
        .parse()
        .unwrap();
    let from = format!("{}/{}", v["podName"], v["containerName"]).replace('"', "");
    (ts, from, v["message"].as_str().unwrap().to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn no_follow_sort_prints_every_line_once_in_time_order_with_ties_kept() {
    let c = Cluster::start().await;
    let containers = [
        ("alpha", "app"),
        ("alpha", "side"),
        ("beta", "app"),
        ("gamma", "app"),
    ];
    start_pod(
        &c.sim,
        "default",
        PodSpec::new("alpha")
            .container(ContainerSpec::new("app"))
            .container(ContainerSpec::new("side")),
    )
    .await;
    for pod in ["beta", "gamma"] {
        start_pod(
            &c.sim,
            "default",
            PodSpec::new(pod).container(ContainerSpec::new("app")),
        )
        .await;
    }
    // Lines a millisecond apart in each container, shifted differently in each so that
    // they interleave; every tenth line is at the same instant in all four (ties across
    // containers), and some lines share the instant of the line before (ties within one).
    let base = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 300).unwrap();
    const LINES: u64 = 3000;
    for (j, (pod, container)) in containers.iter().enumerate() {
        let mut previous = None;
        for i in 0..LINES {
            let shift = match i % 10 {
                0 => 0,
                _ => 300_000 * ((i * 7 + j as u64 * 3) % 4),
            };
            let mut at = base + jiff::SignedDuration::from_nanos((i * 1_000_000 + shift) as i64);
            if i % 13 == 5 {
                at = previous.unwrap();
            }
            previous = Some(at);
            let text = format!("{pod}/{container} {i:05}");
            c.sim.log_at("default", pod, container, at, &text);
        }
    }
    let args = ["alpha|beta|gamma", "--no-follow", "-o", "json", "--sort"];
    let out = c.run(&args).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let lines = out.lines();
    assert_eq!(
        lines.len(),
        containers.len() * LINES as usize,
        "every line once"
    );
    let records: Vec<_> = lines.iter().map(|l| record(l)).collect();
    let mut next: BTreeMap<&str, u64> = BTreeMap::new();
    for (n, pair) in records.windows(2).enumerate() {
        assert!(
            pair[0].0 <= pair[1].0,
            "line {n} is later than the next: {:?} then {:?}",
            lines[n],
            lines[n + 1]
        );
    }
    for (_, from, message) in &records {
        let (name, i) = message.rsplit_once(' ').unwrap();
        assert_eq!(name, from, "the line is its own container's");
        let want = next.entry(name).or_default();
        assert_eq!(
            i.parse::<u64>().unwrap(),
            *want,
            "{name} keeps its own order"
        );
        *want += 1;
    }
    // Ties across containers come out the same way every time.
    let again = c.run(&args).await;
    assert_eq!(again.stdout, out.stdout, "a stable order");
    // Unsorted, the containers come one after the other: the order above is --sort's.
    let unsorted = c.run(&args[..4]).await;
    let records: Vec<_> = unsorted.lines().iter().map(|l| record(l)).collect();
    assert!(
        records.windows(2).any(|p| p[0].0 > p[1].0),
        "without --sort the lines are not in time order"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn following_with_sort_keeps_time_order_and_an_idle_container_holds_lines_only_the_window() {
    let c = Cluster::start().await;
    logging_pods(&c.sim, "tick", 3, 40.0).await;
    // A container that logs nothing: it can never show a later line.
    start_pod(
        &c.sim,
        "default",
        PodSpec::new("tick-idle").container(ContainerSpec::new("c")),
    )
    .await;
    let window = Duration::from_millis(300);
    let mut cmd = c.ktail(&[
        "^tick-",
        "-o",
        "json",
        "--tail",
        "0",
        "--sort",
        "--sort-window",
        "300ms",
    ]);
    let mut child = cmd.spawn().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    tokio::time::timeout(TIMEOUT, async {
        while seen.len() < 240 {
            let line = stdout
                .next_line()
                .await
                .unwrap()
                .expect("ktail keeps printing");
            seen.push((SystemTime::now(), line));
        }
    })
    .await
    .expect("3 × 40 lines a second come through");
    child.start_kill().unwrap();
    let stderr = child.wait_with_output().await.unwrap().stderr;
    let stderr = String::from_utf8_lossy(&stderr);
    let mut inversions = 0;
    let mut delays = Vec::new();
    let mut last = None;
    for (arrived, line) in &seen {
        let (ts, _, _) = record(line);
        if last.is_some_and(|l| ts < l) {
            inversions += 1;
        }
        last = Some(ts);
        let logged = SystemTime::from(ts);
        delays.push(arrived.duration_since(logged).unwrap_or_default());
    }
    assert_eq!(inversions, 0, "lines in time order");
    assert!(!stderr.contains("later than --sort-window"), "{stderr}");
    delays.sort();
    let worst = *delays.last().unwrap();
    // The window, plus what a loaded test machine adds to any line's way.
    assert!(
        worst < window + Duration::from_secs(1),
        "no line is held much beyond the window: the slowest took {worst:?} (median {:?})",
        delays[delays.len() / 2]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_line_later_than_the_window_is_printed_at_once_and_reported() {
    let c = Cluster::start().await;
    logging_pods(&c.sim, "tick", 2, 20.0).await;
    // A pod on a node whose clock is behind: its lines carry times already passed.
    start_pod(
        &c.sim,
        "default",
        PodSpec::new("tick-skewed").container(ContainerSpec::new("c")),
    )
    .await;
    let mut k = c.spawn(&[
        "^tick-",
        "-o",
        "raw",
        "--tail",
        "0",
        "--sort",
        "--sort-window",
        "100ms",
    ]);
    k.wait_for_more_lines(20).await;
    let behind = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(5);
    c.sim
        .log_at("default", "tick-skewed", "c", behind, "from a slow clock");
    k.wait_until("the late line and its warning", |out, err| {
        out.iter().any(|l| l == "from a slow clock")
            && err.iter().any(|l| l.contains("later than --sort-window"))
    })
    .await;
    assert!(k.is_running(), "a late line ends nothing");
    k.wait_for_more_lines(10).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_previous_instance_goes_first_and_its_stream_carries_on_with_the_current_one() {
    let c = Cluster::start().await;
    start_pod(
        &c.sim,
        "default",
        PodSpec::new("web").container(ContainerSpec::new("app").lines(["one", "two"])),
    )
    .await;
    c.sim.restart_container("default", "web", "app", 1);
    c.sim.log("default", "web", "app", "three");
    let mut k = c.spawn(&[
        "web",
        "-o",
        "raw",
        "--previous",
        "--sort",
        "--sort-window",
        "50ms",
    ]);
    k.wait_until("both instances", |out, _| out.len() >= 3)
        .await;
    assert_eq!(k.stdout(), ["one", "two", "three"]);
    c.sim.log("default", "web", "app", "four");
    k.wait_until("a new line", |out, _| out.len() >= 4).await;
    assert_eq!(k.stdout()[3], "four");
}

#[tokio::test]
async fn sort_flags_that_cannot_work_are_one_line_and_exit_2() {
    let c = Cluster::start().await;
    for (args, needle) in [
        (
            &["x", "--sort", "--sort-window", "20s"][..],
            "--sort-window 20s is out of range",
        ),
        (
            &["x", "--sort", "--sort-window", "0s"][..],
            "--sort-window 0s is out of range",
        ),
        (
            &["x", "--sort", "--sort-window", "soon"][..],
            "invalid --sort-window 'soon'",
        ),
        (&["x", "--sort-window", "1s"][..], "--sort"),
        (&["--stdin", "--sort"][..], "--stdin"),
    ] {
        let out = c.run(args).await;
        assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

/// Many containers with long logs, over HTTP/2: the merge reads only the streams it
/// waits for, so the others stop being read and fill their flow-control windows, which
/// must never take the window of the streams it waits for; and the run must end once
/// the last stream does, whichever it is.
#[tokio::test(flavor = "multi_thread")]
async fn an_exact_sort_of_long_logs_over_shared_http2_connections_prints_every_line_and_ends() {
    let c = Cluster::start_tls().await;
    // As many streams as a connection takes, and more data than its window holds.
    const PODS: usize = 100;
    const LINES: u64 = 3000;
    for i in 0..PODS {
        c.sim.create_pod(
            "default",
            PodSpec::new(&format!("bulk-{i:03}"))
                .container(ContainerSpec::new("app").backlog(LINES)),
        );
    }
    crate::util::sim_wait(&c.sim, "every backlog written", |s| {
        (0..PODS).all(|i| s.generated("default", &format!("bulk-{i:03}"), "app") >= LINES)
    })
    .await;
    let out = c.run(&["bulk", "--no-follow", "--sort"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count() as u64, PODS as u64 * LINES);
    assert!(
        c.sim.connections().len() < PODS,
        "the streams share connections: {} for {PODS} streams",
        c.sim.connections().len()
    );
}
