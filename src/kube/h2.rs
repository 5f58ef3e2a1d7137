//! HTTP/2 to the API server when it offers it (ALPN `h2`), with a pool that never puts
//! more streams on a connection than the server's SETTINGS_MAX_CONCURRENT_STREAMS:
//! hyper's pool keeps every request on one connection, where streams beyond the limit
//! wait for ever (hyperium/hyper#3623); kube-apiserver allows 100. A full connection
//! makes the pool open another, as Go's transport does.
//!
//! Connections are pinged every [`PING_EVERY`] so that idle log streams survive proxies
//! and load balancers, and a connection that does not answer in [`PING_TIMEOUT`] is
//! dropped. After GOAWAY a connection takes no new streams; the streams in flight finish
//! or break like any cut stream, and the tails resume them. A server that chooses
//! HTTP/1.1 is served by the HTTP/1.1 client from then on. A connection's streams share
//! a bounded flow-control window: a lone stream gets a wide one (a long log drains fast
//! over a long round trip), a hundred get HTTP/2's default each. Only the transport: requests come fully formed
//! from the layers above.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::Frame;
use kube::client::Body;
use tokio::sync::Notify;
use tower::{BoxError, Service};

/// How often an HTTP/2 connection is pinged.
const PING_EVERY: Duration = Duration::from_secs(30);
/// How long a ping may go unanswered before the connection is given up.
const PING_TIMEOUT: Duration = Duration::from_secs(15);
/// Streams on one connection at most, whatever the server allows (kube-apiserver: 100).
const MAX_STREAMS: usize = 100;
/// Flow-control window of a connection: all that its streams may buffer unread, so the
/// memory a connection can hold. It is more than the streams' windows add up to (see
/// `stream_window`; up to 64 streams twice as much, room for a burst of new ones before
/// their windows narrow), so that streams nobody reads for a while (an exact `--sort`
/// merge reads only the streams it waits for) can never take the window of the streams
/// that are read; with less, the connection could stall for good.
const CONNECTION_WINDOW: u32 = 8 << 20;
/// Flow-control window of a stream, whatever the number of streams: HTTP/2's default.
const STREAM_WINDOW_MIN: u32 = 64 << 10;
/// Flow-control window of a stream that has its connection (nearly) to itself: wide
/// enough that one stream drains a long log at 40 MB/s over a 50 ms round trip.
const STREAM_WINDOW_MAX: u32 = 2 << 20;
/// How long the number of streams must stay lower before their windows widen, so that
/// a burst of new streams does not widen then narrow them again.
const WIDEN_AFTER: Duration = Duration::from_millis(250);
/// How soon to try again when the server has not yet acknowledged the last change.
const SETTINGS_RETRY: Duration = Duration::from_millis(50);

/// The window each stream gets when a connection carries `active` streams: an equal
/// share of half the connection's window, as a power of two (so that it changes
/// seldom), between HTTP/2's default and `STREAM_WINDOW_MAX`. One stream of a
/// `--no-follow` drain can then go fast over a long round trip, while a hundred streams
/// hold at most 6.25 MiB unread.
fn stream_window(active: usize) -> u32 {
    let streams = u32::try_from(active.max(1)).unwrap_or(u32::MAX);
    let share = (CONNECTION_WINDOW / 2 / streams).max(1);
    (1u32 << (31 - share.leading_zeros())).clamp(STREAM_WINDOW_MIN, STREAM_WINDOW_MAX)
}

pub(crate) use crate::kube::h1::ResponseBody;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Opens a TLS connection to the server offering `h2` and `http/1.1`; says whether h2 was
/// chosen.
pub(crate) type TlsDial = Arc<
    dyn Fn(Uri) -> BoxFuture<Result<(tokio_rustls::client::TlsStream<Tls>, bool), BoxError>>
        + Send
        + Sync,
>;

/// The stream under TLS (a TCP stream, or a proxy's tunnel).
pub(crate) type Tls = hyper_util::rt::TokioIo<crate::kube::proxy::Conn>;

/// One HTTP/2 connection of the pool.
struct H2Conn {
    send: h2::client::SendRequest<Bytes>,
    /// Streams open on it now.
    active: Arc<AtomicUsize>,
    /// Told when `active` changes, for the connection's driver to size the windows.
    changed: Arc<Notify>,
    /// GOAWAY received, an error, or no answer to a ping: no new streams.
    closed: Arc<AtomicBool>,
}

impl H2Conn {
    /// Takes a stream slot if the server's limit allows one more.
    fn try_acquire(&self) -> Option<Slot> {
        if self.closed.load(Ordering::SeqCst) {
            return None;
        }
        let max = self.send.current_max_send_streams().clamp(1, MAX_STREAMS);
        let mut now = self.active.load(Ordering::SeqCst);
        loop {
            if now >= max {
                return None;
            }
            match self
                .active
                .compare_exchange(now, now + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => {
                    self.changed.notify_one();
                    return Some(Slot(self.active.clone(), self.changed.clone()));
                }
                Err(actual) => now = actual,
            }
        }
    }
}

/// A stream slot of a connection, given back when dropped.
struct Slot(Arc<AtomicUsize>, Arc<Notify>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        self.1.notify_one();
    }
}

/// Which protocol the server speaks, once known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Unknown,
    H2,
    H1,
}

struct Pool {
    dial: TlsDial,
    conns: Mutex<Vec<Arc<H2Conn>>>,
    /// One new connection at a time, so a burst of requests shares it.
    opening: tokio::sync::Mutex<()>,
    mode: Mutex<Mode>,
}

/// The bottom of the client stack: HTTP/2 through the pool when the server offers it,
/// else the HTTP/1.1 client.
#[derive(Clone)]
pub(crate) struct Transport<H1> {
    h1: H1,
    pool: Option<Arc<Pool>>,
    /// Log streams over HTTP/1.1 go on connections of their own (`kube::h1`).
    logs: Option<Arc<crate::kube::h1::Logs>>,
}

impl<H1> Transport<H1> {
    /// `h1` serves every request when `dial` is `None` (an `http://` server), but log
    /// streams over HTTP/1.1 when `logs` dials their connections.
    pub(crate) fn new(
        h1: H1,
        dial: Option<TlsDial>,
        logs: Option<Arc<crate::kube::h1::Logs>>,
    ) -> Transport<H1> {
        Transport {
            h1,
            logs,
            pool: dial.map(|dial| {
                Arc::new(Pool {
                    dial,
                    conns: Mutex::new(Vec::new()),
                    opening: tokio::sync::Mutex::new(()),
                    mode: Mutex::new(Mode::Unknown),
                })
            }),
        }
    }
}

impl<H1, B> Service<Request<Body>> for Transport<H1>
where
    H1: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    H1::Future: Send + 'static,
    H1::Error: Into<BoxError>,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = BoxFuture<Result<Response<ResponseBody>, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.h1.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let fresh = self.h1.clone();
        let mut h1 = std::mem::replace(&mut self.h1, fresh);
        let pool = self.pool.clone();
        let logs = self.logs.clone();
        Box::pin(async move {
            let mut req = req;
            if let Some(pool) = pool
                && pool.mode() != Mode::H1
            {
                match pool.send(req).await? {
                    Sent::Done(resp) => return Ok(resp),
                    // The server chose HTTP/1.1.
                    Sent::Http1(back) => req = back,
                }
            }
            if let Some(logs) = logs.filter(|_| crate::kube::h1::is_log(&req)) {
                return logs.send(req).await;
            }
            let resp = h1.call(req).await.map_err(Into::into)?;
            Ok(resp.map(|b| b.map_err(Into::into).boxed_unsync()))
        })
    }
}

/// Runs a connection until it ends, sizing its streams' windows to how many it carries
/// (`stream_window`): narrower at once when streams are added, wider once their number
/// has stayed lower for `WIDEN_AFTER`. The server applies a change to the streams open
/// too (RFC 9113 §6.9.2).
async fn drive<T>(
    mut connection: h2::client::Connection<T, Bytes>,
    active: &AtomicUsize,
    changed: &Notify,
) where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut window = STREAM_WINDOW_MIN;
    let mut widen_at: Option<tokio::time::Instant> = None;
    loop {
        let want = stream_window(active.load(Ordering::SeqCst));
        let now = tokio::time::Instant::now();
        if want <= window {
            widen_at = None;
        }
        let due =
            want < window || (want > window && *widen_at.get_or_insert(now + WIDEN_AFTER) <= now);
        let mut wake = widen_at;
        if due {
            // Refused while the server has not acknowledged the previous change.
            if connection.set_initial_window_size(want).is_ok() {
                window = want;
                (widen_at, wake) = (None, None);
            } else {
                wake = Some(now + SETTINGS_RETRY);
            }
        }
        tokio::select! {
            _ = &mut connection => return,
            () = changed.notified() => {}
            () = tokio::time::sleep_until(wake.unwrap_or(now)), if wake.is_some() => {}
        }
    }
}

enum Sent {
    Done(Response<ResponseBody>),
    Http1(Request<Body>),
}

impl Pool {
    fn mode(&self) -> Mode {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    }

    /// A slot on an open connection with room, if any.
    fn find(&self) -> Option<(Arc<H2Conn>, Slot)> {
        let mut conns = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        conns.retain(|c| !c.closed.load(Ordering::SeqCst) || c.active.load(Ordering::SeqCst) > 0);
        conns
            .iter()
            .find_map(|c| c.try_acquire().map(|s| (c.clone(), s)))
    }

    /// A slot: on a connection with room, else on a new one.
    async fn acquire(&self, uri: &Uri) -> Result<Option<(Arc<H2Conn>, Slot)>, BoxError> {
        if let Some(found) = self.find() {
            return Ok(Some(found));
        }
        let _opening = self.opening.lock().await;
        // Another request may have opened one meanwhile.
        if let Some(found) = self.find() {
            return Ok(Some(found));
        }
        let Some(conn) = self.open(uri).await? else {
            return Ok(None);
        };
        let slot = conn.try_acquire();
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn.clone());
        Ok(slot.map(|s| (conn, s)))
    }

    /// Opens a connection; `None` when the server chose HTTP/1.1.
    async fn open(&self, uri: &Uri) -> Result<Option<Arc<H2Conn>>, BoxError> {
        let (tls, h2) = (self.dial)(uri.clone()).await?;
        if !h2 {
            self.set_mode(Mode::H1);
            return Ok(None);
        }
        self.set_mode(Mode::H2);
        let (send, mut connection) = h2::client::Builder::new()
            .initial_window_size(STREAM_WINDOW_MIN)
            .initial_connection_window_size(CONNECTION_WINDOW)
            .enable_push(false)
            .handshake::<_, Bytes>(tls)
            .await?;
        let mut ping = connection.ping_pong().ok_or("HTTP/2 pings unavailable")?;
        let closed = Arc::new(AtomicBool::new(false));
        let (active, changed) = (Arc::new(AtomicUsize::new(0)), Arc::new(Notify::new()));
        let driver_closed = closed.clone();
        let (driver_active, driver_changed) = (active.clone(), changed.clone());
        tokio::spawn(async move {
            drive(connection, &driver_active, &driver_changed).await;
            driver_closed.store(true, Ordering::SeqCst);
        });
        // The server's SETTINGS come before its answer to a first ping: after it the
        // stream limit is the server's.
        match tokio::time::timeout(PING_TIMEOUT, ping.ping(h2::Ping::opaque())).await {
            Ok(Ok(_)) => {}
            // With TLS 1.3 a server that refuses the client's certificate (or its lack)
            // says so after the client's handshake is done: the first write fails.
            Ok(Err(e)) if e.is_io() => {
                return Err("TLS failure: the server closed the connection right after the handshake (it may want a client certificate the kubeconfig does not give)".into());
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err("the API server did not answer an HTTP/2 ping".into()),
        }
        let keepalive_closed = closed.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PING_EVERY).await;
                if keepalive_closed.load(Ordering::SeqCst) {
                    return;
                }
                let answered = tokio::time::timeout(PING_TIMEOUT, ping.ping(h2::Ping::opaque()))
                    .await
                    .is_ok_and(|r| r.is_ok());
                if !answered {
                    keepalive_closed.store(true, Ordering::SeqCst);
                    return;
                }
            }
        });
        let send = send.ready().await?;
        Ok(Some(Arc::new(H2Conn {
            send,
            active,
            changed,
            closed,
        })))
    }

    /// Sends `req` on a stream of the pool; a connection that turned out to be going away
    /// before the stream opened is left for a new one, once.
    async fn send(&self, req: Request<Body>) -> Result<Sent, BoxError> {
        let (parts, body) = req.into_parts();
        let body = body.collect_bytes().await?;
        for attempt in 0..2 {
            let Some((conn, slot)) = self.acquire(&parts.uri).await? else {
                let mut req = Request::from_parts(parts, Body::from(body));
                *req.version_mut() = http::Version::HTTP_11;
                return Ok(Sent::Http1(req));
            };
            let mut head = Request::builder()
                .method(parts.method.clone())
                .uri(parts.uri.clone())
                .version(http::Version::HTTP_2)
                .body(())?;
            *head.headers_mut() = parts.headers.clone();
            // Connection-specific headers are not allowed in HTTP/2.
            for h in [
                "connection",
                "keep-alive",
                "transfer-encoding",
                "upgrade",
                "host",
            ] {
                head.headers_mut().remove(h);
            }
            let mut send = conn.send.clone();
            let sent = async {
                send = send.ready().await?;
                let (resp, mut stream) = send.send_request(head, body.is_empty())?;
                if !body.is_empty() {
                    stream.send_data(body.clone(), true)?;
                }
                resp.await
            }
            .await;
            match sent {
                Ok(resp) => {
                    let (parts, recv) = resp.into_parts();
                    let body = StreamBody { recv, _slot: slot };
                    return Ok(Sent::Done(Response::from_parts(parts, body.boxed_unsync())));
                }
                Err(e) if attempt == 0 && refused_before_start(&e) => {
                    conn.closed.store(true, Ordering::SeqCst);
                    continue;
                }
                Err(e) => {
                    if e.is_go_away() || e.is_io() {
                        conn.closed.store(true, Ordering::SeqCst);
                    }
                    return Err(e.into());
                }
            }
        }
        Err("the API server refused a new HTTP/2 stream twice".into())
    }
}

/// The server did not process the stream: GOAWAY, or REFUSED_STREAM (RFC 9113 8.7).
fn refused_before_start(e: &h2::Error) -> bool {
    e.is_go_away() || e.reason() == Some(h2::Reason::REFUSED_STREAM)
}

/// An HTTP/2 response body; gives its flow-control window back as it is read, and its
/// stream slot when done.
struct StreamBody {
    recv: h2::RecvStream,
    _slot: Slot,
}

impl hyper::body::Body for StreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.recv.poll_data(cx) {
            Poll::Ready(Some(Ok(data))) => {
                let _ = self.recv.flow_control().release_capacity(data.len());
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.into()))),
            Poll::Ready(None) => match self.recv.poll_trailers(cx) {
                Poll::Ready(Ok(Some(t))) => Poll::Ready(Some(Ok(Frame::trailers(t)))),
                Poll::Ready(Ok(None)) => Poll::Ready(None),
                Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e.into()))),
                Poll::Pending => Poll::Pending,
            },
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }
}

/// For an https server: TLS connections through `dial` that offer HTTP/2 (ALPN `h2`,
/// then `http/1.1`), with the kubeconfig's TLS settings and `tls-server-name`.
pub(crate) fn tls_dial(
    config: &kube::Config,
    mut tls: rustls::ClientConfig,
    dial: crate::kube::proxy::Dial,
) -> kube::Result<Option<TlsDial>> {
    if config.cluster_url.scheme_str() != Some("https") {
        return Ok(None);
    }
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls));
    let host = config
        .cluster_url
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let name = config.tls_server_name.clone().unwrap_or(host);
    let timeout = config.connect_timeout;
    Ok(Some(std::sync::Arc::new(move |uri| {
        let (dial, tls, name) = (dial.clone(), tls.clone(), name.clone());
        Box::pin(async move {
            let connect = async {
                let conn = tower::ServiceExt::oneshot(dial, uri).await?;
                let name = rustls::pki_types::ServerName::try_from(name)?;
                let stream = tls
                    .connect(name, hyper_util::rt::TokioIo::new(conn))
                    .await?;
                let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
                Ok::<_, tower::BoxError>((stream, h2))
            };
            match timeout {
                Some(t) => tokio::time::timeout(t, connect)
                    .await
                    .map_err(|_| tower::BoxError::from("connection timed out"))?,
                None => connect.await,
            }
        })
    })))
}

/// The HTTP/1.1 connector through `dial`, with the same TLS settings (`tls`, from
/// kube's `rustls_client_config`, which asks an exec plugin for a client certificate:
/// built once, the plugin runs once) and `tls-server-name`, as kube's own connector.
pub(crate) fn http1_connector(
    config: &kube::Config,
    tls: rustls::ClientConfig,
    dial: crate::kube::proxy::Dial,
) -> kube::Result<hyper_rustls::HttpsConnector<crate::kube::proxy::Dial>> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http();
    let builder = match &config.tls_server_name {
        Some(name) => {
            let name = rustls::pki_types::ServerName::try_from(name.clone())
                .map_err(|e| kube::Error::Service(Box::new(e)))?;
            builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(name))
        }
        None => builder,
    };
    Ok(builder.enable_http1().wrap_connector(dial))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_share_the_connection_window() {
        // A lone stream drains wide; many share what the connection may buffer.
        assert_eq!(stream_window(0), STREAM_WINDOW_MAX);
        assert_eq!(stream_window(1), STREAM_WINDOW_MAX);
        assert_eq!(stream_window(3), 1 << 20);
        assert_eq!(stream_window(100), STREAM_WINDOW_MIN);
        for active in 1..=MAX_STREAMS {
            let w = stream_window(active);
            assert!(w.is_power_of_two() && w >= STREAM_WINDOW_MIN);
            // Every stream's window fits in the connection's.
            assert!(
                active as u64 * u64::from(w) <= u64::from(CONNECTION_WINDOW),
                "{active} streams of {w}"
            );
            assert!(w <= stream_window(active - 1).max(stream_window(1)));
        }
    }
}
