//! The tutorial ktail exists for: ktail follows `deploy/web` while the real kubectl rolls
//! it forward (`set image`) and back (`rollout undo`), and every line of every pod, old
//! and new, is printed exactly once.

use std::collections::BTreeMap;

use kube_sim::{ContainerSpec, WorkloadSpec};

use crate::util::{
    Cluster, Running, TIMEOUT, assert_nothing_lost, run, sim_wait, tally, wait_pods_logging,
};

/// Runs the real kubectl to its end and returns its stdout; it must succeed.
async fn kubectl(c: &Cluster, args: &[&str]) -> String {
    let out = run(c.kubectl(args)).await;
    assert_eq!(out.code, Some(0), "kubectl {args:?}: {}", out.stderr);
    out.stdout
}

/// Waits until ktail has printed more than five lines of every container of `pods`.
async fn wait_streaming(k: &mut Running, what: &str, pods: &[String]) {
    k.wait_until(what, |out, _| {
        let t = tally(out, None);
        pods.iter().all(|p| {
            ["app", "side"].iter().all(|ctr| {
                t.get(&(p.clone(), ctr.to_string()))
                    .is_some_and(|s| s.len() > 5)
            })
        })
    })
    .await;
}

/// Runs `change` with kubectl in `shop`, waits for `rollout status` to say it is done and
/// for every pod of `before` to be gone, then for ktail to stream the new pods; returns
/// what `change` printed and the new pods.
async fn roll(
    c: &Cluster,
    k: &mut Running,
    change: &[&str],
    before: &[&Vec<String>],
) -> (String, Vec<String>) {
    let args: Vec<&str> = change.iter().copied().chain(["-n", "shop"]).collect();
    let out = kubectl(c, &args).await;
    let status = kubectl(
        c,
        &[
            "rollout",
            "status",
            "deploy/web",
            "-n",
            "shop",
            "--timeout=60s",
        ],
    )
    .await;
    assert!(
        status.ends_with("deployment \"web\" successfully rolled out\n"),
        "{status}"
    );
    sim_wait(&c.sim, "the earlier pods gone", |s| {
        let pods = s.pod_names("shop");
        pods.len() == 2 && pods.iter().all(|p| before.iter().all(|b| !b.contains(p)))
    })
    .await;
    let now = c.sim.pod_names("shop");
    wait_streaming(k, "the new pods stream", &now).await;
    (out, now)
}

#[tokio::test(flavor = "multi_thread")]
async fn follows_deploy_web_through_set_image_and_rollout_undo() {
    let c = Cluster::start_tls().await;
    c.sim.create_namespace("shop");
    c.sim.create_deployment(
        "shop",
        WorkloadSpec::new("web", 2)
            .label("app", "web")
            .container(ContainerSpec::new("app").image("nginx:1.27").rate(40.0))
            .container(ContainerSpec::new("side").rate(10.0).backlog(3)),
    );
    let first = wait_pods_logging(&c.sim, "shop", 2, "app").await;
    let mut k = c.spawn(&["deploy/web", "-n", "shop"]);
    wait_streaming(&mut k, "the first pods stream", &first).await;

    let (out, second) = roll(
        &c,
        &mut k,
        &["set", "image", "deploy/web", "app=nginx:1.28"],
        &[&first],
    )
    .await;
    assert_eq!(out, "deployment.apps/web image updated\n");
    let (out, third) = roll(
        &c,
        &mut k,
        &["rollout", "undo", "deploy/web"],
        &[&first, &second],
    )
    .await;
    assert_eq!(out, "deployment.apps/web rolled back\n");
    let out = kubectl(
        &c,
        &[
            "get",
            "deploy",
            "web",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
    )
    .await;
    assert_eq!(out, "nginx:1.27");

    // Every line of all six pods, both containers, exactly once: the old pods' to their
    // last line, the running ones as far as they have logged.
    let truth: BTreeMap<(String, String), u64> = c.sim.generated_in("shop");
    let pods: Vec<&String> = first.iter().chain(&second).chain(&third).collect();
    assert_eq!(truth.len(), 12, "{truth:?}");
    assert!(truth.keys().all(|(p, _)| pods.contains(&p)), "{truth:?}");
    tokio::time::timeout(TIMEOUT, assert_nothing_lost(&mut k, &truth))
        .await
        .expect("ktail catches up");
    let t = tally(&k.stdout(), None);
    for p in first.iter().chain(&second) {
        for ctr in ["app", "side"] {
            let key = (p.clone(), ctr.to_string());
            assert_eq!(
                t[&key].len() as u64,
                c.sim.generated("shop", p, ctr),
                "every line of {p} {ctr}, no more"
            );
        }
    }
    // One stream per container instance, opened once and closed once for the pods that went.
    let err = k.stderr();
    for p in &pods {
        for ctr in ["app", "side"] {
            let plus = format!("+ {p} › {ctr}");
            assert_eq!(
                err.iter().filter(|l| **l == plus).count(),
                1,
                "{plus}: {err:?}"
            );
        }
    }
    for p in first.iter().chain(&second) {
        let minus = format!("- {p} › app");
        assert_eq!(
            err.iter().filter(|l| **l == minus).count(),
            1,
            "{minus}: {err:?}"
        );
    }
    assert!(!err.iter().any(|l| l.contains("warning")), "{err:?}");
}
