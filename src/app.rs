//! The run: connect, check access, discover targets, start and stop tails, and decide
//! the exit code.
//!
//! Follow mode keeps one watch per namespace scope and one task per container instance;
//! `--no-follow` lists once and reads every selected container to its current end. Both
//! end early, with exit 0, when the reader of stdout goes away, and with 130/143 on
//! SIGINT/SIGTERM after the lines already received are written.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use kube::runtime::watcher;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::cluster::{self, Cluster};
use crate::config::{Config, NamespaceScope};
use crate::discovery::{self, TargetEvent};
use crate::error::{Error, Result, exit};
use crate::format::Formatter;
use crate::output::{self, Out, WriterEnd};
use crate::tail::{self, TailContext, TailEnd, TailJob};
use crate::target::{self, TargetKey};

/// How long the tails get after SIGINT/SIGTERM to hand over what they hold.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Runs ktail with a resolved config; returns the exit code.
pub async fn run(cfg: Config, env_kubeconfig: Option<String>) -> Result<u8> {
    let cluster = cluster::connect(&cfg, env_kubeconfig.as_deref()).await?;
    let scopes = scopes(&cfg, &cluster);
    let show_namespace = match &cfg.namespaces {
        NamespaceScope::All => true,
        NamespaceScope::Listed(list) => list.len() > 1,
        NamespaceScope::ContextDefault => false,
    };
    let formatter = Formatter {
        mode: cfg.output,
        timestamps: cfg.timestamps,
        color: cfg.color,
        color_stderr: cfg.color_stderr,
        show_namespace,
    };

    let (out, mut closed, writer) = output::spawn(cfg.color_stderr);
    let scopes = preflight(&cfg, &cluster, scopes, &out).await?;

    let ctx = Arc::new(TailContext {
        client: cluster.client.clone(),
        out: out.clone(),
        slots: Arc::new(Semaphore::new(cfg.max_log_requests)),
        max_log_requests: cfg.max_log_requests,
        queue_noticed: AtomicBool::new(false),
        filter: cfg.filter.clone(),
        follow: cfg.follow,
        since: cfg.since,
        tail: cfg.tail,
        notices: cfg.notices,
    });

    let signals = Signals::new();
    let outcome = tokio::select! {
        r = drive(&cfg, &cluster, scopes, ctx, formatter, signals) => r,
        _ = &mut closed => Ok(Outcome::StdoutClosed),
    };
    drop(out);
    let code = match outcome? {
        Outcome::StdoutClosed => return Ok(exit::OK),
        Outcome::Done { failed } => {
            if failed {
                exit::STREAM_FAILED
            } else {
                exit::OK
            }
        }
        Outcome::Signal(code) => code,
    };
    // Every tail is done: the writer drains the channel and stops.
    match tokio::task::spawn_blocking(move || writer.join()).await {
        Ok(Ok(WriterEnd::Failed(e))) => Err(Error::Output(e)),
        _ => Ok(code),
    }
}

enum Outcome {
    StdoutClosed,
    Done { failed: bool },
    Signal(u8),
}

/// One API scope: a namespace, or the whole cluster.
#[derive(Debug, Clone)]
struct Scope {
    namespace: Option<String>,
}

impl Scope {
    fn api(&self, client: &kube::Client) -> Api<Pod> {
        match &self.namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }

    fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("namespace '{ns}'"),
            None => "all namespaces".to_string(),
        }
    }
}

fn scopes(cfg: &Config, cluster: &Cluster) -> Vec<Scope> {
    match &cfg.namespaces {
        NamespaceScope::All => vec![Scope { namespace: None }],
        NamespaceScope::ContextDefault => {
            vec![Scope {
                namespace: Some(cluster.default_namespace.clone()),
            }]
        }
        NamespaceScope::Listed(list) => list
            .iter()
            .map(|ns| Scope {
                namespace: Some(ns.clone()),
            })
            .collect(),
    }
}

fn list_params(cfg: &Config) -> ListParams {
    let mut lp = ListParams::default();
    if let Some(l) = &cfg.label_selector {
        lp = lp.labels(l);
    }
    if let Some(f) = &cfg.field_selector {
        lp = lp.fields(f);
    }
    lp
}

/// One cheap list per scope before anything streams, so that bad credentials, an
/// unreachable server or an invalid selector end the run with one clear line. A scope
/// that is forbidden while others are allowed is a warning, and the others continue.
async fn preflight(
    cfg: &Config,
    cluster: &Cluster,
    scopes: Vec<Scope>,
    out: &output::OutTx,
) -> Result<Vec<Scope>> {
    let lp = list_params(cfg).limit(1);
    let mut allowed = Vec::new();
    let mut denied = None;
    for scope in scopes {
        match scope.api(&cluster.client).list(&lp).await {
            Ok(_) => allowed.push(scope),
            Err(e @ kube::Error::Api(_)) if is_forbidden(&e) => {
                let err = cluster::startup_error(
                    cluster,
                    &e,
                    &format!("cannot list pods in {}", scope.label()),
                );
                let _ = out.send(Out::Warning(format!("{err}; skipping it"))).await;
                denied = Some(err);
            }
            Err(e) => {
                let what = match &e {
                    kube::Error::Api(s) if s.code == 400 => selector_context(cfg),
                    _ => format!("cannot list pods in {}", scope.label()),
                };
                return Err(cluster::startup_error(cluster, &e, &what));
            }
        }
    }
    match (allowed.is_empty(), denied) {
        (true, Some(err)) => Err(err),
        _ => Ok(allowed),
    }
}

fn is_forbidden(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 403)
}

fn selector_context(cfg: &Config) -> String {
    let mut parts = Vec::new();
    if let Some(l) = &cfg.label_selector {
        parts.push(format!("--selector '{l}'"));
    }
    if let Some(f) = &cfg.field_selector {
        parts.push(format!("--field-selector '{f}'"));
    }
    format!("the API server refused {}", parts.join(" with "))
}

async fn drive(
    cfg: &Config,
    cluster: &Cluster,
    scopes: Vec<Scope>,
    ctx: Arc<TailContext>,
    formatter: Formatter,
    mut signals: Signals,
) -> Result<Outcome> {
    let mut tails: JoinSet<(TargetKey, TailEnd)> = JoinSet::new();
    let mut failed = false;

    if !cfg.follow {
        let lp = list_params(cfg);
        for scope in &scopes {
            let pods = tokio::select! {
                r = list_all(scope.api(&cluster.client), &lp) => r,
                code = signals.recv() => return Ok(Outcome::Signal(code)),
            };
            let pods = pods.map_err(|e| {
                cluster::startup_error(
                    cluster,
                    &e,
                    &format!("cannot list pods in {}", scope.label()),
                )
            })?;
            for pod in &pods {
                for target in target::select(pod, &cfg.selection, true) {
                    let (_tx, removed) = watch::channel(false);
                    let job = TailJob {
                        format: formatter.for_target(&target),
                        target,
                        history: true,
                        removed,
                    };
                    let ctx = ctx.clone();
                    tails.spawn(async move {
                        let key = job.target.key.clone();
                        (key, tail::run(ctx, job).await)
                    });
                }
            }
        }
        loop {
            tokio::select! {
                next = tails.join_next() => match next {
                    Some(Ok((_, end))) => failed |= end != TailEnd::Complete,
                    Some(Err(_)) => failed = true,
                    None => return Ok(Outcome::Done { failed }),
                },
                code = signals.recv() => {
                    shutdown(&mut tails).await;
                    return Ok(Outcome::Signal(code));
                }
            }
        }
    }

    let (ev_tx, mut events) = mpsc::channel::<TargetEvent>(256);
    let selection = Arc::new(cfg.selection.clone());
    for scope in &scopes {
        let mut wc = watcher::Config::default();
        if let Some(l) = &cfg.label_selector {
            wc = wc.labels(l);
        }
        if let Some(f) = &cfg.field_selector {
            wc = wc.fields(f);
        }
        tokio::spawn(discovery::watch_scope(
            scope.api(&cluster.client),
            wc,
            selection.clone(),
            scope.label(),
            ev_tx.clone(),
        ));
    }
    drop(ev_tx);

    // Every instance ever started, with the sender that tells its tail the pod is gone.
    let mut running: HashMap<TargetKey, watch::Sender<bool>> = HashMap::new();
    let mut by_pod: HashMap<String, Vec<TargetKey>> = HashMap::new();
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(TargetEvent::Added { target, history }) => {
                    if running.contains_key(&target.key) {
                        continue;
                    }
                    let (tx, removed) = watch::channel(false);
                    running.insert(target.key.clone(), tx);
                    by_pod.entry(target.key.pod_uid.clone()).or_default().push(target.key.clone());
                    let job = TailJob { format: formatter.for_target(&target), target, history, removed };
                    let ctx = ctx.clone();
                    tails.spawn(async move {
                        let key = job.target.key.clone();
                        (key, tail::run(ctx, job).await)
                    });
                }
                Some(TargetEvent::PodGone { uid }) => {
                    for key in by_pod.remove(&uid).unwrap_or_default() {
                        if let Some(tx) = running.remove(&key) {
                            let _ = tx.send(true);
                        }
                    }
                }
                Some(TargetEvent::Warning(msg)) => {
                    let _ = ctx.out.send(Out::Warning(msg)).await;
                }
                None => return Ok(Outcome::Done { failed }),
            },
            Some(done) = tails.join_next() => {
                if let Ok((_, end)) = done {
                    failed |= end == TailEnd::Failed;
                }
            }
            code = signals.recv() => {
                shutdown(&mut tails).await;
                return Ok(Outcome::Signal(code));
            }
        }
    }
}

/// Lists every pod of a scope, page by page.
async fn list_all(api: Api<Pod>, lp: &ListParams) -> kube::Result<Vec<Pod>> {
    let mut pods = Vec::new();
    let mut lp = lp.clone().limit(500);
    loop {
        let page = api.list(&lp).await?;
        pods.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => lp = lp.continue_token(&token),
            None => return Ok(pods),
        }
    }
}

/// Gives the tails a moment to hand over their batches, then stops them.
async fn shutdown(tails: &mut JoinSet<(TargetKey, TailEnd)>) {
    tails.abort_all();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tails.join_next().await.is_some() {}
    })
    .await;
}

/// SIGINT and SIGTERM as exit codes.
struct Signals {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Signals {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    async fn recv(&mut self) -> u8 {
        let int = async {
            match self.int.as_mut() {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        let term = async {
            match self.term.as_mut() {
                Some(s) => s.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = int => exit::SIGINT,
            _ = term => exit::SIGTERM,
        }
    }
}
