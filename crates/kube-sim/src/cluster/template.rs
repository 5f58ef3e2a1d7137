//! [`Template`]: the pod template every workload kind shares, what its controllers hash
//! into `pod-template-hash` / `controller-revision-hash`, and its JSON in a workload's spec.
//! A plain value: it must not create pods.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::spec::{ContainerSpec, WorkloadSpec};

/// A pod template shared by the workload kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    pub(crate) labels: BTreeMap<String, String>,
    /// Template annotations, copied to every pod (`kubectl rollout restart` sets one).
    pub(crate) annotations: BTreeMap<String, String>,
    pub(crate) init: Vec<ContainerSpec>,
    pub(crate) containers: Vec<ContainerSpec>,
    pub(crate) restart_policy: String,
    /// Pod spec fields a client sent that the simulator keeps and serves but does not act
    /// on (`volumes`, `nodeSelector`...).
    pub(crate) spec_extra: Map<String, Value>,
}

impl Template {
    pub(crate) fn new(
        labels: BTreeMap<String, String>,
        containers: Vec<ContainerSpec>,
    ) -> Template {
        Template {
            labels,
            annotations: BTreeMap::new(),
            init: Vec::new(),
            containers,
            restart_policy: "Always".to_string(),
            spec_extra: Map::new(),
        }
    }

    pub(super) fn from_spec(spec: &WorkloadSpec) -> Template {
        let mut labels: BTreeMap<String, String> = spec.labels.iter().cloned().collect();
        if labels.is_empty() {
            labels.insert("app".into(), spec.name.clone());
        }
        let mut t = Template::new(labels, spec.containers.clone());
        t.init = spec.init_containers.clone();
        t
    }

    /// What the controllers hash: everything that shapes the pods.
    pub(super) fn hash_input(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.labels {
            s.push_str(&format!("{k}={v};"));
        }
        for c in self.init.iter().chain(&self.containers) {
            s.push_str(&format!("{}:{}|", c.name, c.image));
            if !c.command.is_empty() || !c.args.is_empty() || !c.extra.is_empty() {
                s.push_str(&format!("{:?}{:?}{:?}|", c.command, c.args, c.extra));
            }
        }
        if !self.annotations.is_empty() {
            s.push_str(&format!("{:?}", self.annotations));
        }
        if !self.spec_extra.is_empty() {
            s.push_str(&format!("{:?}", self.spec_extra));
        }
        s
    }

    /// The pod spec as a pod created from this template serves it.
    pub(crate) fn pod_spec(&self) -> Map<String, Value> {
        let mut spec =
            crate::pod::pod_spec_json(&self.init, &self.containers, &self.restart_policy);
        for (k, v) in &self.spec_extra {
            spec.insert(k.clone(), v.clone());
        }
        spec
    }

    pub(super) fn to_json(&self) -> Value {
        let mut spec = self.pod_spec();
        // Default tolerations are added to pods by admission, never to templates.
        spec.remove("tolerations");
        let mut meta = json!({ "creationTimestamp": null, "labels": self.labels });
        if !self.annotations.is_empty() {
            meta["annotations"] = json!(self.annotations);
        }
        json!({ "metadata": meta, "spec": spec })
    }
}
