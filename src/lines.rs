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

/// Where a container's stream stands: what a reconnect must skip.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResumeCursor {
    /// The whole second of the last line handled, if any line was.
    pub second: Option<i64>,
    /// How many lines of that second were handled.
    pub seen_in_second: u64,
}

/// What to do with a line on a stream that resumes from a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Already printed before the reconnect: skip it.
    Skip,
    /// New: print it.
    Take,
    /// New, but lines the cursor expected before it were not sent again: lines between
    /// the cursor's second and this line may be missing (the log was rotated).
    Gap { from: i64, to: i64 },
}

impl ResumeCursor {
    /// Records a line that was handled (printed or filtered out).
    pub fn advance(&mut self, second: Option<i64>) {
        let Some(s) = second else { return };
        match self.second {
            Some(cur) if cur == s => self.seen_in_second += 1,
            Some(cur) if cur > s => {} // clock went backwards: keep the later mark
            _ => {
                self.second = Some(s);
                self.seen_in_second = 1;
            }
        }
    }
}

/// Replays a cursor against the lines of a resumed stream.
#[derive(Debug, Clone)]
pub struct Replay {
    second: i64,
    to_skip: u64,
    done: bool,
}

impl Replay {
    pub fn new(cursor: &ResumeCursor) -> Option<Replay> {
        cursor.second.map(|second| Replay {
            second,
            to_skip: cursor.seen_in_second,
            done: false,
        })
    }

    pub fn check(&mut self, second: Option<i64>) -> Resume {
        if self.done {
            return Resume::Take;
        }
        let Some(s) = second else { return Resume::Take };
        if s < self.second {
            // Older than asked for: the server sent more than sinceTime; already seen.
            return Resume::Skip;
        }
        if s == self.second && self.to_skip > 0 {
            self.to_skip -= 1;
            if self.to_skip == 0 {
                self.done = true;
            }
            return Resume::Skip;
        }
        self.done = true;
        if self.to_skip > 0 {
            Resume::Gap {
                from: self.second,
                to: s,
            }
        } else {
            Resume::Take
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

    #[test]
    fn resume_skips_exactly_what_was_seen() {
        let mut c = ResumeCursor::default();
        for s in [10, 10, 11, 11, 11] {
            c.advance(Some(s));
        }
        assert_eq!(
            c,
            ResumeCursor {
                second: Some(11),
                seen_in_second: 3
            }
        );
        // The server resends from second 11: three old lines, then new ones.
        let mut r = Replay::new(&c).unwrap();
        let got: Vec<Resume> = [11, 11, 11, 11, 12]
            .iter()
            .map(|s| r.check(Some(*s)))
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
    fn resume_reports_a_gap_when_seen_lines_are_gone() {
        let mut c = ResumeCursor::default();
        c.advance(Some(20));
        let mut r = Replay::new(&c).unwrap();
        assert_eq!(r.check(Some(25)), Resume::Gap { from: 20, to: 25 });
        assert_eq!(r.check(Some(25)), Resume::Take);
        assert!(Replay::new(&ResumeCursor::default()).is_none());
    }
}
