//! --no-follow: print what exists, then exit with a meaningful status.

use kube_sim::{ContainerSpec, PodSpec};

use crate::util::{Cluster, sim_wait, tally};

async fn three_pods(c: &Cluster) {
    for i in 1..=3 {
        c.sim.create_pod(
            "default",
            PodSpec::new(&format!("api-{i}"))
                .container(ContainerSpec::new("app").backlog(10))
                .container(ContainerSpec::new("log").backlog(10)),
        );
    }
    sim_wait(&c.sim, "pods running", |s| {
        (1..=3).all(|i| s.generated("default", &format!("api-{i}"), "log") == 10)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_two_prints_the_last_two_lines_of_each_container() {
    let c = Cluster::start().await;
    three_pods(&c).await;
    let out = c.run(&["api", "--no-follow", "--tail", "2"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let t = tally(&out.lines(), None);
    assert_eq!(t.len(), 6);
    for (key, seqs) in &t {
        assert_eq!(seqs, &[8, 9], "{key:?}");
    }
    assert_eq!(out.lines().len(), 12);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_waiting_to_start_is_a_notice_not_a_failure() {
    let c = Cluster::start().await;
    three_pods(&c).await;
    c.sim.create_pod(
        "default",
        PodSpec::new("api-4")
            .container(ContainerSpec::new("app").backlog(10))
            .container(ContainerSpec::new("stuck").waiting("ImagePullBackOff")),
    );
    sim_wait(&c.sim, "api-4 app running", |s| {
        s.generated("default", "api-4", "app") == 10
    })
    .await;
    let out = c.run(&["api", "--no-follow", "--tail", "2"]).await;
    assert_eq!(
        out.code,
        Some(0),
        "a log that does not exist yet did not fail to be read; stderr: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    let notices: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("has not started"))
        .collect();
    assert_eq!(notices.len(), 1, "{}", out.stderr);
    assert!(
        notices[0].starts_with(
            "ktail: default/api-4 › stuck has not started (ImagePullBackOff: Back-off pulling image "
        ) && notices[0].ends_with("): it has no log yet"),
        "the kubelet's reason and message: {}",
        notices[0]
    );
    // The rest is intact.
    let t = tally(&out.lines(), None);
    assert_eq!(t.len(), 7);
    assert!(t.values().all(|s| s == &[8, 9]));
    // --only-log-lines keeps stderr for warnings only.
    let out = c
        .run(&["api", "--no-follow", "--tail", "2", "--only-log-lines"])
        .await;
    assert_eq!((out.code, out.stderr.as_str()), (Some(0), ""));
}

#[tokio::test(flavor = "multi_thread")]
async fn queued_streams_all_print_with_a_low_max_log_requests() {
    let c = Cluster::start().await;
    three_pods(&c).await;
    let out = c
        .run(&["api", "--no-follow", "--max-log-requests", "1"])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let t = tally(&out.lines(), None);
    assert_eq!(t.len(), 6);
    assert!(t.values().all(|s| *s == (0..10).collect::<Vec<_>>()));
}

/// `n` running pods `w-000…` (label `app=w`) in namespace `batch`, each container having
/// written `lines` lines.
async fn batch_pods(c: &Cluster, n: usize, lines: u64) {
    c.sim.create_namespace("batch");
    for i in 0..n {
        c.sim.create_pod(
            "batch",
            PodSpec::new(&format!("w-{i:03}"))
                .label("app", "w")
                .container(ContainerSpec::new("app").backlog(lines)),
        );
    }
    sim_wait(&c.sim, "pods running", |s| {
        (0..n).all(|i| s.generated("batch", &format!("w-{i:03}"), "app") == lines)
    })
    .await;
}

/// A drain asks the API for each container's log once and for nothing per container
/// besides: a pod GET per stream would double the load a large namespace puts on the
/// apiserver (stern and kubectl make one request per container too).
#[tokio::test(flavor = "multi_thread")]
async fn a_drain_makes_one_request_per_container() {
    let c = Cluster::start().await;
    batch_pods(&c, 100, 5).await;
    let before = c.sim.request_log().len();
    let out = c.run(&["-n", "batch", "-l", "app=w", "--no-follow"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let t = tally(&out.lines(), None);
    assert_eq!(t.len(), 100, "every container was read");
    assert!(t.values().all(|seqs| seqs == &[0, 1, 2, 3, 4]), "{t:?}");
    let requests: Vec<String> = c.sim.request_log().split_off(before);
    let logs = requests.iter().filter(|r| r.contains("/log?")).count();
    let pod_gets: Vec<&String> = requests
        .iter()
        .filter(|r| r.starts_with("GET /api/v1/namespaces/batch/pods/") && !r.contains("/log"))
        .collect();
    assert_eq!(logs, 100, "one log request per container: {requests:#?}");
    assert!(
        pod_gets.is_empty(),
        "no pod GET per container: {pod_gets:#?}"
    );
    // The rest: the pod list and what a client asks once per run (version, discovery).
    assert!(
        requests.len() <= 100 + 5,
        "{} requests for 100 containers: {requests:#?}",
        requests.len()
    );
}

/// Over HTTP/1.1 a log read has a connection to itself; one read to its end serves the
/// next container's read, so a drain of many containers, five at a time, does not open
/// (and, over TLS, handshake) a connection per container.
#[tokio::test(flavor = "multi_thread")]
async fn a_drain_over_http1_reuses_connections() {
    let c = Cluster::start().await;
    batch_pods(&c, 40, 3).await;
    let before = c.sim.connections().len();
    let out = c.run(&["-n", "batch", "-l", "app=w", "--no-follow"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let t = tally(&out.lines(), None);
    assert_eq!(t.len(), 40, "every container was read");
    assert!(t.values().all(|seqs| seqs == &[0, 1, 2]), "{t:?}");
    let opened = c.sim.connections().len() - before;
    // Five log reads at a time (the default --max-log-requests), plus the list's.
    assert!(
        opened <= 5 + 3,
        "{opened} connections for 40 log reads, five at a time"
    );
}
