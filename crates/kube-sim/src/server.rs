//! Sockets and connections: the 127.0.0.1 listener with a deep accept backlog (benchmarks
//! open hundreds of streams at once), optional TLS, and HTTP/1.1 serving with keep-alive.
//! Requests are handed to `api::handle`.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket};

use crate::state::Shared;

pub(crate) fn bind(port: u16) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
    socket.listen(4096)
}

pub(crate) async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut stop = shared.shutdown.subscribe();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = crate::state::stopped(&mut stop) => return,
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
                        // The verifier only lets through certificates signed by the CA.
                        let identity = tls_stream.get_ref().1.peer_certificates().is_some();
                        serve(s, tls_stream, identity).await;
                    }
                }
                None => serve(s, stream, false).await,
            }
        });
    }
}

/// Serves one connection; `client_cert`: its TLS handshake presented a verified client
/// certificate, which authenticates every request on it.
async fn serve<I>(shared: Arc<Shared>, io: I, client_cert: bool)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut stop = shared.shutdown.subscribe();
    let s = shared.clone();
    let svc = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        let s = s.clone();
        if client_cert {
            req.extensions_mut().insert(crate::api::ClientCertificate);
        }
        async move { Ok::<_, std::convert::Infallible>(crate::api::handle(s, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .half_close(false)
        .max_buf_size(1 << 20)
        .serve_connection(TokioIo::new(io), svc);
    tokio::select! {
        _ = conn => {}
        _ = crate::state::stopped(&mut stop) => {}
    }
}
