//! Turning the raw bytes of a log stream into lines, and remembering where we are.
//!
//! The API sends `<RFC3339 timestamp> <message>\n` (ktail always asks for timestamps);
//! chunk boundaries are not line boundaries, so a partial line is carried to the next
//! chunk. Lines are never allocated one by one: the splitter hands out slices of the
//! chunk, and only a line split across chunks is copied once.
//!
//! `ResumeCursor` is the resume contract: the last whole second seen plus how many lines
//! carried that second. A reconnect asks for `sinceTime=<second>` (the API's precision)
//! and skips exactly that many lines of that second, so lines that share a timestamp are
//! neither lost nor repeated.

/// Splits a byte stream into lines, carrying a partial line between chunks.
#[derive(Debug, Default)]
pub struct LineSplitter {
    carry: Vec<u8>,
}

impl LineSplitter {
    /// Calls `each` with every complete line in `chunk` (without its `\n`).
    pub fn feed(&mut self, mut chunk: &[u8], mut each: impl FnMut(&[u8])) {
        if !self.carry.is_empty() {
            match memchr::memchr(b'\n', chunk) {
                Some(i) => {
                    self.carry.extend_from_slice(&chunk[..i]);
                    each(&self.carry);
                    self.carry.clear();
                    chunk = &chunk[i + 1..];
                }
                None => {
                    self.carry.extend_from_slice(chunk);
                    return;
                }
            }
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', chunk) {
            each(&chunk[start..end]);
            start = end + 1;
        }
        self.carry.extend_from_slice(&chunk[start..]);
    }

    /// At a clean end of stream: the last line, if it had no newline.
    pub fn finish(&mut self, each: impl FnOnce(&[u8])) {
        if !self.carry.is_empty() {
            each(&self.carry);
            self.carry.clear();
        }
    }

    /// After a broken stream: the partial line is dropped; the resume will fetch it whole.
    pub fn discard(&mut self) {
        self.carry.clear();
    }
}

/// A log line split into its API timestamp and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// The timestamp text as sent (empty when the line had none).
    pub timestamp: &'a [u8],
    /// Whole seconds since the Unix epoch, when the timestamp parsed.
    pub second: Option<i64>,
    pub message: &'a [u8],
}

/// Splits `<timestamp> <message>`; a line whose first word is not a timestamp is all
/// message (defensive: the API always prefixes when asked).
pub fn parse_line(line: &[u8]) -> Line<'_> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if let Some(sp) = memchr::memchr(b' ', &line[..line.len().min(40)])
        && let Some(second) = parse_rfc3339_second(&line[..sp])
    {
        return Line {
            timestamp: &line[..sp],
            second: Some(second),
            message: &line[sp + 1..],
        };
    }
    // An empty message with timestamps is "<ts> "; a timestamp with nothing after it is
    // still a timestamp.
    if let Some(second) = parse_rfc3339_second(line) {
        return Line {
            timestamp: line,
            second: Some(second),
            message: &[],
        };
    }
    Line {
        timestamp: &[],
        second: None,
        message: line,
    }
}

/// Whole epoch seconds of an RFC3339 time such as `2024-01-02T03:04:05.123456789Z` or
/// `…+02:00`. Written by hand because it runs once per line: it only reads fixed
/// positions and never allocates.
pub fn parse_rfc3339_second(s: &[u8]) -> Option<i64> {
    if s.len() < 20 || s[4] != b'-' || s[7] != b'-' || !matches!(s[10], b'T' | b't' | b' ') {
        return None;
    }
    if s[13] != b':' || s[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &b in &s[r] {
            if !b.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(b - b'0');
        }
        Some(v)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    if s[i] == b'.' {
        i += 1;
        let digits = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        i += digits;
    }
    let offset = match s.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let d = |b: u8| b.is_ascii_digit().then(|| i64::from(b - b'0'));
            let off = (d(*h1)? * 10 + d(*h2)?) * 3600 + (d(*m1)? * 10 + d(*m2)?) * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The identity of a line within its second: a hash of its timestamp text (nanosecond
/// precision, unique per line of a container instance in practice) and its length.
/// Cheap: the timestamp is 30 bytes.
pub fn line_key(line: &Line<'_>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in line.timestamp {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ (line.message.len() as u64).rotate_left(40)
}

/// Where a container's stream stands: what a reconnect must skip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResumeCursor {
    /// The whole second of the last line handled, if any line was.
    pub second: Option<i64>,
    /// The lines of that second handled so far, in order (see `line_key`).
    pub seen: Vec<u64>,
    /// The timestamp text of the first of them: lines of the same second that sort
    /// before it were never handled (they were before `--tail`/`--since`).
    pub first: Option<[u8; 40]>,
}

/// What to do with a line on a stream that resumes from a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Already printed before the reconnect: skip it.
    Skip,
    /// New: print it.
    Take,
    /// New, but the lines the cursor expected before it were not sent again: lines
    /// logged between the cursor's second and this line's may be missing (the log was
    /// rotated while ktail reconnected).
    Gap { from: i64, to: i64 },
}

impl ResumeCursor {
    /// Records a line that was handled (printed or filtered out).
    pub fn advance(&mut self, second: Option<i64>, key: u64) {
        self.advance_line(second, key, &[]);
    }

    /// Like `advance`, keeping the line's timestamp text when it starts a second.
    pub fn advance_line(&mut self, second: Option<i64>, key: u64, timestamp: &[u8]) {
        let Some(s) = second else { return };
        match self.second {
            Some(cur) if cur == s => self.seen.push(key),
            Some(cur) if cur > s => {} // clock went backwards: keep the later mark
            _ => {
                self.second = Some(s);
                self.seen.clear();
                self.seen.push(key);
                self.first = (timestamp.len() <= 40).then(|| {
                    let mut t = [0u8; 40];
                    t[..timestamp.len()].copy_from_slice(timestamp);
                    t
                });
            }
        }
    }
}

/// Replays a cursor against the lines of a resumed stream, which the API sends from
/// the cursor's whole second (`sinceTime` has second precision). Lines already handled
/// are recognised by identity, not by count: after a rotation the server may hold only
/// some of them, or none, and counting would then skip new lines.
#[derive(Debug, Clone)]
pub struct Replay {
    second: i64,
    seen: Vec<u64>,
    first: Option<[u8; 40]>,
    /// How many of `seen` the server has sent again, once it started sending them.
    matched: Option<usize>,
    done: bool,
}

impl Replay {
    pub fn new(cursor: &ResumeCursor) -> Option<Replay> {
        cursor.second.map(|second| Replay {
            second,
            seen: cursor.seen.clone(),
            first: cursor.first,
            matched: None,
            done: false,
        })
    }

    pub fn check(&mut self, second: Option<i64>, key: u64) -> Resume {
        self.check_line(second, key, &[])
    }

    /// The replay is over: every line from here on is new.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Like `check`, with the line's timestamp text, so that lines of the cursor's second
    /// that come before anything handled are skipped rather than taken.
    pub fn check_line(&mut self, second: Option<i64>, key: u64, timestamp: &[u8]) -> Resume {
        if self.done {
            return Resume::Take;
        }
        let Some(s) = second else { return Resume::Take };
        if s < self.second {
            // Older than asked for: the server sent more than sinceTime; already seen.
            return Resume::Skip;
        }
        if s == self.second {
            let next = match self.matched {
                // The first line of the cursor's second: where does it stand among ours?
                None => self.seen.iter().position(|k| *k == key),
                Some(n) => (self.seen.get(n) == Some(&key)).then_some(n),
            };
            if let Some(n) = next {
                self.matched = Some(n + 1);
                self.done = n + 1 == self.seen.len();
                return Resume::Skip;
            }
            if self.matched.is_none()
                && let Some(first) = &self.first
                && !timestamp.is_empty()
                && timestamp.len() <= 40
                && timestamp < &first[..timestamp.len()]
            {
                // Before the first line ever handled in this second: not ours to print.
                return Resume::Skip;
            }
        }
        // A line we have not seen, before the last line we printed came back.
        self.done = true;
        if self.matched == Some(self.seen.len()) {
            Resume::Take
        } else {
            Resume::Gap {
                from: self.second,
                to: s,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        for c in chunks {
            s.feed(c, |l| out.push(l.to_vec()));
        }
        s.finish(|l| out.push(l.to_vec()));
        out
    }

    #[test]
    fn splitting_carries_partial_lines() {
        let want: Vec<Vec<u8>> = vec![
            b"alpha".to_vec(),
            b"beta".to_vec(),
            b"".to_vec(),
            b"gamma".to_vec(),
        ];
        assert_eq!(split(&[b"alpha\nbeta\n\ngamma"]), want);
        assert_eq!(
            split(&[b"al", b"pha\nbe", b"ta\n", b"\n", b"gam", b"ma"]),
            want
        );
        assert_eq!(split(&[b"alpha\n", b"beta\n\n", b"gamma"]), want);
        // Byte by byte.
        let all = b"alpha\nbeta\n\ngamma";
        let bytes: Vec<&[u8]> = all.chunks(1).collect();
        assert_eq!(split(&bytes), want);
    }

    #[test]
    fn discard_drops_the_partial_line() {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        s.feed(b"one\ntw", |l| out.push(l.to_vec()));
        s.discard();
        s.feed(b"three\n", |l| out.push(l.to_vec()));
        assert_eq!(out, vec![b"one".to_vec(), b"three".to_vec()]);
    }

    #[test]
    fn parses_api_timestamps() {
        let l = parse_line(b"2024-01-02T03:04:05.123456789Z GET / 200");
        assert_eq!(l.timestamp, b"2024-01-02T03:04:05.123456789Z");
        assert_eq!(l.message, b"GET / 200");
        assert_eq!(l.second, Some(1_704_164_645));
        // Empty message.
        let l = parse_line(b"2024-01-02T03:04:05.000000000Z ");
        assert_eq!((l.message, l.second), (&b""[..], Some(1_704_164_645)));
        // Offsets and whole seconds.
        assert_eq!(
            parse_rfc3339_second(b"2024-01-02T05:04:05+02:00"),
            Some(1_704_164_645)
        );
        assert_eq!(parse_rfc3339_second(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_second(b"2000-02-29T00:00:00Z"),
            Some(951_782_400)
        );
        // Not a timestamp: the whole line is the message.
        let l = parse_line(b"plain text line");
        assert_eq!(
            (l.timestamp, l.second, l.message),
            (&b""[..], None, &b"plain text line"[..])
        );
        assert_eq!(parse_rfc3339_second(b"2024-13-02T03:04:05Z"), None);
        assert_eq!(parse_rfc3339_second(b"2024-01-02T03:04:05."), None);
    }

    #[test]
    fn timestamps_agree_with_jiff() {
        for text in [
            "2026-11-27T13:10:18.5Z",
            "1999-12-31T23:59:59Z",
            "2038-01-19T03:14:08.000000001Z",
        ] {
            let want: jiff::Timestamp = text.parse().unwrap();
            assert_eq!(
                parse_rfc3339_second(text.as_bytes()),
                Some(want.as_second()),
                "{text}"
            );
        }
    }

    fn line(second: i64, nanos: u32) -> (Option<i64>, u64) {
        let ts = format!(
            "{}.{nanos:09}Z",
            jiff::Timestamp::from_second(second)
                .unwrap()
                .strftime("%Y-%m-%dT%H:%M:%S")
        );
        let text = format!("{ts} message");
        let l = parse_line(text.as_bytes());
        (l.second, line_key(&l))
    }

    fn cursor_of(lines: &[(Option<i64>, u64)]) -> ResumeCursor {
        let mut c = ResumeCursor::default();
        for (s, k) in lines {
            c.advance(*s, *k);
        }
        c
    }

    #[test]
    fn resume_skips_exactly_what_was_seen() {
        let l = |s, n| line(s, n);
        let c = cursor_of(&[l(10, 1), l(10, 2), l(11, 1), l(11, 2), l(11, 3)]);
        assert_eq!(c.second, Some(11));
        assert_eq!(c.seen.len(), 3);
        // The server resends from second 11: three old lines, then new ones.
        let mut r = Replay::new(&c).unwrap();
        let got: Vec<Resume> = [l(11, 1), l(11, 2), l(11, 3), l(11, 4), l(12, 0)]
            .iter()
            .map(|(s, k)| r.check(*s, *k))
            .collect();
        assert_eq!(
            got,
            [
                Resume::Skip,
                Resume::Skip,
                Resume::Skip,
                Resume::Take,
                Resume::Take
            ]
        );
    }

    #[test]
    fn lines_sharing_a_timestamp_second_are_told_apart() {
        let l = |s, n| line(s, n);
        // Four lines in one second; the stream broke after the second of them.
        let c = cursor_of(&[l(30, 5), l(30, 6)]);
        let mut r = Replay::new(&c).unwrap();
        let got: Vec<Resume> = [l(30, 5), l(30, 6), l(30, 7), l(30, 8)]
            .iter()
            .map(|(s, k)| r.check(*s, *k))
            .collect();
        assert_eq!(
            got,
            [Resume::Skip, Resume::Skip, Resume::Take, Resume::Take]
        );
    }

    #[test]
    fn resume_reports_a_gap_when_seen_lines_are_gone() {
        let l = |s, n| line(s, n);
        // Rotated: nothing of second 20 comes back, the next line is later.
        let mut r = Replay::new(&cursor_of(&[l(20, 1)])).unwrap();
        assert_eq!(
            r.check(l(25, 0).0, l(25, 0).1),
            Resume::Gap { from: 20, to: 25 }
        );
        assert_eq!(r.check(l(25, 1).0, l(25, 1).1), Resume::Take);
        // Rotated within the second: the lines of second 20 that come back are new ones;
        // counting would have skipped them.
        let mut r = Replay::new(&cursor_of(&[l(20, 1), l(20, 2)])).unwrap();
        assert_eq!(
            r.check(l(20, 9).0, l(20, 9).1),
            Resume::Gap { from: 20, to: 20 }
        );
        assert_eq!(r.check(l(20, 10).0, l(20, 10).1), Resume::Take);
        assert!(Replay::new(&ResumeCursor::default()).is_none());
    }

    #[test]
    fn lines_before_the_first_handled_one_stay_skipped() {
        // --tail started mid-second: the resumed stream sends that second from its start.
        let ts = |n: u32| format!("2024-01-02T03:04:05.{n:09}Z");
        let key = |n: u32| {
            let t = ts(n);
            let text = format!("{t} m");
            let l = parse_line(text.as_bytes());
            (l.second, line_key(&l), t)
        };
        let mut c = ResumeCursor::default();
        let (s, k, t) = key(500);
        c.advance_line(s, k, t.as_bytes());
        let mut r = Replay::new(&c).unwrap();
        let got: Vec<Resume> = [100, 200, 500, 600]
            .map(key)
            .iter()
            .map(|(s, k, t)| r.check_line(*s, *k, t.as_bytes()))
            .collect();
        assert_eq!(
            got,
            [Resume::Skip, Resume::Skip, Resume::Skip, Resume::Take]
        );
    }

    #[test]
    fn a_rotation_before_the_last_line_loses_nothing_of_ours() {
        let l = |s, n| line(s, n);
        // The server lost our first line of the second but still has the last one.
        let mut r = Replay::new(&cursor_of(&[l(40, 1), l(40, 2), l(40, 3)])).unwrap();
        let got: Vec<Resume> = [l(40, 2), l(40, 3), l(40, 4)]
            .iter()
            .map(|(s, k)| r.check(*s, *k))
            .collect();
        assert_eq!(got, [Resume::Skip, Resume::Skip, Resume::Take]);
    }
}
