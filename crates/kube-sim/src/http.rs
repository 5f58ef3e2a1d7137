//! HTTP plumbing shared by every handler: the response body types, JSON and `Status`
//! responses with the headers clients expect, and [`ApiError`], the apiserver's `Status`
//! for a failed request. It must not read requests or cluster state: query parsing lives in
//! `query`.

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

#[cfg(test)]
mod tests {
    use super::*;

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
