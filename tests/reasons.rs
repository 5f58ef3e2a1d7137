//! Saying why: how a tailed container instance ended, and what keeps a container from
//! running, on stderr while following.

use std::time::Duration;

use kube_sim::{ContainerSpec, PodSpec};

use crate::util::{Cluster, Running, assert_nothing_lost, ground_truth, logging_pod, sim_wait};

#[tokio::test(flavor = "multi_thread")]
async fn an_oom_killed_restart_says_why_and_both_instances_print_once() {
    let c = Cluster::start().await;
    logging_pod(&c.sim, "web-1", "app", 20, 50.0, 20).await;
    let mut k = c.spawn(&["web-1", "--color", "never"]);
    k.wait_for_more_lines(40).await;
    assert!(c.sim.crash("default", "web-1", "app", 137, "OOMKilled"));
    k.wait_until("the reason of the end", |_, err| {
        err.iter()
            .any(|l| l == "ktail: default/web-1 › app ended: OOMKilled, exit 137; restart 1")
    })
    .await;
    k.wait_for_more_lines(40).await;
    let truth = ground_truth(&c.sim, "default", &["web-1".into()], &["app"]);
    assert_nothing_lost(&mut k, &truth).await;
    let ends: Vec<String> = k
        .stderr()
        .into_iter()
        .filter(|l| l.contains(" ended: "))
        .collect();
    assert_eq!(ends.len(), 1, "said once: {ends:?}");
    // A clean end is said too.
    c.sim.terminate_container("default", "web-1", "app", 0);
    k.wait_until("a clean end", |_, err| {
        err.iter()
            .any(|l| l == "ktail: default/web-1 › app ended: Completed, exit 0")
    })
    .await;
}

/// Containers that had ended when ktail first saw them: one that failed is told how,
/// after its lines; one that completed before ktail started is not news.
#[tokio::test(flavor = "multi_thread")]
async fn a_container_found_failed_is_told_after_its_lines_and_one_found_completed_is_not() {
    let c = Cluster::start().await;
    let ended = |name: &str, code: i32| {
        c.sim.create_pod(
            "default",
            PodSpec::new(name).restart_policy("Never").container(
                ContainerSpec::new("app")
                    .lines([format!("{name} ran")])
                    .exit_after(Duration::ZERO, code),
            ),
        );
    };
    ended("failed", 3);
    ended("done", 0);
    for name in ["failed", "done"] {
        sim_wait(&c.sim, &format!("{name} ended"), |s| {
            s.pod("default", name).is_some_and(|p| {
                p["status"]["phase"] == "Failed" || p["status"]["phase"] == "Succeeded"
            })
        })
        .await;
    }
    let mut k = c.spawn(&["failed|done", "--color", "never"]);
    // stdout and stderr are read apart: wait for both the ends and the lines.
    k.wait_until("both tails ended and their lines", |out, err| {
        err.iter().filter(|l| l.starts_with("- ")).count() == 2
            && out.iter().any(|l| l == "failed app failed ran")
            && out.iter().any(|l| l == "done app done ran")
    })
    .await;
    let err = k.stderr();
    let at = |line: &str| err.iter().position(|l| l == line);
    let (plus, ended, minus) = (
        at("+ failed › app"),
        at("ktail: default/failed › app ended: Error, exit 3"),
        at("- failed › app"),
    );
    assert!(
        plus < ended && ended < minus && plus.is_some(),
        "+, how it ended, then -: {err:?}"
    );
    assert_eq!(
        err.iter().filter(|l| l.contains(" ended: ")).count(),
        1,
        "once, and not for the completed one: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_container_that_cannot_pull_its_image_is_announced_while_following() {
    let c = Cluster::start().await;
    c.sim.fail_image_pulls("registry.example/app:broken", true);
    let mut k = c.spawn(&["web-2", "--color", "never"]);
    k.wait_until("ktail waits for the pod", |_, err| {
        err.iter().any(|l| l.contains("waits for pods to appear"))
    })
    .await;
    c.sim.create_pod(
        "default",
        PodSpec::new("web-2")
            .container(ContainerSpec::new("app").image("registry.example/app:broken")),
    );
    k.wait_until("the image pull failure", |_, err| {
        err.iter()
            .any(|l| l.starts_with("ktail: default/web-2 › app is waiting: ImagePullBackOff: "))
    })
    .await;
    // The registry serves the image again: the container starts.
    c.sim.fail_image_pulls("registry.example/app:broken", false);
    k.wait_until("the container streams", |_, err| {
        err.iter().any(|l| l == "+ web-2 › app")
    })
    .await;
    let waits: Vec<String> = k
        .stderr()
        .into_iter()
        .filter(|l| l.contains(" is waiting: "))
        .map(|l| l.split(": ").take(3).collect::<Vec<_>>().join(": "))
        .collect();
    assert_eq!(
        waits,
        [
            "ktail: default/web-2 › app is waiting: ErrImagePull",
            "ktail: default/web-2 › app is waiting: ImagePullBackOff"
        ],
        "each reason once"
    );
    // --only-log-lines says none of it.
    c.sim.fail_image_pulls("registry.example/app:broken", true);
    c.sim.create_pod(
        "default",
        PodSpec::new("web-3")
            .container(ContainerSpec::new("app").image("registry.example/app:broken")),
    );
    sim_wait(&c.sim, "web-3 backs off", |s| {
        s.pod("default", "web-3").is_some_and(|p| {
            p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff"
        })
    })
    .await;
    let mut quiet = c.spawn(&["web-[34]", "--only-log-lines", "-o", "raw"]);
    // Watched after web-3's state, so printed after anything said of it.
    c.sim.create_pod(
        "default",
        PodSpec::new("web-4").container(ContainerSpec::new("app").lines(["alive"])),
    );
    quiet
        .wait_until("web-4's line", |out, _| out.iter().any(|l| l == "alive"))
        .await;
    quiet.signal(libc::SIGTERM);
    assert_eq!(quiet.exit_code().await, Some(143));
    assert_eq!(quiet.stderr(), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_previous_instance_is_marked_and_notices_carry_their_time_with_t() {
    let c = Cluster::start().await;
    logging_pod(&c.sim, "web-1", "app", 5, 20.0, 5).await;
    crate::util::restart_and_log(&c.sim, "default", "web-1", "app", 3).await;
    // JSON: every line of the previous instance says so.
    let out = c
        .run(&["web-1", "--previous", "--no-follow", "-o", "json"])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.lines().len() >= 5, "{:?}", out.lines());
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["previous"], true, "{line}");
    }
    // Following: the previous instance first, its notices saying which it is, each
    // notice after its time as -t shows times.
    let mut k = c.spawn(&["web-1", "--previous", "-t", "--color", "never"]);
    k.wait_until("the current instance after the previous one", |_, err| {
        err.iter().any(|l| l.ends_with(" + web-1 › app"))
    })
    .await;
    let notices: Vec<String> = k
        .stderr()
        .into_iter()
        .filter(|l| l.contains(" web-1 › app"))
        .collect();
    for n in &notices {
        let (time, _) = n.split_once(' ').unwrap();
        assert!(time.parse::<jiff::Timestamp>().is_ok(), "{n:?}");
    }
    let order: Vec<&str> = notices
        .iter()
        .map(|n| n.split_once(' ').unwrap().1)
        .collect();
    assert_eq!(
        order[..3],
        [
            "+ web-1 › app (previous instance)",
            "- web-1 › app (previous instance)",
            "+ web-1 › app"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_update_and_its_undo_are_told() {
    use kube_sim::WorkloadSpec;
    let c = Cluster::start().await;
    c.sim
        .set_controller_grace(std::time::Duration::from_millis(200));
    c.sim.create_deployment(
        "default",
        WorkloadSpec::new("web", 2).container(ContainerSpec::new("app").image("web:v1").rate(5.0)),
    );
    crate::util::wait_pods_logging(&c.sim, "default", 2, "app").await;
    let mut k = c.spawn(&["deploy/web", "--color", "never"]);
    k.wait_for_more_lines(2).await;
    c.sim.set_image("default", "web", "app", "web:v2");
    k.wait_until("the rollout's end", |_, err| {
        err.iter()
            .any(|l| l == "ktail: deployment/web rolled out revision 2: 2/2 available")
    })
    .await;
    c.sim.rollout_undo("default", "web");
    k.wait_until("the rollback's end", |_, err| {
        err.iter().any(|l| {
            l == "ktail: deployment/web rolled back to revision 1 (revision 3): 2/2 available"
        })
    })
    .await;
    let told: Vec<String> = k
        .stderr()
        .into_iter()
        .filter(|l| l.starts_with("ktail: deployment/web"))
        .collect();
    // The start, progress as new pods come up, the end; then the same for the undo.
    let rollback = told
        .iter()
        .position(|l| l.contains("rolling back"))
        .unwrap_or_else(|| panic!("{told:#?}"));
    for (part, revision) in [
        (&told[..rollback], "revision 2 (app=web:v2)"),
        (&told[rollback..], "revision 1, as revision 3 (app=web:v1)"),
    ] {
        assert!(part[0].ends_with(revision), "{told:#?}");
        assert!(
            part[1..part.len() - 1]
                .iter()
                .all(|l| l.contains("/2 pods updated, ")),
            "{told:#?}"
        );
        assert!(part.len() > 2, "progress is told: {told:#?}");
    }
    assert_eq!(
        told[rollback - 1],
        "ktail: deployment/web rolled out revision 2: 2/2 available"
    );
    assert_eq!(
        told.last().unwrap(),
        "ktail: deployment/web rolled back to revision 1 (revision 3): 2/2 available"
    );
}

/// Starts pod `pod` in `default`, one container `app` that logged a line, and waits
/// until it runs.
async fn app_pod(c: &Cluster, pod: &str) {
    crate::util::start_pod(
        &c.sim,
        "default",
        PodSpec::new(pod).container(ContainerSpec::new("app").lines(["up"])),
    )
    .await;
}

/// `ktail web-1 ARGS`, once it streams web-1's container (its pod watch selected it).
async fn following_web_1(c: &Cluster, args: &[&str]) -> Running {
    let mut k = c.spawn(&[&["web-1"], args].concat());
    k.wait_until("web-1 streams", |_, err| {
        err.iter().any(|l| l == "+ web-1 › app")
    })
    .await;
    k
}

/// The `-o json` records of Kubernetes events ktail printed so far.
fn event_records(out: &[String]) -> Vec<serde_json::Value> {
    out.iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("event").is_some())
        .collect()
}

/// The counts with which ktail showed the event `reason` of `pod` whose message starts
/// with `message`, in the order shown.
fn counts_shown(out: &[String], pod: &str, reason: &str, message: &str) -> Vec<u64> {
    event_records(out)
        .iter()
        .filter(|v| v["podName"] == pod && v["event"]["reason"] == reason)
        .filter(|v| v["message"].as_str().unwrap_or("").starts_with(message))
        .filter_map(|v| v["event"]["count"].as_u64())
        .collect()
}

const LIVENESS: &str = "Liveness probe failed: HTTP probe failed with statuscode: 500";
const READINESS: &str = "Readiness probe failed: ";

#[tokio::test(flavor = "multi_thread")]
async fn a_liveness_failure_of_a_selected_pod_is_an_event_and_of_another_pod_is_not() {
    let c = Cluster::start().await;
    app_pod(&c, "web-1").await;
    app_pod(&c, "api-1").await;
    let mut json = following_web_1(&c, &["--events", "-o", "json"]).await;
    let mut text = following_web_1(&c, &["--events", "--color", "never"]).await;
    assert!(c.sim.fail_liveness("default", "api-1", "app"));
    assert!(c.sim.fail_liveness("default", "web-1", "app"));
    sim_wait(&c.sim, "both restarted for their liveness probes", |s| {
        ["web-1", "api-1"].iter().all(|p| {
            s.pod("default", p)
                .is_some_and(|v| v["status"]["containerStatuses"][0]["restartCount"] == 1)
        })
    })
    .await;
    // A later event of web-1: once it is shown, every earlier one of the events watch has
    // been seen (a watch delivers in resourceVersion order).
    c.sim.fail_readiness("default", "web-1", "app", true);
    json.wait_until("the readiness failure after the liveness ones", |out, _| {
        !counts_shown(out, "web-1", "Unhealthy", READINESS).is_empty()
    })
    .await;
    text.wait_until("the readiness failure in default output", |out, _| {
        out.iter()
            .any(|l| l.contains("[Warning Unhealthy] Readiness probe failed"))
    })
    .await;
    c.sim.fail_readiness("default", "web-1", "app", false);

    let out = json.stdout();
    assert_eq!(
        counts_shown(&out, "web-1", "Unhealthy", LIVENESS),
        [1, 2, 3],
        "once per count: {out:#?}"
    );
    let first = event_records(&out)
        .into_iter()
        .find(|v| v["message"] == LIVENESS)
        .unwrap();
    assert_eq!(first["namespace"], "default");
    assert_eq!(first["podName"], "web-1");
    assert_eq!(first["containerName"], "app");
    assert_eq!(
        first["event"],
        serde_json::json!({"type": "Warning", "reason": "Unhealthy", "count": 1, "source": "kubelet"})
    );
    assert!(
        out.iter().all(|l| !l.contains("api-1")),
        "an unselected pod's events never show: {out:#?}"
    );
    assert!(
        event_records(&out)
            .iter()
            .all(|v| v["event"]["type"] == "Warning"),
        "Normal events only with --events=all: {out:#?}"
    );

    let out = text.stdout();
    let shown: Vec<&String> = out.iter().filter(|l| l.contains(LIVENESS)).collect();
    assert_eq!(
        shown,
        [
            &format!("web-1 app [Warning Unhealthy] {LIVENESS}"),
            &format!("web-1 app [Warning Unhealthy] {LIVENESS} (2 times)"),
            &format!("web-1 app [Warning Unhealthy] {LIVENESS} (3 times)"),
        ],
        "{out:#?}"
    );
    assert!(out.iter().all(|l| !l.contains("api-1")), "{out:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_survive_a_watch_expiry_without_duplicates() {
    let c = Cluster::start().await;
    app_pod(&c, "web-1").await;
    let mut k = following_web_1(&c, &["--events", "-o", "json"]).await;
    // A failing readiness probe is reported on every probe period, its count bumped.
    c.sim.fail_readiness("default", "web-1", "app", true);
    k.wait_until("the second report", |out, _| {
        counts_shown(out, "web-1", "Unhealthy", READINESS).contains(&2)
    })
    .await;
    c.sim.expire_watches();
    k.wait_until("reports after the expiry", |out, _| {
        counts_shown(out, "web-1", "Unhealthy", READINESS).contains(&4)
    })
    .await;
    c.sim.fail_readiness("default", "web-1", "app", false);
    let counts = counts_shown(&k.stdout(), "web-1", "Unhealthy", READINESS);
    assert!(
        counts.windows(2).all(|w| w[0] < w[1]),
        "each count once, in order: {counts:?}"
    );
    assert_eq!(counts[..2], [1, 2], "{counts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_all_adds_normal_events_and_the_default_shows_warnings_only() {
    let c = Cluster::start().await;
    app_pod(&c, "web-1").await;
    let mut all = following_web_1(&c, &["--events=all", "-o", "json"]).await;
    let mut warnings = following_web_1(&c, &["--events", "-o", "json"]).await;
    // A restart: the kubelet starts the container again (Normal), then a probe fails
    // (Warning), after it.
    c.sim.restart_container("default", "web-1", "app", 1);
    sim_wait(&c.sim, "the second start", |s| {
        s.events("default")
            .iter()
            .any(|e| e["reason"] == "Started" && e["count"] == 2)
    })
    .await;
    c.sim.fail_readiness("default", "web-1", "app", true);
    for k in [&mut all, &mut warnings] {
        k.wait_until("the probe failure", |out, _| {
            !counts_shown(out, "web-1", "Unhealthy", READINESS).is_empty()
        })
        .await;
    }
    c.sim.fail_readiness("default", "web-1", "app", false);
    let out = all.stdout();
    let started = event_records(&out)
        .into_iter()
        .find(|v| v["event"]["reason"] == "Started" && v["event"]["count"] == 2)
        .unwrap_or_else(|| panic!("no Started event: {out:#?}"));
    assert_eq!(started["message"], "Started container app");
    assert_eq!(started["event"]["type"], "Normal");
    assert_eq!(started["containerName"], "app");
    // The scheduler writes through events.k8s.io: no count, no source, only eventTime;
    // from before the start, within --since.
    let scheduled = event_records(&out)
        .into_iter()
        .find(|v| v["event"]["reason"] == "Scheduled")
        .unwrap_or_else(|| panic!("no Scheduled event: {out:#?}"));
    assert_eq!(
        scheduled["event"],
        serde_json::json!({"type": "Normal", "reason": "Scheduled", "count": 1, "source": "default-scheduler"})
    );
    assert_eq!(scheduled["containerName"], "");
    assert!(
        scheduled["message"]
            .as_str()
            .unwrap()
            .starts_with("Successfully assigned default/web-1 to node-"),
        "{scheduled}"
    );
    let out = warnings.stdout();
    let kinds: Vec<serde_json::Value> = event_records(&out)
        .iter()
        .map(|v| v["event"]["type"].clone())
        .collect();
    assert!(
        !kinds.is_empty() && kinds.iter().all(|t| t == "Warning"),
        "{out:#?}"
    );
}

/// A restart the kubelet reports in one status update (the new instance running, the
/// tailed one in `lastState`) still says how the tailed instance ended, once, also for
/// an instance that ran before ktail started.
#[tokio::test(flavor = "multi_thread")]
async fn a_restart_reported_in_one_update_says_how_the_tailed_instance_ended() {
    let c = Cluster::start().await;
    // Running for more than a second (timestamps count whole seconds) before ktail
    // starts: the instance is one ktail found at start, whose earlier runs it would not
    // read without --previous.
    logging_pod(&c.sim, "web-1", "app", 20, 50.0, 20 + 75).await;
    let mut k = c.spawn(&["web-1", "--color", "never"]);
    k.wait_for_more_lines(40).await;
    c.sim.restart_container("default", "web-1", "app", 137);
    k.wait_until("the reason of the end", |_, err| {
        err.iter().any(|l| {
            l.starts_with("ktail: default/web-1 › app ended: ")
                && l.ends_with("exit 137; restart 1")
        })
    })
    .await;
    k.wait_for_more_lines(40).await;
    let truth = ground_truth(&c.sim, "default", &["web-1".into()], &["app"]);
    assert_nothing_lost(&mut k, &truth).await;
    let ends = k
        .stderr()
        .into_iter()
        .filter(|l| l.contains(" ended: "))
        .count();
    assert_eq!(ends, 1, "said once: {:?}", k.stderr());
}
