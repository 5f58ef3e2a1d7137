//! Log streams over HTTP/1.1 on a connection of their own, read by the task that reads
//! the body.
//!
//! Over HTTP/1.1 a log stream has its connection to itself, for as long as the container
//! runs: with thousands of streams, what a connection holds while it waits is what ktail
//! costs. hyper's client keeps a request channel, a header buffer and a read buffer for
//! every connection (about 26 KiB) and wakes a connection task and then the tail for every
//! chunk. Here the response is read straight from the socket by the tail's own task: the
//! head is parsed with httparse (hyper's own parser), the body is decoded in place (the
//! kubelet sends one chunk per line: the lines read together leave as one piece), and the
//! read buffer is let go whenever the socket has nothing more, so a waiting stream holds
//! only its TLS state. A connection whose response was read to the end is kept for the
//! next log read (a kept one the server closed meanwhile is replaced, the GET sent again).
//! Every other request (lists, watches, pod reads) keeps hyper's pooled client.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::{Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use kube::client::Body;
use tokio::io::AsyncWriteExt;
use tower::BoxError;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The body of a response, whichever protocol carried it.
pub(crate) type ResponseBody = http_body_util::combinators::UnsyncBoxBody<Bytes, BoxError>;

/// The most a connection's read buffer may grow to. hyper's default (about 400 KiB) is
/// reached by every stream of a bulk read and kept for the connection's life: with 100
/// parallel drains that alone is 40 MiB. 64 KiB still moves a GB/s per stream.
pub(crate) const READ_BUFFER_MAX: usize = 64 * 1024;

/// A stream's first read: a follow stream's lines come a few at a time.
const READ_BUFFER_MIN: usize = 8 * 1024;

/// The buffer a response's head is read into at first: a log response's head is a few
/// hundred bytes, and thousands of streams opened at once all wait for theirs.
const HEAD_BUFFER: usize = 1024;

/// The most headers a response may have (hyper's default is 100).
const HEADERS_MAX: usize = 100;

/// The longest chunk-size or trailer line of a chunked body.
const LINE_MAX: usize = 4 * 1024;

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

/// A connection, through tokio's I/O traits.
type Conn = TokioIo<Box<dyn Io>>;

/// Log reads over HTTP/1.1: a connection each, kept for the next read when one ends.
pub(crate) struct Logs {
    dial: Dial,
    idle: Mutex<Vec<Conn>>,
}

/// How an exchange failed.
enum Failed {
    /// A kept connection the server had closed before it took the request: send it
    /// again on another.
    Unsent,
    Error(BoxError),
}

impl From<io::Error> for Failed {
    fn from(e: io::Error) -> Failed {
        Failed::Error(e.into())
    }
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

    /// Sends `req` on a kept connection or a new one; the response's body reads the
    /// connection and gives it back when read to the end.
    pub(crate) async fn send(
        self: &Arc<Self>,
        req: Request<Body>,
    ) -> Result<Response<ResponseBody>, BoxError> {
        let (parts, body) = req.into_parts();
        let body = body.collect_bytes().await?;
        let request = encode_request(&parts, &body)?;
        while let Some(conn) = self.take_idle() {
            match exchange(conn, &request, true).await {
                Ok(resp) => return Ok(self.respond(resp)),
                Err(Failed::Unsent) => continue,
                Err(Failed::Error(e)) => return Err(e),
            }
        }
        let conn = TokioIo::new((self.dial)(parts.uri).await?);
        match exchange(conn, &request, false).await {
            Ok(resp) => Ok(self.respond(resp)),
            Err(Failed::Error(e)) => Err(e),
            Err(Failed::Unsent) => Err(closed("before it answered").into()),
        }
    }

    fn respond(
        self: &Arc<Self>,
        (head, mut body): (http::response::Parts, Reading),
    ) -> Response<ResponseBody> {
        body.logs = Some(self.clone());
        Response::from_parts(head, body.boxed_unsync())
    }
}

/// The request as it goes on the wire: the origin form with a Host header, as hyper's
/// client sends it.
fn encode_request(parts: &http::request::Parts, body: &[u8]) -> Result<Vec<u8>, BoxError> {
    let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut header = |name: &[u8], value: &[u8]| {
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    };
    if !parts.headers.contains_key(http::header::HOST) {
        let authority = parts
            .uri
            .authority()
            .ok_or("a log request without a server address")?;
        header(b"host", authority.as_str().as_bytes());
    }
    for (name, value) in &parts.headers {
        header(name.as_str().as_bytes(), value.as_bytes());
    }
    if !body.is_empty() && !parts.headers.contains_key(http::header::CONTENT_LENGTH) {
        header(b"content-length", body.len().to_string().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    Ok(out)
}

/// Sends `request` on `conn` and reads the response's head.
async fn exchange(
    mut conn: Conn,
    request: &[u8],
    kept: bool,
) -> Result<(http::response::Parts, Reading), Failed> {
    // A kept connection the server closed while it was idle fails here or gives no
    // answer at all: the request never reached it (every log read is a GET, safe to
    // send again).
    let unsent = |e: io::Error| {
        if kept && is_closed(&e) {
            Failed::Unsent
        } else {
            Failed::from(e)
        }
    };
    conn.write_all(request).await.map_err(unsent)?;
    conn.flush().await.map_err(unsent)?;
    let mut buf = BytesMut::with_capacity(HEAD_BUFFER);
    let mut answered = false;
    loop {
        if let Some((head, len)) = parse_head(&buf)? {
            buf.advance(len);
            answered = true;
            // An interim answer (100 Continue, 103 Early Hints) comes before the real one.
            if head.status.is_informational() {
                if head.status == StatusCode::SWITCHING_PROTOCOLS {
                    return Err(Failed::Error(
                        "the server switched protocols on a log request".into(),
                    ));
                }
                continue;
            }
            let (decoder, reusable) = framing(&head)?;
            let body = Reading {
                conn: Some(conn),
                buf,
                decoder,
                reusable,
                next_read: READ_BUFFER_MIN,
                logs: None,
            };
            return Ok((head, body));
        }
        if buf.len() >= READ_BUFFER_MAX {
            return Err(Failed::Error(
                "the server's response headers are too large (over 64 KiB)".into(),
            ));
        }
        buf.reserve(buf.len().max(HEAD_BUFFER));
        let read = std::future::poll_fn(|cx| {
            tokio_util::io::poll_read_buf(Pin::new(&mut conn), cx, &mut buf)
        })
        .await;
        let fresh = !answered && buf.is_empty();
        match read {
            Ok(0) if kept && fresh => return Err(Failed::Unsent),
            Ok(0) => return Err(Failed::from(closed("before it answered"))),
            Ok(_) => {}
            Err(e) if fresh => return Err(unsent(e)),
            Err(e) => return Err(Failed::from(e)),
        }
    }
}

/// Whether an I/O error says the server had closed the connection.
fn is_closed(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
    )
}

/// The server closed the connection too early.
fn closed(when: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the server closed the connection {when}"),
    )
}

/// A response's head, once `buf` holds all of it, and its length.
fn parse_head(buf: &[u8]) -> Result<Option<(http::response::Parts, usize)>, Failed> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(Failed::Error(
                format!("the server's answer is not an HTTP/1.1 response ({e})").into(),
            ));
        }
    };
    let bad = |what: &str| Failed::Error(format!("the server's response has {what}").into());
    let mut head = Response::new(()).into_parts().0;
    head.version = match resp.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    head.status = StatusCode::from_u16(resp.code.unwrap_or_default())
        .map_err(|_| bad("an invalid status code"))?;
    head.headers.reserve(resp.headers.len());
    for h in resp.headers.iter() {
        let name = http::HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| bad("an invalid header name"))?;
        let value =
            http::HeaderValue::from_bytes(h.value).map_err(|_| bad("an invalid header value"))?;
        head.headers.append(name, value);
    }
    Ok(Some((head, len)))
}

/// How a response's body is delimited (RFC 9112, 6.3), and whether the connection may
/// carry another request after it.
fn framing(head: &http::response::Parts) -> Result<(Decoder, bool), Failed> {
    let bad = |what: &str| Failed::Error(format!("the server's response has {what}").into());
    let status = head.status;
    let decoder = if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        Decoder::Length(0)
    } else if let Some(last) = list_values(head, http::header::TRANSFER_ENCODING).last() {
        if last.eq_ignore_ascii_case("chunked") {
            Decoder::Chunked(Chunk::Size)
        } else {
            Decoder::UntilClose
        }
    } else {
        let mut length = None;
        for v in head.headers.get_all(http::header::CONTENT_LENGTH) {
            let n = v
                .to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| bad("an invalid Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(bad("two different Content-Lengths"));
            }
            length = Some(n);
        }
        length.map_or(Decoder::UntilClose, Decoder::Length)
    };
    let close =
        list_values(head, http::header::CONNECTION).any(|v| v.eq_ignore_ascii_case("close"));
    let reusable = head.version == Version::HTTP_11 && !close && decoder != Decoder::UntilClose;
    Ok((decoder, reusable))
}

/// The comma-separated values of a header, over all its lines.
fn list_values(head: &http::response::Parts, name: http::HeaderName) -> impl Iterator<Item = &str> {
    head.headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Where a body's decoding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoder {
    /// This many bytes are still to come.
    Length(u64),
    Chunked(Chunk),
    /// The body ends when the connection does.
    UntilClose,
    Done,
}

/// Where a chunked body's decoding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// A chunk-size line comes next.
    Size,
    /// This many bytes of a chunk's data are still to come.
    Data(u64),
    /// The line end after a chunk's data comes next.
    DataEnd,
    /// Trailer lines, up to an empty one.
    Trailer,
}

impl Decoder {
    /// Decodes what `buf` holds: the body bytes found move to its front. Gives how many
    /// body bytes there are and how many bytes of `buf` were used.
    fn decode(&mut self, buf: &mut [u8]) -> Result<(usize, usize), &'static str> {
        match self {
            Decoder::Length(left) => {
                let n = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                *left -= n as u64;
                if *left == 0 {
                    *self = Decoder::Done;
                }
                Ok((n, n))
            }
            Decoder::UntilClose => Ok((buf.len(), buf.len())),
            Decoder::Done => Ok((0, 0)),
            Decoder::Chunked(chunk) => {
                let (out, used, done) = decode_chunks(chunk, buf)?;
                if done {
                    *self = Decoder::Done;
                }
                Ok((out, used))
            }
        }
    }
}

/// Decodes the chunks `buf` holds, moving their data to its front: (data bytes, bytes
/// used, whether the body ended).
fn decode_chunks(state: &mut Chunk, buf: &mut [u8]) -> Result<(usize, usize, bool), &'static str> {
    let (mut read, mut written) = (0, 0);
    loop {
        let rest = &buf[read..];
        match *state {
            Chunk::Data(left) => {
                if rest.is_empty() {
                    break;
                }
                let n = usize::try_from(left).unwrap_or(usize::MAX).min(rest.len());
                if read != written {
                    buf.copy_within(read..read + n, written);
                }
                read += n;
                written += n;
                *state = match left - n as u64 {
                    0 => Chunk::DataEnd,
                    left => Chunk::Data(left),
                };
            }
            Chunk::DataEnd => match rest {
                [b'\n', ..] => {
                    read += 1;
                    *state = Chunk::Size;
                }
                [b'\r', b'\n', ..] => {
                    read += 2;
                    *state = Chunk::Size;
                }
                [] | [b'\r'] => break,
                _ => return Err("no line end after a chunk's data"),
            },
            Chunk::Size | Chunk::Trailer => {
                let Some(end) = rest.iter().position(|&b| b == b'\n') else {
                    if rest.len() > LINE_MAX {
                        return Err("a chunk-size or trailer line over 4 KiB");
                    }
                    break;
                };
                let line = rest[..end].strip_suffix(b"\r").unwrap_or(&rest[..end]);
                read += end + 1;
                if *state == Chunk::Trailer {
                    if line.is_empty() {
                        return Ok((written, read, true));
                    }
                    continue;
                }
                *state = match chunk_size(line)? {
                    0 => Chunk::Trailer,
                    n => Chunk::Data(n),
                };
            }
        }
    }
    Ok((written, read, false))
}

/// The size a chunk-size line gives (hex digits, then perhaps extensions).
fn chunk_size(line: &[u8]) -> Result<u64, &'static str> {
    let digits = line
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(line.len());
    if digits == 0 || digits > 16 {
        return Err("an invalid chunk size");
    }
    match line[digits..].iter().find(|b| !matches!(b, b' ' | b'\t')) {
        None | Some(b';') => {}
        Some(_) => return Err("an invalid chunk size"),
    }
    let hex = std::str::from_utf8(&line[..digits]).map_err(|_| "an invalid chunk size")?;
    u64::from_str_radix(hex, 16).map_err(|_| "an invalid chunk size")
}

/// A response body read from its connection by whoever polls it; the connection goes
/// back for the next log read once the body was read to the end.
struct Reading {
    /// `None` once the body ended or failed.
    conn: Option<Conn>,
    /// What was read and not yet decoded; no memory while the socket has nothing more.
    buf: BytesMut,
    decoder: Decoder,
    reusable: bool,
    /// How much the next read asks for: doubled while reads fill it (up to
    /// `READ_BUFFER_MAX`), halved while they leave most of it.
    next_read: usize,
    logs: Option<Arc<Logs>>,
}

impl Reading {
    fn end(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.reusable
            && self.buf.is_empty()
            && let Some(logs) = &self.logs
        {
            logs.keep(conn);
        }
        self.buf = BytesMut::new();
    }

    fn fail(&mut self, e: BoxError) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.conn = None;
        self.buf = BytesMut::new();
        self.decoder = Decoder::Done;
        Poll::Ready(Some(Err(e)))
    }
}

impl hyper::body::Body for Reading {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if this.decoder == Decoder::Done {
                this.end();
                return Poll::Ready(None);
            }
            let (out, used) = match this.decoder.decode(&mut this.buf) {
                Ok(d) => d,
                Err(why) => {
                    let e = format!("the server's response body is malformed: {why}");
                    return this.fail(e.into());
                }
            };
            let data = this.buf.split_to(out).freeze();
            this.buf.advance(used - out);
            if this.decoder == Decoder::Done {
                this.end();
            }
            if !data.is_empty() {
                return Poll::Ready(Some(Ok(Frame::data(data))));
            }
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            if this.buf.capacity() - this.buf.len() < this.next_read / 2 {
                this.buf.reserve(this.next_read);
            }
            let room = this.buf.capacity() - this.buf.len();
            match tokio_util::io::poll_read_buf(Pin::new(conn), cx, &mut this.buf) {
                Poll::Ready(Ok(0)) if this.decoder == Decoder::UntilClose => {
                    this.decoder = Decoder::Done;
                }
                Poll::Ready(Ok(0)) => {
                    return this.fail(closed("before the response ended").into());
                }
                Poll::Ready(Ok(n)) => {
                    if n == room {
                        this.next_read = (this.next_read * 2).min(READ_BUFFER_MAX);
                    } else if n < room / 4 {
                        this.next_read = (this.next_read / 2).max(READ_BUFFER_MIN);
                    }
                }
                Poll::Ready(Err(e)) => return this.fail(e.into()),
                Poll::Pending => {
                    // Nothing more for now: a waiting stream keeps no buffer.
                    if this.buf.is_empty() {
                        this.buf = BytesMut::new();
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` fed in pieces of `step` bytes, as reads would give it.
    fn decode_in_pieces(mut decoder: Decoder, wire: &[u8], step: usize) -> (Vec<u8>, Decoder) {
        let mut buf = Vec::new();
        let mut body = Vec::new();
        for piece in wire.chunks(step) {
            buf.extend_from_slice(piece);
            let (out, used) = decoder.decode(&mut buf).expect("decodes");
            body.extend_from_slice(&buf[..out]);
            buf.drain(..used);
        }
        (body, decoder)
    }

    #[test]
    fn chunked_bodies_decode_however_the_reads_split_them() {
        let wire = b"6\r\nline 1\r\n7;name=value\r\n\nline 2\r\nA \r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n";
        for step in 1..=wire.len() {
            let (body, decoder) = decode_in_pieces(Decoder::Chunked(Chunk::Size), wire, step);
            assert_eq!(body, b"line 1\nline 20123456789", "pieces of {step}");
            assert_eq!(decoder, Decoder::Done, "pieces of {step}");
        }
    }

    #[test]
    fn chunks_read_together_leave_as_one_piece() {
        let mut buf = b"2\r\na\n\r\n2\r\nb\n\r\n1\r\n".to_vec();
        let mut decoder = Decoder::Chunked(Chunk::Size);
        let (out, used) = decoder.decode(&mut buf).unwrap();
        assert_eq!(&buf[..out], b"a\nb\n");
        assert_eq!(used, buf.len());
        assert_eq!(decoder, Decoder::Chunked(Chunk::Data(1)));
    }

    #[test]
    fn a_sized_body_ends_at_its_length() {
        let (body, decoder) = decode_in_pieces(Decoder::Length(5), b"hello", 2);
        assert_eq!(body, b"hello");
        assert_eq!(decoder, Decoder::Done);
        let mut buf = b"abc".to_vec();
        let mut decoder = Decoder::Length(2);
        assert_eq!(decoder.decode(&mut buf), Ok((2, 2)));
        assert_eq!(decoder, Decoder::Done);
    }

    #[test]
    fn malformed_chunks_are_refused() {
        for wire in [
            &b"x\r\n"[..],
            b"\r\n",
            b"12345678901234567\r\n",
            b"5 x\r\n",
            b"1\r\naXY",
        ] {
            let mut buf = wire.to_vec();
            let r = Decoder::Chunked(Chunk::Size).decode(&mut buf);
            assert!(r.is_err(), "{:?} was taken", String::from_utf8_lossy(wire));
        }
        let mut long = vec![b'1'; LINE_MAX + 10];
        assert!(Decoder::Chunked(Chunk::Size).decode(&mut long).is_err());
    }

    fn head(text: &str) -> http::response::Parts {
        let (head, len) = match parse_head(text.as_bytes()) {
            Ok(Some(h)) => h,
            _ => panic!("no head in {text:?}"),
        };
        assert_eq!(len, text.len());
        head
    }

    #[test]
    fn framing_follows_the_response_head() {
        let f = |text: &str| match framing(&head(text)) {
            Ok(f) => f,
            Err(_) => panic!("no framing for {text:?}"),
        };
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
            (Decoder::Chunked(Chunk::Size), true)
        );
        assert_eq!(
            f("HTTP/1.1 404 Not Found\r\nContent-Length: 12\r\n\r\n"),
            (Decoder::Length(12), true)
        );
        assert_eq!(
            f("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n"),
            (Decoder::Length(3), false)
        );
        assert_eq!(f("HTTP/1.1 200 OK\r\n\r\n"), (Decoder::UntilClose, false));
        assert_eq!(
            f("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n"),
            (Decoder::Length(3), false)
        );
        assert_eq!(
            f("HTTP/1.1 204 No Content\r\n\r\n"),
            (Decoder::Length(0), true)
        );
        assert!(
            framing(&head(
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n"
            ))
            .is_err()
        );
        assert!(parse_head(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
        assert!(matches!(
            parse_head(b"HTTP/1.1 200 OK\r\nContent-"),
            Ok(None)
        ));
    }

    /// A server on 127.0.0.1 that answers the requests of each connection it accepts
    /// with the next of `answers` (a list per connection), then closes the connection
    /// and says so on the channel returned.
    async fn server(
        answers: Vec<Vec<&'static str>>,
    ) -> (Client, tokio::sync::mpsc::UnboundedReceiver<()>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (closed, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            for conn in answers {
                let (mut sock, _) = listener.accept().await.unwrap();
                for answer in conn {
                    let mut head = Vec::new();
                    while !head.ends_with(b"\r\n\r\n") {
                        let mut b = [0u8; 1];
                        if sock.read(&mut b).await.unwrap() == 0 {
                            return;
                        }
                        head.push(b[0]);
                    }
                    sock.write_all(answer.as_bytes()).await.unwrap();
                }
                drop(sock);
                let _ = closed.send(());
            }
        });
        let dial: Dial = Arc::new(move |_| {
            Box::pin(async move {
                let sock = tokio::net::TcpStream::connect(addr).await?;
                Ok(Box::new(TokioIo::new(sock)) as Box<dyn Io>)
            })
        });
        let logs = Logs::new(dial);
        (Client { logs, addr }, rx)
    }

    /// Log reads from the test's server.
    struct Client {
        logs: Arc<Logs>,
        addr: std::net::SocketAddr,
    }

    impl Client {
        /// A log read: its status, and its body or what broke it, in words.
        async fn get(&self) -> Result<(StatusCode, Result<Bytes, String>), BoxError> {
            let url = format!("http://{}/api/v1/namespaces/a/pods/p/log", self.addr);
            let req = Request::get(url).body(Body::empty()).unwrap();
            let resp = self.logs.send(req).await?;
            let status = resp.status();
            let body = resp.into_body().collect().await;
            let body = body
                .map(|b| b.to_bytes())
                .map_err(|e| crate::kube::failure::describe(e.as_ref()));
            Ok((status, body))
        }
    }

    #[tokio::test]
    async fn a_kept_connection_the_server_closed_is_replaced() {
        let (logs, mut closed) = server(vec![
            vec!["HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nline 1"],
            vec!["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nline 2\r\n0\r\n\r\n"],
        ])
        .await;
        let (status, body) = logs.get().await.unwrap();
        assert_eq!(
            (status, body.unwrap()),
            (StatusCode::OK, Bytes::from("line 1"))
        );
        assert_eq!(
            logs.logs.idle.lock().unwrap().len(),
            1,
            "read to its end: kept"
        );
        // The server closes the kept connection while it is idle: the GET goes again,
        // on a new one.
        closed.recv().await.unwrap();
        let (status, body) = logs.get().await.unwrap();
        assert_eq!(
            (status, body.unwrap()),
            (StatusCode::OK, Bytes::from("line 2"))
        );
    }

    #[tokio::test]
    async fn a_body_cut_short_says_the_server_closed_the_connection() {
        let (logs, _closed) = server(vec![vec![
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nline 1\r\n6\r\nli",
        ]])
        .await;
        let (status, body) = logs.get().await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body.unwrap_err(), "the server closed the connection");
        assert!(
            logs.logs.idle.lock().unwrap().is_empty(),
            "a broken one is not kept"
        );
    }

    #[tokio::test]
    async fn a_connection_the_server_closes_after_answering_is_not_kept() {
        let (logs, _closed) = server(vec![vec![
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 9\r\n\r\nnot found",
        ]])
        .await;
        let (status, body) = logs.get().await.unwrap();
        assert_eq!(
            (status, body.unwrap()),
            (StatusCode::NOT_FOUND, Bytes::from("not found"))
        );
        assert!(logs.logs.idle.lock().unwrap().is_empty());
    }

    #[test]
    fn requests_go_in_origin_form_with_a_host() {
        let req = Request::get("https://10.0.0.1:6443/api/v1/namespaces/a/pods/p/log?follow=true")
            .header("authorization", "Bearer t")
            .body(())
            .unwrap();
        let wire = encode_request(&req.into_parts().0, b"").unwrap();
        assert_eq!(
            String::from_utf8(wire).unwrap(),
            "GET /api/v1/namespaces/a/pods/p/log?follow=true HTTP/1.1\r\nhost: 10.0.0.1:6443\r\nauthorization: Bearer t\r\n\r\n"
        );
    }
}
