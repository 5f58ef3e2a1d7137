//! The write requests: `POST` (create), `PUT` (replace), `PATCH` (JSON, merge, strategic
//! merge and apply patches) and `DELETE` (with `DeleteOptions`), and the `scale`
//! subresource, as kubectl sends them for `create`, `apply`, `set image`, `rollout
//! restart|undo`, `scale`, `delete`... Body formats, patch types and response codes are
//! the apiserver's; unsupported media types answer 415, unsupported verbs 405, oversized
//! bodies 413. What a write means for the cluster is `cluster`'s.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request};
use serde_json::{Value, json};

use crate::cluster::{Deleted, Propagation, writable};
use crate::http::{ApiError, Resp, json_value};
use crate::patch::{self, PatchError};
use crate::query::Params;
use crate::state::Shared;
use crate::store::{Key, Resource};

/// The apiserver's limit on a request body.
const MAX_BODY: usize = 3 * 1024 * 1024;

/// The patch types the apiserver accepts for built-in kinds.
const PATCH_TYPES: [&str; 4] = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];

/// The body types of a create or replace.
const BODY_TYPES: [&str; 3] = [
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];

fn unsupported_media_type(accepted: &[&str]) -> ApiError {
    ApiError::new(
        415,
        "UnsupportedMediaType",
        format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        ),
    )
}

/// The media type of a `Content-Type` header, without parameters.
fn media_type(req: &Request<Incoming>) -> String {
    req.headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {MAX_BODY}"),
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "error reading the request body: {e}"
        ))),
    }
}

/// A JSON, YAML or protobuf object body.
fn decode(media: &str, body: &[u8]) -> Result<Value, ApiError> {
    if media == "application/vnd.kubernetes.protobuf" {
        return crate::proto::decode_object(body).map_err(|e| {
            ApiError::bad_request(format!("the body of the request could not be decoded: {e}"))
        });
    }
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::bad_request(format!("the body is not UTF-8: {e}")))?;
    let v: Value = match media {
        "application/json" => serde_json::from_str(text).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        })?,
        "application/yaml" | "application/apply-patch+yaml" => serde_saphyr::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}")))?,
        _ => return Err(unsupported_media_type(&BODY_TYPES)),
    };
    if !v.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be an object",
        ));
    }
    Ok(v)
}

fn patch_failed(e: PatchError) -> ApiError {
    if e.malformed {
        ApiError::bad_request(e.message)
    } else {
        ApiError::new(422, "Invalid", e.message).with_details(json!({}))
    }
}

/// What a request addresses.
enum Target {
    Collection(Resource, String),
    Object(Resource, Key),
    Scale(Key),
}

fn target(path: &str) -> Result<Target, ApiError> {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let (group, rest) = super::api_path(&segs)?;
    let resource =
        |plural: &str| Resource::from_path(group, plural).ok_or_else(ApiError::not_served);
    Ok(match rest {
        [plural] => {
            let r = resource(plural)?;
            if r.namespaced() {
                return Err(ApiError::method_not_allowed());
            }
            Target::Collection(r, String::new())
        }
        [plural, name] => {
            let r = resource(plural)?;
            if r.namespaced() {
                return Err(ApiError::not_served());
            }
            Target::Object(r, (String::new(), name.to_string()))
        }
        ["namespaces", ns, plural] => Target::Collection(resource(plural)?, ns.to_string()),
        ["namespaces", ns, plural, name] => {
            Target::Object(resource(plural)?, (ns.to_string(), name.to_string()))
        }
        ["namespaces", ns, "deployments", name, "scale"] if group == "apps" => {
            Target::Scale((ns.to_string(), name.to_string()))
        }
        ["namespaces", _, plural, _, _] if resource(plural).is_ok() => {
            return Err(ApiError::method_not_allowed());
        }
        _ => return Err(ApiError::not_served()),
    })
}

fn dry_run(params: &Params) -> Result<bool, ApiError> {
    match params.get("dryRun") {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid dryRun value: {other}; supported values: All"
        ))),
    }
}

/// Handles every request that is not a `GET`.
pub(super) async fn handle(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    path: &str,
    params: &Params,
) -> Result<Resp, ApiError> {
    let method = req.method().clone();
    let media = media_type(&req);
    let target = target(path)?;
    let (r, ns) = match &target {
        Target::Collection(r, ns) => (*r, ns.clone()),
        Target::Object(r, k) => (*r, k.0.clone()),
        Target::Scale(k) => (Resource::Deployment, k.0.clone()),
    };
    let verb = match method {
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE => "delete",
        _ => return Err(ApiError::method_not_allowed()),
    };
    let forbidden_ns = if r == Resource::Namespace {
        match &target {
            Target::Object(_, k) => k.1.clone(),
            _ => String::new(),
        }
    } else {
        ns.clone()
    };
    if !forbidden_ns.is_empty() && shared.lock().forbidden.contains(&forbidden_ns) {
        let name = match &target {
            Target::Object(_, k) | Target::Scale(k) => Some(k.1.as_str()),
            Target::Collection(..) => None,
        };
        let sub = matches!(target, Target::Scale(_)).then_some("scale");
        return Err(super::forbidden(
            &shared.opts.user,
            verb,
            r,
            sub,
            name,
            Some(&forbidden_ns),
        ));
    }
    if matches!(target, Target::Collection(..) | Target::Object(..)) && !writable(r) {
        return Err(ApiError::method_not_allowed());
    }
    let dry = dry_run(params)?;
    let body = read_body(req).await?;
    match (method, target) {
        (Method::POST, Target::Collection(r, ns)) => {
            let obj = decode(&media, &body)?;
            let out = shared.with(|c| c.api_create(r, &ns, &obj, dry))?;
            Ok(json_value(201, &out))
        }
        (Method::PUT, Target::Object(r, key)) => {
            let obj = decode(&media, &body)?;
            let out = shared.with(|c| c.api_update(r, &key, &obj, dry))?;
            Ok(json_value(200, &out))
        }
        (Method::PATCH, Target::Object(r, key)) => {
            if !PATCH_TYPES.contains(&media.as_str()) {
                return Err(unsupported_media_type(&PATCH_TYPES));
            }
            if media == "application/apply-patch+yaml" {
                return apply(shared, r, &key, &media, &body, params, dry);
            }
            let out = shared.with(|c| {
                let Some(mut doc) = c.store.get(r, &key).map(|s| (*s.obj).clone()) else {
                    return Err(ApiError::not_found(r.group(), r.plural(), &key.1));
                };
                patch_doc(&media, &mut doc, &body)?;
                c.api_update(r, &key, &doc, dry)
            })?;
            Ok(json_value(200, &out))
        }
        (Method::PUT | Method::PATCH, Target::Scale(key)) => {
            let patching = media != "application/json" || body.first() == Some(&b'[');
            if patching && !PATCH_TYPES[..3].contains(&media.as_str()) {
                return Err(unsupported_media_type(&PATCH_TYPES[..3]));
            }
            let put = if patching {
                None
            } else {
                Some(decode(&media, &body)?)
            };
            let out = shared.with(|c| {
                let Some(mut doc) = c.scale_json(&key) else {
                    return Err(ApiError::not_found("apps", "deployments", &key.1));
                };
                match &put {
                    Some(v) => doc = v.clone(),
                    None => patch_doc(&media, &mut doc, &body)?,
                }
                c.api_scale(&key, &doc, dry)
            })?;
            Ok(json_value(200, &out))
        }
        (Method::DELETE, Target::Object(r, key)) => delete(shared, r, &key, &body, params, dry),
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn patch_doc(media: &str, doc: &mut Value, body: &[u8]) -> Result<(), ApiError> {
    match media {
        "application/json-patch+json" => patch::json_patch(doc, body),
        "application/merge-patch+json" => patch::merge_patch(doc, body),
        _ => patch::strategic_merge(doc, body),
    }
    .map_err(patch_failed)
}

/// Server-side apply: creates the object, or merges the applied configuration into it.
/// Field ownership is not tracked, so fields left out of a later apply stay.
fn apply(
    shared: &Arc<Shared>,
    r: Resource,
    key: &Key,
    media: &str,
    body: &[u8],
    params: &Params,
    dry: bool,
) -> Result<Resp, ApiError> {
    if params.non_empty("fieldManager").is_none() {
        return Err(ApiError::invalid(
            "PatchOptions",
            Some("meta.k8s.io"),
            "",
            &[(
                "FieldValueRequired",
                "Required value: is required for apply patch",
                "fieldManager",
            )],
        ));
    }
    let applied = decode(media, body)?;
    let json = serde_json::to_vec(&applied).unwrap_or_default();
    shared.with(|c| match c.store.get(r, key).map(|s| (*s.obj).clone()) {
        None => c
            .api_create(r, &key.0, &applied, dry)
            .map(|v| json_value(201, &v)),
        Some(mut doc) => {
            patch::strategic_merge(&mut doc, &json).map_err(patch_failed)?;
            c.api_update(r, key, &doc, dry).map(|v| json_value(200, &v))
        }
    })
}

fn delete(
    shared: &Arc<Shared>,
    r: Resource,
    key: &Key,
    body: &[u8],
    params: &Params,
    dry: bool,
) -> Result<Resp, ApiError> {
    let opts: Value = if body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
    };
    let grace = match opts["gracePeriodSeconds"].as_i64() {
        Some(g) => Some(g),
        None => params.int("gracePeriodSeconds")?,
    };
    let propagation = opts["propagationPolicy"]
        .as_str()
        .or(params.get("propagationPolicy"))
        .map(str::to_string);
    let propagation = match propagation.as_deref() {
        None | Some("Background") => Propagation::Background,
        Some("Foreground") => Propagation::Foreground,
        Some("Orphan") => Propagation::Orphan,
        Some(other) => {
            return Err(ApiError::invalid(
                "DeleteOptions",
                Some("meta.k8s.io"),
                "",
                &[(
                    "FieldValueNotSupported",
                    &format!(
                        "Unsupported value: \"{other}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                    ),
                    "propagationPolicy",
                )],
            ));
        }
    };
    let dry = dry
        || opts["dryRun"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "All"));
    let uid = opts["preconditions"]["uid"].as_str().map(str::to_string);
    let done = shared.with(|c| {
        if let Some(uid) = &uid
            && c.store.get(r, key).is_some_and(|s| s.obj["metadata"]["uid"] != uid.as_str())
        {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} \"{}\": Precondition failed: UID in precondition: {uid}, UID in object meta: ",
                    r.qualified(),
                    key.1
                ),
            ));
        }
        c.api_delete(r, key, grace, propagation, dry)
    })?;
    Ok(match done {
        Deleted::Going(obj) => json_value(200, &obj),
        // Pods answer with the deleted object, other kinds with a success Status.
        Deleted::Gone(obj) if r == Resource::Pod => json_value(200, &obj),
        Deleted::Gone(obj) => {
            let mut details = json!({
                "name": key.1,
                "kind": r.plural(),
                "uid": obj["metadata"]["uid"],
            });
            if !r.group().is_empty() {
                details["group"] = json!(r.group());
            }
            json_value(
                200,
                &json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details }),
            )
        }
    })
}
