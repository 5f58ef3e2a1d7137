//! Where one tail's lines are rendered and sent: stdout (unless `--files-only`) and the
//! container's `--output-dir` file. Each line is split and filtered once by the caller,
//! rendered once per sink, and a batch goes to the writer as one message per sink.
//!
//! A line longer than a piece (`lines::PIECE_BYTES`) comes in pieces. Default and raw
//! output without filters stream it: one record whose bytes follow each other unchanged,
//! the prefix before the first piece and the newline after the last. Where a format needs
//! whole records (JSON, templates, filters, `--sort`), each piece is a record of its own
//! that says the line goes on (`format::CONTINUES`, `"continues": true`). While pieces are
//! in flight the tail holds the writer (`Out::Hold`), so they are not interleaved with
//! other containers' lines and only a few are buffered at once.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::output::merge::{self, SortedBatch};
use crate::output::writer::{self, Out, OutTx};
use crate::render::format::TargetFormat;
use crate::render::time::parse_rfc3339_nanos;

/// `--output-dir`: the container's file and its rendering.
pub(crate) struct FileSink {
    pub(crate) path: Arc<Path>,
    pub(crate) format: TargetFormat,
}

/// Batches in flight on a tail's own channel while it holds the writer: with pieces of
/// 1 MiB, a few MiB.
const HOLD_BATCHES: usize = 2;

/// One read's formatted lines: for stdout, and for the container's file. Its stdout
/// buffer comes from the writer's spares and goes back to them if it is not sent.
pub(crate) struct Batch {
    stdout: Vec<u8>,
    /// `--sort`: each stdout record's time and where it ends.
    ends: Vec<(u64, usize)>,
    file: Vec<u8>,
    /// It holds pieces of a long line.
    long: bool,
}

impl Default for Batch {
    fn default() -> Batch {
        Batch {
            stdout: writer::batch_buffer(),
            ends: Vec::new(),
            file: Vec::new(),
            long: false,
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        writer::spare(std::mem::take(&mut self.stdout));
    }
}

impl Batch {
    pub(crate) fn len(&self) -> usize {
        self.stdout.len().max(self.file.len())
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.stdout.is_empty() && self.file.is_empty()
    }
}

/// A tail's renderings.
pub(crate) struct Sinks {
    /// The stdout rendering; it also renders the container's `+`/`-` notices, so it
    /// exists with `--files-only` too.
    pub(crate) stdout: TargetFormat,
    to_stdout: bool,
    pub(crate) file: Option<FileSink>,
    /// `--sort`: stdout's records go to the merge, on this tail's stream.
    sorted: Option<mpsc::Sender<SortedBatch>>,
    /// The time of the last stdout record: a line without a timestamp keeps its place.
    last_key: u64,
    /// A long line is one streamed record (see the module's doc); else a record per piece.
    streams: bool,
    /// A streamed record is open: its start was rendered, its newline not yet.
    pub(crate) open: bool,
    /// A long line was split into records, or a streamed record broken, since this was
    /// last taken (for the run's one notice).
    split: bool,
    /// The tail's own channel to the writer while it holds it.
    held: Option<OutTx>,
}

impl Sinks {
    pub(crate) fn new(
        stdout: TargetFormat,
        to_stdout: bool,
        file: Option<FileSink>,
        sorted: Option<mpsc::Sender<SortedBatch>>,
        filtered: bool,
    ) -> Sinks {
        Sinks {
            streams: stdout.streams() && !filtered && sorted.is_none(),
            stdout,
            to_stdout,
            file,
            sorted,
            last_key: 0,
            open: false,
            split: false,
            held: None,
        }
    }

    pub(crate) fn reserve(&self, batch: &mut Batch, n: usize) {
        if self.to_stdout {
            batch.stdout.reserve(n);
        }
        if self.file.is_some() {
            batch.file.reserve(n);
        }
    }

    /// Renders one line into `batch`, once per sink.
    pub(crate) fn line(
        &mut self,
        batch: &mut Batch,
        timestamp: &[u8],
        second: Option<i64>,
        message: &[u8],
    ) {
        if self.to_stdout {
            let before = batch.stdout.len();
            self.stdout
                .write_line(&mut batch.stdout, timestamp, second, message);
            self.record_end(batch, before, timestamp, second);
        }
        if let Some(f) = self.file.as_mut() {
            f.format
                .write_line(&mut batch.file, timestamp, second, message);
        }
    }

    /// `--sort`: the stdout record that began at `before` ends here.
    fn record_end(
        &mut self,
        batch: &mut Batch,
        before: usize,
        timestamp: &[u8],
        second: Option<i64>,
    ) {
        if self.sorted.is_some() && batch.stdout.len() > before {
            if let Some(s) = second {
                self.last_key = merge::key(s, parse_rfc3339_nanos(timestamp));
            }
            batch.ends.push((self.last_key, batch.stdout.len()));
        }
    }

    /// Whether the lines' pieces are one streamed record each (else a record per piece).
    pub(crate) fn streams(&self) -> bool {
        self.streams
    }

    /// Renders a piece of a long line (`timestamp` and `second` are the line's); `last`
    /// when the line ends with it.
    pub(crate) fn piece(
        &mut self,
        batch: &mut Batch,
        timestamp: &[u8],
        second: Option<i64>,
        piece: &[u8],
        last: bool,
    ) {
        batch.long = true;
        if !self.streams {
            self.split |= !last;
            if self.to_stdout {
                let before = batch.stdout.len();
                self.stdout
                    .write_piece(&mut batch.stdout, timestamp, second, piece, !last);
                self.record_end(batch, before, timestamp, second);
            }
            if let Some(f) = self.file.as_mut() {
                f.format
                    .write_piece(&mut batch.file, timestamp, second, piece, !last);
            }
            return;
        }
        let start = !std::mem::replace(&mut self.open, !last);
        let stream = |format: &mut TargetFormat, out: &mut Vec<u8>| {
            if start {
                format.write_start(out, timestamp, second, piece);
            } else {
                format.write_more(out, piece);
            }
            if last {
                format.write_end(out, false);
            }
        };
        if self.to_stdout {
            stream(&mut self.stdout, &mut batch.stdout);
        }
        if let Some(f) = self.file.as_mut() {
            stream(&mut f.format, &mut batch.file);
        }
    }

    /// Ends the open streamed record before its line does (the stream broke, or paused
    /// while holding the writer): the rest of the line follows in a record of its own.
    pub(crate) fn break_line(&mut self, batch: &mut Batch) {
        if !std::mem::take(&mut self.open) {
            return;
        }
        self.split = true;
        if self.to_stdout {
            self.stdout.write_end(&mut batch.stdout, true);
        }
        if let Some(f) = &self.file {
            f.format.write_end(&mut batch.file, true);
        }
    }

    /// Whether a line was split or broken since the last call.
    pub(crate) fn take_split(&mut self) -> bool {
        std::mem::take(&mut self.split)
    }

    /// Takes the writer for this tail's pieces (see the module's doc); `Err` when the
    /// writer is gone. With `--sort` the records go to the merge, which keeps them in
    /// order, and nothing is held.
    pub(crate) async fn hold(&mut self, out: &OutTx) -> Result<(), ()> {
        if self.held.is_some() || self.sorted.is_some() {
            return Ok(());
        }
        let (tx, rx) = mpsc::channel(HOLD_BATCHES);
        out.send(Out::Hold(rx)).await.map_err(|_| ())?;
        self.held = Some(tx);
        Ok(())
    }

    /// Lets the writer go.
    pub(crate) fn release(&mut self) {
        self.held = None;
    }

    pub(crate) fn holding(&self) -> bool {
        self.held.is_some()
    }

    /// Where this tail's messages to the writer go: its own channel while it holds the
    /// writer (the writer reads nothing else then), else `out`.
    pub(crate) fn out<'s>(&'s self, out: &'s OutTx) -> &'s OutTx {
        self.held.as_ref().unwrap_or(out)
    }

    /// The `--sort` stream, for the container's next instance.
    pub(crate) fn into_sorted(self) -> Option<mpsc::Sender<SortedBatch>> {
        self.sorted
    }

    /// The first line a template failed on, in either rendering.
    pub(crate) fn take_template_failure(&mut self) -> Option<String> {
        let stdout = self.stdout.take_template_failure();
        let file = self
            .file
            .as_mut()
            .and_then(|f| f.format.take_template_failure());
        stdout.or(file)
    }

    /// Hands `batch` to the writer; `Err` when the writer is gone.
    pub(crate) async fn send(&self, mut batch: Batch, out: &OutTx) -> Result<(), ()> {
        let out = self.out(out);
        if !batch.stdout.is_empty() {
            match &self.sorted {
                Some(merge) => {
                    let sorted = SortedBatch {
                        bytes: std::mem::take(&mut batch.stdout),
                        ends: std::mem::take(&mut batch.ends),
                        long: batch.long,
                    };
                    merge.send(sorted).await.map_err(|_| ())?;
                }
                None => out
                    .send(Out::Lines(std::mem::take(&mut batch.stdout)))
                    .await
                    .map_err(|_| ())?,
            }
        }
        if let Some(file) = &self.file
            && !batch.file.is_empty()
        {
            out.send(Out::File(
                file.path.clone(),
                std::mem::take(&mut batch.file),
            ))
            .await
            .map_err(|_| ())?;
        }
        Ok(())
    }
}
