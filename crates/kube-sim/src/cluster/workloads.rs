//! Workload objects and their simple controllers: Deployments and their ReplicaSets (whose
//! rollout lives in `rollout`),
//! StatefulSets (`name-0..n-1`, one per index), DaemonSets (one pod per node) and Services.
//! Controllers here only create the pods that are missing; rendering is `render`'s.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::kubelet::OwnedPod;
use super::template::Template;
use super::{Cluster, NODES, labels_of};
use crate::meta::{Meta, OwnerRef, template_hash};
use crate::spec::WorkloadSpec;
use crate::store::Key;

/// `maxSurge` / `maxUnavailable`: a count or a percentage of the replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntOrPercent {
    Int(u32),
    Percent(u32),
}

impl IntOrPercent {
    /// The count for `replicas`, rounding percentages up (surge) or down (unavailable).
    pub(super) fn resolve(self, replicas: u32, round_up: bool) -> u32 {
        match self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) if round_up => (replicas * p).div_ceil(100),
            IntOrPercent::Percent(p) => replicas * p / 100,
        }
    }

    pub(super) fn to_json(self) -> Value {
        match self {
            IntOrPercent::Int(n) => json!(n),
            IntOrPercent::Percent(p) => json!(format!("{p}%")),
        }
    }
}

/// `spec.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    Recreate,
    RollingUpdate {
        max_surge: IntOrPercent,
        max_unavailable: IntOrPercent,
    },
}

impl Strategy {
    /// What the API server defaults: 25% and 25%.
    pub(super) const DEFAULT: Strategy = Strategy::RollingUpdate {
        max_surge: IntOrPercent::Percent(25),
        max_unavailable: IntOrPercent::Percent(25),
    };
}

/// What a Deployment asks for: the part of it a client writes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DeploymentSpec {
    pub(super) replicas: u32,
    pub(super) selector: BTreeMap<String, String>,
    pub(super) template: Template,
    pub(super) strategy: Strategy,
    pub(super) revision_history_limit: u32,
    pub(super) progress_deadline: u32,
    pub(super) min_ready_seconds: u32,
    pub(super) paused: bool,
}

pub(crate) struct Deployment {
    pub(super) meta: Meta,
    pub(super) generation: i64,
    pub(super) spec: DeploymentSpec,
}

pub(crate) struct ReplicaSet {
    pub(super) meta: Meta,
    /// The Deployment; None once orphaned.
    pub(super) owner: Option<OwnerRef>,
    /// Desired pods, set by the Deployment controller.
    pub(super) replicas: u32,
    pub(super) selector: BTreeMap<String, String>,
    pub(super) template: Template,
    pub(super) revision: u64,
    /// Earlier revisions this template had (`deployment.kubernetes.io/revision-history`).
    pub(super) revision_history: Vec<u64>,
    pub(super) hash: String,
}

impl ReplicaSet {
    pub(super) fn owned_by(&self, uid: &str) -> bool {
        self.owner.as_ref().is_some_and(|o| o.uid == uid)
    }
}

pub(crate) struct StatefulSet {
    pub(super) meta: Meta,
    pub(super) replicas: u32,
    pub(super) selector: BTreeMap<String, String>,
    pub(super) template: Template,
}

pub(crate) struct DaemonSet {
    pub(super) meta: Meta,
    pub(super) selector: BTreeMap<String, String>,
    pub(super) template: Template,
}

pub(crate) struct Service {
    pub(super) meta: Meta,
    pub(super) selector: BTreeMap<String, String>,
    pub(super) cluster_ip: String,
    pub(super) ports: Value,
}

impl Cluster {
    /// What every workload kind starts from: its namespace (created if missing), its pod
    /// template, and its metadata labelled like the template.
    fn new_workload(&mut self, ns: &str, spec: &WorkloadSpec) -> (Meta, Template) {
        self.ensure_namespace(ns);
        let template = Template::from_spec(spec);
        let mut meta = self.meta(ns, &spec.name);
        meta.labels = template.labels.clone();
        (meta, template)
    }

    pub(crate) fn create_deployment(&mut self, ns: &str, spec: &WorkloadSpec) {
        let (meta, template) = self.new_workload(ns, spec);
        self.deployments.insert(
            (ns.to_string(), spec.name.clone()),
            Deployment {
                meta,
                generation: 1,
                spec: DeploymentSpec {
                    replicas: spec.replicas,
                    selector: template.labels.clone(),
                    template,
                    // The scenario default: one pod at a time, never one less than asked.
                    strategy: Strategy::RollingUpdate {
                        max_surge: IntOrPercent::Int(spec.max_surge),
                        max_unavailable: IntOrPercent::Int(spec.max_unavailable),
                    },
                    revision_history_limit: 10,
                    progress_deadline: 600,
                    min_ready_seconds: 0,
                    paused: false,
                },
            },
        );
        self.workloads_dirty = true;
        self.settle();
    }

    pub(crate) fn create_statefulset(&mut self, ns: &str, spec: &WorkloadSpec) {
        let (meta, template) = self.new_workload(ns, spec);
        self.statefulsets.insert(
            (ns.to_string(), spec.name.clone()),
            StatefulSet {
                meta,
                replicas: spec.replicas,
                selector: template.labels.clone(),
                template,
            },
        );
        self.workloads_dirty = true;
        self.settle();
    }

    pub(crate) fn create_daemonset(&mut self, ns: &str, spec: &WorkloadSpec) {
        let (meta, template) = self.new_workload(ns, spec);
        self.daemonsets.insert(
            (ns.to_string(), spec.name.clone()),
            DaemonSet {
                meta,
                selector: template.labels.clone(),
                template,
            },
        );
        self.workloads_dirty = true;
        self.settle();
    }

    pub(crate) fn create_service(&mut self, ns: &str, name: &str, selector: &[(&str, &str)]) {
        self.ensure_namespace(ns);
        let meta = self.meta(ns, name);
        let n = self.services.len() as u32 + 10;
        self.services.insert(
            (ns.to_string(), name.to_string()),
            Service {
                meta,
                selector: labels_of(selector),
                cluster_ip: format!("10.96.{}.{}", n / 250, n % 250 + 2),
                ports: json!([{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]),
            },
        );
        self.workloads_dirty = true;
    }

    pub(super) fn reconcile_statefulset(&mut self, key: &Key) -> bool {
        let Some(s) = self.statefulsets.get(key) else {
            return false;
        };
        let ns = key.0.clone();
        let name = s.meta.name.clone();
        let replicas = s.replicas;
        let rev = format!("{name}-{}", template_hash(&s.template.hash_input()));
        let tpl = s.template.clone();
        let owner = OwnerRef {
            api_version: "apps/v1",
            kind: "StatefulSet",
            name: name.clone(),
            uid: s.meta.uid.clone(),
        };
        for i in 0..replicas {
            let pod_name = format!("{name}-{i}");
            if self.pods.contains_key(&(ns.clone(), pod_name.clone())) {
                continue;
            }
            let mut labels = tpl.labels.clone();
            labels.insert("controller-revision-hash".into(), rev.clone());
            labels.insert(
                "statefulset.kubernetes.io/pod-name".into(),
                pod_name.clone(),
            );
            labels.insert("apps.kubernetes.io/pod-index".into(), i.to_string());
            let node = NODES[i as usize % NODES.len()];
            self.create_owned_pod(
                &ns,
                &tpl,
                OwnedPod {
                    name: pod_name.clone(),
                    generate_name: None,
                    labels,
                    owner: owner.clone(),
                    node,
                },
            );
            if let Some(p) = self.pods.get_mut(&(ns.clone(), pod_name.clone())) {
                p.hostname = Some((pod_name, name.clone()));
                self.dirty_pods.insert((ns.clone(), format!("{name}-{i}")));
            }
            return true;
        }
        false
    }

    pub(super) fn reconcile_daemonset(&mut self, key: &Key) -> bool {
        let Some(ds) = self.daemonsets.get(key) else {
            return false;
        };
        let ns = key.0.clone();
        let uid = ds.meta.uid.clone();
        let tpl = ds.template.clone();
        let prefix = format!("{}-", ds.meta.name);
        let rev = template_hash(&tpl.hash_input());
        let owner = OwnerRef {
            api_version: "apps/v1",
            kind: "DaemonSet",
            name: ds.meta.name.clone(),
            uid: uid.clone(),
        };
        for node in NODES {
            let has = self.pods.values().any(|p| {
                p.deletion.is_none()
                    && p.node.as_deref() == Some(node)
                    && p.owner.as_ref().is_some_and(|o| o.uid == uid)
            });
            if has {
                continue;
            }
            let mut labels = tpl.labels.clone();
            labels.insert("controller-revision-hash".into(), rev.clone());
            labels.insert("pod-template-generation".into(), "1".into());
            let name = self.unique_name(&ns, &prefix);
            self.create_owned_pod(
                &ns,
                &tpl,
                OwnedPod {
                    name,
                    generate_name: Some(prefix.clone()),
                    labels,
                    owner: owner.clone(),
                    node,
                },
            );
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::super::NODES;
    use super::super::testing::{app, cluster, pod_json};
    use super::*;
    use crate::pod::Pod;
    use crate::spec::JobSpec;
    use crate::store::Resource;
    use std::time::Duration;

    #[test]
    fn statefulsets_daemonsets_and_jobs_label_their_pods() {
        let mut c = cluster(1000);
        c.create_statefulset("ns", &WorkloadSpec::new("db", 2).container(app("pg")));
        c.create_daemonset("ns", &WorkloadSpec::new("agent", 0).container(app("agent")));
        c.create_job(
            "ns",
            &JobSpec::new("migrate")
                .container(app("run"))
                .run_for(Duration::ZERO),
        );
        // The Job controller creates the Job's pod.
        c.settle();
        c.commit();
        let db1 = pod_json(&c, "ns", "db-1");
        assert_eq!(
            db1["metadata"]["labels"]["apps.kubernetes.io/pod-index"],
            "1"
        );
        assert_eq!(
            db1["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"],
            "db-1"
        );
        assert_eq!(db1["metadata"]["ownerReferences"][0]["kind"], "StatefulSet");
        let agents: Vec<&Pod> = c
            .pods
            .values()
            .filter(|p| p.owner.as_ref().is_some_and(|o| o.kind == "DaemonSet"))
            .collect();
        let mut nodes: Vec<&str> = agents.iter().filter_map(|p| p.node.as_deref()).collect();
        nodes.sort();
        assert_eq!(nodes, NODES);
        let job_pod = c
            .pods
            .values()
            .find(|p| p.owner.as_ref().is_some_and(|o| o.kind == "Job"))
            .unwrap();
        assert_eq!(
            job_pod.meta.labels["batch.kubernetes.io/job-name"],
            "migrate"
        );
        assert_eq!(job_pod.phase(), "Succeeded");
        c.settle();
        c.commit();
        let job = c
            .store
            .get(Resource::Job, &("ns".into(), "migrate".into()))
            .unwrap();
        assert_eq!(job.obj["status"]["succeeded"], 1);
        assert_eq!(job.obj["status"]["conditions"][1]["type"], "Complete");
    }
}
