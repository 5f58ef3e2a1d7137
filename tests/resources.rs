//! Resource queries: `deploy/web` and friends, followed as the object changes.

use std::collections::BTreeMap;
use std::time::Duration;

use kube_sim::{ContainerSpec, JobSpec, Sim, WorkloadSpec};

use crate::util::{
    Cluster, Running, assert_exactly_once, running_pod, sim_wait, tally, wait_pods_logging,
};

fn web(replicas: u32) -> WorkloadSpec {
    WorkloadSpec::new("web", replicas)
        .label("app", "web")
        .container(
            ContainerSpec::new("app")
                .rate(30.0)
                .start_delay(Duration::from_millis(200)),
        )
}

/// The pods of deployment `web` in `prod`: every pod there but web-admin's.
fn web_pods(sim: &Sim) -> Vec<String> {
    sim.pod_names("prod")
        .into_iter()
        .filter(|p| !p.starts_with("web-admin"))
        .collect()
}

/// Waits until ktail has printed more than five lines of container `app` of each of `pods`.
async fn wait_streaming(k: &mut Running, what: &str, pods: &[String]) {
    k.wait_until(what, |out, _| {
        let t = tally(out, None);
        pods.iter().all(|p| {
            t.get(&(p.clone(), "app".into()))
                .is_some_and(|s| s.len() > 5)
        })
    })
    .await;
}

/// No container is ever streamed twice: one `+` per pod and container.
fn assert_no_duplicate_streams(err: &[String]) {
    let mut plus: BTreeMap<&str, usize> = BTreeMap::new();
    for l in err.iter().filter(|l| l.starts_with("+ ")) {
        *plus.entry(l.as_str()).or_default() += 1;
    }
    assert!(
        plus.values().all(|n| *n == 1),
        "duplicate streams: {plus:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_query_follows_rollouts_selector_changes_and_recreation() {
    let c = Cluster::start().await;
    c.sim.create_namespace("prod");
    c.sim.create_deployment("prod", web(2));
    c.sim.create_deployment(
        "prod",
        WorkloadSpec::new("web-admin", 1)
            .label("app", "web-admin")
            .container(ContainerSpec::new("app").rate(30.0)),
    );
    wait_pods_logging(&c.sim, "prod", 3, "app").await;
    let mut k = c.spawn(&["deploy/web", "-n", "prod", "--tail", "0"]);
    let first = web_pods(&c.sim);
    k.wait_until("both web pods stream", |out, _| {
        let t = tally(out, None);
        first
            .iter()
            .all(|p| t.contains_key(&(p.clone(), "app".into())))
    })
    .await;
    // The deployment had pods when ktail started: nothing says it had none (such a
    // message would come before their `+` notices on stderr).
    k.wait_until("both web pods announced", |_, err| {
        first.iter().all(|p| err.contains(&format!("+ {p} › app")))
    })
    .await;
    assert!(
        !k.stderr()
            .iter()
            .any(|l| l.contains("no pod of deployment")),
        "{:?}",
        k.stderr()
    );

    // A rollout: the new pods are followed from their first line.
    c.sim.set_image("prod", "web", "app", "web:v2");
    let rolled = |old: Vec<String>| {
        move |s: &Sim| {
            let pods = web_pods(s);
            pods.len() == 2 && pods.iter().all(|p| !old.contains(p))
        }
    };
    sim_wait(&c.sim, "rollout done", rolled(first.clone())).await;
    let second = web_pods(&c.sim);
    wait_streaming(&mut k, "new pods stream", &second).await;

    // The selector changes: pods of the new selector are followed.
    c.sim
        .set_deployment_selector("prod", "web", &[("app", "web"), ("track", "v3")]);
    sim_wait(&c.sim, "pods with the new labels", |s| {
        let pods = web_pods(s);
        pods.len() == 2
            && pods.iter().all(|p| {
                running_pod(s, "prod", p).is_some_and(|o| o["metadata"]["labels"]["track"] == "v3")
            })
    })
    .await;
    let third = web_pods(&c.sim);
    wait_streaming(&mut k, "pods of the new selector stream", &third).await;

    // Deleted and created again: the pod set follows.
    c.sim.delete_deployment("prod", "web");
    sim_wait(&c.sim, "web pods gone", |s| web_pods(s).is_empty()).await;
    c.sim.create_deployment("prod", web(1));
    sim_wait(&c.sim, "web is back", |s| s.pod_names("prod").len() == 2).await;
    let fourth = web_pods(&c.sim);
    wait_streaming(&mut k, "the re-created deployment's pod streams", &fourth).await;

    let t = tally(&k.stdout(), None);
    assert!(
        !t.keys().any(|(p, _)| p.starts_with("web-admin")),
        "never the other deployment"
    );
    for p in second.iter().chain(&third).chain(&fourth) {
        assert_exactly_once(p, &t[&(p.clone(), "app".into())]);
    }
    assert_no_duplicate_streams(&k.stderr());
}

#[tokio::test(flavor = "multi_thread")]
async fn every_kind_resolves_to_its_pods() {
    let c = Cluster::start().await;
    c.sim.create_deployment(
        "default",
        web(1).container(ContainerSpec::new("side").backlog(2)),
    );
    c.sim.create_statefulset(
        "default",
        WorkloadSpec::new("db", 2)
            .label("app", "db")
            .container(ContainerSpec::new("pg").backlog(2)),
    );
    c.sim.create_daemonset(
        "default",
        WorkloadSpec::new("agent", 1)
            .label("app", "agent")
            .container(ContainerSpec::new("a").backlog(2)),
    );
    c.sim.create_job(
        "default",
        JobSpec::new("migrate")
            .container(ContainerSpec::new("m").backlog(2))
            .run_for(Duration::from_secs(60)),
    );
    c.sim.create_service("default", "db-svc", &[("app", "db")]);
    sim_wait(&c.sim, "everything logging", |s| {
        s.pod_names("default")
            .iter()
            .filter(|p| !p.starts_with("web"))
            .count()
            == 5
            && s.pod_names("default")
                .iter()
                .all(|p| running_pod(s, "default", p).is_some())
    })
    .await;
    let pods = |args: &'static [&'static str]| {
        let c = &c;
        async move {
            let mut argv = vec!["--no-follow", "-c", "^(pg|a|m|side)$"];
            argv.extend_from_slice(args);
            let out = c.run(&argv).await;
            assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
            let mut v: Vec<String> = tally(&out.lines(), None)
                .into_keys()
                .map(|(p, _)| p)
                .collect();
            v.dedup();
            v
        }
    };
    assert_eq!(pods(&["sts/db"]).await, ["db-0", "db-1"]);
    assert_eq!(pods(&["statefulsets/db"]).await, ["db-0", "db-1"]);
    assert_eq!(pods(&["svc/db-svc"]).await, ["db-0", "db-1"]);
    assert_eq!(pods(&["pod/db-1"]).await, ["db-1"]);
    assert_eq!(pods(&["ds/agent"]).await.len(), 2, "one per node");
    let job = pods(&["job/migrate"]).await;
    assert!(job.len() == 1 && job[0].starts_with("migrate-"), "{job:?}");
    let deploy = pods(&["deployment/web"]).await;
    assert!(
        deploy.len() == 1 && deploy[0].starts_with("web-"),
        "{deploy:?}"
    );
    let rs_name = {
        let p = c.sim.pod("default", &deploy[0]).unwrap();
        p["metadata"]["ownerReferences"][0]["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let rs = format!("rs/{rs_name}");
    let out = c.run(&["--no-follow", &rs]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.lines().all(|l| l.starts_with(&deploy[0])));

    // A missing object or an unknown kind is one clear line.
    c.run(&["deploy/nope"])
        .await
        .assert_one_error_line(6, "deployment 'nope' not found");
    c.run(&["cronjob/nightly"])
        .await
        .assert_one_error_line(6, "cronjob 'nightly' not found");
    c.run(&["configmap/settings"])
        .await
        .assert_one_error_line(2, "unknown resource kind 'configmap'");
}
