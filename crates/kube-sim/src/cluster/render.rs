//! Publishing: every object of the cluster as the JSON a client receives (namespaces,
//! nodes, services, ReplicaSets, Deployments, StatefulSets, DaemonSets, Jobs, with status
//! counts from their pods), and [`Cluster::commit`], which hands what changed to the
//! store. Rendering reads the domain objects and must not change them.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Value, json};

use super::cronjobs::CronJob;
use super::jobs::{Job, Outcome};
use super::workloads::{DaemonSet, Deployment, ReplicaSet, Service, StatefulSet, Strategy};
use super::{Cluster, NODES, host_ip, node_index};
use crate::meta::{Meta, fmt_time, template_hash};
use crate::store::{Key, Resource};

/// Pod counts per owner uid, gathered once per commit.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    active: u32,
    ready: u32,
    running: u32,
    succeeded: u32,
    failed: u32,
    terminating: u32,
}

fn selector_json(sel: &BTreeMap<String, String>) -> Value {
    json!({ "matchLabels": sel })
}

impl Cluster {
    fn stats(&self) -> BTreeMap<String, Stats> {
        let mut m: BTreeMap<String, Stats> = BTreeMap::new();
        for p in self.pods.values() {
            let Some(o) = &p.owner else { continue };
            let s = m.entry(o.uid.clone()).or_default();
            match p.phase() {
                "Succeeded" => s.succeeded += 1,
                "Failed" => s.failed += 1,
                _ if p.deletion.is_some() => s.terminating += 1,
                _ => {
                    s.active += 1;
                    if p.is_ready() {
                        s.ready += 1;
                    }
                    if p.phase() == "Running" {
                        s.running += 1;
                    }
                }
            }
        }
        m
    }

    /// Renders everything touched since the last commit into the store: the objects,
    /// then the events about them.
    pub(crate) fn commit(&mut self) {
        self.commit_objects();
        self.commit_events();
    }

    fn commit_objects(&mut self) {
        let now = Timestamp::now();
        for key in std::mem::take(&mut self.dirty_pods) {
            match self.pods.get_mut(&key) {
                Some(p) => {
                    p.refresh_conditions(now);
                    let json = p.to_json();
                    self.store.put(Resource::Pod, key, json);
                }
                None => {
                    self.store.remove(Resource::Pod, &key);
                }
            }
        }
        if !std::mem::take(&mut self.workloads_dirty) {
            return;
        }
        let stats = self.stats();
        let get = |uid: &str| stats.get(uid).copied().unwrap_or_default();
        let mut out: Vec<(Resource, Key, Value)> = Vec::new();
        for m in self.namespaces.values() {
            out.push((
                Resource::Namespace,
                (String::new(), m.name.clone()),
                namespace_json(m, self.namespace_deleted_at.get(&m.name)),
            ));
        }
        for m in &self.nodes {
            out.push((
                Resource::Node,
                (String::new(), m.name.clone()),
                node_json(m),
            ));
        }
        for (k, s) in &self.services {
            out.push((Resource::Service, k.clone(), service_json(s)));
        }
        for (k, rs) in &self.replicasets {
            let owner = rs
                .owner
                .as_ref()
                .and_then(|o| self.deployments.get(&(k.0.clone(), o.name.clone())));
            out.push((
                Resource::ReplicaSet,
                k.clone(),
                replicaset_json(rs, get(&rs.meta.uid), owner),
            ));
        }
        for (k, d) in &self.deployments {
            let hash = template_hash(&d.spec.template.hash_input());
            let mut total = Stats::default();
            let mut updated = 0;
            let mut revision = 0;
            let mut desired = 0;
            for rs in self
                .replicasets
                .values()
                .filter(|rs| rs.owned_by(&d.meta.uid))
            {
                let s = get(&rs.meta.uid);
                total.active += s.active;
                total.ready += s.ready;
                desired += rs.replicas;
                if rs.hash == hash {
                    updated = s.active;
                }
                revision = revision.max(rs.revision);
            }
            out.push((
                Resource::Deployment,
                k.clone(),
                deployment_json(d, total, updated, revision, desired),
            ));
        }
        for (k, s) in &self.statefulsets {
            out.push((
                Resource::StatefulSet,
                k.clone(),
                statefulset_json(s, get(&s.meta.uid)),
            ));
        }
        for (k, ds) in &self.daemonsets {
            out.push((
                Resource::DaemonSet,
                k.clone(),
                daemonset_json(ds, get(&ds.meta.uid)),
            ));
        }
        for (k, j) in &self.jobs {
            out.push((Resource::Job, k.clone(), job_json(j, get(&j.meta.uid))));
        }
        for (k, cj) in &self.cronjobs {
            out.push((Resource::CronJob, k.clone(), cronjob_json(cj, &self.jobs)));
        }
        for (r, k, v) in out {
            self.store.put(r, k, v);
        }
    }
}

fn obj(kind: &str, api_version: &str, meta: serde_json::Map<String, Value>, rest: Value) -> Value {
    let mut v = json!({ "kind": kind, "apiVersion": api_version, "metadata": meta });
    if let (Some(o), Value::Object(r)) = (v.as_object_mut(), rest) {
        o.extend(r);
    }
    v
}

fn namespace_json(m: &Meta, deleted: Option<&String>) -> Value {
    let mut meta = m.clone();
    meta.labels
        .insert("kubernetes.io/metadata.name".into(), m.name.clone());
    let mut meta = meta.to_json();
    let phase = match deleted {
        Some(at) => {
            meta.insert("deletionTimestamp".into(), json!(at));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            "Terminating"
        }
        None => "Active",
    };
    obj(
        "Namespace",
        "v1",
        meta,
        json!({ "spec": { "finalizers": ["kubernetes"] }, "status": { "phase": phase } }),
    )
}

/// A Deployment as a dry-run create would store it.
pub(super) fn deployment_preview(d: &Deployment) -> Value {
    deployment_json(d, Stats::default(), 0, 0, 0)
}

fn node_json(m: &Meta) -> Value {
    let ip = host_ip(&m.name);
    let t = fmt_time(m.created);
    obj(
        "Node",
        "v1",
        m.to_json(),
        json!({
            "spec": { "podCIDR": format!("10.244.{}.0/24", node_index(&m.name) + 1) },
            "status": {
                "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": m.name}],
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                    "message": "kubelet is posting ready status", "lastHeartbeatTime": t, "lastTransitionTime": t}],
                "nodeInfo": {"kubeletVersion": "v1.37.1", "containerRuntimeVersion": "containerd://2.1.1",
                    "kernelVersion": "6.8.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                    "operatingSystem": "linux", "architecture": "amd64",
                    "machineID": "", "systemUUID": "", "bootID": "", "kubeProxyVersion": ""},
            }
        }),
    )
}

fn service_json(s: &Service) -> Value {
    let mut spec = json!({
        "clusterIP": s.cluster_ip,
        "clusterIPs": [s.cluster_ip],
        "ports": s.ports,
        "type": "ClusterIP",
        "sessionAffinity": "None",
        "ipFamilies": ["IPv4"],
        "ipFamilyPolicy": "SingleStack",
        "internalTrafficPolicy": "Cluster",
    });
    if !s.selector.is_empty() {
        spec["selector"] = json!(s.selector);
    }
    obj(
        "Service",
        "v1",
        s.meta.to_json(),
        json!({ "spec": spec, "status": { "loadBalancer": {} } }),
    )
}

fn replicaset_json(rs: &ReplicaSet, s: Stats, owner: Option<&Deployment>) -> Value {
    let mut meta = rs.meta.to_json();
    meta.insert("generation".into(), json!(1));
    if let Some(o) = &rs.owner {
        meta.insert("ownerReferences".into(), json!([o.to_json()]));
    }
    let mut annotations = rs.meta.annotations.clone();
    if let Some(d) = owner {
        let surge = match d.spec.strategy {
            Strategy::RollingUpdate { max_surge, .. } => max_surge.resolve(d.spec.replicas, true),
            Strategy::Recreate => 0,
        };
        annotations.insert(
            "deployment.kubernetes.io/desired-replicas".into(),
            d.spec.replicas.to_string(),
        );
        annotations.insert(
            "deployment.kubernetes.io/max-replicas".into(),
            (d.spec.replicas + surge).to_string(),
        );
    }
    annotations.insert(
        "deployment.kubernetes.io/revision".into(),
        rs.revision.to_string(),
    );
    if !rs.revision_history.is_empty() {
        let h: Vec<String> = rs.revision_history.iter().map(u64::to_string).collect();
        annotations.insert(
            "deployment.kubernetes.io/revision-history".into(),
            h.join(","),
        );
    }
    meta.insert("annotations".into(), json!(annotations));
    let mut status = json!({
        "replicas": s.active,
        "fullyLabeledReplicas": s.active,
        "observedGeneration": 1,
    });
    if s.ready > 0 {
        status["readyReplicas"] = json!(s.ready);
        status["availableReplicas"] = json!(s.ready);
    }
    if s.terminating > 0 {
        status["terminatingReplicas"] = json!(s.terminating);
    }
    obj(
        "ReplicaSet",
        "apps/v1",
        meta,
        json!({
            "spec": { "replicas": rs.replicas, "selector": selector_json(&rs.selector),
                      "template": rs.template.to_json() },
            "status": status,
        }),
    )
}

fn deployment_json(
    d: &Deployment,
    total: Stats,
    updated: u32,
    revision: u64,
    desired: u32,
) -> Value {
    let mut meta = d.meta.to_json();
    meta.insert("generation".into(), json!(d.generation));
    let mut annotations = d.meta.annotations.clone();
    if revision > 0 {
        annotations.insert(
            "deployment.kubernetes.io/revision".into(),
            revision.to_string(),
        );
    }
    meta.insert("annotations".into(), json!(annotations));
    let t = fmt_time(d.meta.created);
    let max_unavailable = match d.spec.strategy {
        Strategy::RollingUpdate {
            max_unavailable,
            max_surge,
        } => {
            let u = max_unavailable.resolve(d.spec.replicas, false);
            if u == 0 && max_surge.resolve(d.spec.replicas, true) == 0 {
                1
            } else {
                u
            }
        }
        Strategy::Recreate => 0,
    };
    let available = total.ready + max_unavailable >= d.spec.replicas;
    let complete = updated == d.spec.replicas
        && total.active == d.spec.replicas
        && total.ready >= d.spec.replicas;
    let mut status = json!({
        "observedGeneration": d.generation,
        "replicas": total.active,
        "updatedReplicas": updated,
        "conditions": [
            {"type": "Available", "status": if available { "True" } else { "False" },
             "reason": if available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
             "message": if available { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." },
             "lastUpdateTime": t, "lastTransitionTime": t},
            {"type": "Progressing", "status": "True",
             "reason": if complete { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" },
             "message": format!("ReplicaSet \"{}-{}\" {}", d.meta.name, template_hash(&d.spec.template.hash_input()),
                 if complete { "has successfully progressed." } else { "is progressing." }),
             "lastUpdateTime": t, "lastTransitionTime": t},
        ],
    });
    if total.ready > 0 {
        status["readyReplicas"] = json!(total.ready);
        status["availableReplicas"] = json!(total.ready);
    }
    if desired > total.ready {
        status["unavailableReplicas"] = json!(desired - total.ready);
    }
    if total.terminating > 0 {
        status["terminatingReplicas"] = json!(total.terminating);
    }
    let strategy = match d.spec.strategy {
        Strategy::Recreate => json!({ "type": "Recreate" }),
        Strategy::RollingUpdate {
            max_surge,
            max_unavailable,
        } => json!({
            "type": "RollingUpdate",
            "rollingUpdate": { "maxUnavailable": max_unavailable.to_json(), "maxSurge": max_surge.to_json() },
        }),
    };
    let mut spec = json!({
        "replicas": d.spec.replicas,
        "selector": selector_json(&d.spec.selector),
        "template": d.spec.template.to_json(),
        "strategy": strategy,
        "revisionHistoryLimit": d.spec.revision_history_limit,
        "progressDeadlineSeconds": d.spec.progress_deadline,
    });
    if d.spec.min_ready_seconds > 0 {
        spec["minReadySeconds"] = json!(d.spec.min_ready_seconds);
    }
    if d.spec.paused {
        spec["paused"] = json!(true);
    }
    obj(
        "Deployment",
        "apps/v1",
        meta,
        json!({ "spec": spec, "status": status }),
    )
}

fn statefulset_json(s: &StatefulSet, st: Stats) -> Value {
    let mut meta = s.meta.to_json();
    meta.insert("generation".into(), json!(1));
    let rev = format!(
        "{}-{}",
        s.meta.name,
        template_hash(&s.template.hash_input())
    );
    let mut status = json!({
        "observedGeneration": 1,
        "replicas": st.active,
        "currentReplicas": st.active,
        "updatedReplicas": st.active,
        "currentRevision": rev,
        "updateRevision": rev,
        "collisionCount": 0,
        "availableReplicas": st.ready,
    });
    if st.ready > 0 {
        status["readyReplicas"] = json!(st.ready);
    }
    obj(
        "StatefulSet",
        "apps/v1",
        meta,
        json!({
            "spec": {
                "replicas": s.replicas,
                "serviceName": s.meta.name,
                "selector": selector_json(&s.selector),
                "template": s.template.to_json(),
                "podManagementPolicy": "OrderedReady",
                "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "partition": 0 } },
                "revisionHistoryLimit": 10,
                "persistentVolumeClaimRetentionPolicy": { "whenDeleted": "Retain", "whenScaled": "Retain" },
            },
            "status": status,
        }),
    )
}

fn daemonset_json(ds: &DaemonSet, st: Stats) -> Value {
    let mut meta = ds.meta.to_json();
    meta.insert("generation".into(), json!(1));
    meta.insert(
        "annotations".into(),
        json!({ "deprecated.daemonset.template.generation": "1" }),
    );
    let desired = NODES.len() as u32;
    let mut status = json!({
        "currentNumberScheduled": st.active,
        "desiredNumberScheduled": desired,
        "numberMisscheduled": 0,
        "numberReady": st.ready,
        "observedGeneration": 1,
        "updatedNumberScheduled": st.active,
    });
    if st.ready > 0 {
        status["numberAvailable"] = json!(st.ready);
    }
    if desired > st.ready {
        status["numberUnavailable"] = json!(desired - st.ready);
    }
    obj(
        "DaemonSet",
        "apps/v1",
        meta,
        json!({
            "spec": {
                "selector": selector_json(&ds.selector),
                "template": ds.template.to_json(),
                "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 1, "maxSurge": 0 } },
                "revisionHistoryLimit": 10,
            },
            "status": status,
        }),
    )
}

/// A Job's `spec`, also the `spec` of a CronJob's `jobTemplate` (without a selector).
pub(super) fn job_spec_json(j: &Job, selector: bool) -> Value {
    let mut spec = json!({
        "parallelism": j.parallelism,
        "completions": j.completions,
        "backoffLimit": j.backoff_limit,
        "completionMode": "NonIndexed",
        "suspend": j.suspend,
        "podReplacementPolicy": "TerminatingOrFailed",
        "template": j.template.to_json(),
    });
    if selector {
        spec["selector"] = selector_json(&j.selector);
        spec["manualSelector"] = json!(false);
    }
    if let Some(d) = j.active_deadline {
        spec["activeDeadlineSeconds"] = json!(d);
    }
    for (k, v) in &j.spec_extra {
        spec[k] = v.clone();
    }
    spec
}

fn condition(kind: &str, reason: &str, message: &str, at: Timestamp) -> Value {
    json!({"type": kind, "status": "True", "reason": reason, "message": message,
           "lastProbeTime": fmt_time(at), "lastTransitionTime": fmt_time(at)})
}

fn job_json(j: &Job, st: Stats) -> Value {
    let mut meta = j.meta.to_json();
    meta.insert("generation".into(), json!(j.generation));
    if let Some(o) = &j.owner {
        meta.insert("ownerReferences".into(), json!([o.to_json()]));
    }
    let mut status = json!({
        "ready": st.ready,
        "terminating": st.terminating,
        "uncountedTerminatedPods": {},
    });
    if let Some((t, _)) = j.start {
        status["startTime"] = json!(fmt_time(t));
    }
    if st.active > 0 {
        status["active"] = json!(st.active);
    }
    if j.succeeded > 0 {
        status["succeeded"] = json!(j.succeeded);
    }
    if j.failed > 0 {
        status["failed"] = json!(j.failed);
    }
    if let Some((outcome, at)) = j.target {
        let (target, terminal) = match outcome {
            Outcome::Success => ("SuccessCriteriaMet", "Complete"),
            Outcome::Failure(_) => ("FailureTarget", "Failed"),
        };
        let mut conditions = vec![condition(target, outcome.reason(), outcome.message(), at)];
        if let Some(done) = j.finished {
            conditions.push(condition(
                terminal,
                outcome.reason(),
                outcome.message(),
                done,
            ));
            if outcome == Outcome::Success {
                status["completionTime"] = json!(fmt_time(done));
            }
        }
        status["conditions"] = Value::Array(conditions);
    }
    obj(
        "Job",
        "batch/v1",
        meta,
        json!({ "spec": job_spec_json(j, true), "status": status }),
    )
}

fn cronjob_json(cj: &CronJob, jobs: &BTreeMap<Key, Job>) -> Value {
    let mut meta = cj.meta.to_json();
    meta.insert("generation".into(), json!(cj.generation));
    let mut tmeta = json!({ "creationTimestamp": null });
    if !cj.job_labels.is_empty() {
        tmeta["labels"] = json!(cj.job_labels);
    }
    if !cj.job_annotations.is_empty() {
        tmeta["annotations"] = json!(cj.job_annotations);
    }
    let mut spec = json!({
        "schedule": cj.schedule,
        "concurrencyPolicy": cj.concurrency_policy,
        "suspend": cj.suspend,
        "successfulJobsHistoryLimit": cj.successful_history,
        "failedJobsHistoryLimit": cj.failed_history,
        "jobTemplate": { "metadata": tmeta, "spec": job_spec_json(&cj.job, false) },
    });
    if let Some(tz) = &cj.time_zone {
        spec["timeZone"] = json!(tz);
    }
    let mut status = json!({});
    let active: Vec<Value> = jobs
        .iter()
        .filter(|(k, j)| {
            k.0 == cj.meta.namespace && cj.active.contains(&j.meta.uid) && j.finished.is_none()
        })
        .map(|(k, j)| {
            json!({"kind": "Job", "namespace": k.0, "name": k.1, "uid": j.meta.uid,
                   "apiVersion": "batch/v1"})
        })
        .collect();
    if !active.is_empty() {
        status["active"] = Value::Array(active);
    }
    if let Some(t) = cj.last_schedule {
        status["lastScheduleTime"] = json!(fmt_time(t));
    }
    if let Some(t) = cj.last_successful {
        status["lastSuccessfulTime"] = json!(fmt_time(t));
    }
    obj(
        "CronJob",
        "batch/v1",
        meta,
        json!({ "spec": spec, "status": status }),
    )
}
