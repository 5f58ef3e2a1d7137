//! The I/O of one container instance's tail: request its log, read and render it, look
//! at its pod when a stream ends, wait between attempts. Every decision is the state
//! machine's (`machine`); this module carries them out.
//!
//! The reconnect contract (stern's `tail.go`, improved): timestamps are always requested
//! (and stripped unless `-t`), a `ResumeCursor` remembers the last second and the lines
//! that carried it, and a reconnect asks for `sinceTime` and skips exactly those lines.
//!
//! A line longer than a piece (`lines::PIECE_BYTES`) is handled piece by piece and never
//! held whole. While its pieces are in flight the tail holds the writer (`Sinks::hold`);
//! it lets go when the line ends, when its stream ends, and when no more of the line has
//! come for `HOLD_STALL`, so a container that stops in the middle of a long line (a
//! progress bar without newlines) does not stop everyone else's output: its record is
//! then ended with the `CONTINUES` marker and the line goes on in a record of its own. If
//! the stream breaks within a long line, the cursor remembers how much of it was handled
//! (`ResumeCursor::open`), and the resumed stream skips exactly that much of it.

use std::pin::Pin;
use std::time::Duration;

use futures::{AsyncBufRead, AsyncBufReadExt, FutureExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::LogParams;
use tokio::sync::watch;

use crate::backoff::Backoff;
use crate::kube::client::describe_error;
use crate::kube::failure;
use crate::kube::target::{InstanceState, Target, TargetKey, instance_state};
use crate::output::writer::{BATCH_BYTES, Out};
use crate::render::filter::LineFilter;
use crate::render::time::parse_rfc3339_nanos;
use crate::tail::context::{Presence, TailContext, TailEnd, split_warning, template_warning};
use crate::tail::lines::{
    API_TIMESTAMP_BYTES, Line, LineSplitter, Part, parse_line, split_timestamp,
};
use crate::tail::machine::{
    Break, Located, Machine, Mode, OpenError, Step, StreamEnd, Warning, describe_second,
};
use crate::tail::resume::{Replay, Resume, ResumeCursor, line_key, long_line_key};
use crate::tail::sinks::{Batch, Sinks};

/// After the watch reports the pod deleted, its streams get this long to drain by
/// themselves (the kubelet ends them when the containers stop) before they are cut.
const DELETE_GRACE: Duration = Duration::from_secs(5);
/// After the watch reports a container instance terminated, its follow stream is helped
/// to its end once it has been idle this long: the kubelet holds such a stream open until
/// its next state check (up to 5 s), so the rest of the log is read in one request from
/// the cursor instead, and a finished container is done within a moment.
const ENDED_IDLE: Duration = Duration::from_millis(250);
/// That one request must end within this time and this size, or it is abandoned and the
/// follow stream goes on as if nothing happened.
const FINISH_TIME: Duration = Duration::from_secs(10);
const FINISH_BYTES: usize = 8 << 20;
/// A batch smaller than this waits up to `SMALL_BATCH_YIELDS` scheduler turns in a row
/// for more: a busy stream fills it, a quiet one sends after three empty turns.
const SMALL_BATCH: usize = 4096;
const SMALL_BATCH_YIELDS: u32 = 3;
/// A tail in the middle of a long line lets the writer go when no more of the line has
/// come for this long.
const HOLD_STALL: Duration = Duration::from_secs(1);

type Reader = Pin<Box<dyn AsyncBufRead + Send>>;

/// One container instance's tail.
pub(crate) struct ContainerTail<'a> {
    ctx: &'a TailContext,
    api: Api<Pod>,
    target: Target,
    /// `--since`/`--tail` apply: the instance existed when ktail started.
    history: bool,
    /// What the watch says of the instance: ended, or gone with its pod.
    presence: watch::Receiver<Presence>,
    sinks: Sinks,
    cursor: ResumeCursor,
    splitter: LineSplitter,
    /// The long line being read, once its first piece was.
    long: Option<LongLine>,
    machine: Machine,
    backoff: Backoff,
    /// `--until` as (second, nanosecond): a line after it ends the stream.
    until: Option<(i64, u32)>,
    /// A line after `--until` was read: the window is printed.
    past_until: bool,
    /// `ns/pod › container`, for warnings.
    label: String,
}

impl<'a> ContainerTail<'a> {
    pub(crate) fn new(
        ctx: &'a TailContext,
        api: Api<Pod>,
        target: Target,
        history: bool,
        presence: watch::Receiver<Presence>,
        sinks: Sinks,
    ) -> ContainerTail<'a> {
        let k = &target.key;
        let label = format!("{} › {}", k.pod_path(), k.container);
        ContainerTail {
            ctx,
            api,
            history,
            presence,
            sinks,
            cursor: ResumeCursor::default(),
            splitter: LineSplitter::with_lead(API_TIMESTAMP_BYTES),
            long: None,
            machine: Machine::new(ctx.settings.follow),
            backoff: Backoff::stream(),
            until: ctx
                .settings
                .until
                .map(|t| (t.as_second(), t.subsec_nanosecond() as u32)),
            past_until: false,
            label,
            target,
        }
    }

    /// Whether a stream ever opened (the `+` notice was given).
    pub(crate) fn announced(&self) -> bool {
        self.machine.announced()
    }

    pub(crate) fn sinks(&self) -> &Sinks {
        &self.sinks
    }

    pub(crate) fn into_sinks(self) -> Sinks {
        self.sinks
    }

    /// Runs the state machine to its end. The futures of the steps taken now and then
    /// (opening, locating, finishing) are boxed while they run: a followed container's
    /// task then holds only what streaming needs, thousands of times over.
    pub(crate) async fn run(&mut self) -> TailEnd {
        let mut step = self.machine.start(self.target.state);
        loop {
            let transition = match step {
                Step::Open(mode) => match Box::pin(self.open(mode)).await {
                    Ok((reader, proven)) => {
                        if self.machine.opened() {
                            self.announce().await;
                        }
                        let end = self.stream(reader, mode, proven).await;
                        match end {
                            StreamEnd::Clean => Box::pin(self.flush_partial()).await,
                            // The partial line is dropped; the resume fetches it again
                            // and skips what was printed of it.
                            StreamEnd::Broken(_) => {
                                self.splitter.discard();
                                self.long = None;
                            }
                            StreamEnd::Stop(_) => {}
                        }
                        // A streamed long line that did not end is ended with the
                        // marker, and the writer is free for the others.
                        let _ = self.let_go().await;
                        self.machine.stream_ended(mode, end)
                    }
                    Err(e) => self.machine.open_failed(mode, e),
                },
                Step::Locate { broken } => {
                    let at = Box::pin(self.locate()).await;
                    self.machine.located(broken, at)
                }
                Step::Backoff(then) => {
                    let delay = self.backoff.next_delay();
                    match self.wait(delay).await {
                        Waited::Out => {
                            step = *then;
                            continue;
                        }
                        Waited::Stopped => return TailEnd::Cut,
                        // Its log went with it: what was not read yet cannot be.
                        Waited::Removed => self.machine.removed(*then),
                    }
                }
                Step::Done(end) => return end,
            };
            if let Some(w) = transition.warning {
                self.warn(w).await;
            }
            step = transition.step;
        }
    }

    /// `+ pod › container`, and the container's file, when its first stream opens.
    async fn announce(&self) {
        if let Some(file) = &self.sinks.file {
            let _ = self.ctx.out.send(Out::FileOpen(file.path.clone())).await;
        }
        if self.ctx.settings.notices {
            let notice = self.ctx.notice(self.sinks.stdout.added_notice());
            let _ = self.ctx.out.send(notice).await;
        }
    }

    fn params(&self, mode: Mode) -> LogParams {
        let mut lp = LogParams {
            container: Some(self.target.key.container.clone()),
            follow: mode == Mode::Follow,
            previous: mode == (Mode::Once { previous: true }),
            timestamps: true,
            ..LogParams::default()
        };
        let s = &self.ctx.settings;
        if let Some(second) = self.cursor.second {
            lp.since_time = jiff::Timestamp::from_second(second).ok();
        } else if self.history {
            let since = s.since.as_secs();
            if let Some(t) = s.since_time {
                lp.since_time = Some(t);
            } else if since > 0 {
                lp.since_seconds = Some(since.min(i64::MAX as u64) as i64);
            }
            lp.tail_lines = s.tail.map(|t| t.min(i64::MAX as u64) as i64);
        }
        lp
    }

    /// Opens a stream in `mode`, and says whether it is proven to serve this tail's
    /// instance; one that is not is read only from the cursor, and only once a line of
    /// it proves it (see `stream`).
    async fn open(&mut self, mode: Mode) -> Result<(Reader, bool), OpenError> {
        let lp = self.params(mode);
        let key = &self.target.key;
        match self.api.log_stream(&key.pod, &lp).await {
            Ok(r) => {
                // The kubelet serves whichever instance is current (or last, with
                // `previous`) when the request arrives; instances cannot be named. If ours
                // still holds that place after the headers, it held it when the request
                // was resolved (restarts only move forward): a look at the pod proves it.
                // The pod watch cannot: its news of a restart may still be on the way.
                // `--no-follow` reads each container the list showed once, as kubectl
                // and stern do, without the look: one request per container, not two.
                let look = self.ctx.settings.follow || mode == (Mode::Once { previous: true });
                let proven = !look || self.check_instance(mode).await?;
                // Without a cursor no line can prove it either.
                if !proven && self.cursor.second.is_none() {
                    return Err(OpenError::Unproven);
                }
                Ok((Box::pin(r), proven))
            }
            Err(kube::Error::Api(status)) => {
                let code = status.code;
                if code == 404 {
                    Err(OpenError::PodGone)
                } else if code == 401 {
                    // Refused although the credentials were renewed for this request
                    // (`kube::auth`): they may come back (a new login, a rotated file);
                    // the run gives up on them as a whole, not one tail at a time.
                    Err(OpenError::Retry(describe_error(&kube::Error::Api(status))))
                } else if code == 429 || code >= 500 {
                    Err(OpenError::Retry(status.message.clone()))
                } else {
                    Err(OpenError::Final(status.message.clone()))
                }
            }
            Err(e) => Err(OpenError::Retry(describe_error(&e))),
        }
    }

    /// Whether the stream just opened in `mode` serves this tail's instance, by a look at
    /// its pod: `Moved` if not, false if the pod is gone and the look cannot tell.
    async fn check_instance(&self, mode: Mode) -> Result<bool, OpenError> {
        let key = &self.target.key;
        let checked = {
            let _permit = self.ctx.checks.acquire().await;
            self.api.get_opt(&key.pod).await
        };
        match checked {
            Ok(Some(pod)) => {
                let state = instance_state(&pod, key);
                let ours = match mode {
                    Mode::Once { previous: true } => state == InstanceState::Previous,
                    _ => matches!(state, InstanceState::Running | InstanceState::Terminated),
                };
                if ours {
                    Ok(true)
                } else {
                    Err(OpenError::Moved)
                }
            }
            // Gone since. The response holds the end of the instance that was current
            // when the request arrived: ours, or one that replaced it before (the watch
            // may not have told of the restart yet), whose lines its own tail prints.
            Ok(None) => Ok(false),
            // Unverifiable now: do not read what may be another instance.
            Err(e) => Err(OpenError::Retry(describe_error(&e))),
        }
    }

    /// Where the instance stands now.
    async fn locate(&self) -> Located {
        let key = &self.target.key;
        match self.api.get_opt(&key.pod).await {
            Ok(Some(pod)) => match instance_state(&pod, key) {
                InstanceState::Running => Located::Running,
                InstanceState::Terminated => Located::Terminated,
                InstanceState::Previous => Located::Previous,
                InstanceState::Waiting | InstanceState::Gone => Located::Gone,
            },
            Ok(None) => Located::Gone,
            Err(e) => Located::Failed(describe_error(&e)),
        }
    }

    /// Reads one response to its end, sending formatted batches to the writer. A stream
    /// not `proven` to serve this tail's instance prints nothing until a line of it
    /// does (`Replay::vouched`); one that ends first, or sends a line it did not read
    /// before, may be a later instance's: `Break::Unproven`.
    async fn stream(&mut self, mut reader: Reader, mode: Mode, mut proven: bool) -> StreamEnd {
        let follow = mode == Mode::Follow;
        let mut replay = Replay::new(&self.cursor);
        let mut removed_at: Option<tokio::time::Instant> = None;
        let mut ended = *self.presence.borrow_and_update() == Presence::Ended;
        let mut finish = false;
        let mut stop = self.ctx.shutdown.subscribe();
        let silence = self.ctx.settings.silence;
        // No more of a long line came for `HOLD_STALL`: let the writer go.
        let mut stalled = false;
        loop {
            if std::mem::take(&mut stalled) && self.let_go().await.is_err() {
                return StreamEnd::Stop(TailEnd::Cut);
            }
            if std::mem::take(&mut finish)
                && let Some(end) = Box::pin(self.finish_ended()).await
            {
                return end;
            }
            let now = tokio::time::Instant::now();
            let deadline = match removed_at {
                Some(t) => t + DELETE_GRACE,
                None if ended && follow => now + ENDED_IDLE,
                // A follow stream silent for `--silence-timeout` is re-opened through the
                // resume path: a half-dead connection behind a proxy must not stop the
                // output for ever.
                None => match silence.filter(|_| follow) {
                    Some(d) => now + d,
                    None => now + Duration::from_secs(24 * 3600),
                },
            };
            let chunk = tokio::select! {
                r = reader.fill_buf() => r,
                _ = tokio::time::sleep(HOLD_STALL), if self.sinks.holding() => {
                    stalled = true;
                    continue;
                }
                _ = tokio::time::sleep_until(deadline) => {
                    if removed_at.is_some() {
                        return StreamEnd::Stop(TailEnd::Cut);
                    }
                    if !(ended && follow) {
                        return StreamEnd::Broken(Break::Silent);
                    }
                    // Once per end: if the rest cannot be read now, the kubelet closes
                    // this stream at its next state check.
                    ended = false;
                    finish = true;
                    continue;
                }
                p = presence_changed(&mut self.presence), if removed_at.is_none() => {
                    match p {
                        Presence::Gone => removed_at = Some(now),
                        Presence::Ended => ended = true,
                        Presence::Live => {}
                    }
                    continue;
                }
                // Everything already received has been sent: stop here.
                _ = stop.wait_for(|s| *s) => return StreamEnd::Stop(TailEnd::Cut),
            };
            let mut batch = Batch::default();
            let mut gap = None;
            let mut end = None;
            // While a resume is being replayed, or the stream is unproven, keep the cursor
            // (and the open record) as it was: if the lines turn out to belong to another
            // instance, they are dropped, and ours is read again where it can be.
            let saved = (!proven || replay.as_ref().is_some_and(|r| !r.is_done()))
                .then(|| (self.cursor.clone(), self.sinks.open));
            match chunk {
                Ok([]) if !proven => return StreamEnd::Broken(Break::Unproven),
                Ok([]) => return StreamEnd::Clean,
                Ok(buf) => {
                    let n = buf.len();
                    gap = gap.or(self.handle_chunk(buf, &mut replay, &mut batch));
                    reader.as_mut().consume(n);
                }
                Err(e) => return StreamEnd::Broken(Break::Io(failure::describe(&e))),
            }
            self.backoff.reset();
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
                        gap = gap.or(self.handle_chunk(buf, &mut replay, &mut batch));
                        reader.as_mut().consume(n);
                        // More came: keep collecting while the stream is this busy.
                        yields = 0;
                    }
                    Some(Err(e)) => {
                        end = Some(StreamEnd::Broken(Break::Io(failure::describe(&e))));
                        break;
                    }
                }
            }
            if !proven {
                proven = replay.as_ref().is_some_and(Replay::vouched);
                let unproven = !proven && (!batch.is_empty() || gap.is_some() || end.is_some());
                if unproven && let Some((cursor, open)) = saved {
                    // A line ktail did not read before came first, or the stream ended
                    // before a line could prove it: what it sent may be a later
                    // instance's. Its lines are dropped; where ours stands decides.
                    self.cursor = cursor;
                    self.sinks.open = open;
                    return StreamEnd::Broken(Break::Unproven);
                }
            }
            if gap.is_some()
                && let Some((cursor, open)) = saved
                && mode != (Mode::Once { previous: true })
                && Box::pin(self.instance_replaced()).await
            {
                // The kubelet serves the container's current instance: it restarted
                // between our state check and this request, so these lines are the new
                // instance's (its own tail prints them). Read ours as the previous one.
                self.cursor = cursor;
                self.sinks.open = open;
                return StreamEnd::Broken(Break::Moved);
            }
            if let Some((from, to)) = gap {
                let msg = format!(
                    "{}: lines logged between {} and {} may be missing (the log was rotated or cut while ktail reconnected)",
                    self.label,
                    describe_second(Some(from)),
                    describe_second(Some(to))
                );
                if self
                    .sinks
                    .out(&self.ctx.out)
                    .send(Out::Warning(msg))
                    .await
                    .is_err()
                {
                    return StreamEnd::Stop(TailEnd::Cut);
                }
            }
            if let Some(why) = self.sinks.take_template_failure() {
                self.warn(Warning::Api(template_warning(&why))).await;
            }
            if self.send(batch).await.is_err() {
                return StreamEnd::Stop(TailEnd::Cut);
            }
            // The log goes on past --until: everything in the window is printed.
            if self.past_until {
                return StreamEnd::Stop(TailEnd::Complete);
            }
            if let Some(end) = end {
                return end;
            }
        }
    }

    /// The watch says the instance ended and its follow stream has gone quiet: read the
    /// rest of its log in one request from the cursor rather than wait for the kubelet to
    /// close the stream. The lines are printed only if that read reaches the end of the
    /// log; otherwise cursor and splitter are as they were and the follow stream, still
    /// open, goes on (`None`). Nothing can be lost or printed twice either way.
    async fn finish_ended(&mut self) -> Option<StreamEnd> {
        let mode = match self.locate().await {
            Located::Terminated => Mode::Once { previous: false },
            Located::Previous => Mode::Once { previous: true },
            _ => return None,
        };
        // A read the pod's deletion left unproven is not one to finish with: the follow
        // stream, proven, goes on to its end.
        let (mut reader, proven) = self.open(mode).await.ok()?;
        if !proven {
            return None;
        }
        let (cursor, splitter, past_until, long, open) = (
            self.cursor.clone(),
            std::mem::replace(
                &mut self.splitter,
                LineSplitter::with_lead(API_TIMESTAMP_BYTES),
            ),
            self.past_until,
            self.long.clone(),
            self.sinks.open,
        );
        let mut replay = Replay::new(&self.cursor);
        let mut batch = Batch::default();
        let read = tokio::time::timeout(FINISH_TIME, async {
            loop {
                match reader.fill_buf().await {
                    Ok([]) => return true,
                    Ok(buf) => {
                        let n = buf.len();
                        let gap = self.handle_chunk(buf, &mut replay, &mut batch);
                        reader.as_mut().consume(n);
                        if gap.is_some() || batch.len() > FINISH_BYTES {
                            return false;
                        }
                    }
                    Err(_) => return false,
                }
            }
        });
        if read.await != Ok(true) {
            self.cursor = cursor;
            self.splitter = splitter;
            self.past_until = past_until;
            self.long = long;
            self.sinks.open = open;
            return None;
        }
        if self.send(batch).await.is_err() {
            return Some(StreamEnd::Stop(TailEnd::Cut));
        }
        self.flush_partial().await;
        Some(StreamEnd::Stop(TailEnd::Complete))
    }

    /// Whether the instance this tail reads has been replaced by a newer one.
    async fn instance_replaced(&self) -> bool {
        let key: &TargetKey = &self.target.key;
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
        batch: &mut Batch,
    ) -> Option<(i64, i64)> {
        let mut gap = None;
        self.sinks.reserve(batch, buf.len() + buf.len() / 2);
        let (mut lines, splitter) = self.lines();
        splitter.feed(buf, |raw, part| {
            if let Some(g) = lines.handle(raw, part, replay, batch) {
                gap = Some(g);
            }
        });
        gap
    }

    /// What handling lines needs, beside the splitter that hands them out.
    fn lines(&mut self) -> (Lines<'_>, &mut LineSplitter) {
        let lines = Lines {
            cursor: &mut self.cursor,
            sinks: &mut self.sinks,
            filter: &self.ctx.settings.filter,
            until: self.until,
            past_until: &mut self.past_until,
            long: &mut self.long,
        };
        (lines, &mut self.splitter)
    }

    /// A last line without a newline at a clean end of stream is still a line.
    async fn flush_partial(&mut self) {
        let mut batch = Batch::default();
        let (mut lines, splitter) = self.lines();
        splitter.finish(|raw, part| {
            lines.handle(raw, part, &mut None, &mut batch);
        });
        let _ = self.send(batch).await;
    }

    /// Sends `batch` to the writer, holding it while a long line is in flight (see the
    /// module's doc), and says once per run that a line was split.
    async fn send(&mut self, batch: Batch) -> Result<(), ()> {
        if !batch.is_empty() {
            if self.long.is_some() {
                self.sinks.hold(&self.ctx.out).await?;
            }
            self.sinks.send(batch, &self.ctx.out).await?;
        }
        if self.long.is_none() {
            self.sinks.release();
        }
        self.notice_split().await
    }

    /// Lets the writer go: a streamed record still open is ended with the marker (its
    /// line goes on in a record of its own).
    async fn let_go(&mut self) -> Result<(), ()> {
        let mut batch = Batch::default();
        self.sinks.break_line(&mut batch);
        let sent = if batch.is_empty() {
            Ok(())
        } else {
            self.sinks.send(batch, &self.ctx.out).await
        };
        self.sinks.release();
        sent?;
        self.notice_split().await
    }

    async fn notice_split(&mut self) -> Result<(), ()> {
        if self.sinks.take_split()
            && let Some(text) = split_warning(self.ctx, &self.label)
        {
            let out = self.sinks.out(&self.ctx.out);
            out.send(Out::Warning(text)).await.map_err(|_| ())?;
        }
        Ok(())
    }

    async fn warn(&self, w: Warning) {
        let text = format!("{}: {}", self.label, w.text(self.cursor.second));
        let _ = self.sinks.out(&self.ctx.out).send(Out::Warning(text)).await;
    }

    /// Sleeps `d`, or less if the pod is removed or the run stops meanwhile.
    async fn wait(&mut self, d: Duration) -> Waited {
        let mut stop = self.ctx.shutdown.subscribe();
        if *stop.borrow() {
            return Waited::Stopped;
        }
        if *self.presence.borrow() == Presence::Gone {
            return Waited::Removed;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => Waited::Out,
            _ = removed(&mut self.presence) => Waited::Removed,
            _ = stop.wait_for(|s| *s) => Waited::Stopped,
        }
    }
}

/// How a wait between attempts ended.
enum Waited {
    /// The delay passed.
    Out,
    /// The pod was removed.
    Removed,
    /// The run stops.
    Stopped,
}

/// The long line being read: what its later pieces need from its first.
#[derive(Debug, Clone)]
struct LongLine {
    timestamp: [u8; 40],
    ts_len: usize,
    second: Option<i64>,
    /// Bytes of its message printed before the stream broke: not printed again.
    skip: u64,
    /// Its pieces are printed; not when a resumed stream sends again a line that was
    /// printed whole.
    take: bool,
}

/// What handling a line needs of its tail, borrowed for one chunk.
struct Lines<'t> {
    cursor: &'t mut ResumeCursor,
    sinks: &'t mut Sinks,
    filter: &'t LineFilter,
    until: Option<(i64, u32)>,
    past_until: &'t mut bool,
    long: &'t mut Option<LongLine>,
}

impl Lines<'_> {
    /// De-duplicates, filters and formats a line or a piece of one into `batch`; returns
    /// a gap when a resumed stream could not prove continuity.
    fn handle(
        &mut self,
        raw: &[u8],
        part: Part,
        replay: &mut Option<Replay>,
        batch: &mut Batch,
    ) -> Option<(i64, i64)> {
        if *self.past_until {
            return None;
        }
        let line = match part {
            Part::Whole => parse_line(raw),
            Part::First => split_timestamp(raw),
            Part::Middle => {
                self.piece(raw, false, batch);
                return None;
            }
            Part::Last => {
                self.piece(raw.strip_suffix(b"\r").unwrap_or(raw), true, batch);
                return None;
            }
        };
        let key = match part {
            Part::Whole => line_key(&line),
            _ => long_line_key(line.timestamp),
        };
        let mut gap = None;
        // Bytes of a long line's message already printed, and whether it is printed.
        let (mut skip, mut take) = (0, true);
        if let Some(r) = replay.as_mut() {
            match r.check_line(line.second, key, line.timestamp) {
                // The long line the stream broke in: the rest of it is new.
                Resume::Skip if part == Part::First => match self.cursor.open {
                    Some((open, handled)) if open == key => skip = handled,
                    _ => take = false,
                },
                Resume::Skip => return None,
                Resume::Take => {}
                Resume::Gap { from, to } => gap = Some((from, to)),
            }
        }
        if self.until.is_some_and(|u| after(&line, u)) {
            *self.past_until = true;
            return gap;
        }
        if part == Part::Whole {
            self.cursor.advance_line(line.second, key, line.timestamp);
            if self.filter.keeps(line.message) {
                self.sinks
                    .line(batch, line.timestamp, line.second, line.message);
            }
            return gap;
        }
        if take && skip == 0 {
            self.cursor.advance_line(line.second, key, line.timestamp);
            self.cursor.open = Some((key, 0));
        }
        let mut timestamp = [0u8; 40];
        let ts_len = line.timestamp.len().min(40);
        timestamp[..ts_len].copy_from_slice(&line.timestamp[..ts_len]);
        *self.long = Some(LongLine {
            timestamp,
            ts_len,
            second: line.second,
            skip,
            take,
        });
        self.piece(line.message, false, batch);
        gap
    }

    /// A piece of the long line being read: its first one's message, or a later one.
    fn piece(&mut self, mut bytes: &[u8], last: bool, batch: &mut Batch) {
        let Some(long) = self.long.as_mut() else {
            return;
        };
        if long.take {
            let n = long.skip.min(bytes.len() as u64);
            long.skip -= n;
            bytes = &bytes[n as usize..];
            if let Some((_, handled)) = self.cursor.open.as_mut() {
                *handled += bytes.len() as u64;
            }
            let keep = self.sinks.streams() || self.filter.keeps(bytes);
            if (!bytes.is_empty() || last) && keep {
                let ts = &long.timestamp[..long.ts_len];
                self.sinks.piece(batch, ts, long.second, bytes, last);
            }
        }
        if last {
            if long.take {
                self.cursor.open = None;
            }
            *self.long = None;
        }
    }
}

/// Whether `line` was logged after `until` (second, nanosecond). A line without a
/// timestamp is not.
fn after(line: &Line<'_>, until: (i64, u32)) -> bool {
    line.second
        .is_some_and(|s| (s, parse_rfc3339_nanos(line.timestamp)) > until)
}

/// Resolves once the pod is reported removed; never when nothing can report it (the
/// sender is gone).
async fn removed(rx: &mut watch::Receiver<Presence>) {
    if rx.wait_for(|p| *p == Presence::Gone).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// The next news of the instance; never when nothing can report it.
async fn presence_changed(rx: &mut watch::Receiver<Presence>) -> Presence {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
    *rx.borrow_and_update()
}
