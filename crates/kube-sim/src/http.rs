//! HTTP plumbing shared by every handler: the response body type, JSON and `Status`
//! responses with the headers clients expect, and the apiserver's query-string rules
//! (form-urlencoded, booleans, Go integer parsing).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Frame;
use hyper::{Response, StatusCode};
use serde_json::{Value, json};

pub(crate) type Body = UnsyncBoxBody<Bytes, std::io::Error>;
pub(crate) type Resp = Response<Body>;

pub(crate) fn full(b: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(b.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

pub(crate) fn empty() -> Body {
    full(Bytes::new())
}

/// A streaming body fed by a task; the task sees a closed channel once the client is gone.
pub(crate) struct ChannelBody {
    pub(crate) rx: tokio::sync::mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

fn base(code: u16, content_type: &str, body: Body) -> Resp {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_str(content_type)
            .unwrap_or(hyper::header::HeaderValue::from_static("application/json")),
    );
    h.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-cache, private"),
    );
    r
}

pub(crate) fn json_bytes(code: u16, body: Vec<u8>) -> Resp {
    base(code, "application/json", full(body))
}

pub(crate) fn json_value(code: u16, v: &Value) -> Resp {
    json_bytes(code, serde_json::to_vec(v).unwrap_or_default())
}

pub(crate) fn stream(content_type: &str, body: Body) -> Resp {
    base(200, content_type, body)
}

pub(crate) fn no_content() -> Resp {
    let mut r = Response::new(empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

/// An apimachinery `Status` failure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) code: u16,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    pub(crate) details: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub(crate) fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(details);
        self
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// The answer for paths nothing serves.
    pub(crate) fn not_served() -> ApiError {
        ApiError::new(
            404,
            "NotFound",
            "the server could not find the requested resource",
        )
        .with_details(json!({}))
    }

    pub(crate) fn not_found(group: &str, resource: &str, name: &str) -> ApiError {
        let qualified = if group.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}.{group}")
        };
        let mut details = json!({ "name": name, "kind": resource });
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        ApiError::new(404, "NotFound", format!("{qualified} \"{name}\" not found"))
            .with_details(details)
    }

    pub(crate) fn method_not_allowed() -> ApiError {
        ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
        )
        .with_details(json!({}))
    }

    pub(crate) fn unauthorized() -> ApiError {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    /// A 422 with field causes (`<Kind> "<name>" is invalid: ...`).
    pub(crate) fn invalid(
        kind: &str,
        group: Option<&str>,
        name: &str,
        causes: &[(&str, &str, &str)],
    ) -> ApiError {
        let qualified = match group {
            Some(g) => format!("{kind}.{g}"),
            None => kind.to_string(),
        };
        let msgs: Vec<String> = causes
            .iter()
            .map(|(_, m, f)| {
                if f.is_empty() {
                    m.to_string()
                } else {
                    format!("{f}: {m}")
                }
            })
            .collect();
        let msg = if msgs.len() == 1 {
            msgs[0].clone()
        } else {
            format!("[{}]", msgs.join(", "))
        };
        let mut details = json!({
            "name": name,
            "kind": kind,
            "causes": causes.iter().map(|(r, m, f)| json!({"reason": r, "message": m, "field": f})).collect::<Vec<_>>(),
        });
        if let Some(g) = group {
            details["group"] = json!(g);
        }
        if name.is_empty() {
            details.as_object_mut().map(|o| o.remove("name"));
        }
        ApiError::new(
            422,
            "Invalid",
            format!("{qualified} \"{name}\" is invalid: {msg}"),
        )
        .with_details(details)
    }

    pub(crate) fn status_json(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }

    pub(crate) fn response(&self) -> Resp {
        json_value(self.code, &self.status_json())
    }
}

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

    #[test]
    fn status_shapes() {
        let e = ApiError::not_found("apps", "deployments", "web");
        let v = e.status_json();
        assert_eq!(v["message"], "deployments.apps \"web\" not found");
        assert_eq!(v["details"]["group"], "apps");
        assert_eq!(v["metadata"], json!({}));
        let e = ApiError::invalid(
            "ListOptions",
            Some("meta.k8s.io"),
            "",
            &[(
                "FieldValueForbidden",
                "Forbidden: x",
                "resourceVersionMatch",
            )],
        );
        assert_eq!(
            e.message,
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: x"
        );
    }
}
