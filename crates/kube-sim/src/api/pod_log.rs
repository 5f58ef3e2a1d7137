//! `GET /api/v1/namespaces/{ns}/pods/{name}/log`: the apiserver's option validation and
//! container resolution, the 204 for an unscheduled pod, then the kubelet's choice of
//! container instance (`validateContainerLogStatus`) with its error texts. Serving the
//! journal is `logs`'s; this module only picks which journal and how.

use std::sync::Arc;

use http_body_util::BodyExt;
use serde_json::json;

use crate::http::{ApiError, Resp, no_content};
use crate::pod::State;
use crate::query::Params;
use crate::state::Shared;

/// `GET .../pods/{name}/log`: option validation, container resolution (apiserver), the
/// 204 for unscheduled pods, then the kubelet's choice of container instance.
pub(super) fn logs(
    shared: &Arc<Shared>,
    ns: &str,
    pod: &str,
    params: &Params,
) -> Result<Resp, ApiError> {
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
    let body = journal.body_with_hold(&query, shared.opts.chunking, shared.opts.exit_stream_hold);
    Ok(crate::http::stream("text/plain", body.boxed_unsync()))
}
