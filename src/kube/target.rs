//! Which containers of a pod are tailed: pure functions of a `Pod` and the `Selection`.
//!
//! A target is one container *instance*: the container ID is part of its identity, so a
//! restart (new ID) is a new target and is tailed again from its first line, while the
//! old instance's stream drains. A container becomes a target once the kubelet reports an
//! ID for it (stern's rule): running → its ID, terminated → that instance's ID, waiting
//! after a crash → the last terminated instance's ID. [`admit`] is the one rule that
//! decides which targets of a pod are tailed, for a list and for a watch alike. This
//! module must not do I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use crate::kube::outcome::{self, Ending};
use regex::{Regex, RegexSet};

/// Which pods and containers are tailed: the rules applied locally, to each `Pod` the
/// API server sends (selectors are the server's, see `PodQuery`).
#[derive(Debug, Clone)]
pub(crate) struct Selection {
    /// The QUERY regex on pod names.
    pub(crate) pod_query: Option<Regex>,
    pub(crate) exclude_pods: Option<RegexSet>,
    pub(crate) container: Regex,
    pub(crate) exclude_containers: Option<RegexSet>,
    pub(crate) init_containers: bool,
    pub(crate) ephemeral_containers: bool,
    /// `--condition`: the pod condition type (canonical case) and wanted status.
    pub(crate) condition: Option<(String, String)>,
    /// `--container-state`: which current states pass (for containers found at start).
    pub(crate) states: StateSet,
    /// `--previous`: also select the previous instance of each container.
    pub(crate) previous: bool,
    /// When the run started (epoch seconds): instances that started earlier get
    /// `--since`/`--tail`, later ones are read from their first line.
    pub(crate) run_start: i64,
}

/// A set of container states for `--container-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StateSet {
    pub(crate) running: bool,
    pub(crate) waiting: bool,
    pub(crate) terminated: bool,
}

impl StateSet {
    pub(crate) const ALL: StateSet = StateSet {
        running: true,
        waiting: true,
        terminated: true,
    };
}

/// How a pod came to ktail's attention, which decides which of its instances are tailed
/// and which of them get `--since`/`--tail` ("history").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sighting {
    /// `--no-follow`: listed once. Every selected container is admitted, one that never
    /// started too (its read then says why it has no log); with `--previous`, only the
    /// previous instances. All of it is history.
    Listed,
    /// Reported by a watch.
    Watched {
        /// Found by the first list of a scope opened at start.
        at_start: bool,
        /// The pod matches again after it had stopped matching (`--condition`): it
        /// starts over like a pod found at start.
        rematched: bool,
    },
}

/// A target to tail, and whether `--since`/`--tail` apply to it.
#[derive(Debug, Clone)]
pub(crate) struct Admitted {
    pub(crate) target: Target,
    pub(crate) history: bool,
    /// Not to be tailed anew (an earlier instance of a container found at start, without
    /// `--previous`): it only tells a tail that already reads it how it ended.
    pub(crate) known_only: bool,
}

/// The targets of `pod` that are tailed, the one rule for lists and watches.
pub(crate) fn admit(pod: &Pod, sel: &Selection, seen: Sighting) -> Vec<Admitted> {
    match seen {
        Sighting::Listed => select(pod, sel, true, sel.previous)
            .into_iter()
            // --previous with --no-follow: the previous instances only.
            .filter(|t| !sel.previous || t.state == InstanceState::Previous)
            .filter(|t| t.state_allowed(sel.states))
            .map(|target| Admitted {
                target,
                history: true,
                known_only: false,
            })
            .collect(),
        Sighting::Watched {
            at_start,
            rematched,
        } => {
            // --previous asks for the previous instances of the containers found at
            // start (or on a re-match). A previous instance that started after ktail is
            // read whatever the flags: ktail never saw it running (the container
            // restarted while the watch was away, or before its pod was first listed),
            // and its lines are new.
            let wants_previous = sel.previous && (at_start || rematched);
            select(pod, sel, false, true)
                .into_iter()
                .filter_map(|target| {
                    // Found by the first list of a scope opened at start, or started
                    // before ktail: --since/--tail apply. Anything else started later:
                    // read it from its start.
                    let history = rematched
                        || at_start
                        || target.started_at.is_some_and(|t| t < sel.run_start);
                    if target.state == InstanceState::Previous && history && !wants_previous {
                        // The instance ktail may be reading: a restart the watch saw
                        // in one step (new instance running, this one in lastState).
                        return Some(Admitted {
                            target,
                            history,
                            known_only: true,
                        });
                    }
                    // --container-state concerns the containers found at start.
                    if history && !target.state_allowed(sel.states) {
                        return None;
                    }
                    Some(Admitted {
                        target,
                        history,
                        known_only: false,
                    })
                })
                .collect()
        }
    }
}

/// Where a container is declared in the pod spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ContainerKind {
    Init,
    Regular,
    Ephemeral,
}

/// The identity of one container instance in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TargetKey {
    /// The kubeconfig context the pod lives in when several are followed, else empty:
    /// the same names in two clusters are two containers.
    pub(crate) context: Arc<str>,
    pub(crate) namespace: String,
    pub(crate) pod: String,
    pub(crate) pod_uid: String,
    pub(crate) container: String,
    /// Empty only for a container that has never started (`--no-follow` reports those).
    pub(crate) container_id: String,
}

/// Pod-level facts shown with every line of the pod's containers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PodInfo {
    pub(crate) node: String,
    pub(crate) labels: BTreeMap<String, String>,
    /// Shown in `-o json` (as stern does) and to templates.
    pub(crate) annotations: BTreeMap<String, String>,
}

/// The state of one container instance, as far as tailing it is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InstanceState {
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
pub(crate) enum ContainerState {
    Running,
    Waiting,
    Terminated,
}

/// One container instance to tail.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) key: TargetKey,
    pub(crate) pod_info: Arc<PodInfo>,
    pub(crate) state: InstanceState,
    /// The container's current state (of its newest instance).
    pub(crate) container_state: ContainerState,
    /// When this instance started (epoch seconds), if the kubelet said.
    pub(crate) started_at: Option<i64>,
    /// Why a container that has never started waits, as the kubelet says it
    /// (`ImagePullBackOff: Back-off pulling image "x"`); only for `InstanceState::Waiting`.
    pub(crate) waiting: Option<String>,
    /// How the instance ended, when it has.
    pub(crate) ended: Option<Ending>,
}

impl TargetKey {
    /// `namespace/pod`, or `context/namespace/pod` when several contexts are followed:
    /// how messages name the pod.
    pub(crate) fn pod_path(&self) -> String {
        match self.context.is_empty() {
            true => format!("{}/{}", self.namespace, self.pod),
            false => format!("{}/{}/{}", self.context, self.namespace, self.pod),
        }
    }
}

impl Target {
    /// Whether `--container-state` lets this target through.
    pub(crate) fn state_allowed(&self, states: StateSet) -> bool {
        match self.container_state {
            ContainerState::Running => states.running,
            ContainerState::Waiting => states.waiting,
            ContainerState::Terminated => states.terminated,
        }
    }
}

/// Whether the pod itself is selected (name regex, exclusions).
pub(crate) fn pod_matches(pod: &Pod, sel: &Selection) -> bool {
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
fn select(pod: &Pod, sel: &Selection, include_unstarted: bool, previous: bool) -> Vec<Target> {
    if !pod_matches(pod, sel) {
        return Vec::new();
    }
    let (Some(spec), meta) = (pod.spec.as_ref(), &pod.metadata) else {
        return Vec::new();
    };
    let info = Arc::new(PodInfo {
        node: spec.node_name.clone().unwrap_or_default(),
        labels: meta.labels.clone().unwrap_or_default(),
        annotations: meta.annotations.clone().unwrap_or_default(),
    });
    let mut out = Vec::new();
    for (name, cs) in containers(pod, sel) {
        let container_state = cs.map(current_state).unwrap_or(ContainerState::Waiting);
        let target = |container_id: String, state, started_at| Target {
            key: TargetKey {
                context: Arc::from(""),
                namespace: meta.namespace.clone().unwrap_or_default(),
                pod: meta.name.clone().unwrap_or_default(),
                pod_uid: meta.uid.clone().unwrap_or_default(),
                container: name.to_string(),
                container_id,
            },
            pod_info: info.clone(),
            state,
            container_state,
            started_at,
            waiting: None,
            ended: None,
        };
        let current = cs.and_then(current_instance);
        let ended = |id: &str| cs.and_then(|cs| outcome::instance_ending(cs, id));
        if previous
            && let Some((last, started)) = cs.and_then(previous_instance)
            && current.as_ref().is_none_or(|(id, _)| *id != last)
        {
            let mut t = target(last, InstanceState::Previous, started);
            t.ended = ended(&t.key.container_id);
            out.push(t);
        }
        match current {
            Some((id, state)) => {
                let started = cs.and_then(|cs| started_at(cs, &id));
                let mut t = target(id, state, started);
                if state != InstanceState::Running {
                    t.ended = ended(&t.key.container_id);
                }
                out.push(t);
            }
            None if include_unstarted => {
                let mut t = target(String::new(), InstanceState::Waiting, None);
                t.waiting = Some(
                    cs.map(waiting_reason)
                        .unwrap_or_else(|| "not created yet".into()),
                );
                out.push(t);
            }
            None => {}
        }
    }
    out
}

/// The kubelet's reason (and message) for a container that waits.
fn waiting_reason(cs: &ContainerStatus) -> String {
    let w = cs.state.as_ref().and_then(|s| s.waiting.as_ref());
    let reason = w.and_then(|w| w.reason.as_deref()).unwrap_or("Waiting");
    match w
        .and_then(|w| w.message.as_deref())
        .filter(|m| !m.is_empty())
    {
        Some(msg) => format!("{reason}: {msg}"),
        None => reason.to_string(),
    }
}

/// The selected containers of `pod` in stern's order (init, regular, ephemeral), with
/// their status when the kubelet reports one.
fn containers<'p>(pod: &'p Pod, sel: &Selection) -> Vec<(&'p str, Option<&'p ContainerStatus>)> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let status = pod.status.as_ref();
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
    names
        .into_iter()
        .filter(|(_, name)| {
            sel.container.is_match(name)
                && sel
                    .exclude_containers
                    .as_ref()
                    .is_none_or(|ex| !ex.is_match(name))
        })
        .map(|(kind, name)| {
            let statuses = status.and_then(|s| match kind {
                ContainerKind::Init => s.init_container_statuses.as_ref(),
                ContainerKind::Regular => s.container_statuses.as_ref(),
                ContainerKind::Ephemeral => s.ephemeral_container_statuses.as_ref(),
            });
            (
                name,
                statuses.and_then(|v| v.iter().find(|cs| cs.name == name)),
            )
        })
        .collect()
}

/// Waiting reasons that keep a container from running until something changes: a crash
/// loop's back-off, an image that cannot be pulled, a configuration that cannot be used.
const BLOCKING: [&str; 8] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// A selected container that is blocked, with the kubelet's reason and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blocked {
    pub(crate) container: String,
    pub(crate) reason: String,
    pub(crate) message: String,
}

/// The selected containers of `pod` that wait for a blocking reason.
pub(crate) fn blocked_containers(pod: &Pod, sel: &Selection) -> Vec<Blocked> {
    containers(pod, sel)
        .into_iter()
        .filter_map(|(name, cs)| {
            let w = cs?.state.as_ref()?.waiting.as_ref()?;
            let reason = w.reason.as_deref().filter(|r| BLOCKING.contains(r))?;
            Some(Blocked {
                container: name.to_string(),
                reason: reason.to_string(),
                message: w.message.clone().unwrap_or_default(),
            })
        })
        .collect()
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
pub(crate) fn instance_state(pod: &Pod, key: &TargetKey) -> InstanceState {
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
            run_start: 100,
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
        assert_eq!(ts[1].pod_info.node, "node-1");
        assert_eq!(ts[1].key.namespace, "prod");
    }

    #[test]
    fn unstarted_containers_only_when_asked() {
        let ts = select(&pod(), &sel(), true, false);
        let pending = ts.iter().find(|t| t.key.container == "pending").unwrap();
        assert_eq!(pending.key.container_id, "");
        assert_eq!(pending.state, InstanceState::Waiting);
        assert_eq!(pending.waiting.as_deref(), Some("ContainerCreating"));
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
            context: Arc::from(""),
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

    /// A pod seen while ktail runs (it started at second 100): `app` restarted at 200
    /// (its previous run started at 50), `side` has run since 50, `late` started at 300.
    fn restarted_pod() -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "web-1", "namespace": "prod", "uid": "u1"},
            "spec": {"containers": [{"name": "app"}, {"name": "side"}, {"name": "late"}]},
            "status": {"containerStatuses": [
                {"name": "app", "containerID": "c://a2", "restartCount": 1,
                 "state": {"running": {"startedAt": "1970-01-01T00:03:20Z"}},
                 "lastState": {"terminated": {"exitCode": 1, "containerID": "c://a1",
                     "startedAt": "1970-01-01T00:00:50Z"}}},
                {"name": "side", "containerID": "c://s1",
                 "state": {"running": {"startedAt": "1970-01-01T00:00:50Z"}}},
                {"name": "late", "containerID": "c://l1",
                 "state": {"running": {"startedAt": "1970-01-01T00:05:00Z"}}}
            ]}
        }))
        .unwrap()
    }

    /// The instances tailed anew, and whether with history.
    fn admitted(pod: &Pod, sel: &Selection, seen: Sighting) -> Vec<(String, bool)> {
        admit(pod, sel, seen)
            .into_iter()
            .filter(|a| !a.known_only)
            .map(|a| (a.target.key.container_id, a.history))
            .collect()
    }

    /// The instances passed only for a tail that already reads them.
    fn known_only(pod: &Pod, sel: &Selection, seen: Sighting) -> Vec<String> {
        admit(pod, sel, seen)
            .into_iter()
            .filter(|a| a.known_only)
            .map(|a| a.target.key.container_id)
            .collect()
    }

    #[test]
    fn one_admission_rule_for_lists_and_watches() {
        let p = restarted_pod();
        let mut previous = sel();
        previous.previous = true;
        let owned = |v: &[(&str, bool)]| -> Vec<(String, bool)> {
            v.iter().map(|(id, h)| (id.to_string(), *h)).collect()
        };
        let watched = |at_start, rematched| Sighting::Watched {
            at_start,
            rematched,
        };
        // --no-follow: every current instance, all of it history; with --previous, the
        // previous instances only.
        assert_eq!(
            admitted(&p, &sel(), Sighting::Listed),
            owned(&[("c://a2", true), ("c://s1", true), ("c://l1", true)])
        );
        assert_eq!(
            admitted(&p, &previous, Sighting::Listed),
            owned(&[("c://a1", true)])
        );
        // Found at start: history for all; the previous run only with --previous.
        assert_eq!(
            admitted(&p, &sel(), watched(true, false)),
            owned(&[("c://a2", true), ("c://s1", true), ("c://l1", true)])
        );
        // Its previous run still reaches a tail that reads it, to say how it ended.
        assert_eq!(known_only(&p, &sel(), watched(true, false)), ["c://a1"]);
        assert!(known_only(&p, &previous, watched(true, false)).is_empty());
        assert_eq!(
            admitted(&p, &previous, watched(true, false)),
            owned(&[
                ("c://a1", true),
                ("c://a2", true),
                ("c://s1", true),
                ("c://l1", true)
            ])
        );
        // Seen later: what started after ktail is read from its start, what ran before
        // gets --since/--tail, and a run ktail never saw (the restart happened while the
        // watch was away) is read whatever --previous says.
        assert_eq!(
            admitted(&p, &sel(), watched(false, false)),
            owned(&[("c://a2", false), ("c://s1", true), ("c://l1", false)])
        );
        // Matching again after it had stopped matching starts over like a pod at start.
        assert_eq!(
            admitted(&p, &sel(), watched(false, true)),
            owned(&[("c://a2", true), ("c://s1", true), ("c://l1", true)])
        );
        // --container-state concerns history only: a container that starts later is
        // always read.
        let mut waiting_only = sel();
        waiting_only.states = StateSet {
            running: false,
            waiting: true,
            terminated: false,
        };
        assert_eq!(admitted(&p, &waiting_only, Sighting::Listed), owned(&[]));
        assert_eq!(
            admitted(&p, &waiting_only, watched(false, false)),
            owned(&[("c://a2", false), ("c://l1", false)])
        );
    }
}
