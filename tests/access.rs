//! Cluster access: how ktail finds credentials, and what it says when it cannot.

use crate::util::{Cluster, ktail_command, logging_pod, run};

async fn cluster_with_pod() -> Cluster {
    let c = Cluster::start().await;
    logging_pod(&c.sim, "web-1", "app", 3, 0.0, 3).await;
    c
}

fn kubeconfig_yaml(server: &str, user: &str, ctx_ns: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: sim\nclusters:\n- name: sim\n  cluster:\n    server: {server}\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: tester\n    namespace: {ctx_ns}\nusers:\n- name: tester\n  user:\n{user}"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_credential_plugin_supplies_the_token() {
    let c = cluster_with_pod().await;
    let plugin = c.path("credential-plugin");
    std::fs::write(
        &plugin,
        format!(
            "#!/bin/sh\necho '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{}\"}}}}'\n",
            c.sim.token()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let user = format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
        plugin.display()
    );
    let kc = c.path("exec-kubeconfig");
    std::fs::write(&kc, kubeconfig_yaml(&c.sim.url(), &user, "default")).unwrap();
    let mut cmd = ktail_command(c.dir.path());
    cmd.args(["web", "--no-follow", "--kubeconfig"]).arg(&kc);
    let out = run(cmd).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 3);
    assert!(
        !out.stderr.contains(&c.sim.token()),
        "the token never shows"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kubeconfig_list_is_merged_and_missing_files_skipped() {
    let c = cluster_with_pod().await;
    // File one: cluster and context; file two: the user; a third that does not exist.
    let one = c.path("one");
    let two = c.path("two");
    std::fs::write(
        &one,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: sim\nclusters:\n- name: sim\n  cluster:\n    server: {}\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: tester\n",
            c.sim.url()
        ),
    )
    .unwrap();
    std::fs::write(
        &two,
        format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: tester\n  user:\n    token: {}\n",
            c.sim.token()
        ),
    )
    .unwrap();
    let list = format!(
        "{}:{}:{}",
        one.display(),
        c.path("missing").display(),
        two.display()
    );
    let mut cmd = ktail_command(c.dir.path());
    cmd.env("KUBECONFIG", list).args(["web", "--no-follow"]);
    let out = run(cmd).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_the_kubeconfig_ca() {
    let c = Cluster::start_tls().await;
    assert!(c.sim.url().starts_with("https://"));
    logging_pod(&c.sim, "web-1", "app", 3, 0.0, 3).await;
    let out = c.run(&["web", "--no-follow"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_regex_is_exit_2() {
    let c = Cluster::start().await;
    c.run(&["web-("])
        .await
        .assert_one_error_line(2, "invalid regex for QUERY 'web-('");
    c.run(&["web", "-c", "*"])
        .await
        .assert_one_error_line(2, "--container '*'");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_context_is_exit_3() {
    let c = Cluster::start().await;
    c.run(&["web", "--context", "nope"])
        .await
        .assert_one_error_line(3, "context 'nope' not found");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_kubeconfig_is_exit_3() {
    let c = Cluster::start().await;
    let missing = c.path("does-not-exist");
    let out = c
        .run(&["web", "--kubeconfig", missing.to_str().unwrap()])
        .await;
    out.assert_one_error_line(3, "does-not-exist");
    let mut cmd = ktail_command(c.dir.path());
    cmd.env("KUBECONFIG", &missing).arg("web");
    run(cmd).await.assert_one_error_line(3, "KUBECONFIG");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_server_is_exit_4() {
    let c = Cluster::start().await;
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kc = c.path("dead");
    let user = format!("    token: {}\n", c.sim.token());
    std::fs::write(
        &kc,
        kubeconfig_yaml(&format!("http://127.0.0.1:{port}"), &user, "default"),
    )
    .unwrap();
    let out = c.run(&["web", "--kubeconfig", kc.to_str().unwrap()]).await;
    out.assert_one_error_line(4, &format!("127.0.0.1:{port}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_token_is_exit_5() {
    let c = Cluster::start().await;
    let kc = c.path("bad-token");
    std::fs::write(
        &kc,
        kubeconfig_yaml(&c.sim.url(), "    token: wrong\n", "default"),
    )
    .unwrap();
    let out = c.run(&["web", "--kubeconfig", kc.to_str().unwrap()]).await;
    out.assert_one_error_line(5, "401 Unauthorized");
    assert!(!out.stderr.contains("wrong"), "the token never shows");
}

#[tokio::test(flavor = "multi_thread")]
async fn forbidden_namespace_is_exit_5_alone_and_a_warning_among_others() {
    let c = cluster_with_pod().await;
    c.sim.create_namespace("secret");
    c.sim.forbid_namespace("secret");
    c.run(&["web", "-n", "secret"])
        .await
        .assert_one_error_line(5, "forbidden");
    let out = c.run(&["web", "-n", "secret,default", "--no-follow"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("warning") && out.stderr.contains("secret"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout.lines().count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_flag_values_are_one_line_exit_2() {
    let c = Cluster::start().await;
    for (args, needle) in [
        (
            &["x", "-o", "xml"][..],
            "'xml' for '--output <FORMAT>': use one of default, raw",
        ),
        (
            &["x", "--color", "sometimes"][..],
            "'sometimes' for '--color <WHEN>'",
        ),
        (&["x", "--colr", "never"][..], "did you mean '--color'"),
        (&["x", "--tail", "abc"][..], "'abc' for '--tail <N>'"),
        (&["x", "--since", "soon"][..], "invalid --since 'soon'"),
        (
            &["x", "--since-time", "monday"][..],
            "invalid --since-time 'monday'",
        ),
        (
            &["x", "--timezone", "Mars/Base"][..],
            "unknown --timezone 'Mars/Base'",
        ),
        (
            &["x", "--container-state", "sleepy"][..],
            "invalid --container-state 'sleepy'",
        ),
        (&["-l", "app in (web"][..], "--selector 'app in (web'"),
        (&[][..], "nothing selects pods"),
    ] {
        c.run(args).await.assert_one_error_line(2, needle);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_namespace_is_exit_6() {
    let c = Cluster::start().await;
    c.run(&["web", "-n", "prdo"])
        .await
        .assert_one_error_line(6, "namespace 'prdo' not found");
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_is_verified_unless_the_kubeconfig_says_otherwise() {
    let c = Cluster::start_tls().await;
    logging_pod(&c.sim, "web-1", "app", 3, 0.0, 3).await;
    let user = format!("    token: {}\n", c.sim.token());
    // No CA for the simulator's self-made certificate: the connection is refused.
    let untrusted = c.path("untrusted");
    std::fs::write(&untrusted, kubeconfig_yaml(&c.sim.url(), &user, "default")).unwrap();
    let out = c
        .run(&[
            "web",
            "--no-follow",
            "--kubeconfig",
            untrusted.to_str().unwrap(),
        ])
        .await;
    out.assert_one_error_line(4, "cannot reach the API server");
    assert!(
        out.stderr.to_lowercase().contains("certificate"),
        "{}",
        out.stderr
    );
    // The kubeconfig may say to skip verification, as kubectl allows.
    let insecure = c.path("insecure");
    let yaml = kubeconfig_yaml(&c.sim.url(), &user, "default").replace(
        "    server:",
        "    insecure-skip-tls-verify: true\n    server:",
    );
    std::fs::write(&insecure, yaml).unwrap();
    let out = c
        .run(&[
            "web",
            "--no-follow",
            "--kubeconfig",
            insecure.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 3);
    // …with one line that says the connection is not verified.
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("warning"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(
        warnings[0].contains("insecure-skip-tls-verify"),
        "{warnings:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn impersonation_flags_as_kubectl_has_them() {
    let c = cluster_with_pod().await;
    let out = c
        .run(&[
            "web",
            "--no-follow",
            "--as",
            "alice",
            "--as-group",
            "devs",
            "--as-group",
            "ops",
        ])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 3);
    assert_eq!(
        c.sim.impersonations(),
        [(
            "alice".to_string(),
            vec!["devs".to_string(), "ops".to_string()]
        )]
    );
    // A group without a user is refused, as kubectl refuses it.
    c.run(&["web", "--as-group", "devs"])
        .await
        .assert_one_error_line(2, "--as");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_dies_mid_run_is_named_in_plain_words() {
    let c = Cluster::start_tls().await;
    logging_pod(&c.sim, "web-1", "app", 3, 10.0, 3).await;
    let mut k = c.spawn(&["web"]);
    k.wait_for_seqs("lines", |s| s.values().any(|v| v.len() >= 3))
        .await;
    c.sim.shutdown().await;
    let server = c.sim.url();
    k.wait_until("a warning naming the server", |_, err| {
        err.iter()
            .any(|l| l.contains("warning") && l.contains(&server))
    })
    .await;
    for line in k.warnings() {
        for noise in [
            "docs.rs",
            "ServiceError",
            "client error",
            "os error",
            "hyper",
        ] {
            assert!(!line.contains(noise), "{line}");
        }
        assert!(line.contains("retrying"), "what ktail does next: {line}");
    }
}
