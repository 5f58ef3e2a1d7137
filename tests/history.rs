//! The time window (--since, --since-time, --tail) agrees with kubectl on the same pod.

use kube_sim::{ContainerSpec, PodSpec};

use crate::util::{Cluster, run, start_pod};

#[tokio::test(flavor = "multi_thread")]
async fn since_since_time_and_tail_match_kubectl() {
    let c = Cluster::start_tls().await;
    start_pod(
        &c.sim,
        "default",
        PodSpec::new("hist").container(ContainerSpec::new("app")),
    )
    .await;
    // History at known times, far from every window edge below; two lines share a
    // second, as busy containers' lines do.
    let now = jiff::Timestamp::now();
    let at = |secs: i64, nanos: i64| {
        now - jiff::SignedDuration::new(secs, 0) + jiff::SignedDuration::from_nanos(nanos)
    };
    for (secs, nanos, text) in [
        (300, 0, "five minutes ago"),
        (200, 0, "two hundred seconds ago"),
        (100, 1, "a hundred seconds ago, first"),
        (100, 2, "a hundred seconds ago, second"),
        (40, 0, "forty seconds ago"),
        (10, 0, "ten seconds ago"),
    ] {
        c.sim
            .log_at("default", "hist", "app", at(secs, nanos), text);
    }
    let since_time = at(150, 0).round(jiff::Unit::Second).unwrap().to_string();
    let cases: Vec<Vec<String>> = [
        vec![],
        vec!["--tail", "2"],
        vec!["--tail", "0"],
        vec!["--since", "60s"],
        vec!["--since", "2m30s"],
        vec!["--since-time", &since_time],
        vec!["--tail", "3", "--since", "150s"],
        vec!["--tail", "1", "--since-time", &since_time],
        vec!["--timestamps", "--tail", "3"],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect();
    for args in cases {
        let mut kc = c.kubectl(&["logs", "hist", "-c", "app"]);
        kc.args(kubectl_form(&args));
        let want = run(kc).await;
        assert_eq!(want.code, Some(0), "kubectl {args:?}: {}", want.stderr);
        let expected_lines = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            [] => 6,
            ["--tail", "0"] => 0,
            ["--tail", "2"] | ["--since", "60s"] => 2,
            ["--since", "2m30s"] | ["--since-time", _] => 4,
            ["--tail", "3", ..] | ["--timestamps", ..] => 3,
            _ => 1,
        };
        assert_eq!(
            want.stdout.lines().count(),
            expected_lines,
            "kubectl {args:?}: {}",
            want.stdout
        );
        // The API's timestamps are UTC; kubectl prints them as sent.
        let mut argv: Vec<&str> = vec!["pod/hist", "--no-follow", "-o", "raw", "--timezone", "UTC"];
        argv.extend(args.iter().map(String::as_str));
        if args.first().is_some_and(|a| a == "--tail") && args.get(1).is_some_and(|n| n == "0") {
            // ktail refuses --no-follow --tail 0 (it would print nothing, like kubectl).
            assert!(want.stdout.is_empty());
            continue;
        }
        let got = c.run(&argv).await;
        assert_eq!(got.code, Some(0), "ktail {args:?}: {}", got.stderr);
        assert_eq!(got.stdout, want.stdout, "ktail {args:?} vs kubectl");
    }
}

/// kubectl spells the same options with `=`.
fn kubectl_form(args: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--timestamps" => out.push(a.clone()),
            _ => out.push(format!("{a}={}", it.next().unwrap())),
        }
    }
    out
}
