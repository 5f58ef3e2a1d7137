//! Following a changing pod set: every line of every instance exactly once.

use std::collections::BTreeMap;
use std::time::Duration;

use kube_sim::{ContainerSpec, PodSpec, WorkloadSpec};

use crate::util::{
    Cluster, Running, assert_exactly_once, ground_truth, logging_pod, restart_and_log, sim_wait,
    tally, wait_pods_logging,
};

fn contains_line(lines: &[String], want: &str) -> bool {
    lines.iter().any(|l| l == want)
}

#[tokio::test(flavor = "multi_thread")]
async fn rolling_update_every_line_of_old_and_new_pods_exactly_once() {
    let c = Cluster::start().await;
    c.sim.create_namespace("prod");
    c.sim.create_deployment(
        "prod",
        WorkloadSpec::new("web", 4)
            .container(
                ContainerSpec::new("app")
                    .rate(40.0)
                    .backlog(20)
                    .start_delay(Duration::from_millis(300)),
            )
            .container(
                ContainerSpec::new("sidecar")
                    .rate(40.0)
                    .start_delay(Duration::from_millis(300)),
            ),
    );
    let old = wait_pods_logging(&c.sim, "prod", 4, "sidecar").await;
    let mut k = c.spawn(&["-n", "prod", "-l", "app=web", "--tail", "0"]);
    // --tail 0: pods that exist now start with no history; wait until each streams.
    k.wait_until("a + notice per old container", |_, err| {
        old.iter().all(|p| {
            contains_line(err, &format!("+ {p} › app"))
                && contains_line(err, &format!("+ {p} › sidecar"))
        })
    })
    .await;
    let first_seen: BTreeMap<(String, String), u64> = {
        // Lines printed from now on must continue without a gap; record where each began.
        k.wait_until("a line from every old container", |out, _| {
            let t = tally(out, None);
            old.iter().all(|p| {
                t.contains_key(&(p.clone(), "app".into()))
                    && t.contains_key(&(p.clone(), "sidecar".into()))
            })
        })
        .await;
        tally(&k.stdout(), None)
            .into_iter()
            .map(|(k, v)| (k, v[0]))
            .collect()
    };

    c.sim
        .set_image("prod", "web", "app", "registry.example/web:v2");
    sim_wait(&c.sim, "the rollout replaced every pod", |s| {
        let pods = s.pod_names("prod");
        pods.len() == 4 && pods.iter().all(|p| !old.contains(p))
    })
    .await;
    let new = c.sim.pod_names("prod");
    // Ground truth now: old pods are gone, so their counts are final; new pods keep
    // logging, so wait until ktail has printed at least what they had logged by now.
    let target = ground_truth(&c.sim, "prod", &new, &["app", "sidecar"]);
    let old_final = ground_truth(&c.sim, "prod", &old, &["app", "sidecar"]);
    k.wait_until(
        "every old line and the new pods' lines so far",
        |out, err| {
            let t = tally(out, None);
            let old_done = old_final
                .iter()
                .all(|(key, n)| t.get(key).is_some_and(|s| s.last() == Some(&(n - 1))));
            let new_done = target
                .iter()
                .all(|(key, n)| t.get(key).is_some_and(|s| s.len() as u64 >= *n));
            let notices = old.iter().all(|p| {
                contains_line(err, &format!("- {p} › app"))
                    && contains_line(err, &format!("- {p} › sidecar"))
            });
            old_done && new_done && notices
        },
    )
    .await;

    let t = tally(&k.stdout(), None);
    for (key, seqs) in &t {
        let what = format!("{}/{}", key.0, key.1);
        if let Some(first) = first_seen.get(key) {
            // Old containers: contiguous from where following began to their last line.
            let rebased: Vec<u64> = seqs.iter().map(|s| s - first).collect();
            let n = assert_exactly_once(&what, &rebased);
            assert_eq!(first + n, old_final[key], "{what}: up to its last line");
        } else {
            // New containers: from their very first line, even with --tail 0.
            assert!(new.contains(&key.0), "{what} belongs to a new pod");
            assert_exactly_once(&what, seqs);
        }
    }
    let err = k.stderr();
    for p in &new {
        for ctr in ["app", "sidecar"] {
            assert!(
                contains_line(&err, &format!("+ {p} › {ctr}")),
                "+ notice for {p}/{ctr}: {err:?}"
            );
        }
    }
    assert!(
        !err.iter().any(|l| l.contains("warning")),
        "no warnings: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn container_restart_prints_both_instances_once() {
    let c = Cluster::start().await;
    logging_pod(&c.sim, "worker", "main", 50, 100.0, 80).await;
    let mut k = c.spawn(&["worker"]);
    k.wait_until("first instance streaming", |out, _| out.len() >= 100)
        .await;
    let before = restart_and_log(&c.sim, "default", "worker", "main", 50).await;
    k.wait_until("lines of the new instance", |out, _| {
        out.len() as u64 >= before
    })
    .await;
    let t = tally(&k.stdout(), None);
    assert_exactly_once("worker/main", &t[&("worker".into(), "main".into())]);
    let err = k.stderr();
    assert_eq!(
        err.iter().filter(|l| *l == "+ worker › main").count(),
        2,
        "{err:?}"
    );
    assert_eq!(
        err.iter().filter(|l| *l == "- worker › main").count(),
        1,
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_created_later_are_picked_up_from_their_first_line() {
    let c = Cluster::start().await;
    logging_pod(&c.sim, "late-0", "c", 5, 0.0, 5).await;
    let mut k = c.spawn(&["late", "--tail", "0"]);
    // The + notice comes after ktail's first list: from here on, pods are new to it.
    k.wait_until("late-0 streaming", |_, err| {
        contains_line(err, "+ late-0 › c")
    })
    .await;
    c.sim.create_pod(
        "default",
        PodSpec::new("late-1").container(
            ContainerSpec::new("c")
                .backlog(30)
                .start_delay(Duration::from_millis(200)),
        ),
    );
    k.wait_until("all 30 lines of the late pod", |out, _| out.len() >= 30)
        .await;
    let t = tally(&k.stdout(), None);
    assert_exactly_once("late-1/c", &t[&("late-1".into(), "c".into())]);
    assert!(
        !t.contains_key(&("late-0".into(), "c".into())),
        "--tail 0 applies to late-0, which existed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn at_the_stream_cap_containers_queue_instead_of_ending_the_run() {
    let c = Cluster::start().await;
    for i in 1..=3 {
        c.sim.create_pod(
            "default",
            PodSpec::new(&format!("batch-{i}")).container(
                ContainerSpec::new("run")
                    .backlog(20)
                    .exit_after(Duration::from_millis(500 * i), 0),
            ),
        );
    }
    let mut k = c.spawn(&["batch", "--max-log-requests", "1"]);
    k.wait_until("every container printed in full", |out, _| out.len() >= 60)
        .await;
    let t = tally(&k.stdout(), None);
    assert_eq!(t.len(), 3);
    for (key, seqs) in &t {
        assert_eq!(assert_exactly_once(&format!("{key:?}"), seqs), 20);
    }
    let err = k.stderr();
    let queued: Vec<&String> = err
        .iter()
        .filter(|l| l.contains("wait in a queue"))
        .collect();
    assert_eq!(queued.len(), 1, "one notice: {err:?}");
    assert!(
        k.child.try_wait().unwrap().is_none(),
        "ktail keeps following"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn hundreds_of_streams_fit_under_a_low_soft_descriptor_limit() {
    // Many desktops start shells with a soft limit of 1024 descriptors (or less) and a
    // far higher hard limit; every stream is a connection. ktail raises its soft limit
    // to the hard one, as Go programs (stern, kubectl) do.
    const PODS: usize = 300;
    let c = Cluster::start().await;
    for i in 0..PODS {
        c.sim.create_pod(
            "default",
            PodSpec::new(&format!("many-{i}")).container(ContainerSpec::new("c").backlog(3)),
        );
    }
    sim_wait(&c.sim, "every pod logged", |s| {
        (0..PODS).all(|i| s.generated("default", &format!("many-{i}"), "c") == 3)
    })
    .await;
    let mut cmd = c.ktail(&["many", "--max-log-requests", "1000"]);
    // SAFETY: setrlimit in the child before exec; async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            lim.rlim_cur = 128;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut k = Running::spawn(cmd);
    k.wait_for_seqs("three lines from every pod", |s| {
        s.len() == PODS && s.values().all(|v| v.len() >= 3)
    })
    .await;
    for (key, seqs) in k.seqs() {
        assert_eq!(seqs, [0, 1, 2], "{key:?}");
    }
    let warnings: Vec<String> = k
        .stderr()
        .into_iter()
        .filter(|l| l.contains("warning") || l.contains("error"))
        .collect();
    assert!(warnings.is_empty(), "{warnings:?}");
}
