//! Sockets and connections: the 127.0.0.1 listener with a deep accept backlog (benchmarks
//! open hundreds of streams at once), optional TLS, and HTTP/1.1 serving with keep-alive
//! or, when TLS negotiated `h2`, HTTP/2 with the configured stream limit. Every
//! connection's streams are counted (`connections`) and shut down gracefully on
//! `Sim::goaway`. Requests are handed to `api::handle`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};

use crate::connections::{Guarded, Protocol};
use crate::state::Shared;

pub(crate) fn bind(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(4096)
}

pub(crate) async fn accept_loop(shared: Arc<Shared>, mut listener: TcpListener) {
    let mut stop = shared.shutdown.subscribe();
    let mut down = shared.down.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = crate::state::stopped(&mut stop) => return,
            _ = crate::state::stopped(&mut down) => {
                // An outage: the port refuses connections until the server is back.
                let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
                drop(listener);
                tokio::select! {
                    _ = down.wait_for(|d| !*d) => {}
                    _ = crate::state::stopped(&mut stop) => return,
                }
                listener = match bind(port) {
                    Ok(l) => l,
                    Err(_) => return,
                };
                continue;
            }
        };
        let (stream, _) = match accepted {
            Ok(a) => a,
            Err(_) => {
                // Out of descriptors or similar: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let s = shared.clone();
        shared.spawn(async move {
            match &s.tls {
                Some(tls) => {
                    let acceptor = tls.acceptor.clone();
                    let hs = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
                    if let Ok(Ok(tls_stream)) = hs.await {
                        let session = tls_stream.get_ref().1;
                        // The verifier only lets through certificates signed by the CA.
                        let identity = session.peer_certificates().is_some();
                        let protocol = match session.alpn_protocol() {
                            Some(b"h2") => Protocol::Http2,
                            _ => Protocol::Http1,
                        };
                        serve(s, tls_stream, identity, protocol).await;
                    }
                }
                None => serve(s, stream, false, Protocol::Http1).await,
            }
        });
    }
}

/// Serves one connection; `client_cert`: its TLS handshake presented a verified client
/// certificate, which authenticates every request on it.
async fn serve<I>(shared: Arc<Shared>, io: I, client_cert: bool, protocol: Protocol)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut stop = shared.shutdown.subscribe();
    let mut down = shared.down.subscribe();
    let mut goaway = shared.goaway.subscribe();
    let conn = shared.connection(protocol);
    let s = shared.clone();
    let counted = conn.clone();
    let svc = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        let s = s.clone();
        let guard = counted.stream();
        if client_cert {
            req.extensions_mut().insert(crate::api::ClientCertificate);
        }
        async move {
            let resp = crate::api::handle(s, req).await;
            Ok::<_, std::convert::Infallible>(resp.map(|body| {
                Guarded {
                    body,
                    guard: Some(guard),
                }
                .boxed_unsync()
            }))
        }
    });
    let io = TokioIo::new(io);
    match protocol {
        Protocol::Http2 => {
            let served = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .max_concurrent_streams(shared.opts.http2_max_streams)
                .timer(TokioTimer::new())
                .serve_connection(io, svc);
            drive(
                served,
                |c| c.graceful_shutdown(),
                &mut goaway,
                [&mut stop, &mut down],
            )
            .await;
        }
        Protocol::Http1 => {
            let served = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .half_close(false)
                .max_buf_size(1 << 20)
                .serve_connection(io, svc);
            drive(
                served,
                |c| c.graceful_shutdown(),
                &mut goaway,
                [&mut stop, &mut down],
            )
            .await;
        }
    }
    conn.closed();
}

/// Runs a served connection to its end, the simulator's stop or an outage, shutting it down
/// gracefully (GOAWAY in HTTP/2) at every `Sim::goaway`.
async fn drive<F: std::future::Future>(
    served: F,
    shutdown: impl Fn(std::pin::Pin<&mut F>),
    goaway: &mut tokio::sync::watch::Receiver<u64>,
    [stop, down]: [&mut tokio::sync::watch::Receiver<bool>; 2],
) {
    let mut served = std::pin::pin!(served);
    loop {
        tokio::select! {
            _ = served.as_mut() => return,
            Ok(()) = goaway.changed() => shutdown(served.as_mut()),
            _ = crate::state::stopped(stop) => return,
            _ = crate::state::stopped(down) => return,
        }
    }
}
