//! How container instances, pods and Jobs end: the reason and exit code of an instance
//! (said when a tailed one ends), whether a pod has reached its end and how, and whether
//! a Job has completed or failed (for `--until-done`). Pure functions of the API's
//! objects; nothing here does I/O.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::api::DynamicObject;

/// How one container instance ended, as the kubelet reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ending {
    /// `Completed`, `Error`, `OOMKilled`…
    pub(crate) reason: Option<String>,
    pub(crate) exit_code: i32,
    pub(crate) signal: Option<i32>,
    /// The container's restart count once a newer instance replaced this one.
    pub(crate) restarts: Option<i32>,
}

impl Ending {
    /// `OOMKilled, exit 137; restart 3`.
    pub(crate) fn describe(&self) -> String {
        let mut text = match &self.reason {
            Some(r) => format!("{r}, exit {}", self.exit_code),
            None => format!("exit {}", self.exit_code),
        };
        if let Some(sig) = self.signal {
            text.push_str(&format!(", signal {sig}"));
        }
        if let Some(n) = self.restarts {
            text.push_str(&format!("; restart {n}"));
        }
        text
    }
}

/// How the instance `id` of a container ended, if the kubelet reports it as ended.
pub(crate) fn instance_ending(cs: &ContainerStatus, id: &str) -> Option<Ending> {
    let current = cs
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .filter(|t| t.container_id.as_deref().is_none_or(|c| c == id));
    let last = cs
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .filter(|t| t.container_id.as_deref() == Some(id));
    let (t, replaced) = match (current, last) {
        (Some(t), _) => (t, false),
        // The last run of a container that has restarted since (or waits to).
        (None, Some(t)) => (t, cs.container_id.as_deref().is_some_and(|c| c != id)),
        (None, None) => return None,
    };
    Some(Ending {
        reason: t.reason.clone().filter(|r| !r.is_empty()),
        exit_code: t.exit_code,
        signal: t.signal.filter(|s| *s != 0),
        restarts: replaced.then_some(cs.restart_count),
    })
}

/// How a pod ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PodOutcome {
    pub(crate) succeeded: bool,
    /// What failed, when it did not succeed: one entry per failed container, or one for
    /// the pod when no container says why (an eviction, a deadline).
    pub(crate) failures: Vec<Failure>,
}

/// One thing that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The container, or `None` for the pod as a whole.
    pub(crate) container: Option<String>,
    /// `exit code 137 (OOMKilled)`, `Evicted: the node was low on memory`.
    pub(crate) what: String,
}

/// How a Job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JobOutcome {
    pub(crate) succeeded: bool,
    /// The condition's reason and message: `BackoffLimitExceeded`, `Job has reached …`.
    pub(crate) reason: String,
    pub(crate) message: String,
    /// From the Job's start to its end, when the status says both.
    pub(crate) took: Option<Duration>,
}

/// How `pod` ended, or `None` while it may still run. A pod ends with its phase
/// (Succeeded, Failed), or, with native sidecars (init containers that restart always),
/// once every regular container has terminated for good: the sidecars are stopped then
/// and must not keep the pod from being done.
pub(crate) fn pod_outcome(pod: &Pod) -> Option<PodOutcome> {
    let status = pod.status.as_ref()?;
    let succeeded = match status.phase.as_deref() {
        Some("Succeeded") => true,
        Some("Failed") => false,
        _ => regular_containers_done(pod)?,
    };
    if succeeded {
        return Some(PodOutcome {
            succeeded,
            failures: Vec::new(),
        });
    }
    let statuses = status
        .init_container_statuses
        .iter()
        .chain(status.container_statuses.iter())
        .flatten();
    let mut failures: Vec<Failure> = statuses
        .filter_map(|cs| {
            let what = failed_run(cs)?;
            Some(Failure {
                container: Some(cs.name.clone()),
                what,
            })
        })
        .collect();
    if failures.is_empty() {
        let reason = status.reason.as_deref().unwrap_or("Failed");
        let what = match status.message.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => format!("{reason}: {m}"),
            None => reason.to_string(),
        };
        failures.push(Failure {
            container: None,
            what,
        });
    }
    Some(PodOutcome {
        succeeded,
        failures,
    })
}

/// With native sidecars: whether every regular container has terminated and will not
/// run again (`Some(all exited 0)`), else `None`.
fn regular_containers_done(pod: &Pod) -> Option<bool> {
    let spec = pod.spec.as_ref()?;
    let has_sidecars = spec
        .init_containers
        .iter()
        .flatten()
        .any(|c| c.restart_policy.as_deref() == Some("Always"));
    if !has_sidecars {
        return None;
    }
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let mut all_zero = true;
    for c in &spec.containers {
        let cs = statuses.iter().find(|cs| cs.name == c.name)?;
        let t = cs.state.as_ref()?.terminated.as_ref()?;
        all_zero &= t.exit_code == 0;
    }
    match spec.restart_policy.as_deref() {
        Some("Never") => Some(all_zero),
        Some("OnFailure") if all_zero => Some(true),
        _ => None,
    }
}

/// The container's last run, if it failed: `exit code 1 (Error)`, with the signal.
fn failed_run(cs: &ContainerStatus) -> Option<String> {
    let state = cs.state.as_ref();
    let t = state
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| cs.last_state.as_ref().and_then(|s| s.terminated.as_ref()))?;
    if t.exit_code == 0 {
        return None;
    }
    let mut what = format!("exit code {}", t.exit_code);
    if let Some(sig) = t.signal.filter(|s| *s != 0) {
        what.push_str(&format!(", signal {sig}"));
    }
    if let Some(reason) = t.reason.as_deref().filter(|r| !r.is_empty()) {
        what.push_str(&format!(" ({reason})"));
    }
    Some(what)
}

/// How a Job ended, from its `Complete` or `Failed` condition, or `None` while it runs.
pub(crate) fn job_outcome(job: &DynamicObject) -> Option<JobOutcome> {
    let status = job.data.get("status")?;
    let conditions = status.get("conditions")?.as_array()?;
    let (cond, succeeded) = conditions.iter().find_map(|c| {
        let holds = c.get("status").and_then(|s| s.as_str()) == Some("True");
        match c.get("type").and_then(|t| t.as_str()) {
            Some("Complete") if holds => Some((c, true)),
            Some("Failed") if holds => Some((c, false)),
            _ => None,
        }
    })?;
    let text = |v: &serde_json::Value, key: &str| {
        v.get(key)
            .and_then(|s| s.as_str())
            .unwrap_or_default()
            .to_string()
    };
    let time = |v: Option<&serde_json::Value>| {
        v.and_then(|t| t.as_str())
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
    };
    let start = time(status.get("startTime"));
    let end = time(status.get("completionTime")).or(time(cond.get("lastTransitionTime")));
    let took = match (start, end) {
        (Some(s), Some(e)) => Duration::try_from(e.duration_since(s)).ok(),
        _ => None,
    };
    Some(JobOutcome {
        succeeded,
        reason: text(cond, "reason"),
        message: text(cond, "message"),
        took,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_running_pod_has_not_ended() {
        let p = pod(json!({
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "app", "state": {"running": {}}}]}
        }));
        assert_eq!(pod_outcome(&p), None);
    }

    #[test]
    fn failed_pods_say_which_container_failed_and_how() {
        let p = pod(json!({
            "spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "app"}, {"name": "ok"}]},
            "status": {"phase": "Failed",
                "initContainerStatuses": [{"name": "init", "state": {"terminated": {"exitCode": 0}}}],
                "containerStatuses": [
                    {"name": "app", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}},
                    {"name": "ok", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
                ]}
        }));
        assert_eq!(
            pod_outcome(&p),
            Some(PodOutcome {
                succeeded: false,
                failures: vec![Failure {
                    container: Some("app".into()),
                    what: "exit code 137 (OOMKilled)".into()
                }]
            })
        );
        let evicted = pod(json!({
            "spec": {"containers": [{"name": "app"}]},
            "status": {"phase": "Failed", "reason": "Evicted",
                       "message": "The node was low on resource: memory."}
        }));
        assert_eq!(
            pod_outcome(&evicted).unwrap().failures,
            [Failure {
                container: None,
                what: "Evicted: The node was low on resource: memory.".into()
            }]
        );
        let succeeded = pod(json!({"spec": {"containers": [{"name": "app"}]},
                                   "status": {"phase": "Succeeded"}}));
        assert!(pod_outcome(&succeeded).unwrap().succeeded);
    }

    #[test]
    fn native_sidecars_do_not_keep_a_pod_from_being_done() {
        let p = |app_exit: i64, policy: &str| {
            pod(json!({
                "spec": {"restartPolicy": policy,
                         "initContainers": [{"name": "proxy", "restartPolicy": "Always"}],
                         "containers": [{"name": "app"}]},
                "status": {"phase": "Running",
                    "initContainerStatuses": [{"name": "proxy", "state": {"running": {}}}],
                    "containerStatuses": [{"name": "app",
                        "state": {"terminated": {"exitCode": app_exit, "reason": "Error"}}}]}
            }))
        };
        assert!(pod_outcome(&p(0, "Never")).unwrap().succeeded);
        let failed = pod_outcome(&p(2, "Never")).unwrap();
        assert!(!failed.succeeded);
        assert_eq!(failed.failures[0].what, "exit code 2 (Error)");
        assert_eq!(pod_outcome(&p(2, "OnFailure")), None, "it will run again");
        assert_eq!(pod_outcome(&p(0, "Always")), None);
    }

    fn job(status: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "migrate"}, "status": status
        }))
        .unwrap()
    }

    #[test]
    fn jobs_end_with_their_complete_or_failed_condition() {
        assert_eq!(job_outcome(&job(json!({"active": 1}))), None);
        let done = job_outcome(&job(json!({
            "startTime": "2026-11-27T10:00:00Z", "completionTime": "2026-11-27T10:00:42Z",
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached"},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods"}]
        })))
        .unwrap();
        assert!(done.succeeded);
        assert_eq!(done.took, Some(Duration::from_secs(42)));
        let failed = job_outcome(&job(json!({
            "startTime": "2026-11-27T10:00:00Z",
            "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit",
                 "lastTransitionTime": "2026-11-27T10:00:12Z"}]
        })))
        .unwrap();
        assert_eq!(
            (failed.succeeded, failed.reason.as_str(), failed.took),
            (false, "BackoffLimitExceeded", Some(Duration::from_secs(12)))
        );
        // FailureTarget alone is not the end yet: the controller still terminates pods.
        assert_eq!(
            job_outcome(&job(json!({"conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"}]}))),
            None
        );
    }
}
