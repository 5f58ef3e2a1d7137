//! The kubelet's side of the cluster: creating pods (bare and controller-owned), placing
//! them on nodes with IPs and generated names, stepping each pod's lifecycle clock (init
//! containers in order, start delays, waiting reasons, timed exits, the end of a graceful
//! deletion) and writing generated lines at a container's rate. It must not decide which
//! pods should exist; that is the controllers'.

use std::collections::BTreeMap;

use jiff::Timestamp;
use tokio::time::Instant;

use super::events::Note;
use super::template::Template;
use super::{Cluster, NODES, PodStep, Spawn, host_ip, node_index};
use crate::logs;
use crate::meta::OwnerRef;
use crate::pod::{Container, ContainerKind, Effect, Pod, PodTemplate, State};
use crate::spec::PodSpec;
use crate::store::Key;

/// How often the kubelet runs a probe (`periodSeconds`, 10 s by default in a real
/// cluster; shorter here so tests move quickly). Each failure is reported.
pub(crate) const PROBE_PERIOD: std::time::Duration = std::time::Duration::from_secs(2);

/// Consecutive liveness failures before the kubelet kills the container
/// (`failureThreshold`).
pub(crate) const LIVENESS_THRESHOLD: u32 = 3;

/// How often the kubelet reports a back-off again while it lasts (each pod sync).
const BACK_OFF_REPORT: std::time::Duration = std::time::Duration::from_secs(5);

/// The controller-specific parts of a pod a controller creates.
pub(super) struct OwnedPod {
    pub(super) name: String,
    pub(super) generate_name: Option<String>,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) owner: OwnerRef,
    pub(super) node: &'static str,
}

impl Cluster {
    fn alloc_ip(&mut self, node: &str) -> String {
        self.next_ip += 1;
        let n = self.next_ip;
        format!("10.244.{}.{}", node_index(node) + 1, n % 250 + 2)
    }

    pub(super) fn unique_name(&mut self, ns: &str, prefix: &str) -> String {
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
        let node = pod.node.clone();
        self.pods.insert(key.clone(), pod);
        self.dirty_pods.insert(key.clone());
        self.workloads_dirty = true;
        let note = match node {
            Some(n) => Note::normal(
                "Scheduled",
                format!("Successfully assigned {}/{} to {n}", key.0, key.1),
            ),
            None => Note::warning("FailedScheduling", crate::pod::UNSCHEDULABLE),
        };
        self.scheduler_event(&key, note);
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
            self.rng.split(),
        );
        self.add_pod(pod);
        name
    }

    /// A pod created by a controller from its template.
    pub(super) fn create_owned_pod(&mut self, ns: &str, tpl: &Template, p: OwnedPod) {
        let OwnedPod {
            name,
            generate_name,
            labels,
            owner,
            node,
        } = p;
        let meta = self.meta(ns, &name);
        let ip = self.alloc_ip(node);
        let mut pod = Pod::new(
            meta,
            PodTemplate {
                labels,
                annotations: tpl.annotations.clone(),
                init: &tpl.init,
                containers: &tpl.containers,
                ephemeral: &[],
                restart_policy: &tpl.restart_policy,
            },
            Some(node.to_string()),
            host_ip(node),
            ip,
            self.rng.split(),
        );
        pod.generate_name = generate_name;
        // The owner's controller records the creation before the scheduler binds it.
        self.pod_created_event(ns, &owner, &name);
        pod.owner = Some(owner);
        pod.spec_extra = tpl.spec_extra.clone();
        self.add_pod(pod);
    }

    pub(super) fn pick_node(&mut self) -> &'static str {
        NODES[(self.rng.next() % NODES.len() as u64) as usize]
    }

    /// One step of a pod's clock: deletion, init containers in order, then the regular
    /// and ephemeral containers (start delays, waiting reasons, timed exits).
    pub(crate) fn advance_pod(&mut self, key: &Key, uid: &str) -> PodStep {
        let now = Instant::now();
        let now_t = Timestamp::now();
        let refused = self.unpullable.clone();
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
                // A task still in progress (a Job's) dies of the SIGTERM: 128 + 15. A
                // server shuts down cleanly.
                let code = if c.exit_at.is_some() { 143 } else { 0 };
                c.end_instance(code, now_t);
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
        let mut notes = Vec::new();
        let (ns, pod_name) = (key.0.clone(), key.1.clone());
        // How the kubelet names a pod in messages (`format.Pod`).
        let pod_ref = format!("{pod_name}_{ns}({})", pod.meta.uid);

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
                            changed |= set_waiting(c, &r);
                            blocked = true;
                            break;
                        }
                        let at = crate::meta::after(pod.clock, c.spec.start_delay);
                        if now < at {
                            soonest(at);
                            blocked = true;
                            break;
                        }
                        let seq = gen_count(&self.generated, &ns, &pod_name, &c.spec.name);
                        let instant_exit = c.spec.exit_after.is_none();
                        let id = pod.rng.container_id();
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
                        changed |= set_waiting(c, &r);
                        continue;
                    }
                    if refused.contains(&crate::meta::normalize_image(&c.spec.image)) {
                        // The pull fails, then the kubelet backs off and keeps trying.
                        let pulling = matches!(&c.state, State::Waiting { reason, .. } if reason == "ErrImagePull" || reason == "ImagePullBackOff");
                        if pulling {
                            changed |= set_waiting(c, "ImagePullBackOff");
                            recurring_reports(c, &pod_ref, now, &mut notes);
                            if let Some(at) = c.report_at {
                                soonest(at);
                            }
                        } else if set_waiting(c, "ErrImagePull") {
                            changed = true;
                            let on = c.field_path();
                            let image = &c.spec.image;
                            let why = match &c.state {
                                State::Waiting { message, .. } => message.clone(),
                                _ => None,
                            };
                            notes.push(
                                Note::normal("Pulling", format!("Pulling image {image:?}"))
                                    .on(on.clone()),
                            );
                            notes.push(
                                Note::warning(
                                    "Failed",
                                    format!(
                                        "Failed to pull image {image:?}: {}",
                                        why.unwrap_or_default()
                                    ),
                                )
                                .on(on.clone()),
                            );
                            notes.push(Note::warning("Failed", "Error: ErrImagePull").on(on));
                            soonest(crate::meta::after(now, std::time::Duration::from_secs(1)));
                        }
                        continue;
                    }
                    let at = crate::meta::after(pod.clock, c.spec.start_delay);
                    if now < at {
                        changed |= set_waiting(c, "ContainerCreating");
                        soonest(at);
                        continue;
                    }
                    let seq = gen_count(&self.generated, &ns, &pod_name, &c.spec.name);
                    let id = pod.rng.container_id();
                    pod.start_instance(idx, id, now, now_t, &mut effects, seq);
                    changed = true;
                }
                let c = match idx.0 {
                    ContainerKind::Regular => &mut pod.containers[idx.1],
                    _ => &mut pod.ephemeral[idx.1],
                };
                if let (State::Running { .. }, Some((at, code))) = (&c.state, c.exit_at) {
                    if now >= at {
                        let reason = c.spec.exit_reason.clone().filter(|_| code != 0);
                        c.end_instance_as(code, reason.as_deref(), now_t);
                        changed = true;
                    } else {
                        soonest(at);
                    }
                }
                if recurring_reports(c, &pod_ref, now, &mut notes) {
                    // Killed for its failing liveness probe (SIGKILL after the grace
                    // period: 137, Error) and started again at once, as after a first
                    // crash.
                    let name = c.spec.name.clone();
                    pod.restart_prepare(&name, 137, Some("Error"), now_t);
                    let seq = gen_count(&self.generated, &ns, &pod_name, &name);
                    let id = pod.rng.container_id();
                    pod.start_instance(idx, id, now, now_t, &mut effects, seq);
                    changed = true;
                } else if let Some(at) = c.report_at {
                    soonest(at);
                }
            }
        }
        let wake = next;
        let uid = pod.meta.uid.clone();
        for note in notes {
            self.pod_event(key, note);
        }
        self.apply_effects(key, &uid, effects);
        if changed {
            self.dirty_pods.insert(key.clone());
            self.workloads_dirty = true;
        }
        PodStep::Wait(wake)
    }

    pub(super) fn apply_effects(&mut self, key: &Key, uid: &str, effects: Vec<Effect>) {
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
                Effect::Started(container) => self.record_start(key, &container),
            }
        }
    }

    /// The kubelet's events of a container start: the image pull (or that the image is
    /// there already), then `Created` and `Started`.
    fn record_start(&mut self, key: &Key, container: &str) {
        let Some(p) = self.pods.get(key) else { return };
        let (Some(node), Some(c)) = (p.node.clone(), p.container(container)) else {
            return;
        };
        let on = c.field_path();
        let image = c.spec.image.clone();
        let always = crate::pod::pull_policy(&image) == "Always";
        let fresh = self
            .pulled
            .insert((node, crate::meta::normalize_image(&image)));
        if always || fresh {
            // A pull takes a while and the image has a size; both are made up but fixed
            // per image.
            let h = crate::meta::fnv64(image.as_bytes());
            let took = go_millis(200 + h % 2800);
            let size = 5_000_000 + (h >> 16) % 95_000_000;
            self.pod_event(
                key,
                Note::normal("Pulling", format!("Pulling image {image:?}")).on(on.clone()),
            );
            self.pod_event(
                key,
                Note::normal(
                    "Pulled",
                    format!(
                        "Successfully pulled image {image:?} in {took} ({took} including waiting). Image size: {size} bytes."
                    ),
                )
                .on(on.clone()),
            );
        } else {
            self.pod_event(
                key,
                Note::normal(
                    "Pulled",
                    format!("Container image {image:?} already present on machine and can be accessed by the pod"),
                )
                .on(on.clone()),
            );
        }
        self.pod_event(
            key,
            Note::normal("Created", format!("Created container: {container}")).on(on.clone()),
        );
        self.pod_event(
            key,
            Note::normal("Started", format!("Started container {container}")).on(on),
        );
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
}

/// A duration in milliseconds as Go prints a `time.Duration`: `850ms`, `1.2s`.
fn go_millis(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = format!("{}.{:03}", ms / 1000, ms % 1000);
    format!("{}s", s.trim_end_matches('0').trim_end_matches('.'))
}

pub(super) fn gen_count(
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

/// Puts a container in a waiting state; true if that changed it.
fn set_waiting(c: &mut Container, reason: &str) -> bool {
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
    if c.state == want {
        return false;
    }
    c.state = want;
    true
}

/// Whether a report that recurs every `period` is due now; if so, the next one is set.
fn report_due(c: &mut Container, now: Instant, period: std::time::Duration) -> bool {
    match c.report_at {
        Some(at) if now < at => false,
        _ => {
            c.report_at = Some(crate::meta::after(now, period));
            true
        }
    }
}

/// What the kubelet reports about a container on every probe or sync while it lasts: a
/// failing probe, a crash-loop back-off. True if a failing liveness probe has reached
/// its threshold: the container must be killed and restarted.
fn recurring_reports(
    c: &mut Container,
    pod_ref: &str,
    now: Instant,
    notes: &mut Vec<Note>,
) -> bool {
    let on = c.field_path();
    let name = c.spec.name.clone();
    let mut say = |note: Note| notes.push(note.on(on.clone()));
    let mut kill = false;
    let lasts = match &c.state {
        State::Running { .. } if c.liveness_failures.is_some() || c.unready => {
            if report_due(c, now, PROBE_PERIOD) {
                if let Some(n) = &mut c.liveness_failures {
                    *n += 1;
                    say(Note::warning(
                        "Unhealthy",
                        "Liveness probe failed: HTTP probe failed with statuscode: 500",
                    ));
                    if *n >= LIVENESS_THRESHOLD {
                        say(Note::normal(
                            "Killing",
                            format!("Container {name} failed liveness probe, will be restarted"),
                        ));
                        kill = true;
                    }
                }
                if c.unready {
                    say(Note::warning(
                        "Unhealthy",
                        "Readiness probe failed: HTTP probe failed with statuscode: 503",
                    ));
                }
            }
            true
        }
        State::Waiting { reason, .. } if reason == "CrashLoopBackOff" => {
            if report_due(c, now, BACK_OFF_REPORT) {
                say(Note::warning(
                    "BackOff",
                    format!("Back-off restarting failed container {name} in pod {pod_ref}"),
                ));
            }
            true
        }
        State::Waiting { reason, .. } if reason == "ImagePullBackOff" => {
            if report_due(c, now, BACK_OFF_REPORT) {
                say(Note::normal(
                    "BackOff",
                    format!("Back-off pulling image {:?}", c.spec.image),
                ));
                say(Note::warning("Failed", "Error: ImagePullBackOff"));
            }
            true
        }
        _ => false,
    };
    if !lasts || kill {
        c.report_at = None;
    }
    kill
}

#[cfg(test)]
mod tests {
    use super::super::testing::{app, cluster, committed, pod_json};
    use crate::spec::PodSpec;
    use crate::store::Resource;
    use std::time::Duration;

    #[test]
    fn pods_without_delays_run_at_once_after_their_init_containers() {
        let mut c = cluster(100);
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
        let mut c = cluster(100);
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
}
