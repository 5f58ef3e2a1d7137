//! The whole simulated cluster behind one lock: namespaces, nodes, pods and their
//! controllers (Deployment → ReplicaSet → Pod, StatefulSet, DaemonSet, CronJob → Job →
//! Pod), services, and
//! the [`Store`] the API server serves from.
//!
//! Every mutation marks what it touched; [`Cluster::commit`] renders those objects and
//! lets the store decide what changed (and so which watch events exist). Nothing here
//! sleeps or spawns: timed work is requested through [`Spawn`] and run by `state`.
//!
//! The parts, one concern each: `kubelet` (creating pods, stepping their lifecycle clocks,
//! generated lines), `containers` (restarts, crashes, exits and log writes asked for by a
//! scenario), `deletion` (graceful pod deletion, Deployment garbage collection),
//! `template` (the pod template workloads share), `workloads` (Deployment and ReplicaSet
//! objects, StatefulSets, DaemonSets, Services), `rollout` (Deployment changes and the
//! rolling-update controller), `jobs` (the Job controller), `cronjobs` (schedules and the
//! CronJob controller), `events` (Events as the kubelet, the scheduler and the
//! controllers record them, correlated and capped), and `render` (the JSON of every object
//! and the commit into the store). Apart from the shared `Cluster` here, they depend one way:
//! controllers on `kubelet`, everything on `template`, `render` on the object types.

mod containers;
mod cronjobs;
mod decode;
mod deletion;
mod events;
mod jobs;
mod kubelet;
mod render;
mod rollout;
mod template;
mod workloads;
mod writes;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::json;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::meta::{Meta, Rng};
use crate::pod::Pod;
use crate::store::{Key, Store};

use cronjobs::CronJob;
use jobs::Job;
use workloads::{DaemonSet, Deployment, ReplicaSet, Service, StatefulSet};
pub(crate) use writes::{Deleted, Propagation, writable};

/// The simulated nodes: every scheduled pod runs on one of them.
pub(crate) const NODES: [&str; 2] = ["node-1", "node-2"];

fn node_index(node: &str) -> usize {
    NODES.iter().position(|n| *n == node).unwrap_or(0)
}

fn host_ip(node: &str) -> String {
    format!("172.18.0.{}", node_index(node) + 2)
}

/// Background work the caller must start after releasing the lock.
pub(crate) enum Spawn {
    /// Drive a pod's lifecycle clock (start delays, exits, graceful deletion).
    PodLifecycle {
        key: Key,
        uid: String,
        wake: Arc<Notify>,
    },
    /// Write generated lines for a container at its rate.
    Generator {
        key: Key,
        uid: String,
        container: String,
    },
}

/// What a lifecycle step found.
pub(crate) enum PodStep {
    Gone,
    /// Come back at this instant, or when woken.
    Wait(Option<Instant>),
}

/// Every object of the simulated cluster, the store they are served from, and what the
/// next commit must render.
pub(crate) struct Cluster {
    pub(crate) store: Store,
    namespaces: BTreeMap<String, Meta>,
    nodes: Vec<Meta>,
    pub(crate) pods: BTreeMap<Key, Pod>,
    deployments: BTreeMap<Key, Deployment>,
    replicasets: BTreeMap<Key, ReplicaSet>,
    statefulsets: BTreeMap<Key, StatefulSet>,
    daemonsets: BTreeMap<Key, DaemonSet>,
    jobs: BTreeMap<Key, Job>,
    cronjobs: BTreeMap<Key, CronJob>,
    services: BTreeMap<Key, Service>,
    events: events::Events,
    /// Images each node has pulled: (node, normalized image).
    pulled: BTreeSet<(String, String)>,
    pub(crate) forbidden: BTreeSet<String>,
    /// Images the simulated registry refuses (normalized references).
    unpullable: BTreeSet<String>,
    /// Namespaces being deleted, and when their deletion started.
    terminating: BTreeSet<String>,
    namespace_deleted_at: BTreeMap<String, String>,
    /// Generated lines written per (namespace, pod, container), over all instances and
    /// surviving pod deletion: the ground truth for loss and duplication checks.
    pub(crate) generated: BTreeMap<(String, String, String), u64>,
    /// Grace period of pods the controllers delete (rolling updates, scale down).
    pub(crate) controller_grace: Duration,
    /// The Job controller's back-off before a failed pod is replaced, doubled per failure.
    pub(crate) job_backoff: Duration,
    rng: Rng,
    next_ip: u32,
    dirty_pods: BTreeSet<Key>,
    workloads_dirty: bool,
    spawns: Vec<Spawn>,
}

fn labels_of(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Cluster {
    /// A fresh cluster whose generated names, uids and container IDs come from `rng`.
    pub(crate) fn new(watch_history: usize, rng: Rng) -> Cluster {
        let mut c = Cluster {
            store: Store::new(watch_history),
            namespaces: BTreeMap::new(),
            nodes: Vec::new(),
            pods: BTreeMap::new(),
            deployments: BTreeMap::new(),
            replicasets: BTreeMap::new(),
            statefulsets: BTreeMap::new(),
            daemonsets: BTreeMap::new(),
            jobs: BTreeMap::new(),
            cronjobs: BTreeMap::new(),
            services: BTreeMap::new(),
            // Its own stream, so recording events changes no generated name or ID.
            events: events::Events::new(rng.derive(0x6576_656e_7473)),
            pulled: BTreeSet::new(),
            forbidden: BTreeSet::new(),
            unpullable: BTreeSet::new(),
            terminating: BTreeSet::new(),
            namespace_deleted_at: BTreeMap::new(),
            generated: BTreeMap::new(),
            controller_grace: Duration::from_secs(1),
            job_backoff: Duration::from_secs(1),
            rng,
            next_ip: 10,
            dirty_pods: BTreeSet::new(),
            workloads_dirty: true,
            spawns: Vec::new(),
        };
        // A fresh cluster is a few minutes old, like one a test runner just created.
        let boot = Timestamp::now() - jiff::SignedDuration::from_secs(300);
        for ns in ["default", "kube-node-lease", "kube-public", "kube-system"] {
            let mut m = c.meta("", ns);
            m.created = boot;
            c.namespaces.insert(ns.to_string(), m);
        }
        for n in NODES {
            let mut m = c.meta("", n);
            m.created = boot;
            m.labels = labels_of(&[
                ("beta.kubernetes.io/arch", "amd64"),
                ("beta.kubernetes.io/os", "linux"),
                ("kubernetes.io/arch", "amd64"),
                ("kubernetes.io/hostname", n),
                ("kubernetes.io/os", "linux"),
            ]);
            c.nodes.push(m);
        }
        let mut m = c.meta("default", "kubernetes");
        m.created = boot;
        m.labels = labels_of(&[("component", "apiserver"), ("provider", "kubernetes")]);
        c.services.insert(
            ("default".into(), "kubernetes".into()),
            Service {
                meta: m,
                selector: BTreeMap::new(),
                cluster_ip: "10.96.0.1".into(),
                ports: json!([{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]),
            },
        );
        c.commit();
        c
    }

    fn meta(&mut self, ns: &str, name: &str) -> Meta {
        Meta {
            name: name.to_string(),
            namespace: ns.to_string(),
            uid: self.rng.uid(),
            created: Timestamp::now(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }

    pub(crate) fn take_spawns(&mut self) -> Vec<Spawn> {
        std::mem::take(&mut self.spawns)
    }

    // ---- namespaces -------------------------------------------------------------------

    pub(crate) fn create_namespace(&mut self, name: &str, labels: &[(&str, &str)]) {
        if !self.namespaces.contains_key(name) {
            let m = self.meta("", name);
            self.namespaces.insert(name.to_string(), m);
        }
        if let Some(m) = self.namespaces.get_mut(name) {
            m.labels.extend(labels_of(labels));
        }
        self.workloads_dirty = true;
    }

    fn ensure_namespace(&mut self, ns: &str) {
        if !self.namespaces.contains_key(ns) {
            self.create_namespace(ns, &[]);
        }
    }

    /// Runs the controllers until they have nothing more to do right now.
    pub(crate) fn settle(&mut self) {
        for _ in 0..10_000 {
            if !self.reconcile_all() {
                break;
            }
        }
    }

    /// One round of every controller; true if any of them changed something.
    pub(crate) fn reconcile_all(&mut self) -> bool {
        let mut progress = false;
        let keys: Vec<Key> = self.deployments.keys().cloned().collect();
        for k in keys {
            progress |= self.reconcile_deployment(&k);
        }
        let keys: Vec<Key> = self.replicasets.keys().cloned().collect();
        for k in keys {
            progress |= self.reconcile_replicaset(&k);
        }
        let keys: Vec<Key> = self.statefulsets.keys().cloned().collect();
        for k in keys {
            progress |= self.reconcile_statefulset(&k);
        }
        let keys: Vec<Key> = self.daemonsets.keys().cloned().collect();
        for k in keys {
            progress |= self.reconcile_daemonset(&k);
        }
        let keys: Vec<Key> = self.cronjobs.keys().cloned().collect();
        for k in keys {
            progress |= self.reconcile_cronjob(&k);
        }
        let keys: Vec<Key> = self.jobs.keys().cloned().collect();
        for k in keys {
            progress |= self.reconcile_job(&k);
        }
        progress |= self.reconcile_namespaces();
        progress
    }

    /// When the controllers must run again without a change: a Job's back-off or
    /// deadline, a CronJob's next schedule.
    pub(crate) fn next_timer(&self) -> Option<Instant> {
        match (self.next_job_timer(), self.next_cronjob_timer()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod testing {
    //! Helpers the cluster tests share.

    use serde_json::Value;

    use super::Cluster;
    use crate::meta::Rng;
    use crate::spec::ContainerSpec;
    use crate::store::Resource;

    /// A cluster with a fixed seed.
    pub(super) fn cluster(watch_history: usize) -> Cluster {
        Cluster::new(watch_history, Rng::new(1))
    }

    pub(super) fn app(name: &str) -> ContainerSpec {
        ContainerSpec::new(name).image("nginx:1.27")
    }

    pub(super) fn pod_json(c: &Cluster, ns: &str, name: &str) -> Value {
        let key = (ns.to_string(), name.to_string());
        (*c.store.get(Resource::Pod, &key).expect("pod served").obj).clone()
    }

    pub(super) fn committed(mut c: Cluster) -> Cluster {
        c.commit();
        c
    }
}
