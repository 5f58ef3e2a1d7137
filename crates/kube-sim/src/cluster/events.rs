//! Kubernetes Events (core/v1) as the kubelet, the scheduler and the controllers record
//! them: what happened to an object, by whom, how often. Recording
//! correlates like client-go's event correlator: the same (object, fieldPath, type,
//! reason, message, source) bumps `count` and `lastTimestamp` of the existing Event (a
//! MODIFIED watch event) instead of creating another one. Spam filtering and the
//! "(combined from similar events)" aggregation of the correlator are not modelled.
//!
//! Events do not live for ever: the apiserver stores them with a TTL (`--event-ttl`, 1 h).
//! Here an event not seen for an hour is deleted the next time events are recorded, and
//! at most [`MAX_EVENTS`] are kept (the least recently seen go first), so a scenario that
//! keeps failing cannot grow the store without bound. Both show as DELETED watch events,
//! as a TTL expiry does.
//!
//! This module only records; the kubelet, controllers and scenario calls decide when.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde_json::{Value, json};

use super::Cluster;
use crate::meta::{OwnerRef, fmt_time};
use crate::store::{Key, Resource};

/// The most events kept at once (the stand-in for the 1 h TTL under load).
pub(crate) const MAX_EVENTS: usize = 1000;

/// How long an event is kept after it was last seen (`--event-ttl`).
const EVENT_TTL: jiff::SignedDuration = jiff::SignedDuration::from_secs(3600);

/// Normal or Warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Severity {
    Normal,
    Warning,
}

impl Severity {
    fn as_str(self) -> &'static str {
        match self {
            Severity::Normal => "Normal",
            Severity::Warning => "Warning",
        }
    }
}

/// What happened, before it is tied to an object and a reporter.
#[derive(Debug, Clone)]
pub(crate) struct Note {
    pub(crate) severity: Severity,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
    /// The part of the object: `spec.containers{app}`; empty for the whole object.
    pub(crate) field_path: String,
}

impl Note {
    pub(crate) fn normal(reason: &'static str, message: impl Into<String>) -> Note {
        Note {
            severity: Severity::Normal,
            reason,
            message: message.into(),
            field_path: String::new(),
        }
    }

    pub(crate) fn warning(reason: &'static str, message: impl Into<String>) -> Note {
        Note {
            severity: Severity::Warning,
            ..Note::normal(reason, message)
        }
    }

    /// The note about one container of a pod (`involvedObject.fieldPath`).
    pub(crate) fn on(mut self, field_path: String) -> Note {
        self.field_path = field_path;
        self
    }
}

/// Who records an event, which decides the API it is written through and so its shape.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Reporter {
    /// The kubelet of a node (core/v1 recorder: `source` with the host).
    Kubelet(String),
    /// A controller-manager controller (core/v1 recorder, no host).
    Controller(&'static str),
    /// The scheduler, which writes events.k8s.io/v1 Events: `eventTime` and
    /// `reportingController` set, `source`, `firstTimestamp`, `lastTimestamp` and `count`
    /// empty when read through core/v1.
    Scheduler,
}

/// The object an event is about (`involvedObject`).
#[derive(Debug, Clone)]
struct Involved {
    kind: &'static str,
    api_version: &'static str,
    resource: Resource,
    key: Key,
    uid: String,
}

/// One stored event.
struct Recorded {
    name: String,
    uid: String,
    involved: Involved,
    /// The involved object's resourceVersion when the event was first recorded; taken
    /// from the store at the first commit after it.
    involved_rv: Option<String>,
    note: Note,
    reporter: Reporter,
    first: Timestamp,
    last: Timestamp,
    count: u32,
}

/// What the correlator compares: everything but times, counts and resourceVersions.
type Correlation = (String, String, Severity, &'static str, String, Reporter);

/// Events of the cluster, the correlator's index and what the next commit must render.
pub(crate) struct Events {
    by_key: BTreeMap<Key, Recorded>,
    correlated: BTreeMap<Correlation, Key>,
    dirty: BTreeSet<Key>,
    removed: BTreeSet<Key>,
    rng: crate::meta::Rng,
}

impl Events {
    pub(crate) fn new(rng: crate::meta::Rng) -> Events {
        Events {
            by_key: BTreeMap::new(),
            correlated: BTreeMap::new(),
            dirty: BTreeSet::new(),
            removed: BTreeSet::new(),
            rng,
        }
    }

    fn record(&mut self, involved: Involved, reporter: Reporter, note: Note, now: Timestamp) {
        let corr: Correlation = (
            involved.uid.clone(),
            note.field_path.clone(),
            note.severity,
            note.reason,
            note.message.clone(),
            reporter.clone(),
        );
        if let Some(key) = self.correlated.get(&corr)
            && let Some(ev) = self.by_key.get_mut(key)
        {
            ev.count += 1;
            ev.last = now;
            self.dirty.insert(key.clone());
            return;
        }
        // client-go names events `<object>.<unix nanoseconds in hex>`.
        let mut nanos = now.as_nanosecond();
        let mut key = (involved.key.0.clone(), String::new());
        loop {
            key.1 = format!("{}.{:x}", involved.key.1, nanos);
            if !self.by_key.contains_key(&key) {
                break;
            }
            nanos += 1;
        }
        let ev = Recorded {
            name: key.1.clone(),
            uid: self.rng.uid(),
            involved,
            involved_rv: None,
            note,
            reporter,
            first: now,
            last: now,
            count: 1,
        };
        self.correlated.insert(corr, key.clone());
        self.by_key.insert(key.clone(), ev);
        self.dirty.insert(key);
        self.expire(now);
    }

    /// Drops events not seen within the TTL, then the least recently seen beyond the cap.
    fn expire(&mut self, now: Timestamp) {
        let mut old: Vec<(Timestamp, Key)> = self
            .by_key
            .iter()
            .map(|(k, e)| (e.last, k.clone()))
            .collect();
        old.sort();
        let excess = old.len().saturating_sub(MAX_EVENTS);
        for (i, (last, key)) in old.into_iter().enumerate() {
            if i >= excess && now.duration_since(last) < EVENT_TTL {
                break;
            }
            self.remove(&key);
        }
    }

    fn remove(&mut self, key: &Key) {
        if self.by_key.remove(key).is_some() {
            self.correlated.retain(|_, k| k != key);
            self.dirty.remove(key);
            self.removed.insert(key.clone());
        }
    }

    /// Forgets the events of a namespace that is gone.
    pub(crate) fn remove_namespace(&mut self, ns: &str) {
        let keys: Vec<Key> = self.by_key.keys().filter(|k| k.0 == ns).cloned().collect();
        for k in keys {
            self.remove(&k);
        }
    }
}

impl Cluster {
    /// The kubelet of the pod's node records `note` about the pod.
    pub(super) fn pod_event(&mut self, key: &Key, note: Note) {
        let Some(p) = self.pods.get(key) else { return };
        let Some(node) = p.node.clone() else { return };
        let involved = pod_ref(key, &p.meta.uid);
        self.events
            .record(involved, Reporter::Kubelet(node), note, Timestamp::now());
    }

    /// The scheduler records that it bound the pod to its node, or could not.
    pub(super) fn scheduler_event(&mut self, key: &Key, note: Note) {
        let Some(p) = self.pods.get(key) else { return };
        let involved = pod_ref(key, &p.meta.uid);
        self.events
            .record(involved, Reporter::Scheduler, note, Timestamp::now());
    }

    /// The controller that owns objects of `r` records `note` about one of them.
    pub(super) fn controller_event(&mut self, r: Resource, key: &Key, uid: &str, note: Note) {
        let controller = match r {
            Resource::Deployment => "deployment-controller",
            Resource::ReplicaSet => "replicaset-controller",
            Resource::StatefulSet => "statefulset-controller",
            Resource::DaemonSet => "daemonset-controller",
            Resource::Job => "job-controller",
            Resource::CronJob => "cronjob-controller",
            _ => return,
        };
        let involved = Involved {
            kind: r.kind(),
            api_version: r.api_version(),
            resource: r,
            key: key.clone(),
            uid: uid.to_string(),
        };
        self.events.record(
            involved,
            Reporter::Controller(controller),
            note,
            Timestamp::now(),
        );
    }

    /// The owner's controller records that it created pod `ns/pod`, in its own words.
    pub(super) fn pod_created_event(&mut self, ns: &str, owner: &OwnerRef, pod: &str) {
        let Some(r) = Resource::ALL.into_iter().find(|r| r.kind() == owner.kind) else {
            return;
        };
        let message = match r {
            Resource::StatefulSet => {
                format!("create Pod {pod} in StatefulSet {} successful", owner.name)
            }
            _ => format!("Created pod: {pod}"),
        };
        let key = (ns.to_string(), owner.name.clone());
        self.controller_event(
            r,
            &key,
            &owner.uid,
            Note::normal("SuccessfulCreate", message),
        );
    }

    /// Renders recorded and removed events into the store, after the objects they are
    /// about.
    pub(super) fn commit_events(&mut self) {
        for key in std::mem::take(&mut self.events.removed) {
            self.store.remove(Resource::Event, &key);
        }
        for key in std::mem::take(&mut self.events.dirty) {
            let Some(ev) = self.events.by_key.get_mut(&key) else {
                continue;
            };
            if ev.involved_rv.is_none() {
                let rv = self
                    .store
                    .get(ev.involved.resource, &ev.involved.key)
                    .map(|s| s.rv.to_string());
                ev.involved_rv = Some(rv.unwrap_or_default());
            }
            let json = event_json(ev);
            self.store.put(Resource::Event, key, json);
        }
    }
}

fn pod_ref(key: &Key, uid: &str) -> Involved {
    Involved {
        kind: "Pod",
        api_version: "v1",
        resource: Resource::Pod,
        key: key.clone(),
        uid: uid.to_string(),
    }
}

/// `metav1.MicroTime`: RFC 3339 with microseconds.
fn fmt_micro(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

fn event_json(ev: &Recorded) -> Value {
    let io = &ev.involved;
    let mut involved = json!({
        "kind": io.kind,
        "namespace": io.key.0,
        "name": io.key.1,
        "uid": io.uid,
        "apiVersion": io.api_version,
        "resourceVersion": ev.involved_rv.clone().unwrap_or_default(),
    });
    if !ev.note.field_path.is_empty() {
        involved["fieldPath"] = json!(ev.note.field_path);
    }
    let mut v = json!({
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {
            "name": ev.name,
            "namespace": io.key.0,
            "uid": ev.uid,
            "creationTimestamp": fmt_time(ev.first),
        },
        "involvedObject": involved,
        "reason": ev.note.reason,
        "message": ev.note.message,
        "type": ev.note.severity.as_str(),
    });
    let rest = match &ev.reporter {
        Reporter::Scheduler => json!({
            "source": {},
            "firstTimestamp": null,
            "lastTimestamp": null,
            "eventTime": fmt_micro(ev.first),
            "action": "Binding",
            "reportingComponent": "default-scheduler",
            "reportingInstance": "default-scheduler-control-plane",
        }),
        Reporter::Kubelet(node) => json!({
            "source": { "component": "kubelet", "host": node },
            "firstTimestamp": fmt_time(ev.first),
            "lastTimestamp": fmt_time(ev.last),
            "count": ev.count,
            "eventTime": null,
            "reportingComponent": "kubelet",
            "reportingInstance": node,
        }),
        Reporter::Controller(name) => json!({
            "source": { "component": name },
            "firstTimestamp": fmt_time(ev.first),
            "lastTimestamp": fmt_time(ev.last),
            "count": ev.count,
            "eventTime": null,
            "reportingComponent": name,
            "reportingInstance": "",
        }),
    };
    if let (Some(o), Value::Object(r)) = (v.as_object_mut(), rest) {
        o.extend(r);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::super::testing::{app, cluster};
    use super::*;
    use crate::spec::PodSpec;

    /// A cluster with the running pod `ns/p`, and the pod's key.
    fn with_pod(history: usize) -> (Cluster, Key) {
        let mut c = cluster(history);
        c.create_pod("ns", PodSpec::new("p").container(app("app")));
        c.commit();
        (c, ("ns".to_string(), "p".to_string()))
    }

    fn events(c: &Cluster) -> Vec<Value> {
        c.store
            .list(Resource::Event, Some("ns"))
            .map(|(_, s)| (*s.obj).clone())
            .collect()
    }

    #[test]
    fn repeats_bump_the_count_of_one_event() {
        let (mut c, key) = with_pod(100);
        let before = events(&c).len();
        let note = || {
            Note::warning(
                "Unhealthy",
                "Liveness probe failed: HTTP probe failed with statuscode: 500",
            )
            .on("spec.containers{app}".into())
        };
        c.pod_event(&key, note());
        c.commit();
        c.pod_event(&key, note());
        c.commit();
        let all = events(&c);
        assert_eq!(all.len(), before + 1);
        let ev = all.iter().find(|e| e["reason"] == "Unhealthy").unwrap();
        assert_eq!(ev["count"], 2);
        assert_eq!(ev["type"], "Warning");
        assert_eq!(
            ev["source"],
            json!({"component": "kubelet", "host": ev["reportingInstance"]})
        );
        assert_eq!(ev["involvedObject"]["fieldPath"], "spec.containers{app}");
        assert_eq!(ev["involvedObject"]["kind"], "Pod");
        assert!(ev["eventTime"].is_null());
        let name = ev["metadata"]["name"].as_str().unwrap();
        assert!(
            name.starts_with("p.") && name[2..].chars().all(|ch| ch.is_ascii_hexdigit()),
            "{name}"
        );
    }

    #[test]
    fn the_oldest_events_go_beyond_the_cap() {
        let (mut c, key) = with_pod(100_000);
        for i in 0..MAX_EVENTS + 10 {
            c.pod_event(&key, Note::normal("Pulled", format!("message {i}")));
        }
        c.commit();
        let all = events(&c);
        assert_eq!(all.len(), MAX_EVENTS);
        assert!(all.iter().all(|e| e["message"] != "message 0"));
        assert!(
            all.iter()
                .any(|e| e["message"] == format!("message {}", MAX_EVENTS + 9))
        );
    }
}
