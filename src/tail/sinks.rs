//! Where one tail's lines are rendered and sent: stdout (unless `--files-only`) and the
//! container's `--output-dir` file. Each line is split and filtered once by the caller,
//! rendered once per sink, and a batch goes to the writer as one message per sink.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::output::merge::{self, SortedBatch};
use crate::output::writer::{Out, OutTx};
use crate::render::format::TargetFormat;
use crate::render::time::parse_rfc3339_nanos;

/// `--output-dir`: the container's file and its rendering.
pub(crate) struct FileSink {
    pub(crate) path: Arc<Path>,
    pub(crate) format: TargetFormat,
}

/// One read's formatted lines: for stdout, and for the container's file.
#[derive(Default)]
pub(crate) struct Batch {
    stdout: Vec<u8>,
    /// `--sort`: each stdout record's time and where it ends.
    ends: Vec<(u64, usize)>,
    file: Vec<u8>,
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
}

impl Sinks {
    pub(crate) fn new(
        stdout: TargetFormat,
        to_stdout: bool,
        file: Option<FileSink>,
        sorted: Option<mpsc::Sender<SortedBatch>>,
    ) -> Sinks {
        Sinks {
            stdout,
            to_stdout,
            file,
            sorted,
            last_key: 0,
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
            if self.sorted.is_some() && batch.stdout.len() > before {
                if let Some(s) = second {
                    self.last_key = merge::key(s, parse_rfc3339_nanos(timestamp));
                }
                batch.ends.push((self.last_key, batch.stdout.len()));
            }
        }
        if let Some(f) = self.file.as_mut() {
            f.format
                .write_line(&mut batch.file, timestamp, second, message);
        }
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
    pub(crate) async fn send(&self, batch: Batch, out: &OutTx) -> Result<(), ()> {
        if !batch.stdout.is_empty() {
            match &self.sorted {
                Some(merge) => {
                    let sorted = SortedBatch {
                        bytes: batch.stdout,
                        ends: batch.ends,
                    };
                    merge.send(sorted).await.map_err(|_| ())?;
                }
                None => out.send(Out::Lines(batch.stdout)).await.map_err(|_| ())?,
            }
        }
        if let Some(file) = &self.file
            && !batch.file.is_empty()
        {
            out.send(Out::File(file.path.clone(), batch.file))
                .await
                .map_err(|_| ())?;
        }
        Ok(())
    }
}
