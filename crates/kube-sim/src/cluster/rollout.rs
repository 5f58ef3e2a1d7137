//! Deployment changes (`set image`, `scale`, selector changes, `rollout undo`) and the
//! Deployment controller: a new ReplicaSet per template hash, then a rolling update with
//! maxSurge 1 and maxUnavailable 0, one pod at a time. It must not step pods' clocks or
//! render objects.

use std::collections::BTreeMap;

use super::kubelet::OwnedPod;
use super::template::Template;
use super::workloads::{Deployment, ReplicaSet};
use super::{Cluster, labels_of};
use crate::meta::{OwnerRef, template_hash};
use crate::store::Key;

impl Cluster {
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

    /// The Deployment controller with strategy RollingUpdate, maxSurge 1, maxUnavailable 0:
    /// one new pod at a time, an old pod goes only once enough pods are ready.
    pub(super) fn reconcile_deployment(&mut self, key: &Key) -> bool {
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
