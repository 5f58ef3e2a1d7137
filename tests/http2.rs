//! HTTP/2: ktail speaks it when the server offers it, never puts more streams on a
//! connection than the server allows, and loses nothing through GOAWAY and resets.

use kube_sim::{Protocol, SimOptions, StreamEnd};

use crate::util::{Cluster, assert_nothing_lost, ground_truth, logging_pod, logging_pods};

#[tokio::test(flavor = "multi_thread")]
async fn streams_are_pooled_within_the_server_limit_and_survive_goaway() {
    // 300 follow streams, a watch and instance checks, at kube-apiserver's 100 streams
    // per connection (--max-log-requests lifts ktail's own default of 50).
    let c = Cluster::start_with(SimOptions {
        tls: true,
        ..Default::default()
    })
    .await;
    let pods = logging_pods(&c.sim, "many", 300, 2.0).await;
    let mut k = c.spawn(&["many", "--max-log-requests", "400"]);
    k.wait_for_seqs("every pod followed", |s| s.len() == 300)
        .await;
    let conns = c.sim.connections();
    assert!(
        conns.iter().all(|c| c.protocol == Protocol::Http2),
        "{conns:?}"
    );
    assert!(conns.iter().all(|c| c.peak_streams <= 100), "{conns:?}");
    let open = conns.iter().filter(|c| c.open).count();
    assert!((3..=4).contains(&open), "{open} connections: {conns:?}");
    // GOAWAY on every connection, then every stream cut: all resume on new connections.
    c.sim.goaway();
    c.sim.end_log_streams(StreamEnd::Reset);
    k.wait_for_more_lines(600).await;
    let truth = ground_truth(&c.sim, "default", &pods, &["c"]);
    assert_nothing_lost(&mut k, &truth).await;
    let conns = c.sim.connections();
    assert!(conns.iter().all(|c| c.peak_streams <= 100), "{conns:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http1_server_gets_http1() {
    let c = Cluster::start_tls_http1().await;
    logging_pod(&c.sim, "web-1", "app", 3, 0.0, 3).await;
    let out = c.run(&["web", "--no-follow"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 3);
    let conns = c.sim.connections();
    assert!(
        !conns.is_empty() && conns.iter().all(|c| c.protocol == Protocol::Http1),
        "{conns:?}"
    );
}
