//! `POST /kube-sim/ctl`: the simulator's own control endpoint, outside the Kubernetes
//! API, behind the same bearer token. `kube-sim ctl` sends it what a user wants to go
//! wrong (a container crash, a failing readiness or liveness probe, an image the registry refuses, a
//! log line) and prints the answer; the cluster does it through the same functions as
//! the `Sim` methods. Errors are `Status` objects like the API's.

use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::Request;
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::http::{ApiError, Resp, json_value};
use crate::state::Shared;

/// The path of the control endpoint.
pub(crate) const PATH: &str = "/kube-sim/ctl";

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v[key].as_str().filter(|s| !s.is_empty())
}

pub(super) async fn handle(shared: &Arc<Shared>, req: Request<Incoming>) -> Result<Resp, ApiError> {
    if req.method() != hyper::Method::POST {
        return Err(ApiError::method_not_allowed());
    }
    let body = http_body_util::Limited::new(req.into_body(), 1 << 20)
        .collect()
        .await
        .map_err(|e| ApiError::bad_request(format!("error reading the request body: {e}")))?
        .to_bytes();
    let v: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not a JSON object: {e}")))?;
    let action = text(&v, "action").unwrap_or_default();
    let ns = text(&v, "namespace").unwrap_or("default");
    let message = match action {
        "image-pull-fail" | "image-pull-ok" => {
            let image =
                text(&v, "image").ok_or_else(|| ApiError::bad_request("an image is required"))?;
            let fail = action == "image-pull-fail";
            shared.with(|c| c.set_image_pullable(image, fail));
            if fail {
                format!(
                    "the registry now refuses {image}: containers that need it wait in ErrImagePull, then ImagePullBackOff"
                )
            } else {
                format!("the registry serves {image} again")
            }
        }
        "crash" | "probe-fail" | "probe-ok" | "liveness-fail" | "log" => {
            let pod = text(&v, "pod").ok_or_else(|| ApiError::bad_request("a pod is required"))?;
            let container = {
                let c = shared.lock();
                let Some(p) = c.pods.get(&(ns.to_string(), pod.to_string())) else {
                    return Err(ApiError::not_found("", "pods", pod));
                };
                let name = match text(&v, "container") {
                    Some(n) => n.to_string(),
                    None => p
                        .containers
                        .first()
                        .map(|c| c.name().to_string())
                        .unwrap_or_default(),
                };
                match p.container(&name) {
                    Some(c) if c.is_running() || action == "probe-ok" => name,
                    Some(_) => {
                        return Err(ApiError::new(
                            409,
                            "Conflict",
                            format!("container {name} of pod {ns}/{pod} is not running"),
                        ));
                    }
                    None => {
                        return Err(ApiError::bad_request(format!(
                            "container {name} is not valid for pod {pod}"
                        )));
                    }
                }
            };
            match action {
                "crash" => {
                    let reason = text(&v, "reason").unwrap_or("Error");
                    let default = if reason == "OOMKilled" { 137 } else { 1 };
                    let code = v["exitCode"].as_i64().map_or(default, |c| c as i32);
                    shared.with(|c| c.crash(ns, pod, &container, code, Some(reason)));
                    format!(
                        "{ns}/{pod} {container}: exited with {code} ({reason}); the kubelet restarted it"
                    )
                }
                "liveness-fail" => {
                    shared.with(|c| c.fail_liveness(ns, pod, &container));
                    format!(
                        "{ns}/{pod} {container}: the liveness probe fails; the kubelet restarts the container after 3 failures"
                    )
                }
                "log" => {
                    let lines: Vec<String> = v["lines"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|l| l.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default();
                    shared.with(|c| {
                        for l in &lines {
                            c.log(ns, pod, &container, l);
                        }
                    });
                    format!("{ns}/{pod} {container}: {} line(s) written", lines.len())
                }
                _ => {
                    let failing = action == "probe-fail";
                    shared.with(|c| c.set_readiness(ns, pod, &container, failing));
                    if failing {
                        format!(
                            "{ns}/{pod} {container}: the readiness probe fails; the pod is not Ready until `probe-ok`"
                        )
                    } else {
                        format!("{ns}/{pod} {container}: the readiness probe passes again")
                    }
                }
            }
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown action {other:?}: crash, probe-fail, probe-ok, liveness-fail, image-pull-fail, image-pull-ok, log"
            )));
        }
    };
    Ok(json_value(200, &json!({ "message": message })))
}
