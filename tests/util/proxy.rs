//! Small proxies for the tests, on 127.0.0.1: an HTTP `CONNECT` proxy (optionally asking
//! for Basic credentials, optionally behind TLS) and a SOCKS5 proxy (no authentication). Each counts the tunnels
//! it opened, so a test can prove that ktail's connections went through it. Like a
//! bastion that knows the cluster's name, both send every tunnel to 127.0.0.1 at the
//! requested port, whatever host was asked for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The most a CONNECT request head may take.
const HEAD_MAX: usize = 8192;

pub struct TestProxy {
    pub addr: SocketAddr,
    scheme: &'static str,
    tunnels: Arc<AtomicUsize>,
    /// Hosts the tunnels were asked for, in order.
    hosts: Arc<std::sync::Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestProxy {
    /// An HTTP CONNECT proxy; with `credentials` ("user:pass") it answers 407 to requests
    /// without them.
    pub async fn http(credentials: Option<&str>) -> TestProxy {
        use base64::Engine;
        let expected = credentials.map(|c| base64::engine::general_purpose::STANDARD.encode(c));
        TestProxy::start("http", move |stream, tunnels, hosts| {
            let expected = expected.clone();
            async move { connect_tunnel(stream, expected, tunnels, hosts).await }
        })
        .await
    }

    /// An HTTPS CONNECT proxy: TLS with `cert_pem`/`key_pem`, then as [`TestProxy::http`].
    pub async fn https(cert_pem: &str, key_pem: &str) -> TestProxy {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let mut proxy = TestProxy::start("https", move |stream, tunnels, hosts| {
            let acceptor = acceptor.clone();
            async move {
                let tls = acceptor.accept(stream).await?;
                connect_tunnel(tls, None, tunnels, hosts).await
            }
        })
        .await;
        proxy.scheme = "https";
        proxy
    }

    /// A SOCKS5 proxy without authentication.
    pub async fn socks5() -> TestProxy {
        TestProxy::start("socks5", |stream, tunnels, hosts| async move {
            socks_tunnel(stream, tunnels, hosts).await
        })
        .await
    }

    async fn start<F, Fut>(scheme: &'static str, serve: F) -> TestProxy
    where
        F: Fn(TcpStream, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<String>>>) -> Fut
            + Send
            + 'static,
        Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tunnels = Arc::new(AtomicUsize::new(0));
        let hosts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (t, h) = (tunnels.clone(), hosts.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, t.clone(), h.clone()));
            }
        });
        TestProxy {
            addr,
            scheme,
            tunnels,
            hosts,
            task,
        }
    }

    /// `http://127.0.0.1:PORT` or `socks5://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Tunnels opened so far.
    pub fn tunnels(&self) -> usize {
        self.tunnels.load(Ordering::SeqCst)
    }

    /// The hosts tunnels were asked for.
    pub fn hosts(&self) -> Vec<String> {
        self.hosts.lock().unwrap().clone()
    }
}

async fn connect_tunnel(
    mut client: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    expected_auth: Option<String>,
    tunnels: Arc<AtomicUsize>,
    hosts: Arc<std::sync::Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= HEAD_MAX || client.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.lines();
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ');
    let (Some("CONNECT"), Some(target)) = (parts.next(), parts.next()) else {
        client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            .await?;
        return Ok(());
    };
    if let Some(want) = expected_auth {
        let given = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("proxy-authorization"))
            .and_then(|(_, v)| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .map(|(_, creds)| creds.trim().to_string());
        if given.as_deref() != Some(want.as_str()) {
            client
                .write_all(b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\n\r\n")
                .await?;
            return Ok(());
        }
    }
    let (host, port) = target.rsplit_once(':').unwrap_or((target, "443"));
    let Ok(port) = port.parse::<u16>() else {
        client
            .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await?;
        return Ok(());
    };
    let mut server = match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(s) => s,
        Err(_) => {
            client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
                .await?;
            return Ok(());
        }
    };
    hosts.lock().unwrap().push(host.to_string());
    tunnels.fetch_add(1, Ordering::SeqCst);
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}

async fn socks_tunnel(
    mut client: TcpStream,
    tunnels: Arc<AtomicUsize>,
    hosts: Arc<std::sync::Mutex<Vec<String>>>,
) -> std::io::Result<()> {
    // Greeting: version 5, the methods offered; "no authentication" is chosen.
    let mut hdr = [0u8; 2];
    client.read_exact(&mut hdr).await?;
    let mut methods = vec![0u8; hdr[1] as usize];
    client.read_exact(&mut methods).await?;
    if hdr[0] != 5 || !methods.contains(&0) {
        client.write_all(&[5, 0xff]).await?;
        return Ok(());
    }
    client.write_all(&[5, 0]).await?;
    // Request: version, CONNECT, reserved, address type, address, port.
    let mut req = [0u8; 4];
    client.read_exact(&mut req).await?;
    let host = match req[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).await?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len).await?;
            let mut name = vec![0u8; len[0] as usize];
            client.read_exact(&mut name).await?;
            String::from_utf8_lossy(&name).into_owned()
        }
        4 => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip).await?;
            std::net::Ipv6Addr::from(ip).to_string()
        }
        _ => return Ok(()),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).await?;
    let port = u16::from_be_bytes(port);
    if req[1] != 1 {
        client.write_all(&[5, 7, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
        return Ok(());
    }
    let mut server = match TcpStream::connect(("127.0.0.1", port)).await {
        Ok(s) => s,
        Err(_) => {
            // Connection refused.
            client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await?;
            return Ok(());
        }
    };
    hosts.lock().unwrap().push(host);
    tunnels.fetch_add(1, Ordering::SeqCst);
    client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}
