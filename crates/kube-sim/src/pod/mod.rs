//! The kubelet's half of a pod: container instances, their states and log journals, the
//! lifecycle steps (start, exit, restart, crash loop), readiness, conditions and phase.
//! `json` renders the pod as the API server serves it.
//!
//! Functions here mutate one pod and never touch other objects; `cluster` calls them under
//! the state lock and publishes the result.

mod json;

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::logs::LogJournal;
use crate::meta::{Meta, OwnerRef, Rng};
use crate::spec::ContainerSpec;

pub(crate) use json::{container_spec_json, pod_spec_json, pull_policy};

/// Why the scheduler cannot place a pod without a node (the simulated nodes match no
/// pod that was not given one).
pub(crate) const UNSCHEDULABLE: &str = "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContainerKind {
    Init,
    Regular,
    Ephemeral,
}

/// One finished container instance, as `state.terminated` / `lastState.terminated` show it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Terminated {
    pub(crate) exit_code: i32,
    pub(crate) reason: String,
    pub(crate) started: Timestamp,
    pub(crate) finished: Timestamp,
    pub(crate) id: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum State {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started: Timestamp,
    },
    Terminated(Terminated),
}

pub(crate) struct Container {
    pub(crate) spec: ContainerSpec,
    pub(crate) kind: ContainerKind,
    pub(crate) state: State,
    /// Runtime ID of the current (or last) instance; empty before the first start.
    pub(crate) id: String,
    pub(crate) last: Option<Terminated>,
    pub(crate) restarts: u32,
    /// The journal of the current instance (or of the next one while waiting).
    pub(crate) journal: Arc<LogJournal>,
    /// The journal of the instance in `last`, served for `previous=true`.
    pub(crate) prev_journal: Option<Arc<LogJournal>>,
    pub(crate) started_once: bool,
    pub(crate) exit_at: Option<(Instant, i32)>,
    pub(crate) generator_spawned: bool,
    /// Its readiness probe fails: running, but not ready.
    pub(crate) unready: bool,
    /// Failures of an injected failing liveness probe seen so far by the current
    /// instance; `None` while the probe passes.
    pub(crate) liveness_failures: Option<u32>,
    /// When the kubelet next reports a condition that persists (a failing probe, a
    /// back-off), as it does on every probe period or pod sync.
    pub(crate) report_at: Option<Instant>,
    pub(crate) gen_budget: f64,
    pub(crate) gen_last: Option<Instant>,
}

impl Container {
    fn new(spec: ContainerSpec, kind: ContainerKind, waiting: &str) -> Container {
        Container {
            spec,
            kind,
            state: State::Waiting {
                reason: waiting.to_string(),
                message: None,
            },
            id: String::new(),
            last: None,
            restarts: 0,
            journal: LogJournal::new(),
            prev_journal: None,
            started_once: false,
            exit_at: None,
            generator_spawned: false,
            unready: false,
            liveness_failures: None,
            report_at: None,
            gen_budget: 0.0,
            gen_last: None,
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.spec.name
    }

    /// How events name the container (`involvedObject.fieldPath`): `spec.containers{app}`.
    pub(crate) fn field_path(&self) -> String {
        let list = match self.kind {
            ContainerKind::Init => "initContainers",
            ContainerKind::Regular => "containers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        };
        format!("spec.{list}{{{}}}", self.spec.name)
    }

    pub(crate) fn is_running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    /// Running and passing its readiness probe.
    pub(crate) fn is_ready(&self) -> bool {
        self.is_running() && !self.unready
    }

    /// Ends the running instance: its follow streams drain and end.
    pub(crate) fn end_instance(&mut self, exit_code: i32, now: Timestamp) {
        self.end_instance_as(exit_code, None, now);
    }

    /// Ends the running instance with a reason of its own (`OOMKilled`...) instead of
    /// `Completed`/`Error`.
    pub(crate) fn end_instance_as(&mut self, exit_code: i32, reason: Option<&str>, now: Timestamp) {
        if let State::Running { started } = self.state {
            let default = if exit_code == 0 { "Completed" } else { "Error" };
            self.state = State::Terminated(Terminated {
                exit_code,
                reason: reason.unwrap_or(default).to_string(),
                started,
                finished: now,
                id: self.id.clone(),
            });
            self.journal.terminate();
            self.exit_at = None;
        }
    }

    /// Moves a terminated instance to `lastState` and prepares a fresh journal for the next
    /// instance, as the kubelet does before restarting a container.
    fn retire_instance(&mut self) {
        if let State::Terminated(t) = &self.state {
            self.last = Some(t.clone());
            self.prev_journal = Some(std::mem::replace(&mut self.journal, LogJournal::new()));
            self.restarts += 1;
        }
    }
}

pub(crate) struct Deletion {
    pub(crate) at: Timestamp,
    pub(crate) grace_secs: i64,
    pub(crate) deadline: Instant,
    /// Containers have been stopped; the object goes away on the next step.
    pub(crate) finalized: bool,
}

pub(crate) struct Pod {
    pub(crate) meta: Meta,
    pub(crate) generate_name: Option<String>,
    pub(crate) owner: Option<OwnerRef>,
    pub(crate) node: Option<String>,
    pub(crate) restart_policy: String,
    /// Pod spec fields from the template or a client that are served as they are.
    pub(crate) spec_extra: serde_json::Map<String, serde_json::Value>,
    pub(crate) host_ip: String,
    pub(crate) ip: String,
    pub(crate) hostname: Option<(String, String)>,
    pub(crate) deletion: Option<Deletion>,
    pub(crate) init: Vec<Container>,
    pub(crate) containers: Vec<Container>,
    pub(crate) ephemeral: Vec<Container>,
    /// When the current lifecycle step became possible (pod creation, then the end of the
    /// last init container): start delays count from here.
    pub(crate) clock: Instant,
    pub(crate) conditions: BTreeMap<&'static str, (bool, Timestamp)>,
    /// Wakes the pod's lifecycle task after an out-of-band change.
    pub(crate) wake: Arc<Notify>,
    /// The pod's own random stream (container IDs), split from the cluster's when the pod
    /// is created, so the order in which pods' clocks run cannot change another pod's IDs.
    pub(crate) rng: Rng,
}

/// What a pod is made of, independent of how it was created.
pub(crate) struct PodTemplate<'a> {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) init: &'a [ContainerSpec],
    pub(crate) containers: &'a [ContainerSpec],
    pub(crate) ephemeral: &'a [ContainerSpec],
    pub(crate) restart_policy: &'a str,
}

/// One step of work a lifecycle change asks the caller to do outside the pod.
pub(crate) enum Effect {
    /// A container started for the first time and has a line rate: run its generator.
    SpawnGenerator(String),
    /// Generated backlog lines were written: `generated` counts must grow by this much.
    Generated(String, u64),
    /// A new instance of the container started: the kubelet records its image pull,
    /// creation and start.
    Started(String),
}

impl Pod {
    pub(crate) fn new(
        meta: Meta,
        tpl: PodTemplate<'_>,
        node: Option<String>,
        host_ip: String,
        ip: String,
        rng: Rng,
    ) -> Pod {
        let regular_wait = if tpl.init.is_empty() {
            "ContainerCreating"
        } else {
            "PodInitializing"
        };
        let mut meta = meta;
        meta.labels = tpl.labels;
        meta.annotations = tpl.annotations;
        Pod {
            meta,
            generate_name: None,
            owner: None,
            node,
            restart_policy: tpl.restart_policy.to_string(),
            spec_extra: serde_json::Map::new(),
            host_ip,
            ip,
            hostname: None,
            deletion: None,
            init: tpl
                .init
                .iter()
                .map(|c| Container::new(c.clone(), ContainerKind::Init, "PodInitializing"))
                .collect(),
            containers: tpl
                .containers
                .iter()
                .map(|c| Container::new(c.clone(), ContainerKind::Regular, regular_wait))
                .collect(),
            ephemeral: tpl
                .ephemeral
                .iter()
                .map(|c| Container::new(c.clone(), ContainerKind::Ephemeral, regular_wait))
                .collect(),
            clock: Instant::now(),
            conditions: BTreeMap::new(),
            wake: Arc::new(Notify::new()),
            rng,
        }
    }

    pub(crate) fn all_containers(&self) -> impl Iterator<Item = &Container> {
        self.init
            .iter()
            .chain(self.containers.iter())
            .chain(self.ephemeral.iter())
    }

    pub(crate) fn all_containers_mut(&mut self) -> impl Iterator<Item = &mut Container> {
        self.init
            .iter_mut()
            .chain(self.containers.iter_mut())
            .chain(self.ephemeral.iter_mut())
    }

    pub(crate) fn container(&self, name: &str) -> Option<&Container> {
        self.all_containers().find(|c| c.name() == name)
    }

    pub(crate) fn container_mut(&mut self, name: &str) -> Option<&mut Container> {
        self.all_containers_mut().find(|c| c.name() == name)
    }

    fn inits_done(&self) -> bool {
        self.init
            .iter()
            .all(|c| matches!(&c.state, State::Terminated(t) if t.exit_code == 0))
    }

    /// Ready as the kubelet reports it: every regular container running.
    pub(crate) fn is_ready(&self) -> bool {
        self.node.is_some()
            && self.inits_done()
            && !self.containers.is_empty()
            && self.containers.iter().all(Container::is_ready)
    }

    /// Starts a new instance of a container: new runtime ID, running state, first-start
    /// log content, exit timer.
    pub(crate) fn start_instance(
        &mut self,
        idx: (ContainerKind, usize),
        id: String,
        now: Instant,
        now_t: Timestamp,
        effects: &mut Vec<Effect>,
        first_seq: u64,
    ) {
        let pod_name = self.meta.name.clone();
        let c = match idx.0 {
            ContainerKind::Init => &mut self.init[idx.1],
            ContainerKind::Regular => &mut self.containers[idx.1],
            ContainerKind::Ephemeral => &mut self.ephemeral[idx.1],
        };
        c.id = id;
        c.state = State::Running { started: now_t };
        c.liveness_failures = None;
        effects.push(Effect::Started(c.spec.name.clone()));
        if !c.started_once {
            c.started_once = true;
            if c.spec.backlog > 0 {
                c.journal
                    .append_generated(&pod_name, &c.spec.name, first_seq, c.spec.backlog);
                effects.push(Effect::Generated(c.spec.name.clone(), c.spec.backlog));
            }
            for line in &c.spec.lines {
                c.journal.append(line.as_bytes());
            }
        }
        c.exit_at = c
            .spec
            .exit_after
            .map(|(d, code)| (crate::meta::after(now, d), code));
        c.gen_last = None;
        c.gen_budget = 0.0;
        if c.spec.rate > 0.0 && !c.generator_spawned {
            c.generator_spawned = true;
            effects.push(Effect::SpawnGenerator(c.spec.name.clone()));
        }
    }

    /// Restarts a container like the kubelet after an exit: the old instance moves to
    /// `lastState` (its journal stays readable with `previous=true`), a new one starts.
    pub(crate) fn restart_prepare(
        &mut self,
        name: &str,
        exit_code: i32,
        reason: Option<&str>,
        now_t: Timestamp,
    ) -> bool {
        let Some(c) = self.container_mut(name) else {
            return false;
        };
        c.end_instance_as(exit_code, reason, now_t);
        if matches!(c.state, State::Terminated(_)) {
            c.retire_instance();
        }
        true
    }

    /// Puts a container into CrashLoopBackOff: the running instance exits with 1 and the
    /// container waits (until `restart_container`) with the dead run in `lastState`.
    pub(crate) fn crash_loop(&mut self, name: &str, now_t: Timestamp) -> bool {
        let pod_name = self.meta.name.clone();
        let Some(c) = self.container_mut(name) else {
            return false;
        };
        c.end_instance(1, now_t);
        c.retire_instance();
        c.state = State::Waiting {
            reason: "CrashLoopBackOff".to_string(),
            message: Some(format!(
                "back-off 10s restarting failed container={} pod={pod_name}",
                c.spec.name
            )),
        };
        true
    }

    /// Index of a container in its list, for `start_instance`.
    pub(crate) fn index_of(&self, name: &str) -> Option<(ContainerKind, usize)> {
        if let Some(i) = self.init.iter().position(|c| c.name() == name) {
            return Some((ContainerKind::Init, i));
        }
        if let Some(i) = self.containers.iter().position(|c| c.name() == name) {
            return Some((ContainerKind::Regular, i));
        }
        self.ephemeral
            .iter()
            .position(|c| c.name() == name)
            .map(|i| (ContainerKind::Ephemeral, i))
    }

    /// Updates condition transition times after a change.
    pub(crate) fn refresh_conditions(&mut self, now_t: Timestamp) {
        let scheduled = self.node.is_some();
        let mut set = |name: &'static str, v: bool| match self.conditions.get(name) {
            Some((old, _)) if *old == v => {}
            _ => {
                self.conditions.insert(name, (v, now_t));
            }
        };
        set("PodScheduled", scheduled);
        if scheduled {
            let inits = self
                .init
                .iter()
                .all(|c| matches!(&c.state, State::Terminated(t) if t.exit_code == 0));
            let ready = inits
                && !self.containers.is_empty()
                && self.containers.iter().all(Container::is_ready);
            let sandbox = self.deletion.as_ref().is_none_or(|d| !d.finalized);
            set("PodReadyToStartContainers", sandbox);
            set("Initialized", inits);
            set("ContainersReady", ready);
            set("Ready", ready);
        }
    }

    /// Pod phase by the kubelet's rules (`getPhase`): a container waiting after a crash
    /// counts as stopped, not waiting.
    pub(crate) fn phase(&self) -> &'static str {
        if self.node.is_none() {
            return "Pending";
        }
        if !self.inits_done() {
            let failed = self
                .init
                .iter()
                .any(|c| matches!(&c.state, State::Terminated(t) if t.exit_code != 0));
            return if failed && self.restart_policy == "Never" {
                "Failed"
            } else {
                "Pending"
            };
        }
        let (mut waiting, mut running, mut stopped, mut succeeded) = (0, 0, 0, 0);
        for c in &self.containers {
            match &c.state {
                State::Running { .. } => running += 1,
                State::Terminated(t) => {
                    stopped += 1;
                    if t.exit_code == 0 {
                        succeeded += 1;
                    }
                }
                State::Waiting { .. } if c.last.is_some() => stopped += 1,
                State::Waiting { .. } => waiting += 1,
            }
        }
        if waiting > 0 {
            "Pending"
        } else if running > 0 {
            "Running"
        } else if stopped > 0 {
            let terminal = self.restart_policy == "Never" || self.deletion.is_some();
            if stopped == succeeded && (terminal || self.restart_policy == "OnFailure") {
                "Succeeded"
            } else if terminal {
                "Failed"
            } else {
                "Running"
            }
        } else {
            "Pending"
        }
    }
}
