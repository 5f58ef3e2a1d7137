//! The pod as the API server serves it: `spec` (with the defaults admission and the API
//! server fill in), `status` with conditions, IPs and per-container states as the kubelet
//! reports them (runtime image IDs, container IDs, last states, restart counts). It reads
//! a [`Pod`] and must not change it.

use serde_json::{Map, Value, json};

use super::{Container, ContainerKind, Pod, State, Terminated};
use crate::meta::{fmt_time, normalize_image};
use crate::spec::ContainerSpec;

impl Pod {
    /// The pod as the API server serves it (kind/apiVersion included; the store sets
    /// `metadata.resourceVersion`).
    pub(crate) fn to_json(&self) -> Value {
        let mut meta = self.meta.to_json();
        if let Some(g) = &self.generate_name {
            meta.insert("generateName".into(), json!(g));
        }
        if let Some(o) = &self.owner {
            meta.insert("ownerReferences".into(), json!([o.to_json()]));
        }
        if let Some(d) = &self.deletion {
            meta.insert("deletionTimestamp".into(), json!(fmt_time(d.at)));
            meta.insert("deletionGracePeriodSeconds".into(), json!(d.grace_secs));
        }
        let mut spec = pod_spec_json(
            &self.init.iter().map(|c| c.spec.clone()).collect::<Vec<_>>(),
            &self
                .containers
                .iter()
                .map(|c| c.spec.clone())
                .collect::<Vec<_>>(),
            &self.restart_policy,
        );
        for (k, v) in &self.spec_extra {
            spec.insert(k.clone(), v.clone());
        }
        if !self.ephemeral.is_empty() {
            let eph: Vec<Value> = self
                .ephemeral
                .iter()
                .map(|c| {
                    let mut v = container_spec_json(&c.spec);
                    if let Some(t) = self.containers.first() {
                        v["targetContainerName"] = json!(t.name());
                    }
                    v
                })
                .collect();
            spec.insert("ephemeralContainers".into(), Value::Array(eph));
        }
        if let Some(n) = &self.node {
            spec.insert("nodeName".into(), json!(n));
        }
        if let Some((h, sub)) = &self.hostname {
            spec.insert("hostname".into(), json!(h));
            spec.insert("subdomain".into(), json!(sub));
        }
        json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": meta,
            "spec": spec,
            "status": self.status_json(),
        })
    }

    fn status_json(&self) -> Value {
        let mut st = Map::new();
        st.insert("phase".into(), json!(self.phase()));
        st.insert("qosClass".into(), json!("BestEffort"));
        let cond = |name: &str| {
            self.conditions.get(name).map(|(v, t)| {
                let mut c = json!({
                    "type": name,
                    "status": if *v { "True" } else { "False" },
                    "lastProbeTime": null,
                    "lastTransitionTime": fmt_time(*t),
                });
                if !*v {
                    match name {
                        "PodScheduled" => {
                            c["reason"] = json!("Unschedulable");
                            c["message"] = json!(super::UNSCHEDULABLE);
                        }
                        "Initialized" => {
                            c["reason"] = json!("ContainersNotInitialized");
                            c["message"] = json!(format!(
                                "containers with incomplete status: [{}]",
                                self.init
                                    .iter()
                                    .filter(|c| !matches!(&c.state, State::Terminated(t) if t.exit_code == 0))
                                    .map(Container::name)
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            ));
                        }
                        "Ready" | "ContainersReady" => {
                            c["reason"] = json!("ContainersNotReady");
                            c["message"] = json!(format!(
                                "containers with unready status: [{}]",
                                self.containers
                                    .iter()
                                    .filter(|c| !c.is_ready())
                                    .map(Container::name)
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            ));
                        }
                        _ => {}
                    }
                }
                c
            })
        };
        let conditions: Vec<Value> = [
            "PodReadyToStartContainers",
            "Initialized",
            "Ready",
            "ContainersReady",
            "PodScheduled",
        ]
        .into_iter()
        .filter_map(cond)
        .collect();
        st.insert("conditions".into(), Value::Array(conditions));
        if self.node.is_none() {
            return Value::Object(st);
        }
        st.insert("hostIP".into(), json!(self.host_ip));
        st.insert("hostIPs".into(), json!([{ "ip": self.host_ip }]));
        st.insert("podIP".into(), json!(self.ip));
        st.insert("podIPs".into(), json!([{ "ip": self.ip }]));
        st.insert("startTime".into(), json!(fmt_time(self.meta.created)));
        if !self.init.is_empty() {
            st.insert(
                "initContainerStatuses".into(),
                self.init.iter().map(status_json).collect(),
            );
        }
        st.insert(
            "containerStatuses".into(),
            self.containers.iter().map(status_json).collect(),
        );
        if !self.ephemeral.is_empty() {
            st.insert(
                "ephemeralContainerStatuses".into(),
                self.ephemeral.iter().map(status_json).collect(),
            );
        }
        Value::Object(st)
    }
}

fn terminated_json(t: &Terminated) -> Value {
    json!({
        "exitCode": t.exit_code,
        "reason": t.reason,
        "startedAt": fmt_time(t.started),
        "finishedAt": fmt_time(t.finished),
        "containerID": t.id,
    })
}

/// A `ContainerStatus`.
fn status_json(c: &Container) -> Value {
    let image = normalize_image(&c.spec.image);
    let state = match &c.state {
        State::Waiting { reason, message } => {
            let mut w = json!({ "reason": reason });
            if let Some(m) = message {
                w["message"] = json!(m);
            }
            json!({ "waiting": w })
        }
        State::Running { started } => json!({ "running": { "startedAt": fmt_time(*started) } }),
        State::Terminated(t) => json!({ "terminated": terminated_json(t) }),
    };
    let last = match &c.last {
        Some(t) => json!({ "terminated": terminated_json(t) }),
        None => json!({}),
    };
    let mut s = json!({
        "name": c.spec.name,
        "image": image,
        "imageID": if c.started_once { image_id(&image) } else { String::new() },
        "ready": c.is_ready() && c.kind != ContainerKind::Ephemeral,
        "restartCount": c.restarts,
        "state": state,
        "lastState": last,
    });
    if c.kind != ContainerKind::Ephemeral {
        s["started"] = json!(c.is_running());
    }
    if !c.id.is_empty() {
        s["containerID"] = json!(c.id);
    }
    s
}

/// A stable fake digest for an image reference.
fn image_id(image: &str) -> String {
    let repo = image.rsplit_once(':').map_or(image, |(r, _)| r);
    let mut h = crate::meta::fnv64(image.as_bytes());
    let mut hex = String::with_capacity(64);
    for _ in 0..4 {
        hex.push_str(&format!("{h:016x}"));
        h = crate::meta::fnv64(&h.to_le_bytes());
    }
    format!("{repo}@sha256:{hex}")
}

/// The default `imagePullPolicy`: `Always` for `:latest` or no tag, else `IfNotPresent`.
pub(crate) fn pull_policy(image: &str) -> &'static str {
    if image.ends_with(":latest") || !image.contains(':') {
        "Always"
    } else {
        "IfNotPresent"
    }
}

/// A container in a pod spec or pod template.
pub(crate) fn container_spec_json(c: &ContainerSpec) -> Value {
    let pull = pull_policy(&c.image);
    let mut v = json!({
        "name": c.name,
        "image": c.image,
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": pull,
    });
    if !c.command.is_empty() {
        v["command"] = json!(c.command);
    }
    if !c.args.is_empty() {
        v["args"] = json!(c.args);
    }
    for (k, x) in &c.extra {
        v[k] = x.clone();
    }
    v
}

/// The `spec` of a pod or pod template.
pub(crate) fn pod_spec_json(
    init: &[ContainerSpec],
    containers: &[ContainerSpec],
    restart_policy: &str,
) -> Map<String, Value> {
    let mut spec = Map::new();
    if !init.is_empty() {
        spec.insert(
            "initContainers".into(),
            init.iter().map(container_spec_json).collect(),
        );
    }
    spec.insert(
        "containers".into(),
        containers.iter().map(container_spec_json).collect(),
    );
    spec.insert("restartPolicy".into(), json!(restart_policy));
    spec.insert("terminationGracePeriodSeconds".into(), json!(30));
    spec.insert("dnsPolicy".into(), json!("ClusterFirst"));
    spec.insert("serviceAccountName".into(), json!("default"));
    spec.insert("serviceAccount".into(), json!("default"));
    spec.insert("securityContext".into(), json!({}));
    spec.insert("schedulerName".into(), json!("default-scheduler"));
    spec.insert("enableServiceLinks".into(), json!(true));
    spec.insert("priority".into(), json!(0));
    spec.insert("preemptionPolicy".into(), json!("PreemptLowerPriority"));
    spec.insert(
        "tolerations".into(),
        json!([
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
        ]),
    );
    spec
}
