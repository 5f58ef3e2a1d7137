//! `--sort`: the merge stage between the tails and the writer, which puts the lines of
//! every container in the order of their API timestamps.
//!
//! Each tail sends its stdout records on a stream of its own (a bounded channel), with
//! the timestamp key of every record; each stream is already in time order. With
//! `--no-follow` the order is exact: a record is written only once every stream that
//! can still deliver has one waiting (a k-way merge), and the merge reads only from the
//! streams it waits for, so memory stays bounded by the streams' channels. When
//! following, a record is held for a window after it arrived, so that a record of
//! another stream with an earlier time can still overtake it; one that arrives later
//! than the window allows is written at once, and counted. Notices and warnings do not
//! pass here: only stdout's records.
//!
//! The records of a line longer than a piece (one per piece, sharing the line's time)
//! are not held for the window, which could hold all of a huge line: what is held up to
//! their time is written, then they follow at once, in their order.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_stream::StreamExt;
use tokio_stream::StreamMap;
use tokio_stream::wrappers::ReceiverStream;

use crate::output::writer::{BATCH_BYTES, Out, OutTx};

/// Batches in flight on one stream.
const STREAM_BATCHES: usize = 2;

/// Records of one stream, in its time order.
#[derive(Debug, Default)]
pub(crate) struct SortedBatch {
    pub(crate) bytes: Vec<u8>,
    /// Each record's timestamp key and where it ends in `bytes`.
    pub(crate) ends: Vec<(u64, usize)>,
    /// It holds records of a line longer than a piece, which share the line's time.
    pub(crate) long: bool,
}

/// The key of a time: nanoseconds since the epoch (lines before 1970 sort first).
pub(crate) fn key(second: i64, nanos: u32) -> u64 {
    u64::try_from(second)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(nanos))
}

/// How the merge orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Every record in time order: waits for every stream (`--no-follow`).
    Exact,
    /// Records held this long after they arrive, then written in time order.
    Window(Duration),
}

/// The tails' side of the merge: each tail opens a stream; the run says when no more
/// streams will come (`--no-follow`, once the sources are done).
#[derive(Debug, Clone)]
pub(crate) struct MergeTx {
    register: mpsc::UnboundedSender<Register>,
}

enum Register {
    Stream(mpsc::Receiver<SortedBatch>),
    Complete,
}

impl MergeTx {
    /// A new stream of records.
    pub(crate) fn stream(&self) -> mpsc::Sender<SortedBatch> {
        let (tx, rx) = mpsc::channel(STREAM_BATCHES);
        let _ = self.register.send(Register::Stream(rx));
        tx
    }

    /// No stream will be opened any more.
    pub(crate) fn complete(&self) {
        let _ = self.register.send(Register::Complete);
    }
}

/// What the merge saw.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MergeEnd {
    /// Records that arrived after later ones had been written (window mode).
    pub(crate) late: u64,
}

/// Starts the merge stage, writing to `out`.
pub(crate) fn spawn(order: Order, out: OutTx) -> (MergeTx, tokio::task::JoinHandle<MergeEnd>) {
    let (register, registrations) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(order, registrations, out));
    (MergeTx { register }, task)
}

/// One stream's records not written yet.
#[derive(Default)]
struct Queue {
    batches: VecDeque<SortedBatch>,
    /// The next record of the front batch (an index into its `ends`).
    next: usize,
}

impl Queue {
    fn head(&self) -> Option<u64> {
        self.batches.front().map(|b| b.ends[self.next].0)
    }

    /// Removes the head record and appends its bytes to `out`.
    fn pop_into(&mut self, out: &mut Vec<u8>) {
        let Some(b) = self.batches.front() else {
            return;
        };
        let start = if self.next == 0 {
            0
        } else {
            b.ends[self.next - 1].1
        };
        out.extend_from_slice(&b.bytes[start..b.ends[self.next].1]);
        self.next += 1;
        if self.next == b.ends.len() {
            self.batches.pop_front();
            self.next = 0;
        }
    }
}

async fn run(
    order: Order,
    mut registrations: mpsc::UnboundedReceiver<Register>,
    out: OutTx,
) -> MergeEnd {
    match order {
        Order::Exact => exact(&mut registrations, &out).await,
        Order::Window(w) => window(w, &mut registrations, &out).await,
    }
}

/// `--no-follow`: a k-way merge. A stream is read only while it has nothing waiting
/// here, so each holds at most one batch here besides its channel's; records are
/// written once every stream that can still deliver has one waiting.
async fn exact(registrations: &mut mpsc::UnboundedReceiver<Register>, out: &OutTx) -> MergeEnd {
    let mut queues: HashMap<usize, Queue> = HashMap::new();
    // The streams read from: open, with nothing waiting.
    let mut reading: StreamMap<usize, ReceiverStream<SortedBatch>> = StreamMap::new();
    // Open streams with records waiting: read again once those are written.
    let mut parked: HashMap<usize, ReceiverStream<SortedBatch>> = HashMap::new();
    // The first waiting record of every stream that has one.
    let mut heads: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let mut complete = false;
    // A stream opened after `complete` is still read (nothing is ever left unread), but
    // records written before it came are not ordered with its own.
    let mut registering = true;
    let mut next_id = 0;
    let mut buf = Vec::new();
    loop {
        if complete && reading.is_empty() && heads.is_empty() && !registering {
            break;
        }
        if complete
            && reading.is_empty()
            && let Some(Reverse((_, id))) = heads.pop()
        {
            // Every open stream has a record waiting: write the earliest.
            let q = queues.get_mut(&id).expect("a queue per stream");
            q.pop_into(&mut buf);
            match q.head() {
                Some(k) => heads.push(Reverse((k, id))),
                None => {
                    queues.remove(&id);
                    if let Some(rx) = parked.remove(&id) {
                        reading.insert(id, rx);
                    }
                }
            }
            if buf.len() >= BATCH_BYTES
                && out
                    .send(Out::Lines(std::mem::take(&mut buf)))
                    .await
                    .is_err()
            {
                return MergeEnd::default();
            }
            continue;
        }
        // Waiting for a stream: what is written so far goes out now.
        if !buf.is_empty()
            && out
                .send(Out::Lines(std::mem::take(&mut buf)))
                .await
                .is_err()
        {
            return MergeEnd::default();
        }
        // Registrations first: a batch of one stream must not be taken before the
        // streams opened ahead of it are known, or it could pass them.
        tokio::select! {
            biased;
            r = registrations.recv(), if registering => match r {
                Some(Register::Stream(rx)) => {
                    reading.insert(next_id, ReceiverStream::new(rx));
                    next_id += 1;
                }
                Some(Register::Complete) => complete = true,
                None => (complete, registering) = (true, false),
            },
            // A stream that ends leaves `reading` by itself; when it was the last one,
            // `next` says `None`, and the loop must come round (not wait on the other
            // branch, which may never fire).
            read = reading.next(), if !reading.is_empty() => {
                if let Some((id, batch)) = read
                    && let Some(&(k, _)) = batch.ends.first()
                {
                    if let Some(rx) = reading.remove(&id) {
                        parked.insert(id, rx);
                    }
                    heads.push(Reverse((k, id)));
                    queues.entry(id).or_default().batches.push_back(batch);
                }
            }
            else => {}
        }
    }
    if !buf.is_empty() {
        let _ = out.send(Out::Lines(buf)).await;
    }
    MergeEnd::default()
}

/// Following: a record is written once every open stream has shown a record at least as
/// late (none can still deliver an earlier one), or `w` after it arrived, whichever comes
/// first; with it goes every held record that is earlier.
async fn window(
    w: Duration,
    registrations: &mut mpsc::UnboundedReceiver<Register>,
    out: &OutTx,
) -> MergeEnd {
    let mut streams: StreamMap<usize, Tracked> = StreamMap::new();
    let mut marks = Watermark::default();
    let mut held: BTreeMap<(u64, u64), Vec<u8>> = BTreeMap::new();
    // When each held record arrived, in arrival order; records written early (because
    // the watermark passed them) are skipped when they come up.
    let mut arrivals: VecDeque<(Instant, (u64, u64))> = VecDeque::new();
    let mut written_up_to: Option<u64> = None;
    let mut seq = 0u64;
    let mut next_id = 0;
    let mut registering = true;
    let mut end = MergeEnd::default();
    loop {
        while arrivals.front().is_some_and(|(_, k)| !held.contains_key(k)) {
            arrivals.pop_front();
        }
        let due = arrivals.front().map(|(at, _)| *at + w);
        // Registrations first: a batch of one stream must not be taken before the
        // streams opened ahead of it are known, or it could pass them.
        tokio::select! {
            biased;
            r = registrations.recv(), if registering => match r {
                Some(Register::Stream(rx)) => {
                    let tracked: Tracked = Box::pin(
                        ReceiverStream::new(rx)
                            .map(Some)
                            .chain(tokio_stream::once(None)),
                    );
                    streams.insert(next_id, tracked);
                    marks.open();
                    next_id += 1;
                }
                Some(Register::Complete) => {}
                None => registering = false,
            },
            read = streams.next(), if !streams.is_empty() => {
                // `None`: the last stream is gone (its end was told before).
                let Some((id, batch)) = read else { continue };
                let Some(batch) = batch else {
                    // A stream that ended holds no one back any more.
                    marks.close(id);
                    if let Some(level) = marks.level()
                        && release(&mut held, (level, u64::MAX), &mut written_up_to, out).await.is_err()
                    {
                        return end;
                    }
                    if !registering && streams.is_empty() && held.is_empty() {
                        break;
                    }
                    continue;
                };
                if batch.long
                    && let (Some(&(first, _)), Some(&(last, _))) =
                        (batch.ends.first(), batch.ends.last())
                {
                    if release(&mut held, (first, u64::MAX), &mut written_up_to, out).await.is_err()
                        || out.send(Out::Lines(batch.bytes)).await.is_err()
                    {
                        return end;
                    }
                    written_up_to = written_up_to.max(Some(last));
                    marks.saw(id, last);
                    continue;
                }
                let now = Instant::now();
                let mut late = Vec::new();
                let mut start = 0;
                for &(k, stop) in &batch.ends {
                    let record = &batch.bytes[start..stop];
                    start = stop;
                    if written_up_to.is_some_and(|w| k < w) {
                        // Later than the window allows: at once, out of order.
                        late.extend_from_slice(record);
                        end.late += 1;
                        if end.late == 1 {
                            let text = "a line arrived later than --sort-window allows: it was printed at once, out of order (a wider --sort-window avoids it)";
                            let _ = out.send(Out::Warning(text.into())).await;
                        }
                        continue;
                    }
                    held.insert((k, seq), record.to_vec());
                    arrivals.push_back((now, (k, seq)));
                    seq += 1;
                }
                if let Some(&(k, _)) = batch.ends.last() {
                    marks.saw(id, k);
                }
                if !late.is_empty() && out.send(Out::Lines(late)).await.is_err() {
                    return end;
                }
                if let Some(level) = marks.level()
                    && release(&mut held, (level, u64::MAX), &mut written_up_to, out).await.is_err()
                {
                    return end;
                }
            }
            () = sleep_until(due), if due.is_some() => {
                let now = Instant::now();
                let mut upto = None;
                while let Some((at, k)) = arrivals.front() {
                    if *at + w > now {
                        break;
                    }
                    upto = upto.max(Some(*k));
                    arrivals.pop_front();
                }
                if let Some(upto) = upto
                    && release(&mut held, upto, &mut written_up_to, out).await.is_err()
                {
                    return end;
                }
            }
            else => break,
        }
        if !registering && streams.is_empty() && held.is_empty() {
            break;
        }
    }
    // The run ends: what is held goes out in order.
    let buf: Vec<u8> = held.into_values().flatten().collect();
    if !buf.is_empty() {
        let _ = out.send(Out::Lines(buf)).await;
    }
    if end.late > 0 {
        let (n, verb) = match end.late {
            1 => ("1 line".to_string(), "was"),
            n => (format!("{n} lines"), "were"),
        };
        let text =
            format!("{n} arrived later than --sort-window allowed and {verb} printed out of order");
        let _ = out.send(Out::Warning(text)).await;
    }
    end
}

/// A stream of the window mode, which says when it ends (`None`).
type Tracked = std::pin::Pin<Box<dyn tokio_stream::Stream<Item = Option<SortedBatch>> + Send>>;

/// Writes every held record up to and including `upto` (a key and arrival number).
async fn release(
    held: &mut BTreeMap<(u64, u64), Vec<u8>>,
    upto: (u64, u64),
    written_up_to: &mut Option<u64>,
    out: &OutTx,
) -> Result<(), ()> {
    let rest = match upto.1.checked_add(1) {
        Some(next) => held.split_off(&(upto.0, next)),
        None => match upto.0.checked_add(1) {
            Some(next) => held.split_off(&(next, 0)),
            None => BTreeMap::new(),
        },
    };
    let due = std::mem::replace(held, rest);
    let Some((&(last, _), _)) = due.last_key_value() else {
        return Ok(());
    };
    *written_up_to = (*written_up_to).max(Some(last));
    let mut buf = Vec::with_capacity(due.values().map(Vec::len).sum());
    for record in due.into_values() {
        buf.extend_from_slice(&record);
    }
    out.send(Out::Lines(buf)).await.map_err(|_| ())
}

/// The latest time before which no open stream can deliver a record: the earliest of
/// the streams' last records, once every open stream has sent one.
#[derive(Default)]
struct Watermark {
    last: HashMap<usize, u64>,
    /// How many open streams have each last time.
    levels: BTreeMap<u64, usize>,
    /// Open streams that have sent nothing yet.
    silent: usize,
}

impl Watermark {
    fn open(&mut self) {
        self.silent += 1;
    }

    fn saw(&mut self, id: usize, key: u64) {
        match self.last.insert(id, key) {
            Some(old) => self.forget(old),
            None => self.silent -= 1,
        }
        *self.levels.entry(key).or_default() += 1;
    }

    fn close(&mut self, id: usize) {
        match self.last.remove(&id) {
            Some(old) => self.forget(old),
            None => self.silent -= 1,
        }
    }

    fn forget(&mut self, key: u64) {
        if let Some(n) = self.levels.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.levels.remove(&key);
            }
        }
    }

    fn level(&self) -> Option<u64> {
        match self.silent {
            0 => self.levels.keys().next().copied(),
            _ => None,
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(records: &[(u64, &str)]) -> SortedBatch {
        let mut b = SortedBatch::default();
        for (k, text) in records {
            b.bytes.extend_from_slice(format!("{text}\n").as_bytes());
            b.ends.push((*k, b.bytes.len()));
        }
        b
    }

    /// Everything the writer got, as text, until every sender is gone.
    async fn written(mut rx: mpsc::Receiver<Out>) -> (String, Vec<String>) {
        let (mut lines, mut warnings) = (String::new(), Vec::new());
        while let Some(o) = rx.recv().await {
            match o {
                Out::Lines(b) => lines.push_str(&String::from_utf8(b).unwrap()),
                Out::Warning(w) => warnings.push(w),
                _ => {}
            }
        }
        (lines, warnings)
    }

    #[tokio::test]
    async fn exact_order_waits_for_every_stream_and_reads_only_those_it_waits_for() {
        let (out, rx) = mpsc::channel(16);
        let (merge, task) = spawn(Order::Exact, out);
        let (a, b, c) = (merge.stream(), merge.stream(), merge.stream());
        merge.complete();
        drop(merge);
        a.send(batch(&[(1, "a1"), (4, "a4")])).await.unwrap();
        a.send(batch(&[(7, "a7")])).await.unwrap();
        b.send(batch(&[(2, "b2"), (4, "b4"), (9, "b9")]))
            .await
            .unwrap();
        // The merge takes stream a's first batch, and then no more of it.
        for _ in 0..100 {
            if a.capacity() == 1 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(a.capacity(), 1, "the merge reads a stream's first batch");
        assert!(a.try_send(batch(&[(8, "a8")])).is_ok());
        // Stream c has sent nothing: nothing can be written yet, and stream a, which has
        // records waiting, is not read further: its channel stays full.
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        assert!(a.try_send(batch(&[(10, "a10")])).is_err(), "backpressure");
        c.send(batch(&[(3, "c3")])).await.unwrap();
        drop(c);
        a.send(batch(&[(10, "a10")])).await.unwrap();
        drop((a, b));
        let (lines, _) = written(rx).await;
        task.await.unwrap();
        assert_eq!(
            lines, "a1\nb2\nc3\na4\nb4\na7\na8\nb9\na10\n",
            "ties keep the order of the streams' registration"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_window_holds_records_then_writes_them_in_time_order() {
        let (out, rx) = mpsc::channel(16);
        let (merge, task) = spawn(Order::Window(Duration::from_millis(500)), out);
        let (a, b) = (merge.stream(), merge.stream());
        a.send(batch(&[(20, "a20")])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Earlier, but arrives later: within the window, it still goes first.
        b.send(batch(&[(10, "b10")])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        // Earlier than what was written: too late, written at once, counted.
        b.send(batch(&[(15, "b15 late")])).await.unwrap();
        a.send(batch(&[(30, "a30")])).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop((a, b, merge));
        let (lines, warnings) = written(rx).await;
        assert_eq!(lines, "b10\na20\nb15 late\na30\n");
        assert_eq!(task.await.unwrap().late, 1);
        assert_eq!(
            warnings.len(),
            2,
            "once when it happens, and the count: {warnings:?}"
        );
        assert!(
            warnings[1].starts_with("1 line arrived later"),
            "{warnings:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_record_goes_once_no_stream_can_send_an_earlier_one_and_idle_streams_hold_back_only_the_window()
     {
        let (out, mut rx) = mpsc::channel(16);
        let w = Duration::from_millis(500);
        let (merge, _task) = spawn(Order::Window(w), out);
        let (a, b) = (merge.stream(), merge.stream());
        let t0 = Instant::now();
        a.send(batch(&[(10, "a10"), (30, "a30")])).await.unwrap();
        b.send(batch(&[(20, "b20")])).await.unwrap();
        // Both streams have shown a time of 20 or later: up to 20 is safe at once.
        let Some(Out::Lines(first)) = rx.recv().await else {
            panic!("lines expected")
        };
        assert_eq!(String::from_utf8(first).unwrap(), "a10\nb20\n");
        assert_eq!(Instant::now(), t0, "written without waiting for the window");
        // Stream b goes quiet: a30 waits for the window, and no longer.
        let Some(Out::Lines(next)) = rx.recv().await else {
            panic!("lines expected")
        };
        assert_eq!(String::from_utf8(next).unwrap(), "a30\n");
        assert_eq!(Instant::now() - t0, w);
        // A stream that ends holds nothing back.
        a.send(batch(&[(40, "a40")])).await.unwrap();
        drop(b);
        let Some(Out::Lines(last)) = rx.recv().await else {
            panic!("lines expected")
        };
        assert_eq!(String::from_utf8(last).unwrap(), "a40\n");
        assert_eq!(Instant::now() - t0, w, "at once: only stream a is left");
    }
}
