//! kubectl's write commands against the simulator, each checked by what kubectl then
//! shows: `get`, `rollout status` and `rollout history`.

use super::*;
use kube_sim::CronJobSpec;

/// `web` in `shop`: 3 replicas of nginx:1.27, rolling one pod at a time.
async fn web_env() -> Env {
    let env = Env::start().await;
    env.sim.create_namespace("shop");
    env.sim.create_deployment(
        "shop",
        WorkloadSpec::new("web", 3)
            .container(ContainerSpec::new("app").image("nginx:1.27"))
            .container(ContainerSpec::new("sidecar").image("busybox:1.36")),
    );
    env.wait_for("3 web pods running", |s| {
        running_pods(s, "shop", "web-").len() == 3
    })
    .await;
    env
}

/// `rollout status` returns once the rollout is done, and says so last.
async fn rolled_out(env: &Env, deploy: &str) {
    let out = env
        .ok(&["rollout", "status", deploy, "-n", "shop", "--timeout=30s"])
        .await;
    let name = deploy.split('/').nth(1).unwrap_or(deploy);
    assert!(
        out.ends_with(&format!("deployment \"{name}\" successfully rolled out\n")),
        "{out}"
    );
}

/// The REVISION column of `rollout history`.
async fn revisions(env: &Env, deploy: &str) -> Vec<(String, String)> {
    let out = env.ok(&["rollout", "history", deploy, "-n", "shop"]).await;
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(format!("{deploy} ").as_str()), "{out}");
    assert_eq!(
        lines
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["REVISION", "CHANGE-CAUSE"]),
        "{out}"
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (rev, cause) = l.split_once(' ').unwrap_or((l, ""));
            (rev.to_string(), cause.trim().to_string())
        })
        .collect()
}

async fn image(env: &Env) -> String {
    env.ok(&[
        "get",
        "deploy",
        "web",
        "-n",
        "shop",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ])
    .await
}

/// Images of the running pods of `web`, sorted.
async fn pod_images(env: &Env) -> Vec<String> {
    let out = env
        .ok(&[
            "get",
            "pods",
            "-n",
            "shop",
            "-l",
            "app=web",
            "--field-selector",
            "status.phase=Running",
            "-o",
            "jsonpath={range .items[?(@.metadata.deletionTimestamp)]}{end}{range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}",
        ])
        .await;
    let mut v: Vec<String> = out.lines().map(str::to_string).collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_image_then_undo_through_revisions() {
    let env = web_env().await;
    let out = env
        .ok(&["set", "image", "deploy/web", "app=nginx:1.28", "-n", "shop"])
        .await;
    assert_eq!(out, "deployment.apps/web image updated\n");
    rolled_out(&env, "deployment/web").await;
    assert_eq!(image(&env).await, "nginx:1.28");
    env.wait_for("only new pods", |s| {
        s.pod_names("shop").len() == 3 && running_pods(s, "shop", "web-").len() == 3
    })
    .await;
    assert_eq!(pod_images(&env).await, ["nginx:1.28"; 3]);
    // A change cause on the Deployment is copied to its current ReplicaSet.
    env.ok(&[
        "annotate",
        "deploy/web",
        "-n",
        "shop",
        "kubernetes.io/change-cause=nginx 1.28",
    ])
    .await;
    env.wait_for("the ReplicaSet has the change cause", |s| {
        s.objects("replicasets", "shop")
            .iter()
            .any(|rs| rs["metadata"]["annotations"]["kubernetes.io/change-cause"] == "nginx 1.28")
    })
    .await;
    let revs = revisions(&env, "deployment.apps/web").await;
    let want = [
        ("1".into(), "<none>".into()),
        ("2".into(), "nginx 1.28".into()),
    ];
    assert_eq!(revs, want);
    let out = env
        .ok(&["rollout", "undo", "deploy/web", "-n", "shop"])
        .await;
    assert_eq!(out, "deployment.apps/web rolled back\n");
    rolled_out(&env, "deployment/web").await;
    assert_eq!(image(&env).await, "nginx:1.27");
    // Revision 1's ReplicaSet came back as revision 3, with revision 1's annotations:
    // undo gives the Deployment the annotations of the revision it goes back to.
    let revs = revisions(&env, "deployment.apps/web").await;
    assert_eq!(
        revs,
        [
            ("2".into(), "nginx 1.28".into()),
            ("3".into(), "<none>".into())
        ]
    );
    let out = env
        .ok(&[
            "rollout",
            "history",
            "deploy/web",
            "-n",
            "shop",
            "--revision=3",
        ])
        .await;
    assert!(
        out.contains("Image:\tnginx:1.27") || out.contains("Image:      nginx:1.27"),
        "{out}"
    );
    let out = env.ok(&["get", "rs", "-n", "shop"]).await;
    let (_, rows) = table(&out);
    let mut desired: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    desired.sort();
    assert_eq!(
        desired,
        ["0", "3"],
        "two ReplicaSets, one of them scaled down: {out}"
    );
    let out = env
        .ok(&[
            "get",
            "deploy",
            "web",
            "-n",
            "shop",
            "-o",
            "jsonpath={.metadata.annotations.deployment\\.kubernetes\\.io/revision}",
        ])
        .await;
    assert_eq!(out, "3");
    // Nothing older to go back to than the previous revision: undo again flips back.
    let out = env
        .ok(&[
            "rollout",
            "undo",
            "deploy/web",
            "-n",
            "shop",
            "--to-revision=3",
        ])
        .await;
    assert_eq!(
        out,
        "deployment.apps/web skipped rollback (current template already matches revision 3)\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollout_restart_rolls_every_pod() {
    let env = web_env().await;
    let before: BTreeSet<String> = running_pods(&env.sim, "shop", "web-").into_iter().collect();
    let out = env
        .ok(&["rollout", "restart", "deploy/web", "-n", "shop"])
        .await;
    assert_eq!(out, "deployment.apps/web restarted\n");
    rolled_out(&env, "deployment/web").await;
    let restarted_at = env
        .ok(&[
            "get",
            "deploy",
            "web",
            "-n",
            "shop",
            "-o",
            "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}",
        ])
        .await;
    assert!(
        restarted_at.parse::<jiff::Timestamp>().is_ok(),
        "{restarted_at:?}"
    );
    env.wait_for("three new pods and no old one", |s| {
        let now: BTreeSet<String> = s.pod_names("shop").into_iter().collect();
        now.len() == 3 && now.is_disjoint(&before)
    })
    .await;
    assert_eq!(revisions(&env, "deployment.apps/web").await.len(), 2);
    // The pods carry the template's annotation.
    let pod = running_pods(&env.sim, "shop", "web-").remove(0);
    let p = env.sim.pod("shop", &pod).unwrap();
    assert_eq!(
        p["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"],
        restarted_at.as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_up_and_down() {
    let env = web_env().await;
    let out = env
        .ok(&["scale", "deploy/web", "--replicas=5", "-n", "shop"])
        .await;
    assert_eq!(out, "deployment.apps/web scaled\n");
    rolled_out(&env, "deployment/web").await;
    let out = env.ok(&["get", "deploy", "web", "-n", "shop"]).await;
    assert_eq!(
        &find_row(&out, "web").unwrap()[1..4],
        ["5/5", "5", "5"],
        "{out}"
    );
    env.ok(&["scale", "deploy/web", "--replicas=1", "-n", "shop"])
        .await;
    env.wait_for("one pod left", |s| s.pod_names("shop").len() == 1)
        .await;
    let out = env.ok(&["get", "deploy", "web", "-n", "shop"]).await;
    assert_eq!(
        &find_row(&out, "web").unwrap()[1..4],
        ["1/1", "1", "1"],
        "{out}"
    );
    // `--current-replicas` reads and writes the Scale with a precondition.
    let out = env
        .run(&[
            "scale",
            "deploy/web",
            "--current-replicas=3",
            "--replicas=2",
            "-n",
            "shop",
        ])
        .await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("Expected replicas to be 3, was 1"),
        "{out:?}"
    );
    assert_eq!(revisions(&env, "deployment.apps/web").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_pod_is_replaced() {
    let env = web_env().await;
    let victim = running_pods(&env.sim, "shop", "web-").remove(0);
    let out = env.ok(&["delete", "pod", &victim, "-n", "shop"]).await;
    // kubectl waits until the pod is gone.
    assert_eq!(
        out,
        format!("pod \"{victim}\" deleted from shop namespace\n")
    );
    assert!(env.sim.pod("shop", &victim).is_none());
    env.wait_for("a replacement", |s| {
        running_pods(s, "shop", "web-").len() == 3
    })
    .await;
    let out = env.ok(&["get", "pods", "-n", "shop"]).await;
    let (_, rows) = table(&out);
    assert_eq!(rows.len(), 3, "{out}");
    assert!(
        rows.iter().all(|r| r[0] != victim && r[2] == "Running"),
        "{out}"
    );
    // A grace period shows on the pod while it terminates (its processes take their
    // time to stop here).
    env.sim.set_controller_grace(Duration::from_secs(60));
    let victim = running_pods(&env.sim, "shop", "web-").remove(0);
    let out = env
        .ok(&[
            "delete",
            "pod",
            &victim,
            "-n",
            "shop",
            "--grace-period=20",
            "--wait=false",
        ])
        .await;
    assert_eq!(
        out,
        format!("pod \"{victim}\" deleted from shop namespace\n")
    );
    let p = env
        .sim
        .pod("shop", &victim)
        .expect("the pod terminates for 20 s");
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 20, "{p}");
    let out = env.ok(&["get", "pod", &victim, "-n", "shop"]).await;
    assert_eq!(find_row(&out, &victim).unwrap()[2], "Terminating", "{out}");
    let out = env.run(&["delete", "pod", "nope", "-n", "shop"]).await;
    assert_eq!(
        out.stderr,
        "Error from server (NotFound): pods \"nope\" not found\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_namespace() {
    let env = Env::start().await;
    let out = env.ok(&["create", "ns", "team-a"]).await;
    assert_eq!(out, "namespace/team-a created\n");
    let out = env.ok(&["get", "ns", "team-a"]).await;
    assert_eq!(
        &find_row(&out, "team-a").unwrap()[1..2],
        ["Active"],
        "{out}"
    );
    let out = env.run(&["create", "ns", "team-a"]).await;
    assert_eq!(
        out.stderr,
        "Error from server (AlreadyExists): namespaces \"team-a\" already exists\n"
    );
    let out = env.run(&["create", "ns", "Team"]).await;
    assert!(
        out.stderr.starts_with(
            "The Namespace \"Team\" is invalid: metadata.name: Invalid value: \"Team\": a lowercase RFC 1123 label"
        ),
        "{out:?}"
    );
    let out = env.ok(&["delete", "ns", "team-a"]).await;
    assert_eq!(out, "namespace \"team-a\" deleted\n");
    let out = env.run(&["get", "ns", "team-a"]).await;
    assert_eq!(
        out.stderr,
        "Error from server (NotFound): namespaces \"team-a\" not found\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_job_and_wait_for_it() {
    let env = Env::start().await;
    env.ok(&["create", "ns", "ci"]).await;
    let out = env
        .ok(&[
            "create",
            "job",
            "hello",
            "-n",
            "ci",
            "--image=busybox:1.36",
            "--",
            "sh",
            "-c",
            "echo hello; echo world",
        ])
        .await;
    assert_eq!(out, "job.batch/hello created\n");
    let out = env
        .ok(&[
            "wait",
            "--for=condition=complete",
            "job/hello",
            "-n",
            "ci",
            "--timeout=30s",
        ])
        .await;
    assert_eq!(out, "job.batch/hello condition met\n");
    assert_eq!(
        env.ok(&["logs", "job/hello", "-n", "ci"]).await,
        "hello\nworld\n"
    );
    let out = env.ok(&["get", "jobs", "-n", "ci"]).await;
    assert_eq!(
        &find_row(&out, "hello").unwrap()[1..3],
        ["Complete", "1/1"],
        "{out}"
    );
    // A failing command fails the Job once the back-off limit is exceeded.
    env.sim.set_job_backoff(Duration::from_millis(100));
    let job = r#"{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"boom"},
        "spec":{"backoffLimit":1,"template":{"spec":{"restartPolicy":"Never",
        "containers":[{"name":"boom","image":"busybox:1.36","command":["sh","-c","echo boom; exit 3"]}]}}}}"#;
    let path = env.dir.join("boom.json");
    std::fs::write(&path, job).unwrap();
    env.ok(&["create", "-f", path.to_str().unwrap(), "-n", "ci"])
        .await;
    env.ok(&[
        "wait",
        "--for=condition=failed",
        "job/boom",
        "-n",
        "ci",
        "--timeout=30s",
    ])
    .await;
    let out = env
        .ok(&["get", "pods", "-n", "ci", "-l", "job-name=boom"])
        .await;
    let (_, rows) = table(&out);
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows.iter().all(|r| r[2] == "Error"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_job_from_a_cronjob() {
    let env = Env::start().await;
    env.sim.create_cronjob(
        "ops",
        CronJobSpec::new(
            "backup",
            "0 3 * * *",
            JobSpec::new("").container(ContainerSpec::new("backup").lines(["dumped 42 tables"])),
        ),
    );
    let out = env
        .ok(&[
            "create",
            "job",
            "backup-now",
            "--from=cronjob/backup",
            "-n",
            "ops",
        ])
        .await;
    assert_eq!(out, "job.batch/backup-now created\n");
    env.ok(&[
        "wait",
        "--for=condition=complete",
        "job/backup-now",
        "-n",
        "ops",
        "--timeout=30s",
    ])
    .await;
    // The pod does what the CronJob's pods do.
    assert_eq!(
        env.ok(&["logs", "job/backup-now", "-n", "ops"]).await,
        "dumped 42 tables\n"
    );
    let out = env
        .ok(&["get", "job", "backup-now", "-n", "ops", "-o", "jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.metadata.annotations.cronjob\\.kubernetes\\.io/instantiate}"])
        .await;
    assert_eq!(out, "CronJob/backup manual");
    let out = env.ok(&["get", "cronjobs", "-n", "ops"]).await;
    let row = find_row(&out, "backup").unwrap_or_else(|| panic!("{out}"));
    // A manual run is not one of the CronJob's scheduled runs.
    assert_eq!(row[row.len() - 3..row.len() - 1], ["0", "<none>"], "{out}");
}

const API_YAML: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels: {app: api}
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: IMAGE
        ports:
        - containerPort: 8080
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_creates_and_then_configures_a_deployment() {
    let env = Env::start().await;
    env.ok(&["create", "ns", "shop"]).await;
    let file = env.dir.join("api.yaml");
    let file = file.to_str().unwrap();
    std::fs::write(file, API_YAML.replace("IMAGE", "nginx:1.27")).unwrap();
    let out = env.ok(&["apply", "-f", file, "-n", "shop"]).await;
    assert_eq!(out, "deployment.apps/api created\n");
    rolled_out(&env, "deployment/api").await;
    let out = env.ok(&["apply", "-f", file, "-n", "shop"]).await;
    assert_eq!(out, "deployment.apps/api unchanged\n");
    std::fs::write(file, API_YAML.replace("IMAGE", "nginx:1.28")).unwrap();
    let out = env.ok(&["apply", "-f", file, "-n", "shop"]).await;
    assert_eq!(out, "deployment.apps/api configured\n");
    rolled_out(&env, "deployment/api").await;
    let out = env
        .ok(&["get", "deploy", "api", "-n", "shop", "-o", "wide"])
        .await;
    let row = find_row(&out, "api").unwrap_or_else(|| panic!("{out}"));
    assert_eq!(row[1..4], ["2/2", "2", "2"], "{out}");
    assert_eq!(row[5..8], ["api", "nginx:1.28", "app=api"], "{out}");
    // What was applied is what is served, defaults filled in.
    let out = env
        .ok(&["get", "deploy", "api", "-n", "shop", "-o", "jsonpath={.spec.template.spec.containers[0].ports[0].containerPort} {.spec.strategy.rollingUpdate.maxSurge} {.spec.template.spec.containers[0].imagePullPolicy}"])
        .await;
    assert_eq!(out, "8080 25% IfNotPresent");
    assert_eq!(revisions(&env, "deployment.apps/api").await.len(), 2);
    // An invalid change is refused with the apiserver's field errors.
    std::fs::write(
        file,
        API_YAML
            .replace("IMAGE", "nginx:1.28")
            .replace("replicas: 2", "replicas: -1"),
    )
    .unwrap();
    let out = env.run(&["apply", "-f", file, "-n", "shop"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("The Deployment \"api\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_the_simulator_does_not_serve_are_refused_like_the_apiserver() {
    let env = web_env().await;
    env.sim.create_statefulset(
        "shop",
        WorkloadSpec::new("db", 1).container(ContainerSpec::new("pg")),
    );
    let out = env.run(&["delete", "sts", "db", "-n", "shop"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(
        out.stderr,
        "Error from server (MethodNotAllowed): the server does not allow this method on the requested resource\n"
    );
    let out = env
        .run(&["label", "svc", "kubernetes", "team=core", "-n", "default"])
        .await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("(MethodNotAllowed)"), "{out:?}");
}
