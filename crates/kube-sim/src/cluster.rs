//! The whole simulated cluster behind one lock: namespaces, nodes, pods and their
//! controllers (Deployment → ReplicaSet → Pod, StatefulSet, DaemonSet, Job), services, and
//! the [`Store`] the API server serves from.
//!
//! Every mutation marks what it touched; [`Cluster::commit`] renders those objects and
//! lets the store decide what changed (and so which watch events exist). Nothing here
//! sleeps or spawns: timed work is requested through [`Spawn`] and run by `sim`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::logs::{self, LogJournal, StreamEnd};
use crate::meta::{Meta, OwnerRef, Rng, fmt_time, template_hash};
use crate::pod::{Container, ContainerKind, Deletion, Effect, Pod, PodTemplate, State};
use crate::spec::{ContainerSpec, JobSpec, PodSpec, WorkloadSpec};
use crate::store::{Key, Resource, Store};

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

/// The controller-specific parts of a pod a controller creates.
struct OwnedPod {
    name: String,
    generate_name: Option<String>,
    labels: BTreeMap<String, String>,
    owner: OwnerRef,
    node: &'static str,
    restart_policy: &'static str,
}

/// A pod template shared by the workload kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) init: Vec<ContainerSpec>,
    pub(crate) containers: Vec<ContainerSpec>,
}

impl Template {
    fn from_spec(spec: &WorkloadSpec) -> Template {
        let mut labels: BTreeMap<String, String> = spec.labels.iter().cloned().collect();
        if labels.is_empty() {
            labels.insert("app".into(), spec.name.clone());
        }
        Template {
            labels,
            init: spec.init_containers.clone(),
            containers: spec.containers.clone(),
        }
    }

    /// What the controllers hash: everything that shapes the pods.
    fn hash_input(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.labels {
            s.push_str(&format!("{k}={v};"));
        }
        for c in self.init.iter().chain(&self.containers) {
            s.push_str(&format!("{}:{}|", c.name, c.image));
        }
        s
    }

    fn to_json(&self, restart_policy: &str) -> Value {
        let mut spec = crate::pod::pod_spec_json(&self.init, &self.containers, restart_policy);
        // Default tolerations are added to pods by admission, never to templates.
        spec.remove("tolerations");
        json!({
            "metadata": { "creationTimestamp": null, "labels": self.labels },
            "spec": spec,
        })
    }
}

pub(crate) struct Deployment {
    meta: Meta,
    replicas: u32,
    selector: BTreeMap<String, String>,
    template: Template,
    generation: i64,
}

pub(crate) struct ReplicaSet {
    meta: Meta,
    owner: OwnerRef,
    replicas: u32,
    selector: BTreeMap<String, String>,
    template: Template,
    revision: u64,
    hash: String,
}

pub(crate) struct StatefulSet {
    meta: Meta,
    replicas: u32,
    selector: BTreeMap<String, String>,
    template: Template,
}

pub(crate) struct DaemonSet {
    meta: Meta,
    selector: BTreeMap<String, String>,
    template: Template,
}

pub(crate) struct Job {
    meta: Meta,
    template: Template,
    /// `(succeeded, when)` once the pod finished.
    finished: Option<(bool, Timestamp)>,
}

pub(crate) struct Service {
    meta: Meta,
    selector: BTreeMap<String, String>,
    cluster_ip: String,
    ports: Value,
}

/// Pod counts per owner uid, gathered once per commit.
#[derive(Debug, Default, Clone, Copy)]
struct Stats {
    active: u32,
    ready: u32,
    running: u32,
    succeeded: u32,
    failed: u32,
}

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
    services: BTreeMap<Key, Service>,
    pub(crate) forbidden: BTreeSet<String>,
    /// Generated lines written per (namespace, pod, container), over all instances and
    /// surviving pod deletion: the ground truth for loss and duplication checks.
    pub(crate) generated: BTreeMap<(String, String, String), u64>,
    /// Grace period of pods the controllers delete (rolling updates, scale down).
    pub(crate) controller_grace: Duration,
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

fn selector_json(sel: &BTreeMap<String, String>) -> Value {
    json!({ "matchLabels": sel })
}

impl Cluster {
    pub(crate) fn new(watch_history: usize) -> Cluster {
        let seed = Timestamp::now().as_nanosecond() as u64;
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
            services: BTreeMap::new(),
            forbidden: BTreeSet::new(),
            generated: BTreeMap::new(),
            controller_grace: Duration::from_secs(1),
            rng: Rng::new(seed),
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

    // ---- pods -------------------------------------------------------------------------

    fn alloc_ip(&mut self, node: &str) -> String {
        self.next_ip += 1;
        let n = self.next_ip;
        format!("10.244.{}.{}", node_index(node) + 1, n % 250 + 2)
    }

    fn unique_name(&mut self, ns: &str, prefix: &str) -> String {
        for _ in 0..64 {
            let name = format!("{prefix}{}", self.rng.suffix());
            if !self.pods.contains_key(&(ns.to_string(), name.clone())) {
                return name;
            }
        }
        format!("{prefix}{}", self.rng.next())
    }

    /// Adds a pod and brings it as far as its clock allows right away, so containers
    /// without a start delay are running (and logging) when the caller regains control.
    fn add_pod(&mut self, pod: Pod) {
        let key = (pod.meta.namespace.clone(), pod.meta.name.clone());
        let uid = pod.meta.uid.clone();
        let wake = pod.wake.clone();
        let scheduled = pod.node.is_some();
        self.pods.insert(key.clone(), pod);
        self.dirty_pods.insert(key.clone());
        self.workloads_dirty = true;
        if scheduled {
            self.advance_pod(&key, &uid);
            self.spawns.push(Spawn::PodLifecycle { key, uid, wake });
        }
    }

    pub(crate) fn create_pod(&mut self, ns: &str, spec: PodSpec) -> String {
        self.ensure_namespace(ns);
        let name = if spec.name.is_empty() {
            self.unique_name(ns, "pod-")
        } else {
            spec.name.clone()
        };
        let meta = self.meta(ns, &name);
        let node = spec.node.clone();
        let ip = node
            .as_deref()
            .map(|n| self.alloc_ip(n))
            .unwrap_or_default();
        let host = node.as_deref().map(host_ip).unwrap_or_default();
        let pod = Pod::new(
            meta,
            PodTemplate {
                labels: spec.labels.iter().cloned().collect(),
                annotations: spec.annotations.iter().cloned().collect(),
                init: &spec.init_containers,
                containers: &spec.containers,
                ephemeral: &spec.ephemeral_containers,
                restart_policy: &spec.restart_policy,
            },
            node,
            host,
            ip,
        );
        self.add_pod(pod);
        name
    }

    /// A pod created by a controller from its template.
    fn create_owned_pod(&mut self, ns: &str, tpl: &Template, p: OwnedPod) {
        let OwnedPod {
            name,
            generate_name,
            labels,
            owner,
            node,
            restart_policy,
        } = p;
        let meta = self.meta(ns, &name);
        let ip = self.alloc_ip(node);
        let mut pod = Pod::new(
            meta,
            PodTemplate {
                labels,
                annotations: BTreeMap::new(),
                init: &tpl.init,
                containers: &tpl.containers,
                ephemeral: &[],
                restart_policy,
            },
            Some(node.to_string()),
            host_ip(node),
            ip,
        );
        pod.generate_name = generate_name;
        pod.owner = Some(owner);
        self.add_pod(pod);
    }

    fn pick_node(&mut self) -> &'static str {
        NODES[(self.rng.next() % NODES.len() as u64) as usize]
    }

    /// One step of a pod's clock: deletion, init containers in order, then the regular
    /// and ephemeral containers (start delays, waiting reasons, timed exits).
    pub(crate) fn advance_pod(&mut self, key: &Key, uid: &str) -> PodStep {
        let now = Instant::now();
        let now_t = Timestamp::now();
        let Some(pod) = self.pods.get_mut(key) else {
            return PodStep::Gone;
        };
        if pod.meta.uid != uid {
            return PodStep::Gone;
        }
        if let Some(d) = &mut pod.deletion {
            if d.finalized {
                self.pods.remove(key);
                self.dirty_pods.insert(key.clone());
                self.workloads_dirty = true;
                return PodStep::Gone;
            }
            if now < d.deadline {
                return PodStep::Wait(Some(d.deadline));
            }
            d.finalized = true;
            for c in pod.all_containers_mut() {
                c.end_instance(0, now_t);
                c.exit_at = None;
                c.journal.terminate();
            }
            self.dirty_pods.insert(key.clone());
            self.workloads_dirty = true;
            return PodStep::Wait(Some(now));
        }
        let mut next: Option<Instant> = None;
        let mut soonest = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        let mut changed = false;
        let mut effects = Vec::new();
        let (ns, pod_name) = (key.0.clone(), key.1.clone());

        // Init containers run one after another; each must exit 0 before the next starts.
        let mut inits_done = true;
        for i in 0..pod.init.len() {
            let mut blocked = false;
            for _ in 0..3 {
                let c = &mut pod.init[i];
                match &c.state {
                    State::Terminated(t) if t.exit_code == 0 => break,
                    State::Terminated(_) => {
                        blocked = true;
                        break;
                    }
                    State::Running { .. } => match c.exit_at {
                        Some((at, code)) if now >= at => {
                            c.end_instance(code, now_t);
                            pod.clock = now;
                            changed = true;
                        }
                        Some((at, _)) => {
                            soonest(at);
                            blocked = true;
                            break;
                        }
                        None => {
                            blocked = true;
                            break;
                        }
                    },
                    State::Waiting { .. } => {
                        if c.started_once {
                            blocked = true;
                            break;
                        }
                        if let Some(r) = c.spec.waiting_reason.clone() {
                            set_waiting(c, &r, &mut changed);
                            blocked = true;
                            break;
                        }
                        let at = crate::meta::after(pod.clock, c.spec.start_delay);
                        if now < at {
                            soonest(at);
                            blocked = true;
                            break;
                        }
                        let id = self.rng.container_id();
                        let seq = gen_count(&self.generated, &ns, &pod_name, &c.spec.name);
                        let instant_exit = c.spec.exit_after.is_none();
                        pod.start_instance(
                            (ContainerKind::Init, i),
                            id,
                            now,
                            now_t,
                            &mut effects,
                            seq,
                        );
                        if instant_exit {
                            pod.init[i].end_instance(0, now_t);
                            pod.clock = now;
                        }
                        changed = true;
                    }
                }
            }
            if blocked {
                inits_done = false;
                break;
            }
        }

        if inits_done {
            let idxs: Vec<(ContainerKind, usize)> = (0..pod.containers.len())
                .map(|i| (ContainerKind::Regular, i))
                .chain((0..pod.ephemeral.len()).map(|i| (ContainerKind::Ephemeral, i)))
                .collect();
            for idx in idxs {
                let c = match idx.0 {
                    ContainerKind::Regular => &mut pod.containers[idx.1],
                    _ => &mut pod.ephemeral[idx.1],
                };
                if matches!(c.state, State::Waiting { .. }) && !c.started_once {
                    if let Some(r) = c.spec.waiting_reason.clone() {
                        set_waiting(c, &r, &mut changed);
                        continue;
                    }
                    let at = crate::meta::after(pod.clock, c.spec.start_delay);
                    if now < at {
                        set_waiting(c, "ContainerCreating", &mut changed);
                        soonest(at);
                        continue;
                    }
                    let id = self.rng.container_id();
                    let seq = gen_count(&self.generated, &ns, &pod_name, &c.spec.name);
                    pod.start_instance(idx, id, now, now_t, &mut effects, seq);
                    changed = true;
                }
                let c = match idx.0 {
                    ContainerKind::Regular => &mut pod.containers[idx.1],
                    _ => &mut pod.ephemeral[idx.1],
                };
                if let (State::Running { .. }, Some((at, code))) = (&c.state, c.exit_at) {
                    if now >= at {
                        c.end_instance(code, now_t);
                        changed = true;
                    } else {
                        soonest(at);
                    }
                }
            }
        }
        let wake = next;
        let uid = pod.meta.uid.clone();
        self.apply_effects(key, &uid, effects);
        if changed {
            self.dirty_pods.insert(key.clone());
            self.workloads_dirty = true;
        }
        PodStep::Wait(wake)
    }

    fn apply_effects(&mut self, key: &Key, uid: &str, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::SpawnGenerator(container) => self.spawns.push(Spawn::Generator {
                    key: key.clone(),
                    uid: uid.to_string(),
                    container,
                }),
                Effect::Generated(container, n) => {
                    *self
                        .generated
                        .entry((key.0.clone(), key.1.clone(), container))
                        .or_default() += n;
                }
            }
        }
    }

    /// Writes the generated lines due since the last tick into the container's current
    /// instance; returns false once the pod is gone.
    pub(crate) fn generate_tick(&mut self, key: &Key, uid: &str, container: &str) -> bool {
        let now = Instant::now();
        let Some(pod) = self.pods.get_mut(key) else {
            return false;
        };
        if pod.meta.uid != uid {
            return false;
        }
        let Some(c) = pod.container_mut(container) else {
            return false;
        };
        if !c.is_running() {
            c.gen_last = None;
            return true;
        }
        let dt = c.gen_last.map_or(0.0, |l| (now - l).as_secs_f64().min(1.0));
        c.gen_last = Some(now);
        c.gen_budget += c.spec.rate * dt;
        let n = c.gen_budget.floor() as u64;
        if n == 0 {
            return true;
        }
        c.gen_budget -= n as f64;
        let counter = self
            .generated
            .entry((key.0.clone(), key.1.clone(), container.to_string()))
            .or_default();
        for _ in 0..n {
            c.journal
                .append(&logs::generated_line(&key.1, container, *counter));
            *counter += 1;
        }
        true
    }

    /// Starts a graceful deletion: MODIFIED with deletionTimestamp now, containers stop and
    /// the object goes away when the grace period is over.
    pub(crate) fn delete_pod(&mut self, ns: &str, name: &str, grace: Duration) -> bool {
        let key = (ns.to_string(), name.to_string());
        let grace = grace.min(Duration::from_secs(366 * 86_400));
        let Some(pod) = self.pods.get_mut(&key) else {
            return false;
        };
        if pod.deletion.is_some() {
            return true;
        }
        if pod.node.is_none() {
            // No kubelet owns an unscheduled pod: it is removed at once.
            self.pods.remove(&key);
        } else {
            let at = Timestamp::now();
            pod.deletion = Some(Deletion {
                at: at + jiff::SignedDuration::from_secs(grace.as_secs() as i64),
                grace_secs: grace.as_secs() as i64,
                deadline: crate::meta::after(Instant::now(), grace),
                finalized: false,
            });
            pod.wake.notify_one();
        }
        self.dirty_pods.insert(key);
        self.workloads_dirty = true;
        true
    }

    fn with_container(
        &mut self,
        ns: &str,
        pod: &str,
        f: impl FnOnce(&mut Pod, &mut Rng) -> bool,
    ) -> bool {
        let key = (ns.to_string(), pod.to_string());
        let Some(p) = self.pods.get_mut(&key) else {
            return false;
        };
        let done = f(p, &mut self.rng);
        if done {
            p.wake.notify_one();
            self.dirty_pods.insert(key);
            self.workloads_dirty = true;
        }
        done
    }

    pub(crate) fn restart_container(&mut self, ns: &str, pod: &str, container: &str, code: i32) {
        let key = (ns.to_string(), pod.to_string());
        let seq = gen_count(&self.generated, ns, pod, container);
        let mut effects = Vec::new();
        let started = self.with_container(ns, pod, |p, rng| {
            if !p.restart_prepare(container, code, Timestamp::now()) {
                return false;
            }
            let Some(idx) = p.index_of(container) else {
                return false;
            };
            p.start_instance(
                idx,
                rng.container_id(),
                Instant::now(),
                Timestamp::now(),
                &mut effects,
                seq,
            );
            true
        });
        if started && let Some(uid) = self.pods.get(&key).map(|p| p.meta.uid.clone()) {
            self.apply_effects(&key, &uid, effects);
        }
    }

    pub(crate) fn crash_loop(&mut self, ns: &str, pod: &str, container: &str) {
        self.with_container(ns, pod, |p, _| p.crash_loop(container, Timestamp::now()));
    }

    pub(crate) fn terminate_container(&mut self, ns: &str, pod: &str, container: &str, code: i32) {
        self.with_container(ns, pod, |p, _| match p.container_mut(container) {
            Some(c) if c.is_running() => {
                c.end_instance(code, Timestamp::now());
                true
            }
            _ => false,
        });
    }

    pub(crate) fn container(&self, ns: &str, pod: &str, container: &str) -> Option<&Container> {
        self.pods
            .get(&(ns.to_string(), pod.to_string()))
            .and_then(|p| p.container(container))
    }

    pub(crate) fn log(&self, ns: &str, pod: &str, container: &str, line: &str) {
        if let Some(c) = self.container(ns, pod, container) {
            c.journal.append(line.as_bytes());
        }
    }

    pub(crate) fn log_at(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        at: jiff::Timestamp,
        line: &str,
    ) {
        if let Some(c) = self.container(ns, pod, container) {
            c.journal.append_at(at, line.as_bytes());
        }
    }

    pub(crate) fn rotate_log(&self, ns: &str, pod: &str, container: &str) {
        if let Some(c) = self.container(ns, pod, container) {
            c.journal.rotate();
        }
    }

    pub(crate) fn end_log_streams(&self, how: StreamEnd) {
        for p in self.pods.values() {
            for c in p.all_containers() {
                c.journal.end_streams(how);
                if let Some(j) = &c.prev_journal {
                    j.end_streams(how);
                }
            }
        }
    }

    pub(crate) fn journals(&self, ns: &str, pod: &str, container: &str) -> Vec<Arc<LogJournal>> {
        self.container(ns, pod, container)
            .map(|c| c.prev_journal.iter().chain([&c.journal]).cloned().collect())
            .unwrap_or_default()
    }

    // ---- workloads --------------------------------------------------------------------

    pub(crate) fn create_deployment(&mut self, ns: &str, spec: &WorkloadSpec) {
        self.ensure_namespace(ns);
        let template = Template::from_spec(spec);
        let mut meta = self.meta(ns, &spec.name);
        meta.labels = template.labels.clone();
        self.deployments.insert(
            (ns.to_string(), spec.name.clone()),
            Deployment {
                meta,
                replicas: spec.replicas,
                selector: template.labels.clone(),
                template,
                generation: 1,
            },
        );
        self.workloads_dirty = true;
        self.settle();
    }

    pub(crate) fn create_statefulset(&mut self, ns: &str, spec: &WorkloadSpec) {
        self.ensure_namespace(ns);
        let template = Template::from_spec(spec);
        let mut meta = self.meta(ns, &spec.name);
        meta.labels = template.labels.clone();
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
        self.ensure_namespace(ns);
        let template = Template::from_spec(spec);
        let mut meta = self.meta(ns, &spec.name);
        meta.labels = template.labels.clone();
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

    pub(crate) fn create_job(&mut self, ns: &str, spec: &JobSpec) {
        self.ensure_namespace(ns);
        let mut meta = self.meta(ns, &spec.name);
        let uid = meta.uid.clone();
        let labels = labels_of(&[
            ("batch.kubernetes.io/controller-uid", &uid),
            ("batch.kubernetes.io/job-name", &spec.name),
            ("controller-uid", &uid),
            ("job-name", &spec.name),
        ]);
        meta.labels = labels.clone();
        let containers = spec
            .containers
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c.exit_after = Some((spec.run_for, spec.exit_code));
                c
            })
            .collect();
        self.jobs.insert(
            (ns.to_string(), spec.name.clone()),
            Job {
                meta,
                template: Template {
                    labels,
                    init: Vec::new(),
                    containers,
                },
                finished: None,
            },
        );
        let key = (ns.to_string(), spec.name.clone());
        let (tpl, owner) = {
            let j = &self.jobs[&key];
            (
                j.template.clone(),
                OwnerRef {
                    api_version: "batch/v1",
                    kind: "Job",
                    name: j.meta.name.clone(),
                    uid: j.meta.uid.clone(),
                },
            )
        };
        let name = self.unique_name(ns, &format!("{}-", spec.name));
        let node = self.pick_node();
        self.create_owned_pod(
            ns,
            &tpl,
            OwnedPod {
                name,
                generate_name: Some(format!("{}-", spec.name)),
                labels: tpl.labels.clone(),
                owner,
                node,
                restart_policy: "Never",
            },
        );
        self.workloads_dirty = true;
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

    fn deployment_mut(&mut self, ns: &str, name: &str) -> Option<&mut Deployment> {
        self.workloads_dirty = true;
        self.deployments
            .get_mut(&(ns.to_string(), name.to_string()))
    }

    pub(crate) fn set_image(&mut self, ns: &str, deploy: &str, container: &str, image: &str) {
        if let Some(d) = self.deployment_mut(ns, deploy)
            && let Some(c) = d
                .template
                .containers
                .iter_mut()
                .chain(d.template.init.iter_mut())
                .find(|c| c.name == container)
            && c.image != image
        {
            c.image = image.to_string();
            d.generation += 1;
        }
    }

    pub(crate) fn scale(&mut self, ns: &str, deploy: &str, replicas: u32) {
        if let Some(d) = self.deployment_mut(ns, deploy)
            && d.replicas != replicas
        {
            d.replicas = replicas;
            d.generation += 1;
        }
    }

    pub(crate) fn set_deployment_selector(
        &mut self,
        ns: &str,
        deploy: &str,
        labels: &[(&str, &str)],
    ) {
        if let Some(d) = self.deployment_mut(ns, deploy) {
            d.selector = labels_of(labels);
            d.template.labels = labels_of(labels);
            d.generation += 1;
        }
    }

    /// `kubectl rollout undo`: the template of the previous revision becomes current again.
    pub(crate) fn rollout_undo(&mut self, ns: &str, deploy: &str) {
        let Some(d) = self.deployments.get(&(ns.to_string(), deploy.to_string())) else {
            return;
        };
        let mut revs: Vec<(u64, Template)> = self
            .replicasets
            .values()
            .filter(|rs| rs.owner.uid == d.meta.uid)
            .map(|rs| {
                let mut t = rs.template.clone();
                t.labels.remove("pod-template-hash");
                (rs.revision, t)
            })
            .collect();
        revs.sort_by_key(|(r, _)| std::cmp::Reverse(*r));
        if let Some((_, t)) = revs.get(1).cloned()
            && let Some(d) = self.deployment_mut(ns, deploy)
        {
            d.template = t;
            d.generation += 1;
        }
    }

    pub(crate) fn delete_deployment(&mut self, ns: &str, deploy: &str) {
        let key = (ns.to_string(), deploy.to_string());
        let Some(d) = self.deployments.remove(&key) else {
            return;
        };
        self.store.remove(Resource::Deployment, &key);
        let rs_keys: Vec<Key> = self
            .replicasets
            .iter()
            .filter(|(_, rs)| rs.owner.uid == d.meta.uid)
            .map(|(k, _)| k.clone())
            .collect();
        let rs_uids: BTreeSet<String> = rs_keys
            .iter()
            .filter_map(|k| self.replicasets.get(k).map(|rs| rs.meta.uid.clone()))
            .collect();
        for k in &rs_keys {
            self.replicasets.remove(k);
            self.store.remove(Resource::ReplicaSet, k);
        }
        let pods: Vec<Key> = self
            .pods
            .iter()
            .filter(|(_, p)| p.owner.as_ref().is_some_and(|o| rs_uids.contains(&o.uid)))
            .map(|(k, _)| k.clone())
            .collect();
        let grace = self.controller_grace;
        for k in pods {
            self.delete_pod(&k.0, &k.1, grace);
        }
        self.workloads_dirty = true;
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
        let keys: Vec<Key> = self.statefulsets.keys().cloned().collect();
        for k in keys {
            progress |= self.reconcile_statefulset(&k);
        }
        let keys: Vec<Key> = self.daemonsets.keys().cloned().collect();
        for k in keys {
            progress |= self.reconcile_daemonset(&k);
        }
        let keys: Vec<Key> = self.jobs.keys().cloned().collect();
        for k in keys {
            progress |= self.reconcile_job(&k);
        }
        progress
    }

    /// The Deployment controller with strategy RollingUpdate, maxSurge 1, maxUnavailable 0:
    /// one new pod at a time, an old pod goes only once enough pods are ready.
    fn reconcile_deployment(&mut self, key: &Key) -> bool {
        let Some(d) = self.deployments.get(key) else {
            return false;
        };
        let ns = key.0.clone();
        let hash = template_hash(&d.template.hash_input());
        let rs_key = (ns.clone(), format!("{}-{hash}", d.meta.name));
        let d_uid = d.meta.uid.clone();
        let replicas = d.replicas as usize;
        let max_rev = self
            .replicasets
            .values()
            .filter(|rs| rs.owner.uid == d_uid)
            .map(|rs| rs.revision)
            .max()
            .unwrap_or(0);
        match self.replicasets.get_mut(&rs_key) {
            None => {
                let mut template = d.template.clone();
                template
                    .labels
                    .insert("pod-template-hash".into(), hash.clone());
                let mut selector = d.selector.clone();
                selector.insert("pod-template-hash".into(), hash.clone());
                let owner = OwnerRef {
                    api_version: "apps/v1",
                    kind: "Deployment",
                    name: d.meta.name.clone(),
                    uid: d_uid.clone(),
                };
                let mut meta = self.meta(&ns, &rs_key.1);
                meta.labels = template.labels.clone();
                self.replicasets.insert(
                    rs_key.clone(),
                    ReplicaSet {
                        meta,
                        owner,
                        replicas: 0,
                        selector,
                        template,
                        revision: max_rev + 1,
                        hash,
                    },
                );
                self.workloads_dirty = true;
                return true;
            }
            Some(rs) if rs.revision != max_rev => {
                rs.revision = max_rev + 1;
                self.workloads_dirty = true;
                return true;
            }
            Some(_) => {}
        }
        let rs_uids: BTreeMap<String, Key> = self
            .replicasets
            .iter()
            .filter(|(_, rs)| rs.owner.uid == d_uid)
            .map(|(k, rs)| (rs.meta.uid.clone(), k.clone()))
            .collect();
        let new_uid = self.replicasets[&rs_key].meta.uid.clone();
        let mut new_pods = Vec::new();
        let mut old_pods = Vec::new();
        let mut per_rs: BTreeMap<Key, u32> = rs_uids.values().map(|k| (k.clone(), 0)).collect();
        for (k, p) in &self.pods {
            let Some(o) = &p.owner else { continue };
            if p.deletion.is_some() || !rs_uids.contains_key(&o.uid) {
                continue;
            }
            *per_rs.entry(rs_uids[&o.uid].clone()).or_default() += 1;
            if o.uid == new_uid {
                new_pods.push((k.clone(), p.is_ready(), p.meta.created));
            } else {
                old_pods.push((k.clone(), p.is_ready()));
            }
        }
        // The ReplicaSets' desired counts follow what the controller has done so far.
        for (k, n) in per_rs {
            if let Some(rs) = self.replicasets.get_mut(&k)
                && rs.replicas != n
            {
                rs.replicas = n;
                self.workloads_dirty = true;
            }
        }
        let grace = self.controller_grace;
        if new_pods.len() > replicas {
            new_pods.sort_by_key(|(_, _, c)| *c);
            if let Some((k, _, _)) = new_pods.last() {
                let k = k.clone();
                return self.delete_pod(&k.0, &k.1, grace);
            }
        }
        if new_pods.len() < replicas && new_pods.len() + old_pods.len() < replicas + 1 {
            let rs = &self.replicasets[&rs_key];
            let tpl = rs.template.clone();
            let owner = OwnerRef {
                api_version: "apps/v1",
                kind: "ReplicaSet",
                name: rs.meta.name.clone(),
                uid: rs.meta.uid.clone(),
            };
            let prefix = format!("{}-", rs.meta.name);
            let name = self.unique_name(&ns, &prefix);
            let node = self.pick_node();
            self.create_owned_pod(
                &ns,
                &tpl,
                OwnedPod {
                    name,
                    generate_name: Some(prefix),
                    labels: tpl.labels.clone(),
                    owner,
                    node,
                    restart_policy: "Always",
                },
            );
            if let Some(rs) = self.replicasets.get_mut(&rs_key) {
                rs.replicas += 1;
            }
            return true;
        }
        let ready_total =
            new_pods.iter().filter(|p| p.1).count() + old_pods.iter().filter(|p| p.1).count();
        let victim = old_pods
            .iter()
            .find(|(_, ready)| !ready)
            .or_else(|| old_pods.first().filter(|_| ready_total > replicas));
        if let Some((k, _)) = victim {
            let k = k.clone();
            return self.delete_pod(&k.0, &k.1, grace);
        }
        false
    }

    fn reconcile_statefulset(&mut self, key: &Key) -> bool {
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
                    restart_policy: "Always",
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

    fn reconcile_daemonset(&mut self, key: &Key) -> bool {
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
                    restart_policy: "Always",
                },
            );
            return true;
        }
        false
    }

    fn reconcile_job(&mut self, key: &Key) -> bool {
        let Some(j) = self.jobs.get(key) else {
            return false;
        };
        if j.finished.is_some() {
            return false;
        }
        let uid = j.meta.uid.clone();
        let outcome = self
            .pods
            .values()
            .filter(|p| p.owner.as_ref().is_some_and(|o| o.uid == uid))
            .find_map(|p| match p.phase() {
                "Succeeded" => Some(true),
                "Failed" => Some(false),
                _ => None,
            });
        match (outcome, self.jobs.get_mut(key)) {
            (Some(ok), Some(j)) => {
                j.finished = Some((ok, Timestamp::now()));
                self.workloads_dirty = true;
                true
            }
            _ => false,
        }
    }

    // ---- publishing -------------------------------------------------------------------

    fn stats(&self) -> BTreeMap<String, Stats> {
        let mut m: BTreeMap<String, Stats> = BTreeMap::new();
        for p in self.pods.values() {
            let Some(o) = &p.owner else { continue };
            let s = m.entry(o.uid.clone()).or_default();
            match p.phase() {
                "Succeeded" => s.succeeded += 1,
                "Failed" => s.failed += 1,
                _ if p.deletion.is_none() => {
                    s.active += 1;
                    if p.is_ready() {
                        s.ready += 1;
                    }
                    if p.phase() == "Running" {
                        s.running += 1;
                    }
                }
                _ => {}
            }
        }
        m
    }

    /// Renders everything touched since the last commit into the store.
    pub(crate) fn commit(&mut self) {
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
                namespace_json(m),
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
            out.push((
                Resource::ReplicaSet,
                k.clone(),
                replicaset_json(rs, get(&rs.meta.uid)),
            ));
        }
        for (k, d) in &self.deployments {
            let hash = template_hash(&d.template.hash_input());
            let mut total = Stats::default();
            let mut updated = 0;
            let mut revision = 0;
            for rs in self
                .replicasets
                .values()
                .filter(|rs| rs.owner.uid == d.meta.uid)
            {
                let s = get(&rs.meta.uid);
                total.active += s.active;
                total.ready += s.ready;
                if rs.hash == hash {
                    updated = s.active;
                }
                revision = revision.max(rs.revision);
            }
            out.push((
                Resource::Deployment,
                k.clone(),
                deployment_json(d, total, updated, revision),
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
        for (r, k, v) in out {
            self.store.put(r, k, v);
        }
    }
}

fn gen_count(
    generated: &BTreeMap<(String, String, String), u64>,
    ns: &str,
    pod: &str,
    container: &str,
) -> u64 {
    generated
        .get(&(ns.to_string(), pod.to_string(), container.to_string()))
        .copied()
        .unwrap_or(0)
}

fn set_waiting(c: &mut Container, reason: &str, changed: &mut bool) {
    let message = match reason {
        "ImagePullBackOff" => Some(format!("Back-off pulling image \"{}\"", c.spec.image)),
        "ErrImagePull" => Some(format!(
            "failed to pull and unpack image \"{}\": not found",
            crate::meta::normalize_image(&c.spec.image)
        )),
        _ => None,
    };
    let want = State::Waiting {
        reason: reason.to_string(),
        message,
    };
    if c.state != want {
        c.state = want;
        *changed = true;
    }
}

fn obj(kind: &str, api_version: &str, meta: serde_json::Map<String, Value>, rest: Value) -> Value {
    let mut v = json!({ "kind": kind, "apiVersion": api_version, "metadata": meta });
    if let (Some(o), Value::Object(r)) = (v.as_object_mut(), rest) {
        o.extend(r);
    }
    v
}

fn namespace_json(m: &Meta) -> Value {
    let mut meta = m.clone();
    meta.labels
        .insert("kubernetes.io/metadata.name".into(), m.name.clone());
    obj(
        "Namespace",
        "v1",
        meta.to_json(),
        json!({ "spec": { "finalizers": ["kubernetes"] }, "status": { "phase": "Active" } }),
    )
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

fn replicaset_json(rs: &ReplicaSet, s: Stats) -> Value {
    let mut meta = rs.meta.to_json();
    meta.insert("generation".into(), json!(1));
    meta.insert("ownerReferences".into(), json!([rs.owner.to_json()]));
    meta.insert(
        "annotations".into(),
        json!({
            "deployment.kubernetes.io/desired-replicas": rs.replicas.to_string(),
            "deployment.kubernetes.io/max-replicas": (rs.replicas + 1).to_string(),
            "deployment.kubernetes.io/revision": rs.revision.to_string(),
        }),
    );
    let mut status = json!({
        "replicas": s.active,
        "fullyLabeledReplicas": s.active,
        "observedGeneration": 1,
    });
    if s.ready > 0 {
        status["readyReplicas"] = json!(s.ready);
        status["availableReplicas"] = json!(s.ready);
    }
    obj(
        "ReplicaSet",
        "apps/v1",
        meta,
        json!({
            "spec": { "replicas": rs.replicas, "selector": selector_json(&rs.selector),
                      "template": rs.template.to_json("Always") },
            "status": status,
        }),
    )
}

fn deployment_json(d: &Deployment, total: Stats, updated: u32, revision: u64) -> Value {
    let mut meta = d.meta.to_json();
    meta.insert("generation".into(), json!(d.generation));
    meta.insert(
        "annotations".into(),
        json!({ "deployment.kubernetes.io/revision": revision.to_string() }),
    );
    let t = fmt_time(d.meta.created);
    let available = total.ready >= d.replicas;
    let complete = available && updated == d.replicas && total.active == d.replicas;
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
             "message": format!("ReplicaSet \"{}-{}\" {}", d.meta.name, template_hash(&d.template.hash_input()),
                 if complete { "has successfully progressed." } else { "is progressing." }),
             "lastUpdateTime": t, "lastTransitionTime": t},
        ],
    });
    if total.ready > 0 {
        status["readyReplicas"] = json!(total.ready);
        status["availableReplicas"] = json!(total.ready);
    }
    if total.active > total.ready {
        status["unavailableReplicas"] = json!(total.active - total.ready);
    }
    obj(
        "Deployment",
        "apps/v1",
        meta,
        json!({
            "spec": {
                "replicas": d.replicas,
                "selector": selector_json(&d.selector),
                "template": d.template.to_json("Always"),
                "strategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 0, "maxSurge": 1 } },
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            },
            "status": status,
        }),
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
                "template": s.template.to_json("Always"),
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
                "template": ds.template.to_json("Always"),
                "updateStrategy": { "type": "RollingUpdate", "rollingUpdate": { "maxUnavailable": 1, "maxSurge": 0 } },
                "revisionHistoryLimit": 10,
            },
            "status": status,
        }),
    )
}

fn job_json(j: &Job, st: Stats) -> Value {
    let mut meta = j.meta.to_json();
    meta.insert("generation".into(), json!(1));
    let uid = &j.meta.uid;
    let mut status = json!({
        "startTime": fmt_time(j.meta.created),
        "ready": st.ready,
        "terminating": 0,
        "uncountedTerminatedPods": {},
    });
    if st.active > 0 {
        status["active"] = json!(st.active);
    }
    if st.succeeded > 0 {
        status["succeeded"] = json!(st.succeeded);
    }
    if st.failed > 0 {
        status["failed"] = json!(st.failed);
    }
    match j.finished {
        Some((true, at)) => {
            status["completionTime"] = json!(fmt_time(at));
            status["conditions"] = json!([
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods",
                 "lastProbeTime": fmt_time(at), "lastTransitionTime": fmt_time(at)},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached",
                 "message": "Reached expected number of succeeded pods",
                 "lastProbeTime": fmt_time(at), "lastTransitionTime": fmt_time(at)},
            ]);
        }
        Some((false, at)) => {
            status["conditions"] = json!([
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit",
                 "lastProbeTime": fmt_time(at), "lastTransitionTime": fmt_time(at)},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                 "message": "Job has reached the specified backoff limit",
                 "lastProbeTime": fmt_time(at), "lastTransitionTime": fmt_time(at)},
            ]);
        }
        None => {}
    }
    obj(
        "Job",
        "batch/v1",
        meta,
        json!({
            "spec": {
                "parallelism": 1,
                "completions": 1,
                "backoffLimit": 0,
                "completionMode": "NonIndexed",
                "suspend": false,
                "manualSelector": false,
                "podReplacementPolicy": "TerminatingOrFailed",
                "selector": { "matchLabels": { "batch.kubernetes.io/controller-uid": uid } },
                "template": j.template.to_json("Never"),
            },
            "status": status,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(name: &str) -> ContainerSpec {
        ContainerSpec::new(name).image("nginx:1.27")
    }

    fn pod_json(c: &Cluster, ns: &str, name: &str) -> Value {
        let key = (ns.to_string(), name.to_string());
        (*c.store.get(Resource::Pod, &key).expect("pod served").obj).clone()
    }

    fn committed(mut c: Cluster) -> Cluster {
        c.commit();
        c
    }

    #[test]
    fn pods_without_delays_run_at_once_after_their_init_containers() {
        let mut c = Cluster::new(100);
        c.create_pod(
            "ns",
            PodSpec::new("p")
                .init_container(app("init").lines(["migrating"]))
                .container(app("app").backlog(5)),
        );
        let c = committed(c);
        let p = pod_json(&c, "ns", "p");
        assert_eq!(p["status"]["phase"], "Running");
        assert_eq!(
            p["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"],
            "Completed"
        );
        assert!(p["status"]["containerStatuses"][0]["state"]["running"].is_object());
        assert_eq!(c.generated[&("ns".into(), "p".into(), "app".into())], 5);
        // The namespace was created on demand.
        assert!(
            c.store
                .get(Resource::Namespace, &(String::new(), "ns".into()))
                .is_some()
        );
    }

    #[test]
    fn start_delays_and_waiting_reasons_keep_pods_pending() {
        let mut c = Cluster::new(100);
        c.create_pod(
            "ns",
            PodSpec::new("slow").container(app("app").start_delay(Duration::from_secs(60))),
        );
        c.create_pod(
            "ns",
            PodSpec::new("pull").container(app("app").waiting("ErrImagePull")),
        );
        c.create_pod(
            "ns",
            PodSpec::new("nowhere").node(None).container(app("app")),
        );
        let c = committed(c);
        let slow = pod_json(&c, "ns", "slow");
        assert_eq!(slow["status"]["phase"], "Pending");
        assert_eq!(
            slow["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
            "ContainerCreating"
        );
        assert!(
            slow["status"]["containerStatuses"][0]
                .get("containerID")
                .is_none()
        );
        let pull = pod_json(&c, "ns", "pull");
        assert_eq!(
            pull["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
            "ErrImagePull"
        );
        let nowhere = pod_json(&c, "ns", "nowhere");
        assert!(nowhere["spec"].get("nodeName").is_none());
        assert_eq!(
            nowhere["status"]["conditions"][0]["reason"],
            "Unschedulable"
        );
    }

    #[test]
    fn crash_loop_then_restart() {
        let mut c = Cluster::new(100);
        c.create_pod("ns", PodSpec::new("p").container(app("app")));
        c.commit();
        let first_id =
            pod_json(&c, "ns", "p")["status"]["containerStatuses"][0]["containerID"].clone();
        c.crash_loop("ns", "p", "app");
        c.commit();
        let st = pod_json(&c, "ns", "p")["status"].clone();
        assert_eq!(
            st["phase"], "Running",
            "a crash-looping container counts as stopped"
        );
        let cs = &st["containerStatuses"][0];
        assert_eq!(cs["state"]["waiting"]["reason"], "CrashLoopBackOff");
        assert_eq!(cs["lastState"]["terminated"]["exitCode"], 1);
        assert_eq!(cs["lastState"]["terminated"]["containerID"], first_id);
        assert_eq!(cs["restartCount"], 1);
        c.restart_container("ns", "p", "app", 0);
        c.commit();
        let cs = pod_json(&c, "ns", "p")["status"]["containerStatuses"][0].clone();
        assert!(cs["state"]["running"].is_object());
        assert_eq!(cs["restartCount"], 1, "the crash was already counted");
        assert_ne!(cs["containerID"], first_id);
        c.terminate_container("ns", "p", "app", 2);
        c.commit();
        let cs = pod_json(&c, "ns", "p")["status"]["containerStatuses"][0].clone();
        assert_eq!(cs["state"]["terminated"]["reason"], "Error");
        assert_eq!(cs["state"]["terminated"]["exitCode"], 2);
    }

    #[test]
    fn rolling_update_surges_by_one_and_keeps_revisions() {
        let mut c = Cluster::new(1000);
        c.create_deployment("ns", &WorkloadSpec::new("web", 2).container(app("app")));
        c.commit();
        let old: Vec<Key> = c.pods.keys().cloned().collect();
        assert_eq!(old.len(), 2);
        let p = pod_json(&c, "ns", &old[0].1);
        let hash = p["metadata"]["labels"]["pod-template-hash"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(old[0].1.starts_with(&format!("web-{hash}-")));
        assert_eq!(p["metadata"]["generateName"], format!("web-{hash}-"));

        c.set_image("ns", "web", "app", "nginx:1.28");
        // One controller step at a time: a new ReplicaSet, one surge pod, then (as the
        // surge pod is ready at once) an old pod is deleted, and so on.
        assert!(c.reconcile_all());
        assert_eq!(c.replicasets.len(), 2);
        assert!(c.reconcile_all());
        assert_eq!(c.pods.values().filter(|p| p.deletion.is_none()).count(), 3);
        assert!(c.reconcile_all());
        assert_eq!(c.pods.values().filter(|p| p.deletion.is_some()).count(), 1);
        c.settle();
        c.commit();
        let active: Vec<&Pod> = c.pods.values().filter(|p| p.deletion.is_none()).collect();
        assert_eq!(active.len(), 2);
        assert!(
            active
                .iter()
                .all(|p| !old.contains(&(p.meta.namespace.clone(), p.meta.name.clone())))
        );
        let d = c
            .store
            .get(Resource::Deployment, &("ns".into(), "web".into()))
            .unwrap();
        assert_eq!(
            d.obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
            "2"
        );

        c.rollout_undo("ns", "web");
        c.settle();
        c.commit();
        let d = c
            .store
            .get(Resource::Deployment, &("ns".into(), "web".into()))
            .unwrap();
        assert_eq!(
            d.obj["spec"]["template"]["spec"]["containers"][0]["image"],
            "nginx:1.27"
        );
        assert_eq!(
            d.obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
            "3"
        );
        assert_eq!(c.replicasets.len(), 2, "the old ReplicaSet is reused");
    }

    #[test]
    fn statefulsets_daemonsets_and_jobs_label_their_pods() {
        let mut c = Cluster::new(1000);
        c.create_statefulset("ns", &WorkloadSpec::new("db", 2).container(app("pg")));
        c.create_daemonset("ns", &WorkloadSpec::new("agent", 0).container(app("agent")));
        c.create_job(
            "ns",
            &JobSpec::new("migrate")
                .container(app("run"))
                .run_for(Duration::ZERO),
        );
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
