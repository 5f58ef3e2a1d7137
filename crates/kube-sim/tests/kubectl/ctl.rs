//! `kube-sim ctl` against a running simulator, and what kubectl shows afterwards.

use super::*;

impl Env {
    /// `kube-sim ctl ARGS` with this simulator's kubeconfig, to its end.
    async fn ctl(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kube-sim"));
        cmd.arg("ctl")
            .args(args)
            .env_clear()
            .env("KUBECONFIG", self.dir.join("kubeconfig"))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(RUN_TIMEOUT, cmd.output())
            .await
            .expect("kube-sim ctl finishes")
            .expect("kube-sim ctl runs");
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_probe_fail_and_image_pull_fail() {
    let env = Env::start().await;
    let sim = &env.sim;
    sim.create_deployment(
        "default",
        WorkloadSpec::new("web", 1).container(ContainerSpec::new("app").image("nginx:1.27")),
    );
    env.wait_for("web running", |s| {
        running_pods(s, "default", "web-").len() == 1
    })
    .await;
    let pod = running_pods(sim, "default", "web-").remove(0);

    let out = env.ctl(&["crash", &pod, "--reason", "OOMKilled"]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout,
        format!("default/{pod} app: exited with 137 (OOMKilled); the kubelet restarted it\n")
    );
    let out = env
        .ok(&["get", "pod", &pod, "-o", "jsonpath={.status.containerStatuses[0].restartCount} {.status.containerStatuses[0].lastState.terminated.reason} {.status.containerStatuses[0].lastState.terminated.exitCode}"])
        .await;
    assert_eq!(out, "1 OOMKilled 137");

    let out = env.ctl(&["probe-fail", &pod]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let out = env.ok(&["get", "pod", &pod]).await;
    assert_eq!(
        find_row(&out, &pod).unwrap()[1..3],
        ["0/1", "Running"],
        "{out}"
    );
    env.ctl(&["probe-ok", &pod]).await;
    let out = env.ok(&["get", "pod", &pod]).await;
    assert_eq!(find_row(&out, &pod).unwrap()[1], "1/1", "{out}");

    // A refused image stalls a rollout; undo brings it back.
    let out = env.ctl(&["image-pull-fail", "nginx:9.9"]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    env.ok(&["set", "image", "deploy/web", "app=nginx:9.9"])
        .await;
    env.wait_for("a pod waiting in ImagePullBackOff", |s| {
        s.pod_names("default").iter().any(|p| {
            s.pod("default", p).is_some_and(|v| {
                v["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
                    == "ImagePullBackOff"
            })
        })
    })
    .await;
    let out = env.ok(&["get", "pods"]).await;
    assert!(out.lines().any(|l| l.contains("ImagePullBackOff")), "{out}");
    let out = env
        .run(&["rollout", "status", "deploy/web", "--timeout=2s"])
        .await;
    assert_eq!(out.code, Some(1), "the rollout is stuck: {out:?}");
    env.ok(&["rollout", "undo", "deploy/web"]).await;
    env.ok(&["rollout", "status", "deploy/web", "--timeout=30s"])
        .await;
    env.wait_for("only the old pod", |s| {
        s.pod_names("default") == [pod.clone()]
    })
    .await;

    // Bad input is one line and its exit status.
    let out = env.ctl(&["crash"]).await;
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(out.stderr.lines().count(), 1, "{out:?}");
    assert!(out.stderr.starts_with("kube-sim: "), "{out:?}");
    let out = env.ctl(&["crash", "nope"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    assert_eq!(out.stderr, "kube-sim ctl: pods \"nope\" not found\n");
    let out = env.ctl(&["crash", &pod, "-c", "nope"]).await;
    assert_eq!(
        out.stderr,
        format!("kube-sim ctl: container nope is not valid for pod {pod}\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liveness_fail_restarts_the_container_and_says_why() {
    let env = Env::start().await;
    env.app_pod("web-1").await;
    let out = env.ctl(&["liveness-fail", "web-1"]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout,
        "default/web-1 app: the liveness probe fails; the kubelet restarts the container after 3 failures\n"
    );
    env.wait_for("the restart", |s| {
        restart_count(s, "default", "web-1", "app") == 1
    })
    .await;
    let (out, _, rows) = env
        .events_table("involvedObject.name=web-1,reason=Killing", &[])
        .await;
    assert_eq!(rows.len(), 1, "{out}");
    assert_eq!(
        rows[0][4..].join(" "),
        "Container app failed liveness probe, will be restarted",
        "{out}"
    );
}
