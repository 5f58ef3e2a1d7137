//! Never lose a line: every fault the simulator can inject, with sequence-numbered lines
//! so that loss and duplication are counted exactly. Each test ends by checking
//! "0 lost, 0 duplicated" against the simulator's ground truth. Faults whose test also
//! bounds the time to recover or the memory held are in `limits.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use kube_sim::{ContainerSpec, PodSpec, Sim, StreamEnd, WorkloadSpec};

use crate::util::{
    Cluster, TIMEOUT, assert_nothing_lost, ground_truth, logging_pod, logging_pods, running_pod,
    sim_wait, start_pod, tally, wait_pods_logging,
};

type Key = (String, String);

#[tokio::test(flavor = "multi_thread")]
async fn streams_ended_cleanly_while_containers_run() {
    let c = Cluster::start().await;
    let names = logging_pods(&c.sim, "clean", 5, 100.0).await;
    let mut k = c.spawn(&["clean"]);
    for _ in 0..6 {
        k.wait_for_more_lines(300).await;
        c.sim.end_log_streams(StreamEnd::Clean);
    }
    k.wait_for_more_lines(300).await;
    let truth = ground_truth(&c.sim, "default", &names, &["c"]);
    assert_nothing_lost(&mut k, &truth).await;
    assert!(k.warnings().is_empty(), "{:?}", k.stderr());
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_reset_abruptly() {
    let c = Cluster::start().await;
    let names = logging_pods(&c.sim, "reset", 5, 100.0).await;
    let mut k = c.spawn(&["reset"]);
    for _ in 0..6 {
        k.wait_for_more_lines(300).await;
        c.sim.end_log_streams(StreamEnd::Reset);
    }
    k.wait_for_more_lines(300).await;
    let truth = ground_truth(&c.sim, "default", &names, &["c"]);
    assert_nothing_lost(&mut k, &truth).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_expiry_during_a_rolling_update_with_restarts() {
    let c = Cluster::start().await;
    c.sim.set_controller_grace(Duration::from_millis(300));
    c.sim.create_deployment(
        "default",
        WorkloadSpec::new("web", 4).container(
            ContainerSpec::new("app")
                .rate(60.0)
                .start_delay(Duration::from_millis(200)),
        ),
    );
    let mut seen_pods = wait_pods_logging(&c.sim, "default", 4, "app").await;
    let mut k = c.spawn(&["-l", "app=web"]);
    k.wait_for_more_lines(100).await;
    c.sim.set_image("default", "web", "app", "web:v2");
    for i in 0..8 {
        k.wait_for_more_lines(100).await;
        c.sim.expire_watches();
        let pods = c.sim.pod_names("default");
        if let Some(p) = pods.get(i % pods.len().max(1)) {
            c.sim.restart_container("default", p, "app", 1);
        }
        for p in pods {
            if !seen_pods.contains(&p) {
                seen_pods.push(p);
            }
        }
    }
    sim_wait(&c.sim, "rollout done", |s| {
        s.pod_names("default").iter().all(|p| {
            running_pod(s, "default", p)
                .is_some_and(|o| o["spec"]["containers"][0]["image"] == "web:v2")
        }) && s.pod_names("default").len() == 4
    })
    .await;
    for p in c.sim.pod_names("default") {
        if !seen_pods.contains(&p) {
            seen_pods.push(p);
        }
    }
    k.wait_for_more_lines(200).await;
    let truth = ground_truth(&c.sim, "default", &seen_pods, &["app"]);
    assert_nothing_lost(&mut k, &truth).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_outage_is_warned_of_once_and_loses_nothing() {
    let c = Cluster::start().await;
    let names = logging_pods(&c.sim, "outage", 1, 50.0).await;
    let mut k = c.spawn(&["outage"]);
    k.wait_for_more_lines(50).await;
    // The stream breaks and every request fails for a while: past the fifth failure in
    // a row the user hears of it, once; afterwards the stream resumes where it was.
    c.sim.fail_next(7, 500, None);
    c.sim.end_log_streams(StreamEnd::Reset);
    k.wait_until("the outage warning", |_, err| {
        err.iter().any(|l| l.contains("keeps retrying"))
    })
    .await;
    k.wait_for_more_lines(50).await;
    let truth = ground_truth(&c.sim, "default", &names, &["c"]);
    assert_nothing_lost(&mut k, &truth).await;
    let warnings = k.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(
            "ktail: warning: default/outage-0 › c: 5 attempts in a row to open the log stream failed, the last with: "
        ) && warnings[0].ends_with("(500 InternalError); ktail keeps retrying"),
        "{}",
        warnings[0]
    );
}

/// A stream breaks, and the pod is deleted before ktail resumes it: the lines logged
/// since the break went with the pod. A rolling update does this to streams that a fault
/// cut. ktail must say so, whether the resume finds the pod gone (`held`: the resume
/// reaches the API only after the deletion, and the pod watch hears of it later still)
/// or the pod watch reports the deletion while the tail waits to resume.
async fn deleted_while_resuming(held: bool) {
    let c = Cluster::start().await;
    let names = logging_pods(&c.sim, "cut", 1, 50.0).await;
    let mut k = c.spawn(&["cut"]);
    k.wait_for_more_lines(20).await;
    let looks = |s: &Sim| {
        s.request_log()
            .iter()
            .filter(|l| *l == "GET /api/v1/namespaces/default/pods/cut-0")
            .count()
    };
    let before = looks(&c.sim);
    // The first three looks at the pod after the break fail: the fourth finds the
    // container running, and the resume waits a backoff of 600 ms or more.
    c.sim.fail_next(3, 500, None);
    c.sim.end_log_streams(StreamEnd::Reset);
    sim_wait(&c.sim, "a look that finds the container running", |s| {
        looks(s) >= before + 4
    })
    .await;
    if held {
        c.sim.stall(Duration::from_secs(2));
        c.sim.expire_watches();
    }
    c.sim.delete_pod("default", "cut-0", Duration::ZERO);
    k.wait_until("the tail ended", |_, err| {
        err.iter().any(|l| l.starts_with("- cut-0 › c"))
    })
    .await;
    let printed = k.seqs().remove(&("cut-0".into(), "c".into())).unwrap();
    assert!(
        printed.iter().copied().eq(0..printed.len() as u64),
        "a prefix, nothing twice: {printed:?}"
    );
    assert!((printed.len() as u64) < c.sim.generated("default", &names[0], "c"));
    let warnings = k.warnings();
    assert!(
        warnings.iter().any(|w| w.starts_with(
            "ktail: warning: default/cut-0 › c: the log stream broke (the server closed the connection) and the container instance is gone: lines after "
        ) && w.ends_with(" may be missing")),
        "{:?}",
        k.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_deleted_before_a_broken_stream_resumes_is_warned_of() {
    deleted_while_resuming(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_deleted_while_a_broken_stream_waits_to_resume_is_warned_of() {
    deleted_while_resuming(false).await;
}

/// A stream breaks and ktail resumes it; the kubelet serves the resumed request, and the
/// pod is deleted before ktail's look at it proves which container instance the request
/// reached (instances cannot be named in a log request). With `restarted`, the container
/// restarted before the request arrived, and its new instance's own tail is printing: the
/// resumed stream holds the new instance's lines, which must not be printed again, and
/// the lines the old instance logged after the break went with the pod, which must be
/// said. Without, the stream holds the rest of the tailed instance: all of it is printed.
async fn deleted_before_the_instance_is_proven(restarted: bool) {
    let c = Cluster::start().await;
    start_pod(
        &c.sim,
        "default",
        PodSpec::new("del").container(ContainerSpec::new("c")),
    )
    .await;
    let log = |seq: u64| {
        c.sim.log(
            "default",
            "del",
            "c",
            &format!("pod=del container=c seq={seq} "),
        )
    };
    let key = ("del".to_string(), "c".to_string());
    let printed = |n: usize| {
        let key = key.clone();
        move |s: &BTreeMap<Key, Vec<u64>>| s.get(&key).is_some_and(|v| v.len() >= n)
    };
    (0..5).for_each(log);
    let mut k = c.spawn(&["del"]);
    k.wait_for_seqs("the first lines", printed(5)).await;
    let resumed = c
        .sim
        .hold_next("GET", "/api/v1/namespaces/default/pods/del/log");
    c.sim.end_log_streams(StreamEnd::Reset);
    assert!(resumed.arrived(TIMEOUT).await, "ktail resumes the stream");
    (5..7).for_each(log);
    if restarted {
        c.sim.restart_container("default", "del", "c", 137);
        (7..10).for_each(log);
        k.wait_for_seqs("the new instance's lines, from its own tail", printed(8))
            .await;
    }
    let look = c
        .sim
        .hold_next("GET", "/api/v1/namespaces/default/pods/del");
    resumed.release();
    assert!(look.arrived(TIMEOUT).await, "ktail looks at the pod");
    c.sim.delete_pod("default", "del", Duration::ZERO);
    sim_wait(&c.sim, "the pod deleted", |s| {
        s.pod("default", "del").is_none()
    })
    .await;
    look.release();
    let tails = if restarted { 2 } else { 1 };
    k.wait_until("every tail ended", |_, err| {
        err.iter().filter(|l| l.starts_with("- del › c")).count() == tails
    })
    .await;
    // Its lines may still be in the stdout pipe: read it to its end.
    k.signal(libc::SIGTERM);
    k.exit_code().await;
    let mut seqs = tally(&k.stdout(), None).remove(&key).unwrap_or_default();
    seqs.sort_unstable();
    let warnings = k.warnings();
    if restarted {
        assert_eq!(
            seqs,
            [0, 1, 2, 3, 4, 7, 8, 9],
            "each line once: {:?}",
            k.stderr()
        );
        // Lines 5 and 6 went with the pod: said once, as lines after the last printed.
        assert!(
            warnings.len() == 1
                && warnings[0].starts_with("ktail: warning: default/del › c: ")
                && warnings[0].contains(" lines after ")
                && warnings[0].ends_with(" may be missing"),
            "the old instance's last lines are missing, and said to be: {:?}",
            k.stderr()
        );
    } else {
        assert_eq!(
            seqs,
            [0, 1, 2, 3, 4, 5, 6],
            "each line once: {:?}",
            k.stderr()
        );
        assert!(warnings.is_empty(), "{:?}", k.stderr());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_and_a_deletion_before_the_instance_check_print_nothing_twice() {
    deleted_before_the_instance_is_proven(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deletion_before_the_instance_check_loses_nothing() {
    deleted_before_the_instance_is_proven(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn all_faults_at_once_on_twenty_pods_for_thirty_seconds() {
    let c = Cluster::start().await;
    c.sim.set_controller_grace(Duration::from_millis(300));
    c.sim.create_deployment(
        "default",
        WorkloadSpec::new("chaos", 20).container(
            ContainerSpec::new("app")
                .rate(40.0)
                .start_delay(Duration::from_millis(100)),
        ),
    );
    let mut seen = wait_pods_logging(&c.sim, "default", 20, "app").await;
    let mut k = c.spawn(&["-l", "app=chaos"]);
    let start = tokio::time::Instant::now();
    let mut round = 0u64;
    // Bounded: at most 400 rounds, and stops once 30 seconds have passed.
    while start.elapsed() < Duration::from_secs(30) && round < 400 {
        k.wait_for_more_lines(150).await;
        let pods = c.sim.pod_names("default");
        let pod = &pods[(round as usize * 7) % pods.len()];
        match round % 8 {
            0 => c.sim.end_log_streams(StreamEnd::Clean),
            1 => c.sim.end_log_streams(StreamEnd::Reset),
            2 => c.sim.expire_watches(),
            3 => c.sim.stall(Duration::from_secs(2)),
            4 => c.sim.fail_next(5, 429, Some(1)),
            5 => c.sim.fail_next(5, 500, None),
            6 => c.sim.restart_container("default", pod, "app", 137),
            _ => c
                .sim
                .set_image("default", "chaos", "app", &format!("chaos:v{round}")),
        }
        for p in pods {
            if !seen.contains(&p) {
                seen.push(p);
            }
        }
        round += 1;
    }
    sim_wait(&c.sim, "the last rollout settled", |s| {
        let p = s.pod_names("default");
        p.len() == 20 && p.iter().all(|p| running_pod(s, "default", p).is_some())
    })
    .await;
    for p in c.sim.pod_names("default") {
        if !seen.contains(&p) {
            seen.push(p);
        }
    }
    k.wait_for_more_lines(200).await;
    let mut truth = ground_truth(&c.sim, "default", &seen, &["app"]);
    eprintln!("{round} fault rounds over {:?}", start.elapsed());
    // The lines of a pod that the rollouts deleted while its stream was cut or the API
    // stalled are gone from the API: nothing can read them again. For such pods what
    // was printed must still be an exact prefix (nothing twice, no hole). Every pod that
    // still exists: exact.
    let alive = c.sim.pod_names("default");
    let deleted: Vec<Key> = truth
        .keys()
        .filter(|(p, _)| !alive.contains(p))
        .cloned()
        .collect();
    for key in &deleted {
        truth.remove(key);
    }
    assert_nothing_lost(&mut k, &truth).await;
    let seqs = k.seqs();
    let err = k.stderr();
    let warned_about = |pod: &str| {
        err.iter()
            .any(|l| l.contains(&format!("{pod} › app")) && l.contains("warning"))
    };
    let mut short = 0;
    for key in &deleted {
        let s = seqs.get(key).cloned().unwrap_or_default();
        // Order is promised per container instance; across a restart that ktail learnt
        // of late, the previous instance may print after the current one began.
        let mut sorted = s.clone();
        sorted.sort_unstable();
        assert!(
            sorted.windows(2).all(|w| w[0] < w[1]),
            "{key:?}: nothing twice: {s:?}\n{:?}",
            err.iter()
                .filter(|l| l.contains(&key.0))
                .collect::<Vec<_>>()
        );
        // A hole (lines before the last printed one are missing) is always warned of.
        let holes = sorted
            .last()
            .is_some_and(|last| *last + 1 != sorted.len() as u64);
        assert!(
            !holes || warned_about(&key.0),
            "{key:?}: a hole without a warning: {s:?}\n{:#?}",
            err.iter()
                .filter(|l| l.contains(&key.0))
                .collect::<Vec<_>>()
        );
        if (s.len() as u64) < c.sim.generated("default", &key.0, &key.1) {
            short += 1;
        }
    }
    let warned = deleted.iter().filter(|(p, _)| warned_about(p)).count();
    eprintln!(
        "{} deleted pods of {}: {warned} warned, {short} printed less than they logged",
        deleted.len(),
        seen.len(),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_during_an_outage_is_one_gap_notice() {
    let c = Cluster::start().await;
    let names = logging_pods(&c.sim, "rot", 2, 100.0).await;
    let mut k = c.spawn(&["rot"]);
    k.wait_for_more_lines(200).await;
    // The API goes away for two seconds; meanwhile rot-0's log rotates, so the lines it
    // wrote since the outage began are no longer served.
    c.sim.stall(Duration::from_secs(2));
    c.sim.end_log_streams(StreamEnd::Reset);
    sim_wait(&c.sim, "more lines written during the outage", {
        let before = c.sim.generated("default", "rot-0", "c");
        move |s| s.generated("default", "rot-0", "c") >= before + 20
    })
    .await;
    c.sim.rotate_log("default", "rot-0", "c");
    k.wait_for_more_lines(400).await;
    let gaps: Vec<String> = k
        .stderr()
        .into_iter()
        .filter(|l| l.contains("may be missing"))
        .collect();
    assert_eq!(gaps.len(), 1, "exactly one gap notice: {gaps:?}");
    assert!(
        gaps[0].contains("rot-0 › c"),
        "names the container: {}",
        gaps[0]
    );
    assert!(
        gaps[0].contains("between") && gaps[0].matches('Z').count() >= 2,
        "gives the window: {}",
        gaps[0]
    );
    // rot-1 did not rotate: nothing lost there; rot-0 lost only inside the window, with
    // nothing printed twice.
    let truth = ground_truth(&c.sim, "default", &names[1..], &["c"]);
    assert_nothing_lost(&mut k, &truth).await;
    let t = tally(&k.stdout(), None);
    let rot0 = &t[&("rot-0".to_string(), "c".to_string())];
    assert!(
        rot0.windows(2).all(|w| w[0] < w[1]),
        "no duplicates, in order"
    );
    let holes = rot0.windows(2).filter(|w| w[1] != w[0] + 1).count();
    assert_eq!(holes, 1, "one hole, where the gap notice said");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_stream_is_reopened_quietly() {
    let c = Cluster::start().await;
    logging_pod(&c.sim, "quiet", "c", 3, 0.0, 3).await;
    let mut k = c.spawn(&["quiet", "--silence-timeout", "1s", "-o", "raw"]);
    k.wait_until("the backlog", |out, _| out.len() == 3).await;
    // Nothing is logged: after a second of silence ktail re-opens the stream, and each
    // re-open is a request the server sees.
    let before = c.sim.request_count();
    sim_wait(&c.sim, "the silent stream re-opened", |s| {
        s.request_count() >= before + 2
    })
    .await;
    c.sim.log("default", "quiet", "c", "after the silence");
    k.wait_until("the new line", |out, _| {
        out.iter().any(|l| l == "after the silence")
    })
    .await;
    let out = k.stdout();
    assert_eq!(out.len(), 4, "nothing printed twice: {out:?}");
    assert!(k.warnings().is_empty(), "quietly: {:?}", k.stderr());
}
