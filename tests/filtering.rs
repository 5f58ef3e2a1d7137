//! Selection, filtering and history flags, each both ways, through the real binary.

use std::time::Duration;

use kube_sim::{ContainerSpec, PodSpec};

use crate::util::{Cluster, logging_pod, sim_wait, start_pod, tally};

fn lines_of(out: &crate::util::Output) -> Vec<String> {
    out.lines().iter().map(|l| l.to_string()).collect()
}

/// web-1 on node-1 and web-2 on node-2, containers app (+ init `setup`, ephemeral
/// `debugger` on web-1), each with a 5-line backlog.
async fn two_nodes() -> Cluster {
    let c = Cluster::start().await;
    c.sim.create_pod(
        "default",
        PodSpec::new("web-1")
            .label("app", "web")
            .init_container(ContainerSpec::new("setup").backlog(5))
            .container(ContainerSpec::new("app").backlog(5))
            .ephemeral_container(ContainerSpec::new("debugger").backlog(5)),
    );
    c.sim.create_pod(
        "default",
        PodSpec::new("web-2")
            .label("app", "web")
            .node(Some("node-2"))
            .container(ContainerSpec::new("app").backlog(5)),
    );
    sim_wait(&c.sim, "pods running", |s| {
        s.generated("default", "web-1", "app") == 5
            && s.generated("default", "web-2", "app") == 5
            && s.generated("default", "web-1", "debugger") == 5
    })
    .await;
    c
}

async fn pairs(c: &Cluster, args: &[&str]) -> Vec<String> {
    let mut argv = vec!["--no-follow"];
    argv.extend_from_slice(args);
    let out = c.run(&argv).await;
    assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
    tally(&out.lines(), None)
        .into_keys()
        .map(|(p, c)| format!("{p}/{c}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn field_selector_node_and_exclude_pod() {
    let c = two_nodes().await;
    let all = ["web-1/app", "web-1/debugger", "web-1/setup", "web-2/app"];
    assert_eq!(pairs(&c, &["web"]).await, all);
    assert_eq!(
        pairs(&c, &["--field-selector", "metadata.name=web-2"]).await,
        ["web-2/app"]
    );
    assert_eq!(
        pairs(&c, &["web", "--field-selector", "metadata.name!=web-2"]).await,
        all[..3]
    );
    assert_eq!(pairs(&c, &["--node", "node-2"]).await, ["web-2/app"]);
    assert_eq!(pairs(&c, &["web", "--node", "node-1"]).await, all[..3]);
    assert_eq!(pairs(&c, &["web", "--exclude-pod", "2$"]).await, all[..3]);
    assert_eq!(pairs(&c, &["web", "--exclude-pod", "nomatch"]).await, all);
    assert_eq!(pairs(&c, &["pod/web-2"]).await, ["web-2/app"]);
    // A field the API does not support is the server's 400, as one line with exit 2.
    let out = c.run(&["--field-selector", "spec.color=red"]).await;
    out.assert_one_error_line(2, "field label not supported: spec.color");
}

#[tokio::test(flavor = "multi_thread")]
async fn init_ephemeral_and_container_state() {
    let c = two_nodes().await;
    assert_eq!(
        pairs(&c, &["web-1", "--init-containers=false"]).await,
        ["web-1/app", "web-1/debugger"]
    );
    assert_eq!(
        pairs(&c, &["web-1", "--ephemeral-containers=false"]).await,
        ["web-1/app", "web-1/setup"]
    );
    assert_eq!(
        pairs(&c, &["web-1", "--container-state", "terminated"]).await,
        ["web-1/setup"]
    );
    assert_eq!(
        pairs(&c, &["web-1", "--container-state", "running"]).await,
        ["web-1/app", "web-1/debugger"]
    );
    assert_eq!(
        pairs(&c, &["web-1", "--container-state", "waiting"]).await,
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn condition_selects_by_pod_condition() {
    let c = two_nodes().await;
    c.sim.crash_loop("default", "web-2", "app");
    sim_wait(&c.sim, "web-2 not ready", |s| {
        s.pod("default", "web-2").is_some_and(|p| {
            p["status"]["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "False")
            })
        })
    })
    .await;
    // The crash-looping container's last run is still readable.
    assert_eq!(
        pairs(&c, &["web", "--condition", "ready=false"]).await,
        ["web-2/app"]
    );
    assert_eq!(
        pairs(&c, &["web", "--condition", "Ready", "-c", "app"]).await,
        ["web-1/app"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn include_exclude_and_highlight_on_messages() {
    let c = Cluster::start().await;
    start_pod(
        &c.sim,
        "default",
        PodSpec::new("api").container(ContainerSpec::new("app").lines([
            "GET /orders 200",
            "POST /orders 201",
            "GET /healthz 200",
            "ERROR database down",
        ])),
    )
    .await;
    let run = |args: &'static [&'static str]| {
        let c = &c;
        async move {
            let mut argv = vec!["api", "--no-follow", "-o", "raw"];
            argv.extend_from_slice(args);
            let out = c.run(&argv).await;
            assert_eq!(out.code, Some(0), "{}", out.stderr);
            lines_of(&out)
        }
    };
    assert_eq!(
        run(&["-i", "GET"]).await,
        ["GET /orders 200", "GET /healthz 200"]
    );
    assert_eq!(
        run(&["-i", "GET", "-i", "POST"]).await,
        ["GET /orders 200", "POST /orders 201", "GET /healthz 200"]
    );
    assert_eq!(
        run(&["-i", "GET", "-e", "healthz"]).await,
        ["GET /orders 200"]
    );
    assert_eq!(
        run(&["-e", "healthz|ERROR"]).await,
        ["GET /orders 200", "POST /orders 201"]
    );
    // "api" is in the prefix too: highlight touches the message only.
    let out = c
        .run(&["api", "--no-follow", "-H", "ERROR|api", "--color", "always"])
        .await;
    let last = out.lines().last().unwrap().to_string();
    assert!(
        last.ends_with("app\x1b[0m \x1b[1;31mERROR\x1b[0m database down"),
        "{last:?}"
    );
    assert_eq!(out.lines().len(), 4, "highlight does not filter");
    assert!(
        !out.lines()[0].contains("\x1b[1;31m"),
        "{:?}",
        out.lines()[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn timestamps_in_a_zone() {
    let c = Cluster::start().await;
    logging_pod(&c.sim, "api", "app", 2, 0.0, 2).await;
    let out = c
        .run(&[
            "api",
            "--no-follow",
            "-o",
            "raw",
            "-t",
            "--timezone",
            "Asia/Kolkata",
        ])
        .await;
    for line in out.lines() {
        let (ts, msg) = line.split_once(' ').unwrap();
        assert!(ts.ends_with("+05:30") && ts.len() == 35, "{ts}");
        let t: jiff::Timestamp = ts.parse().unwrap();
        assert!(
            (jiff::Timestamp::now() - t).get_seconds().abs() < 60,
            "{ts} is now-ish"
        );
        assert!(msg.starts_with("pod=api"), "{msg}");
    }
    let out = c
        .run(&[
            "api",
            "--no-follow",
            "-o",
            "raw",
            "--timestamps=short",
            "--timezone",
            "UTC",
        ])
        .await;
    let first = out.lines()[0].to_string();
    let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
    assert!(
        first.starts_with(&now.strftime("%m-%d ").to_string()),
        "{first}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn previous_prints_the_last_instance_first() {
    let c = Cluster::start().await;
    logging_pod(&c.sim, "worker", "main", 10, 0.0, 10).await;
    c.sim.restart_container("default", "worker", "main", 1);
    sim_wait(&c.sim, "restarted", |s| {
        s.pod("default", "worker").is_some_and(|p| {
            p["status"]["containerStatuses"][0]["state"]["running"].is_object()
                && p["status"]["containerStatuses"][0]["restartCount"] == 1
        })
    })
    .await;
    for i in 0..5 {
        c.sim.log(
            "default",
            "worker",
            "main",
            &format!("second instance line {i}"),
        );
    }
    // --no-follow: the previous instance only.
    let out = c.run(&["worker", "--no-follow", "-p"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let t = tally(&out.lines(), None);
    assert_eq!(
        t[&("worker".into(), "main".into())],
        (0..10).collect::<Vec<_>>()
    );
    assert!(!out.stdout.contains("second instance"));
    // Without -p: the current instance only.
    let out = c.run(&["worker", "--no-follow"]).await;
    assert_eq!(out.lines().len(), 5, "{}", out.stdout);
    // Following: previous first, then current.
    let mut k = c.spawn(&["worker", "-p", "-o", "raw"]);
    k.wait_until("both instances", |out, _| out.len() >= 15)
        .await;
    let out = k.stdout();
    assert!(
        out[..10].iter().all(|l| l.starts_with("pod=worker")),
        "{out:?}"
    );
    assert!(
        out[10..].iter().all(|l| l.starts_with("second instance")),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_applies_filters_and_formats_without_a_cluster() {
    let out = crate::util::run_stdin(
        &["-i", "GET", "-e", "healthz", "-o", "json"],
        "GET /a\nPOST /b\nGET /healthz\nGET /c",
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let msgs: Vec<String> = out
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(msgs, ["GET /a", "GET /c"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn namespaces_by_pattern_and_label_join_while_running() {
    let c = Cluster::start().await;
    c.sim
        .create_namespace_with_labels("team-a", &[("env", "prod")]);
    c.sim.create_namespace("other");
    let pod = |name: &str| PodSpec::new(name).container(ContainerSpec::new("c").backlog(3));
    c.sim.create_pod("team-a", pod("a-1"));
    c.sim.create_pod("other", pod("o-1"));
    sim_wait(&c.sim, "pods running", |s| {
        s.generated("team-a", "a-1", "c") == 3 && s.generated("other", "o-1", "c") == 3
    })
    .await;
    let mut by_regex = c.spawn(&[".", "--namespace-regex", "^team-"]);
    let mut by_label = c.spawn(&[".", "--namespace-selector", "env=prod"]);
    for k in [&mut by_regex, &mut by_label] {
        k.wait_until("team-a's pod", |out, _| out.len() >= 3).await;
    }
    // New namespaces join: team-b matches the regex, prod-2 the label.
    c.sim.create_namespace("team-b");
    c.sim.create_pod("team-b", pod("b-1"));
    c.sim
        .create_namespace_with_labels("prod-2", &[("env", "prod")]);
    c.sim.create_pod("prod-2", pod("p-1"));
    by_regex
        .wait_until("team-b's pod", |out, _| out.len() >= 6)
        .await;
    by_label
        .wait_until("prod-2's pod", |out, _| out.len() >= 6)
        .await;
    let pods = |k: &crate::util::Running| -> Vec<String> {
        let mut v: Vec<String> = k
            .stdout()
            .iter()
            .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(pods(&by_regex), ["team-a a-1", "team-b b-1"]);
    assert_eq!(pods(&by_label), ["prod-2 p-1", "team-a a-1"]);
    let _ = Duration::ZERO;
}
