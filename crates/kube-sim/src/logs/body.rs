//! The streaming HTTP body of one log request, with the kubelet's rules: `tailLines`
//! before the since-filter, timestamps kept or stripped per line, `limitBytes` cutting
//! mid-line and ending even a follow stream, follow streams that end when the instance
//! terminates (or, like the kubelet's, at its next state check after that), per-line or
//! coalesced chunks, and a long line in pieces. It reads a [`LogJournal`] and must not
//! change it.
//!
//! A line longer than `CRI_PARTIAL_BYTES` leaves in frames of at most that size: a
//! container runtime writes such a line to its log file as partial records (containerd's
//! `max_container_log_line_size`, 16 KiB by default, `P` tags), and the kubelet copies
//! them to the response one by one, reassembled into one line (one timestamp, one
//! newline) but flushed piece by piece.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Instant;

use bytes::Bytes;
use futures::Stream;
use hyper::body::{Body, Frame};

use super::format::PREFIX_LEN;
use super::journal::{LogJournal, clamp_nanos};
use super::{Chunking, LogQuery, StreamEnd};

/// Largest coalesced frame.
const FRAME_MAX: usize = 64 * 1024;
/// A longer line leaves in frames of this size (see the module's doc).
pub(super) const CRI_PARTIAL_BYTES: usize = 16 * 1024;

impl LogJournal {
    /// The response body for `q`: tail first, then since, then the byte limit.
    pub fn body(self: &Arc<Self>, q: &LogQuery, chunking: Chunking) -> LogBody {
        self.body_with_hold(q, chunking, Duration::ZERO)
    }

    /// `body`, with follow streams held open for `hold` after the instance ends, as the
    /// kubelet holds them until its next container state check.
    pub fn body_with_hold(
        self: &Arc<Self>,
        q: &LogQuery,
        chunking: Chunking,
        hold: Duration,
    ) -> LogBody {
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
            within: 0,
            done: false,
            hold,
        };
        drop(st);
        LogBody::new(reader)
    }
}

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
                    Step::WaitUntil(at) => {
                        tokio::select! {
                            () = notified => {}
                            () = tokio::time::sleep_until(at) => {}
                        }
                    }
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
    /// Nothing to send: wait for news, or until then.
    WaitUntil(Instant),
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
    /// Bytes of line `next` already sent, when it is a long one.
    within: usize,
    done: bool,
    /// How long a follow stream stays open after the instance ended.
    hold: Duration,
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
            if self.stop.is_some() {
                return Step::End;
            }
            if !st.terminated {
                return Step::Wait;
            }
            // The kubelet notices the end at its next state check.
            return match st.terminated_at.map(|at| at + self.hold) {
                Some(until) if Instant::now() < until => Step::WaitUntil(until),
                _ => Step::End,
            };
        }

        let first = self.next;
        let (seg_start, seg_end, frozen) = st.segment_of(st.lines[first].off);
        let skip = if self.timestamps { 0 } else { PREFIX_LEN };
        let line_len = (st.line_end(first) - st.lines[first].off) as usize - skip;
        if line_len > CRI_PARTIAL_BYTES {
            // One partial record; a line never spans segments.
            let from = (st.lines[first].off - seg_start) as usize + skip + self.within;
            let n = (line_len - self.within).min(CRI_PARTIAL_BYTES);
            let frame = match frozen {
                Some(seg) => seg.slice(from..from + n),
                None => Bytes::copy_from_slice(&st.active[from..from + n]),
            };
            drop(st);
            self.within += n;
            if self.within == line_len {
                (self.next, self.within) = (first + 1, 0);
            }
            return self.limit(frame);
        }
        let mut last = first;
        let mut size = 0usize;
        while last < avail {
            let m = st.lines[last];
            if m.off >= seg_end || self.since.is_some_and(|s| m.ts < s) {
                break;
            }
            let len = (st.line_end(last) - m.off) as usize - skip;
            if size > 0 && (size + len > FRAME_MAX || len > CRI_PARTIAL_BYTES) {
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
        let frame = match (frozen, self.timestamps || last - first == 1) {
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
        self.limit(frame)
    }

    /// `limitBytes`: cuts `frame` to what is left of it.
    fn limit(&mut self, mut frame: Bytes) -> Step {
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

    use super::super::format::{GENERATED_LEN, TS_LEN};
    use super::super::parse_log_query;
    use super::super::testing::{frames, q, ten_seconds, text, ts};
    use super::*;

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

    #[tokio::test(start_paused = true)]
    async fn a_follow_stream_may_outlive_its_container_until_the_next_state_check() {
        let j = LogJournal::new();
        j.append(b"last words");
        let follow = LogQuery {
            follow: true,
            ..q()
        };
        let mut body =
            std::pin::pin!(j.body_with_hold(&follow, Chunking::PerLine, Duration::from_secs(5)));
        let first = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await;
        assert!(first.is_some(), "the line");
        j.terminate();
        let end = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx));
        let ended_at = {
            let start = Instant::now();
            assert!(end.await.is_none(), "the stream ends, cleanly");
            start.elapsed()
        };
        assert_eq!(
            ended_at,
            Duration::from_secs(5),
            "at the next state check, not before"
        );
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
    async fn a_long_line_leaves_in_partial_records() {
        let j = LogJournal::new();
        let long: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        j.append(b"short");
        j.append(&long);
        j.append(b"next");
        for chunking in [Chunking::PerLine, Chunking::Coalesced] {
            for timestamps in [false, true] {
                let with = LogQuery { timestamps, ..q() };
                let (f, _) = frames(j.body(&with, chunking)).await;
                let prefix = if timestamps { PREFIX_LEN } else { 0 };
                let sizes: Vec<usize> = f.iter().map(Bytes::len).collect();
                let long_frames = [
                    CRI_PARTIAL_BYTES,
                    CRI_PARTIAL_BYTES,
                    prefix + long.len() + 1 - 2 * CRI_PARTIAL_BYTES,
                ];
                // Coalesced or not, the long line leaves alone, in partial records.
                let want = [vec![prefix + 6], long_frames.to_vec(), vec![prefix + 5]].concat();
                assert_eq!(sizes, want, "{chunking:?}, timestamps {timestamps}");
                let joined = f.concat();
                let body = String::from_utf8(joined).unwrap();
                let lines: Vec<&str> = body.lines().map(|l| &l[prefix..]).collect();
                assert_eq!(
                    lines,
                    ["short", std::str::from_utf8(&long).unwrap(), "next"]
                );
            }
        }
        // A byte limit cuts within a long line too.
        let lim = LogQuery {
            limit_bytes: Some(20_000),
            ..q()
        };
        assert_eq!(text(j.body(&lim, Chunking::PerLine)).await.len(), 20_000);
    }

    #[test]
    fn log_body_is_send_and_unpin() {
        fn check<T: Send + Unpin + 'static>() {}
        check::<LogBody>();
        fn shared<T: Send + Sync>() {}
        shared::<LogJournal>();
    }
}
