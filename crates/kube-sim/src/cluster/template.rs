//! [`Template`]: the pod template every workload kind shares, what its controllers hash
//! into `pod-template-hash` / `controller-revision-hash`, and its JSON in a workload's spec.
//! A plain value: it must not create pods.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::spec::{ContainerSpec, WorkloadSpec};

/// A pod template shared by the workload kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) init: Vec<ContainerSpec>,
    pub(crate) containers: Vec<ContainerSpec>,
}

impl Template {
    pub(super) fn from_spec(spec: &WorkloadSpec) -> Template {
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
    pub(super) fn hash_input(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.labels {
            s.push_str(&format!("{k}={v};"));
        }
        for c in self.init.iter().chain(&self.containers) {
            s.push_str(&format!("{}:{}|", c.name, c.image));
        }
        s
    }

    pub(super) fn to_json(&self, restart_policy: &str) -> Value {
        let mut spec = crate::pod::pod_spec_json(&self.init, &self.containers, restart_policy);
        // Default tolerations are added to pods by admission, never to templates.
        spec.remove("tolerations");
        json!({
            "metadata": { "creationTimestamp": null, "labels": self.labels },
            "spec": spec,
        })
    }
}
