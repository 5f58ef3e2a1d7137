//! Log streams over HTTP/1.1 on a connection of their own, driven by the task that reads
//! the body.
//!
//! Through hyper's pooled client a connection task decodes the response and hands the
//! body over a channel that holds one chunk: with the kubelet's one chunk per line, every
//! line costs a wake-up of the connection task and one of the tail, often on another
//! thread. Over HTTP/1.1 a log stream has its connection to itself anyway, so here the
//! body polls the connection itself: the chunks already read are decoded one after
//! another within one poll of the tail, and a wake-up comes only when the socket has
//! more. A connection whose response was read to the end is kept for the next log read
//! (a kept one the server closed meanwhile is replaced, the GET sent again). Every other
//! request (lists, watches, pod reads) keeps the pooled client.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::client::conn::http1;
use kube::client::Body;
use tower::BoxError;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The body of a response, whichever protocol carried it.
pub(crate) type ResponseBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// The most a connection's read buffer may grow to. hyper's default (about 400 KiB) is
/// reached by every stream of a bulk read and kept for the connection's life: with 100
/// parallel drains that alone is 40 MiB. 64 KiB still moves a GB/s per stream.
pub(crate) const READ_BUFFER_MAX: usize = 64 * 1024;

/// An open connection to the server (TCP, TLS, through a proxy: the pooled client's own
/// connector, with its timeouts).
pub(crate) trait Io: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static {}

impl<T: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static> Io for T {}

/// Opens a connection for one request.
pub(crate) type Dial = Arc<dyn Fn(Uri) -> BoxFuture<Result<Box<dyn Io>, BoxError>> + Send + Sync>;

/// A `Dial` from a connector service (the pooled client's).
pub(crate) fn dial<C>(connector: C) -> Dial
where
    C: tower::Service<Uri> + Clone + Send + Sync + 'static,
    C::Response: Io,
    C::Error: Into<BoxError>,
    C::Future: Send + 'static,
{
    Arc::new(move |uri| {
        let connector = connector.clone();
        Box::pin(async move {
            let io = tower::ServiceExt::oneshot(connector, uri)
                .await
                .map_err(Into::into)?;
            Ok(Box::new(io) as Box<dyn Io>)
        })
    })
}

/// Whether a request reads a container's log (`…/pods/NAME/log`).
pub(crate) fn is_log(req: &Request<Body>) -> bool {
    req.uri().path().ends_with("/log")
}

/// Connections kept for later log reads at most, once their response was read to the end
/// (a `--no-follow` drain reads one container after another).
const IDLE_MAX: usize = 8;

type Connection = http1::Connection<Box<dyn Io>, Body>;

/// A connection and its request side.
struct Conn {
    send: http1::SendRequest<Body>,
    /// `None` once it ended.
    conn: Option<Connection>,
}

impl Conn {
    /// Lets the connection read and write; true while it is open.
    fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        if let Some(c) = self.conn.as_mut()
            && Pin::new(c).poll(cx).is_ready()
        {
            self.conn = None;
        }
        self.conn.is_some()
    }
}

/// Log reads over HTTP/1.1: a connection each, kept for the next read when one ends.
pub(crate) struct Logs {
    dial: Dial,
    idle: Mutex<Vec<Conn>>,
}

/// How an exchange on a kept connection failed.
enum Failed {
    /// The server had closed the connection before it took the request: send it again
    /// on another.
    Unsent,
    Error(BoxError),
}

impl Logs {
    pub(crate) fn new(dial: Dial) -> Arc<Logs> {
        Arc::new(Logs {
            dial,
            idle: Mutex::new(Vec::new()),
        })
    }

    fn take_idle(&self) -> Option<Conn> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn keep(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_MAX {
            idle.push(conn);
        }
    }

    /// Sends `req` on a kept connection or a new one; the response's body drives the
    /// connection and gives it back when read to the end.
    pub(crate) async fn send(
        self: &Arc<Self>,
        req: Request<Body>,
    ) -> Result<Response<ResponseBody>, BoxError> {
        let (mut parts, body) = req.into_parts();
        let body = body.collect_bytes().await?;
        // The pooled client sends the origin form with a Host header; so does this.
        if let Some(authority) = parts.uri.authority()
            && !parts.headers.contains_key(http::header::HOST)
        {
            parts
                .headers
                .insert(http::header::HOST, authority.as_str().parse()?);
        }
        let uri = parts.uri.clone();
        parts.uri = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse::<Uri>()?;
        parts.version = http::Version::HTTP_11;
        let request = || Request::from_parts(parts.clone(), Body::from(body.clone()));
        while let Some(conn) = self.take_idle() {
            match exchange(conn, request(), true).await {
                Ok(resp) => return Ok(self.respond(resp)),
                Err(Failed::Unsent) => continue,
                Err(Failed::Error(e)) => return Err(e),
            }
        }
        let io = (self.dial)(uri).await?;
        let (send, conn) = http1::Builder::new()
            .max_buf_size(READ_BUFFER_MAX)
            .handshake::<_, Body>(io)
            .await?;
        let conn = Conn {
            send,
            conn: Some(conn),
        };
        match exchange(conn, request(), false).await {
            Ok(resp) => Ok(self.respond(resp)),
            Err(Failed::Error(e)) => Err(e),
            Err(Failed::Unsent) => {
                Err("the server closed the connection before it took the request".into())
            }
        }
    }

    fn respond(
        self: &Arc<Self>,
        (resp, conn): (Response<Incoming>, Conn),
    ) -> Response<ResponseBody> {
        let (head, body) = resp.into_parts();
        let body = Driven {
            body,
            conn: Some(conn),
            logs: self.clone(),
        };
        Response::from_parts(head, body.boxed_unsync())
    }
}

/// Sends `req` on `conn` and waits for the response's head, driving the connection.
async fn exchange(
    mut conn: Conn,
    req: Request<Body>,
    kept: bool,
) -> Result<(Response<Incoming>, Conn), Failed> {
    let ready = std::future::poll_fn(|cx| {
        let open = conn.drive(cx);
        match conn.send.poll_ready(cx) {
            Poll::Pending if open => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(true),
            _ => Poll::Ready(false),
        }
    })
    .await;
    if !ready {
        return Err(if kept {
            Failed::Unsent
        } else {
            Failed::Error("the server closed the connection".into())
        });
    }
    let response = conn.send.send_request(req);
    tokio::pin!(response);
    let resp = std::future::poll_fn(|cx| {
        conn.drive(cx);
        response.as_mut().poll(cx)
    })
    .await;
    match resp {
        Ok(resp) => Ok((resp, conn)),
        // A kept connection the server closed while it was idle: the request never
        // reached it (every log read is a GET, safe to send again).
        Err(e) if kept && (e.is_canceled() || e.is_incomplete_message() || e.is_closed()) => {
            Err(Failed::Unsent)
        }
        Err(e) => Err(Failed::Error(e.into())),
    }
}

/// A response body that drives its connection whenever it is read, and gives the
/// connection back for the next log read once read to the end.
struct Driven {
    body: Incoming,
    conn: Option<Conn>,
    logs: Arc<Logs>,
}

impl hyper::body::Body for Driven {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        // The connection decodes what it has read into the body's channel; an error or
        // the connection's end reaches the body as its error or end.
        if let Some(c) = this.conn.as_mut() {
            c.drive(cx);
        }
        let frame = Pin::new(&mut this.body).poll_frame(cx).map_err(Into::into);
        if let Poll::Ready(None) = frame
            && let Some(conn) = this.conn.take()
            && conn.conn.is_some()
        {
            this.logs.keep(conn);
        }
        frame
    }
}
