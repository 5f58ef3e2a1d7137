//! The parts of a request's query that list, get, watch and logs share: form decoding,
//! [`Params`] with the apiserver's conversion rules, resourceVersion parsing, the
//! `ListOptions` validation error, the label/field [`Filter`] applied to served JSON, and
//! the watch event line. Pure functions of their inputs: nothing here reads cluster state
//! or writes a response.

use bytes::Bytes;
use serde_json::Value;

use crate::http::ApiError;
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::Resource;

/// Decodes a form-urlencoded query (`+` is a space) into ordered pairs. kube-rs sends a
/// leading empty pair (`?&a=b`) and sometimes a bare `?`; empty pieces are skipped.
pub(crate) fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    let Some(q) = q else { return Vec::new() };
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters with the apiserver's conversion rules.
pub(crate) struct Params(pub(crate) Vec<(String, String)>);

impl Params {
    /// The first value of a parameter (Go's `url.Values.Get`).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `Convert_Slice_string_To_bool`: absent, `0` and `false` (any case) are false;
    /// everything else, even an empty value, is true.
    pub(crate) fn flag(&self, key: &str) -> bool {
        match self.get(key) {
            None => false,
            Some(v) => !(v == "0" || v.eq_ignore_ascii_case("false")),
        }
    }

    /// A Go `strconv.ParseInt` of an optional integer parameter.
    pub(crate) fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!("strconv.ParseInt: parsing {v:?}: invalid syntax"))
            }),
        }
    }
}

impl Params {
    /// A non-empty value: an empty `resourceVersion`, `resourceVersionMatch` or `continue`
    /// means unset.
    pub(crate) fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }
}

/// A resourceVersion given as a number.
pub(crate) fn parse_rv(v: &str) -> Result<u64, ApiError> {
    v.parse::<u64>().map_err(|_| {
        ApiError::bad_request(format!("invalid resource version: {v}")) // apiserver wording varies
    })
}

/// The 422 for `ListOptions` that list and watch validation answer with.
pub(crate) fn invalid_list_options(msg: &str, field: &str, reason: &str) -> ApiError {
    ApiError::invalid(
        "ListOptions",
        Some("meta.k8s.io"),
        "",
        &[(reason, msg, field)],
    )
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
        // Events: `source` is the source's component; `reportingComponent` is served
        // under that name (`reportingController` in Go).
        "source" => s(&obj["source"]["component"]),
        "reason" | "reportingComponent" | "type" => s(&obj[field]),
        f if f.starts_with("involvedObject.") => {
            s(&obj["involvedObject"][&f["involvedObject.".len()..]])
        }
        _ => return None,
    })
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
    fn query_decoding_follows_form_rules() {
        let q = parse_query(Some("&labelSelector=app%3Dweb%2Ctier+in+%28a%29&follow=&x"));
        assert_eq!(
            q,
            vec![
                (
                    "labelSelector".to_string(),
                    "app=web,tier in (a)".to_string()
                ),
                ("follow".to_string(), String::new()),
                ("x".to_string(), String::new()),
            ]
        );
        assert!(parse_query(Some("")).is_empty());
        assert_eq!(parse_query(Some("a=%zz%4"))[0].1, "%zz%4");
    }

    #[test]
    fn booleans_follow_the_apiserver() {
        let p = Params(parse_query(Some("a=&b=0&c=FALSE&d=true&e=yes")));
        assert!(p.flag("a"));
        assert!(!p.flag("b"));
        assert!(!p.flag("c"));
        assert!(p.flag("d"));
        assert!(p.flag("e"));
        assert!(!p.flag("missing"));
    }

    #[test]
    fn integers_fail_like_go() {
        let p = Params(parse_query(Some("limit=abc&n=5")));
        let e = p.int("limit").unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        assert_eq!(p.int("n").unwrap(), Some(5));
    }
}
