//! Credentials that change while ktail follows: an exec plugin's token and a token file
//! rotated by the cluster mid-run, and credentials that stay refused.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use kube_sim::{ContainerSpec, PodSpec, StreamEnd};

use crate::util::{Cluster, Running, assert_nothing_lost, ground_truth, ktail_command};

/// An executable plugin `name` running `script`, and the kubeconfig user that runs it.
fn plugin(c: &Cluster, name: &str, script: &str) -> String {
    let path = c.path(name);
    std::fs::write(&path, format!("#!/bin/sh\n{script}")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      interactiveMode: Never\n",
        path.display()
    )
}

/// An exec plugin that prints the token in `token_file` (with `expiry` when given), the
/// way a cloud or OIDC plugin prints whatever its login currently holds.
fn exec_plugin(c: &Cluster, token_file: &Path, expiry: Option<&str>) -> String {
    let expiry = expiry
        .map(|e| format!(",\"expirationTimestamp\":\"{e}\""))
        .unwrap_or_default();
    plugin(
        c,
        "credential-plugin",
        &format!(
            "printf '{{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"%s\"{expiry}}}}}\\n' \"$(cat {})\"\n",
            token_file.display()
        ),
    )
}

/// The simulator's kubeconfig (its CA too, when it serves https) with `user` instead of
/// its token.
fn write_kubeconfig(c: &Cluster, user: &str) -> PathBuf {
    let kc = c.path("rotating-kubeconfig");
    let token = format!("    token: {}\n", c.sim.token());
    let yaml = c.sim.kubeconfig_in("default");
    assert!(yaml.contains(&token), "{yaml}");
    std::fs::write(&kc, yaml.replace(&token, user)).unwrap();
    kc
}

fn follow(c: &Cluster, kubeconfig: &Path) -> Running {
    let mut cmd = ktail_command(c.dir.path());
    cmd.arg("web").arg("--kubeconfig").arg(kubeconfig);
    Running::spawn(cmd)
}

fn logging(name: &str) -> PodSpec {
    PodSpec::new(name).container(ContainerSpec::new("app").rate(20.0))
}

/// The cluster revokes the token and issues `next` (which the plugin or file now gives);
/// every stream and watch must open again, with the new token.
async fn rotate(c: &Cluster, token_file: &Path, next: &str) {
    std::fs::write(token_file, next).unwrap();
    c.sim.rotate_token(next);
    c.sim.end_log_streams(StreamEnd::Reset);
    c.sim.expire_watches();
}

/// Two rotations mid-run, a pod created after the first: every line of every pod once,
/// and no warning (a renewed credential is no news to the user).
async fn survives_two_rotations(c: &Cluster, token_file: &Path, kubeconfig: &Path) {
    c.sim.create_pod("default", logging("web-1"));
    let mut k = follow(c, kubeconfig);
    k.wait_for_seqs("web-1 followed", |s| s.values().any(|v| v.len() >= 5))
        .await;
    rotate(c, token_file, "second-token").await;
    c.sim.create_pod("default", logging("web-2"));
    k.wait_for_seqs("web-2 followed after the rotation", |s| {
        s.keys().any(|(p, _)| p == "web-2")
    })
    .await;
    rotate(c, token_file, "third-token").await;
    let have = k.stdout().len();
    k.wait_until("lines after the second rotation", |out, _| {
        out.len() >= have + 20
    })
    .await;
    let truth = ground_truth(
        &c.sim,
        "default",
        &["web-1".to_string(), "web-2".to_string()],
        &["app"],
    );
    assert_nothing_lost(&mut k, &truth).await;
    assert!(k.warnings().is_empty(), "{:?}", k.stderr());
}

/// An exec plugin (its token with `expiry`) through two rotations.
async fn exec_plugin_survives_two_rotations(expiry: Option<&str>) {
    let c = Cluster::start().await;
    let token_file = c.path("plugin-token");
    std::fs::write(&token_file, c.sim.token()).unwrap();
    let user = exec_plugin(&c, &token_file, expiry);
    let kc = write_kubeconfig(&c, &user);
    survives_two_rotations(&c, &token_file, &kc).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_token_without_expiry_is_renewed_on_401() {
    exec_plugin_survives_two_rotations(None).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_token_revoked_before_its_expiry_is_renewed_on_401() {
    exec_plugin_survives_two_rotations(Some("2099-01-01T00:00:00Z")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_file_rewritten_mid_run_is_read_again() {
    // As the kubelet rewrites a projected service-account token in a pod.
    let c = Cluster::start_tls().await;
    let token_file = c.path("token");
    std::fs::write(&token_file, format!("{}\n", c.sim.token())).unwrap();
    let kc = c.path("rotating-kubeconfig");
    let yaml = std::fs::read_to_string(&c.kubeconfig)
        .unwrap()
        .replace(&format!("token: {}", c.sim.token()), "tokenFile: token");
    assert!(yaml.contains("tokenFile: token"), "{yaml}");
    std::fs::write(&kc, yaml).unwrap();
    survives_two_rotations(&c, &token_file, &kc).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn credentials_refused_for_good_end_a_follow_run_with_exit_5() {
    let c = Cluster::start().await;
    let token_file = c.path("plugin-token");
    std::fs::write(&token_file, c.sim.token()).unwrap();
    let user = exec_plugin(&c, &token_file, None);
    let kc = write_kubeconfig(&c, &user);
    c.sim.create_pod("default", logging("web-1"));
    let mut k = follow(&c, &kc);
    k.wait_for_seqs("web-1 followed", |s| s.values().any(|v| v.len() >= 3))
        .await;
    // Revoked, and the plugin keeps giving the revoked token (an expired login).
    c.sim.rotate_token("a-token-ktail-never-gets");
    c.sim.end_log_streams(StreamEnd::Reset);
    c.sim.expire_watches();
    k.wait_until("a warning that says what to do", |_, err| {
        err.iter()
            .any(|l| l.contains("warning") && l.contains("log in again"))
    })
    .await;
    assert_eq!(k.exit_code().await, Some(5), "{:?}", k.stderr());
    let last = k.stderr().last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("ktail: ")
            && last.contains("keeps refusing")
            && last.contains("credential plugin"),
        "{last}"
    );
    assert!(!k.stderr().iter().any(|l| l.contains(&c.sim.token())));
    let printed = k
        .seqs()
        .get(&("web-1".into(), "app".into()))
        .cloned()
        .unwrap_or_default();
    assert!(!printed.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_plugin_is_one_line_exit_3() {
    let c = Cluster::start_tls().await;
    let user = plugin(
        &c,
        "broken-plugin",
        "echo 'error: your session expired, run: cloud login' >&2\nexit 1\n",
    );
    let kc = write_kubeconfig(&c, &user);
    let mut cmd = ktail_command(c.dir.path());
    cmd.arg("web").arg("--kubeconfig").arg(&kc);
    crate::util::run(cmd)
        .await
        .assert_one_error_line(3, "run: cloud login");
    // A plugin that is not installed names itself.
    let missing = user.replace(
        c.path("broken-plugin").to_str().unwrap(),
        "/nonexistent/kubelogin",
    );
    let yaml = std::fs::read_to_string(&kc)
        .unwrap()
        .replace(&user, &missing);
    std::fs::write(&kc, yaml).unwrap();
    let mut cmd = ktail_command(c.dir.path());
    cmd.arg("web").arg("--kubeconfig").arg(&kc);
    crate::util::run(cmd).await.assert_one_error_line(
        3,
        "cannot run the credential plugin '/nonexistent/kubelogin'",
    );
}
