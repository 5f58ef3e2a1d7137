//! The reader at the far end of a tool's stdout: it reads the pipe on its own thread,
//! stamps every read with the wall clock, and checks the simulator's generated lines
//! (`pod=<pod> container=<c> seq=<n> …`) for loss, duplication and order per container.
//!
//! It finds the message by its `pod=` field, so it reads every tool's prefix style
//! (ktail's `pod container`, kubectl's `[pod/p/c]`, none for curl). The API timestamp, when
//! the tool prints it, is the 30 bytes right before the message (the simulator stamps
//! RFC 3339 with nine fractional digits in UTC, and ktail `-t` and kubectl `--timestamps`
//! print it unchanged), so latency is arrival time minus that timestamp.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What the reader has seen of one container's stream.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    /// Wall-clock nanoseconds of the read that brought the first line.
    pub first_arrival_ns: i64,
    pub lines: u64,
    /// How often each sequence number was seen, from `base`.
    counts: Vec<u8>,
    base: Option<u64>,
    /// A line whose seq was lower than the one before it.
    pub out_of_order: u64,
    last_seq: Option<u64>,
}

impl Stream {
    fn record(&mut self, seq: u64) {
        self.lines += 1;
        if self.last_seq.is_some_and(|l| seq <= l) {
            self.out_of_order += 1;
        }
        self.last_seq = Some(seq);
        let base = *self.base.get_or_insert(seq);
        if seq < base {
            // Earlier than the first line seen: grow at the front.
            let grow = (base - seq) as usize;
            let mut counts = vec![0u8; grow];
            counts.append(&mut self.counts);
            self.counts = counts;
            self.base = Some(seq);
        }
        let i = (seq - self.base.unwrap_or(seq)) as usize;
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] = self.counts[i].saturating_add(1);
    }

    /// First and last sequence number seen.
    pub fn range(&self) -> Option<(u64, u64)> {
        let base = self.base?;
        Some((base, base + self.counts.len() as u64 - 1))
    }

    /// Sequence numbers in the seen range that are missing, and those seen more than once.
    pub fn gaps_and_dups(&self) -> (u64, u64) {
        let gaps = self.counts.iter().filter(|c| **c == 0).count() as u64;
        let dups = self
            .counts
            .iter()
            .map(|c| u64::from(c.saturating_sub(1)))
            .sum();
        (gaps, dups)
    }

    /// True when exactly `0..n` was seen, each once.
    pub fn is_exactly(&self, n: u64) -> bool {
        if n == 0 {
            return self.lines == 0;
        }
        self.base == Some(0) && self.counts.len() as u64 == n && self.counts.iter().all(|c| *c == 1)
    }
}

/// Everything read so far.
#[derive(Debug, Default)]
pub struct Seen {
    pub lines: u64,
    pub bytes: u64,
    /// Lines without a generated-line body (notices, other text, torn lines).
    pub unparsed: u64,
    /// Keyed by `pod=<pod> container=<c>`.
    pub streams: HashMap<Vec<u8>, Stream>,
    /// Arrival minus API timestamp of each line read while recording, in nanoseconds.
    pub latencies_ns: Vec<i64>,
    pub eof: bool,
}

impl Seen {
    pub fn stream(&self, pod: &str, container: &str) -> Option<&Stream> {
        self.streams
            .get(format!("pod={pod} container={container}").as_bytes())
    }
}

struct Shared {
    seen: Mutex<Seen>,
    paused: AtomicBool,
    recording: AtomicBool,
}

/// A reader thread over a pipe.
pub struct OutputReader {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl OutputReader {
    pub fn start(mut pipe: impl Read + Send + 'static) -> OutputReader {
        let shared = Arc::new(Shared {
            seen: Mutex::new(Seen::default()),
            paused: AtomicBool::new(false),
            recording: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("output-reader".into())
            .spawn(move || {
                let mut buf = vec![0u8; 1 << 20];
                let mut carry: Vec<u8> = Vec::new();
                let mut ts_cache = TsCache::default();
                loop {
                    if s.paused.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    let n = match pipe.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let now = now_ns();
                    let recording = s.recording.load(Ordering::Relaxed);
                    let mut seen = lock(&s.seen);
                    seen.bytes += n as u64;
                    let mut chunk = &buf[..n];
                    if !carry.is_empty() {
                        match memchr::memchr(b'\n', chunk) {
                            Some(i) => {
                                carry.extend_from_slice(&chunk[..i]);
                                line(&mut seen, &carry, now, recording, &mut ts_cache);
                                carry.clear();
                                chunk = &chunk[i + 1..];
                            }
                            None => {
                                carry.extend_from_slice(chunk);
                                continue;
                            }
                        }
                    }
                    let mut start = 0;
                    for end in memchr::memchr_iter(b'\n', chunk) {
                        line(&mut seen, &chunk[start..end], now, recording, &mut ts_cache);
                        start = end + 1;
                    }
                    carry.extend_from_slice(&chunk[start..]);
                }
                let mut seen = lock(&s.seen);
                if !carry.is_empty() {
                    line(&mut seen, &carry, now_ns(), false, &mut ts_cache);
                }
                seen.eof = true;
            })
            .expect("the reader thread can be spawned");
        OutputReader {
            shared,
            thread: Some(thread),
        }
    }

    /// Looks at what was read so far (the reader waits while this is held).
    pub fn seen(&self) -> MutexGuard<'_, Seen> {
        lock(&self.shared.seen)
    }

    /// Stops reading the pipe (the writer blocks once the pipe is full) or resumes.
    pub fn pause(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::Relaxed);
    }

    /// Starts or stops collecting latency samples.
    pub fn record(&self, on: bool) {
        self.shared.recording.store(on, Ordering::Relaxed);
    }

    /// Waits for the end of the pipe, at most `timeout`; true when it came.
    pub fn wait_eof(&mut self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if self.seen().eof {
                if let Some(t) = self.thread.take() {
                    let _ = t.join();
                }
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// Polls `cond` every 5 ms until it holds or `timeout` passes.
    pub fn wait_until(&self, timeout: Duration, cond: impl Fn(&Seen) -> bool) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if cond(&self.seen()) {
                return true;
            }
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

fn line(seen: &mut Seen, line: &[u8], now: i64, recording: bool, ts: &mut TsCache) {
    seen.lines += 1;
    let Some(g) = parse_generated(line) else {
        seen.unparsed += 1;
        return;
    };
    let key = &line[g.key.clone()];
    if !seen.streams.contains_key(key) {
        let first = Stream {
            first_arrival_ns: now,
            ..Stream::default()
        };
        seen.streams.insert(key.to_vec(), first);
    }
    if let Some(stream) = seen.streams.get_mut(key) {
        stream.record(g.seq);
    }
    if recording
        && g.key.start >= 31
        && let Some(t) = ts.parse(&line[g.key.start - 31..g.key.start - 1])
    {
        seen.latencies_ns.push(now - t);
    }
}

/// Byte ranges of a generated line's fields.
#[derive(Debug, PartialEq)]
struct Generated {
    /// `pod=<pod> container=<c>`
    key: std::ops::Range<usize>,
    #[cfg(test)]
    pod: std::ops::Range<usize>,
    seq: u64,
}

fn parse_generated(line: &[u8]) -> Option<Generated> {
    let start = memchr::memmem::find(line, b"pod=")?;
    let pod_start = start + 4;
    let pod_end = pod_start + memchr::memchr(b' ', &line[pod_start..])?;
    let rest = line[pod_end..].strip_prefix(b" container=")?;
    let c_start = line.len() - rest.len();
    let c_end = c_start + memchr::memchr(b' ', rest)?;
    let digits = line[c_end..].strip_prefix(b" seq=")?;
    let mut seq = 0u64;
    let mut n = 0;
    for &b in digits.iter().take_while(|b| b.is_ascii_digit()) {
        seq = seq.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        n += 1;
    }
    (n > 0).then_some(Generated {
        key: start..c_end,
        #[cfg(test)]
        pod: pod_start..pod_end,
        seq,
    })
}

/// Parses `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` to Unix nanoseconds, caching the second.
#[derive(Default)]
struct TsCache {
    prefix: [u8; 19],
    second: Option<i64>,
}

impl TsCache {
    fn parse(&mut self, t: &[u8]) -> Option<i64> {
        if t.len() != 30 || t[19] != b'.' || t[29] != b'Z' {
            return None;
        }
        let second = match self.second {
            Some(s) if t[..19] == self.prefix => s,
            _ => {
                let s = parse_second(&t[..19])?;
                self.prefix.copy_from_slice(&t[..19]);
                self.second = Some(s);
                s
            }
        };
        let mut frac = 0i64;
        for &b in &t[20..29] {
            if !b.is_ascii_digit() {
                return None;
            }
            frac = frac * 10 + i64::from(b - b'0');
        }
        Some(second * 1_000_000_000 + frac)
    }
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SS` (UTC).
fn parse_second(s: &[u8]) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        s[r].iter().try_fold(0i64, |v, &b| {
            b.is_ascii_digit().then(|| v * 10 + i64::from(b - b'0'))
        })
    };
    if s[4] != b'-' || s[7] != b'-' || s[10] != b'T' || s[13] != b':' || s[16] != b':' {
        return None;
    }
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from civil (H. Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_generated_fields_behind_any_prefix() {
        for (text, pod) in [
            ("web-1 app pod=web-1 container=app seq=42 lorem", "web-1"),
            (
                "[pod/web-1/app] pod=web-1 container=app seq=42 lorem",
                "web-1",
            ),
            ("pod=web-1 container=app seq=42 ", "web-1"),
        ] {
            let g = parse_generated(text.as_bytes()).unwrap();
            assert_eq!(g.seq, 42);
            assert_eq!(&text[g.pod.clone()], pod);
            assert_eq!(&text[g.key.clone()], "pod=web-1 container=app");
        }
        assert_eq!(parse_generated(b"+ web-1 \xe2\x80\xba app"), None);
        assert_eq!(parse_generated(b"pod=web-1 container=app seq=x"), None);
    }

    #[test]
    fn timestamps_parse_to_unix_nanoseconds() {
        let mut c = TsCache::default();
        assert_eq!(
            c.parse(b"2024-01-02T03:04:05.123456789Z"),
            Some(1_704_164_645_123_456_789)
        );
        // Cached second, new fraction.
        assert_eq!(
            c.parse(b"2024-01-02T03:04:05.000000001Z"),
            Some(1_704_164_645_000_000_001)
        );
        assert_eq!(c.parse(b"1970-01-01T00:00:00.000000000Z"), Some(0));
        assert_eq!(c.parse(b"2024-01-02T03:04:05Z"), None);
    }

    #[test]
    fn streams_count_gaps_duplicates_and_order() {
        let mut s = Stream::default();
        for seq in [0, 1, 2, 3] {
            s.record(seq);
        }
        assert!(s.is_exactly(4));
        assert!(!s.is_exactly(5));
        s.record(3);
        assert_eq!(s.gaps_and_dups(), (0, 1));
        assert_eq!(s.out_of_order, 1);
        assert!(!s.is_exactly(4));
        let mut s = Stream::default();
        for seq in [10, 12, 9] {
            s.record(seq);
        }
        assert_eq!(s.range(), Some((9, 12)));
        assert_eq!(s.gaps_and_dups(), (1, 0));
    }

    #[test]
    fn reader_joins_lines_across_reads_and_measures_latency() {
        let ts = "2024-01-02T03:04:05.000000000Z";
        let text = format!(
            "web-1 app {ts} pod=web-1 container=app seq=0 x\nweb-1 app {ts} pod=web-1 container=app seq=1 x\n+ notice\n"
        );
        // A reader that hands out three bytes at a time.
        struct Trickle(Vec<u8>, usize);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = 3.min(self.0.len() - self.1).min(buf.len());
                buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let mut r = OutputReader::start(Trickle(text.into_bytes(), 0));
        r.record(true);
        assert!(r.wait_eof(Duration::from_secs(10)));
        let seen = r.seen();
        assert_eq!((seen.lines, seen.unparsed), (3, 1));
        assert!(seen.stream("web-1", "app").unwrap().is_exactly(2));
        // Recording may have started after the first read; every sample is "now - 2024".
        assert!(
            seen.latencies_ns
                .iter()
                .all(|l| *l > 86_400 * 1_000_000_000)
        );
    }
}
