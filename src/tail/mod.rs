//! Tails: one task per container instance (and one for `--stdin`) that reads a log,
//! splits and filters its lines, renders them and hands batches to the writer, and
//! reconnects without losing or repeating a line.
//!
//! A container tail is a state machine (`machine`) driven by its I/O (`container`):
//! open → stream → locate/resume → backoff → done. This layer reads logs and renders
//! lines; which targets exist is the sources' business (`kube`), and starting and
//! stopping tails the orchestrator's (`app`).

pub(crate) mod container;
pub(crate) mod lines;
pub(crate) mod machine;
pub(crate) mod resume;
pub(crate) mod sinks;
pub(crate) mod stdin;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio::sync::{Semaphore, oneshot, watch};

use crate::kube::target::Target;
use crate::output::files;
use crate::output::writer::{Out, OutTx};
use crate::render::filter::LineFilter;
use crate::render::format::{Origin, RenderSettings};
use crate::tail::container::ContainerTail;
use crate::tail::sinks::{FileSink, Sinks};

/// Instance checks (a GET of the pod after a log request opens) in flight at once. When
/// hundreds of streams open together, unbounded checks would each need a connection of
/// their own and leave as many idle in the client's pool.
const VERIFY_CONCURRENCY: usize = 16;

/// How tails read, decided by `config`.
#[derive(Debug, Clone)]
pub(crate) struct TailSettings {
    /// Follow the logs; else read what exists and end.
    pub(crate) follow: bool,
    /// `--since`, for instances that existed at start.
    pub(crate) since: Duration,
    /// `--since-time`, which replaces `since` when given.
    pub(crate) since_time: Option<jiff::Timestamp>,
    /// `--tail`, for instances that existed at start.
    pub(crate) tail: Option<u64>,
    /// `--silence-timeout`: re-open a follow stream silent for this long.
    pub(crate) silence: Option<Duration>,
    /// `--max-log-requests`: streams open at once; more wait in a queue.
    pub(crate) max_log_requests: usize,
    /// Print `+`/`-` notices.
    pub(crate) notices: bool,
    /// Which lines are printed.
    pub(crate) filter: LineFilter,
}

/// What every tail of a run shares.
pub(crate) struct TailContext {
    pub(crate) settings: TailSettings,
    render: RenderSettings,
    /// `--output-dir` and the rendering of its files.
    files: Option<(PathBuf, RenderSettings)>,
    /// Log lines go to stdout (not with `--files-only`).
    stdout: bool,
    pub(crate) out: OutTx,
    slots: Arc<Semaphore>,
    /// Instance checks in flight at once (`VERIFY_CONCURRENCY`).
    checks: Semaphore,
    queue_noticed: AtomicBool,
    /// Set on SIGINT/SIGTERM: tails stop reading, hand over what they hold, and end.
    shutdown: watch::Sender<bool>,
}

impl TailContext {
    pub(crate) fn new(
        settings: TailSettings,
        render: RenderSettings,
        output: &crate::output::OutputSettings,
        out: OutTx,
    ) -> TailContext {
        let files = output
            .dir
            .as_ref()
            .map(|dir| (dir.clone(), render.for_files()));
        TailContext {
            slots: Arc::new(Semaphore::new(settings.max_log_requests)),
            checks: Semaphore::new(VERIFY_CONCURRENCY),
            queue_noticed: AtomicBool::new(false),
            shutdown: watch::channel(false).0,
            stdout: output.stdout,
            settings,
            render,
            files,
            out,
        }
    }

    /// Tells every tail to stop reading and hand over the lines it holds.
    pub(crate) fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// The renderings of one origin's lines: stdout, and its `--output-dir` file.
    fn sinks(&self, origin: &Origin<'_>) -> Sinks {
        let file = self.files.as_ref().map(|(dir, render)| FileSink {
            path: files::path_for(dir, origin.namespace, origin.pod, origin.container).into(),
            format: render.target(origin),
        });
        Sinks::new(self.render.target(origin), self.stdout, file)
    }
}

/// One container instance to tail.
pub(crate) struct TailJob {
    pub(crate) target: Target,
    /// Apply `--since`/`--tail`: the instance existed when ktail started.
    pub(crate) history: bool,
    /// The pods of the instance's namespace, in its cluster.
    pub(crate) api: Api<Pod>,
    /// Becomes true when the watch reports the pod deleted.
    pub(crate) removed: watch::Receiver<bool>,
    /// Start only once this fires (or its sender is dropped): the previous instance of
    /// the same container prints first.
    pub(crate) after: Option<oneshot::Receiver<()>>,
    /// Fired when this tail ends.
    pub(crate) done: Option<oneshot::Sender<()>>,
}

/// How a tail ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TailEnd {
    /// Everything the instance logged was printed.
    Complete,
    /// The log could not be read completely; the warning was printed.
    Failed,
    /// Cut: the pod was deleted and its stream did not end by itself, or the run stops.
    Cut,
}

/// Runs one container's tail to its end: waits for its turn (the previous instance,
/// then a stream slot), streams, and says `-` when its log was printed to its end.
pub(crate) async fn run(ctx: Arc<TailContext>, mut job: TailJob) -> TailEnd {
    let mut stop = ctx.shutdown.subscribe();
    if let Some(after) = job.after.take() {
        tokio::select! {
            _ = after => {}
            _ = stop.wait_for(|s| *s) => return TailEnd::Cut,
        }
    }
    if ctx.stopping() {
        return TailEnd::Cut;
    }
    let _slot = match ctx.slots.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => {
            // With --no-follow the cap is a worker pool and queueing is the plan; when
            // following, say once why some containers do not stream yet.
            let s = &ctx.settings;
            if s.follow && s.notices && !ctx.queue_noticed.swap(true, Ordering::Relaxed) {
                let text = format!(
                    "ktail: {} log streams are open (--max-log-requests); more containers wait in a queue for a free stream\n",
                    s.max_log_requests
                );
                let _ = ctx.out.send(Out::Notice(text.into_bytes())).await;
            }
            tokio::select! {
                p = ctx.slots.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return TailEnd::Cut,
                },
                _ = stop.wait_for(|s| *s) => return TailEnd::Cut,
            }
        }
    };
    let t = &job.target;
    let k = &t.key;
    let sinks = ctx.sinks(&Origin {
        namespace: &k.namespace,
        pod: &k.pod,
        container: &k.container,
        node: &t.pod_info.node,
        labels: &t.pod_info.labels,
        annotations: &t.pod_info.annotations,
    });
    let mut tail = ContainerTail::new(
        &ctx,
        job.api.clone(),
        job.target.clone(),
        job.history,
        job.removed.clone(),
        sinks,
    );
    let end = tail.run().await;
    if tail.announced()
        && let Some(file) = &tail.sinks().file
    {
        let _ = ctx.out.send(Out::FileClose(file.path.clone())).await;
    }
    // `-` says a container's log was printed to its end, or that its pod went away; a
    // run stopped by a signal cut every stream and says nothing per container.
    if tail.announced() && ctx.settings.notices && !ctx.stopping() {
        let notice = tail.sinks().stdout.removed_notice().to_vec();
        let _ = ctx.out.send(Out::Notice(notice)).await;
    }
    drop(tail);
    if let Some(done) = job.done.take() {
        let _ = done.send(());
    }
    end
}

/// The warning for a line a `--template` failed on (printed once per container).
pub(crate) fn template_warning(why: &str) -> String {
    format!("--template failed on a line ({why}); lines it fails on are printed as they came")
}
