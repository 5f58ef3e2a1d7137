//! Output formats, colours and pipes.

use std::time::Duration;

use kube_sim::{ContainerSpec, PodSpec};
use tokio::io::AsyncBufReadExt;

use crate::util::{Cluster, TIMEOUT, sim_wait};

async fn one_pod(c: &Cluster, rate: f64) {
    c.sim.create_pod(
        "default",
        PodSpec::new("web-1")
            .label("app", "web")
            .container(ContainerSpec::new("app").backlog(5).rate(rate)),
    );
    sim_wait(&c.sim, "web-1 running", |s| {
        s.generated("default", "web-1", "app") >= 5
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_lines_carry_the_documented_keys() {
    let c = Cluster::start().await;
    one_pod(&c, 0.0).await;
    let out = c.run(&["web", "--no-follow", "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.lines().len(), 5);
    for (i, line) in out.lines().iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert_eq!(v["namespace"], "default");
        assert_eq!(v["podName"], "web-1");
        assert_eq!(v["containerName"], "app");
        assert_eq!(v["nodeName"], "node-1");
        assert_eq!(v["labels"]["app"], "web");
        let msg = v["message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!("pod=web-1 container=app seq={i} ")),
            "{msg}"
        );
        let ts = v["timestamp"].as_str().unwrap();
        assert!(
            ts.parse::<jiff::Timestamp>().is_ok() && ts.len() == 30,
            "{ts}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_prints_bare_messages_and_timestamps_prefix_them() {
    let c = Cluster::start().await;
    one_pod(&c, 0.0).await;
    let out = c.run(&["web", "--no-follow", "-o", "raw"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.lines().len(), 5);
    assert!(
        out.lines()
            .iter()
            .all(|l| l.starts_with("pod=web-1 container=app seq="))
    );
    let out = c.run(&["web", "--no-follow", "-t"]).await;
    for line in out.lines() {
        let (head, rest) = line.split_at("web-1 app ".len());
        assert_eq!(head, "web-1 app ");
        let (ts, msg) = rest.split_once(' ').unwrap();
        assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{ts}");
        assert!(msg.starts_with("pod=web-1"), "{msg}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn color_always_paints_pod_and_container_in_the_pods_pair() {
    let c = Cluster::start().await;
    one_pod(&c, 0.0).await;
    let out = c.run(&["web", "--no-follow", "--color", "always"]).await;
    let (pod, container) = ktail::format::color_pair("web-1");
    let want = format!("\x1b[{pod}mweb-1\x1b[0m \x1b[{container}mapp\x1b[0m pod=web-1");
    assert!(
        out.lines().iter().all(|l| l.starts_with(&want)),
        "{:?}",
        out.lines()
    );
    assert!(
        out.stderr.contains("\x1b[1;92m+\x1b[0m"),
        "{:?}",
        out.stderr
    );
    // Not a terminal and no flag: no escape sequences at all.
    let out = c.run(&["web", "--no-follow"]).await;
    assert!(!out.stdout.contains('\x1b') && !out.stderr.contains('\x1b'));
    // --color always but NO_COLOR set: the flag wins; NO_COLOR alone with auto: none.
    let mut cmd = c.ktail(&["web", "--no-follow"]);
    cmd.env("NO_COLOR", "1").env("CLICOLOR_FORCE", "1");
    let out = crate::util::run(cmd).await;
    assert!(!out.stdout.contains('\x1b'));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_pipe_ends_ktail_at_once_with_exit_0() {
    let c = Cluster::start().await;
    one_pod(&c, 200.0).await;
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
async fn sigint_and_sigterm_exit_130_and_143_without_torn_lines() {
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let c = Cluster::start().await;
        one_pod(&c, 500.0).await;
        let mut k = c.spawn(&["web"]);
        k.wait_until("streaming", |out, _| out.len() > 20).await;
        k.signal(sig);
        assert_eq!(k.exit_code().await, Some(code));
        for line in k.stdout() {
            assert!(
                crate::util::parse_generated(&line).is_some_and(|g| g.prefix == "web-1 app "),
                "torn: {line:?}"
            );
        }
    }
}
