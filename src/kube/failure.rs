//! Connection failures in words a user can act on: what happened (refused, reset,
//! closed, timed out, a name that does not resolve, a TLS failure, a certificate not
//! trusted) without the library wrappers, error chains, OS error numbers or URLs around
//! it. `client::describe_error`, `proxy` and the tails build their messages from it; it
//! must not decide exit codes or what ktail does next. It holds the errors that name
//! what failed ([`Unreachable`], [`ProxyError`]); `client` knows the others.

use std::error::Error as StdError;

use tower::BoxError;

/// A proxy failed: which one, and what it did, in words (made by `proxy`).
#[derive(Debug, thiserror::Error)]
#[error("{proxy} {what}")]
pub(crate) struct ProxyError {
    pub(crate) proxy: String,
    pub(crate) what: String,
}

/// A request that got no answer from the API server: which server, and why in words.
#[derive(Debug, thiserror::Error)]
#[error("cannot reach the API server at {server}: {why}")]
pub(crate) struct Unreachable {
    pub(crate) server: String,
    pub(crate) why: String,
}

/// Wraps the transport's errors of requests to `server` into [`Unreachable`], so that
/// every message about them, at start or mid-run, names the server.
pub(crate) fn naming<E: Into<BoxError>>(
    server: &str,
) -> impl Fn(E) -> BoxError + Clone + Send + Sync + use<E> {
    let server = server.trim_end_matches('/').to_string();
    move |e| {
        let e: BoxError = e.into();
        Box::new(Unreachable {
            server: server.clone(),
            why: describe(e.as_ref()),
        })
    }
}

/// The [`Unreachable`] in `e`'s chain, if the transport failed.
pub(crate) fn unreachable_in<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a Unreachable> {
    let mut src = Some(e);
    while let Some(s) = src {
        if let Some(u) = s.downcast_ref::<Unreachable>() {
            return Some(u);
        }
        src = s.source();
    }
    None
}

/// What went wrong with a connection, in words, from anywhere in `e`'s chain.
pub(crate) fn describe(e: &(dyn StdError + 'static)) -> String {
    let mut chain: Vec<&(dyn StdError + 'static)> = vec![e];
    while let Some(s) = cause(chain[chain.len() - 1]) {
        chain.push(s);
    }
    // A proxy's failure already says which proxy and what it did.
    if let Some(p) = chain.iter().find_map(|e| e.downcast_ref::<ProxyError>()) {
        return p.to_string();
    }
    let texts: Vec<String> = chain.iter().map(|e| e.to_string()).collect();
    let any = |needle: &str| texts.iter().any(|t| t.contains(needle));
    if let Some(why) = tls_failure(&texts) {
        return why;
    }
    if any("dns error") || any("failed to lookup address") {
        return "its host name does not resolve (DNS)".into();
    }
    for e in &chain {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(why) = io_failure(io)
        {
            return why;
        }
    }
    // The same kinds, when a wrapper hides the I/O error's kind behind its text.
    if any("Connection refused") {
        return "the connection was refused (nothing listens there)".into();
    }
    if any("Connection reset") {
        return "the connection was reset".into();
    }
    if any("Broken pipe") || any("broken pipe") {
        return "the connection was closed".into();
    }
    // HTTP/2 (h2's texts): a stream reset by the server, a connection going away.
    if any("stream error received") {
        return "the server reset the stream".into();
    }
    if any("connection error received") || any("go away") {
        return "the server closed the connection (GOAWAY)".into();
    }
    if any("close_notify")
        || any("connection closed before message completed")
        || any("IncompleteMessage")
    {
        return "the server closed the connection".into();
    }
    if any("timed out") || any("deadline has elapsed") {
        return "the connection timed out".into();
    }
    root_cause(e)
}

/// The error `e` wraps. An I/O error that wraps another gives that one's source as its
/// own, skipping the wrapped error and its kind (a response body's error reaches a tail
/// inside one).
fn cause<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(io) = e.downcast_ref::<std::io::Error>()
        && let Some(inner) = io.get_ref()
    {
        return Some(inner);
    }
    e.source()
}

/// An I/O failure in words, when its kind says enough.
fn io_failure(e: &std::io::Error) -> Option<String> {
    use std::io::ErrorKind::*;
    Some(
        match e.kind() {
            ConnectionRefused => "the connection was refused (nothing listens there)",
            ConnectionReset => "the connection was reset",
            ConnectionAborted | BrokenPipe => "the connection was closed",
            UnexpectedEof => "the server closed the connection",
            TimedOut => "the connection timed out",
            HostUnreachable | NetworkUnreachable => "the host cannot be reached (no route)",
            _ => return None,
        }
        .to_string(),
    )
}

/// rustls's verdicts, as the texts of its errors say them (its `Debug` names or its
/// `Display` words, depending on the error).
fn tls_failure(texts: &[String]) -> Option<String> {
    let t = texts
        .iter()
        .find(|t| t.contains("invalid peer certificate") || t.contains("received fatal alert"))?;
    let has = |words: &[&str]| {
        let lower = t.to_ascii_lowercase().replace([' ', '_'], "");
        words.iter().any(|w| lower.contains(w))
    };
    Some(if has(&["unknownissuer", "badsignature"]) {
        "TLS failure: the server's certificate is not trusted (signed by an unknown authority): set certificate-authority in the kubeconfig".into()
    } else if has(&["notvalidforname"]) {
        "TLS failure: the server's certificate is not valid for this host name: check the server URL or tls-server-name".into()
    } else if has(&["expired", "notvalidyet"]) {
        "TLS failure: the server's certificate has expired or is not valid yet".into()
    } else if has(&[
        "certificaterequired",
        "handshakefailure",
        "badcertificate",
        "unknownca",
    ]) {
        "TLS failure: the server refused the handshake (it may want a client certificate the kubeconfig does not give)".into()
    } else {
        format!("TLS failure: {}", first_line(t))
    })
}

/// The innermost error of `e`'s chain, as its own text says it, first line only and
/// without `(os error N)`.
pub(crate) fn root_cause(e: &(dyn StdError + 'static)) -> String {
    let mut last = e;
    while let Some(s) = last.source() {
        last = s;
    }
    let text = first_line(&last.to_string());
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("client error (Connect)")]
    struct Wrapper(#[source] std::io::Error);

    #[test]
    fn transport_errors_name_the_server() {
        let wrap = naming::<BoxError>("https://10.0.0.1:6443/");
        let e = wrap(Box::new(Wrapper(std::io::Error::from(
            std::io::ErrorKind::ConnectionReset,
        ))));
        assert_eq!(
            e.to_string(),
            "cannot reach the API server at https://10.0.0.1:6443: the connection was reset"
        );
        assert!(unreachable_in(e.as_ref()).is_some());
    }

    #[test]
    fn io_kinds_in_words_without_os_numbers() {
        let e = Wrapper(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(
            describe(&e),
            "the connection was refused (nothing listens there)"
        );
        let e = Wrapper(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        ));
        assert!(describe(&e).contains("not trusted"), "{}", describe(&e));
        let e = Wrapper(std::io::Error::other(
            "peer closed connection without sending TLS close_notify: https://docs.rs/rustls/latest/rustls/manual/_03_howto/index.html#unexpected-eof",
        ));
        assert_eq!(describe(&e), "the server closed the connection");
        let e = Wrapper(std::io::Error::other(
            "stream error received: unexpected internal error encountered",
        ));
        assert_eq!(describe(&e), "the server reset the stream");
        let e = Wrapper(std::io::Error::other("weird (os error 99)"));
        assert_eq!(describe(&e), "weird");
    }

    #[test]
    fn a_body_error_is_told_by_the_kind_it_wraps() {
        // A response body's error, as it reaches a tail: an I/O error around the body's.
        let body = |kind, text: &str| {
            let e: BoxError = Box::new(std::io::Error::new(kind, text.to_string()));
            std::io::Error::other(e)
        };
        let e = body(std::io::ErrorKind::UnexpectedEof, "ended early");
        assert_eq!(describe(&e), "the server closed the connection");
        let e = body(std::io::ErrorKind::ConnectionReset, "gone");
        assert_eq!(describe(&e), "the connection was reset");
    }
}
