//! Jobs and CronJobs as kubectl shows them: a Job that exhausts its backoffLimit, one that
//! completes after failed attempts, CronJobs in `get cronjobs`.

use super::*;
use kube_sim::CronJobSpec;

/// `type:reason` of each of a Job's conditions in namespace `ci`, in order.
async fn conditions(env: &Env, job: &str) -> String {
    env.ok(&[
        "get",
        "job",
        job,
        "-n",
        "ci",
        "-o",
        "jsonpath={range .status.conditions[*]}{.type}:{.reason} {end}",
    ])
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_describe_a_failed_and_a_complete_job() {
    let env = Env::start().await;
    let sim = &env.sim;
    sim.set_job_backoff(Duration::from_millis(100));
    sim.create_namespace("ci");
    sim.create_job(
        "ci",
        JobSpec::new("migrate")
            .container(ContainerSpec::new("migrate").lines(["connecting", "failed"]))
            .exit_code(2)
            .backoff_limit(1),
    );
    sim.create_job(
        "ci",
        JobSpec::new("e2e")
            .container(ContainerSpec::new("e2e").lines(["running"]))
            .fail_first(1, 137, "OOMKilled"),
    );
    let out = env
        .ok(&[
            "wait",
            "--for=condition=failed",
            "job/migrate",
            "-n",
            "ci",
            "--timeout=30s",
        ])
        .await;
    assert_eq!(out, "job.batch/migrate condition met\n");
    let out = env
        .ok(&[
            "wait",
            "--for=condition=complete",
            "job/e2e",
            "-n",
            "ci",
            "--timeout=30s",
        ])
        .await;
    assert_eq!(out, "job.batch/e2e condition met\n");

    let out = env.ok(&["get", "jobs", "-n", "ci"]).await;
    let (header, _) = table(&out);
    assert_eq!(
        header,
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"],
        "{out}"
    );
    assert_eq!(
        &find_row(&out, "migrate").unwrap()[1..3],
        ["Failed", "0/1"],
        "{out}"
    );
    assert_eq!(
        &find_row(&out, "e2e").unwrap()[1..3],
        ["Complete", "1/1"],
        "{out}"
    );

    // Every attempt's pod stays, with its exit code and reason.
    let out = env
        .ok(&["get", "pods", "-n", "ci", "-l", "job-name=migrate"])
        .await;
    let (_, rows) = table(&out);
    assert_eq!(rows.len(), 2, "{out}");
    assert!(
        rows.iter().all(|r| r[1..4] == ["0/1", "Error", "0"]),
        "{out}"
    );
    let out = env
        .ok(&["get", "pods", "-n", "ci", "-l", "job-name=e2e"])
        .await;
    let mut statuses: Vec<String> = table(&out).1.into_iter().map(|r| r[2].clone()).collect();
    statuses.sort();
    assert_eq!(statuses, ["Completed", "OOMKilled"], "{out}");

    let out = env.ok(&["describe", "job", "migrate", "-n", "ci"]).await;
    for want in [
        "Name:             migrate",
        "Namespace:        ci",
        "Parallelism:      1",
        "Completions:      1",
        "Backoff Limit:    1",
        "Pods Statuses:    0 Active (0 Ready) / 0 Succeeded / 2 Failed",
    ] {
        assert!(out.contains(want), "no {want:?} in\n{out}");
    }
    assert!(!out.contains("Completed At:"), "{out}");
    let out = env.ok(&["describe", "job", "e2e", "-n", "ci"]).await;
    for want in [
        "Backoff Limit:    6",
        "Completed At:",
        "Pods Statuses:    0 Active (0 Ready) / 1 Succeeded / 1 Failed",
    ] {
        assert!(out.contains(want), "no {want:?} in\n{out}");
    }
    // The conditions in the order the controller adds them.
    assert_eq!(
        conditions(&env, "migrate").await,
        "FailureTarget:BackoffLimitExceeded Failed:BackoffLimitExceeded "
    );
    assert_eq!(
        conditions(&env, "e2e").await,
        "SuccessCriteriaMet:CompletionsReached Complete:CompletionsReached "
    );
    let logs = env.ok(&["logs", "-n", "ci", "job/e2e"]).await;
    assert_eq!(logs, "running\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_past_its_active_deadline_fails() {
    let env = Env::start().await;
    let sim = &env.sim;
    sim.create_job(
        "ci",
        JobSpec::new("slow")
            .container(ContainerSpec::new("run"))
            .run_for(Duration::from_secs(600))
            .active_deadline(Duration::from_secs(1)),
    );
    env.ok(&[
        "wait",
        "--for=condition=failed",
        "job/slow",
        "-n",
        "ci",
        "--timeout=30s",
    ])
    .await;
    let out = env
        .ok(&[
            "get",
            "job",
            "slow",
            "-n",
            "ci",
            "-o",
            "jsonpath={.status.conditions[1].reason}",
        ])
        .await;
    assert_eq!(out, "DeadlineExceeded");
    let out = env.ok(&["describe", "job", "slow", "-n", "ci"]).await;
    assert!(out.contains("Active Deadline Seconds:  1s"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_cronjobs_and_their_jobs() {
    let env = Env::start().await;
    let sim = &env.sim;
    sim.create_cronjob(
        "ops",
        CronJobSpec::new(
            "backup",
            "*/5 * * * *",
            JobSpec::new("").container(
                ContainerSpec::new("backup")
                    .image("busybox:1.36")
                    .lines(["done"]),
            ),
        ),
    );
    let out = env.ok(&["get", "cronjobs", "-n", "ops"]).await;
    let (header, rows) = table(&out);
    assert_eq!(
        header,
        [
            "NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"
        ],
        "{out}"
    );
    assert_eq!(
        rows[0][..7],
        ["backup", "*/5", "*", "*", "*", "*", "<none>"],
        "{out}"
    );
    assert_eq!(rows[0][7..10], ["False", "0", "<none>"], "{out}");
    let job = sim
        .trigger_cronjob("ops", "backup")
        .expect("the cronjob exists");
    env.ok(&[
        "wait",
        "--for=condition=complete",
        &format!("job/{job}"),
        "-n",
        "ops",
        "--timeout=30s",
    ])
    .await;
    let out = env
        .ok(&["get", "job", &job, "-n", "ops", "-o", "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.metadata.annotations}"])
        .await;
    assert_eq!(
        out,
        "CronJob/backup {\"cronjob.kubernetes.io/instantiate\":\"manual\"}"
    );
    let out = env
        .ok(&["get", "cronjobs", "-n", "ops", "-o", "wide"])
        .await;
    let row = find_row(&out, "backup").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(
        row[row.len() - 3..],
        ["backup", "busybox:1.36", "<none>"],
        "{out}"
    );
}
