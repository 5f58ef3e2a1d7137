//! Where a container's stream stands, so that a reconnect prints every line once.
//!
//! `ResumeCursor` is the resume contract: the last whole second seen and the identity of
//! each line of that second (`line_key`). A reconnect asks for `sinceTime=<second>` (the
//! API's precision) and `Replay` recognises the lines already handled by identity, not
//! by count, so lines that share a timestamp are neither lost nor repeated, and a log
//! rotated meanwhile shows as a gap rather than as lines skipped.

use crate::tail::lines::Line;

/// The identity of a line within its second: a hash of its timestamp text (nanosecond
/// precision, unique per line of a container instance in practice) and its length.
/// Cheap: the timestamp is 30 bytes.
pub(crate) fn line_key(line: &Line<'_>) -> u64 {
    timestamp_hash(line.timestamp) ^ (line.message.len() as u64).rotate_left(40)
}

/// The identity of a line longer than a piece (`lines::PIECE_BYTES`): its length is not
/// known when its first piece comes, so its timestamp alone, marked apart from
/// `line_key`'s. Whether a line comes in pieces depends only on its length, so a resumed
/// stream gives it the same key.
pub(crate) fn long_line_key(timestamp: &[u8]) -> u64 {
    timestamp_hash(timestamp) ^ u64::MAX.rotate_left(40)
}

fn timestamp_hash(timestamp: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in timestamp {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Where a container's stream stands: what a reconnect must skip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ResumeCursor {
    /// The whole second of the last line handled, if any line was.
    pub(crate) second: Option<i64>,
    /// The lines of that second handled so far, in order (see `line_key`).
    pub(crate) seen: Vec<u64>,
    /// The timestamp text of the first of them: lines of the same second that sort
    /// before it were never handled (they were before `--tail`/`--since`).
    pub(crate) first: Option<[u8; 40]>,
    /// The long line a stream broke in (`long_line_key`, one of `seen`), and how many
    /// bytes of its message were handled: a resume skips those and goes on with the rest.
    pub(crate) open: Option<(u64, u64)>,
}

/// What to do with a line on a stream that resumes from a cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resume {
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
    /// Records a line that was handled (printed or filtered out), keeping its timestamp
    /// text when it starts a second.
    pub(crate) fn advance_line(&mut self, second: Option<i64>, key: u64, timestamp: &[u8]) {
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
pub(crate) struct Replay {
    second: i64,
    seen: Vec<u64>,
    first: Option<[u8; 40]>,
    /// How many of `seen` the server has sent again, once it started sending them.
    matched: Option<usize>,
    done: bool,
}

impl Replay {
    pub(crate) fn new(cursor: &ResumeCursor) -> Option<Replay> {
        cursor.second.map(|second| Replay {
            second,
            seen: cursor.seen.clone(),
            first: cursor.first,
            matched: None,
            done: false,
        })
    }

    /// The replay is over: every line from here on is new.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// What to do with a line of the resumed stream. The line's timestamp text lets lines
    /// of the cursor's second that come before anything handled be skipped, not taken.
    pub(crate) fn check_line(&mut self, second: Option<i64>, key: u64, timestamp: &[u8]) -> Resume {
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
    use crate::tail::lines::parse_line;

    impl ResumeCursor {
        fn advance(&mut self, second: Option<i64>, key: u64) {
            self.advance_line(second, key, &[]);
        }
    }

    impl Replay {
        fn check(&mut self, second: Option<i64>, key: u64) -> Resume {
            self.check_line(second, key, &[])
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
