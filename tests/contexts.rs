//! Several kubeconfig contexts in one run: two simulated clusters with the same pod
//! names, and a third context whose API server is not there.

use kube_sim::{ContainerSpec, PodSpec, Sim, SimOptions, WorkloadSpec};

use crate::util::{ktail_command, run, sim_wait, start_pod, wait_pods_logging};

/// A kubeconfig with one context per `(name, server)`; `down` is a context whose API
/// server refuses connections (nothing listens on its port).
fn kubeconfig_yaml(clusters: &[(&str, String)], token: &str) -> String {
    let mut yaml = String::from("apiVersion: v1\nkind: Config\nclusters:\n");
    for (name, server) in clusters {
        yaml.push_str(&format!(
            "- name: {name}\n  cluster:\n    server: {server}\n"
        ));
    }
    yaml.push_str("contexts:\n");
    for (name, _) in clusters {
        yaml.push_str(&format!(
            "- name: {name}\n  context:\n    cluster: {name}\n    user: u\n    namespace: default\n"
        ));
    }
    let first = clusters[0].0;
    yaml.push_str(&format!(
        "current-context: {first}\nusers:\n- name: u\n  user:\n    token: {token}\n"
    ));
    yaml
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

struct Two {
    eu: Sim,
    us: Sim,
    dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
}

impl Two {
    /// Two clusters started with the same seed, so that the same objects get the same
    /// generated names in both; the kubeconfig also has `down`.
    async fn start() -> Two {
        let eu = Sim::start(SimOptions::default()).await.unwrap();
        let us = Sim::start(SimOptions::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let down = format!("http://127.0.0.1:{}", closed_port());
        let yaml = kubeconfig_yaml(
            &[("eu", eu.url()), ("us", us.url()), ("down", down)],
            &eu.token(),
        );
        std::fs::write(&kubeconfig, yaml).unwrap();
        Two {
            eu,
            us,
            dir,
            kubeconfig,
        }
    }

    fn ktail(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = ktail_command(self.dir.path());
        cmd.env("KUBECONFIG", &self.kubeconfig).args(args);
        cmd
    }
}

fn web_with(lines: &[&str]) -> PodSpec {
    PodSpec::new("web-1")
        .label("app", "web")
        .container(ContainerSpec::new("app").lines(lines.iter().copied()))
}

/// `(context, pod, message)` of every `-o json` record.
fn records(stdout: &str) -> Vec<(String, String, String)> {
    stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON record");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            (s("context"), s("podName"), s("message"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_pod_in_two_clusters_is_two_pods_and_an_unreachable_context_only_warns() {
    let t = Two::start().await;
    start_pod(&t.eu, "default", web_with(&["eu one", "eu two"])).await;
    start_pod(
        &t.us,
        "default",
        web_with(&["us one", "us two", "us three"]),
    )
    .await;

    let out = run(t.ktail(&[
        "web",
        "--no-follow",
        "-o",
        "json",
        "--context",
        "eu,us",
        "--context",
        "down",
    ]))
    .await;
    let mut got = records(&out.stdout);
    got.sort();
    let want = |c: &str, m: &str| (c.to_string(), "web-1".to_string(), m.to_string());
    assert_eq!(
        got,
        vec![
            want("eu", "eu one"),
            want("eu", "eu two"),
            want("us", "us one"),
            want("us", "us three"),
            want("us", "us two"),
        ],
        "every line once, with its context; stderr: {}",
        out.stderr
    );
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("context 'down'"))
        .collect();
    assert_eq!(
        warnings.len(),
        1,
        "one warning names the context: {}",
        out.stderr
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(
        out.code,
        Some(1),
        "a context that could not be read: exit 1"
    );

    // Without the unreachable one: exit 0, and the default prefix leads with the context.
    let out = run(t.ktail(&["web", "--no-follow", "--context-regex", "^(eu|us)$"])).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut lines: Vec<&str> = out.stdout.lines().collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "eu web-1 app eu one",
            "eu web-1 app eu two",
            "us web-1 app us one",
            "us web-1 app us three",
            "us web-1 app us two",
        ]
    );

    // --output-dir: a level per context, so the same pod's files do not mix.
    let dir = t.dir.path().join("logs");
    let out = run(t.ktail(&[
        "web",
        "--no-follow",
        "--context",
        "eu,us",
        "--output-dir",
        dir.to_str().unwrap(),
        "--files-only",
    ]))
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let read =
        |c: &str| std::fs::read_to_string(dir.join(c).join("default/web-1/app.log")).unwrap();
    assert_eq!(read("eu"), "eu one\neu two\n");
    assert_eq!(read("us"), "us one\nus two\nus three\n");

    // One context alone: no context anywhere, as before.
    let out = run(t.ktail(&["web", "--no-follow", "-o", "json", "--context", "us"])).await;
    assert!(records(&out.stdout).iter().all(|(c, _, _)| c.is_empty()));
    assert_eq!(records(&out.stdout).len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn context_mistakes_are_one_line_with_exit_3() {
    let t = Two::start().await;
    let out = run(t.ktail(&["web", "--context", "eu,nowhere"])).await;
    out.assert_one_error_line(3, "context 'nowhere' not found");
    assert!(out.stderr.contains("eu, us, down"), "{}", out.stderr);
    let out = run(t.ktail(&["web", "--context-regex", "^prod-"])).await;
    out.assert_one_error_line(3, "--context-regex '^prod-' matches no context");
    // Every context unreachable: the usual fatal error.
    let out = run(t.ktail(&["web", "--context", "down"])).await;
    assert_eq!(out.code, Some(4), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn following_two_clusters_through_a_rollout_in_one_and_a_restart_of_the_other() {
    let t = Two::start().await;
    t.eu.create_deployment(
        "default",
        WorkloadSpec::new("web", 2).container(ContainerSpec::new("app").rate(20.0)),
    );
    t.us.create_deployment(
        "default",
        WorkloadSpec::new("web", 2).container(ContainerSpec::new("app").rate(20.0)),
    );
    // And a pod of the same name in both.
    for sim in [&t.eu, &t.us] {
        start_pod(
            sim,
            "default",
            PodSpec::new("web-1")
                .label("app", "web")
                .container(ContainerSpec::new("app").rate(20.0)),
        )
        .await;
    }
    let eu_old = wait_pods_logging(&t.eu, "default", 3, "app").await;
    let us_old = wait_pods_logging(&t.us, "default", 3, "app").await;

    let mut k = crate::util::Running::spawn(t.ktail(&[
        "-l",
        "app=web",
        "-o",
        "json",
        "--context",
        "eu,us",
    ]));
    let from = |out: &[String], context: &str, pod: &str| {
        records(&out.join("\n"))
            .iter()
            .any(|(c, p, _)| c == context && p == pod)
    };
    k.wait_until("lines of every pod in both clusters", |out, _| {
        eu_old.iter().all(|p| from(out, "eu", p)) && us_old.iter().all(|p| from(out, "us", p))
    })
    .await;

    // A rolling update in eu: its new pods are followed, said with the context.
    t.eu.set_image("default", "web", "app", "web:v2");
    sim_wait(&t.eu, "eu rolled out", |s| {
        let pods = s.pod_names("default");
        pods.len() == 3 && pods.iter().filter(|p| !eu_old.contains(p)).count() == 2
    })
    .await;
    let eu_new: Vec<String> =
        t.eu.pod_names("default")
            .into_iter()
            .filter(|p| !eu_old.contains(p))
            .collect();
    k.wait_until("lines of eu's new pods", |out, _| {
        eu_new.iter().all(|p| from(out, "eu", p))
    })
    .await;
    assert!(
        k.stderr()
            .iter()
            .any(|l| l.contains("eu") && l.contains(&eu_new[0])),
        "the new pod's notice names its context: {:?}",
        k.stderr()
    );

    // us's API server goes down and comes back (the cluster behind it runs on, and a
    // pod is created meanwhile): eu never stops, and us is picked up again.
    t.us.go_down().await;
    let seen_eu = records(&k.stdout().join("\n"))
        .iter()
        .filter(|(c, _, _)| c == "eu")
        .count();
    k.wait_until("a warning naming us, and eu streaming on", |out, err| {
        err.iter().any(|l| l.contains("context 'us'"))
            && records(&out.join("\n"))
                .iter()
                .filter(|(c, _, _)| c == "eu")
                .count()
                > seen_eu + 20
    })
    .await;
    t.us.create_pod(
        "default",
        PodSpec::new("web-back")
            .label("app", "web")
            .container(ContainerSpec::new("app").rate(20.0)),
    );
    t.us.come_back();
    k.wait_until("lines of us's new pod", |out, _| {
        from(out, "us", "web-back")
    })
    .await;
    assert!(k.is_running(), "a follow run goes on");
    assert!(
        !k.stderr().iter().any(|l| l.contains("may be missing")),
        "the outage lost no line of us's pods: {:?}",
        k.stderr()
    );
}
