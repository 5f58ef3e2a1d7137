//! Where a container's stream stands, so that a reconnect prints every line once.
//!
//! `ResumeCursor` is the resume contract: the last whole second seen and the identity of
//! the lines of that second (`line_key`; of a busy second its first and latest few
//! hundred, and the latest timestamp). A reconnect asks for `sinceTime=<second>` (the
//! API's precision) and `Replay` recognises the lines already handled by identity, not
//! by count, so lines that share a timestamp are neither lost nor repeated, and a log
//! rotated meanwhile shows as a gap rather than as lines skipped.

use std::collections::VecDeque;

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

/// How many keys of a second a cursor keeps from its start, and how many of its latest:
/// a container that logs thousands of lines in one second costs a cursor 8 KiB at most,
/// not 8 bytes per line. A replay recognises the lines between the two by their
/// timestamps (see `Replay`).
const KEEP_HEAD: usize = 512;
const KEEP_TAIL: usize = 512;

/// Where a container's stream stands: what a reconnect must skip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ResumeCursor {
    /// The whole second of the last line handled, if any line was.
    pub(crate) second: Option<i64>,
    /// How many lines of that second were handled (printed or filtered out).
    pub(crate) count: usize,
    /// The identities (`line_key`) of the first of them, in order, at most `KEEP_HEAD`.
    head: Vec<u64>,
    /// The identities of the latest of them after `head`, in order, at most `KEEP_TAIL`.
    tail: VecDeque<u64>,
    /// The timestamp text of the first of them: lines of the same second that sort
    /// before it were never handled (they were before `--tail`/`--since`).
    pub(crate) first: Option<[u8; 40]>,
    /// The nanoseconds within the second of the latest of them, when its timestamp has
    /// them; kept only once the second has more lines than `head` holds.
    last_nanos: Option<u32>,
    /// The long line a stream broke in (`long_line_key`, the latest line handled), and
    /// how many bytes of its message were handled: a resume skips those and goes on with
    /// the rest.
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
            Some(cur) if cur == s => {}
            Some(cur) if cur > s => return, // clock went backwards: keep the later mark
            _ => {
                self.second = Some(s);
                self.count = 0;
                self.last_nanos = None;
                self.head.clear();
                self.tail.clear();
                self.first = (timestamp.len() <= 40).then(|| {
                    let mut t = [0u8; 40];
                    t[..timestamp.len()].copy_from_slice(timestamp);
                    t
                });
            }
        }
        self.count += 1;
        if self.head.len() < KEEP_HEAD {
            self.head.push(key);
            return;
        }
        // Only a second of more lines than the kept keys needs the latest timestamp
        // (`Replay::in_middle`), and every line of it after the head sets it.
        self.last_nanos = nanos_of(timestamp);
        if self.tail.len() == KEEP_TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(key);
    }
}

/// The nanoseconds within its second of an RFC 3339 timestamp (`…:05.123456789Z`), or
/// `None` for a timestamp without a fraction or with more than nine digits of one.
fn nanos_of(timestamp: &[u8]) -> Option<u32> {
    let dot = memchr::memchr(b'.', timestamp)?;
    let digits = timestamp[dot + 1..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || digits > 9 {
        return None;
    }
    let mut n = 0u32;
    for b in &timestamp[dot + 1..dot + 1 + digits] {
        n = n * 10 + u32::from(b - b'0');
    }
    Some(n * 10u32.pow((9 - digits) as u32))
}

/// Where a replay stands among the lines of the cursor's second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// No line of the second has come back yet.
    Before,
    /// The next line expected is the one at this index, whose key the cursor kept.
    At(usize),
    /// Among the lines whose keys the cursor did not keep (between its head and tail).
    Middle,
}

/// Replays a cursor against the lines of a resumed stream, which the API sends from
/// the cursor's whole second (`sinceTime` has second precision). Lines already handled
/// are recognised by identity, not by count: after a rotation the server may hold only
/// some of them, or none, and counting would then skip new lines. In a second of more
/// lines than the cursor keeps keys of, the lines between its head and tail are
/// recognised by their timestamp (not after the latest handled one); the kubelet's
/// timestamps only grow within a container's log.
#[derive(Debug, Clone)]
pub(crate) struct Replay {
    second: i64,
    count: usize,
    head: Vec<u64>,
    tail: Vec<u64>,
    first: Option<[u8; 40]>,
    last_nanos: Option<u32>,
    place: Place,
    done: bool,
    /// A line was skipped: see `vouched`.
    skipped: bool,
}

impl Replay {
    pub(crate) fn new(cursor: &ResumeCursor) -> Option<Replay> {
        cursor.second.map(|second| Replay {
            second,
            count: cursor.count,
            head: cursor.head.clone(),
            tail: cursor.tail.iter().copied().collect(),
            first: cursor.first,
            last_nanos: cursor.last_nanos,
            place: Place::Before,
            done: false,
            skipped: false,
        })
    }

    /// Whether a line of the stream was recognised as handled before (skipped). Such a
    /// line was logged no later than the last line handled, so before any later instance
    /// of the container started: the stream serves the cursor's instance. A line taken
    /// first proves nothing (a later instance's lines are all new).
    pub(crate) fn vouched(&self) -> bool {
        self.skipped
    }

    /// The replay is over: every line from here on is new.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Index of the first of `tail` among the lines of the second.
    fn tail_start(&self) -> usize {
        self.count - self.tail.len()
    }

    /// The key the cursor kept of the line at `index`, if it kept it.
    fn key_at(&self, index: usize) -> Option<u64> {
        if index < self.head.len() {
            return Some(self.head[index]);
        }
        let t = index.checked_sub(self.tail_start())?;
        self.tail.get(t).copied()
    }

    /// Where a line with this key stands among the kept ones.
    fn find(&self, key: u64) -> Option<usize> {
        self.head
            .iter()
            .position(|k| *k == key)
            .or_else(|| self.find_in_tail(key))
    }

    fn find_in_tail(&self, key: u64) -> Option<usize> {
        let start = self.tail_start();
        self.tail.iter().position(|k| *k == key).map(|t| start + t)
    }

    /// Whether a line, not found among the kept keys, lies among the lines the cursor did
    /// not keep: there are such lines and it is not later than the latest handled.
    fn in_middle(&self, timestamp: &[u8]) -> bool {
        self.head.len() + self.tail.len() < self.count
            && matches!((nanos_of(timestamp), self.last_nanos), (Some(n), Some(last)) if n <= last)
    }

    /// The line at `index` was recognised: the next is expected after it.
    fn matched(&mut self, index: usize) -> Resume {
        let next = index + 1;
        self.done = next == self.count;
        self.place = if self.key_at(next).is_some() || self.done {
            Place::At(next)
        } else {
            Place::Middle
        };
        Resume::Skip
    }

    /// What to do with a line of the resumed stream. The line's timestamp text lets lines
    /// of the cursor's second that come before anything handled be skipped, not taken.
    pub(crate) fn check_line(&mut self, second: Option<i64>, key: u64, timestamp: &[u8]) -> Resume {
        let r = self.classify(second, key, timestamp);
        self.skipped |= r == Resume::Skip;
        r
    }

    fn classify(&mut self, second: Option<i64>, key: u64, timestamp: &[u8]) -> Resume {
        if self.done {
            return Resume::Take;
        }
        let Some(s) = second else { return Resume::Take };
        if s < self.second {
            // Older than asked for: the server sent more than sinceTime; already seen.
            return Resume::Skip;
        }
        if s == self.second {
            match self.place {
                Place::Before => {
                    // The first line of the cursor's second: where does it stand among ours?
                    if let Some(n) = self.find(key) {
                        return self.matched(n);
                    }
                    if let Some(first) = &self.first
                        && !timestamp.is_empty()
                        && timestamp.len() <= 40
                        && timestamp < &first[..timestamp.len()]
                    {
                        // Before the first line ever handled in this second: not ours to print.
                        return Resume::Skip;
                    }
                    if self.in_middle(timestamp) {
                        self.place = Place::Middle;
                        return Resume::Skip;
                    }
                }
                Place::At(n) => {
                    if self.key_at(n) == Some(key) {
                        return self.matched(n);
                    }
                }
                Place::Middle => {
                    if let Some(n) = self.find_in_tail(key) {
                        return self.matched(n);
                    }
                    if self.in_middle(timestamp) {
                        return Resume::Skip;
                    }
                }
            }
        }
        // A line we have not seen, before the last line we printed came back.
        self.done = true;
        Resume::Gap {
            from: self.second,
            to: s,
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
        assert_eq!(c.count, 3);
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
    fn only_a_line_handled_before_vouches_for_the_stream() {
        let l = |s, n| line(s, n);
        let c = cursor_of(&[l(40, 1), l(40, 2)]);
        // The instance that replaced the cursor's: every line of it is new.
        let mut r = Replay::new(&c).unwrap();
        r.check(l(41, 0).0, l(41, 0).1);
        r.check(l(41, 1).0, l(41, 1).1);
        assert!(!r.vouched());
        // The cursor's instance: its last lines come back first.
        let mut r = Replay::new(&c).unwrap();
        assert!(!r.vouched());
        r.check(l(40, 2).0, l(40, 2).1);
        assert!(r.vouched());
        r.check(l(41, 0).0, l(41, 0).1);
        assert!(r.vouched(), "and stays vouched for");
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

    /// A cursor of `n` lines in one second, a microsecond apart, and the lines.
    fn busy_second(n: u32) -> (ResumeCursor, Vec<(Option<i64>, u64, String)>) {
        let lines: Vec<_> = (0..n + 10)
            .map(|i| {
                let ts = format!("2024-01-02T03:04:50.{:09}Z", i * 1000);
                let text = format!("{ts} line {i}");
                let l = parse_line(text.as_bytes());
                (l.second, line_key(&l), ts)
            })
            .collect();
        let mut c = ResumeCursor::default();
        for (s, k, t) in &lines[..n as usize] {
            c.advance_line(*s, *k, t.as_bytes());
        }
        (c, lines)
    }

    fn replay(c: &ResumeCursor, lines: &[(Option<i64>, u64, String)]) -> Vec<Resume> {
        let mut r = Replay::new(c).unwrap();
        lines
            .iter()
            .map(|(s, k, t)| r.check_line(*s, *k, t.as_bytes()))
            .collect()
    }

    #[test]
    fn a_busy_second_costs_a_bounded_cursor_and_still_resumes_exactly() {
        let (c, lines) = busy_second(5000);
        assert_eq!(c.count, 5000);
        assert!(c.head.len() + c.tail.len() <= KEEP_HEAD + KEEP_TAIL);
        // Sent again from the second's start: the 5000 handled lines are skipped, the
        // ten after them printed.
        let got = replay(&c, &lines);
        assert!(
            got[..5000].iter().all(|r| *r == Resume::Skip),
            "{:?}",
            &got[..5000].iter().position(|r| *r != Resume::Skip)
        );
        assert!(got[5000..].iter().all(|r| *r == Resume::Take));
        // Rotated inside the second: the server holds only the handled lines from 2000
        // on (none of them kept by key until the tail): still nothing twice, nothing lost.
        let got = replay(&c, &lines[2000..]);
        assert!(got[..3000].iter().all(|r| *r == Resume::Skip));
        assert!(got[3000..].iter().all(|r| *r == Resume::Take));
    }

    #[test]
    fn a_busy_second_that_does_not_come_back_is_a_gap() {
        let (c, lines) = busy_second(5000);
        let s = c.second.unwrap();
        // The stream broke after line 5000, and the server sends a later line of that
        // second without the handled ones: a gap, the line printed.
        let got = replay(&c, &lines[5005..]);
        assert_eq!(got[0], Resume::Gap { from: s, to: s });
        assert!(got[1..].iter().all(|r| *r == Resume::Take));
        // The handled lines come back only up to the middle, then a new one: the lines
        // between were lost on the server's side.
        let mut cut: Vec<_> = lines[..3000].to_vec();
        cut.push(lines[5003].clone());
        let got = replay(&c, &cut);
        assert!(got[..3000].iter().all(|r| *r == Resume::Skip));
        assert_eq!(got[3000], Resume::Gap { from: s, to: s });
    }
}
