//! Log streams over HTTP/1.1 on a connection of their own, driven by the task that reads
//! the body.
//!
//! Through hyper's pooled client a connection task decodes the response and hands the
//! body over a channel that holds one chunk: with the kubelet's one chunk per line, every
//! line costs a wake-up of the connection task and one of the tail, often on another
//! thread. Over HTTP/1.1 a log stream has its connection to itself anyway, so here the
//! body polls the connection itself: the chunks already read are decoded one after
//! another within one poll of the tail, and a wake-up comes only when the socket has
//! more. Every other request (lists, watches, pod reads) keeps the pooled client.

use std::pin::Pin;
use std::sync::Arc;
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

/// Sends `req` on a connection of its own; its body drives the connection.
pub(crate) async fn send(
    dial: &Dial,
    req: Request<Body>,
) -> Result<Response<ResponseBody>, BoxError> {
    let (mut parts, body) = req.into_parts();
    let io = dial(parts.uri.clone()).await?;
    let (mut send, conn) = http1::Builder::new()
        .max_buf_size(READ_BUFFER_MAX)
        .handshake::<_, Body>(io)
        .await?;
    // The pooled client sends the origin form with a Host header; so does this.
    if let Some(authority) = parts.uri.authority()
        && !parts.headers.contains_key(http::header::HOST)
    {
        parts
            .headers
            .insert(http::header::HOST, authority.as_str().parse()?);
    }
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse::<Uri>()?;
    parts.uri = path;
    parts.version = http::Version::HTTP_11;
    let mut conn = Some(conn);
    let response = send.send_request(Request::from_parts(parts, body));
    tokio::pin!(response);
    // Until the head comes, the connection runs here too.
    let resp = std::future::poll_fn(|cx| {
        if let Some(c) = conn.as_mut()
            && Pin::new(c).poll(cx).is_ready()
        {
            conn = None;
        }
        response.as_mut().poll(cx)
    })
    .await?;
    let (head, incoming) = resp.into_parts();
    let body = Driven {
        body: incoming,
        conn,
        _send: send,
    };
    Ok(Response::from_parts(head, body.boxed_unsync()))
}

/// A response body that drives its connection whenever it is read.
struct Driven {
    body: Incoming,
    conn: Option<http1::Connection<Box<dyn Io>, Body>>,
    /// Kept so that the connection does not close as soon as the request is sent.
    _send: http1::SendRequest<Body>,
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
        if let Some(c) = this.conn.as_mut()
            && Pin::new(c).poll(cx).is_ready()
        {
            this.conn = None;
        }
        Pin::new(&mut this.body).poll_frame(cx).map_err(Into::into)
    }
}
