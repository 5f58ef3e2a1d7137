//! The run: connect, check access, discover targets, start and stop tails, and decide
//! the exit code.
//!
//! Follow mode keeps one watch per namespace scope and one task per container instance;
//! `--no-follow` lists once and reads every selected container to its current end. Both
//! end early, with exit 0, when the reader of stdout goes away, and with 130/143 on
//! SIGINT/SIGTERM after the lines already received are written.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;

use crate::kube::client::{self, Cluster};
use crate::config::{Config, NamespaceScope};
use crate::kube::discovery::{self, PodFilter, TargetEvent};
use crate::error::{Error, Result, exit};
use crate::output::files;
use crate::render::format::{self, Formatter};
use crate::output::writer::{self, Out, WriterEnd};
use crate::kube::scopes::{self, NsEvent};
use crate::signals::Signals;
use crate::tail::{self, FileOut, TailContext, TailEnd, TailJob};
use crate::kube::target::{self, InstanceState, TargetKey};

/// How long the tails get after SIGINT/SIGTERM to hand over what they hold.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Runs ktail with a resolved config; returns the exit code.
pub async fn run(cfg: Config, env_kubeconfig: Option<String>) -> Result<u8> {
    if cfg.stdin {
        return tokio::task::spawn_blocking(move || run_stdin(&cfg))
            .await
            .map_err(|e| Error::Other(format!("reading standard input failed: {e}")))?;
    }
    let cluster = client::connect(&cfg, env_kubeconfig.as_deref()).await?;
    let show_namespace = match &cfg.namespaces {
        NamespaceScope::All | NamespaceScope::Pattern { .. } => true,
        NamespaceScope::Listed(list) => list.len() > 1,
        NamespaceScope::ContextDefault => false,
    };
    let formatter = Formatter::from_config(&cfg, show_namespace);
    let files = match &cfg.output_dir {
        Some(dir) => {
            prepare_output_dir(dir)?;
            let file_formatter = formatter.for_files(cfg.file_template.clone());
            Some((dir.clone(), file_formatter))
        }
        None => None,
    };

    let (out, mut closed, writer) = writer::spawn(cfg.color_stderr, cfg.sanitize);
    let namespaces = preflight(&cfg, &cluster, &out).await?;

    let ctx = Arc::new(TailContext {
        client: cluster.client.clone(),
        out: out.clone(),
        slots: Arc::new(Semaphore::new(cfg.max_log_requests)),
        checks: Semaphore::new(tail::VERIFY_CONCURRENCY),
        max_log_requests: cfg.max_log_requests,
        queue_noticed: AtomicBool::new(false),
        filter: cfg.filter.clone(),
        follow: cfg.follow,
        since: cfg.since,
        since_time: cfg.since_time,
        tail: cfg.tail,
        notices: cfg.notices,
        silence: cfg.silence,
        shutdown: watch::channel(false).0,
        stdout: cfg.stdout,
    });

    let signals = Signals::new();
    let run = Run {
        cfg: &cfg,
        cluster: &cluster,
        ctx,
        formatter,
        files,
    };
    let outcome = tokio::select! {
        r = run.drive(namespaces, signals) => r,
        _ = &mut closed => Ok(Outcome::StdoutClosed),
    };
    // The writer ends once every sender is gone: the run's context holds one.
    drop(run);
    drop(out);
    let code = match outcome? {
        // The writer stopped: a reader that went away is a normal end, a failed write
        // (a full disk under stdout or an --output-dir file) is not.
        Outcome::StdoutClosed => {
            return match tokio::task::spawn_blocking(move || writer.join()).await {
                Ok(Ok(WriterEnd::Failed(e))) => Err(Error::Output(e)),
                _ => Ok(exit::OK),
            };
        }
        Outcome::Done { failed } => {
            if failed {
                exit::STREAM_FAILED
            } else {
                exit::OK
            }
        }
        Outcome::Signal(code) => code,
    };
    // Every tail is done: the writer drains the channel and stops. After a signal the
    // wait is bounded: a reader that stopped reading must not keep ktail alive.
    let join = tokio::task::spawn_blocking(move || writer.join());
    let joined = if code == exit::SIGINT || code == exit::SIGTERM {
        tokio::time::timeout(SHUTDOWN_GRACE, join).await.ok()
    } else {
        Some(join.await)
    };
    match joined {
        Some(Ok(Ok(WriterEnd::Failed(e)))) => Err(Error::Output(e)),
        _ => Ok(code),
    }
}

/// `--output-dir` must be a directory ktail can write: checked before anything streams.
fn prepare_output_dir(dir: &Path) -> Result<()> {
    let fail = |e: std::io::Error| {
        Error::usage(format!(
            "cannot use --output-dir '{}': {e}; give a directory ktail can create and write",
            dir.display()
        ))
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    // Creating a directory needs write permission here: try it the way files will.
    let probe = dir.join(format!(".ktail-probe-{}", std::process::id()));
    std::fs::create_dir(&probe).map_err(fail)?;
    std::fs::remove_dir(&probe).map_err(fail)
}

enum Outcome {
    StdoutClosed,
    Done { failed: bool },
    Signal(u8),
}

fn pods_api(client: &kube::Client, namespace: Option<&str>) -> Api<Pod> {
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

fn scope_label(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("namespace '{ns}'"),
        None => "all namespaces".to_string(),
    }
}

/// The user's own server-side filter (a followed object adds its selector to it).
fn base_filter(cfg: &Config) -> PodFilter {
    PodFilter {
        labels: cfg.label_selector.clone(),
        fields: cfg.field_selector.clone(),
    }
}

fn list_params(filter: &PodFilter) -> ListParams {
    let mut lp = ListParams::default();
    if let Some(l) = &filter.labels {
        lp = lp.labels(l);
    }
    if let Some(f) = &filter.fields {
        lp = lp.fields(f);
    }
    lp
}

/// The namespaces known before anything runs: `None` when they come from a watch of
/// namespaces (`--namespace-regex`, `--namespace-selector`), `Some([None])` for one
/// cluster-wide scope.
type Namespaces = Option<Vec<Option<String>>>;

/// Checks access before anything streams, so that bad credentials, an unreachable
/// server, an invalid selector or a missing object end the run with one clear line. A
/// namespace that is forbidden while others are allowed is a warning, and the others
/// continue.
async fn preflight(cfg: &Config, cluster: &Cluster, out: &writer::OutTx) -> Result<Namespaces> {
    let client = &cluster.client;
    let listed: Vec<Option<String>> = match &cfg.namespaces {
        NamespaceScope::All => vec![None],
        NamespaceScope::ContextDefault => vec![Some(cluster.default_namespace.clone())],
        NamespaceScope::Listed(list) => list.iter().cloned().map(Some).collect(),
        NamespaceScope::Pattern { labels, .. } => {
            let lp = ListParams::default().limit(1);
            let lp = match labels {
                Some(l) => lp.labels(l),
                None => lp,
            };
            let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
            api.list(&lp).await.map_err(|e| {
                let what = match &e {
                    kube::Error::Api(s) if s.code == 400 => {
                        format!(
                            "invalid --namespace-selector '{}'",
                            labels.as_deref().unwrap_or_default()
                        )
                    }
                    _ => "cannot list namespaces".to_string(),
                };
                client::startup_error(cluster, &e, &what)
            })?;
            return Ok(None);
        }
    };
    let lp = list_params(&base_filter(cfg)).limit(1);
    let mut allowed = Vec::new();
    let mut denied = Vec::new();
    let mut missing = Vec::new();
    for ns in listed {
        let label = scope_label(ns.as_deref());
        if let Some(name) = ns.as_deref() {
            check_namespace(cluster, name).await?;
        }
        let checked = async {
            pods_api(client, ns.as_deref()).list(&lp).await?;
            if let (Some(rq), Some(n)) = (&cfg.resource, ns.as_deref()) {
                scopes::object_filter(client, n, rq, &base_filter(cfg)).await?;
            }
            Ok::<(), kube::Error>(())
        };
        match checked.await {
            Ok(()) => allowed.push(ns),
            Err(e @ kube::Error::Api(_)) if api_code(&e) == 403 => {
                denied.push(client::startup_error(
                    cluster,
                    &e,
                    &format!("cannot read {label}"),
                ));
            }
            Err(e @ kube::Error::Api(_)) if api_code(&e) == 404 && cfg.resource.is_some() => {
                missing.push((ns, e));
            }
            Err(e) => {
                let what = match &e {
                    kube::Error::Api(s) if s.code == 400 => selector_context(cfg),
                    _ => format!("cannot list pods in {label}"),
                };
                return Err(client::startup_error(cluster, &e, &what));
            }
        }
    }
    if let Some(rq) = &cfg.resource
        && allowed.is_empty()
        && let Some((ns, _)) = missing.first()
    {
        // Following an object that exists nowhere would print nothing, for ever.
        return Err(Error::NotFound(format!(
            "{} not found in {}: check the name, or the namespace (-n)",
            rq.describe(),
            scope_label(ns.as_deref())
        )));
    }
    if allowed.is_empty() && missing.is_empty() && !denied.is_empty() {
        return Err(denied.swap_remove(0));
    }
    for err in denied {
        let _ = out
            .send(Out::Warning(format!("{err}; ktail goes on without it")))
            .await;
    }
    // Where the object is missing now, it is still followed: it may be created.
    allowed.extend(missing.into_iter().map(|(ns, _)| ns));
    Ok(Some(allowed))
}

/// A namespace named on the command line (or by the context) must exist: a typo would
/// otherwise wait for pods for ever. Without permission to read namespaces, the check is
/// skipped and the pod list decides.
async fn check_namespace(cluster: &Cluster, name: &str) -> Result<()> {
    let api: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client.clone());
    match api.get(name).await {
        Err(e) if api_code(&e) == 404 => Err(Error::NotFound(format!(
            "namespace '{name}' not found in context '{}': check -n (kubectl get namespaces lists them)",
            cluster.context
        ))),
        Err(e @ kube::Error::Api(_)) if api_code(&e) == 401 => Err(client::startup_error(
            cluster,
            &e,
            "cannot read namespaces",
        )),
        // Forbidden to read namespaces, or any other answer: the pod list decides.
        Err(kube::Error::Api(_)) => Ok(()),
        Err(e) => Err(client::startup_error(
            cluster,
            &e,
            &format!("cannot read namespace '{name}'"),
        )),
        Ok(_) => Ok(()),
    }
}

fn api_code(e: &kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        _ => 0,
    }
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

/// What the driving loop shares.
struct Run<'a> {
    cfg: &'a Config,
    cluster: &'a Cluster,
    ctx: Arc<TailContext>,
    formatter: Formatter,
    /// `--output-dir` and the rendering of its files.
    files: Option<(PathBuf, Formatter)>,
}

impl Run<'_> {
    async fn drive(&self, namespaces: Namespaces, signals: Signals) -> Result<Outcome> {
        if self.cfg.follow {
            self.follow(namespaces, signals).await
        } else {
            self.drain(namespaces, signals).await
        }
    }

    /// `--no-follow`: list once, read every selected container to its current end.
    async fn drain(&self, namespaces: Namespaces, mut signals: Signals) -> Result<Outcome> {
        let (cfg, client) = (self.cfg, &self.cluster.client);
        let namespaces = match (namespaces, &cfg.namespaces) {
            (Some(list), _) => list,
            (None, NamespaceScope::Pattern { regex, labels }) => {
                scopes::list_namespaces(client, regex.as_ref(), labels.as_deref())
                    .await
                    .map_err(|e| {
                        client::startup_error(self.cluster, &e, "cannot list namespaces")
                    })?
                    .into_iter()
                    .map(Some)
                    .collect()
            }
            (None, _) => Vec::new(),
        };
        let mut tails: JoinSet<(TargetKey, TailEnd)> = JoinSet::new();
        let mut failed = false;
        for ns in namespaces {
            let filter = match (&cfg.resource, ns.as_deref()) {
                (Some(rq), Some(n)) => {
                    match scopes::object_filter(client, n, rq, &base_filter(cfg)).await {
                        Ok(Some(f)) => f,
                        Ok(None) | Err(kube::Error::Api(_)) => continue,
                        Err(e) => {
                            return Err(client::startup_error(
                                self.cluster,
                                &e,
                                &format!("cannot read {}", rq.describe()),
                            ));
                        }
                    }
                }
                _ => base_filter(cfg),
            };
            let lp = list_params(&filter);
            let pods = tokio::select! {
                r = list_all(pods_api(client, ns.as_deref()), &lp) => r,
                stop = signals.recv() => return Ok(Outcome::Signal(stop.exit_code())),
            };
            let pods = match pods {
                Ok(p) => p,
                Err(e) if api_code(&e) == 403 => continue,
                Err(e) => {
                    let what = format!("cannot list pods in {}", scope_label(ns.as_deref()));
                    return Err(client::startup_error(self.cluster, &e, &what));
                }
            };
            let sel = &cfg.selection;
            for pod in &pods {
                for target in target::select(pod, sel, true, sel.previous) {
                    // --previous with --no-follow: the previous instances only.
                    if sel.previous && target.state != InstanceState::Previous {
                        continue;
                    }
                    if !target.state_allowed(sel.states) {
                        continue;
                    }
                    let (_tx, removed) = watch::channel(false);
                    self.spawn(
                        &mut tails,
                        TailJob {
                            format: self.formatter.for_target(&target),
                            file: self.file_for(&target),
                            target,
                            history: true,
                            removed,
                            after: None,
                            done: None,
                        },
                    );
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
                stop = signals.recv() => {
                    shutdown(&self.ctx, &mut tails).await;
                    return Ok(Outcome::Signal(stop.exit_code()));
                }
            }
        }
    }

    /// `--output-dir`: the file of the target's container.
    fn file_for(&self, target: &target::Target) -> Option<FileOut> {
        let (dir, formatter) = self.files.as_ref()?;
        let k = &target.key;
        Some(FileOut {
            path: files::path_for(dir, &k.namespace, &k.pod, &k.container).into(),
            format: formatter.for_target(target),
        })
    }

    fn spawn(&self, tails: &mut JoinSet<(TargetKey, TailEnd)>, job: TailJob) {
        let ctx = self.ctx.clone();
        tails.spawn(async move {
            let key = job.target.key.clone();
            (key, tail::run(ctx, job).await)
        });
    }

    /// Starts the pod watch of one namespace (or of the whole cluster), and the watch of
    /// the followed object that drives its selector.
    fn open_scope(
        &self,
        ns: Option<String>,
        initial: bool,
        events: &mpsc::Sender<TargetEvent>,
    ) -> ScopeTasks {
        let (cfg, client) = (self.cfg, &self.cluster.client);
        let base = base_filter(cfg);
        let (filter_tx, filter_rx) = watch::channel(None);
        let mut tasks = ScopeTasks {
            filter: None,
            handles: Vec::new(),
        };
        match (&cfg.resource, &ns) {
            (Some(rq), Some(n)) => {
                tasks.handles.push(tokio::spawn(scopes::follow_object(
                    client.clone(),
                    n.clone(),
                    rq.clone(),
                    base,
                    filter_tx,
                    events.clone(),
                )));
            }
            _ => {
                filter_tx.send_replace(Some(base));
                tasks.filter = Some(filter_tx);
            }
        }
        let scope = discovery::Scope {
            api: pods_api(client, ns.as_deref()),
            filter: filter_rx,
            selection: Arc::new(cfg.selection.clone()),
            label: scope_label(ns.as_deref()),
            run_start: self.cfg.run_start,
            initial,
        };
        tasks
            .handles
            .push(tokio::spawn(discovery::watch_scope(scope, events.clone())));
        tasks
    }

    /// Follow mode: watch, start a tail per new container instance, signal tails whose
    /// pod is gone, until a signal or a closed stdout.
    async fn follow(&self, namespaces: Namespaces, mut signals: Signals) -> Result<Outcome> {
        let (ev_tx, mut events) = mpsc::channel::<TargetEvent>(256);
        let (ns_tx, mut ns_events) = mpsc::channel::<NsEvent>(64);
        match (namespaces, &self.cfg.namespaces) {
            (Some(list), _) => {
                for ns in list {
                    let name = ns.unwrap_or_default();
                    let _ = ns_tx
                        .send(NsEvent::Add {
                            name,
                            initial: true,
                        })
                        .await;
                }
            }
            (None, NamespaceScope::Pattern { regex, labels }) => {
                tokio::spawn(scopes::watch_namespaces(
                    self.cluster.client.clone(),
                    regex.clone(),
                    labels.clone(),
                    ns_tx.clone(),
                    ev_tx.clone(),
                ));
            }
            (None, _) => {}
        }
        drop(ns_tx);

        let mut scopes_open: HashMap<String, ScopeTasks> = HashMap::new();
        let mut tails: JoinSet<(TargetKey, TailEnd)> = JoinSet::new();
        let mut failed = false;
        // Every instance ever started, with the sender that tells its tail the pod is gone.
        let mut running: HashMap<TargetKey, watch::Sender<bool>> = HashMap::new();
        let mut by_pod: HashMap<String, Vec<TargetKey>> = HashMap::new();
        // A previous instance's tail (--previous, or a restart ktail did not see) signals
        // when it is done, and the current instance of the same container waits for it,
        // so the two print in order.
        let mut previous_done: HashMap<(String, String), oneshot::Receiver<()>> = HashMap::new();
        loop {
            tokio::select! {
                Some(ns) = ns_events.recv() => match ns {
                    // "" is the cluster-wide scope.
                    NsEvent::Add { name, initial } => {
                        if let std::collections::hash_map::Entry::Vacant(slot) = scopes_open.entry(name) {
                            let ns = (!slot.key().is_empty()).then(|| slot.key().clone());
                            slot.insert(self.open_scope(ns, initial, &ev_tx));
                        }
                    }
                    NsEvent::Remove(name) => {
                        if let Some(tasks) = scopes_open.remove(&name) {
                            tasks.close();
                        }
                    }
                },
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
                        if target.state == InstanceState::Previous {
                            let (tx, rx) = oneshot::channel();
                            previous_done.insert(container, rx);
                            done = Some(tx);
                        } else {
                            after = previous_done.remove(&container);
                        }
                        self.spawn(&mut tails, TailJob {
                            format: self.formatter.for_target(&target),
                            file: self.file_for(&target),
                            target,
                            history,
                            removed,
                            after,
                            done,
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
                        let _ = self.ctx.out.send(Out::Warning(msg)).await;
                    }
                    None => return Ok(Outcome::Done { failed }),
                },
                Some(done) = tails.join_next() => {
                    if let Ok((_, end)) = done {
                        failed |= end == TailEnd::Failed;
                    }
                }
                stop = signals.recv() => {
                    shutdown(&self.ctx, &mut tails).await;
                    return Ok(Outcome::Signal(stop.exit_code()));
                }
            }
        }
    }
}

/// The tasks behind one open scope.
struct ScopeTasks {
    /// The scope's filter, when it is fixed (no followed object).
    filter: Option<watch::Sender<Option<PodFilter>>>,
    handles: Vec<tokio::task::JoinHandle<()>>,
}

impl ScopeTasks {
    /// The namespace left: its pods are gone. The pod watch reports them when its filter
    /// channel closes, then ends.
    fn close(self) {
        // The object follower holds the filter sender: stopping it closes the channel.
        for h in &self.handles[..self.handles.len().saturating_sub(1)] {
            h.abort();
        }
        drop(self.filter);
    }
}

/// `--stdin`: the filters and output formats applied to lines read from standard input
/// (stern has it). A line keeps its text as the message; there is no pod or container.
fn run_stdin(cfg: &Config) -> Result<u8> {
    let warn_template = |fmt: &mut format::TargetFormat| {
        if let Some(why) = fmt.take_template_failure() {
            eprintln!("ktail: warning: {}", tail::template_warning(&why));
        }
    };
    use crate::tail::lines::{LineSplitter, parse_line};
    use std::io::{Read, Write};
    let mut formatter = Formatter::from_config(cfg, false);
    // There is no pod to prefix: default output is the message alone.
    if formatter.mode == crate::cli::OutputMode::Default {
        formatter.mode = crate::cli::OutputMode::Raw;
    }
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
        started_at: None,
    };
    let mut fmt = formatter.for_target(&target);
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut out = std::io::BufWriter::with_capacity(128 * 1024, std::io::stdout().lock());
    let mut splitter = LineSplitter::default();
    let mut buf = vec![0u8; 64 * 1024];
    let mut batch = Vec::with_capacity(96 * 1024);
    let each = |raw: &[u8], batch: &mut Vec<u8>, fmt: &mut format::TargetFormat| {
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
            splitter.feed(&buf[..n], |raw| each(raw, &mut batch, &mut fmt));
            out.write_all(&batch)?;
            batch.clear();
            out.flush()?;
            warn_template(&mut fmt);
        }
        splitter.finish(|raw| each(raw, &mut batch, &mut fmt));
        out.write_all(&batch)?;
        out.flush()?;
        warn_template(&mut fmt);
        Ok(())
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
/// Tells the tails to stop reading and hand over the lines they hold; those still busy
/// after the grace (stdout blocked) are cut.
async fn shutdown(ctx: &TailContext, tails: &mut JoinSet<(TargetKey, TailEnd)>) {
    ctx.shutdown.send_replace(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tails.join_next().await.is_some() {}
    })
    .await;
    tails.abort_all();
}
