//! CI mode: `--until` ends the history window by each line's timestamp, `--until-done`
//! follows a Job or a selection until it is done and exits with its status.

use kube_sim::{ContainerSpec, PodSpec};

use crate::util::{Cluster, Running, start_pod};

/// A whole second some minutes ago, as RFC3339, and the time `nanos` after it.
fn boundary() -> (jiff::Timestamp, impl Fn(i64) -> jiff::Timestamp) {
    let now = jiff::Timestamp::now().as_second();
    let base = jiff::Timestamp::from_second(now - 120).unwrap();
    (base, move |nanos| {
        base + jiff::SignedDuration::from_nanos(nanos)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn until_cuts_the_window_at_the_exact_timestamp_in_both_modes() {
    let c = Cluster::start().await;
    start_pod(
        &c.sim,
        "default",
        PodSpec::new("hist").container(ContainerSpec::new("app")),
    )
    .await;
    let (base, at) = boundary();
    for (nanos, text) in [
        (-1_000_000_000, "a second before"),
        (-1, "a nanosecond before"),
        (0, "at the boundary, first"),
        (0, "at the boundary, second"),
        (1, "a nanosecond after"),
        (1_000_000_000, "a second after"),
    ] {
        c.sim.log_at("default", "hist", "app", at(nanos), text);
    }
    let want = [
        "a second before",
        "a nanosecond before",
        "at the boundary, first",
        "at the boundary, second",
    ];
    let until = base.to_string();
    for mode in [&["--no-follow"][..], &[]] {
        let mut args = vec!["hist", "-o", "raw", "--until", &until];
        args.extend(mode);
        let out = c.run(&args).await;
        assert_eq!(out.code, Some(0), "{mode:?}: {}", out.stderr);
        assert_eq!(
            out.lines(),
            want,
            "{mode:?}: an --until in the past prints the window and ends"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn until_as_a_duration_is_a_time_ago() {
    let c = Cluster::start().await;
    start_pod(
        &c.sim,
        "default",
        PodSpec::new("hist").container(ContainerSpec::new("app")),
    )
    .await;
    let now = jiff::Timestamp::now();
    let ago = |secs: i64| now - jiff::SignedDuration::from_secs(secs);
    c.sim
        .log_at("default", "hist", "app", ago(600), "ten minutes ago");
    c.sim
        .log_at("default", "hist", "app", ago(60), "a minute ago");
    let out = c.run(&["hist", "-o", "raw", "--until", "5m"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.lines(), ["ten minutes ago"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_follow_run_ends_when_until_comes() {
    let c = Cluster::start().await;
    start_pod(
        &c.sim,
        "default",
        PodSpec::new("live").container(ContainerSpec::new("app")),
    )
    .await;
    let until = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(3);
    let mut k = Running::spawn(c.ktail(&["live", "-o", "raw", "--until", &until.to_string()]));
    c.sim
        .log("default", "live", "app", "while the window is open");
    k.wait_until("the line in the window", |out, _| {
        out.iter().any(|l| l == "while the window is open")
    })
    .await;
    // Logged now, stamped after the window: never printed.
    let later = until + jiff::SignedDuration::from_millis(1);
    c.sim
        .log_at("default", "live", "app", later, "after the window");
    assert_eq!(k.exit_code().await, Some(0), "{:?}", k.stderr());
    assert_eq!(k.stdout(), ["while the window is open"]);
}
