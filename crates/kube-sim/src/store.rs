//! The API server's view of the cluster: every object as the JSON a client receives, the
//! global resourceVersion counter (the etcd revision) and the bounded event history that
//! watches resume from and paginated lists read their snapshots from.
//!
//! The store knows nothing about pods or controllers; `cluster` renders its domain objects
//! into JSON and hands them to [`Store::put`], which decides whether anything changed.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use serde_json::Value;

/// The resource types the simulated API server serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Resource {
    Namespace,
    Node,
    Pod,
    Service,
    ReplicationController,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    Event,
}

/// Field selectors every resource supports (apimachinery `DefaultClusterScopedAttr`s).
const META_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

/// Event field labels (`pkg/registry/core/event/strategy.go`, `ToSelectableFields`).
const EVENT_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
];

/// Pod field labels (`pkg/apis/core/v1/conversion.go`), including the legacy `spec.host`.
const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.host",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.podIPs",
    "status.nominatedNodeName",
];

impl Resource {
    pub(crate) const ALL: [Resource; 12] = [
        Resource::Namespace,
        Resource::Node,
        Resource::Pod,
        Resource::Service,
        Resource::ReplicationController,
        Resource::Deployment,
        Resource::ReplicaSet,
        Resource::StatefulSet,
        Resource::DaemonSet,
        Resource::Job,
        Resource::CronJob,
        Resource::Event,
    ];

    pub(crate) fn plural(self) -> &'static str {
        match self {
            Resource::Namespace => "namespaces",
            Resource::Node => "nodes",
            Resource::Pod => "pods",
            Resource::Service => "services",
            Resource::ReplicationController => "replicationcontrollers",
            Resource::Deployment => "deployments",
            Resource::ReplicaSet => "replicasets",
            Resource::StatefulSet => "statefulsets",
            Resource::DaemonSet => "daemonsets",
            Resource::Job => "jobs",
            Resource::CronJob => "cronjobs",
            Resource::Event => "events",
        }
    }

    pub(crate) fn kind(self) -> &'static str {
        match self {
            Resource::Namespace => "Namespace",
            Resource::Node => "Node",
            Resource::Pod => "Pod",
            Resource::Service => "Service",
            Resource::ReplicationController => "ReplicationController",
            Resource::Deployment => "Deployment",
            Resource::ReplicaSet => "ReplicaSet",
            Resource::StatefulSet => "StatefulSet",
            Resource::DaemonSet => "DaemonSet",
            Resource::Job => "Job",
            Resource::CronJob => "CronJob",
            Resource::Event => "Event",
        }
    }

    /// API group: `""` for the core group.
    pub(crate) fn group(self) -> &'static str {
        match self {
            Resource::Deployment
            | Resource::ReplicaSet
            | Resource::StatefulSet
            | Resource::DaemonSet => "apps",
            Resource::Job | Resource::CronJob => "batch",
            _ => "",
        }
    }

    pub(crate) fn api_version(self) -> &'static str {
        match self.group() {
            "apps" => "apps/v1",
            "batch" => "batch/v1",
            _ => "v1",
        }
    }

    pub(crate) fn namespaced(self) -> bool {
        !matches!(self, Resource::Namespace | Resource::Node)
    }

    /// `deployments.apps`, or just `pods` for the core group: how apimachinery names a
    /// resource in NotFound and Forbidden messages.
    pub(crate) fn qualified(self) -> String {
        match self.group() {
            "" => self.plural().to_string(),
            g => format!("{}.{g}", self.plural()),
        }
    }

    /// `details` of a `Status` about one object: its name, resource and group.
    pub(crate) fn details(self, name: Option<&str>) -> serde_json::Value {
        let mut d = serde_json::json!({ "kind": self.plural() });
        if let Some(n) = name {
            d["name"] = serde_json::json!(n);
        }
        if !self.group().is_empty() {
            d["group"] = serde_json::json!(self.group());
        }
        d
    }

    pub(crate) fn field_labels(self) -> &'static [&'static str] {
        match self {
            Resource::Pod => POD_FIELDS,
            Resource::Event => EVENT_FIELDS,
            Resource::Namespace => &["metadata.name", "metadata.namespace", "status.phase"],
            Resource::Node => &["metadata.name", "metadata.namespace", "spec.unschedulable"],
            Resource::Job => &["metadata.name", "metadata.namespace", "status.successful"],
            Resource::ReplicaSet | Resource::ReplicationController => {
                &["metadata.name", "metadata.namespace", "status.replicas"]
            }
            _ => META_FIELDS,
        }
    }

    /// Resolves the path segments `<group>` + `<plural>` of a request.
    pub(crate) fn from_path(group: &str, plural: &str) -> Option<Resource> {
        Resource::ALL
            .into_iter()
            .find(|r| r.group() == group && r.plural() == plural)
    }
}

/// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
pub(crate) type Key = (String, String);

/// One object as served: the full JSON including kind, apiVersion and resourceVersion.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub(crate) rv: u64,
    pub(crate) obj: Arc<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One write, kept in the history. `prev` is the object before the write: watches need it
/// to turn selector transitions into ADDED/DELETED, snapshots need it to undo the write.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) rv: u64,
    pub(crate) resource: Resource,
    pub(crate) key: Key,
    pub(crate) kind: EventType,
    pub(crate) obj: Arc<Value>,
    pub(crate) prev: Option<Arc<Value>>,
}

/// A requested resourceVersion is older than what the history still holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expired {
    /// Every write after this revision is still in the history.
    pub(crate) horizon: u64,
}

pub(crate) struct Store {
    rv: u64,
    objects: BTreeMap<Resource, BTreeMap<Key, Stored>>,
    history: VecDeque<Event>,
    capacity: usize,
    horizon: u64,
    /// Bumped by [`Store::compact`]: open watches compare it to end with 410.
    epoch: u64,
}

fn set_rv(obj: &mut Value, rv: u64) {
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
}

impl Store {
    pub(crate) fn new(capacity: usize) -> Store {
        Store {
            rv: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            capacity: capacity.max(1),
            horizon: 1,
            epoch: 0,
        }
    }

    /// The current revision: the resourceVersion a list built now reports.
    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    pub(crate) fn horizon(&self) -> u64 {
        self.horizon
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Stores `obj` unless it equals the stored version apart from its resourceVersion.
    /// Returns whether a write (and so an event) happened.
    pub(crate) fn put(&mut self, resource: Resource, key: Key, mut obj: Value) -> bool {
        let map = self.objects.entry(resource).or_default();
        let prev = map.get(&key).map(|s| {
            set_rv(&mut obj, s.rv);
            s.obj.clone()
        });
        if prev.as_deref() == Some(&obj) {
            return false;
        }
        self.rv += 1;
        set_rv(&mut obj, self.rv);
        let obj = Arc::new(obj);
        map.insert(
            key.clone(),
            Stored {
                rv: self.rv,
                obj: obj.clone(),
            },
        );
        let kind = if prev.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(Event {
            rv: self.rv,
            resource,
            key,
            kind,
            obj,
            prev,
        });
        true
    }

    /// Deletes an object; the DELETED event carries its last state at the deletion revision.
    pub(crate) fn remove(&mut self, resource: Resource, key: &Key) -> bool {
        let Some(old) = self.objects.get_mut(&resource).and_then(|m| m.remove(key)) else {
            return false;
        };
        self.rv += 1;
        let mut obj = (*old.obj).clone();
        set_rv(&mut obj, self.rv);
        self.record(Event {
            rv: self.rv,
            resource,
            key: key.clone(),
            kind: EventType::Deleted,
            obj: Arc::new(obj),
            prev: Some(old.obj),
        });
        true
    }

    fn record(&mut self, ev: Event) {
        if self.history.len() >= self.capacity
            && let Some(dropped) = self.history.pop_front()
        {
            self.horizon = dropped.rv;
        }
        self.history.push_back(ev);
    }

    pub(crate) fn get(&self, resource: Resource, key: &Key) -> Option<&Stored> {
        self.objects.get(&resource).and_then(|m| m.get(key))
    }

    /// Current objects of a resource, in key order, optionally within one namespace.
    pub(crate) fn list<'a>(
        &'a self,
        resource: Resource,
        ns: Option<&'a str>,
    ) -> impl Iterator<Item = (&'a Key, &'a Stored)> + 'a {
        self.objects
            .get(&resource)
            .into_iter()
            .flat_map(|m| m.iter())
            .filter(move |(k, _)| ns.is_none_or(|ns| k.0 == ns))
    }

    /// The objects of `resource` as they were at revision `at` (for continue tokens and
    /// Exact lists), rebuilt by undoing the newer writes kept in the history.
    pub(crate) fn snapshot(
        &self,
        resource: Resource,
        ns: Option<&str>,
        at: u64,
    ) -> Result<BTreeMap<Key, Arc<Value>>, Expired> {
        if at < self.horizon {
            return Err(Expired {
                horizon: self.horizon,
            });
        }
        let mut snap: BTreeMap<Key, Arc<Value>> = self
            .list(resource, ns)
            .map(|(k, s)| (k.clone(), s.obj.clone()))
            .collect();
        for ev in self.history.iter().rev().take_while(|e| e.rv > at) {
            if ev.resource != resource || ns.is_some_and(|ns| ev.key.0 != ns) {
                continue;
            }
            match &ev.prev {
                None => {
                    snap.remove(&ev.key);
                }
                Some(prev) => {
                    snap.insert(ev.key.clone(), prev.clone());
                }
            }
        }
        Ok(snap)
    }

    /// Events with a revision greater than `after`, oldest first; `Err` if some of them
    /// have already been dropped from the history.
    pub(crate) fn events_after(&self, after: u64) -> Result<impl Iterator<Item = &Event>, Expired> {
        if after < self.horizon {
            return Err(Expired {
                horizon: self.horizon,
            });
        }
        let start = self.history.partition_point(|e| e.rv <= after);
        Ok(self.history.range(start..))
    }

    /// Forgets the whole history: open watches end with 410 and resuming from any earlier
    /// revision is too old, as after an etcd compaction.
    ///
    /// The revision moves on by one (as if another resource was written), so the revision
    /// every client holds is now too old while a fresh list gets a usable one.
    pub(crate) fn compact(&mut self) {
        self.history.clear();
        self.rv += 1;
        self.horizon = self.rv;
        self.epoch += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(n: &str) -> Key {
        ("ns".into(), n.into())
    }

    fn pod(n: &str, v: u32) -> Value {
        json!({"kind": "Pod", "metadata": {"name": n}, "v": v})
    }

    #[test]
    fn put_only_writes_changes() {
        let mut s = Store::new(100);
        assert!(s.put(Resource::Pod, key("a"), pod("a", 1)));
        let rv = s.rv();
        assert!(!s.put(Resource::Pod, key("a"), pod("a", 1)));
        assert_eq!(s.rv(), rv);
        assert!(s.put(Resource::Pod, key("a"), pod("a", 2)));
        assert_eq!(s.rv(), rv + 1);
        let stored = s.get(Resource::Pod, &key("a")).unwrap();
        assert_eq!(
            stored.obj["metadata"]["resourceVersion"],
            (rv + 1).to_string()
        );
    }

    #[test]
    fn snapshot_undoes_later_writes() {
        let mut s = Store::new(100);
        s.put(Resource::Pod, key("a"), pod("a", 1));
        s.put(Resource::Pod, key("b"), pod("b", 1));
        let at = s.rv();
        s.put(Resource::Pod, key("c"), pod("c", 1));
        s.put(Resource::Pod, key("a"), pod("a", 2));
        s.remove(Resource::Pod, &key("b"));
        let snap = s.snapshot(Resource::Pod, Some("ns"), at).unwrap();
        let names: Vec<_> = snap.keys().map(|k| k.1.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(snap[&key("a")]["v"], 1);
    }

    #[test]
    fn history_window_and_compaction() {
        let mut s = Store::new(2);
        s.put(Resource::Pod, key("a"), pod("a", 1)); // rv 2
        s.put(Resource::Pod, key("a"), pod("a", 2)); // rv 3
        s.put(Resource::Pod, key("a"), pod("a", 3)); // rv 4, drops rv 2
        assert_eq!(s.horizon(), 2);
        assert!(s.events_after(1).is_err());
        let rvs: Vec<u64> = s.events_after(2).unwrap().map(|e| e.rv).collect();
        assert_eq!(rvs, [3, 4]);
        assert_eq!(s.events_after(4).unwrap().count(), 0);
        s.compact();
        assert_eq!(s.events_after(4).err(), Some(Expired { horizon: 5 }));
        assert!(s.events_after(5).is_ok());
        assert!(s.snapshot(Resource::Pod, None, 3).is_err());
    }
}
