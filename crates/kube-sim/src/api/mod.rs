//! The request path of the API server: request counting and injected faults, bearer-token
//! and client-certificate authentication, a record of impersonation headers, namespace
//! authorization and routing to the handlers: `list` (list and get), `pod_log` (pod
//! logs), `write` (create, update, patch, delete, scale), `ctl` (the simulator's own
//! control endpoint) and the `watch` layer below. Every error is
//! the `Status` the real apiserver would send. Changes go through `state` into the
//! cluster's own functions; nothing here edits an object by hand.

mod ctl;
mod list;
mod pod_log;
mod write;

use std::sync::Arc;

use hyper::Request;
use hyper::body::Incoming;
use serde_json::json;

use crate::http::{ApiError, Resp, json_value};
use crate::query::{Filter, Params, parse_query};
use crate::state::Shared;
use crate::store::Resource;
use crate::table::{self, IncludeObject};

use list::{get, list};
use pod_log::logs;

/// Marks a request that came on a connection with a verified client certificate.
#[derive(Clone, Copy)]
pub(crate) struct ClientCertificate;

pub(crate) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Resp {
    shared
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    shared.saw_request(req.method(), req.uri());
    // `Sim::wait_for` conditions may count requests: wake them.
    shared.ticked.send_modify(|v| *v += 1);
    if let Some(resp) = apply_faults(&shared, req.method(), req.uri().path()).await {
        return resp;
    }
    if trace_enabled() {
        eprintln!("kube-sim: {} {}", req.method(), req.uri());
    }
    let path = req.uri().path().to_string();
    let anonymous = matches!(path.as_str(), "/version" | "/version/")
        || ["/healthz", "/livez", "/readyz"]
            .iter()
            .any(|p| path == *p || path.starts_with(&format!("{p}/")));
    let authorization = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let by_certificate = req.extensions().get::<ClientCertificate>().is_some();
    if !anonymous
        && !by_certificate
        && !shared
            .tokens()
            .iter()
            .any(|t| authenticated(t, authorization))
    {
        return ApiError::unauthorized().response();
    }
    if by_certificate {
        shared
            .client_cert_requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    if let Some(user) = req
        .headers()
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
    {
        let groups = req
            .headers()
            .get_all("impersonate-group")
            .iter()
            .filter_map(|v| v.to_str().ok().map(String::from))
            .collect();
        shared.saw_impersonation(user.to_string(), groups);
    }
    if path == ctl::PATH {
        return match ctl::handle(&shared, req).await {
            Ok(r) => r,
            Err(e) => e.response(),
        };
    }
    let params = Params(parse_query(req.uri().query()));
    if req.method() != hyper::Method::GET {
        return match write::handle(&shared, req, &path, &params).await {
            Ok(r) => r,
            Err(e) => e.response(),
        };
    }
    let accept = req
        .headers()
        .get(hyper::header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let table =
        table::wants_table(accept).then(|| IncludeObject::parse(params.get("includeObject")));
    match route(&shared, &path, &params, table) {
        Ok(r) => r,
        Err(e) => e.response(),
    }
}

/// `KUBE_SIM_TRACE=1` prints every request line to stderr, for debugging clients.
fn trace_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("KUBE_SIM_TRACE").is_some_and(|v| v != "0"))
}

/// Hold, stall and fail-next faults, applied before anything else looks at the request.
async fn apply_faults(shared: &Shared, method: &hyper::Method, path: &str) -> Option<Resp> {
    if let Some(hold) = shared.take_hold(&format!("{method} {path}")) {
        hold.arrived.send_replace(true);
        // The hold is ours too: its sender cannot go before this wait ends.
        let _ = hold.released.subscribe().wait_for(|r| *r).await;
    }
    let stall = shared.faults().stall_until;
    if let Some(until) = stall
        && until > tokio::time::Instant::now()
    {
        tokio::time::sleep_until(until).await;
    }
    let fail = {
        let mut f = shared.faults();
        match &mut f.fail {
            Some((left, code, retry)) if *left > 0 => {
                *left -= 1;
                let out = (*code, *retry);
                if *left == 0 {
                    f.fail = None;
                }
                Some(out)
            }
            _ => None,
        }
    };
    let (code, retry) = fail?;
    Some(match code {
        429 => {
            let secs = retry.unwrap_or(1);
            let e = ApiError::new(
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
            )
            .with_details(json!({ "retryAfterSeconds": secs }));
            let mut r = e.response();
            r.headers_mut().insert(
                hyper::header::RETRY_AFTER,
                hyper::header::HeaderValue::from(secs),
            );
            r
        }
        _ => ApiError::new(
            code,
            "InternalError",
            "Internal error occurred: injected fault",
        )
        .with_details(json!({ "causes": [{ "message": "injected fault" }] }))
        .response(),
    })
}

/// Bearer-token authentication: the scheme is case-insensitive, the token exact. Basic
/// auth is not accepted (kube-apiserver dropped it in 1.19); client certificates are
/// checked in the TLS handshake (`tls`).
fn authenticated(expected: &str, authorization: Option<&str>) -> bool {
    let Some(h) = authorization else {
        return false;
    };
    let mut parts = h.splitn(2, ' ');
    let scheme = parts.next().unwrap_or("");
    let token = parts.next().unwrap_or("").trim();
    scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && token == expected
}

/// `<resource> [“name”] is forbidden: User ... cannot <verb> resource ...` from the RBAC
/// authorizer, with details as apimachinery fills them.
pub(crate) fn forbidden(
    user: &str,
    verb: &str,
    r: Resource,
    sub: Option<&str>,
    name: Option<&str>,
    ns: Option<&str>,
) -> ApiError {
    let subject = match name {
        Some(n) => format!("{} \"{n}\"", r.qualified()),
        None => r.qualified(),
    };
    let resource = match sub {
        Some(s) => format!("{}/{s}", r.plural()),
        None => r.plural().to_string(),
    };
    let scope = match ns {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    ApiError::new(
        403,
        "Forbidden",
        format!(
            "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
            r.group()
        ),
    )
    .with_details(r.details(name))
}

fn route(
    shared: &Arc<Shared>,
    path: &str,
    params: &Params,
    table: Option<IncludeObject>,
) -> Result<Resp, ApiError> {
    let trimmed = path.trim_end_matches('/');
    match trimmed {
        "/version" => return Ok(json_value(200, &crate::discovery::version())),
        "/healthz" | "/livez" | "/readyz" => {
            return Ok(crate::http::stream(
                "text/plain; charset=utf-8",
                crate::http::full("ok"),
            ));
        }
        _ => {}
    }
    if trimmed.starts_with("/healthz/")
        || trimmed.starts_with("/livez/")
        || trimmed.starts_with("/readyz/")
    {
        return Ok(crate::http::stream(
            "text/plain; charset=utf-8",
            crate::http::full("ok"),
        ));
    }
    if let Some(doc) = crate::discovery::document(trimmed, &shared.addr.to_string()) {
        return Ok(json_value(200, &doc));
    }
    if let Some(doc) = crate::openapi::document(trimmed) {
        return Ok(json_value(200, &doc));
    }
    let segs: Vec<&str> = trimmed.split('/').skip(1).collect();
    let (group, rest) = api_path(&segs)?;
    let resource =
        |plural: &str| Resource::from_path(group, plural).ok_or_else(ApiError::not_served);
    let user = shared.opts.user.as_str();
    let is_forbidden = |ns: &str| shared.lock().forbidden.contains(ns);
    match rest {
        [plural] => {
            let r = resource(plural)?;
            collection(shared, r, None, params, table)
        }
        [plural, name] => {
            let r = resource(plural)?;
            if r.namespaced() {
                return Err(ApiError::not_served());
            }
            if r == Resource::Namespace && is_forbidden(name) {
                return Err(forbidden(user, "get", r, None, Some(name), Some(name)));
            }
            get(shared, r, &(String::new(), name.to_string()), table)
        }
        ["namespaces", ns, plural] => {
            let r = resource(plural)?;
            if !r.namespaced() {
                return Err(ApiError::not_served());
            }
            if is_forbidden(ns) {
                let verb = if params.flag("watch") {
                    "watch"
                } else {
                    "list"
                };
                return Err(forbidden(user, verb, r, None, None, Some(ns)));
            }
            collection(shared, r, Some(ns), params, table)
        }
        ["namespaces", ns, plural, name] => {
            let r = resource(plural)?;
            if !r.namespaced() {
                return Err(ApiError::not_served());
            }
            if is_forbidden(ns) {
                return Err(forbidden(user, "get", r, None, Some(name), Some(ns)));
            }
            get(shared, r, &(ns.to_string(), name.to_string()), table)
        }
        ["namespaces", ns, "deployments", name, "scale"] if group == "apps" => {
            if is_forbidden(ns) {
                return Err(forbidden(
                    user,
                    "get",
                    Resource::Deployment,
                    Some("scale"),
                    Some(name),
                    Some(ns),
                ));
            }
            let key = (ns.to_string(), name.to_string());
            let scale = shared.lock().scale_json(&key);
            scale
                .map(|s| json_value(200, &s))
                .ok_or_else(|| ApiError::not_found("apps", "deployments", name))
        }
        ["namespaces", ns, "pods", name, "log"] if group.is_empty() => {
            if is_forbidden(ns) {
                return Err(forbidden(
                    user,
                    "get",
                    Resource::Pod,
                    Some("log"),
                    Some(name),
                    Some(ns),
                ));
            }
            logs(shared, ns, name, params)
        }
        _ => Err(ApiError::not_served()),
    }
}

/// The API group of a path's segments (`""` for the core group) and the segments after
/// its version; 404 for paths outside the served groups.
pub(crate) fn api_path<'a>(segs: &'a [&'a str]) -> Result<(&'a str, &'a [&'a str]), ApiError> {
    match segs {
        ["api", "v1", rest @ ..] => Ok(("", rest)),
        ["apis", g @ ("apps" | "batch"), "v1", rest @ ..] => Ok((g, rest)),
        _ => Err(ApiError::not_served()),
    }
}

fn collection(
    shared: &Arc<Shared>,
    r: Resource,
    ns: Option<&str>,
    params: &Params,
    table: Option<IncludeObject>,
) -> Result<Resp, ApiError> {
    let filter = Filter::parse(r, params)?;
    if params.flag("watch") {
        return crate::watch::start(shared, r, ns, params, filter, table);
    }
    list(shared, r, ns, params, &filter, table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        assert!(authenticated("t", Some("Bearer t")));
        assert!(authenticated("t", Some("bearer t")));
        assert!(!authenticated("t", Some("Bearer u")));
        assert!(!authenticated("t", Some("Basic dTpw")));
        assert!(!authenticated("t", Some("Bearer")));
        assert!(!authenticated("", Some("Bearer ")));
        assert!(!authenticated("t", None));
    }

    #[test]
    fn forbidden_messages() {
        let e = forbidden("sim-user", "list", Resource::Pod, None, None, Some("x"));
        assert_eq!(
            e.message,
            "pods is forbidden: User \"sim-user\" cannot list resource \"pods\" in API group \"\" in the namespace \"x\""
        );
        let e = forbidden(
            "sim-user",
            "get",
            Resource::Pod,
            Some("log"),
            Some("p"),
            Some("x"),
        );
        assert_eq!(
            e.message,
            "pods \"p\" is forbidden: User \"sim-user\" cannot get resource \"pods/log\" in API group \"\" in the namespace \"x\""
        );
        assert_eq!(
            e.status_json()["details"],
            json!({"kind": "pods", "name": "p"})
        );
        let e = forbidden(
            "u",
            "get",
            Resource::Deployment,
            None,
            Some("web"),
            Some("x"),
        );
        assert!(
            e.message
                .starts_with("deployments.apps \"web\" is forbidden")
        );
        assert!(e.message.contains("in API group \"apps\""));
    }
}
