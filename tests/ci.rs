//! CI mode: `--until` ends the history window by each line's timestamp, `--until-done`
//! follows a Job or a selection until it is done and exits with its status.

use std::time::Duration;

use kube_sim::{ContainerSpec, CronJobSpec, JobSpec, PodSpec};

use crate::util::{Cluster, Running, sim_wait, start_pod};

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

/// A bare pod whose container `app` logs `lines`, then exits with `code` after `after`.
fn finishing(name: &str, lines: &[&str], after: Duration, code: i32) -> PodSpec {
    PodSpec::new(name)
        .label("run", "e2e")
        .restart_policy("Never")
        .container(
            ContainerSpec::new("app")
                .lines(lines.iter().copied())
                .exit_after(after, code),
        )
}

fn phase(c: &Cluster, pod: &str) -> String {
    c.sim
        .pod("default", pod)
        .and_then(|p| p["status"]["phase"].as_str().map(String::from))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_selection_is_followed_until_its_last_pod_ends() {
    let c = Cluster::start().await;
    for (i, secs) in [(1, 1), (2, 2), (3, 6)] {
        c.sim.create_pod(
            "default",
            finishing(
                &format!("e2e-{i}"),
                &[&format!("e2e-{i} first"), &format!("e2e-{i} second")],
                Duration::from_secs(secs),
                0,
            ),
        );
    }
    let mut k = Running::spawn(c.ktail(&["-l", "run=e2e", "--until-done", "--color", "never"]));
    // The first two end; ktail has printed them to their end and still follows the third.
    sim_wait(&c.sim, "two pods succeeded", |_| {
        phase(&c, "e2e-1") == "Succeeded" && phase(&c, "e2e-2") == "Succeeded"
    })
    .await;
    k.wait_until("the first two pods printed to their end", |_, err| {
        ["e2e-1", "e2e-2"]
            .iter()
            .all(|p| err.iter().any(|l| l == &format!("- {p} › app")))
    })
    .await;
    assert_eq!(phase(&c, "e2e-3"), "Running");
    assert!(k.is_running(), "still running until the last pod ends");
    assert_eq!(k.exit_code().await, Some(0), "{:?}", k.stderr());
    let mut lines = k.stdout();
    lines.sort();
    let mut want: Vec<String> = (1..=3)
        .flat_map(|i| {
            [
                format!("e2e-{i} app e2e-{i} first"),
                format!("e2e-{i} app e2e-{i} second"),
            ]
        })
        .collect();
    want.sort();
    assert_eq!(lines, want, "every line once");
    assert!(
        k.stderr()
            .contains(&"ktail: the selection is done: 3 pods succeeded".to_string()),
        "{:?}",
        k.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_pod_fails_the_selection_with_exit_7_and_says_why() {
    let c = Cluster::start().await;
    c.sim.create_pod(
        "default",
        finishing("e2e-ok", &["fine"], Duration::from_millis(500), 0),
    );
    c.sim.create_pod(
        "default",
        finishing("e2e-bad", &["about to fail"], Duration::from_secs(1), 3),
    );
    let out = c
        .run(&["-l", "run=e2e", "--until-done", "--color", "never"])
        .await;
    assert_eq!(out.code, Some(7), "{}", out.stderr);
    let mut lines = out.lines();
    lines.sort();
    assert_eq!(lines, ["e2e-bad app about to fail", "e2e-ok app fine"]);
    // Each container's end as it happens, then the verdict and what failed.
    let stderr: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("ktail:"))
        .collect();
    let (ends, verdict): (Vec<&str>, Vec<&str>) =
        stderr.iter().partition(|l| l.contains(" ended: "));
    let mut ends = ends;
    ends.sort();
    assert_eq!(
        ends,
        [
            "ktail: default/e2e-bad › app ended: Error, exit 3",
            "ktail: default/e2e-ok › app ended: Completed, exit 0"
        ]
    );
    assert_eq!(
        verdict,
        [
            "ktail: the selection failed: 1 pod of 2 failed",
            "ktail: default/e2e-bad › app: exit code 3 (Error)"
        ]
    );
    // --only-log-lines keeps the failure, which is the result.
    let out = c
        .run(&["-l", "run=e2e", "--until-done", "--only-log-lines"])
        .await;
    assert_eq!(out.code, Some(7));
    assert_eq!(
        out.stderr,
        "ktail: default/e2e-bad › app: exit code 3 (Error)\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_succeeds_ends_the_run_with_exit_0() {
    let c = Cluster::start().await;
    // The Job is created a moment before ktail starts, as in a CI step: its pod may not
    // exist yet.
    c.sim.create_job(
        "default",
        JobSpec::new("migrate")
            .container(ContainerSpec::new("app").lines(["step 1", "step 2"]))
            .run_for(Duration::from_secs(1)),
    );
    let mut k = Running::spawn(c.ktail(&["job/migrate", "--until-done", "-o", "raw"]));
    assert_eq!(k.exit_code().await, Some(0), "{:?}", k.stderr());
    assert_eq!(k.stdout(), ["step 1", "step 2"]);
    let done: Vec<String> = k
        .stderr()
        .into_iter()
        .filter(|l| l.starts_with("ktail: job/migrate"))
        .collect();
    assert_eq!(done.len(), 1, "{:?}", k.stderr());
    assert!(
        done[0].starts_with("ktail: job/migrate complete after "),
        "{done:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_is_done_at_start_prints_its_logs_and_exits() {
    let c = Cluster::start_tls().await;
    c.sim.create_job(
        "default",
        JobSpec::new("seed")
            .container(ContainerSpec::new("app").lines(["seeded"]))
            .run_for(Duration::from_millis(200))
            .exit_code(4)
            .backoff_limit(0),
    );
    // kubectl itself waits for the Job's Failed condition.
    let waited = crate::util::run(c.kubectl(&[
        "wait",
        "--for=condition=Failed",
        "job/seed",
        "--timeout=30s",
    ]))
    .await;
    assert_eq!(waited.code, Some(0), "{}", waited.stderr);
    let out = c
        .run(&["job/seed", "--until-done", "-o", "raw", "--color", "never"])
        .await;
    assert_eq!(out.code, Some(7), "{}", out.stderr);
    assert_eq!(out.lines(), ["seeded"]);
    let failures: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("exit code"))
        .collect();
    assert_eq!(failures.len(), 1, "{}", out.stderr);
    assert!(
        failures[0].starts_with("ktail: default/seed-")
            && failures[0].ends_with(" › app: exit code 4 (Error)"),
        "{failures:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_fails_its_retries_is_exit_7_with_every_attempt_and_why() {
    let c = Cluster::start().await;
    c.sim.set_job_backoff(Duration::from_millis(100));
    c.sim.create_job(
        "ci",
        JobSpec::new("migrate")
            .container(ContainerSpec::new("app").lines(["migrating", "giving up"]))
            .run_for(Duration::from_millis(300))
            .backoff_limit(1)
            .fail_first(2, 1, "Error"),
    );
    let out = c
        .run(&[
            "job/migrate",
            "-n",
            "ci",
            "--until-done",
            "--color",
            "never",
        ])
        .await;
    assert_eq!(out.code, Some(7), "{}", out.stderr);
    // Both attempts, each line once, each under its own pod.
    let mut pods: Vec<&str> = out
        .lines()
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    pods.dedup();
    assert_eq!(pods.len(), 2, "two pods: {:?}", out.lines());
    for pod in &pods {
        assert!(pod.starts_with("migrate-"), "{pod}");
        assert_eq!(
            out.lines()
                .iter()
                .filter(|l| l.starts_with(&format!("{pod} ")))
                .collect::<Vec<_>>(),
            [
                &format!("{pod} app migrating"),
                &format!("{pod} app giving up")
            ]
        );
    }
    // (The pod may not exist yet when ktail starts: it says it waits for it.)
    let ktail: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("ktail: job/") || l.starts_with("ktail: ci/"))
        .filter(|l| !l.contains(" ended: "))
        .collect();
    assert_eq!(ktail.len(), 3, "{}", out.stderr);
    assert!(
        ktail[0].starts_with("ktail: job/migrate failed after ")
            && ktail[0]
                .ends_with(": BackoffLimitExceeded: Job has reached the specified backoff limit"),
        "{}",
        ktail[0]
    );
    let mut summary: Vec<String> = ktail[1..].iter().map(|l| l.to_string()).collect();
    summary.sort();
    let mut want: Vec<String> = pods
        .iter()
        .map(|p| format!("ktail: ci/{p} › app: exit code 1 (Error)"))
        .collect();
    want.sort();
    assert_eq!(summary, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cronjob_is_followed_through_every_job_it_creates() {
    let c = Cluster::start().await;
    let job = JobSpec::new("unused")
        .container(ContainerSpec::new("app").lines(["backup ran"]))
        .run_for(Duration::from_millis(200));
    // Scheduled once a year: the runs here are the on-demand ones.
    c.sim
        .create_cronjob("default", CronJobSpec::new("nightly", "0 3 1 1 *", job));
    let mut k = Running::spawn(c.ktail(&["cj/nightly", "--color", "never"]));
    k.wait_until("the notice that there is nothing yet", |_, err| {
        err.iter()
            .any(|l| l.contains("no pod of cronjob 'nightly'"))
    })
    .await;
    let first = c.sim.trigger_cronjob("default", "nightly").unwrap();
    k.wait_until("the first Job's line", |out, _| {
        out.iter()
            .any(|l| l.starts_with(&format!("{first}-")) && l.ends_with(" app backup ran"))
    })
    .await;
    let second = c.sim.trigger_cronjob("default", "nightly").unwrap();
    k.wait_until("the second Job's line", |out, _| {
        out.iter()
            .any(|l| l.starts_with(&format!("{second}-")) && l.ends_with(" app backup ran"))
    })
    .await;
    k.signal(libc::SIGINT);
    assert_eq!(k.exit_code().await, Some(130));
    assert_eq!(
        k.stdout().len(),
        2,
        "each Job's line once: {:?}",
        k.stdout()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cronjob_run_ends_with_the_next_job_it_creates() {
    let c = Cluster::start().await;
    let job = JobSpec::new("unused")
        .container(ContainerSpec::new("app").lines(["report sent"]))
        .run_for(Duration::from_millis(300));
    c.sim
        .create_cronjob("default", CronJobSpec::new("report", "0 3 1 1 *", job));
    let mut k = Running::spawn(c.ktail(&["cronjob/report", "--until-done", "-o", "raw"]));
    k.wait_until("ktail waits for a Job", |_, err| {
        err.iter().any(|l| l.contains("waits for pods to appear"))
    })
    .await;
    let name = c.sim.trigger_cronjob("default", "report").unwrap();
    assert_eq!(k.exit_code().await, Some(0), "{:?}", k.stderr());
    assert_eq!(k.stdout(), ["report sent"]);
    assert!(
        k.stderr().iter().any(|l| l.starts_with(&format!(
            "ktail: cronjob/report: job/{name} complete after "
        ))),
        "{:?}",
        k.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_complete_at_start_prints_its_logs_and_exits_0() {
    let c = Cluster::start_tls().await;
    c.sim.create_job(
        "default",
        JobSpec::new("seed")
            .container(ContainerSpec::new("app").lines(["seeded", "done"]))
            .run_for(Duration::from_millis(200)),
    );
    let waited = crate::util::run(c.kubectl(&[
        "wait",
        "--for=condition=Complete",
        "job/seed",
        "--timeout=30s",
    ]))
    .await;
    assert_eq!(waited.code, Some(0), "{}", waited.stderr);
    let out = c.run(&["job/seed", "--until-done", "-o", "raw"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.lines(), ["seeded", "done"]);
    assert!(
        out.stderr.contains("ktail: job/seed complete after "),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn ci_flags_that_cannot_work_are_one_line_and_exit_2() {
    let c = Cluster::start().await;
    c.run(&["job/x", "--until-done", "--no-follow"])
        .await
        .assert_one_error_line(2, "--until-done");
    c.run(&["web", "--until", "yesterday"])
        .await
        .assert_one_error_line(2, "invalid --until 'yesterday': give an RFC3339 time");
    c.run(&["web", "--since", "1h", "--until", "2h"])
        .await
        .assert_one_error_line(2, "ends the window before --since 1h starts it");
}
