//! Proxies as kubectl uses them: the kubeconfig's `proxy-url` (HTTP CONNECT with
//! credentials, SOCKS5), `HTTPS_PROXY` with `NO_PROXY` exceptions, and a proxy that is
//! down or refuses.
//!
//! The servers are named `kubernetes` (a name in the simulator's certificate that does
//! not resolve here): only a connection through the test proxy, which sends every tunnel
//! to 127.0.0.1, can reach them, so a run that prints its lines proves that every one of
//! its connections went through the proxy.

use std::path::PathBuf;

use kube_sim::Protocol;

use crate::util::proxy::TestProxy;
use crate::util::{Cluster, Output, issue_certificate, ktail_command, logging_pod, openssl, run};

async fn cluster() -> Cluster {
    let c = Cluster::start_tls().await;
    logging_pod(&c.sim, "web-1", "app", 3, 0.0, 3).await;
    c
}

/// The simulator's kubeconfig with the server named `kubernetes`, and `extra` cluster
/// settings (a `proxy-url`).
fn kubeconfig(c: &Cluster, extra: &str) -> PathBuf {
    let url = c.sim.url();
    let named = format!("https://kubernetes:{}", c.sim.addr().port());
    let yaml = c.sim.kubeconfig_in("default").replace(
        &format!("server: {url}"),
        &format!("server: {named}\n{extra}"),
    );
    let path = c.path("proxied-kubeconfig");
    std::fs::write(&path, yaml).unwrap();
    path
}

async fn ktail(c: &Cluster, kc: &PathBuf, env: &[(&str, &str)]) -> Output {
    let mut cmd = ktail_command(c.dir.path());
    cmd.envs(env.iter().copied())
        .args(["web", "--no-follow", "--kubeconfig"])
        .arg(kc);
    run(cmd).await
}

fn assert_all_lines(out: &Output) {
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 3, "{}", out.stdout);
}

/// A run through `proxy` printed every line, and every tunnel asked for the server.
async fn assert_proxied(c: &Cluster, kc: &PathBuf, proxy: &TestProxy) {
    assert_all_lines(&ktail(c, kc, &[]).await);
    assert!(proxy.tunnels() >= 1);
    assert!(
        proxy.hosts().iter().all(|h| h == "kubernetes"),
        "{:?}",
        proxy.hosts()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_url_http_with_credentials_carries_every_connection() {
    let c = cluster().await;
    let proxy = TestProxy::http(Some("ops:p@ss")).await;
    let url = format!("http://ops:p%40ss@{}", proxy.addr);
    let kc = kubeconfig(&c, &format!("    proxy-url: {url}\n"));
    assert_proxied(&c, &kc, &proxy).await;
    // Without the credentials the proxy answers 407: one line that says so, exit 4.
    let kc = kubeconfig(&c, &format!("    proxy-url: {}\n", proxy.url()));
    let out = ktail(&c, &kc, &[]).await;
    out.assert_one_error_line(4, &format!("the proxy http://{}", proxy.addr));
    assert!(
        out.stderr.contains("407 Proxy Authentication Required"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("p@ss") && !out.stderr.contains("p%40ss"));
}

/// A server without HTTP/2: the log reads, which ktail makes over connections of their
/// own (`kube::h1`), go through the proxy as well as the list does.
#[tokio::test(flavor = "multi_thread")]
async fn an_http1_server_behind_a_proxy_gets_its_log_reads_through_it() {
    let c = Cluster::start_tls_http1().await;
    logging_pod(&c.sim, "web-1", "app", 3, 0.0, 3).await;
    let proxy = TestProxy::http(None).await;
    let kc = kubeconfig(&c, &format!("    proxy-url: {}\n", proxy.url()));
    assert_proxied(&c, &kc, &proxy).await;
    let conns = c.sim.connections();
    assert!(
        conns.len() >= 2 && conns.iter().all(|c| c.protocol == Protocol::Http1),
        "the list's connection and the log read's, over HTTP/1.1: {conns:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_url_https_carries_every_connection() {
    // client-go checks an https proxy's certificate with the cluster's TLS settings: the
    // proxy's is signed by the simulator's CA.
    let c = cluster().await;
    let dir = c.path("proxy-tls");
    std::fs::create_dir(&dir).unwrap();
    openssl(
        &dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "proxy.key",
        ],
    );
    issue_certificate(
        &c.sim,
        &dir,
        "proxy.key",
        "/CN=proxy",
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
        "proxy.crt",
    );
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let proxy = TestProxy::https(&read("proxy.crt"), &read("proxy.key")).await;
    let kc = kubeconfig(&c, &format!("    proxy-url: {}\n", proxy.url()));
    assert_proxied(&c, &kc, &proxy).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_url_socks5_carries_every_connection() {
    let c = cluster().await;
    let proxy = TestProxy::socks5().await;
    let kc = kubeconfig(&c, &format!("    proxy-url: {}\n", proxy.url()));
    assert_proxied(&c, &kc, &proxy).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn https_proxy_from_the_environment_with_no_proxy_exceptions() {
    let c = cluster().await;
    let proxy = TestProxy::http(None).await;
    let kc = kubeconfig(&c, "");
    let url = proxy.url();
    // NO_PROXY entries that do not match the server: proxied.
    for var in ["HTTPS_PROXY", "https_proxy"] {
        let before = proxy.tunnels();
        let out = ktail(
            &c,
            &kc,
            &[
                (var, &url),
                ("NO_PROXY", "example.com,10.0.0.0/8,kubernetes:1"),
            ],
        )
        .await;
        assert_all_lines(&out);
        assert!(proxy.tunnels() > before, "{var}");
    }
    // The server is an exception: ktail connects directly, where the name does not
    // resolve, and says which server it could not reach.
    let before = proxy.tunnels();
    for no_proxy in ["kubernetes", "*", ".example.com, KUBERNETES"] {
        let out = ktail(&c, &kc, &[("HTTPS_PROXY", &url), ("no_proxy", no_proxy)]).await;
        out.assert_one_error_line(4, "https://kubernetes:");
    }
    assert_eq!(
        proxy.tunnels(),
        before,
        "NO_PROXY exceptions bypass the proxy"
    );
    // Loopback is never proxied from the environment (Go's rule), but a kubeconfig
    // proxy-url is used for it.
    let out = run({
        let mut cmd = c.ktail(&["web", "--no-follow"]);
        cmd.env("HTTPS_PROXY", &url);
        cmd
    })
    .await;
    assert_all_lines(&out);
    assert_eq!(proxy.tunnels(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_proxy_that_is_down_is_one_line_exit_4() {
    let c = cluster().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let kc = kubeconfig(&c, &format!("    proxy-url: http://127.0.0.1:{port}\n"));
    let down = ktail(&c, &kc, &[]).await;
    down.assert_one_error_line(
        4,
        &format!(
            "the proxy http://127.0.0.1:{port} (from the kubeconfig's proxy-url) cannot be reached"
        ),
    );
    let kc = kubeconfig(&c, "");
    let out = ktail(
        &c,
        &kc,
        &[("HTTPS_PROXY", &format!("socks5://127.0.0.1:{port}"))],
    )
    .await;
    out.assert_one_error_line(
        4,
        &format!("the proxy socks5://127.0.0.1:{port} (from HTTPS_PROXY)"),
    );
    for out in [&down, &out] {
        assert!(
            !out.stderr.contains("docs.rs") && !out.stderr.contains("feature"),
            "{}",
            out.stderr
        );
    }
}
