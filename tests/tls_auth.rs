//! TLS and authentication as kubectl has them, against a simulator that checks them:
//! client certificates with every kind of key kind, minikube and kubeadm write,
//! `tls-server-name`, file paths relative to the kubeconfig.

use std::path::Path;

use kube_sim::SimOptions;

use crate::util::{Cluster, Output, issue_certificate, ktail_command, logging_pod, openssl, run};

/// A simulator that refuses TLS handshakes without a client certificate of its CA.
async fn strict_cluster() -> Cluster {
    let c = Cluster::start_with(SimOptions {
        tls: true,
        require_client_certs: true,
        ..Default::default()
    })
    .await;
    logging_pod(&c.sim, "web-1", "app", 3, 0.0, 3).await;
    c
}

/// Writes `ca.crt`, and `NAME.key` (RSA or EC; PKCS#1/SEC1 when `traditional`, else
/// PKCS#8) with `NAME.crt` for user `alice` in group `devs`, signed by the simulator's CA,
/// into `dir`.
fn client_identity(c: &Cluster, dir: &Path, name: &str, algorithm: &str, traditional: bool) {
    let pkcs8 = format!("{name}.pkcs8");
    let key = format!("{name}.key");
    let opt = if algorithm == "RSA" {
        "rsa_keygen_bits:2048"
    } else {
        "ec_paramgen_curve:P-256"
    };
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            algorithm,
            "-pkeyopt",
            opt,
            "-out",
            &pkcs8,
        ],
    );
    if traditional {
        // PKCS#1 for RSA, SEC1 for EC.
        openssl(dir, &["pkey", "-in", &pkcs8, "-traditional", "-out", &key]);
    } else {
        std::fs::copy(dir.join(&pkcs8), dir.join(&key)).unwrap();
    }
    issue_certificate(
        &c.sim,
        dir,
        &pkcs8,
        "/CN=alice/O=devs",
        "extendedKeyUsage=clientAuth\n",
        &format!("{name}.crt"),
    );
}

/// A kubeconfig in `dir` naming its CA and the client identity `name` by relative path.
fn kubeconfig(c: &Cluster, dir: &Path, name: &str, cluster_extra: &str) -> std::path::PathBuf {
    let yaml = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: sim\nclusters:\n- name: sim\n  cluster:\n    server: {}\n    certificate-authority: ca.crt\n{cluster_extra}contexts:\n- name: sim\n  context:\n    cluster: sim\n    user: alice\n    namespace: default\nusers:\n- name: alice\n  user:\n    client-certificate: {name}.crt\n    client-key: {name}.key\n",
        c.sim.url()
    );
    let path = dir.join("kubeconfig");
    std::fs::write(&path, yaml).unwrap();
    path
}

async fn ktail(c: &Cluster, kc: &Path) -> Output {
    let mut cmd = ktail_command(c.dir.path());
    cmd.args(["web", "--no-follow", "--kubeconfig"]).arg(kc);
    run(cmd).await
}

#[tokio::test(flavor = "multi_thread")]
async fn client_certificates_of_every_key_format() {
    let c = strict_cluster().await;
    let dir = c.path("identity");
    std::fs::create_dir(&dir).unwrap();
    for (name, algorithm, traditional) in [
        ("rsa-pkcs1", "RSA", true),
        ("rsa-pkcs8", "RSA", false),
        ("ec-sec1", "EC", true),
        ("ec-pkcs8", "EC", false),
    ] {
        client_identity(&c, &dir, name, algorithm, traditional);
        let header = std::fs::read_to_string(dir.join(format!("{name}.key"))).unwrap();
        let want = match (algorithm, traditional) {
            ("RSA", true) => "BEGIN RSA PRIVATE KEY",
            ("EC", true) => "BEGIN EC PRIVATE KEY",
            _ => "BEGIN PRIVATE KEY",
        };
        assert!(header.contains(want), "{name}: {header}");
        let before = c.sim.client_cert_requests();
        // The kubeconfig names its files relative to itself, and ktail runs elsewhere.
        let out = ktail(&c, &kubeconfig(&c, &dir, name, "")).await;
        assert_eq!(out.code, Some(0), "{name}: {}", out.stderr);
        assert_eq!(out.stdout.lines().count(), 3, "{name}");
        assert!(c.sim.client_cert_requests() > before, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_client_certificate_the_handshake_is_refused() {
    let c = strict_cluster().await;
    let out = c.run(&["web", "--no-follow"]).await;
    out.assert_one_error_line(4, "TLS failure");
    assert!(out.stderr.contains("client certificate"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_server_name_is_what_the_certificate_is_checked_against() {
    let c = strict_cluster().await;
    let dir = c.path("identity");
    std::fs::create_dir(&dir).unwrap();
    client_identity(&c, &dir, "ec", "EC", true);
    // The certificate names kubernetes.default, not 127.0.0.1's other names.
    let kc = kubeconfig(&c, &dir, "ec", "    tls-server-name: kubernetes.default\n");
    let out = ktail(&c, &kc).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 3);
    let kc = kubeconfig(&c, &dir, "ec", "    tls-server-name: api.example.com\n");
    ktail(&c, &kc)
        .await
        .assert_one_error_line(4, "not valid for this host name");
}
