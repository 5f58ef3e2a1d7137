//! Deleting objects: a pod's graceful deletion (deletionTimestamp now, containers stop
//! after the grace period, then the object goes) and a Deployment's garbage collection of
//! its ReplicaSets and pods. It only starts deletions; the kubelet clock finishes them.

use std::collections::BTreeSet;
use std::time::Duration;

use jiff::Timestamp;
use tokio::time::Instant;

use super::Cluster;
use super::events::Note;
use crate::pod::Deletion;
use crate::store::{Key, Resource};

/// The kubelet's `Killing` events for the containers a deletion stops.
fn stop_notes(pod: &crate::pod::Pod) -> Vec<Note> {
    pod.all_containers()
        .filter(|c| c.is_running())
        .map(|c| {
            Note::normal("Killing", format!("Stopping container {}", c.name())).on(c.field_path())
        })
        .collect()
}

impl Cluster {
    /// Starts a graceful deletion: MODIFIED with deletionTimestamp now, containers stop and
    /// the object goes away when the grace period is over.
    pub(crate) fn delete_pod(&mut self, ns: &str, name: &str, grace: Duration) -> bool {
        self.delete_pod_after(ns, name, grace, grace)
    }

    /// A graceful deletion with `grace` as the pod shows it, whose containers stop after
    /// `stop` (a process that exits promptly on SIGTERM stops before its grace is up).
    pub(crate) fn delete_pod_after(
        &mut self,
        ns: &str,
        name: &str,
        grace: Duration,
        stop: Duration,
    ) -> bool {
        let key = (ns.to_string(), name.to_string());
        let grace = grace.min(Duration::from_secs(366 * 86_400));
        let stop = stop.min(grace);
        let Some(pod) = self.pods.get_mut(&key) else {
            return false;
        };
        if pod.deletion.is_some() {
            return true;
        }
        let stopping = stop_notes(pod);
        if pod.node.is_none() {
            // No kubelet owns an unscheduled pod: it is removed at once.
            self.pods.remove(&key);
        } else {
            let at = Timestamp::now();
            pod.deletion = Some(Deletion {
                at: at + jiff::SignedDuration::from_secs(grace.as_secs() as i64),
                grace_secs: grace.as_secs() as i64,
                deadline: crate::meta::after(Instant::now(), stop),
                finalized: false,
            });
            pod.wake.notify_one();
        }
        for note in stopping {
            self.pod_event(&key, note);
        }
        self.dirty_pods.insert(key);
        self.workloads_dirty = true;
        true
    }

    /// A force deletion (grace period 0): the object goes at once, the containers stop.
    pub(crate) fn force_delete_pod(&mut self, key: &Key) {
        if let Some(p) = self.pods.get(key) {
            for note in stop_notes(p) {
                self.pod_event(key, note);
            }
        }
        if let Some(mut p) = self.pods.remove(key) {
            let now = Timestamp::now();
            for c in p.all_containers_mut() {
                c.end_instance(137, now);
                c.journal.terminate();
            }
            p.wake.notify_one();
        }
        self.dirty_pods.insert(key.clone());
        self.workloads_dirty = true;
    }

    /// Deletes, gracefully, every pod a controller with this uid owns.
    pub(super) fn delete_owned_pods(&mut self, owner_uid: &str) {
        let pods: Vec<Key> = self
            .pods
            .iter()
            .filter(|(_, p)| p.owner.as_ref().is_some_and(|o| o.uid == owner_uid))
            .map(|(k, _)| k.clone())
            .collect();
        let grace = self.controller_grace;
        for k in pods {
            self.delete_pod(&k.0, &k.1, grace);
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
            .filter(|(_, rs)| rs.owned_by(&d.meta.uid))
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
}
