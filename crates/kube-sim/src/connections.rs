//! What each client connection carries, for tests that assert pooling: its protocol,
//! the streams (requests) open on it now, the most it ever had open at once, and how many
//! it served. A stream counts from its request's arrival until its response body is done
//! or dropped. Plain bookkeeping: it must not touch sockets or requests.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
}

/// One connection as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionStats {
    pub protocol: Protocol,
    /// Still open.
    pub open: bool,
    /// Streams open on it now.
    pub active_streams: usize,
    /// The most streams it had open at once.
    pub peak_streams: usize,
    /// Requests it served.
    pub requests: usize,
}

/// The live counters of one connection.
#[derive(Debug)]
pub(crate) struct Conn {
    protocol: Protocol,
    open: AtomicBool,
    active: AtomicUsize,
    peak: AtomicUsize,
    requests: AtomicUsize,
}

impl Conn {
    pub(crate) fn new(protocol: Protocol) -> Arc<Conn> {
        Arc::new(Conn {
            protocol,
            open: AtomicBool::new(true),
            active: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
        })
    }

    /// A stream starts; it ends when the guard is dropped.
    pub(crate) fn stream(self: &Arc<Conn>) -> StreamGuard {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        StreamGuard(self.clone())
    }

    pub(crate) fn closed(&self) {
        self.open.store(false, Ordering::SeqCst);
    }

    pub(crate) fn stats(&self) -> ConnectionStats {
        ConnectionStats {
            protocol: self.protocol,
            open: self.open.load(Ordering::SeqCst),
            active_streams: self.active.load(Ordering::SeqCst),
            peak_streams: self.peak.load(Ordering::SeqCst),
            requests: self.requests.load(Ordering::Relaxed),
        }
    }
}

/// An open stream of a connection.
pub(crate) struct StreamGuard(Arc<Conn>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A response body that holds its stream open until it is done or dropped.
pub(crate) struct Guarded<B> {
    pub(crate) body: B,
    pub(crate) guard: Option<StreamGuard>,
}

impl<B: Body<Data = Bytes> + Unpin> Body for Guarded<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if let Poll::Ready(None) = polled {
            self.guard = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
