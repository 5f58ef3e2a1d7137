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
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::cluster::{self, Cluster};
use crate::config::{Config, NamespaceScope};
use crate::discovery::{self, TargetEvent};
use crate::error::{Error, Result, exit};
use crate::format::Formatter;
use crate::output::{self, Out, WriterEnd};
use crate::tail::{self, TailContext, TailEnd, TailJob};
use crate::target::{self, InstanceState, TargetKey};

/// How long the tails get after SIGINT/SIGTERM to hand over what they hold.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Runs ktail with a resolved config; returns the exit code.
pub async fn run(cfg: Config, env_kubeconfig: Option<String>) -> Result<u8> {
    if cfg.stdin {
        return tokio::task::spawn_blocking(move || run_stdin(&cfg))
            .await
            .map_err(|e| Error::Other(format!("reading standard input failed: {e}")))?;
    }
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
        timezone: cfg.timezone.clone(),
        highlight: cfg.highlight.clone().map(Arc::new),
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
        since_time: cfg.since_time,
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
    let mut denied = Vec::new();
    for scope in scopes {
        match scope.api(&cluster.client).list(&lp).await {
            Ok(_) => allowed.push(scope),
            Err(e @ kube::Error::Api(_)) if is_forbidden(&e) => {
                denied.push(cluster::startup_error(
                    cluster,
                    &e,
                    &format!("cannot list pods in {}", scope.label()),
                ));
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
    if allowed.is_empty() && !denied.is_empty() {
        return Err(denied.swap_remove(0));
    }
    for err in denied {
        let _ = out
            .send(Out::Warning(format!("{err}; ktail goes on without it")))
            .await;
    }
    Ok(allowed)
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
                let sel = &cfg.selection;
                for target in target::select(pod, sel, true, sel.previous) {
                    // --previous with --no-follow: the previous instances only.
                    if sel.previous && target.state != InstanceState::Previous {
                        continue;
                    }
                    if !target.state_allowed(sel.states) {
                        continue;
                    }
                    let (_tx, removed) = watch::channel(false);
                    let job = TailJob {
                        format: formatter.for_target(&target),
                        target,
                        history: true,
                        removed,
                        after: None,
                        done: None,
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
    // --previous: a previous instance's tail signals when it is done, and the current
    // instance of the same container waits for it, so the two print in order.
    let mut previous_done: HashMap<(String, String), oneshot::Receiver<()>> = HashMap::new();
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
                    let container = (target.key.pod_uid.clone(), target.key.container.clone());
                    let (mut after, mut done) = (None, None);
                    if history && cfg.selection.previous && target.state == InstanceState::Previous {
                        let (tx, rx) = oneshot::channel();
                        previous_done.insert(container, rx);
                        done = Some(tx);
                    } else {
                        after = previous_done.remove(&container);
                    }
                    let job = TailJob {
                        format: formatter.for_target(&target),
                        target,
                        history,
                        removed,
                        after,
                        done,
                    };
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

/// `--stdin`: the filters and output formats applied to lines read from standard input
/// (stern has it). A line keeps its text as the message; there is no pod or container.
fn run_stdin(cfg: &Config) -> Result<u8> {
    use crate::lines::{LineSplitter, parse_line};
    use std::io::{Read, Write};
    let formatter = Formatter {
        // There is no pod to prefix: default output is the message alone.
        mode: match cfg.output {
            crate::cli::OutputMode::Default => crate::cli::OutputMode::Raw,
            other => other,
        },
        timestamps: cfg.timestamps,
        color: cfg.color,
        color_stderr: cfg.color_stderr,
        show_namespace: false,
        timezone: cfg.timezone.clone(),
        highlight: cfg.highlight.clone().map(Arc::new),
    };
    let target = target::Target {
        key: TargetKey {
            namespace: String::new(),
            pod: String::new(),
            pod_uid: String::new(),
            container: String::new(),
            container_id: String::new(),
        },
        kind: target::ContainerKind::Regular,
        pod_info: Arc::default(),
        state: InstanceState::Running,
        container_state: target::ContainerState::Running,
    };
    let mut fmt = formatter.for_target(&target);
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::BufWriter::with_capacity(128 * 1024, std::io::stdout().lock());
    let mut splitter = LineSplitter::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut batch = Vec::with_capacity(96 * 1024);
    let mut each = |raw: &[u8], batch: &mut Vec<u8>| {
        // Keep a leading timestamp for -t, as in a log stream; otherwise all is message.
        let line = parse_line(raw);
        let (ts, second, msg) = if cfg.timestamps.is_some() {
            (line.timestamp, line.second, line.message)
        } else {
            (&[][..], None, raw)
        };
        if cfg.filter.keeps(msg) {
            fmt.write_line(batch, ts, second, msg);
        }
    };
    let result = (|| -> std::io::Result<()> {
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            splitter.feed(&buf[..n], |raw| each(raw, &mut batch));
            out.write_all(&batch)?;
            batch.clear();
            out.flush()?;
        }
        splitter.finish(|raw| each(raw, &mut batch));
        out.write_all(&batch)?;
        out.flush()
    })();
    match result {
        Ok(()) => Ok(exit::OK),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(exit::OK),
        Err(e) => Err(Error::Output(e)),
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
