//! Turning the raw bytes of a log stream into lines.
//!
//! The API sends `<RFC3339 timestamp> <message>\n` (ktail always asks for timestamps);
//! chunk boundaries are not line boundaries, so a partial line is carried to the next
//! chunk. Lines are never allocated one by one: the splitter hands out slices of the
//! chunk, and only a line split across chunks is copied once.
//!
//! Memory per stream is bounded whatever a container writes: a line longer than
//! `PIECE_BYTES` is handed out in pieces of exactly that size (the last one shorter), so
//! at most one piece is ever carried. Where a line is cut depends only on its length,
//! never on how the stream was chunked, so a resumed stream cuts it at the same places.

use crate::render::time::parse_rfc3339_second;

/// Lines up to this length are handed out whole; longer ones in pieces of this size.
/// 1 MiB: far above ordinary lines (JSON documents, stack traces stay whole), small
/// enough that the few pieces in flight between a tail and the writer keep a stream's
/// memory to a few MiB.
pub(crate) const PIECE_BYTES: usize = 1 << 20;
/// The API's timestamp and the space after it (`2024-01-02T03:04:05.123456789Z `, the
/// kubelet's fixed layout): a log stream's splitter lets a first piece be this much
/// longer, so that the sizes count the container's own bytes.
pub(crate) const API_TIMESTAMP_BYTES: usize = 31;

/// Where a slice handed out by the splitter stands in its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// A whole line (at most `PIECE_BYTES`).
    Whole,
    /// The first piece of a longer line; it holds the line's timestamp.
    First,
    /// A piece in the middle.
    Middle,
    /// The last piece (the line's newline came, or the stream ended cleanly).
    Last,
}

/// Splits a byte stream into lines, carrying a partial line between chunks.
#[derive(Debug, Default)]
pub struct LineSplitter {
    carry: Vec<u8>,
    /// A piece of the current line was handed out: what follows continues it.
    open: bool,
    /// How much longer than a piece a line's first piece may be (its timestamp).
    lead: usize,
}

impl LineSplitter {
    /// A splitter whose lines begin with `lead` bytes (a timestamp) that do not count
    /// toward the piece size.
    pub(crate) fn with_lead(lead: usize) -> LineSplitter {
        LineSplitter {
            lead,
            ..LineSplitter::default()
        }
    }

    /// The size of the piece being filled.
    fn limit(&self) -> usize {
        if self.open {
            PIECE_BYTES
        } else {
            PIECE_BYTES + self.lead
        }
    }

    /// Calls `each` with every complete line in `chunk` (without its `\n`), and with
    /// every piece of a long line as soon as it is complete.
    pub fn feed(&mut self, mut chunk: &[u8], mut each: impl FnMut(&[u8], Part)) {
        if !self.carry.is_empty() || self.open {
            match memchr::memchr(b'\n', chunk) {
                Some(i) => {
                    self.take(&chunk[..i], &mut each);
                    self.end_line(&mut each);
                    chunk = &chunk[i + 1..];
                }
                None => {
                    self.take(chunk, &mut each);
                    return;
                }
            }
        }
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', chunk) {
            let line = &chunk[start..end];
            if line.len() <= PIECE_BYTES + self.lead {
                each(line, Part::Whole);
            } else {
                self.take(line, &mut each);
                self.end_line(&mut each);
            }
            start = end + 1;
        }
        self.take(&chunk[start..], &mut each);
    }

    /// Adds `bytes` to the unfinished line, handing out every piece that fills up; a
    /// full piece is kept until more comes, so that a line of exactly a piece is still
    /// whole.
    fn take(&mut self, mut bytes: &[u8], each: &mut impl FnMut(&[u8], Part)) {
        while self.carry.len() + bytes.len() > self.limit() {
            let room = self.limit() - self.carry.len();
            if self.carry.is_empty() {
                // Straight from the chunk, without copying.
                each(&bytes[..room], self.next_part());
            } else {
                self.carry.extend_from_slice(&bytes[..room]);
                let part = self.next_part();
                each(&self.carry, part);
                self.carry.clear();
            }
            bytes = &bytes[room..];
        }
        self.carry.extend_from_slice(bytes);
    }

    fn next_part(&mut self) -> Part {
        if std::mem::replace(&mut self.open, true) {
            Part::Middle
        } else {
            Part::First
        }
    }

    /// The line's newline came (or a clean end): what is carried is its end.
    fn end_line(&mut self, each: &mut impl FnMut(&[u8], Part)) {
        let part = if std::mem::take(&mut self.open) {
            Part::Last
        } else {
            Part::Whole
        };
        each(&self.carry, part);
        self.carry.clear();
    }

    /// At a clean end of stream: the last line, if it had no newline.
    pub fn finish(&mut self, mut each: impl FnMut(&[u8], Part)) {
        if !self.carry.is_empty() || self.open {
            self.end_line(&mut each);
        }
    }

    /// After a broken stream: the partial line is dropped; the resume fetches it again.
    pub(crate) fn discard(&mut self) {
        self.carry.clear();
        self.open = false;
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
    split_timestamp(line.strip_suffix(b"\r").unwrap_or(line))
}

/// `parse_line` without dropping a trailing `\r`: for the first piece of a long line,
/// whose end is not the line's.
pub(crate) fn split_timestamp(line: &[u8]) -> Line<'_> {
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
            s.feed(c, |l, part| {
                assert_eq!(part, Part::Whole);
                out.push(l.to_vec())
            });
        }
        s.finish(|l, _| out.push(l.to_vec()));
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
        s.feed(b"one\ntw", |l, _| out.push(l.to_vec()));
        s.discard();
        s.feed(b"three\n", |l, _| out.push(l.to_vec()));
        assert_eq!(out, vec![b"one".to_vec(), b"three".to_vec()]);
    }

    /// Feeds `line` (a long line and its newline, then `b"next\n"`) in chunks of
    /// `size`; returns the parts handed out as (length, part, first byte).
    fn pieces(line: &[u8], size: usize) -> Vec<(usize, Part, u8)> {
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        let mut all = line.to_vec();
        all.extend_from_slice(b"\nnext\n");
        for c in all.chunks(size) {
            s.feed(c, |l, part| {
                out.push((l.len(), part, l.first().copied().unwrap_or(0)))
            });
        }
        s.finish(|l, part| out.push((l.len(), part, 0)));
        out
    }

    #[test]
    fn long_lines_come_in_pieces_cut_at_the_same_places_whatever_the_chunks() {
        let p = PIECE_BYTES;
        let line: Vec<u8> = (0..2 * p + 10).map(|i| (i / p) as u8 + b'a').collect();
        let want = vec![
            (p, Part::First, b'a'),
            (p, Part::Middle, b'b'),
            (10, Part::Last, b'c'),
            (4, Part::Whole, b'n'),
        ];
        for size in [1000, 4096, p - 1, p, p + 1, 3 * p] {
            assert_eq!(pieces(&line, size), want, "chunks of {size}");
        }
        // Exactly one piece long is still whole; one byte more is two pieces.
        let exact = vec![b'x'; p];
        assert_eq!(pieces(&exact, 7919)[0], (p, Part::Whole, b'x'));
        let over = vec![b'x'; p + 1];
        assert_eq!(
            pieces(&over, 7919)[..2],
            [(p, Part::First, b'x'), (1, Part::Last, b'x')]
        );
        // A long line without a newline at a clean end: its last piece comes at finish.
        let mut s = LineSplitter::default();
        let mut out = Vec::new();
        s.feed(&over, |l, part| out.push((l.len(), part)));
        s.finish(|l, part| out.push((l.len(), part)));
        assert_eq!(out, [(p, Part::First), (1, Part::Last)]);
        // A lead (the API's timestamp) does not count toward the first piece.
        let mut s = LineSplitter::with_lead(3);
        let mut out = Vec::new();
        s.feed(&vec![b'x'; p + 3], |l, part| out.push((l.len(), part)));
        s.feed(b"\n", |l, part| out.push((l.len(), part)));
        s.feed(&vec![b'x'; 2 * p + 4], |l, part| out.push((l.len(), part)));
        s.finish(|l, part| out.push((l.len(), part)));
        assert_eq!(
            out,
            [
                (p + 3, Part::Whole),
                (p + 3, Part::First),
                (p, Part::Middle),
                (1, Part::Last)
            ]
        );
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
