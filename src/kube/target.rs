//! Which containers of a pod are tailed: a pure function of a `Pod` and the `Selection`.
//!
//! A target is one container *instance*: the container ID is part of its identity, so a
//! restart (new ID) is a new target and is tailed again from its first line, while the
//! old instance's stream drains. A container becomes a target once the kubelet reports an
//! ID for it (stern's rule): running → its ID, terminated → that instance's ID, waiting
//! after a crash → the last terminated instance's ID. This module must not do I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use crate::config::{Selection, StateSet};

/// Where a container is declared in the pod spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContainerKind {
    Init,
    Regular,
    Ephemeral,
}

/// The identity of one container instance in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetKey {
    pub namespace: String,
    pub pod: String,
    pub pod_uid: String,
    pub container: String,
    /// Empty only for a container that has never started (`--no-follow` reports those).
    pub container_id: String,
}

/// Pod-level facts shown with every line of the pod's containers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodInfo {
    pub node: String,
    pub labels: BTreeMap<String, String>,
    /// Shown in `-o json` (as stern does) and to templates.
    pub annotations: BTreeMap<String, String>,
}

/// The state of one container instance, as far as tailing it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    /// The instance runs: its log may still grow.
    Running,
    /// The instance has ended: its log is complete.
    Terminated,
    /// A newer instance of the container exists; this one is `previous` to it.
    Previous,
    /// The container has never started (no instance yet).
    Waiting,
    /// Neither current nor previous: the instance is gone from the pod's status.
    Gone,
}

/// The container's current state as the kubelet reports it (`--container-state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerState {
    Running,
    Waiting,
    Terminated,
}

/// One container instance to tail.
#[derive(Debug, Clone)]
pub struct Target {
    pub key: TargetKey,
    pub kind: ContainerKind,
    pub pod_info: Arc<PodInfo>,
    pub state: InstanceState,
    /// The container's current state (of its newest instance).
    pub container_state: ContainerState,
    /// When this instance started (epoch seconds), if the kubelet said.
    pub started_at: Option<i64>,
}

impl Target {
    /// Whether `--container-state` lets this target through.
    pub fn state_allowed(&self, states: StateSet) -> bool {
        match self.container_state {
            ContainerState::Running => states.running,
            ContainerState::Waiting => states.waiting,
            ContainerState::Terminated => states.terminated,
        }
    }
}

/// Whether the pod itself is selected (name regex, exclusions).
pub fn pod_matches(pod: &Pod, sel: &Selection) -> bool {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    if let Some(q) = &sel.pod_query
        && !q.is_match(name)
    {
        return false;
    }
    if let Some(ex) = &sel.exclude_pods
        && ex.is_match(name)
    {
        return false;
    }
    if let Some((kind, want)) = &sel.condition {
        let status = pod
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| &c.type_ == kind))
            .map(|c| c.status.as_str());
        // A condition the pod does not report yet counts as Unknown.
        if status.unwrap_or("Unknown") != want {
            return false;
        }
    }
    true
}

/// The targets of `pod`, in stern's order: init, regular, then ephemeral containers.
/// With `include_unstarted`, containers that have never started are returned too (with an
/// empty container ID), so a `--no-follow` run can report them. With `previous`, each
/// container's previous instance (if it has one) comes just before its current one.
pub fn select(pod: &Pod, sel: &Selection, include_unstarted: bool, previous: bool) -> Vec<Target> {
    if !pod_matches(pod, sel) {
        return Vec::new();
    }
    let (Some(spec), meta) = (pod.spec.as_ref(), &pod.metadata) else {
        return Vec::new();
    };
    let status = pod.status.as_ref();
    let info = Arc::new(PodInfo {
        node: spec.node_name.clone().unwrap_or_default(),
        labels: meta.labels.clone().unwrap_or_default(),
        annotations: meta.annotations.clone().unwrap_or_default(),
    });
    let mut names: Vec<(ContainerKind, &str)> = Vec::new();
    if sel.init_containers {
        for c in spec.init_containers.iter().flatten() {
            names.push((ContainerKind::Init, &c.name));
        }
    }
    for c in &spec.containers {
        names.push((ContainerKind::Regular, &c.name));
    }
    if sel.ephemeral_containers {
        for c in spec.ephemeral_containers.iter().flatten() {
            names.push((ContainerKind::Ephemeral, &c.name));
        }
    }

    let mut out = Vec::new();
    for (kind, name) in names {
        if !sel.container.is_match(name) {
            continue;
        }
        if let Some(ex) = &sel.exclude_containers
            && ex.is_match(name)
        {
            continue;
        }
        let statuses = status.and_then(|s| match kind {
            ContainerKind::Init => s.init_container_statuses.as_ref(),
            ContainerKind::Regular => s.container_statuses.as_ref(),
            ContainerKind::Ephemeral => s.ephemeral_container_statuses.as_ref(),
        });
        let cs = statuses.and_then(|v| v.iter().find(|cs| cs.name == name));
        let container_state = cs.map(current_state).unwrap_or(ContainerState::Waiting);
        let target = |container_id: String, state, started_at| Target {
            key: TargetKey {
                namespace: meta.namespace.clone().unwrap_or_default(),
                pod: meta.name.clone().unwrap_or_default(),
                pod_uid: meta.uid.clone().unwrap_or_default(),
                container: name.to_string(),
                container_id,
            },
            kind,
            pod_info: info.clone(),
            state,
            container_state,
            started_at,
        };
        let current = cs.and_then(current_instance);
        if previous
            && let Some((last, started)) = cs.and_then(previous_instance)
            && current.as_ref().is_none_or(|(id, _)| *id != last)
        {
            out.push(target(last, InstanceState::Previous, started));
        }
        match current {
            Some((id, state)) => {
                let started = cs.and_then(|cs| started_at(cs, &id));
                out.push(target(id, state, started));
            }
            None if include_unstarted => {
                out.push(target(String::new(), InstanceState::Waiting, None));
            }
            None => {}
        }
    }
    out
}

fn current_state(cs: &ContainerStatus) -> ContainerState {
    match cs.state.as_ref() {
        Some(s) if s.running.is_some() => ContainerState::Running,
        Some(s) if s.terminated.is_some() => ContainerState::Terminated,
        _ => ContainerState::Waiting,
    }
}

/// The ID and start of the last terminated instance, if the kubelet still reports one.
fn previous_instance(cs: &ContainerStatus) -> Option<(String, Option<i64>)> {
    let t = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref())?;
    let id = t.container_id.clone().filter(|id| !id.is_empty())?;
    Some((id, t.started_at.as_ref().map(|t| t.0.as_second())))
}

/// When the instance `id` of this container started.
fn started_at(cs: &ContainerStatus, id: &str) -> Option<i64> {
    let state = cs.state.as_ref();
    if let Some(r) = state.and_then(|s| s.running.as_ref()) {
        return r.started_at.as_ref().map(|t| t.0.as_second());
    }
    let terminated = [state, cs.last_state.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|s| s.terminated.as_ref())
        .find(|t| t.container_id.as_deref().is_none_or(|c| c == id));
    terminated.and_then(|t| t.started_at.as_ref().map(|t| t.0.as_second()))
}

/// The instance a container status points at, with its state.
fn current_instance(cs: &ContainerStatus) -> Option<(String, InstanceState)> {
    let state = cs.state.as_ref();
    if state.and_then(|s| s.running.as_ref()).is_some() {
        let id = cs.container_id.clone().filter(|id| !id.is_empty())?;
        return Some((id, InstanceState::Running));
    }
    if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
        let id = t
            .container_id
            .clone()
            .or_else(|| cs.container_id.clone())
            .filter(|id| !id.is_empty());
        if let Some(id) = id {
            return Some((id, InstanceState::Terminated));
        }
    }
    // Waiting after a crash (CrashLoopBackOff): the last run is still readable.
    let last = cs.last_state.as_ref().and_then(|s| s.terminated.as_ref())?;
    let id = last.container_id.clone().filter(|id| !id.is_empty())?;
    Some((id, InstanceState::Terminated))
}

/// Where the instance `key` stands in the latest `pod`: still running, ended, replaced by
/// a newer instance, or gone. Drives the reconnect decision of a tail.
pub fn instance_state(pod: &Pod, key: &TargetKey) -> InstanceState {
    if pod.metadata.uid.as_deref().unwrap_or_default() != key.pod_uid {
        return InstanceState::Gone;
    }
    let Some(status) = pod.status.as_ref() else {
        return InstanceState::Gone;
    };
    let all = status
        .init_container_statuses
        .iter()
        .chain(status.container_statuses.iter())
        .chain(status.ephemeral_container_statuses.iter())
        .flatten();
    for cs in all.filter(|cs| cs.name == key.container) {
        if let Some((id, state)) = current_instance(cs)
            && id == key.container_id
        {
            // current_instance reports a crash-looping container's last run as its own.
            let is_last_run = cs
                .last_state
                .as_ref()
                .and_then(|s| s.terminated.as_ref())
                .and_then(|t| t.container_id.as_deref())
                == Some(id.as_str())
                && cs
                    .state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .is_none();
            return if is_last_run {
                InstanceState::Previous
            } else {
                state
            };
        }
        let last_id = cs
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.container_id.as_deref());
        if last_id == Some(key.container_id.as_str()) {
            return InstanceState::Previous;
        }
    }
    InstanceState::Gone
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Selection, StateSet};
    use regex::{Regex, RegexSet};
    use serde_json::json;

    fn sel() -> Selection {
        Selection {
            pod_query: None,
            exclude_pods: None,
            container: Regex::new(".*").unwrap(),
            exclude_containers: None,
            init_containers: true,
            ephemeral_containers: true,
            condition: None,
            states: StateSet::ALL,
            previous: false,
        }
    }

    fn pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-1", "namespace": "prod", "uid": "u1", "labels": {"app": "web"}},
            "spec": {
                "nodeName": "node-1",
                "initContainers": [{"name": "init"}],
                "containers": [{"name": "app"}, {"name": "sidecar"}, {"name": "pending"}],
                "ephemeralContainers": [{"name": "debug"}]
            },
            "status": {
                "initContainerStatuses": [{"name": "init", "containerID": "c://i1",
                    "state": {"terminated": {"exitCode": 0, "containerID": "c://i1"}}}],
                "containerStatuses": [
                    {"name": "app", "containerID": "c://a2", "restartCount": 1,
                     "state": {"running": {}},
                     "lastState": {"terminated": {"exitCode": 1, "containerID": "c://a1"}}},
                    {"name": "sidecar", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                     "lastState": {"terminated": {"exitCode": 1, "containerID": "c://s1"}}},
                    {"name": "pending", "state": {"waiting": {"reason": "ContainerCreating"}}}
                ],
                "ephemeralContainerStatuses": [{"name": "debug", "containerID": "c://d1", "state": {"running": {}}}]
            }
        }))
        .unwrap()
    }

    fn names(ts: &[Target]) -> Vec<(String, String)> {
        ts.iter()
            .map(|t| (t.key.container.clone(), t.key.container_id.clone()))
            .collect()
    }

    #[test]
    fn every_started_container_in_stern_order() {
        let ts = select(&pod(), &sel(), false, false);
        assert_eq!(
            names(&ts),
            [
                ("init".into(), "c://i1".into()),
                ("app".into(), "c://a2".into()),
                ("sidecar".into(), "c://s1".into()),
                ("debug".into(), "c://d1".into()),
            ]
        );
        assert_eq!(ts[0].kind, ContainerKind::Init);
        assert_eq!(ts[3].kind, ContainerKind::Ephemeral);
        assert_eq!(ts[1].pod_info.node, "node-1");
        assert_eq!(ts[1].key.namespace, "prod");
    }

    #[test]
    fn unstarted_containers_only_when_asked() {
        let ts = select(&pod(), &sel(), true, false);
        let pending = ts.iter().find(|t| t.key.container == "pending").unwrap();
        assert_eq!(pending.key.container_id, "");
        assert_eq!(pending.state, InstanceState::Waiting);
    }

    #[test]
    fn container_include_exclude_and_kinds() {
        let mut s = sel();
        s.container = Regex::new("^(app|init|debug)$").unwrap();
        s.exclude_containers = Some(RegexSet::new(["deb"]).unwrap());
        s.init_containers = false;
        let ts = select(&pod(), &s, false, false);
        assert_eq!(names(&ts), [("app".into(), "c://a2".into())]);
        let mut s = sel();
        s.ephemeral_containers = false;
        assert!(
            select(&pod(), &s, false, false)
                .iter()
                .all(|t| t.key.container != "debug")
        );
    }

    #[test]
    fn pod_regex_and_exclusions() {
        let mut s = sel();
        s.pod_query = Some(Regex::new("eb-").unwrap());
        assert_eq!(select(&pod(), &s, false, false).len(), 4);
        s.pod_query = Some(Regex::new("^db").unwrap());
        assert!(select(&pod(), &s, false, false).is_empty());
        let mut s = sel();
        s.exclude_pods = Some(RegexSet::new(["web"]).unwrap());
        assert!(select(&pod(), &s, false, false).is_empty());
    }

    #[test]
    fn previous_instances_come_first() {
        let ts = select(&pod(), &sel(), false, true);
        let app: Vec<(String, InstanceState)> = ts
            .iter()
            .filter(|t| t.key.container == "app")
            .map(|t| (t.key.container_id.clone(), t.state))
            .collect();
        assert_eq!(
            app,
            [
                ("c://a1".into(), InstanceState::Previous),
                ("c://a2".into(), InstanceState::Running)
            ]
        );
        // A crash-looping container's last run is its one readable instance: not twice.
        assert_eq!(
            ts.iter().filter(|t| t.key.container == "sidecar").count(),
            1
        );
    }

    #[test]
    fn container_states_and_conditions() {
        let ts = select(&pod(), &sel(), true, false);
        let only = |states: StateSet| -> Vec<String> {
            ts.iter()
                .filter(|t| t.state_allowed(states))
                .map(|t| t.key.container.clone())
                .collect()
        };
        let none = StateSet {
            running: false,
            waiting: false,
            terminated: false,
        };
        assert_eq!(
            only(StateSet {
                running: true,
                ..none
            }),
            ["app", "debug"]
        );
        assert_eq!(
            only(StateSet {
                waiting: true,
                ..none
            }),
            ["sidecar", "pending"]
        );
        assert_eq!(
            only(StateSet {
                terminated: true,
                ..none
            }),
            ["init"]
        );

        let mut p = pod();
        p.status.as_mut().unwrap().conditions = Some(vec![
            serde_json::from_value(json!({"type": "Ready", "status": "False"})).unwrap(),
        ]);
        let mut s = sel();
        s.condition = Some(("Ready".into(), "False".into()));
        assert!(pod_matches(&p, &s));
        s.condition = Some(("Ready".into(), "True".into()));
        assert!(!pod_matches(&p, &s));
        s.condition = Some(("PodScheduled".into(), "Unknown".into()));
        assert!(pod_matches(&p, &s), "a missing condition is Unknown");
    }

    #[test]
    fn instance_states_follow_restarts() {
        let p = pod();
        let key = |c: &str, id: &str| TargetKey {
            namespace: "prod".into(),
            pod: "web-1".into(),
            pod_uid: "u1".into(),
            container: c.into(),
            container_id: id.into(),
        };
        assert_eq!(
            instance_state(&p, &key("app", "c://a2")),
            InstanceState::Running
        );
        assert_eq!(
            instance_state(&p, &key("app", "c://a1")),
            InstanceState::Previous
        );
        assert_eq!(
            instance_state(&p, &key("app", "c://a0")),
            InstanceState::Gone
        );
        assert_eq!(
            instance_state(&p, &key("init", "c://i1")),
            InstanceState::Terminated
        );
        assert_eq!(
            instance_state(&p, &key("sidecar", "c://s1")),
            InstanceState::Previous
        );
        let mut other = key("app", "c://a2");
        other.pod_uid = "u2".into();
        assert_eq!(instance_state(&p, &other), InstanceState::Gone);
    }
}
