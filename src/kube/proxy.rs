//! Proxies as kubectl (client-go) uses them, and the connector that dials through one.
//!
//! The cluster's `proxy-url` in the kubeconfig wins and is used for every connection
//! (`http://`, `https://` or `socks5://`). Without it, the environment applies with Go's
//! `ProxyFromEnvironment` rules: `HTTPS_PROXY` for https servers, `HTTP_PROXY` for http
//! ones (upper case before lower case), `NO_PROXY` exceptions by host, domain suffix,
//! IP, CIDR and port, `*` for none, and never a proxy for `localhost` or a loopback
//! address (golang/go#33695). Credentials in the proxy URL are sent as
//! `Proxy-Authorization: Basic` (SOCKS5: username/password). HTTP and HTTPS proxies are
//! asked for a `CONNECT` tunnel for either scheme of server.
//!
//! Which proxy applies is a pure function of the URLs and an [`Env`]; a failure of the
//! proxy is a [`ProxyError`] naming it (without its credentials), which `client` turns
//! into the run's one line.

use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::proxy::{SocksV5, Tunnel};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Service, ServiceExt};

use crate::kube::failure::ProxyError;

/// The proxy variables of the environment, as the process had them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Env {
    pub(crate) https_proxy: Option<String>,
    pub(crate) http_proxy: Option<String>,
    pub(crate) no_proxy: Option<String>,
}

impl Env {
    /// This process's variables: each upper-case name before its lower-case one, empty
    /// values ignored (Go's `httpproxy.FromEnvironment`).
    pub(crate) fn from_process() -> Env {
        let get = |upper: &str, lower: &str| {
            [upper, lower]
                .iter()
                .filter_map(|n| std::env::var(n).ok())
                .find(|v| !v.is_empty())
        };
        Env {
            https_proxy: get("HTTPS_PROXY", "https_proxy"),
            http_proxy: get("HTTP_PROXY", "http_proxy"),
            no_proxy: get("NO_PROXY", "no_proxy"),
        }
    }
}

/// Where a proxy setting came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Kubeconfig,
    HttpsProxy,
    HttpProxy,
}

impl Origin {
    fn name(self) -> &'static str {
        match self {
            Origin::Kubeconfig => "the kubeconfig's proxy-url",
            Origin::HttpsProxy => "HTTPS_PROXY",
            Origin::HttpProxy => "HTTP_PROXY",
        }
    }
}

/// The proxy a cluster's connections go through.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Proxy {
    /// Scheme, host and port: no credentials.
    pub(crate) url: Uri,
    /// User and password from the URL, percent-decoded.
    pub(crate) credentials: Option<(String, String)>,
    pub(crate) origin: Origin,
}

impl Proxy {
    /// The proxy as messages name it: its URL without credentials, and where it was set.
    pub(crate) fn describe(&self) -> String {
        format!(
            "the proxy {} (from {})",
            self.url.to_string().trim_end_matches('/'),
            self.origin.name()
        )
    }
}

/// A proxy setting that is not a URL ktail can use.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadProxy(pub(crate) String);

/// The proxy for `config`'s server. kube's loader has already put the kubeconfig's
/// `proxy-url`, or else `HTTPS_PROXY`, into `proxy_url`; only the former wins over
/// `NO_PROXY` and the loopback rule, so a value equal to the environment's counts as
/// the environment's.
pub(crate) fn for_config(config: &kube::Config) -> Result<Option<Proxy>, kube::Error> {
    let env = Env::from_process();
    let from_env = env
        .https_proxy
        .as_deref()
        .and_then(|v| v.parse::<Uri>().ok());
    let kubeconfig_proxy = config
        .proxy_url
        .as_ref()
        .filter(|u| Some(*u) != from_env.as_ref())
        .map(|u| u.to_string());
    choose(&config.cluster_url, kubeconfig_proxy.as_deref(), &env)
        .map_err(|e| kube::Error::Service(Box::new(e)))
}

/// The proxy for connections to `server`: the kubeconfig's `proxy-url` when set, else
/// the environment's (client-go's rules, see the module doc); `None` for a direct
/// connection.
pub(crate) fn choose(
    server: &Uri,
    proxy_url: Option<&str>,
    env: &Env,
) -> Result<Option<Proxy>, BadProxy> {
    if let Some(url) = proxy_url.filter(|u| !u.is_empty()) {
        return parse(url, Origin::Kubeconfig).map(Some);
    }
    let https = server.scheme_str() == Some("https");
    let (value, origin) = if https {
        (env.https_proxy.as_deref(), Origin::HttpsProxy)
    } else {
        (env.http_proxy.as_deref(), Origin::HttpProxy)
    };
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let host = server.host().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = server.port_u16().unwrap_or(if https { 443 } else { 80 });
    if !use_proxy(host, port, env.no_proxy.as_deref().unwrap_or_default()) {
        return Ok(None);
    }
    parse(value, origin).map(Some)
}

/// Go's `useProxy`: false for localhost, loopback addresses and `NO_PROXY` matches.
fn use_proxy(host: &str, port: u16, no_proxy: &str) -> bool {
    let host = host.to_ascii_lowercase();
    if host == "localhost" {
        return false;
    }
    let ip = host.parse::<IpAddr>().ok();
    if ip.is_some_and(|ip| ip.is_loopback()) {
        return false;
    }
    for entry in no_proxy.split(',') {
        let entry = entry.trim().to_ascii_lowercase();
        if entry.is_empty() {
            continue;
        }
        if entry == "*" {
            return false;
        }
        if let Ok(net) = entry.parse::<ipnet::IpNet>() {
            if ip.is_some_and(|ip| net.contains(&ip)) {
                return false;
            }
            continue;
        }
        let (phost, pport) = split_port(&entry);
        if pport.is_some_and(|p| p != port) {
            continue;
        }
        if let Ok(pip) = phost.parse::<IpAddr>() {
            if ip == Some(pip) {
                return false;
            }
            continue;
        }
        // "*.example.com" and ".example.com" match subdomains only; "example.com" also
        // the host itself.
        let phost = phost.strip_prefix('*').unwrap_or(phost);
        let matched = match phost.strip_prefix('.') {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == phost || host.ends_with(&format!(".{phost}")),
        };
        if matched {
            return false;
        }
    }
    true
}

/// `host:port` → (host, port); IPv6 in brackets; anything else has no port.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((h, tail)) => (h, tail.strip_prefix(':').and_then(|p| p.parse().ok())),
            None => (entry, None),
        };
    }
    match entry.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

/// A proxy URL: `http`, `https` or `socks5`; without a scheme, `http://` (as Go reads
/// the environment).
fn parse(value: &str, origin: Origin) -> Result<Proxy, BadProxy> {
    let with_scheme = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let bad = |why: &str| {
        BadProxy(format!(
            "{} '{}' {why}",
            origin.name(),
            redact(&with_scheme)
        ))
    };
    let uri: Uri = with_scheme.parse().map_err(|_| bad("is not a URL"))?;
    let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https" | "socks5") {
        return Err(bad(
            "has a scheme ktail cannot use: use http://, https:// or socks5://",
        ));
    }
    let authority = uri.authority().ok_or_else(|| bad("names no host"))?;
    let (userinfo, hostport) = match authority.as_str().rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority.as_str()),
    };
    if hostport.is_empty() {
        return Err(bad("names no host"));
    }
    let port = uri.port_u16().unwrap_or(match scheme.as_str() {
        "https" => 443,
        "socks5" => 1080,
        _ => 80,
    });
    let host = uri.host().unwrap_or_default();
    let url: Uri = format!("{scheme}://{host}:{port}")
        .parse()
        .map_err(|_| bad("is not a URL"))?;
    let credentials = userinfo.map(|u| {
        let (user, pass) = u.split_once(':').unwrap_or((u, ""));
        (decode(user), decode(pass))
    });
    Ok(Proxy {
        url,
        credentials,
        origin,
    })
}

/// The URL with its password replaced, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***@{}", &url[..s + 3], &url[at + 1..]),
        _ => url.to_string(),
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Any connection ktail opens: a TCP stream, or one tunnelled through a proxy.
pub(crate) struct Conn(Box<dyn Io>);

trait Io: Read + Write + Connection + Unpin + Send {}
impl<T: Read + Write + Connection + Unpin + Send> Io for T {}

impl Conn {
    fn new(io: impl Read + Write + Connection + Unpin + Send + 'static) -> Conn {
        Conn(Box::new(io))
    }
}

impl Connection for Conn {
    fn connected(&self) -> Connected {
        self.0.connected()
    }
}

impl Read for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl Write for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }
}

/// The connector under TLS: straight to the server, or through `proxy`.
pub(crate) type Dial = BoxCloneSyncService<Uri, Conn, BoxError>;

/// A connector that reaches the server through `proxy` (or directly); `tls_to_proxy`
/// wraps a connector in TLS for an `https://` proxy (client-go verifies it with the
/// cluster's TLS settings, as kube-rs does).
pub(crate) fn dial<T, S>(
    http: HttpConnector,
    proxy: Option<&Proxy>,
    tls_to_proxy: impl FnOnce(HttpConnector) -> Result<T, kube::Error>,
) -> Result<Dial, kube::Error>
where
    T: Service<Uri, Response = S> + Clone + Send + Sync + 'static,
    T::Future: Send + 'static,
    T::Error: Into<BoxError>,
    S: Read + Write + Connection + Unpin + Send + 'static,
{
    let Some(proxy) = proxy else {
        return Ok(boxed(http.map_response(Conn::new).map_err(Into::into)));
    };
    let name = proxy.describe();
    let failed = move |e: BoxError| -> BoxError {
        Box::new(ProxyError {
            proxy: name.clone(),
            what: explain(e.as_ref()),
        })
    };
    Ok(match proxy.url.scheme_str() {
        Some("socks5") => {
            let mut socks = SocksV5::new(proxy.url.clone(), http);
            if let Some((user, pass)) = &proxy.credentials {
                socks = socks.with_auth(user.clone(), pass.clone());
            }
            boxed(
                socks
                    .map_response(Conn::new)
                    .map_err(move |e| failed(Box::new(e))),
            )
        }
        Some("https") => {
            let tunnel = with_auth(Tunnel::new(proxy.url.clone(), tls_to_proxy(http)?), proxy);
            boxed(
                tunnel
                    .map_response(Conn::new)
                    .map_err(move |e| failed(Box::new(e))),
            )
        }
        _ => {
            let tunnel = with_auth(Tunnel::new(proxy.url.clone(), http), proxy);
            boxed(
                tunnel
                    .map_response(Conn::new)
                    .map_err(move |e| failed(Box::new(e))),
            )
        }
    })
}

fn boxed<S>(s: S) -> Dial
where
    S: Service<Uri, Response = Conn, Error = BoxError> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
{
    BoxCloneSyncService::new(s)
}

fn with_auth<C>(tunnel: Tunnel<C>, proxy: &Proxy) -> Tunnel<C> {
    use base64::Engine;
    let Some((user, pass)) = &proxy.credentials else {
        return tunnel;
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    match http::HeaderValue::from_str(&format!("Basic {encoded}")) {
        Ok(v) => tunnel.with_auth(v),
        Err(_) => tunnel,
    }
}

/// What a proxy did, in words, from the connector's error (hyper-util does not export
/// its tunnel error type: its text is matched).
fn explain(e: &(dyn std::error::Error + 'static)) -> String {
    match e.to_string().strip_prefix("tunnel error: ") {
        Some("proxy authorization required") => {
            return "asks for credentials (407 Proxy Authentication Required): put them in the proxy URL".into();
        }
        Some("unsuccessful") => return "refused to open a tunnel to the API server".into(),
        Some("unexpected end of file") => {
            return "closed the connection before opening a tunnel".into();
        }
        _ => {}
    }
    // The connection to the proxy itself failed.
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if s.downcast_ref::<std::io::Error>().is_some() {
            return unreachable(s);
        }
        src = s.source();
    }
    format!(
        "refused to connect to the API server ({})",
        crate::kube::failure::root_cause(e)
    )
}

/// The proxy itself could not be reached.
fn unreachable(e: &(dyn std::error::Error + 'static)) -> String {
    format!("cannot be reached: {}", crate::kube::failure::describe(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(https: Option<&str>, http: Option<&str>, no: Option<&str>) -> Env {
        Env {
            https_proxy: https.map(String::from),
            http_proxy: http.map(String::from),
            no_proxy: no.map(String::from),
        }
    }

    fn chosen(server: &str, proxy_url: Option<&str>, e: &Env) -> Option<String> {
        choose(&server.parse().unwrap(), proxy_url, e)
            .unwrap()
            .map(|p| p.url.to_string())
    }

    #[test]
    fn kubeconfig_proxy_wins_over_the_environment_and_no_proxy() {
        let e = env(Some("http://env:3128"), None, Some("*"));
        assert_eq!(
            chosen("https://127.0.0.1:6443", Some("socks5://bastion:1080"), &e).as_deref(),
            Some("socks5://bastion:1080/")
        );
    }

    #[test]
    fn environment_by_scheme_never_for_loopback() {
        let e = env(Some("proxy:3128"), Some("http://plain:80"), None);
        assert_eq!(
            chosen("https://api.example.com", None, &e).as_deref(),
            Some("http://proxy:3128/")
        );
        assert_eq!(
            chosen("http://api.example.com", None, &e).as_deref(),
            Some("http://plain:80/")
        );
        for local in [
            "https://localhost:6443",
            "https://127.0.0.1:6443",
            "https://[::1]:6443",
        ] {
            assert_eq!(chosen(local, None, &e), None, "{local}");
        }
        assert_eq!(chosen("https://x", None, &Env::default()), None);
    }

    #[test]
    fn no_proxy_rules_of_go() {
        let cases = [
            ("example.com", "https://example.com", false),
            ("example.com", "https://api.example.com", false),
            ("example.com", "https://notexample.com", true),
            (".example.com", "https://example.com", true),
            (".example.com", "https://api.example.com", false),
            ("*.example.com", "https://api.example.com", false),
            ("*.example.com", "https://example.com", true),
            ("example.com:6443", "https://example.com:6443", false),
            ("example.com:6443", "https://example.com", true),
            ("example.com:443", "https://example.com", false),
            ("10.0.0.0/8", "https://10.1.2.3:6443", false),
            ("10.0.0.0/8", "https://11.1.2.3:6443", true),
            ("192.168.1.1", "https://192.168.1.1:6443", false),
            ("other.org, EXAMPLE.com", "https://api.example.com", false),
            ("*", "https://anything", false),
            ("", "https://anything", true),
        ];
        for (no, server, proxied) in cases {
            let e = env(Some("http://p:1"), None, Some(no));
            assert_eq!(
                chosen(server, None, &e).is_some(),
                proxied,
                "NO_PROXY={no:?} server={server}"
            );
        }
    }

    #[test]
    fn credentials_are_decoded_and_never_shown() {
        let p = choose(
            &"https://x".parse().unwrap(),
            Some("http://user:p%40ss@proxy:3128"),
            &Env::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(p.credentials, Some(("user".into(), "p@ss".into())));
        assert_eq!(
            p.describe(),
            "the proxy http://proxy:3128 (from the kubeconfig's proxy-url)"
        );
        let err = choose(
            &"https://x".parse().unwrap(),
            Some("ftp://user:secret@proxy"),
            &Env::default(),
        )
        .unwrap_err();
        assert!(!err.0.contains("secret"), "{}", err.0);
        assert!(
            err.0.contains("use http://, https:// or socks5://"),
            "{}",
            err.0
        );
    }
}
