//! Events as kubectl shows them: `get events` (with a field selector, and watched), and
//! the Events section of `describe pod`, after a liveness probe failure the kubelet
//! acted on.

use super::*;

/// A pod whose liveness probe failed three times and which the kubelet restarted.
async fn restarted_by_liveness(env: &Env) {
    env.app_pod("web-1").await;
    assert!(env.sim.fail_liveness("default", "web-1", "app"));
    env.wait_for("the restart after the liveness failures", |s| {
        restart_count(s, "default", "web-1", "app") == 1
            && s.events("default")
                .iter()
                .any(|e| e["reason"] == "Started" && e["count"] == 2)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_events_and_describe_pod_show_what_happened() {
    let env = Env::start().await;
    restarted_by_liveness(&env).await;

    let out = env.ok(&["get", "events"]).await;
    let (header, _) = table(&out);
    assert_eq!(
        header,
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{out}"
    );
    let rows: Vec<&str> = out.lines().skip(1).collect();
    let has = |kind: &str, reason: &str, message: &str| {
        rows.iter().any(|l| {
            let cells: Vec<&str> = l.split_whitespace().collect();
            cells.len() > 4
                && is_age(cells[0])
                && cells[1] == kind
                && cells[2] == reason
                && cells[3] == "pod/web-1"
                && cells[4..].join(" ") == message
        })
    };
    for (kind, reason, message) in [
        (
            "Normal",
            "Scheduled",
            "Successfully assigned default/web-1 to node-1",
        ),
        ("Normal", "Pulling", "Pulling image \"nginx:1.27\""),
        ("Normal", "Created", "Created container: app"),
        ("Normal", "Started", "Started container app"),
        (
            "Warning",
            "Unhealthy",
            "Liveness probe failed: HTTP probe failed with statuscode: 500",
        ),
        (
            "Normal",
            "Killing",
            "Container app failed liveness probe, will be restarted",
        ),
        (
            "Normal",
            "Pulled",
            "Container image \"nginx:1.27\" already present on machine and can be accessed by the pod",
        ),
    ] {
        let message = message.replace(
            "node-1",
            env.sim.pod("default", "web-1").unwrap()["spec"]["nodeName"]
                .as_str()
                .unwrap(),
        );
        assert!(
            has(kind, reason, &message),
            "no {kind} {reason} {message:?} in\n{out}"
        );
    }

    let (out, _, rows) = env.events_table("type=Warning", &[]).await;
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(
        rows[0][1..4],
        ["Warning", "Unhealthy", "pod/web-1"],
        "{out}"
    );

    let (out, header, rows) = env.events_table("reason=Unhealthy", &["-o", "wide"]).await;
    assert_eq!(
        header,
        [
            "LAST",
            "SEEN",
            "TYPE",
            "REASON",
            "OBJECT",
            "SUBOBJECT",
            "SOURCE",
            "MESSAGE",
            "FIRST",
            "SEEN",
            "COUNT",
            "NAME"
        ],
        "{out}"
    );
    assert_eq!(rows[0][4], "spec.containers{app}", "{out}");
    assert_eq!(rows[0][5], "kubelet,", "{out}");
    assert!(rows[0][rows[0].len() - 1].starts_with("web-1."), "{out}");
    assert_eq!(rows[0][rows[0].len() - 2], "3", "{out}");

    let bad = env
        .run(&["get", "events", "--field-selector", "spec.foo=bar"])
        .await;
    assert_eq!(bad.code, Some(1), "{bad:?}");
    assert!(
        bad.stderr.contains("field label not supported: spec.foo"),
        "{bad:?}"
    );

    let out = env.ok(&["describe", "pod", "web-1"]).await;
    let events = out
        .split_once("\nEvents:\n")
        .unwrap_or_else(|| panic!("no Events section in\n{out}"))
        .1;
    let lines: Vec<Vec<&str>> = events
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        ["Type", "Reason", "Age", "From", "Message"],
        "{events}"
    );
    let line = |reason: &str| {
        lines
            .iter()
            .find(|l| l.get(1) == Some(&reason))
            .unwrap_or_else(|| panic!("no {reason} in\n{events}"))
            .join(" ")
    };
    assert!(
        line("Scheduled")
            .contains(" default-scheduler Successfully assigned default/web-1 to node-"),
        "{events}"
    );
    let unhealthy = line("Unhealthy");
    assert!(unhealthy.starts_with("Warning Unhealthy "), "{events}");
    assert!(unhealthy.contains(" (x3 over "), "{events}");
    assert!(
        unhealthy
            .ends_with(" kubelet spec.containers{app}: Liveness probe failed: HTTP probe failed with statuscode: 500"),
        "{events}"
    );
    assert!(
        line("Killing").ends_with(
            " kubelet spec.containers{app}: Container app failed liveness probe, will be restarted"
        ),
        "{events}"
    );
    // kubectl names the container a kubelet event is about before its message.
    // The restart the kubelet did, in the container's state.
    for want in [
        "Last State:     Terminated",
        "Reason:       Error",
        "Exit Code:    137",
        "Restart Count:  1",
    ] {
        assert!(out.contains(want), "no {want:?} in\n{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_events_watch_sees_a_count_go_up() {
    let env = Env::start().await;
    env.app_pod("web-1").await;
    let mut watch = env.stream(&[
        "get",
        "events",
        "-w",
        "--output-watch-events",
        "--field-selector",
        "type=Warning",
    ]);
    // A failing readiness probe is reported every probe period: one event, ADDED, then
    // MODIFIED with its count bumped.
    env.sim.fail_readiness("default", "web-1", "app", true);
    watch
        .until("the first and second report", |seen| {
            seen.iter()
                .filter(|l| l.contains("Readiness probe failed"))
                .count()
                >= 2
        })
        .await;
    env.sim.fail_readiness("default", "web-1", "app", false);
    let rows: Vec<Vec<&str>> = watch
        .seen
        .iter()
        .filter(|l| l.contains("Readiness probe failed"))
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0][0], "ADDED", "{:#?}", watch.seen);
    assert_eq!(rows[1][0], "MODIFIED", "{:#?}", watch.seen);
    for r in &rows {
        assert_eq!(
            r[2..5],
            ["Warning", "Unhealthy", "pod/web-1"],
            "{:#?}",
            watch.seen
        );
    }
}
