//! The writer thread: the only writer of stdout and stderr, and of `--output-dir`'s
//! files (see `files`).
//!
//! Tails send whole formatted lines in batches over one bounded channel; a dedicated
//! thread owns a block buffer over the locked stdout, writes each batch, and flushes the
//! moment the channel is empty; while lines keep coming it then naps a millisecond before
//! it looks again (`NAP`): low latency when output is idle, few wake-ups and large writes
//! under load.
//! Notices and warnings travel the same channel so nothing tears mid-line. When stdout
//! blocks, the channel fills and the tails stop reading their sockets: memory stays
//! bounded and no line is dropped.
//!
//! A tail streaming a line longer than a piece (`tail::lines::PIECE_BYTES`) takes the
//! writer for itself (`Out::Hold`): it sends the line's pieces on a small channel of its
//! own, and the writer writes only those until the tail lets go, so the pieces of one
//! output line follow each other with nothing between them. Everyone else's batches wait
//! in the bounded channel meanwhile, so memory stays bounded; the tail lets go as soon as
//! its line ends, and when it has to wait for more of it (`tail::container`).

use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;

use tokio::sync::{mpsc, oneshot};

use crate::output::OutputSettings;
use crate::output::files::LogFiles;
use crate::output::sanitize;

/// Batches in flight between the tails and the writer. With batches of at most
/// `BATCH_BYTES`, this bounds buffered output to a few MiB.
pub(crate) const CHANNEL_BATCHES: usize = 64;
/// A tail sends its batch once it grows past this size.
pub(crate) const BATCH_BYTES: usize = 64 * 1024;
const BUFFER_BYTES: usize = 128 * 1024;
/// After a flush, the writer naps this long before it looks for more instead of sleeping
/// until a tail wakes it: while lines keep coming, the tails send without waking a
/// thread (a futex call each) and one write(2) carries a nap's worth of lines. A line
/// that arrives during a nap waits at most this long; the first line after a quiet spell
/// wakes the writer at once.
const NAP: std::time::Duration = std::time::Duration::from_millis(1);

/// One message to the writer.
#[derive(Debug)]
pub(crate) enum Out {
    /// Whole formatted lines for stdout.
    Lines(Vec<u8>),
    /// A whole notice line for stderr (`+ pod › c`).
    Notice(Vec<u8>),
    /// A warning text for stderr, without prefix or newline.
    Warning(String),
    /// `--output-dir`: a container's tail has started; its file is created (or emptied,
    /// the first time in this run).
    FileOpen(Arc<Path>),
    /// Whole lines for a container's file.
    File(Arc<Path>, Vec<u8>),
    /// The container's tail has ended: write what its file holds and close it.
    FileClose(Arc<Path>),
    /// Write only what comes on this channel until it closes (see the module's doc).
    Hold(mpsc::Receiver<Out>),
}

/// Batch buffers the writer has written, kept for the tails to fill again: a busy run
/// then formats into memory that is already mapped instead of allocating a buffer per
/// batch on the runtime's threads and freeing it on the writer's.
static SPARE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// Spare buffers kept at most.
const SPARE_MAX: usize = 16;
/// A spare buffer larger than this is freed rather than kept (a long line's piece).
const SPARE_LARGEST: usize = 4 * BATCH_BYTES;

/// An empty buffer for a batch, written before if one is spare.
pub(crate) fn batch_buffer() -> Vec<u8> {
    SPARE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_default()
}

/// Keeps `buf` for a later batch, if it is worth keeping and there is room.
pub(crate) fn spare(mut buf: Vec<u8>) {
    if buf.capacity() == 0 || buf.capacity() > SPARE_LARGEST {
        return;
    }
    buf.clear();
    let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    if spare.len() < SPARE_MAX {
        spare.push(buf);
    }
}

/// How the writer stopped.
#[derive(Debug)]
pub(crate) enum WriterEnd {
    /// Every sender is gone and everything was written.
    Drained,
    /// The reader of stdout went away (`ktail … | head`): a normal end.
    Closed,
    /// Writing failed for another reason.
    Failed(io::Error),
}

/// The sending side, cloned into every tail.
pub(crate) type OutTx = mpsc::Sender<Out>;

/// A place the writer writes to: the process's stdout or stderr, or a test's buffer.
pub(crate) type Sink = Box<dyn Write + Send>;

/// Starts the writer thread over `stdout` and `stderr`. `closed` fires as soon as stdout
/// is gone or broken, so the run can end at once; the join handle reports how the writer
/// ended.
pub(crate) fn spawn(
    settings: &OutputSettings,
    stdout: Sink,
    stderr: Sink,
) -> (OutTx, oneshot::Receiver<()>, thread::JoinHandle<WriterEnd>) {
    let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
    let (closed_tx, closed_rx) = oneshot::channel();
    let (color_stderr, sanitize) = (settings.color_stderr, settings.sanitize);
    let handle = thread::Builder::new()
        .name("ktail-writer".into())
        .spawn(move || {
            let end = write_all(rx, stdout, stderr, color_stderr, sanitize);
            if !matches!(end, WriterEnd::Drained) {
                let _ = closed_tx.send(());
            }
            end
        })
        .expect("the writer thread can be spawned");
    (tx, closed_rx, handle)
}

/// The writer loop. With `neutralise`, log lines are made safe for a terminal (see
/// `sanitize`); warnings always are.
fn write_all(
    mut rx: mpsc::Receiver<Out>,
    stdout: impl Write,
    stderr: impl Write,
    color_stderr: bool,
    neutralise: bool,
) -> WriterEnd {
    let mut w = Writer {
        out: io::BufWriter::with_capacity(BUFFER_BYTES, stdout),
        stderr,
        files: LogFiles::default(),
        scratch: Vec::new(),
        color_stderr,
        neutralise,
    };
    let result = (|| -> io::Result<()> {
        while let Some(first) = rx.blocking_recv() {
            let mut next = Some(first);
            loop {
                while let Some(msg) = next.take() {
                    w.write(msg)?;
                    next = rx.try_recv().ok();
                }
                // Nothing is waiting: whatever is buffered goes out now.
                w.flush()?;
                // Lines are flowing: nap, then take what came meanwhile. A quiet
                // channel sends the writer back to sleep until the next batch wakes it.
                std::thread::sleep(NAP);
                match rx.try_recv() {
                    Ok(msg) => next = Some(msg),
                    Err(_) => break,
                }
            }
        }
        w.flush()
    })();
    match result {
        Ok(()) => WriterEnd::Drained,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => WriterEnd::Closed,
        Err(e) => WriterEnd::Failed(e),
    }
}

/// What the writer loop writes to.
struct Writer<O: Write, E: Write> {
    out: io::BufWriter<O>,
    stderr: E,
    files: LogFiles,
    scratch: Vec<u8>,
    color_stderr: bool,
    /// Make log lines safe for a terminal (see `sanitize`); warnings always are.
    neutralise: bool,
}

impl<O: Write, E: Write> Writer<O, E> {
    fn write(&mut self, msg: Out) -> io::Result<()> {
        let (out, scratch) = (&mut self.out, &mut self.scratch);
        match msg {
            Out::Lines(bytes) if self.neutralise && !sanitize::is_clean(&bytes) => {
                scratch.clear();
                sanitize::neutralise(&bytes, scratch);
                out.write_all(scratch)?;
                spare(bytes);
            }
            Out::Lines(bytes) => {
                out.write_all(&bytes)?;
                spare(bytes);
            }
            Out::Notice(bytes) => {
                out.flush()?;
                self.stderr.write_all(&bytes)?;
            }
            Out::Warning(text) => {
                out.flush()?;
                // Warnings quote servers and pods: never let them steer a terminal.
                scratch.clear();
                sanitize::neutralise(text.as_bytes(), scratch);
                let text = String::from_utf8_lossy(scratch);
                let line = if self.color_stderr {
                    format!("\x1b[1;33mktail: warning:\x1b[0m {text}\n")
                } else {
                    format!("ktail: warning: {text}\n")
                };
                self.stderr.write_all(line.as_bytes())?;
            }
            Out::FileOpen(path) => self.files.open(&path)?,
            Out::File(path, bytes) => self.files.write(&path, bytes)?,
            Out::FileClose(path) => self.files.close(&path)?,
            Out::Hold(mut held) => loop {
                let msg = match held.try_recv() {
                    Ok(msg) => msg,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        // The holder has nothing ready: what it sent goes out now.
                        self.flush()?;
                        match held.blocking_recv() {
                            Some(msg) => msg,
                            None => break,
                        }
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                };
                self.write(msg)?;
            },
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()?;
        self.files.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counting<'a> {
        data: &'a mut Vec<u8>,
        writes: &'a mut usize,
    }
    impl Write for Counting<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            *self.writes += 1;
            self.data.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn batches_are_coalesced_and_notices_keep_their_place() {
        let (tx, rx) = mpsc::channel(16);
        for i in 0..10 {
            tx.try_send(Out::Lines(format!("line {i}\n").into_bytes()))
                .unwrap();
        }
        tx.try_send(Out::Notice(b"+ p > c\n".to_vec())).unwrap();
        tx.try_send(Out::Warning("careful".into())).unwrap();
        drop(tx);
        let (mut data, mut writes, mut err) = (Vec::new(), 0, Vec::new());
        let end = write_all(
            rx,
            Counting {
                data: &mut data,
                writes: &mut writes,
            },
            &mut err,
            false,
            false,
        );
        assert!(matches!(end, WriterEnd::Drained));
        assert_eq!(data.iter().filter(|b| **b == b'\n').count(), 10);
        assert_eq!(writes, 1, "ten waiting batches leave in one write");
        assert_eq!(err, b"+ p > c\nktail: warning: careful\n");
    }

    #[test]
    fn a_holder_is_written_alone_until_it_lets_go() {
        let (tx, rx) = mpsc::channel(16);
        let (held_tx, held_rx) = mpsc::channel(2);
        tx.try_send(Out::Lines(b"before\n".to_vec())).unwrap();
        tx.try_send(Out::Hold(held_rx)).unwrap();
        tx.try_send(Out::Lines(b"other\n".to_vec())).unwrap();
        drop(tx);
        let holder = std::thread::spawn(move || {
            for piece in [&b"long "[..], b"line", b"\n"] {
                held_tx.blocking_send(Out::Lines(piece.to_vec())).unwrap();
            }
        });
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let end = write_all(rx, &mut out, &mut err, false, false);
        holder.join().unwrap();
        assert!(matches!(end, WriterEnd::Drained));
        assert_eq!(out, b"before\nlong line\nother\n");
    }

    #[test]
    fn escapes_are_neutralised_only_when_asked() {
        let line = b"web app \x1b[31mred\x1b[0m \x1b]0;title\x07 \x1b[2J\n".to_vec();
        for (sanitize, want) in [
            (
                true,
                &b"web app \x1b[31mred\x1b[0m ^[]0;title^G ^[[2J\n"[..],
            ),
            (false, &line[..]),
        ] {
            let (tx, rx) = mpsc::channel(4);
            tx.try_send(Out::Lines(line.clone())).unwrap();
            tx.try_send(Out::Warning("pod said \x1b[2J".into()))
                .unwrap();
            drop(tx);
            let (mut out, mut err) = (Vec::new(), Vec::new());
            write_all(rx, &mut out, &mut err, false, sanitize);
            assert_eq!(out, want);
            assert_eq!(err, b"ktail: warning: pod said ^[[2J\n");
        }
    }

    #[test]
    fn broken_pipe_is_a_normal_end() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
        }
        let (tx, rx) = mpsc::channel(4);
        tx.try_send(Out::Lines(b"x\n".to_vec())).unwrap();
        drop(tx);
        assert!(matches!(
            write_all(rx, Broken, io::sink(), false, false),
            WriterEnd::Closed
        ));
    }
}
