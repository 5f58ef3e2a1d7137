//! Deployment changes (`set image`, `scale`, selector changes, `rollout undo`) and the
//! two controllers of a Deployment: the Deployment controller, which keeps one ReplicaSet
//! per template (revisions, `pod-template-hash`) and moves replicas between them as its
//! strategy allows (RollingUpdate within maxSurge and maxUnavailable, or Recreate), and
//! the ReplicaSet controller, which creates and deletes pods until a ReplicaSet has as
//! many as it wants. It must not step pods' clocks or render objects.

use std::collections::BTreeMap;

use super::events::Note;
use super::kubelet::OwnedPod;
use super::template::Template;
use super::workloads::{Deployment, ReplicaSet, Strategy};
use super::{Cluster, labels_of};
use crate::meta::{OwnerRef, template_hash};
use crate::store::{Key, Resource};

/// Deployment annotations the controller never copies to a ReplicaSet (and `rollout undo`
/// never copies back).
pub(super) const CONTROLLER_ANNOTATIONS: [&str; 6] = [
    "kubectl.kubernetes.io/last-applied-configuration",
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
];

/// Pods of one ReplicaSet as its controllers count them.
#[derive(Debug, Default, Clone, Copy)]
struct Census {
    /// Not terminating, not ended.
    active: u32,
    /// Active and ready (minReadySeconds is not modelled: ready is available).
    available: u32,
    /// Every pod still there, terminating ones included.
    present: u32,
}

impl Cluster {
    fn deployment_mut(&mut self, ns: &str, name: &str) -> Option<&mut Deployment> {
        self.workloads_dirty = true;
        self.deployments
            .get_mut(&(ns.to_string(), name.to_string()))
    }

    pub(crate) fn set_image(&mut self, ns: &str, deploy: &str, container: &str, image: &str) {
        if let Some(d) = self.deployment_mut(ns, deploy)
            && let Some(c) = d
                .spec
                .template
                .containers
                .iter_mut()
                .chain(d.spec.template.init.iter_mut())
                .find(|c| c.name == container)
            && c.image != image
        {
            c.image = image.to_string();
            d.generation += 1;
        }
    }

    pub(crate) fn scale(&mut self, ns: &str, deploy: &str, replicas: u32) {
        if let Some(d) = self.deployment_mut(ns, deploy)
            && d.spec.replicas != replicas
        {
            d.spec.replicas = replicas;
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
            d.spec.selector = labels_of(labels);
            d.spec.template.labels = labels_of(labels);
            d.generation += 1;
        }
    }

    /// The ReplicaSets of a Deployment, oldest revision first.
    pub(super) fn revisions(&self, deploy_uid: &str) -> Vec<&ReplicaSet> {
        let mut v: Vec<&ReplicaSet> = self
            .replicasets
            .values()
            .filter(|rs| rs.owned_by(deploy_uid))
            .collect();
        v.sort_by_key(|rs| rs.revision);
        v
    }

    /// `kubectl rollout undo`: the template of the previous revision becomes current again.
    pub(crate) fn rollout_undo(&mut self, ns: &str, deploy: &str) {
        let Some(d) = self.deployments.get(&(ns.to_string(), deploy.to_string())) else {
            return;
        };
        let revs = self.revisions(&d.meta.uid);
        let Some(prev) = revs.iter().rev().nth(1) else {
            return;
        };
        let t = template_of_revision(prev);
        if let Some(d) = self.deployment_mut(ns, deploy) {
            d.spec.template = t;
            d.generation += 1;
        }
    }

    fn census(&self) -> BTreeMap<String, Census> {
        let mut m: BTreeMap<String, Census> = BTreeMap::new();
        for p in self.pods.values() {
            let Some(o) = &p.owner else { continue };
            let c = m.entry(o.uid.clone()).or_default();
            c.present += 1;
            if p.deletion.is_none() && !matches!(p.phase(), "Succeeded" | "Failed") {
                c.active += 1;
                if p.is_ready() {
                    c.available += 1;
                }
            }
        }
        m
    }

    /// Sets a ReplicaSet's desired pods; true if that changed anything.
    /// The Deployment controller records each step (`ScalingReplicaSet`).
    fn scale_rs(&mut self, key: &Key, replicas: u32) -> bool {
        let Some(rs) = self.replicasets.get_mut(key) else {
            return false;
        };
        if rs.replicas == replicas {
            return false;
        }
        let from = std::mem::replace(&mut rs.replicas, replicas);
        self.workloads_dirty = true;
        if let Some(o) = rs.owner.clone().filter(|o| o.kind == "Deployment") {
            let dir = if replicas > from { "up" } else { "down" };
            let note = Note::normal(
                "ScalingReplicaSet",
                format!(
                    "Scaled {dir} replica set {} from {from} to {replicas}",
                    key.1
                ),
            );
            self.controller_event(Resource::Deployment, &(key.0.clone(), o.name), &o.uid, note);
        }
        true
    }

    /// A new ReplicaSet for the Deployment's current template, at 0 replicas.
    fn new_replicaset(&mut self, key: &Key, hash: &str, revision: u64) {
        let Some(d) = self.deployments.get(key) else {
            return;
        };
        let mut template = d.spec.template.clone();
        template
            .labels
            .insert("pod-template-hash".into(), hash.to_string());
        let mut selector = d.spec.selector.clone();
        selector.insert("pod-template-hash".into(), hash.to_string());
        let owner = OwnerRef {
            api_version: "apps/v1",
            kind: "Deployment",
            name: d.meta.name.clone(),
            uid: d.meta.uid.clone(),
        };
        let annotations = copied_annotations(&d.meta.annotations);
        let name = format!("{}-{hash}", d.meta.name);
        let mut meta = self.meta(&key.0, &name);
        meta.labels = template.labels.clone();
        meta.annotations = annotations;
        self.replicasets.insert(
            (key.0.clone(), name),
            ReplicaSet {
                meta,
                owner: Some(owner),
                replicas: 0,
                selector,
                template,
                revision,
                revision_history: Vec::new(),
                hash: hash.to_string(),
            },
        );
        self.workloads_dirty = true;
    }

    /// The Deployment controller: one step towards the Deployment's spec.
    pub(super) fn reconcile_deployment(&mut self, key: &Key) -> bool {
        let Some(d) = self.deployments.get(key) else {
            return false;
        };
        let ns = key.0.clone();
        let hash = template_hash(&d.spec.template.hash_input());
        let new_key = (ns.clone(), format!("{}-{hash}", d.meta.name));
        let d_uid = d.meta.uid.clone();
        let (replicas, strategy, paused) = (d.spec.replicas, d.spec.strategy, d.spec.paused);
        let history_limit = d.spec.revision_history_limit as usize;
        let max_rev = self.revisions(&d_uid).last().map_or(0, |rs| rs.revision);
        match self.replicasets.get_mut(&new_key) {
            None if paused => return false,
            None => {
                self.new_replicaset(key, &hash, max_rev + 1);
                return true;
            }
            // An older template is current again (`rollout undo`): its ReplicaSet takes
            // the next revision and remembers the one it had.
            Some(rs) if rs.revision < max_rev && !paused => {
                rs.revision_history.push(rs.revision);
                rs.revision = max_rev + 1;
                if let Some(d) = self.deployments.get(key) {
                    let copied = copied_annotations(&d.meta.annotations);
                    if let Some(rs) = self.replicasets.get_mut(&new_key) {
                        rs.meta.annotations = copied;
                    }
                }
                self.workloads_dirty = true;
                return true;
            }
            Some(rs) => {
                // The current ReplicaSet follows the Deployment's annotations.
                if let Some(d) = self.deployments.get(key) {
                    let mut merged = rs.meta.annotations.clone();
                    merged.extend(copied_annotations(&d.meta.annotations));
                    if merged != rs.meta.annotations {
                        rs.meta.annotations = merged;
                        self.workloads_dirty = true;
                        return true;
                    }
                }
            }
        }
        let census = self.census();
        let olds: Vec<(Key, u32, Census)> = self
            .revisions(&d_uid)
            .into_iter()
            .filter(|rs| rs.hash != hash)
            .map(|rs| {
                let c = census.get(&rs.meta.uid).copied().unwrap_or_default();
                ((ns.clone(), rs.meta.name.clone()), rs.replicas, c)
            })
            .collect();
        let (new_replicas, new_census) = {
            let rs = &self.replicasets[&new_key];
            (
                rs.replicas,
                census.get(&rs.meta.uid).copied().unwrap_or_default(),
            )
        };
        let old_total: u32 = olds.iter().map(|o| o.1).sum();
        if paused {
            // Only scaling happens while paused, and only without a rollout in flight.
            return old_total == 0 && self.scale_rs(&new_key, replicas);
        }
        match strategy {
            Strategy::Recreate => {
                if old_total > 0 {
                    let mut changed = false;
                    for (k, _, _) in &olds {
                        changed |= self.scale_rs(k, 0);
                    }
                    return changed;
                }
                if olds.iter().any(|o| o.2.present > 0) {
                    // Every old pod must be gone before a new one starts.
                    return false;
                }
                if self.scale_rs(&new_key, replicas) {
                    return true;
                }
            }
            Strategy::RollingUpdate {
                max_surge,
                max_unavailable,
            } => {
                if old_total == 0 || new_replicas > replicas {
                    if self.scale_rs(&new_key, replicas) {
                        return true;
                    }
                } else {
                    let surge = max_surge.resolve(replicas, true);
                    let mut unavailable = max_unavailable.resolve(replicas, false);
                    if surge == 0 && unavailable == 0 {
                        unavailable = 1;
                    }
                    // Scale the new ReplicaSet up as far as the surge allows.
                    let all = old_total + new_replicas;
                    let max_total = replicas + surge;
                    if all < max_total && new_replicas < replicas {
                        let up = (max_total - all).min(replicas - new_replicas);
                        return self.scale_rs(&new_key, new_replicas + up);
                    }
                    // Scale old ReplicaSets down as far as availability allows: unhealthy
                    // pods first, then available ones, oldest revision first.
                    let min_available = replicas.saturating_sub(unavailable) as i64;
                    let new_unavailable = i64::from(new_replicas) - i64::from(new_census.available);
                    let mut budget = i64::from(all) - min_available - new_unavailable.max(0);
                    let mut changed = false;
                    let mut left: Vec<(Key, u32)> = Vec::new();
                    for (k, want, c) in &olds {
                        let unhealthy = i64::from(*want) - i64::from(c.available);
                        let down = unhealthy.max(0).min(budget.max(0)) as u32;
                        budget -= i64::from(down);
                        if down > 0 {
                            changed |= self.scale_rs(k, want - down);
                        }
                        left.push((k.clone(), want - down));
                    }
                    let available: i64 = olds.iter().map(|o| i64::from(o.2.available)).sum::<i64>()
                        + i64::from(new_census.available);
                    let mut down_total = (available - min_available).min(budget).max(0);
                    for (k, want) in left {
                        if down_total == 0 {
                            break;
                        }
                        let down = (want as i64).min(down_total) as u32;
                        if down > 0 {
                            changed |= self.scale_rs(&k, want - down);
                            down_total -= i64::from(down);
                        }
                    }
                    if changed {
                        return true;
                    }
                }
            }
        }
        // Old ReplicaSets beyond the revision history limit go once they are empty.
        let empty: Vec<Key> = olds
            .iter()
            .filter(|o| o.1 == 0 && o.2.present == 0)
            .map(|o| o.0.clone())
            .collect();
        if empty.len() > history_limit {
            let k = empty[0].clone();
            self.replicasets.remove(&k);
            self.store.remove(Resource::ReplicaSet, &k);
            self.workloads_dirty = true;
            return true;
        }
        false
    }

    /// The ReplicaSet controller: one pod more or one pod less, towards `replicas`.
    pub(super) fn reconcile_replicaset(&mut self, key: &Key) -> bool {
        let Some(rs) = self.replicasets.get(key) else {
            return false;
        };
        let uid = rs.meta.uid.clone();
        let want = rs.replicas as usize;
        // Deletion order: pods that are not ready first, then the newest.
        let mut active: Vec<(bool, jiff::Timestamp, Key)> = self
            .pods
            .iter()
            .filter(|(_, p)| p.owner.as_ref().is_some_and(|o| o.uid == uid))
            .filter(|(_, p)| p.deletion.is_none() && !matches!(p.phase(), "Succeeded" | "Failed"))
            .map(|(k, p)| (p.is_ready(), p.meta.created, k.clone()))
            .collect();
        if active.len() > want {
            active.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
            let k = active[0].2.clone();
            let grace = self.controller_grace;
            let note = Note::normal("SuccessfulDelete", format!("Deleted pod: {}", k.1));
            self.controller_event(Resource::ReplicaSet, key, &uid, note);
            return self.delete_pod(&k.0, &k.1, grace);
        }
        if active.len() < want {
            let tpl = rs.template.clone();
            let owner = OwnerRef {
                api_version: "apps/v1",
                kind: "ReplicaSet",
                name: rs.meta.name.clone(),
                uid,
            };
            let prefix = format!("{}-", rs.meta.name);
            let name = self.unique_name(&key.0, &prefix);
            let node = self.pick_node();
            self.create_owned_pod(
                &key.0,
                &tpl,
                OwnedPod {
                    name,
                    generate_name: Some(prefix),
                    labels: tpl.labels.clone(),
                    owner,
                    node,
                },
            );
            return true;
        }
        false
    }
}

/// The Deployment's own annotations, as the controller copies them to a ReplicaSet.
fn copied_annotations(a: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    a.iter()
        .filter(|(k, _)| !CONTROLLER_ANNOTATIONS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The template a revision's ReplicaSet restores, without its `pod-template-hash`.
pub(super) fn template_of_revision(rs: &ReplicaSet) -> Template {
    let mut t = rs.template.clone();
    t.labels.remove("pod-template-hash");
    t
}

#[cfg(test)]
mod tests {
    use super::super::testing::{app, cluster, pod_json};
    use super::*;
    use crate::pod::Pod;
    use crate::spec::WorkloadSpec;
    use crate::store::Resource;

    #[test]
    fn rolling_update_surges_by_one_and_keeps_revisions() {
        let mut c = cluster(1000);
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
}
