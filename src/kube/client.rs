//! Cluster access exactly as kubectl resolves it, through kube-rs.
//!
//! `KUBECONFIG` (several files merged, missing ones skipped as kubectl does) or
//! `--kubeconfig` or `~/.kube/config`; the current context or `--context`; the context's
//! namespace as the default; exec credential plugins, tokens and client certificates;
//! in-cluster config when no kubeconfig exists. This module also turns kube-rs errors into
//! ktail's one-line messages and exit codes.

use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};

use crate::error::{Error, Result};
use crate::kube::{auth, failure, h1, h2, proxy};

/// Which clusters to reach, as the user and the environment said it: everything
/// `connect` reads, so that it reads nothing from the process itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct KubeSource {
    /// `--kubeconfig`.
    pub(crate) kubeconfig: Option<PathBuf>,
    /// `$KUBECONFIG`: a list of files, merged as kubectl merges them.
    pub(crate) kubeconfig_env: Option<String>,
    /// `$HOME`, for `~/.kube/config`.
    pub(crate) home: Option<PathBuf>,
    /// `--context`, each once; empty: the current context.
    pub(crate) contexts: Vec<String>,
    /// `--context-regex`: every context whose name matches.
    pub(crate) context_regex: Option<regex::Regex>,
    /// `--as`: the user to impersonate.
    pub(crate) impersonate: Option<String>,
    /// `--as-group`: groups to impersonate, with `--as`.
    pub(crate) impersonate_groups: Vec<String>,
}

/// A connected client and what the kubeconfig said about it.
#[derive(Clone)]
pub struct Cluster {
    pub(crate) client: kube::Client,
    /// The context's namespace, or "default".
    pub(crate) default_namespace: String,
    /// The API server URL, for messages.
    pub(crate) server: String,
    /// The context used, for messages ("in-cluster" without a kubeconfig).
    pub(crate) context: String,
    /// What the user should hear about this connection before anything else (an
    /// unverified TLS certificate).
    pub(crate) warnings: Vec<String>,
}

impl Cluster {
    /// A cluster reached through `client`, e.g. a test's client to a simulated API
    /// server; `server` and `context` name it in messages.
    pub fn new(
        client: kube::Client,
        default_namespace: &str,
        server: &str,
        context: &str,
    ) -> Cluster {
        Cluster {
            client,
            default_namespace: default_namespace.to_string(),
            server: server.to_string(),
            context: context.to_string(),
            warnings: Vec::new(),
        }
    }
}

/// Builds a client for every context the user chose (one, unless `--context` named
/// several or `--context-regex` matched several), in the order given, or the
/// kubeconfig's order for a regex. No request is sent. A context whose client cannot be
/// built is an `Err` in its place: with several, the others can still run.
pub(crate) async fn connect(src: &KubeSource) -> Result<Vec<Result<Cluster>>> {
    let (kubeconfig, source) = load_kubeconfig(src)?;
    let Some(kc) = kubeconfig else {
        let config = kube::Config::incluster().map_err(|_| {
            Error::Kubeconfig(
                "no kubeconfig found: set KUBECONFIG, pass --kubeconfig FILE, or create ~/.kube/config".into(),
            )
        })?;
        return Ok(vec![cluster(config, "in-cluster".to_string(), src)]);
    };
    let known: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
    let known_list = || match known.is_empty() {
        true => "none".to_string(),
        false => known.join(", "),
    };
    let chosen: Vec<Option<String>> = if let Some(re) = &src.context_regex {
        let matching: Vec<Option<String>> = known
            .iter()
            .filter(|name| re.is_match(name))
            .map(|name| Some(name.to_string()))
            .collect();
        if matching.is_empty() {
            return Err(Error::Kubeconfig(format!(
                "--context-regex '{re}' matches no context in {source}; known contexts: {}",
                known_list()
            )));
        }
        matching
    } else if src.contexts.is_empty() {
        vec![None]
    } else {
        for wanted in &src.contexts {
            if !known.contains(&wanted.as_str()) {
                return Err(Error::Kubeconfig(format!(
                    "context '{wanted}' not found in {source}; known contexts: {}",
                    known_list()
                )));
            }
        }
        src.contexts.iter().cloned().map(Some).collect()
    };
    let mut clusters = Vec::with_capacity(chosen.len());
    for context in chosen {
        let name = context
            .clone()
            .or_else(|| kc.current_context.clone())
            .unwrap_or_default();
        let opts = KubeConfigOptions {
            context,
            ..Default::default()
        };
        clusters.push(
            match kube::Config::from_custom_kubeconfig(kc.clone(), &opts).await {
                Ok(config) => cluster(config, name, src),
                Err(e) => Err(kubeconfig_error(&e, &source)),
            },
        );
    }
    Ok(clusters)
}

/// The names of the kubeconfig's contexts, in its order; reads files only.
pub(crate) fn context_names(src: &KubeSource) -> Result<Vec<String>> {
    let (kubeconfig, _) = load_kubeconfig(src)?;
    Ok(kubeconfig
        .map(|kc| kc.contexts.into_iter().map(|c| c.name).collect())
        .unwrap_or_default())
}

fn cluster(config: kube::Config, context: String, src: &KubeSource) -> Result<Cluster> {
    let server = config.cluster_url.to_string();
    let default_namespace = config.default_namespace.clone();
    let warnings = connection_warnings(&config, &context);
    let client = build_client(config, src).map_err(|e| {
        Error::Kubeconfig(format!(
            "cannot build a client for context '{context}': {}",
            describe_error(&e)
        ))
    })?;
    Ok(Cluster {
        client,
        default_namespace,
        server: server.trim_end_matches('/').to_string(),
        context,
        warnings,
    })
}

/// Reads the kubeconfig: `--kubeconfig`, else the `KUBECONFIG` list, else the default
/// path. `Ok(None)` means none exists (the caller may try in-cluster config).
fn load_kubeconfig(src: &KubeSource) -> Result<(Option<Kubeconfig>, String)> {
    if let Some(path) = src.kubeconfig.as_deref() {
        if !path.exists() {
            return Err(Error::Kubeconfig(format!(
                "kubeconfig '{}' does not exist: check --kubeconfig",
                path.display()
            )));
        }
        let source = format!("kubeconfig '{}'", path.display());
        let kc = Kubeconfig::read_from(path).map_err(|e| kubeconfig_error(&e, &source))?;
        return Ok((Some(kc), source));
    }
    if let Some(list) = src.kubeconfig_env.as_deref().filter(|v| !v.is_empty()) {
        // kubectl skips files of the list that do not exist and merges the rest in order,
        // the first file to set a value winning.
        let paths: Vec<PathBuf> = std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty() && p.exists())
            .collect();
        if paths.is_empty() {
            return Err(Error::Kubeconfig(format!(
                "no file listed in KUBECONFIG exists ({list}): fix KUBECONFIG or pass --kubeconfig"
            )));
        }
        let mut merged = Kubeconfig::default();
        for p in &paths {
            let source = format!("kubeconfig '{}' (from KUBECONFIG)", p.display());
            let kc = Kubeconfig::read_from(p).map_err(|e| kubeconfig_error(&e, &source))?;
            merged = merged
                .merge(kc)
                .map_err(|e| kubeconfig_error(&e, "KUBECONFIG"))?;
        }
        return Ok((Some(merged), "the KUBECONFIG files".to_string()));
    }
    let Some(home) = src.home.as_deref() else {
        return Ok((None, String::new()));
    };
    let path = home.join(".kube").join("config");
    if !path.exists() {
        return Ok((None, String::new()));
    }
    let source = format!("kubeconfig '{}'", path.display());
    let kc = Kubeconfig::read_from(&path).map_err(|e| kubeconfig_error(&e, &source))?;
    Ok((Some(kc), source))
}

fn kubeconfig_error(e: &KubeconfigError, source: &str) -> Error {
    let what = match e {
        KubeconfigError::CurrentContextNotSet => {
            "it sets no current-context: pass --context NAME".to_string()
        }
        KubeconfigError::LoadContext(name) => format!("context '{name}' is not defined in it"),
        KubeconfigError::LoadClusterOfContext(name) => {
            format!("the cluster '{name}' of the context is not defined in it")
        }
        KubeconfigError::ReadConfig(err, path) => {
            format!("cannot read '{}': {err}", path.display())
        }
        KubeconfigError::Parse(err) => {
            format!(
                "it is not valid kubeconfig YAML: {}",
                first_line(&err.to_string())
            )
        }
        other => first_line(&other.to_string()),
    };
    Error::Kubeconfig(format!("cannot use {source}: {what}"))
}

/// One line describing a kube-rs error, without the source chain's debug noise.
pub(crate) fn describe_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if s.code == 401 => format!(
            "the API server refuses ktail's credentials (401 {}; renewed where they can be): log in again or fix the kubeconfig user; ktail keeps retrying for a while",
            s.reason
        ),
        kube::Error::Api(s) => format!("{} ({} {})", s.message, s.code, s.reason),
        other => {
            // ktail's own errors already say everything, with what they concern.
            let mut src: Option<&(dyn std::error::Error + 'static)> = Some(other);
            while let Some(s) = src {
                if s.is::<failure::Unreachable>()
                    || s.is::<failure::ProxyError>()
                    || s.is::<auth::CredentialError>()
                    || s.is::<proxy::BadProxy>()
                {
                    return first_line(&s.to_string());
                }
                src = s.source();
            }
            crate::kube::failure::describe(other)
        }
    }
}

/// Turns a failed API call made at start-up into the run's error and exit code.
pub(crate) fn startup_error(cluster: &Cluster, e: &kube::Error, what: &str) -> Error {
    match e {
        kube::Error::Api(s) if s.code == 401 => Error::Denied(format!(
            "the API server at {} rejected the credentials of context '{}' (401 Unauthorized): refresh or fix the user in your kubeconfig",
            cluster.server, cluster.context
        )),
        kube::Error::Api(s) if s.code == 403 => {
            Error::Denied(format!("{what}: {} (403 Forbidden)", s.message))
        }
        kube::Error::Api(s) if s.code == 400 => Error::Usage(format!("{what}: {}", s.message)),
        kube::Error::Api(s) if s.code == 404 => Error::NotFound(format!("{what}: {}", s.message)),
        kube::Error::Api(s) => {
            Error::Other(format!("{what}: {} ({} {})", s.message, s.code, s.reason))
        }
        kube::Error::Auth(err) => Error::Kubeconfig(format!(
            "cannot get credentials for context '{}': {}",
            cluster.context,
            first_line(&err.to_string())
        )),
        kube::Error::Service(err) if err.downcast_ref::<auth::CredentialError>().is_some() => {
            Error::Kubeconfig(format!(
                "cannot get credentials for context '{}': {}",
                cluster.context,
                first_line(&err.to_string())
            ))
        }
        other => Error::Unreachable(format!(
            "cannot reach the API server at {} (context '{}'): {}",
            cluster.server,
            cluster.context,
            match failure::unreachable_in(other) {
                Some(u) => u.why.clone(),
                None => describe_error(other),
            }
        )),
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

/// Warnings about how `config` connects: kubectl says nothing of
/// `insecure-skip-tls-verify`, but a user who copied it from a tutorial should know.
fn connection_warnings(config: &kube::Config, context: &str) -> Vec<String> {
    let mut warnings = Vec::new();
    if config.accept_invalid_certs && config.cluster_url.scheme_str() == Some("https") {
        warnings.push(format!(
            "the API server's TLS certificate is not verified (insecure-skip-tls-verify in context '{context}'): anyone on the network path can read and change what ktail receives; set certificate-authority instead"
        ));
    }
    warnings
}

/// kube's default client, built here so that hyper's read buffer can be bounded: the same
/// connector (rustls, the kubeconfig's timeouts), base URI, retry and extra headers
/// (impersonation, with `--as`/`--as-group` from `src`) as `kube::Client::try_from`,
/// without its tracing layer; with ktail's credential layer (`auth`), proxies (`proxy`),
/// HTTP/2 (`h2`) and transport errors that name the server (`failure`).
fn build_client(mut config: kube::Config, src: &KubeSource) -> kube::Result<kube::Client> {
    use hyper_util::client::legacy::connect::HttpConnector;
    use kube::client::ConfigExt;
    // --as and --as-group replace the kubeconfig user's impersonation, as in kubectl.
    if let Some(user) = &src.impersonate {
        config.auth_info.impersonate = Some(user.clone());
        config.auth_info.impersonate_groups =
            (!src.impersonate_groups.is_empty()).then(|| src.impersonate_groups.clone());
    }
    let proxy = proxy::for_config(&config)?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let dial = proxy::dial(http, proxy.as_ref(), |h| {
        config.rustls_https_connector_with_connector(h)
    })?;
    let tls = config.rustls_client_config()?;
    let h2_dial = h2::tls_dial(&config, tls.clone(), dial.clone())?;
    let https = h2::http1_connector(&config, tls, dial)?;
    let mut connector = hyper_timeout::TimeoutConnector::new(https);
    connector.set_connect_timeout(config.connect_timeout);
    connector.set_read_timeout(config.read_timeout);
    connector.set_write_timeout(config.write_timeout);
    connector.set_reset_reader_on_write(config.reset_reader_on_write);
    let logs = h1::Logs::new(h1::dial(connector.clone()));
    let http_client =
        hyper_util::client::legacy::Builder::new(hyper_util::rt::TokioExecutor::new())
            .http1_max_buf_size(h1::READ_BUFFER_MAX)
            .build(connector);
    let retry = config
        .default_retry
        .then(|| tower::retry::RetryLayer::new(kube::client::retry::RetryPolicy::server_retry()));
    // Tokens that can be fetched again (exec plugins, token files) are ktail's own, renewed
    // on a 401 (`auth`); the rest stay kube's. Either way `auth` counts refusals.
    let refreshable = auth::Refreshable::of(&config.auth_info);
    let kube_auth = match refreshable {
        Some(_) => None,
        None => config.auth_layer()?,
    };
    let refresh = auth::RefreshLayer::new(refreshable, &config.cluster_url.to_string());
    let service = tower::ServiceBuilder::new()
        .layer(config.base_uri_layer())
        .option_layer(retry)
        .option_layer(kube_auth)
        .layer(refresh)
        .layer(config.extra_headers_layer()?)
        .map_err(failure::naming(&config.cluster_url.to_string()))
        .service(h2::Transport::new(http_client, h2_dial, Some(logs)));
    Ok(kube::Client::new(service, config.default_namespace))
}
