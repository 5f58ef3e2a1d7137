//! Jobs: one pod that runs for a set time and exits, and the Job controller that records
//! Complete or Failed once that pod has finished. It must not render the Job; `render`
//! does.

use jiff::Timestamp;

use super::kubelet::OwnedPod;
use super::template::Template;
use super::{Cluster, labels_of};
use crate::meta::{Meta, OwnerRef};
use crate::spec::JobSpec;
use crate::store::Key;

pub(crate) struct Job {
    pub(super) meta: Meta,
    pub(super) template: Template,
    /// `(succeeded, when)` once the pod finished.
    pub(super) finished: Option<(bool, Timestamp)>,
}

impl Cluster {
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

    pub(super) fn reconcile_job(&mut self, key: &Key) -> bool {
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
}
