//! One task per container instance: open its log stream, split and format its lines,
//! send them to the writer, and reconnect without losing or repeating a line.
//!
//! The reconnect contract (stern's `tail.go`, improved): timestamps are always requested
//! (and stripped unless `-t`), a `ResumeCursor` remembers the last second and how many
//! lines carried it, and a reconnect asks for `sinceTime` and skips exactly those lines.
//! A clean end of a stream is not the end of the container: the task asks the API where
//! the instance stands and resumes while it runs, drains it once when it has ended, and
//! stops only when the instance is complete or gone. Only a final API answer (4xx other
//! than 429) or a pod that is gone ends a tail early, with a warning.

pub mod lines;

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::{AsyncBufRead, AsyncBufReadExt, FutureExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::LogParams;
use tokio::sync::{Semaphore, oneshot, watch};

use crate::config::LineFilter;
use crate::render::format::TargetFormat;
use crate::tail::lines::{LineSplitter, Replay, Resume, ResumeCursor, line_key, parse_line};
use crate::output::writer::{BATCH_BYTES, Out, OutTx};
use crate::kube::target::{InstanceState, Target, instance_state};

/// After the watch reports the pod deleted, its streams get this long to drain by
/// themselves (the kubelet ends them when the containers stop) before they are cut.
const DELETE_GRACE: Duration = Duration::from_secs(5);
/// A batch smaller than this waits up to `SMALL_BATCH_YIELDS` scheduler turns in a row
/// for more: a busy stream fills it, a quiet one sends after three empty turns.
const SMALL_BATCH: usize = 4096;
const SMALL_BATCH_YIELDS: u32 = 3;
/// Instance checks (a GET of the pod after a log request opens) in flight at once. When
/// hundreds of streams open together, unbounded checks would each need a connection of
/// their own and leave as many idle in the client's pool.
pub const VERIFY_CONCURRENCY: usize = 16;
/// Failed requests in a row after which a follow tail warns that it keeps retrying
/// (about 6 s with the backoff's 250 ms → 2 s steps).
const OUTAGE_WARNING: u32 = 5;
/// Attempts for one read with `--no-follow` before the container counts as failed.
const NO_FOLLOW_ATTEMPTS: u32 = 5;

/// What every tail shares.
pub struct TailContext {
    pub client: kube::Client,
    pub out: OutTx,
    pub slots: Arc<Semaphore>,
    /// Instance checks in flight at once (`VERIFY_CONCURRENCY`).
    pub checks: Semaphore,
    pub max_log_requests: usize,
    pub queue_noticed: AtomicBool,
    pub filter: LineFilter,
    pub follow: bool,
    pub since: Duration,
    pub since_time: Option<jiff::Timestamp>,
    pub tail: Option<u64>,
    pub notices: bool,
    /// `--silence-timeout`.
    pub silence: Option<Duration>,
    /// Set on SIGINT/SIGTERM: tails stop reading, hand over what they hold, and end.
    pub shutdown: watch::Sender<bool>,
    /// Log lines go to stdout (not with `--files-only`).
    pub stdout: bool,
}

/// `--output-dir`: the container's file and its rendering.
pub struct FileOut {
    pub path: Arc<Path>,
    pub format: TargetFormat,
}

/// One tail to run.
pub struct TailJob {
    pub target: Target,
    pub format: TargetFormat,
    /// `--output-dir`.
    pub file: Option<FileOut>,
    /// Apply `--since`/`--tail`: the container existed when ktail started.
    pub history: bool,
    /// Becomes true when the watch reports the pod deleted.
    pub removed: watch::Receiver<bool>,
    /// Start only once this fires (or its sender is dropped): the previous instance of
    /// the same container prints first with `--previous`.
    pub after: Option<oneshot::Receiver<()>>,
    /// Fired when this tail ends.
    pub done: Option<oneshot::Sender<()>>,
}

/// How a tail ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TailEnd {
    /// Everything the instance logged was printed.
    Complete,
    /// The log could not be read completely; the warning was printed.
    Failed,
    /// Cut because the pod was deleted and its stream did not end by itself.
    Cut,
}

/// Which request to make next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Follow the running instance.
    Follow,
    /// Read the instance once to its end; `previous` selects the last terminated instance.
    Once { previous: bool },
}

enum StreamEnd {
    /// The server ended the response normally.
    Clean,
    /// The connection broke, or the stream went silent.
    Broken(String),
    /// Writer gone or pod removed past its grace: stop now.
    Stop(TailEnd),
}

type Reader = Pin<Box<dyn AsyncBufRead + Send>>;

/// Runs one tail to its end.
pub async fn run(ctx: Arc<TailContext>, mut job: TailJob) -> TailEnd {
    let mut stop = ctx.shutdown.subscribe();
    if let Some(after) = job.after.take() {
        tokio::select! {
            _ = after => {}
            _ = stop.wait_for(|s| *s) => return TailEnd::Cut,
        }
    }
    if *stop.borrow() {
        return TailEnd::Cut;
    }
    let _slot = match ctx.slots.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => {
            // With --no-follow the cap is a worker pool and queueing is the plan; when
            // following, say once why some containers do not stream yet.
            if ctx.follow && ctx.notices && !ctx.queue_noticed.swap(true, Ordering::Relaxed) {
                let text = format!(
                    "ktail: {} log streams are open (--max-log-requests); more containers wait in a queue for a free stream\n",
                    ctx.max_log_requests
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
    let mut tail = Tail::new(&ctx, &job);
    let end = tail.run(&mut job).await;
    if tail.announced
        && let Some(file) = &job.file
    {
        let _ = ctx.out.send(Out::FileClose(file.path.clone())).await;
    }
    // `-` says a container's log was printed to its end, or that its pod went away; a
    // run stopped by a signal cut every stream and says nothing per container.
    if tail.announced && ctx.notices && !*ctx.shutdown.borrow() {
        let _ = ctx
            .out
            .send(Out::Notice(job.format.removed_notice().to_vec()))
            .await;
    }
    end
}

/// One read's formatted lines: for stdout, and for the container's file.
#[derive(Default)]
struct Batch {
    stdout: Vec<u8>,
    file: Vec<u8>,
}

impl Batch {
    fn len(&self) -> usize {
        self.stdout.len().max(self.file.len())
    }

    fn is_empty(&self) -> bool {
        self.stdout.is_empty() && self.file.is_empty()
    }
}

/// Where a tail's lines are rendered: stdout unless `--files-only`, and the file of
/// `--output-dir`. Each line is split and filtered once, and rendered once per sink.
struct Sinks<'a> {
    stdout: Option<&'a mut TargetFormat>,
    file: Option<&'a mut FileOut>,
}

impl<'a> Sinks<'a> {
    fn new(
        ctx: &TailContext,
        format: &'a mut TargetFormat,
        file: &'a mut Option<FileOut>,
    ) -> Sinks<'a> {
        Sinks {
            stdout: ctx.stdout.then_some(format),
            file: file.as_mut(),
        }
    }

    fn reserve(&self, batch: &mut Batch, n: usize) {
        if self.stdout.is_some() {
            batch.stdout.reserve(n);
        }
        if self.file.is_some() {
            batch.file.reserve(n);
        }
    }

    /// The first line a template failed on, in either rendering.
    fn take_template_failure(&mut self) -> Option<String> {
        let stdout = self
            .stdout
            .as_deref_mut()
            .and_then(TargetFormat::take_template_failure);
        let file = self
            .file
            .as_deref_mut()
            .and_then(|f| f.format.take_template_failure());
        stdout.or(file)
    }

    fn line(&mut self, batch: &mut Batch, timestamp: &[u8], second: Option<i64>, message: &[u8]) {
        if let Some(f) = self.stdout.as_deref_mut() {
            f.write_line(&mut batch.stdout, timestamp, second, message);
        }
        if let Some(f) = self.file.as_deref_mut() {
            f.format
                .write_line(&mut batch.file, timestamp, second, message);
        }
    }
}

struct Tail<'a> {
    ctx: &'a TailContext,
    api: Api<Pod>,
    cursor: ResumeCursor,
    splitter: LineSplitter,
    announced: bool,
    label: String,
}

impl<'a> Tail<'a> {
    fn new(ctx: &'a TailContext, job: &TailJob) -> Tail<'a> {
        let k = &job.target.key;
        Tail {
            ctx,
            api: Api::namespaced(ctx.client.clone(), &k.namespace),
            cursor: ResumeCursor::default(),
            splitter: LineSplitter::default(),
            announced: false,
            label: format!("{}/{} › {}", k.namespace, k.pod, k.container),
        }
    }

    async fn run(&mut self, job: &mut TailJob) -> TailEnd {
        let mut mode = match job.target.state {
            InstanceState::Running if self.ctx.follow => Mode::Follow,
            InstanceState::Previous => Mode::Once { previous: true },
            _ => Mode::Once { previous: false },
        };
        let mut backoff = Backoff::new();
        let mut failures = 0u32;
        // Requests failed in a row since a stream last opened.
        let mut outage = 0u32;
        loop {
            let (reader, moved) = match self.open(job, mode).await {
                Ok(r) => {
                    outage = 0;
                    (Some(r), None)
                }
                // The request may have reached another instance: find ours again.
                Err(OpenError::Moved(msg)) => (None, Some(msg)),
                Err(OpenError::Final(msg)) => {
                    self.warn(msg).await;
                    return TailEnd::Failed;
                }
                Err(OpenError::PodGone) => {
                    if self.announced {
                        // Deleted between our look at the instance and the read that was
                        // to finish it. An instance that ended is trusted to have been
                        // drained by its follow stream (the kubelet ends it only then), as
                        // every rollout deletes pods right after their containers stop.
                        // One replaced by a restart may have been cut before: say so.
                        if mode != (Mode::Once { previous: true }) {
                            return TailEnd::Complete;
                        }
                        return self
                            .gone(Some(
                                "the pod was deleted before the rest of its log was read".into(),
                            ))
                            .await;
                    }
                    self.warn("the pod was deleted before ktail could read its log".into())
                        .await;
                    return TailEnd::Failed;
                }
                Err(OpenError::Retry(msg)) => {
                    failures += 1;
                    self.note_failure(&mut outage, &msg).await;
                    if !self.ctx.follow && failures >= NO_FOLLOW_ATTEMPTS {
                        self.warn(msg).await;
                        return TailEnd::Failed;
                    }
                    if self.wait(job, backoff.next_delay()).await {
                        return TailEnd::Cut;
                    }
                    continue;
                }
            };
            let broken = match reader {
                None => moved,
                Some(reader) => {
                    if !self.announced {
                        self.announced = true;
                        if let Some(file) = &job.file {
                            let _ = self.ctx.out.send(Out::FileOpen(file.path.clone())).await;
                        }
                        if self.ctx.notices {
                            let _ = self
                                .ctx
                                .out
                                .send(Out::Notice(job.format.added_notice().to_vec()))
                                .await;
                        }
                    }
                    match self.stream(job, reader, mode, &mut backoff).await {
                        StreamEnd::Stop(end) => return end,
                        StreamEnd::Clean => {
                            self.flush_partial(job).await;
                            if mode != Mode::Follow {
                                return TailEnd::Complete;
                            }
                            None
                        }
                        StreamEnd::Broken(msg) => {
                            self.splitter.discard();
                            Some(msg)
                        }
                    }
                }
            };
            let resolve = self.ctx.follow || broken.is_some() && reader_moved(&broken);
            if !resolve {
                // A broken one-shot read: read again from the cursor.
                failures += 1;
                if failures >= NO_FOLLOW_ATTEMPTS {
                    self.warn(format!(
                        "the log stream broke: {}",
                        broken.unwrap_or_default()
                    ))
                    .await;
                    return TailEnd::Failed;
                }
                if self.wait(job, backoff.next_delay()).await {
                    return TailEnd::Cut;
                }
                continue;
            }
            // Where does the instance stand now?
            mode = loop {
                match self.api.get_opt(&job.target.key.pod).await {
                    Ok(Some(pod)) => match instance_state(&pod, &job.target.key) {
                        InstanceState::Running if self.ctx.follow => break Mode::Follow,
                        InstanceState::Running => break Mode::Once { previous: false },
                        InstanceState::Terminated => break Mode::Once { previous: false },
                        InstanceState::Previous => break Mode::Once { previous: true },
                        InstanceState::Waiting | InstanceState::Gone => {
                            return self.gone(broken).await;
                        }
                    },
                    Ok(None) => return self.gone(broken).await,
                    Err(e) => {
                        let msg = crate::kube::client::describe_error(&e);
                        self.note_failure(&mut outage, &msg).await;
                        if self.wait(job, backoff.next_delay()).await {
                            return TailEnd::Cut;
                        }
                    }
                }
            };
            if mode == Mode::Follow
                && broken.is_some()
                && self.wait(job, backoff.next_delay()).await
            {
                return TailEnd::Cut;
            }
        }
    }

    /// Counts a failed request of a follow tail; the `OUTAGE_WARNING`th in a row without a
    /// stream opening in between is said once, so a container that cannot be streamed
    /// for long (API errors, no descriptors left) is not silently missing.
    async fn note_failure(&self, outage: &mut u32, msg: &str) {
        *outage += 1;
        if self.ctx.follow && *outage == OUTAGE_WARNING {
            self.warn(format!(
                "{OUTAGE_WARNING} attempts in a row to open the log stream failed, the last with: {msg}; ktail keeps retrying"
            ))
            .await;
        }
    }

    /// The instance left the pod's status (or the pod is gone). After a clean end the log
    /// was complete; after a break, lines logged after the cursor may be lost.
    async fn gone(&mut self, broken: Option<String>) -> TailEnd {
        match broken {
            None => TailEnd::Complete,
            Some(msg) => {
                self.warn(format!(
                    "the log stream broke ({msg}) and the container instance is gone: lines after {} may be missing",
                    describe_second(self.cursor.second)
                ))
                .await;
                TailEnd::Failed
            }
        }
    }

    fn params(&self, job: &TailJob, mode: Mode) -> LogParams {
        let mut lp = LogParams {
            container: Some(job.target.key.container.clone()),
            follow: mode == Mode::Follow,
            previous: mode == (Mode::Once { previous: true }),
            timestamps: true,
            ..LogParams::default()
        };
        if let Some(second) = self.cursor.second {
            lp.since_time = jiff::Timestamp::from_second(second).ok();
        } else if job.history {
            let since = self.ctx.since.as_secs();
            if let Some(t) = self.ctx.since_time {
                lp.since_time = Some(t);
            } else if since > 0 {
                lp.since_seconds = Some(since.min(i64::MAX as u64) as i64);
            }
            lp.tail_lines = self.ctx.tail.map(|t| t.min(i64::MAX as u64) as i64);
        }
        lp
    }

    async fn open(&mut self, job: &TailJob, mode: Mode) -> Result<Reader, OpenError> {
        let lp = self.params(job, mode);
        match self.api.log_stream(&job.target.key.pod, &lp).await {
            Ok(r) => {
                // The kubelet serves whichever instance is current (or last, with
                // `previous`) when the request arrives; instances cannot be named. If ours
                // still holds that place now, after the headers, it held it when the
                // request was resolved (restarts only move forward).
                let checked = {
                    let _permit = self.ctx.checks.acquire().await;
                    self.api.get_opt(&job.target.key.pod).await
                };
                match checked {
                    Ok(Some(pod)) => {
                        let state = instance_state(&pod, &job.target.key);
                        let ours = match mode {
                            Mode::Once { previous: true } => state == InstanceState::Previous,
                            _ => {
                                matches!(state, InstanceState::Running | InstanceState::Terminated)
                            }
                        };
                        if !ours {
                            return Err(OpenError::Moved(MOVED.to_string()));
                        }
                    }
                    // Gone since: what the response holds is the end of our instance.
                    Ok(None) => {}
                    // Unverifiable now: do not read what may be another instance.
                    Err(e) => return Err(OpenError::Retry(crate::kube::client::describe_error(&e))),
                }
                Ok(Box::pin(r))
            }
            Err(kube::Error::Api(status)) => {
                let code = status.code;
                if code == 404 {
                    Err(OpenError::PodGone)
                } else if code == 429 || code >= 500 {
                    Err(OpenError::Retry(status.message.clone()))
                } else {
                    Err(OpenError::Final(status.message.clone()))
                }
            }
            Err(e) => Err(OpenError::Retry(crate::kube::client::describe_error(&e))),
        }
    }

    /// Reads one response to its end, sending formatted batches to the writer.
    async fn stream(
        &mut self,
        job: &mut TailJob,
        mut reader: Reader,
        mode: Mode,
        backoff: &mut Backoff,
    ) -> StreamEnd {
        let follow = mode == Mode::Follow;
        let mut replay = Replay::new(&self.cursor);
        let mut sinks = Sinks::new(self.ctx, &mut job.format, &mut job.file);
        let mut removed_at: Option<tokio::time::Instant> = None;
        let mut stop = self.ctx.shutdown.subscribe();
        loop {
            let deadline = match removed_at {
                Some(t) => t + DELETE_GRACE,
                // A follow stream silent for `--silence-timeout` is re-opened through the
                // resume path: a half-dead connection behind a proxy must not stop the
                // output for ever.
                None if follow && self.ctx.silence.is_some() => {
                    tokio::time::Instant::now() + self.ctx.silence.unwrap_or_default()
                }
                None => tokio::time::Instant::now() + Duration::from_secs(24 * 3600),
            };
            let chunk = tokio::select! {
                r = reader.fill_buf() => r,
                _ = tokio::time::sleep_until(deadline) => {
                    if removed_at.is_some() {
                        return StreamEnd::Stop(TailEnd::Cut);
                    }
                    return StreamEnd::Broken("no data for --silence-timeout".into());
                }
                _ = removed(&mut job.removed), if removed_at.is_none() => {
                    removed_at = Some(tokio::time::Instant::now());
                    continue;
                }
                // Everything already received has been sent: stop here.
                _ = stop.wait_for(|s| *s) => return StreamEnd::Stop(TailEnd::Cut),
            };
            let mut batch = Batch::default();
            let mut gap = None;
            let mut end = None;
            // While a resume is being replayed, keep the cursor as it was: if the lines
            // turn out to belong to another instance, they are dropped and read again.
            let saved = replay
                .as_ref()
                .filter(|r| !r.is_done())
                .map(|_| self.cursor.clone());
            match chunk {
                Ok([]) => return StreamEnd::Clean,
                Ok(buf) => {
                    let n = buf.len();
                    gap = gap.or(self.handle_chunk(buf, &mut replay, &mut sinks, &mut batch));
                    reader.as_mut().consume(n);
                }
                Err(e) => return StreamEnd::Broken(e.to_string()),
            }
            backoff.reset();
            // Take whatever else is already readable into the same batch: with one HTTP
            // chunk per line (the kubelet flushes per line) this turns many channel
            // messages into one.
            let mut yields = 0;
            while batch.len() < BATCH_BYTES {
                match reader.fill_buf().now_or_never() {
                    // Nothing decoded yet. With one HTTP chunk per line the connection
                    // task hands over one chunk per wake-up, so a small batch would cost a
                    // channel message, a writer wake-up and a write(2) per line; letting
                    // it run a few times first batches what its read buffer already holds.
                    None if yields < SMALL_BATCH_YIELDS && batch.len() < SMALL_BATCH => {
                        yields += 1;
                        tokio::task::yield_now().await;
                    }
                    None => break,
                    Some(Ok([])) => {
                        end = Some(StreamEnd::Clean);
                        break;
                    }
                    Some(Ok(buf)) => {
                        let n = buf.len();
                        gap = gap.or(self.handle_chunk(buf, &mut replay, &mut sinks, &mut batch));
                        reader.as_mut().consume(n);
                        // More came: keep collecting while the stream is this busy.
                        yields = 0;
                    }
                    Some(Err(e)) => {
                        end = Some(StreamEnd::Broken(e.to_string()));
                        break;
                    }
                }
            }
            if gap.is_some()
                && let Some(saved) = saved
                && mode != (Mode::Once { previous: true })
                && self.instance_replaced(&job.target.key).await
            {
                // The kubelet serves the container's current instance: it restarted
                // between our state check and this request, so these lines are the new
                // instance's (its own tail prints them). Read ours as the previous one.
                self.cursor = saved;
                return StreamEnd::Broken(MOVED.into());
            }
            if let Some((from, to)) = gap {
                let msg = format!(
                    "{}: lines logged between {} and {} may be missing (the log was rotated or cut while ktail reconnected)",
                    self.label,
                    describe_second(Some(from)),
                    describe_second(Some(to))
                );
                if self.ctx.out.send(Out::Warning(msg)).await.is_err() {
                    return StreamEnd::Stop(TailEnd::Cut);
                }
            }
            if let Some(why) = sinks.take_template_failure() {
                self.warn(template_warning(&why)).await;
            }
            if !batch.is_empty() && self.send(batch, &sinks).await.is_err() {
                return StreamEnd::Stop(TailEnd::Cut);
            }
            if let Some(end) = end {
                return end;
            }
        }
    }

    /// Whether the instance this tail reads has been replaced by a newer one.
    async fn instance_replaced(&self, key: &crate::kube::target::TargetKey) -> bool {
        match self.api.get_opt(&key.pod).await {
            Ok(Some(pod)) => instance_state(&pod, key) == InstanceState::Previous,
            _ => false,
        }
    }

    /// Splits, de-duplicates, filters and formats the lines of one chunk into `batch`.
    /// Returns a gap when a resumed stream could not prove continuity.
    fn handle_chunk(
        &mut self,
        buf: &[u8],
        replay: &mut Option<Replay>,
        sinks: &mut Sinks,
        batch: &mut Batch,
    ) -> Option<(i64, i64)> {
        let mut gap = None;
        let (cursor, filter) = (&mut self.cursor, &self.ctx.filter);
        sinks.reserve(batch, buf.len() + buf.len() / 2);
        self.splitter.feed(buf, |raw| {
            let line = parse_line(raw);
            let key = line_key(&line);
            if let Some(r) = replay.as_mut() {
                match r.check_line(line.second, key, line.timestamp) {
                    Resume::Skip => return,
                    Resume::Take => {}
                    Resume::Gap { from, to } => gap = Some((from, to)),
                }
            }
            cursor.advance_line(line.second, key, line.timestamp);
            if filter.keeps(line.message) {
                sinks.line(batch, line.timestamp, line.second, line.message);
            }
        });
        gap
    }

    async fn send(&self, batch: Batch, sinks: &Sinks<'_>) -> Result<(), ()> {
        let out = &self.ctx.out;
        if !batch.stdout.is_empty() {
            out.send(Out::Lines(batch.stdout)).await.map_err(|_| ())?;
        }
        if let Some(file) = &sinks.file
            && !batch.file.is_empty()
        {
            let path = file.path.clone();
            out.send(Out::File(path, batch.file))
                .await
                .map_err(|_| ())?;
        }
        Ok(())
    }

    /// A last line without a newline at a clean end of stream is still a line.
    async fn flush_partial(&mut self, job: &mut TailJob) {
        let mut batch = Batch::default();
        let mut sinks = Sinks::new(self.ctx, &mut job.format, &mut job.file);
        let (cursor, filter) = (&mut self.cursor, &self.ctx.filter);
        self.splitter.finish(|raw| {
            let line = parse_line(raw);
            cursor.advance_line(line.second, line_key(&line), line.timestamp);
            if filter.keeps(line.message) {
                sinks.line(&mut batch, line.timestamp, line.second, line.message);
            }
        });
        if !batch.is_empty() {
            let _ = self.send(batch, &sinks).await;
        }
    }

    async fn warn(&self, msg: String) {
        let _ = self
            .ctx
            .out
            .send(Out::Warning(format!("{}: {msg}", self.label)))
            .await;
    }

    /// Sleeps `d`, or less if the pod is removed meanwhile; true when the tail should stop.
    async fn wait(&self, job: &mut TailJob, d: Duration) -> bool {
        let mut stop = self.ctx.shutdown.subscribe();
        if *job.removed.borrow() || *stop.borrow() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = removed(&mut job.removed) => true,
            _ = stop.wait_for(|s| *s) => true,
        }
    }
}

/// Resolves once the pod is reported removed; never when nothing can report it (the
/// sender is gone, as with `--no-follow`, which has no watch).
async fn removed(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|gone| *gone).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Why a read was abandoned after a restart raced with it.
const MOVED: &str = "the container restarted while ktail opened its log";

fn reader_moved(broken: &Option<String>) -> bool {
    broken.as_deref() == Some(MOVED)
}

enum OpenError {
    /// The request may have reached another instance of the container.
    Moved(String),
    /// The API's answer will not change: the tail ends with this warning.
    Final(String),
    /// The pod does not exist (any more).
    PodGone,
    /// Worth another try after a backoff.
    Retry(String),
}

/// The warning for a line a `--template` failed on (printed once per container).
pub fn template_warning(why: &str) -> String {
    format!("--template failed on a line ({why}); lines it fails on are printed as they came")
}

fn describe_second(second: Option<i64>) -> String {
    second
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.to_string())
        .unwrap_or_else(|| "the start of the log".into())
}

/// Jittered exponential backoff for reconnects, capped low because ktail is interactive:
/// 100 ms, 200 ms, … up to 2 s, reset by any data.
pub struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_secs(2);

    pub fn new() -> Backoff {
        Backoff {
            next: Backoff::FIRST,
        }
    }

    pub fn reset(&mut self) {
        self.next = Backoff::FIRST;
    }

    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(Backoff::CAP);
        // ±25 % jitter so that many streams cut at once do not reconnect in lockstep.
        let jitter = jitter_fraction();
        d.mul_f64(0.75 + 0.5 * jitter)
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new()
    }
}

/// A number in [0, 1) that differs per call, without a random-number crate.
fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_a_low_cap_and_resets() {
        let mut b = Backoff::new();
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(75) && first <= Duration::from_millis(125));
        for _ in 0..10 {
            b.next_delay();
        }
        let capped = b.next_delay();
        assert!(capped <= Duration::from_millis(2500), "{capped:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(125));
    }
}
