//! Turning the raw bytes of a log stream into lines.
//!
//! The API sends `<RFC3339 timestamp> <message>\n` (ktail always asks for timestamps);
//! chunk boundaries are not line boundaries, so a partial line is carried to the next
//! chunk. Lines are never allocated one by one: the splitter hands out slices of the
//! chunk, and only a line split across chunks is copied once.

use crate::render::time::parse_rfc3339_second;

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
    pub(crate) fn discard(&mut self) {
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
        // Not a timestamp: the whole line is the message.
        let l = parse_line(b"plain text line");
        assert_eq!(
            (l.timestamp, l.second, l.message),
            (&b""[..], None, &b"plain text line"[..])
        );
    }
}
