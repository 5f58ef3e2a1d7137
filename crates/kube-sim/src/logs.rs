//! Container log journals and the kubelet's rules for serving them.
//!
//! This module owns one [`LogJournal`] per container *instance* (a restart gets a new
//! journal) and turns a parsed [`LogQuery`] into a streaming HTTP body with the kubelet's
//! semantics: `tailLines` before the since-filter, `timestamps` as a fixed-width RFC 3339
//! prefix with nine fractional digits, `limitBytes` cutting mid-line and ending even a follow
//! stream, follow streams that end when the instance terminates, and rotation that hides
//! older lines from new requests only. It also validates the log query parameters like the
//! apiserver does. It must not know about pods, containers or routing: choosing the instance
//! (container name, `previous`) and writing the `Status` JSON belong to the server.
//!
//! Storage is built for bulk serving: every line is stored once, already formatted as
//! `<30-byte timestamp> <line>\n`, in immutable segments plus one growing tail segment, with
//! a 16-byte index entry per line. With timestamps a coalesced frame is a zero-copy slice of
//! a segment; without them the fixed 31-byte prefix is skipped per line.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use hyper::body::{Body, Frame};
use jiff::Timestamp;
use tokio::sync::Notify;

/// How a log body is cut into HTTP chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Chunking {
    /// One chunk per line, like the kubelet flushing after every write during follow.
    #[default]
    PerLine,
    /// Chunks of up to 64 KiB, like an apiserver copying a busy stream.
    Coalesced,
}

/// How [`LogJournal::end_streams`] ends the bodies that are open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The body ends normally; the client sees a clean end of stream.
    Clean,
    /// The body fails, so the connection is aborted; the client sees an unexpected EOF.
    Reset,
}

/// Parsed `PodLogOptions` that this module serves (container and previous are the server's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    pub follow: bool,
    pub timestamps: bool,
    pub since: Option<Timestamp>,
    pub tail_lines: Option<u64>,
    pub limit_bytes: Option<u64>,
}

/// A rejected log query: the fields of the `Status` the apiserver answers with.
///
/// For 422 the server adds `details: {name: <pod>, kind: "PodLogOptions", causes}`; for 400
/// there are no details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// `(reason, message, field)` of each `details.causes[]` entry.
    pub causes: Vec<(String, String, String)>,
}

/// Width of `2024-01-02T03:04:05.123456789Z`.
const TS_LEN: usize = 30;
/// The timestamp and the space after it, stored in front of every line.
const PREFIX_LEN: usize = TS_LEN + 1;
/// Largest coalesced frame; a longer single line still goes out as one frame.
const FRAME_MAX: usize = 64 * 1024;
/// The growing tail segment is frozen into an immutable one at this size.
const ACTIVE_MAX: usize = 64 * 1024;
/// Generated lines are padded with filler to this many bytes.
const GENERATED_LEN: usize = 100;
const FILLER: &[u8] =
    b"lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
incididunt ut labore et dolore magna aliqua ut enim ad minim veniam";
/// Spacing of generated backlog lines.
const GENERATED_STEP_NANOS: i64 = 1_000;

#[derive(Debug, Clone, Copy)]
struct LineMeta {
    /// Byte offset of the line's timestamp in the journal's byte space.
    off: u64,
    /// Unix nanoseconds; i64 covers 1677..2262, which keeps the year four digits wide.
    ts: i64,
}

/// The log of one container instance, shared by the scenario driver and the log bodies.
pub struct LogJournal {
    state: Mutex<State>,
    /// Woken on append, terminate and end_streams; followers wait on it.
    notify: Notify,
}

struct State {
    frozen: Vec<Bytes>,
    frozen_starts: Vec<u64>,
    active: Vec<u8>,
    active_start: u64,
    lines: Vec<LineMeta>,
    /// First line new requests may see (everything before was rotated away).
    visible_from: usize,
    last_ts: Option<i64>,
    terminated: bool,
    /// One entry per `end_streams` call; a body created after `n` calls obeys entry `n`.
    ends: Vec<StreamEnd>,
    ts_cache: SecondCache,
}

impl LogJournal {
    /// A new, empty journal for a container instance that is running.
    pub fn new() -> Arc<LogJournal> {
        Arc::new(LogJournal {
            state: Mutex::new(State {
                frozen: Vec::new(),
                frozen_starts: Vec::new(),
                active: Vec::new(),
                active_start: 0,
                lines: Vec::new(),
                visible_from: 0,
                last_ts: None,
                terminated: false,
                ends: Vec::new(),
                ts_cache: SecondCache::default(),
            }),
            notify: Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the journal half-written in a way that matters
        // more than losing the simulator, so keep serving.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends `line` stamped with the current time, at least 1 ns after the previous line.
    /// Embedded newlines split it into several lines; one trailing newline is a terminator.
    pub fn append(&self, line: &[u8]) {
        let mut st = self.lock();
        let now = clamp_nanos(Timestamp::now().as_nanosecond());
        for piece in split_lines(line) {
            let ts = match st.last_ts {
                Some(last) => now.max(last.saturating_add(1)),
                None => now,
            };
            st.push_line(ts, piece);
        }
        drop(st);
        self.notify.notify_waiters();
    }

    /// Appends `line` with a chosen timestamp (every piece of a multi-line value gets it).
    pub fn append_at(&self, ts: Timestamp, line: &[u8]) {
        let ts = clamp_nanos(ts.as_nanosecond());
        let mut st = self.lock();
        for piece in split_lines(line) {
            st.push_line(ts, piece);
        }
        drop(st);
        self.notify.notify_waiters();
    }

    /// Appends `count` generated lines (see [`generated_line`]) with sequence numbers from
    /// `first_seq`, stamped 1 µs apart and ending now (or just after the previous line).
    /// Built straight into one segment, so millions of lines take well under a second.
    pub fn append_generated(&self, pod: &str, container: &str, first_seq: u64, count: u64) {
        if count == 0 {
            return;
        }
        // A newline in a name would split generated lines and break the line index.
        let pod = pod.replace('\n', " ");
        let container = container.replace('\n', " ");
        let Ok(n) = usize::try_from(count) else {
            return;
        };
        let mut scratch = Vec::with_capacity(GENERATED_LEN * 2);
        write_generated_line(
            &pod,
            &container,
            first_seq.saturating_add(count - 1),
            &mut scratch,
        );
        let per_line = PREFIX_LEN + scratch.len() + 1;

        let mut st = self.lock();
        let now = clamp_nanos(Timestamp::now().as_nanosecond());
        let span = i64::try_from(count - 1)
            .unwrap_or(i64::MAX)
            .saturating_mul(GENERATED_STEP_NANOS);
        let mut ts = now.saturating_sub(span);
        if let Some(last) = st.last_ts {
            ts = ts.max(last.saturating_add(1));
        }
        st.freeze();
        let base = st.active_start;
        let mut buf: Vec<u8> = Vec::with_capacity(n.saturating_mul(per_line));
        st.lines.reserve(n);
        let mut cache = SecondCache::default();
        for i in 0..count {
            st.lines.push(LineMeta {
                off: base + buf.len() as u64,
                ts,
            });
            cache.write(ts, &mut buf);
            buf.push(b' ');
            write_generated_line(&pod, &container, first_seq.wrapping_add(i), &mut buf);
            buf.push(b'\n');
            st.last_ts = Some(ts);
            ts = ts.saturating_add(GENERATED_STEP_NANOS);
        }
        st.active = buf;
        st.freeze();
        drop(st);
        self.notify.notify_waiters();
    }

    /// Hides every line so far from new requests, follow or not, as kubelet log rotation
    /// does for the current file; open follow streams keep going without a gap.
    pub fn rotate(&self) {
        let mut st = self.lock();
        st.visible_from = st.lines.len();
    }

    /// Marks the instance as ended: follow streams drain what is left and end cleanly, and
    /// new follow requests get everything and end.
    pub fn terminate(&self) {
        self.lock().terminated = true;
        self.notify.notify_waiters();
    }

    pub fn is_terminated(&self) -> bool {
        self.lock().terminated
    }

    /// Ends every body open right now, cleanly or by failing it; later requests work.
    pub fn end_streams(&self, how: StreamEnd) {
        self.lock().ends.push(how);
        self.notify.notify_waiters();
    }

    /// Number of lines ever appended to this instance, rotated ones included.
    pub fn len(&self) -> usize {
        self.lock().lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The response body for `q`: tail first, then since, then the byte limit.
    pub fn body(self: &Arc<Self>, q: &LogQuery, chunking: Chunking) -> LogBody {
        let st = self.lock();
        let len = st.lines.len();
        let mut next = st.visible_from;
        if let Some(n) = q.tail_lines {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            next = next.max(len.saturating_sub(n));
        }
        let reader = Reader {
            journal: Arc::clone(self),
            next,
            // Without follow the kubelet reads to the end of the file as it is now.
            stop: (!q.follow).then_some(len),
            timestamps: q.timestamps,
            since: q.since.map(|t| clamp_nanos(t.as_nanosecond())),
            remaining: q.limit_bytes,
            chunking,
            generation: st.ends.len(),
            done: false,
        };
        drop(st);
        LogBody::new(reader)
    }
}

impl State {
    fn total(&self) -> u64 {
        self.active_start + self.active.len() as u64
    }

    fn line_end(&self, i: usize) -> u64 {
        self.lines
            .get(i + 1)
            .map_or_else(|| self.total(), |l| l.off)
    }

    fn push_line(&mut self, ts: i64, text: &[u8]) {
        let off = self.total();
        self.ts_cache.write(ts, &mut self.active);
        self.active.push(b' ');
        self.active.extend_from_slice(text);
        self.active.push(b'\n');
        self.lines.push(LineMeta { off, ts });
        self.last_ts = Some(ts);
        if self.active.len() >= ACTIVE_MAX {
            self.freeze();
        }
    }

    /// Moves the tail segment into the immutable list so readers can share it without copying.
    fn freeze(&mut self) {
        if self.active.is_empty() {
            return;
        }
        let data = std::mem::take(&mut self.active);
        self.frozen_starts.push(self.active_start);
        self.active_start += data.len() as u64;
        self.frozen.push(Bytes::from(data));
    }

    /// The segment holding byte `off`: (its start offset, its end offset, frozen bytes if any).
    fn segment_of(&self, off: u64) -> (u64, u64, Option<&Bytes>) {
        if off >= self.active_start {
            return (self.active_start, self.total(), None);
        }
        let k = self
            .frozen_starts
            .partition_point(|&s| s <= off)
            .saturating_sub(1);
        let start = self.frozen_starts[k];
        (
            start,
            start + self.frozen[k].len() as u64,
            Some(&self.frozen[k]),
        )
    }
}

/// Splits a value into lines; a single trailing newline ends the last line.
fn split_lines(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.split(|&c| c == b'\n')
}

fn clamp_nanos(n: i128) -> i64 {
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

/// Caches `YYYY-MM-DDTHH:MM:SS.` for the last second formatted, so consecutive lines only
/// format their nine fractional digits.
#[derive(Default)]
struct SecondCache {
    second: Option<i64>,
    prefix: Vec<u8>,
}

impl SecondCache {
    fn write(&mut self, nanos: i64, out: &mut Vec<u8>) {
        let second = nanos.div_euclid(1_000_000_000);
        let sub = nanos.rem_euclid(1_000_000_000) as u32;
        if self.second != Some(second) {
            self.prefix.clear();
            let ts = Timestamp::from_second(second).unwrap_or(Timestamp::UNIX_EPOCH);
            format_timestamp(ts, &mut self.prefix);
            self.prefix.truncate(self.prefix.len() - 10); // keep through the '.'
            self.second = Some(second);
        }
        out.extend_from_slice(&self.prefix);
        push_digits(out, sub, 9);
        out.push(b'Z');
    }
}

fn push_digits(out: &mut Vec<u8>, mut v: u32, width: usize) {
    let mut buf = [b'0'; 10];
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&buf[..width]);
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Writes `ts` the way the kubelet stamps log lines: RFC 3339 in UTC with exactly nine
/// fractional digits (trailing zeros kept) and `Z`, e.g. `2024-01-02T03:04:05.123456789Z`.
pub fn format_timestamp(ts: Timestamp, out: &mut Vec<u8>) {
    let dt = jiff::tz::Offset::UTC.to_datetime(ts);
    let year = dt.year();
    if year < 0 {
        out.push(b'-');
    }
    push_digits(out, u32::from(year.unsigned_abs()), 4);
    out.push(b'-');
    push_digits(out, dt.month() as u32, 2);
    out.push(b'-');
    push_digits(out, dt.day() as u32, 2);
    out.push(b'T');
    push_digits(out, dt.hour() as u32, 2);
    out.push(b':');
    push_digits(out, dt.minute() as u32, 2);
    out.push(b':');
    push_digits(out, dt.second() as u32, 2);
    out.push(b'.');
    push_digits(out, dt.subsec_nanosecond() as u32, 9);
    out.push(b'Z');
}

/// The text of generated line `seq`: `pod=<pod> container=<container> seq=<n> ` padded with
/// filler to 100 bytes, so tests can check for gaps and duplicates by parsing `seq=(\d+)`.
pub fn generated_line(pod: &str, container: &str, seq: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(GENERATED_LEN);
    write_generated_line(pod, container, seq, &mut out);
    out
}

fn write_generated_line(pod: &str, container: &str, seq: u64, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(b"pod=");
    out.extend_from_slice(pod.as_bytes());
    out.extend_from_slice(b" container=");
    out.extend_from_slice(container.as_bytes());
    out.extend_from_slice(b" seq=");
    push_u64(out, seq);
    out.push(b' ');
    let used = out.len() - start;
    if used < GENERATED_LEN {
        out.extend_from_slice(&FILLER[..GENERATED_LEN - used]);
    }
}

// ---- query parameters ----

/// Parses the log query parameters with the apiserver's conversion and validation rules.
///
/// `params` are decoded `(key, value)` pairs in request order; the first occurrence of a
/// key wins (Go's query conversion reads `values[0]`). `container`, `previous` and unknown
/// keys are ignored here. Errors come in the apiserver's order: a value that does not
/// convert is a 400 BadRequest, then `ValidatePodLogOptions` gives one 422 Invalid listing
/// every violation. The real apiserver validates before it looks the pod up, so a 422 wins
/// over a 404.
pub fn parse_log_query(
    params: &[(String, String)],
    pod: &str,
    now: Timestamp,
) -> Result<LogQuery, ParamError> {
    let get = |key: &str| {
        params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let since_seconds = get("sinceSeconds").map(parse_int).transpose()?;
    let since_time = match get("sinceTime") {
        // metav1.Time treats an empty value (and a JSON-era "null") as unset.
        None | Some("") | Some("null") => None,
        Some(v) => Some(parse_time(v)?),
    };
    let tail_lines = get("tailLines").map(parse_int).transpose()?;
    let limit_bytes = get("limitBytes").map(parse_int).transpose()?;
    let follow = get("follow").is_some_and(parse_bool);
    let timestamps = get("timestamps").is_some_and(parse_bool);

    // ValidatePodLogOptions, in its order.
    let mut errs: Vec<(String, String, String)> = Vec::new();
    if let Some(n) = tail_lines.filter(|&n| n < 0) {
        errs.push(invalid(
            "tailLines",
            n,
            "must be greater than or equal to 0",
        ));
    }
    if let Some(n) = limit_bytes.filter(|&n| n < 1) {
        errs.push(invalid("limitBytes", n, "must be greater than 0"));
    }
    match (since_seconds, since_time) {
        (Some(_), Some(_)) => errs.push((
            "FieldValueForbidden".to_string(),
            "Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified".to_string(),
            String::new(),
        )),
        (Some(n), None) if n < 1 => errs.push(invalid("sinceSeconds", n, "must be greater than 0")),
        _ => {}
    }
    if !errs.is_empty() {
        let rendered: Vec<String> = errs
            .iter()
            .map(|(_, msg, field)| format!("{field}: {msg}"))
            .collect();
        let detail = if rendered.len() == 1 {
            rendered[0].clone()
        } else {
            format!("[{}]", rendered.join(", "))
        };
        return Err(ParamError {
            code: 422,
            reason: "Invalid",
            message: format!("PodLogOptions {pod:?} is invalid: {detail}"),
            causes: errs,
        });
    }

    let since = match (since_seconds, since_time) {
        (Some(n), _) => {
            // The kubelet computes now - sinceSeconds; clamp instead of overflowing.
            let back = jiff::SignedDuration::from_secs(n);
            Some(now.checked_sub(back).unwrap_or(Timestamp::MIN))
        }
        (None, Some(t)) => Some(t),
        (None, None) => None,
    };
    Ok(LogQuery {
        follow,
        timestamps,
        since,
        // Validation above guarantees these are non-negative / positive.
        tail_lines: tail_lines.map(|n| n.unsigned_abs()),
        limit_bytes: limit_bytes.map(|n| n.unsigned_abs()),
    })
}

fn invalid(field: &str, value: i64, msg: &str) -> (String, String, String) {
    (
        "FieldValueInvalid".to_string(),
        format!("Invalid value: {value}: {msg}"),
        field.to_string(),
    )
}

/// apimachinery `Convert_Slice_string_To_bool`: only `0` and `false` (any case) are false.
fn parse_bool(v: &str) -> bool {
    !(v == "0" || v.eq_ignore_ascii_case("false"))
}

/// Go `strconv.ParseInt(v, 10, 64)`, with its error text.
fn parse_int(v: &str) -> Result<i64, ParamError> {
    v.parse::<i64>().map_err(|_| {
        let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
        let why = if !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit()) {
            "value out of range"
        } else {
            "invalid syntax"
        };
        bad_request(format!("strconv.ParseInt: parsing {v:?}: {why}"))
    })
}

/// RFC 3339 with optional fractions, then truncated to whole seconds: the apiserver passes
/// `sinceTime` to the kubelet formatted with `time.RFC3339`, which drops the fraction.
fn parse_time(v: &str) -> Result<Timestamp, ParamError> {
    let t: Timestamp = v.parse().map_err(|_| {
        bad_request(format!(
            "parsing time {v:?} as \"2006-01-02T15:04:05Z07:00\": cannot parse {v:?} as \"2006\""
        ))
    })?;
    let second = t.as_nanosecond().div_euclid(1_000_000_000);
    let second = i64::try_from(second).unwrap_or(0);
    Ok(Timestamp::from_second(second).unwrap_or(t))
}

fn bad_request(message: String) -> ParamError {
    ParamError {
        code: 400,
        reason: "BadRequest",
        message,
        causes: Vec::new(),
    }
}

// ---- the body ----

/// A streaming log response body. Data frames only; an error means "abort the connection".
pub struct LogBody {
    inner: Pin<Box<dyn Stream<Item = io::Result<Frame<Bytes>>> + Send>>,
}

impl LogBody {
    fn new(reader: Reader) -> LogBody {
        let stream = futures::stream::unfold(reader, |mut r| async move {
            if r.done {
                return None;
            }
            // Bounded by events: each pass either returns or waits for a notification.
            loop {
                let journal = Arc::clone(&r.journal);
                // Created before looking at the state, so a notification that lands between
                // the check and the await is not lost (notify_waiters counts from here).
                let notified = journal.notify.notified();
                match r.step() {
                    Step::Frame(b) => return Some((Ok(Frame::data(b)), r)),
                    Step::End => return None,
                    Step::Reset => {
                        r.done = true;
                        let err = io::Error::new(
                            io::ErrorKind::ConnectionReset,
                            "log stream reset by the simulator",
                        );
                        return Some((Err(err), r));
                    }
                    Step::Wait => notified.await,
                }
            }
        });
        LogBody {
            inner: Box::pin(stream),
        }
    }
}

impl Body for LogBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.inner.as_mut().poll_next(cx)
    }
}

impl std::fmt::Debug for LogBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogBody")
    }
}

enum Step {
    Frame(Bytes),
    Wait,
    End,
    Reset,
}

/// The cursor of one log request.
struct Reader {
    journal: Arc<LogJournal>,
    /// Next line index to consider.
    next: usize,
    /// Non-follow requests stop at the line count seen when they started.
    stop: Option<usize>,
    timestamps: bool,
    since: Option<i64>,
    remaining: Option<u64>,
    chunking: Chunking,
    generation: usize,
    done: bool,
}

impl Reader {
    fn step(&mut self) -> Step {
        let journal = Arc::clone(&self.journal);
        let st = journal.lock();
        if let Some(how) = st.ends.get(self.generation) {
            return match how {
                StreamEnd::Clean => Step::End,
                StreamEnd::Reset => Step::Reset,
            };
        }
        if self.remaining == Some(0) {
            return Step::End;
        }
        let avail = self.stop.unwrap_or(usize::MAX).min(st.lines.len());
        if let Some(since) = self.since {
            while self.next < avail && st.lines[self.next].ts < since {
                self.next += 1;
            }
        }
        if self.next >= avail {
            return if self.stop.is_some() || st.terminated {
                Step::End
            } else {
                Step::Wait
            };
        }

        let first = self.next;
        let (seg_start, seg_end, frozen) = st.segment_of(st.lines[first].off);
        let skip = if self.timestamps { 0 } else { PREFIX_LEN };
        let mut last = first;
        let mut size = 0usize;
        while last < avail {
            let m = st.lines[last];
            if m.off >= seg_end || self.since.is_some_and(|s| m.ts < s) {
                break;
            }
            let len = (st.line_end(last) - m.off) as usize - skip;
            if size > 0 && size + len > FRAME_MAX {
                break;
            }
            size += len;
            last += 1;
            if self.chunking == Chunking::PerLine {
                break;
            }
        }
        let from = (st.lines[first].off - seg_start) as usize;
        let to = (st.line_end(last - 1) - seg_start) as usize;
        let mut frame = match (frozen, self.timestamps || last - first == 1) {
            // One contiguous range: share the segment's bytes.
            (Some(seg), true) => seg.slice(from + skip..to),
            (None, true) => Bytes::copy_from_slice(&st.active[from + skip..to]),
            (seg, false) => {
                let data: &[u8] = seg.map_or(&st.active, |b| b.as_ref());
                let mut out = Vec::with_capacity(size);
                for i in first..last {
                    let a = (st.lines[i].off - seg_start) as usize + skip;
                    let b = (st.line_end(i) - seg_start) as usize;
                    out.extend_from_slice(&data[a..b]);
                }
                Bytes::from(out)
            }
        };
        drop(st);
        self.next = last;
        if let Some(rem) = self.remaining {
            // limitBytes may cut a line in half; the stream ends right after.
            let rem_usize = usize::try_from(rem).unwrap_or(usize::MAX);
            if frame.len() >= rem_usize {
                frame.truncate(rem_usize);
                self.remaining = Some(0);
            } else {
                self.remaining = Some(rem - frame.len() as u64);
            }
        }
        Step::Frame(frame)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http_body_util::BodyExt;

    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn q() -> LogQuery {
        LogQuery::default()
    }

    /// Reads a body to its end; returns the frames and whether it ended with an error.
    async fn frames(mut body: LogBody) -> (Vec<Bytes>, bool) {
        let mut out = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(5), body.frame()).await {
                Ok(Some(Ok(f))) => out.push(f.into_data().unwrap()),
                Ok(Some(Err(_))) => return (out, true),
                Ok(None) => return (out, false),
                Err(_) => panic!("body did not end within 5 s"),
            }
        }
    }

    async fn text(body: LogBody) -> String {
        let (f, err) = frames(body).await;
        assert!(!err);
        String::from_utf8(f.concat()).unwrap()
    }

    /// Ten lines, one per second from 2024-01-02T03:04:00.5Z.
    fn ten_seconds() -> Arc<LogJournal> {
        let j = LogJournal::new();
        for i in 0..10 {
            let t = ts("2024-01-02T03:04:00.5Z") + jiff::SignedDuration::from_secs(i);
            j.append_at(t, format!("line {i}").as_bytes());
        }
        j
    }

    #[test]
    fn timestamps_have_nine_digits_and_z() {
        let mut out = Vec::new();
        format_timestamp(ts("2024-01-02T03:04:05.1Z"), &mut out);
        assert_eq!(out, b"2024-01-02T03:04:05.100000000Z");
        out.clear();
        format_timestamp(ts("2024-01-02T03:04:06Z"), &mut out);
        assert_eq!(out, b"2024-01-02T03:04:06.000000000Z");
        out.clear();
        format_timestamp(ts("2024-01-02T05:04:05.123456789+02:00"), &mut out);
        assert_eq!(out, b"2024-01-02T03:04:05.123456789Z");
        out.clear();
        SecondCache::default().write(-1, &mut out);
        assert_eq!(out, b"1969-12-31T23:59:59.999999999Z");
    }

    #[tokio::test]
    async fn timestamps_prefix_or_strip_each_line() {
        let j = LogJournal::new();
        j.append_at(ts("2024-01-02T03:04:05.1Z"), b"hello");
        j.append_at(ts("2024-01-02T03:04:06Z"), b"");
        let with = LogQuery {
            timestamps: true,
            ..q()
        };
        assert_eq!(
            text(j.body(&with, Chunking::Coalesced)).await,
            "2024-01-02T03:04:05.100000000Z hello\n2024-01-02T03:04:06.000000000Z \n"
        );
        assert_eq!(text(j.body(&q(), Chunking::Coalesced)).await, "hello\n\n");
        assert_eq!(text(j.body(&q(), Chunking::PerLine)).await, "hello\n\n");
    }

    #[tokio::test]
    async fn append_splits_on_newlines_and_keeps_time_increasing() {
        let j = LogJournal::new();
        j.append(b"a\nb\n\nc\n");
        j.append(b"d");
        assert_eq!(j.len(), 5);
        assert_eq!(
            text(j.body(&q(), Chunking::PerLine)).await,
            "a\nb\n\nc\nd\n"
        );
        let with = LogQuery {
            timestamps: true,
            ..q()
        };
        let all = text(j.body(&with, Chunking::Coalesced)).await;
        let stamps: Vec<Timestamp> = all.lines().map(|l| l[..TS_LEN].parse().unwrap()).collect();
        assert!(stamps.windows(2).all(|w| w[0] < w[1]), "{all}");
    }

    #[tokio::test]
    async fn tail_lines_apply_before_since() {
        let j = ten_seconds();
        // tail 3 = lines 7..9; since 03:04:05 keeps all three.
        let tail3 = LogQuery {
            tail_lines: Some(3),
            since: Some(ts("2024-01-02T03:04:05Z")),
            ..q()
        };
        assert_eq!(
            text(j.body(&tail3, Chunking::Coalesced)).await,
            "line 7\nline 8\nline 9\n"
        );
        // since first would give 5..9 and then tail 3 = 7..9 too; choose a case that differs:
        // tail 3 then since 03:04:08.5 gives only 8 and 9.
        let narrow = LogQuery {
            tail_lines: Some(3),
            since: Some(ts("2024-01-02T03:04:08.5Z")),
            ..q()
        };
        assert_eq!(
            text(j.body(&narrow, Chunking::Coalesced)).await,
            "line 8\nline 9\n"
        );
        let tail0 = LogQuery {
            tail_lines: Some(0),
            ..q()
        };
        assert_eq!(text(j.body(&tail0, Chunking::Coalesced)).await, "");
        let big = LogQuery {
            tail_lines: Some(u64::MAX),
            ..q()
        };
        assert_eq!(
            text(j.body(&big, Chunking::Coalesced))
                .await
                .lines()
                .count(),
            10
        );
    }

    #[tokio::test]
    async fn since_time_has_whole_second_precision() {
        let j = ten_seconds();
        let now = ts("2024-01-02T03:05:00Z");
        // 03:04:05.9 truncates to 03:04:05, so line 4 (03:04:04.5) is out and line 5
        // (03:04:05.5) is in, although it is before the fractional time asked for.
        let params = vec![(
            "sinceTime".to_string(),
            "2024-01-02T03:04:05.9Z".to_string(),
        )];
        let query = parse_log_query(&params, "web-1", now).unwrap();
        assert_eq!(query.since, Some(ts("2024-01-02T03:04:05Z")));
        let out = text(j.body(&query, Chunking::PerLine)).await;
        assert!(out.starts_with("line 5\n"), "{out}");
        let secs = vec![("sinceSeconds".to_string(), "55".to_string())];
        let query = parse_log_query(&secs, "web-1", now).unwrap();
        assert_eq!(query.since, Some(ts("2024-01-02T03:04:05Z")));
    }

    #[tokio::test]
    async fn limit_bytes_cuts_mid_line_and_ends_follow() {
        let j = ten_seconds();
        let lim = LogQuery {
            limit_bytes: Some(10),
            ..q()
        };
        assert_eq!(text(j.body(&lim, Chunking::Coalesced)).await, "line 0\nlin");
        assert_eq!(text(j.body(&lim, Chunking::PerLine)).await, "line 0\nlin");
        let with = LogQuery {
            limit_bytes: Some(33),
            timestamps: true,
            ..q()
        };
        assert_eq!(
            text(j.body(&with, Chunking::Coalesced)).await,
            "2024-01-02T03:04:00.500000000Z li"
        );
        // With follow the body still ends once the limit is reached, while running.
        let follow = LogQuery {
            follow: true,
            limit_bytes: Some(14),
            ..q()
        };
        assert_eq!(
            text(j.body(&follow, Chunking::PerLine)).await,
            "line 0\nline 1\n"
        );
        assert!(!j.is_terminated());
    }

    #[tokio::test]
    async fn follow_streams_new_lines_and_ends_on_terminate() {
        let j = LogJournal::new();
        j.append(b"old");
        let follow = LogQuery {
            follow: true,
            ..q()
        };
        let mut body = j.body(&follow, Chunking::PerLine);
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "old\n");
        let j2 = Arc::clone(&j);
        let reader = tokio::spawn(async move { text(body).await });
        tokio::task::yield_now().await;
        j2.append(b"new 1");
        j2.append(b"new 2");
        j2.terminate();
        j2.append(b"after end");
        let rest = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .unwrap()
            .unwrap();
        assert!(rest.starts_with("new 1\nnew 2\n"), "{rest}");
        // A follow request after the end returns everything and ends.
        let all = text(j.body(&follow, Chunking::Coalesced)).await;
        assert!(all.starts_with("old\nnew 1\nnew 2\n"), "{all}");
    }

    #[tokio::test]
    async fn follow_with_tail_zero_waits_for_new_lines() {
        let j = ten_seconds();
        let f = LogQuery {
            follow: true,
            tail_lines: Some(0),
            ..q()
        };
        let mut body = j.body(&f, Chunking::Coalesced);
        let pending = tokio::time::timeout(Duration::from_millis(50), body.frame()).await;
        assert!(pending.is_err(), "nothing should be served yet");
        j.append(b"fresh");
        let got = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .unwrap();
        assert_eq!(got.unwrap().unwrap().into_data().unwrap(), "fresh\n");
    }

    #[tokio::test]
    async fn rotate_hides_old_lines_from_new_requests_only() {
        let j = LogJournal::new();
        j.append(b"a");
        j.append(b"b");
        let follow = LogQuery {
            follow: true,
            ..q()
        };
        let mut open = j.body(&follow, Chunking::PerLine);
        assert_eq!(
            open.frame().await.unwrap().unwrap().into_data().unwrap(),
            "a\n"
        );
        j.rotate();
        j.append(b"c");
        assert_eq!(text(j.body(&q(), Chunking::Coalesced)).await, "c\n");
        let tail = LogQuery {
            tail_lines: Some(5),
            ..q()
        };
        assert_eq!(text(j.body(&tail, Chunking::Coalesced)).await, "c\n");
        j.terminate();
        assert_eq!(text(j.body(&follow, Chunking::Coalesced)).await, "c\n");
        // The stream opened before the rotation continues seamlessly.
        assert_eq!(text(open).await, "b\nc\n");
        assert_eq!(j.len(), 3);
    }

    #[tokio::test]
    async fn end_streams_clean_and_reset() {
        let j = LogJournal::new();
        j.append(b"x");
        let follow = LogQuery {
            follow: true,
            ..q()
        };
        for (how, want_err) in [(StreamEnd::Clean, false), (StreamEnd::Reset, true)] {
            let mut body = j.body(&follow, Chunking::PerLine);
            assert_eq!(
                body.frame().await.unwrap().unwrap().into_data().unwrap(),
                "x\n"
            );
            let reader = tokio::spawn(frames(body));
            tokio::task::yield_now().await;
            j.end_streams(how);
            let (rest, err) = tokio::time::timeout(Duration::from_secs(5), reader)
                .await
                .unwrap()
                .unwrap();
            assert!(rest.is_empty());
            assert_eq!(err, want_err, "{how:?}");
            // The journal stays usable; new requests are not affected by the old end.
            assert_eq!(text(j.body(&q(), Chunking::PerLine)).await, "x\n");
        }
        assert!(!j.is_terminated());
    }

    #[tokio::test]
    async fn per_line_yields_one_frame_per_line_and_coalesced_batches() {
        let j = LogJournal::new();
        j.append_generated("web-1", "app", 0, 5_000);
        j.append(b"tail line");
        let (per_line, _) = frames(j.body(&q(), Chunking::PerLine)).await;
        assert_eq!(per_line.len(), 5_001);
        assert!(
            per_line
                .iter()
                .all(|f| f.ends_with(b"\n") && f.iter().filter(|&&c| c == b'\n').count() == 1)
        );
        let with = LogQuery {
            timestamps: true,
            ..q()
        };
        let (coalesced, _) = frames(j.body(&with, Chunking::Coalesced)).await;
        assert!(coalesced.len() < 20, "{} frames", coalesced.len());
        assert!(
            coalesced
                .iter()
                .all(|f| f.len() <= FRAME_MAX && f.ends_with(b"\n"))
        );
        let joined: Vec<u8> = coalesced.concat();
        let text = std::str::from_utf8(&joined).unwrap();
        assert_eq!(text.lines().count(), 5_001);
        for (i, line) in text.lines().take(5_000).enumerate() {
            assert_eq!(&line.as_bytes()[TS_LEN..TS_LEN + 1], b" ");
            assert!(line.contains(&format!(" seq={i} ")), "{line}");
            assert_eq!(line.len(), PREFIX_LEN + GENERATED_LEN);
        }
    }

    #[tokio::test]
    async fn generated_backlog_ends_now_and_precedes_later_lines() {
        let before = Timestamp::now();
        let j = LogJournal::new();
        j.append_generated("p", "c", 10, 1_000);
        j.append(b"later");
        let with = LogQuery {
            timestamps: true,
            ..q()
        };
        let out = text(j.body(&with, Chunking::Coalesced)).await;
        let stamps: Vec<Timestamp> = out.lines().map(|l| l[..TS_LEN].parse().unwrap()).collect();
        assert!(stamps.windows(2).all(|w| w[0] < w[1]));
        assert!(stamps[0] < before);
        assert!(out.lines().next().unwrap().contains(" seq=10 "));
        assert_eq!(generated_line("p", "c", 7).len(), GENERATED_LEN);
        assert!(
            String::from_utf8(generated_line("p", "c", 7))
                .unwrap()
                .starts_with("pod=p container=c seq=7 ")
        );
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn booleans_follow_the_apiserver_rule() {
        let now = Timestamp::now();
        for (v, want) in [
            ("true", true),
            ("", true),
            ("1", true),
            ("yes", true),
            ("0", false),
            ("false", false),
            ("FALSE", false),
        ] {
            let got =
                parse_log_query(&params(&[("follow", v), ("timestamps", v)]), "p", now).unwrap();
            assert_eq!((got.follow, got.timestamps), (want, want), "{v:?}");
        }
        let got = parse_log_query(
            &params(&[("container", "app"), ("previous", "true"), ("x", "y")]),
            "p",
            now,
        )
        .unwrap();
        assert_eq!(got, LogQuery::default());
        let first_wins =
            parse_log_query(&params(&[("tailLines", "2"), ("tailLines", "x")]), "p", now).unwrap();
        assert_eq!(first_wins.tail_lines, Some(2));
    }

    #[test]
    fn unparseable_values_are_bad_requests() {
        let now = Timestamp::now();
        let cases = [
            (
                "tailLines",
                "abc",
                "strconv.ParseInt: parsing \"abc\": invalid syntax",
            ),
            (
                "limitBytes",
                "",
                "strconv.ParseInt: parsing \"\": invalid syntax",
            ),
            (
                "sinceSeconds",
                "99999999999999999999",
                "strconv.ParseInt: parsing \"99999999999999999999\": value out of range",
            ),
            (
                "sinceTime",
                "yesterday",
                "parsing time \"yesterday\" as \"2006-01-02T15:04:05Z07:00\": cannot parse \"yesterday\" as \"2006\"",
            ),
        ];
        for (k, v, msg) in cases {
            let err = parse_log_query(&params(&[(k, v)]), "p", now).unwrap_err();
            assert_eq!(
                (err.code, err.reason, err.message.as_str()),
                (400, "BadRequest", msg)
            );
            assert!(err.causes.is_empty());
        }
    }

    #[test]
    fn invalid_values_are_422_with_causes() {
        let now = Timestamp::now();
        let err = parse_log_query(&params(&[("tailLines", "-1")]), "web-1", now).unwrap_err();
        assert_eq!((err.code, err.reason), (422, "Invalid"));
        assert_eq!(
            err.message,
            "PodLogOptions \"web-1\" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(
            err.causes,
            vec![(
                "FieldValueInvalid".to_string(),
                "Invalid value: -1: must be greater than or equal to 0".to_string(),
                "tailLines".to_string()
            )]
        );
        let err = parse_log_query(&params(&[("limitBytes", "0")]), "p", now).unwrap_err();
        assert_eq!(
            err.message,
            "PodLogOptions \"p\" is invalid: limitBytes: Invalid value: 0: must be greater than 0"
        );
        let err = parse_log_query(&params(&[("sinceSeconds", "0")]), "p", now).unwrap_err();
        assert_eq!(
            err.message,
            "PodLogOptions \"p\" is invalid: sinceSeconds: Invalid value: 0: must be greater than 0"
        );
        let both = params(&[
            ("sinceSeconds", "10"),
            ("sinceTime", "2024-01-02T03:04:05Z"),
        ]);
        let err = parse_log_query(&both, "p", now).unwrap_err();
        assert_eq!(err.code, 422);
        assert_eq!(
            err.message,
            "PodLogOptions \"p\" is invalid: : Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified"
        );
        assert_eq!(err.causes[0].0, "FieldValueForbidden");
        assert_eq!(err.causes[0].2, "");
        let many = params(&[("tailLines", "-2"), ("limitBytes", "-3")]);
        let err = parse_log_query(&many, "p", now).unwrap_err();
        assert_eq!(
            err.message,
            "PodLogOptions \"p\" is invalid: [tailLines: Invalid value: -2: must be greater than or equal to 0, limitBytes: Invalid value: -3: must be greater than 0]"
        );
        assert_eq!(err.causes.len(), 2);
    }

    #[test]
    fn huge_since_seconds_does_not_overflow() {
        let q = parse_log_query(
            &params(&[("sinceSeconds", &i64::MAX.to_string())]),
            "p",
            Timestamp::now(),
        )
        .unwrap();
        assert_eq!(q.since, Some(Timestamp::MIN));
    }

    #[test]
    fn log_body_is_send_and_unpin() {
        fn check<T: Send + Unpin + 'static>() {}
        check::<LogBody>();
        fn shared<T: Send + Sync>() {}
        shared::<LogJournal>();
    }
}
