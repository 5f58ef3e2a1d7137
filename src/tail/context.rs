//! What every tail of a run shares: the settings, the renderings, the writer's channel,
//! the stream slots of `--max-log-requests`, and the signal to stop.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, watch};

use crate::output::files;
use crate::output::merge::{MergeTx, SortedBatch};
use crate::output::writer::{Out, OutTx};
use crate::render::Origin;
use crate::render::filter::LineFilter;
use crate::render::format::{CONTINUES, RenderSettings};
use crate::render::time::TimestampWriter;
use crate::tail::lines::PIECE_BYTES;
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
    /// `--until`: no line with a later API timestamp is printed.
    pub(crate) until: Option<jiff::Timestamp>,
}

/// What every tail of a run shares.
pub(crate) struct TailContext {
    pub(crate) settings: TailSettings,
    pub(crate) render: RenderSettings,
    /// `--output-dir` and the rendering of its files.
    files: Option<(PathBuf, RenderSettings)>,
    /// Log lines go to stdout (not with `--files-only`).
    pub(crate) stdout: bool,
    pub(crate) out: OutTx,
    /// `--sort`: the merge stage, where each tail opens a stream for stdout's records.
    pub(crate) merge: Option<MergeTx>,
    pub(crate) slots: Arc<Semaphore>,
    /// Instance checks in flight at once (`VERIFY_CONCURRENCY`).
    pub(crate) checks: Semaphore,
    pub(crate) queue_noticed: AtomicBool,
    /// The run's one notice that a long line was split was given.
    pub(crate) split_noticed: AtomicBool,
    /// Set on SIGINT/SIGTERM: tails stop reading, hand over what they hold, and end.
    pub(crate) shutdown: watch::Sender<bool>,
}

impl TailContext {
    pub(crate) fn new(
        settings: TailSettings,
        render: RenderSettings,
        output: &crate::output::OutputSettings,
        out: OutTx,
        merge: Option<MergeTx>,
    ) -> TailContext {
        let files = output
            .dir
            .as_ref()
            .map(|dir| (dir.clone(), render.for_files()));
        TailContext {
            slots: Arc::new(Semaphore::new(settings.max_log_requests)),
            checks: Semaphore::new(VERIFY_CONCURRENCY),
            queue_noticed: AtomicBool::new(false),
            split_noticed: AtomicBool::new(false),
            shutdown: watch::channel(false).0,
            stdout: output.stdout,
            settings,
            render,
            files,
            out,
            merge,
        }
    }

    /// Tells every tail to stop reading and hand over the lines it holds.
    pub(crate) fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    /// A notice for stderr: `text` as one line, after the time when `--timestamps` asks
    /// for it (in its format and zone, as log lines show theirs).
    pub(crate) fn notice(&self, text: impl AsRef<[u8]>) -> Out {
        let text = text.as_ref();
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        let mut line = Vec::with_capacity(text.len() + 40);
        if let Some(format) = self.render.timestamps {
            let now = jiff::Timestamp::now();
            let mut stamp = TimestampWriter::new(format, self.render.timezone.clone());
            stamp.write(&mut line, now.to_string().as_bytes(), Some(now.as_second()));
            line.push(b' ');
        }
        line.extend_from_slice(text);
        line.push(b'\n');
        Out::Notice(line)
    }

    pub(crate) fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// The renderings of one origin's lines: stdout (through the merge's `sorted` stream
    /// with `--sort`), and its `--output-dir` file.
    pub(crate) fn sinks(
        &self,
        origin: &Origin<'_>,
        sorted: Option<mpsc::Sender<SortedBatch>>,
    ) -> Sinks {
        let file = self.files.as_ref().map(|(dir, render)| FileSink {
            path: files::path_for(
                dir,
                origin.context,
                origin.namespace,
                origin.pod,
                origin.container,
            )
            .into(),
            format: render.target(origin),
        });
        let filtered = !self.settings.filter.is_empty();
        Sinks::new(
            self.render.target(origin),
            self.stdout,
            file,
            sorted,
            filtered,
        )
    }
}

/// The warning, once per run, that a long line was printed in several records; `label`
/// names the first container that had one.
pub(crate) fn split_warning(ctx: &TailContext, label: &str) -> Option<String> {
    if ctx
        .split_noticed
        .swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        return None;
    }
    Some(format!(
        "{label}: a line longer than {} MiB was printed in several records; each but the last ends with \"{}\" (JSON: \"continues\": true); said once per run",
        PIECE_BYTES >> 20,
        String::from_utf8_lossy(CONTINUES).trim_start(),
    ))
}

/// The warning for a line a `--template` failed on (printed once per container).
pub(crate) fn template_warning(why: &str) -> String {
    format!("--template failed on a line ({why}); lines it fails on are printed as they came")
}

/// What the sources know of a tail's container instance, as the orchestrator passes it
/// on: still live, ended (its container terminated), or gone with its pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Presence {
    Live,
    /// The watch saw the instance terminate: its follow stream has nothing more coming.
    Ended,
    /// The pod was deleted or is no longer selected.
    Gone,
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
