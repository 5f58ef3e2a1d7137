//! `list` and `get`: reading objects at the current revision or, for paginated and
//! `Exact` lists, at an older one rebuilt from the store's history; continue tokens in the
//! apiserver's layout; list items without type meta; server-side Tables. Validation errors
//! are the apiserver's `ListOptions` texts. Watches are `watch`'s.

use std::sync::Arc;

use base64::Engine;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value, json};

use crate::http::{ApiError, Resp, json_bytes, json_value};
use crate::query::{Filter, Params, invalid_list_options, parse_rv};
use crate::state::Shared;
use crate::store::{Key, Resource};
use crate::table::{self, IncludeObject};

/// Serializes a stored object as a list item: without kind and apiVersion, like the real
/// apiserver (kubernetes/kubernetes#3030).
struct Item<'a>(&'a Value);

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

const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.";

pub(super) fn list(
    shared: &Arc<Shared>,
    r: Resource,
    ns: Option<&str>,
    params: &Params,
    filter: &Filter,
    table: Option<IncludeObject>,
) -> Result<Resp, ApiError> {
    let limit = params.int("limit")?.filter(|l| *l > 0).map(|l| l as usize);
    let cont = params.non_empty("continue");
    let rv = params.non_empty("resourceVersion");
    let rvm = params.non_empty("resourceVersionMatch");
    if params.flag("sendInitialEvents") {
        return Err(invalid_list_options(
            "Forbidden: sendInitialEvents is forbidden for list",
            "sendInitialEvents",
            "FieldValueForbidden",
        ));
    }
    if let Some(m) = rvm {
        if rv.is_none() {
            return Err(invalid_list_options(
                "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
                "resourceVersionMatch",
                "FieldValueForbidden",
            ));
        }
        if cont.is_some() {
            return Err(invalid_list_options(
                "Forbidden: resourceVersionMatch is forbidden when continue is provided",
                "resourceVersionMatch",
                "FieldValueForbidden",
            ));
        }
        match m {
            "NotOlderThan" => {}
            "Exact" if rv == Some("0") => {
                return Err(invalid_list_options(
                    "Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                    "resourceVersionMatch",
                    "FieldValueForbidden",
                ));
            }
            "Exact" => {}
            other => {
                return Err(invalid_list_options(
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

pub(super) fn get(
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
    fn list_items_drop_type_meta() {
        let v = json!({"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "a"}});
        assert_eq!(
            serde_json::to_string(&Item(&v)).unwrap(),
            r#"{"metadata":{"name":"a"}}"#
        );
    }
}
