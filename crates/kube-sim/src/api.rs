//! The request path of the API server: request counting and injected faults, bearer-token
//! authentication, namespace authorization, routing, and the list / get / logs handlers
//! (watches live in `watch`). Every error is the `Status` the real apiserver would send.

use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value, json};

use crate::http::{ApiError, Params, Resp, json_bytes, json_value, no_content, parse_query};
use crate::pod::State;
use crate::selector::{FieldSelector, LabelSelector};
use crate::state::Shared;
use crate::store::{Key, Resource};
use crate::table::{self, IncludeObject};

pub(crate) async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Resp {
    shared
        .requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // `Sim::wait_for` conditions may count requests: wake them.
    shared.ticked.send_modify(|v| *v += 1);
    if let Some(resp) = apply_faults(&shared).await {
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
    if !anonymous && !authenticated(&shared.opts.token, authorization) {
        return ApiError::unauthorized().response();
    }
    if req.method() != hyper::Method::GET {
        return ApiError::method_not_allowed().response();
    }
    let params = Params(parse_query(req.uri().query()));
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

/// Stall and fail-next faults, applied before anything else looks at the request.
async fn apply_faults(shared: &Shared) -> Option<Resp> {
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
/// auth and client certificates are not accepted (kube-apiserver dropped basic auth in 1.19).
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
    let mut details = json!({ "kind": r.plural() });
    if let Some(n) = name {
        details["name"] = json!(n);
    }
    if !r.group().is_empty() {
        details["group"] = json!(r.group());
    }
    ApiError::new(
        403,
        "Forbidden",
        format!(
            "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" in API group \"{}\" {scope}",
            r.group()
        ),
    )
    .with_details(details)
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
    let segs: Vec<&str> = trimmed.split('/').skip(1).collect();
    let (group, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", g @ ("apps" | "batch"), "v1", rest @ ..] => (*g, rest),
        _ => return Err(ApiError::not_served()),
    };
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

/// Label and field selectors of a request, applied to served JSON.
pub(crate) struct Filter {
    labels: Option<LabelSelector>,
    fields: Option<FieldSelector>,
}

impl Filter {
    pub(crate) fn parse(r: Resource, params: &Params) -> Result<Filter, ApiError> {
        let labels = match params.get("labelSelector") {
            Some(s) if !s.trim().is_empty() => {
                Some(LabelSelector::parse(s).map_err(ApiError::bad_request)?)
            }
            _ => None,
        };
        let fields = match params.get("fieldSelector") {
            Some(s) if !s.trim().is_empty() => {
                Some(FieldSelector::parse(s, r.field_labels()).map_err(ApiError::bad_request)?)
            }
            _ => None,
        };
        Ok(Filter { labels, fields })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.labels.as_ref().is_none_or(LabelSelector::is_empty) && self.fields.is_none()
    }

    pub(crate) fn matches(&self, obj: &Value) -> bool {
        if let Some(l) = &self.labels {
            let labels = obj["metadata"]["labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                        .collect()
                })
                .unwrap_or_default();
            if !l.matches(&labels) {
                return false;
            }
        }
        if let Some(f) = &self.fields {
            return f.matches(|field| field_value(obj, field));
        }
        true
    }
}

/// The value of a selectable field; absent fields read as "" like Go's zero values.
fn field_value(obj: &Value, field: &str) -> Option<String> {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    Some(match field {
        "metadata.name" => s(&obj["metadata"]["name"]),
        "metadata.namespace" => s(&obj["metadata"]["namespace"]),
        "spec.nodeName" | "spec.host" => s(&obj["spec"]["nodeName"]),
        "spec.restartPolicy" => s(&obj["spec"]["restartPolicy"]),
        "spec.schedulerName" => s(&obj["spec"]["schedulerName"]),
        "spec.serviceAccountName" => s(&obj["spec"]["serviceAccountName"]),
        "spec.hostNetwork" => obj["spec"]["hostNetwork"]
            .as_bool()
            .unwrap_or(false)
            .to_string(),
        "spec.unschedulable" => obj["spec"]["unschedulable"]
            .as_bool()
            .unwrap_or(false)
            .to_string(),
        "status.phase" => s(&obj["status"]["phase"]),
        "status.podIP" | "status.podIPs" => s(&obj["status"]["podIP"]),
        "status.nominatedNodeName" => s(&obj["status"]["nominatedNodeName"]),
        "status.successful" => obj["status"]["succeeded"].as_i64().unwrap_or(0).to_string(),
        "status.replicas" => obj["status"]["replicas"].as_i64().unwrap_or(0).to_string(),
        _ => return None,
    })
}

/// Serializes a stored object as a list item: without kind and apiVersion, like the real
/// apiserver (kubernetes/kubernetes#3030).
pub(crate) struct Item<'a>(pub(crate) &'a Value);

impl Serialize for Item<'_> {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        match self.0.as_object() {
            Some(m) => {
                let mut map = ser.serialize_map(None)?;
                for (k, v) in m {
                    if k != "kind" && k != "apiVersion" {
                        map.serialize_entry(k, v)?;
                    }
                }
                map.end()
            }
            None => self.0.serialize(ser),
        }
    }
}

fn invalid_list(msg: &str, field: &str, reason: &str) -> ApiError {
    ApiError::invalid(
        "ListOptions",
        Some("meta.k8s.io"),
        "",
        &[(reason, msg, field)],
    )
}

/// `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}` in URL-safe base64, the
/// apiserver's continue-token layout.
fn encode_continue(rv: u64, last: &Key) -> String {
    let start = if last.0.is_empty() {
        format!("{}\u{0}", last.1)
    } else {
        format!("{}/{}\u{0}", last.0, last.1)
    };
    let v = json!({ "v": "meta.k8s.io/v1", "rv": rv, "start": start });
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn decode_continue(token: &str) -> Result<(u64, Key), ApiError> {
    let bad = |why: &str| ApiError::bad_request(format!("continue key is not valid: {why}"));
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|e| bad(&e.to_string()))?;
    let v: Value = serde_json::from_slice(&raw).map_err(|e| bad(&e.to_string()))?;
    let rv = v["rv"].as_u64().ok_or_else(|| bad("missing rv"))?;
    let start = v["start"].as_str().ok_or_else(|| bad("missing start"))?;
    let start = start.trim_end_matches('\u{0}');
    let key = match start.split_once('/') {
        Some((ns, n)) => (ns.to_string(), n.to_string()),
        None => (String::new(), start.to_string()),
    };
    Ok((rv, key))
}

fn parse_rv(v: &str) -> Result<u64, ApiError> {
    v.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!("invalid resource version: {v}")) // apiserver wording varies
    })
}

const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

fn list(
    shared: &Arc<Shared>,
    r: Resource,
    ns: Option<&str>,
    params: &Params,
    filter: &Filter,
    table: Option<IncludeObject>,
) -> Result<Resp, ApiError> {
    let limit = params.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
    let cont = params.get("continue").filter(|c| !c.is_empty());
    let rv = params.get("resourceVersion").filter(|v| !v.is_empty());
    let rvm = params.get("resourceVersionMatch").filter(|v| !v.is_empty());
    if params.flag("sendInitialEvents") {
        return Err(invalid_list(
            "Forbidden: sendInitialEvents is forbidden for list",
            "sendInitialEvents",
            "FieldValueForbidden",
        ));
    }
    if let Some(m) = rvm {
        if rv.is_none() {
            return Err(invalid_list(
                "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
                "resourceVersionMatch",
                "FieldValueForbidden",
            ));
        }
        if cont.is_some() {
            return Err(invalid_list(
                "Forbidden: resourceVersionMatch is forbidden when continue is provided",
                "resourceVersionMatch",
                "FieldValueForbidden",
            ));
        }
        match m {
            "NotOlderThan" => {}
            "Exact" if rv == Some("0") => {
                return Err(invalid_list(
                    "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                    "resourceVersionMatch",
                    "FieldValueForbidden",
                ));
            }
            "Exact" => {}
            other => {
                return Err(invalid_list(
                    &format!(
                        "Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\", \"\""
                    ),
                    "resourceVersionMatch",
                    "FieldValueNotSupported",
                ));
            }
        }
    }
    if cont.is_some() && rv.is_some_and(|v| v != "0") {
        return Err(ApiError::bad_request(
            "specifying resource version is not allowed when using continue",
        ));
    }
    let rv_num = rv.map(parse_rv).transpose()?;
    let cont = cont.map(decode_continue).transpose()?;

    let c = shared.lock();
    // Which revision the list is read at: a continue token's snapshot, an Exact revision
    // (explicit, or implied by limit + resourceVersion), or now.
    let exact = match (&cont, rv_num, rvm) {
        (Some((at, _)), _, _) => Some(*at),
        (None, Some(n), Some("Exact")) => Some(n),
        (None, Some(n), None) if limit.is_some() && n > 0 => Some(n),
        _ => None,
    };
    let snapshot: Vec<(Key, Arc<Value>)>;
    let list_rv;
    match exact {
        Some(at) if at < c.store.rv() => {
            let snap = c.store.snapshot(r, ns, at).map_err(|_| {
                if cont.is_some() {
                    ApiError::new(410, "Expired", CONTINUE_EXPIRED)
                } else {
                    ApiError::new(
                        410,
                        "Expired",
                        "The resourceVersion for the provided list is too old.",
                    )
                }
            })?;
            snapshot = snap.into_iter().collect();
            list_rv = at;
        }
        _ => {
            snapshot = c
                .store
                .list(r, ns)
                .map(|(k, s)| (k.clone(), s.obj.clone()))
                .collect();
            list_rv = c.store.rv();
        }
    }
    drop(c);
    let start = cont.as_ref().map(|(_, k)| k.clone());
    let mut matching = snapshot
        .into_iter()
        .filter(|(k, _)| start.as_ref().is_none_or(|s| k > s))
        .filter(|(_, o)| filter.matches(o));
    let mut items: Vec<(Key, Arc<Value>)> = Vec::new();
    let mut more = false;
    let mut remaining = 0usize;
    for it in matching.by_ref() {
        if limit.is_some_and(|l| items.len() >= l) {
            more = true;
            remaining = 1 + matching.by_ref().count();
            break;
        }
        items.push(it);
    }
    let mut meta = json!({ "resourceVersion": list_rv.to_string() });
    if more && let Some((k, _)) = items.last() {
        meta["continue"] = json!(encode_continue(list_rv, k));
        if filter.is_empty() {
            meta["remainingItemCount"] = json!(remaining);
        }
    }
    if let Some(include) = table {
        let t = table::table(
            r,
            items.iter().map(|(_, o)| o.as_ref()),
            meta,
            include,
            true,
        );
        return Ok(json_value(200, &t));
    }
    let body = json!({
        "kind": format!("{}List", r.kind()),
        "apiVersion": r.api_version(),
        "metadata": meta,
    });
    // Items are appended by hand so they can skip kind/apiVersion without a copy.
    let mut out = serde_json::to_vec(&body).unwrap_or_default();
    out.pop();
    out.extend_from_slice(b",\"items\":[");
    for (i, (_, o)) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = serde_json::to_writer(&mut out, &Item(o));
    }
    out.extend_from_slice(b"]}");
    Ok(json_bytes(200, out))
}

fn get(
    shared: &Arc<Shared>,
    r: Resource,
    key: &Key,
    table: Option<IncludeObject>,
) -> Result<Resp, ApiError> {
    let obj = {
        let c = shared.lock();
        c.store.get(r, key).map(|s| s.obj.clone())
    };
    let Some(obj) = obj else {
        return Err(ApiError::not_found(r.group(), r.plural(), &key.1));
    };
    if let Some(include) = table {
        let meta = json!({ "resourceVersion": obj["metadata"]["resourceVersion"] });
        let t = table::table(r, std::iter::once(obj.as_ref()), meta, include, true);
        return Ok(json_value(200, &t));
    }
    Ok(json_bytes(
        200,
        serde_json::to_vec(obj.as_ref()).unwrap_or_default(),
    ))
}

/// `GET .../pods/{name}/log`: option validation, container resolution (apiserver), the
/// 204 for unscheduled pods, then the kubelet's choice of container instance.
fn logs(shared: &Arc<Shared>, ns: &str, pod: &str, params: &Params) -> Result<Resp, ApiError> {
    let query = crate::logs::parse_log_query(&params.0, pod, jiff::Timestamp::now()).map_err(|e| {
        let mut err = ApiError::new(e.code, e.reason, e.message.clone());
        if !e.causes.is_empty() {
            err = err.with_details(json!({
                "name": pod,
                "kind": "PodLogOptions",
                "causes": e.causes.iter().map(|(r, m, f)| json!({"reason": r, "message": m, "field": f})).collect::<Vec<_>>(),
            }));
        }
        err
    })?;
    let previous = params.flag("previous");
    let requested = params.get("container").unwrap_or("").to_string();
    let c = shared.lock();
    let Some(p) = c.pods.get(&(ns.to_string(), pod.to_string())) else {
        return Err(ApiError::not_found("", "pods", pod));
    };
    let name = if requested.is_empty() {
        match p.containers.as_slice() {
            [only] => only.name().to_string(),
            [] => {
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {pod}"
                )));
            }
            _ => {
                let names: Vec<&str> = p.all_containers().map(|c| c.name()).collect();
                return Err(ApiError::bad_request(format!(
                    "a container name must be specified for pod {pod}, choose one of: [{}]",
                    names.join(" ")
                )));
            }
        }
    } else {
        requested
    };
    let Some(container) = p.container(&name) else {
        return Err(ApiError::bad_request(format!(
            "container {name} is not valid for pod {pod}"
        )));
    };
    if p.node.is_none() {
        return Ok(no_content());
    }
    let prefix = format!("container \"{name}\" in pod \"{pod}\"");
    // kubelet `validateContainerLogStatus`.
    let journal = if previous {
        match (&container.last, &container.prev_journal) {
            (Some(t), Some(j)) if !t.id.is_empty() => j.clone(),
            _ => {
                return Err(ApiError::bad_request(format!(
                    "previous terminated container \"{name}\" in pod \"{pod}\" not found"
                )));
            }
        }
    } else {
        match &container.state {
            State::Running { .. } => container.journal.clone(),
            State::Terminated(t) if !t.id.is_empty() => container.journal.clone(),
            State::Terminated(_) | State::Waiting { .. }
                if container.last.is_some() && container.prev_journal.is_some() =>
            {
                container
                    .prev_journal
                    .clone()
                    .unwrap_or_else(|| container.journal.clone())
            }
            State::Terminated(_) => {
                return Err(ApiError::bad_request(format!("{prefix} is terminated")));
            }
            State::Waiting { reason, .. } => {
                let why = match reason.as_str() {
                    "ErrImagePull" => "image can't be pulled",
                    "ImagePullBackOff" => "trying and failing to pull image",
                    r => r,
                };
                return Err(ApiError::bad_request(format!(
                    "{prefix} is waiting to start: {why}"
                )));
            }
        }
    };
    drop(c);
    let body = journal.body(&query, shared.opts.chunking);
    Ok(crate::http::stream("text/plain", body.boxed_unsync()))
}

/// One watch event line: `{"type":..,"object":..}\n`.
pub(crate) fn event_line(kind: &str, obj: &Value) -> Bytes {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"{\"type\":\"");
    out.extend_from_slice(kind.as_bytes());
    out.extend_from_slice(b"\",\"object\":");
    let _ = serde_json::to_writer(&mut out, obj);
    out.extend_from_slice(b"}\n");
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let t = encode_continue(42, &("default".into(), "web-1".into()));
        assert_eq!(
            decode_continue(&t).unwrap(),
            (42, ("default".into(), "web-1".into()))
        );
        let t = encode_continue(7, &(String::new(), "kube-system".into()));
        assert_eq!(
            decode_continue(&t).unwrap(),
            (7, (String::new(), "kube-system".into()))
        );
        assert_eq!(decode_continue("!!!").unwrap_err().code, 400);
    }

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

    #[test]
    fn list_items_drop_type_meta() {
        let v = json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a"}});
        assert_eq!(
            serde_json::to_string(&Item(&v)).unwrap(),
            r#"{"metadata":{"name":"a"}}"#
        );
    }
}
