//! `--stdin`: lines from standard input, filtered and rendered like a container's lines
//! and handed to the same writer, so a terminal gets the same protection and a pipe the
//! same buffering. There is no pod or container: every line is all message unless `-t`
//! asks for a leading timestamp to be read.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::output::writer::Out;
use crate::render::Origin;
use crate::tail::context::{TailContext, TailEnd, split_warning, template_warning};
use crate::tail::lines::{LineSplitter, Part, parse_line, split_timestamp};
use crate::tail::sinks::{Batch, Sinks};

/// Bytes read at once, and chunks in flight from the reading thread.
const READ_BYTES: usize = 64 * 1024;
const CHUNKS: usize = 4;

/// Standard input (or a test's reader), to its end.
pub(crate) type Input = Box<dyn Read + Send>;

/// Reads `input` to its end and sends its lines to the writer.
pub(crate) async fn run(ctx: Arc<TailContext>, input: Input) -> TailEnd {
    let (tx, mut chunks) = mpsc::channel::<std::io::Result<Vec<u8>>>(CHUNKS);
    // Reading blocks: a thread of its own, which ends at the end of input or when the
    // run no longer listens.
    tokio::task::spawn_blocking(move || read_all(input, &tx));
    let empty = BTreeMap::new();
    let mut lines = Lines {
        sinks: ctx.sinks(
            &Origin {
                context: "",
                namespace: "",
                pod: "",
                container: "",
                node: "",
                labels: &empty,
                annotations: &empty,
                previous: false,
            },
            None,
        ),
        timestamps: ctx.render.timestamps.is_some(),
        long: None,
        ctx: &ctx,
    };
    let mut splitter = LineSplitter::default();
    let mut end = TailEnd::Complete;
    loop {
        let mut batch = Batch::default();
        let last = match chunks.recv().await {
            Some(Ok(chunk)) => {
                splitter.feed(&chunk, |raw, part| lines.line(raw, part, &mut batch));
                false
            }
            Some(Err(e)) => {
                let text = format!("reading standard input failed: {e}");
                let _ = ctx.out.send(Out::Warning(text)).await;
                end = TailEnd::Failed;
                splitter.finish(|raw, part| lines.line(raw, part, &mut batch));
                true
            }
            None => {
                splitter.finish(|raw, part| lines.line(raw, part, &mut batch));
                true
            }
        };
        if let Some(why) = lines.sinks.take_template_failure() {
            let _ = ctx.out.send(Out::Warning(template_warning(&why))).await;
        }
        // A long line's pieces hold the writer, as a container's do.
        if lines.long.is_some() && lines.sinks.hold(&ctx.out).await.is_err() {
            return TailEnd::Cut;
        }
        if lines.sinks.send(batch, &ctx.out).await.is_err() {
            return TailEnd::Cut;
        }
        if lines.long.is_none() {
            lines.sinks.release();
        }
        if lines.sinks.take_split()
            && let Some(text) = split_warning(&ctx, "standard input")
        {
            let _ = lines.sinks.out(&ctx.out).send(Out::Warning(text)).await;
        }
        if last {
            return end;
        }
    }
}

/// How a line of input becomes a record.
struct Lines<'a> {
    sinks: Sinks,
    /// Read a leading timestamp for -t, as in a log stream; otherwise all is message.
    timestamps: bool,
    /// The long line being read: its timestamp text and second, from its first piece.
    long: Option<(Vec<u8>, Option<i64>)>,
    ctx: &'a TailContext,
}

impl Lines<'_> {
    fn line(&mut self, raw: &[u8], part: Part, batch: &mut Batch) {
        let (piece, last) = match part {
            Part::Whole => return self.whole(raw, batch),
            Part::First => {
                let line = split_timestamp(raw);
                let (ts, second, msg) = if self.timestamps {
                    (line.timestamp, line.second, line.message)
                } else {
                    (&[][..], None, raw)
                };
                self.long = Some((ts.to_vec(), second));
                (msg, false)
            }
            Part::Middle => (raw, false),
            Part::Last => (raw.strip_suffix(b"\r").unwrap_or(raw), true),
        };
        let Some((ts, second)) = &self.long else {
            return;
        };
        if self.sinks.streams() || self.ctx.settings.filter.keeps(piece) {
            self.sinks.piece(batch, ts, *second, piece, last);
        }
        if last {
            self.long = None;
        }
    }

    fn whole(&mut self, raw: &[u8], batch: &mut Batch) {
        let line = parse_line(raw);
        let (ts, second, msg) = if self.timestamps {
            (line.timestamp, line.second, line.message)
        } else {
            (&[][..], None, raw)
        };
        if self.ctx.settings.filter.keeps(msg) {
            self.sinks.line(batch, ts, second, msg);
        }
    }
}

fn read_all(mut input: Input, tx: &mpsc::Sender<std::io::Result<Vec<u8>>>) {
    loop {
        let mut buf = vec![0u8; READ_BYTES];
        let n = match input.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        buf.truncate(n);
        if tx.blocking_send(Ok(buf)).is_err() {
            return;
        }
    }
}
