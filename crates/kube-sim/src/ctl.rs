//! `kube-sim ctl`: make things go wrong in a running simulator from the command line, for
//! demos and for users learning: a container crashes (`--reason OOMKilled --exit-code
//! 137`) and is restarted, a readiness or liveness probe fails, the registry refuses an image, a line
//! is logged. It finds the simulator through a kubeconfig (`--kubeconfig`, `KUBECONFIG`
//! or `~/.kube/config`, the current context or `--context`), as kubectl does, and posts
//! to the simulator's control endpoint. A client only: it must not reach into the
//! simulator's own modules.
//!
//! Exit status: 0 done, 1 the simulator refused (the message says why) or could not be
//! reached, 2 bad usage (from the argument parser).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

/// `kube-sim ctl [--kubeconfig FILE] [--context NAME] [-n NS] ACTION`.
#[derive(Debug, clap::Args)]
pub struct CtlArgs {
    /// The kubeconfig that points at the simulator (default: KUBECONFIG, else
    /// ~/.kube/config).
    #[arg(long, value_name = "FILE", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use (default: the current context).
    #[arg(long, value_name = "NAME", global = true)]
    pub context: Option<String>,
    /// The pod's namespace (default: the context's, else `default`).
    #[arg(short = 'n', long, value_name = "NS", global = true)]
    pub namespace: Option<String>,
    #[command(subcommand)]
    pub action: Action,
}

/// What to make happen.
#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// A container exits and the kubelet restarts it (restartCount + 1, the dead
    /// instance in lastState.terminated).
    Crash {
        pod: String,
        /// The container (default: the pod's first).
        #[arg(short = 'c', long)]
        container: Option<String>,
        /// The reason the kubelet reports: Error, OOMKilled, ...
        #[arg(long, default_value = "Error")]
        reason: String,
        /// The exit code (default: 137 for OOMKilled, else 1).
        #[arg(long)]
        exit_code: Option<i32>,
    },
    /// The container's readiness probe starts failing: it runs, the pod is not Ready.
    ProbeFail {
        pod: String,
        #[arg(short = 'c', long)]
        container: Option<String>,
    },
    /// The container's readiness probe passes again.
    ProbeOk {
        pod: String,
        #[arg(short = 'c', long)]
        container: Option<String>,
    },
    /// The container's liveness probe fails: Unhealthy events, then the kubelet kills
    /// and restarts it (exit 137).
    LivenessFail {
        pod: String,
        #[arg(short = 'c', long)]
        container: Option<String>,
    },
    /// The registry refuses IMAGE: new containers that need it wait in ErrImagePull,
    /// then ImagePullBackOff (try `kubectl set image` to it).
    ImagePullFail { image: String },
    /// The registry serves IMAGE again; waiting containers start.
    ImagePullOk { image: String },
    /// The container writes LINE... to its log.
    Log {
        pod: String,
        #[arg(short = 'c', long)]
        container: Option<String>,
        #[arg(required = true)]
        lines: Vec<String>,
    },
}

/// Where the simulator is and how to talk to it.
struct Target {
    server: String,
    token: String,
    ca_pem: Option<Vec<u8>>,
    namespace: String,
}

/// Runs one action; returns the exit status.
pub async fn run(args: CtlArgs) -> i32 {
    match execute(args).await {
        Ok(message) => {
            println!("{message}");
            0
        }
        Err(e) => {
            eprintln!("kube-sim ctl: {e}");
            1
        }
    }
}

async fn execute(args: CtlArgs) -> Result<String, String> {
    let target = find_target(args.kubeconfig.as_deref(), args.context.as_deref())?;
    let ns = args.namespace.unwrap_or(target.namespace.clone());
    let body = match args.action {
        Action::Crash {
            pod,
            container,
            reason,
            exit_code,
        } => {
            json!({"action": "crash", "pod": pod, "container": container, "reason": reason, "exitCode": exit_code})
        }
        Action::ProbeFail { pod, container } => {
            json!({"action": "probe-fail", "pod": pod, "container": container})
        }
        Action::ProbeOk { pod, container } => {
            json!({"action": "probe-ok", "pod": pod, "container": container})
        }
        Action::LivenessFail { pod, container } => {
            json!({"action": "liveness-fail", "pod": pod, "container": container})
        }
        Action::ImagePullFail { image } => json!({"action": "image-pull-fail", "image": image}),
        Action::ImagePullOk { image } => json!({"action": "image-pull-ok", "image": image}),
        Action::Log {
            pod,
            container,
            lines,
        } => json!({"action": "log", "pod": pod, "container": container, "lines": lines}),
    };
    let mut body = body;
    body["namespace"] = json!(ns);
    let (status, answer) = post(&target, &body).await?;
    let v: Value = serde_json::from_slice(&answer).map_err(|_| {
        format!(
            "{} did not answer like a kube-sim (HTTP {status})",
            target.server
        )
    })?;
    match v["message"].as_str() {
        Some(m) if status == 200 => Ok(m.to_string()),
        Some(m) => Err(m.to_string()),
        None => Err(format!("{} answered HTTP {status}", target.server)),
    }
}

/// The kubeconfig files to read, in order, as kubectl takes them.
fn kubeconfig_files(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    if let Some(list) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        return std::env::split_paths(&list).collect();
    }
    std::env::var_os("HOME")
        .map(|h| vec![PathBuf::from(h).join(".kube").join("config")])
        .unwrap_or_default()
}

fn named<'a>(configs: &'a [Value], list: &str, name: &str) -> Option<&'a Value> {
    configs.iter().find_map(|c| {
        c[list]
            .as_array()?
            .iter()
            .find(|e| e["name"].as_str() == Some(name))
    })
}

fn find_target(explicit: Option<&Path>, context: Option<&str>) -> Result<Target, String> {
    let files = kubeconfig_files(explicit);
    let mut configs = Vec::new();
    for f in &files {
        match std::fs::read_to_string(f) {
            Ok(text) => configs.push(
                serde_saphyr::from_str::<Value>(&text)
                    .map_err(|e| format!("{}: not a kubeconfig: {e}", f.display()))?,
            ),
            Err(e) if explicit.is_some() => return Err(format!("{}: {e}", f.display())),
            Err(_) => {}
        }
    }
    if configs.is_empty() {
        return Err("no kubeconfig: pass --kubeconfig FILE or set KUBECONFIG (kube-sim --kubeconfig FILE writes one)".into());
    }
    let context = match context {
        Some(c) => c.to_string(),
        None => configs
            .iter()
            .find_map(|c| c["current-context"].as_str().filter(|s| !s.is_empty()))
            .ok_or("the kubeconfig has no current context; pass --context NAME")?
            .to_string(),
    };
    let ctx = named(&configs, "contexts", &context)
        .ok_or_else(|| format!("context {context:?} is not in the kubeconfig"))?;
    let ctx = &ctx["context"];
    let cluster_name = ctx["cluster"].as_str().unwrap_or_default();
    let cluster = &named(&configs, "clusters", cluster_name)
        .ok_or_else(|| format!("cluster {cluster_name:?} is not in the kubeconfig"))?["cluster"];
    let user_name = ctx["user"].as_str().unwrap_or_default();
    let user = named(&configs, "users", user_name).map(|u| &u["user"]);
    let token = user
        .and_then(|u| u["token"].as_str())
        .ok_or_else(|| format!("user {user_name:?} has no token in the kubeconfig"))?;
    let ca_pem = match (
        cluster["certificate-authority-data"].as_str(),
        cluster["certificate-authority"].as_str(),
    ) {
        (Some(data), _) => Some(
            base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| format!("certificate-authority-data: {e}"))?,
        ),
        (None, Some(path)) => {
            Some(std::fs::read(path).map_err(|e| format!("certificate-authority {path}: {e}"))?)
        }
        (None, None) => None,
    };
    Ok(Target {
        server: cluster["server"]
            .as_str()
            .ok_or_else(|| format!("cluster {cluster_name:?} has no server"))?
            .trim_end_matches('/')
            .to_string(),
        token: token.to_string(),
        ca_pem,
        namespace: ctx["namespace"].as_str().unwrap_or("default").to_string(),
    })
}

/// Posts `body` to the control endpoint; the HTTP status and the answer's body.
async fn post(target: &Target, body: &Value) -> Result<(u16, Bytes), String> {
    let unreachable = |e: &dyn std::fmt::Display| format!("cannot reach {}: {e}", target.server);
    let (tls, rest) = match target.server.split_once("://") {
        Some(("https", rest)) => (true, rest),
        Some(("http", rest)) => (false, rest),
        _ => return Err(format!("unsupported server URL {}", target.server)),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    let port = if authority.contains(':') {
        ""
    } else if tls {
        ":443"
    } else {
        ":80"
    };
    let tcp = tokio::net::TcpStream::connect(format!("{authority}{port}"))
        .await
        .map_err(|e| unreachable(&e))?;
    let req = hyper::Request::post("/kube-sim/ctl")
        .header(hyper::header::HOST, authority)
        .header(
            hyper::header::AUTHORIZATION,
            format!("Bearer {}", target.token),
        )
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| e.to_string())?;
    let resp = if tls {
        let config = client_tls(target.ca_pem.as_deref())?;
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                .map_err(|e| format!("server name {host}: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| unreachable(&e))?;
        send(TokioIo::new(stream), req).await
    } else {
        send(TokioIo::new(tcp), req).await
    }
    .map_err(|e| unreachable(&e))?;
    Ok(resp)
}

async fn send<I>(io: I, req: hyper::Request<Full<Bytes>>) -> Result<(u16, Bytes), hyper::Error>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(conn);
    let resp = sender.send_request(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// A TLS client that trusts the kubeconfig's CA (the simulator's), with the ring provider
/// the server uses too.
fn client_tls(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let ca = ca_pem.ok_or("the kubeconfig has no certificate-authority for this https server")?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca) {
        let cert = cert.map_err(|e| format!("certificate-authority: {e}"))?;
        roots
            .add(cert)
            .map_err(|e| format!("certificate-authority: {e}"))?;
    }
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}
