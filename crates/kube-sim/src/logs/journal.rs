//! [`LogJournal`]: the log of one container instance. Every line is stored once, already
//! formatted as `<30-byte timestamp> <line>\n`, in immutable segments plus one growing tail
//! segment, with a 16-byte index entry per line, so a coalesced frame with timestamps is a
//! zero-copy slice of a segment. The journal also records rotation, termination and
//! `end_streams` calls. How a request reads it is `body`'s: the journal must not know
//! about HTTP or query parameters.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use jiff::Timestamp;
use tokio::sync::Notify;

use super::StreamEnd;
use super::format::{GENERATED_LEN, PREFIX_LEN, SecondCache, write_generated_line};

/// The growing tail segment is frozen into an immutable one at this size.
const ACTIVE_MAX: usize = 64 * 1024;
/// Spacing of generated backlog lines.
const GENERATED_STEP_NANOS: i64 = 1_000;

#[derive(Debug, Clone, Copy)]
pub(super) struct LineMeta {
    /// Byte offset of the line's timestamp in the journal's byte space.
    pub(super) off: u64,
    /// Unix nanoseconds; i64 covers 1677..2262, which keeps the year four digits wide.
    pub(super) ts: i64,
}

/// The log of one container instance, shared by the scenario driver and the log bodies.
pub struct LogJournal {
    state: Mutex<State>,
    /// Woken on append, terminate and end_streams; followers wait on it.
    pub(super) notify: Notify,
}

pub(super) struct State {
    frozen: Vec<Bytes>,
    frozen_starts: Vec<u64>,
    pub(super) active: Vec<u8>,
    active_start: u64,
    pub(super) lines: Vec<LineMeta>,
    /// First line new requests may see (everything before was rotated away).
    pub(super) visible_from: usize,
    last_ts: Option<i64>,
    pub(super) terminated: bool,
    /// When the instance ended, for the kubelet's hold of follow streams.
    pub(super) terminated_at: Option<tokio::time::Instant>,
    /// One entry per `end_streams` call; a body created after `n` calls obeys entry `n`.
    pub(super) ends: Vec<StreamEnd>,
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
                terminated_at: None,
                ends: Vec::new(),
                ts_cache: SecondCache::default(),
            }),
            notify: Notify::new(),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
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

    /// Appends `count` generated lines (see [`generated_line`](super::generated_line)) with sequence numbers from
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
        let mut st = self.lock();
        if !st.terminated {
            st.terminated = true;
            st.terminated_at = Some(tokio::time::Instant::now());
        }
        drop(st);
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
}

impl State {
    fn total(&self) -> u64 {
        self.active_start + self.active.len() as u64
    }

    pub(super) fn line_end(&self, i: usize) -> u64 {
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
    pub(super) fn segment_of(&self, off: u64) -> (u64, u64, Option<&Bytes>) {
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

pub(super) fn clamp_nanos(n: i128) -> i64 {
    i64::try_from(n).unwrap_or(if n < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use jiff::Timestamp;

    use super::super::testing::{q, text};
    use super::super::{Chunking, LogQuery, generated_line};
    use super::*;
    use crate::logs::format::TS_LEN;

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
}
