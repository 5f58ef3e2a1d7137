//! The cluster's side of the API's write requests: create, update (a `PUT` or a patched
//! object), delete with a grace period and a propagation policy, and the `scale`
//! subresource, for the kinds a client may write (namespaces, pods, Deployments, Jobs,
//! CronJobs). Each checks what the apiserver checks (names, namespaces, conflicts,
//! immutable fields, the kind's validation) and answers with its `Status`, then changes
//! the same objects the scenario API changes, so the same controllers act on them.
//! Request parsing and patch formats are the API layer's.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::Cluster;
use super::cronjobs::{CronJob, parse_schedule};
use super::decode::{self, Causes, ClientMeta, go_map};
use super::jobs::Job;
use super::rollout::CONTROLLER_ANNOTATIONS;
use super::workloads::Deployment;
use crate::http::ApiError;
use crate::meta::{OwnerRef, fmt_time};
use crate::spec::{ContainerSpec, PodSpec};
use crate::store::{Key, Resource};

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// What a delete did: the object is gone (its last JSON), or it is going (its JSON now,
/// with `deletionTimestamp`).
pub(crate) enum Deleted {
    Gone(Value),
    Going(Value),
}

fn conflict(r: Resource, name: &str) -> ApiError {
    ApiError::new(
        409,
        "Conflict",
        format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
            r.qualified()
        ),
    )
    .with_details(r.details(Some(name)))
}

fn already_exists(r: Resource, name: &str) -> ApiError {
    ApiError::new(
        409,
        "AlreadyExists",
        format!("{} \"{name}\" already exists", r.qualified()),
    )
    .with_details(r.details(Some(name)))
}

/// The kinds a client may create, update and delete.
pub(crate) fn writable(r: Resource) -> bool {
    matches!(
        r,
        Resource::Namespace
            | Resource::Pod
            | Resource::Deployment
            | Resource::Job
            | Resource::CronJob
    )
}

impl Cluster {
    fn served(&self, r: Resource, key: &Key) -> Option<Value> {
        self.store.get(r, key).map(|s| (*s.obj).clone())
    }

    /// Type and object checks every write shares.
    fn check_type(r: Resource, obj: &Value) -> Result<(), ApiError> {
        if let Some(v) = obj["apiVersion"].as_str()
            && v != r.api_version()
        {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({})",
                r.api_version()
            )));
        }
        if let Some(k) = obj["kind"].as_str()
            && k != r.kind()
        {
            return Err(ApiError::bad_request(format!(
                "{k} in version \"v1\" cannot be handled as a {}: the kind in the data ({k}) does not match the expected kind ({})",
                r.kind(),
                r.kind()
            )));
        }
        if !obj.is_object() {
            return Err(ApiError::bad_request(
                "the body of the request is not an object",
            ));
        }
        Ok(())
    }

    /// `POST`: a new object; returns it as served (or as it would be, for a dry run).
    pub(crate) fn api_create(
        &mut self,
        r: Resource,
        ns: &str,
        obj: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        Cluster::check_type(r, obj)?;
        let mut causes = Causes::default();
        let mut m = decode::client_meta(obj, &mut causes);
        if r.namespaced()
            && m.namespace
                .as_deref()
                .is_some_and(|x| !x.is_empty() && x != ns)
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        if m.name.is_empty() && !m.generate_name.is_empty() {
            let prefix = m.generate_name.clone();
            m.name = loop {
                let candidate = format!("{prefix}{}", self.rng.suffix());
                if self
                    .store
                    .get(r, &(ns.to_string(), candidate.clone()))
                    .is_none()
                {
                    break candidate;
                }
            };
        }
        let name = m.name.clone();
        if name.is_empty() {
            let mut causes = Causes::default();
            causes.push_required_name();
            causes.check(r.kind(), r.group(), "")?;
        }
        let bad_name = if r == Resource::Namespace {
            decode::dns_label_error(&name)
        } else {
            decode::dns_subdomain_error(&name)
        };
        if let Some(e) = bad_name {
            causes.invalid("metadata.name", &format!("\"{name}\""), &e);
        }
        let key = if r.namespaced() {
            (ns.to_string(), name.clone())
        } else {
            (String::new(), name.clone())
        };
        if r.namespaced() {
            if !self.namespaces.contains_key(ns) {
                return Err(ApiError::not_found("", "namespaces", ns));
            }
            if self.terminating.contains(ns) {
                return Err(ApiError::new(
                    403,
                    "Forbidden",
                    format!("{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated", r.qualified()),
                )
                .with_details(json!({ "name": name, "kind": r.plural(), "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}] })));
            }
        }
        if self.store.get(r, &key).is_some() {
            return Err(already_exists(r, &name));
        }
        match r {
            Resource::Namespace => {
                causes.check("Namespace", "", &name)?;
                if dry_run {
                    return Ok(obj.clone());
                }
                self.create_namespace(&name, &[]);
                if let Some(meta) = self.namespaces.get_mut(&name) {
                    decode::apply_meta(meta, &m);
                }
            }
            Resource::Pod => {
                let spec = &obj["spec"];
                let t = decode::pod_spec(
                    spec,
                    "spec",
                    &[],
                    &["Always", "OnFailure", "Never"],
                    &mut causes,
                );
                causes.check("Pod", "", &name)?;
                if dry_run {
                    return Ok(obj.clone());
                }
                let node = match spec["nodeName"].as_str() {
                    Some(n) => n.to_string(),
                    None => self.pick_node().to_string(),
                };
                let pod = PodSpec {
                    name: name.clone(),
                    labels: m.labels.clone().into_iter().collect(),
                    annotations: m.annotations.clone().into_iter().collect(),
                    node: Some(node),
                    restart_policy: t.restart_policy.clone(),
                    init_containers: t.init.clone(),
                    containers: t.containers.clone(),
                    ephemeral_containers: Vec::new(),
                };
                self.create_pod(ns, pod);
                if let Some(p) = self.pods.get_mut(&key) {
                    p.spec_extra = t.spec_extra;
                    if !m.generate_name.is_empty() {
                        p.generate_name = Some(m.generate_name.clone());
                    }
                }
            }
            Resource::Deployment => {
                let f = decode::deployment(obj, &[], &mut causes);
                causes.check("Deployment", "apps", &name)?;
                let mut meta = self.meta(ns, &name);
                decode::apply_meta(&mut meta, &m);
                meta.annotations
                    .retain(|k, _| k != "deployment.kubernetes.io/revision");
                let d = Deployment {
                    meta,
                    generation: 1,
                    spec: f,
                };
                if dry_run {
                    return Ok(super::render::deployment_preview(&d));
                }
                self.deployments.insert(key.clone(), d);
                self.workloads_dirty = true;
            }
            Resource::Job => {
                let owner = self.cronjob_owner(ns, &m);
                let sources = owner
                    .as_ref()
                    .and_then(|o| self.cronjobs.get(&(ns.to_string(), o.name.clone())))
                    .map(|cj| cj.job.template.containers.clone())
                    .unwrap_or_default();
                let mut job = Job::new(
                    self.meta(ns, &name),
                    super::template::Template::new(BTreeMap::new(), Vec::new()),
                );
                decode::job_spec(&obj["spec"], "spec", &mut job, &sources, &mut causes);
                causes.check("Job", "batch", &name)?;
                decode::apply_meta(&mut job.meta, &m);
                job.owner = owner;
                if dry_run {
                    return Ok(obj.clone());
                }
                self.insert_job(ns, job);
            }
            Resource::CronJob => {
                let cj = self.decode_cronjob(ns, &name, obj, &m, None, &mut causes);
                causes.check("CronJob", "batch", &name)?;
                if dry_run {
                    return Ok(obj.clone());
                }
                if let Some(cj) = cj {
                    self.insert_cronjob(ns, cj);
                }
            }
            _ => return Err(ApiError::method_not_allowed()),
        }
        self.commit();
        self.served(r, &key)
            .ok_or_else(|| ApiError::not_found(r.group(), r.plural(), &name))
    }

    /// A controller owner reference to an existing CronJob (`kubectl create job --from`).
    fn cronjob_owner(&self, ns: &str, m: &ClientMeta) -> Option<OwnerRef> {
        let (kind, name, uid) = m.controller.as_ref()?;
        let cj = self.cronjobs.get(&(ns.to_string(), name.clone()))?;
        (kind == "CronJob" && &cj.meta.uid == uid).then(|| OwnerRef {
            api_version: "batch/v1",
            kind: "CronJob",
            name: name.clone(),
            uid: uid.clone(),
        })
    }

    fn decode_cronjob(
        &mut self,
        ns: &str,
        name: &str,
        obj: &Value,
        m: &ClientMeta,
        current: Option<&Key>,
        causes: &mut Causes,
    ) -> Option<CronJob> {
        let spec = &obj["spec"];
        let schedule = spec["schedule"].as_str().unwrap_or_default().to_string();
        let cron = if schedule.is_empty() {
            causes.required("spec.schedule");
            None
        } else {
            match parse_schedule(&schedule) {
                Ok(c) => Some(c),
                Err(e) => {
                    causes.invalid("spec.schedule", &format!("\"{schedule}\""), &e);
                    None
                }
            }
        };
        let policy = spec["concurrencyPolicy"]
            .as_str()
            .unwrap_or("Allow")
            .to_string();
        if !["Allow", "Forbid", "Replace"].contains(&policy.as_str()) {
            causes.unsupported(
                "spec.concurrencyPolicy",
                &policy,
                &["Allow", "Forbid", "Replace"],
            );
        }
        let sources = current
            .and_then(|k| self.cronjobs.get(k))
            .map(|cj| cj.job.template.containers.clone())
            .unwrap_or_default();
        let mut job = Job::new(
            self.meta(ns, ""),
            super::template::Template::new(BTreeMap::new(), Vec::new()),
        );
        decode::job_spec(
            &spec["jobTemplate"]["spec"],
            "spec.jobTemplate.spec",
            &mut job,
            &sources,
            causes,
        );
        let history = |k: &str, d: u32| spec[k].as_u64().map_or(d, |n| n as u32);
        let mut tcauses = Causes::default();
        let tmeta = decode::client_meta(
            &json!({ "metadata": spec["jobTemplate"]["metadata"] }),
            &mut tcauses,
        );
        let mut meta = match current.and_then(|k| self.cronjobs.get(k)) {
            Some(cj) => cj.meta.clone(),
            None => self.meta(ns, name),
        };
        decode::apply_meta(&mut meta, m);
        let (active, last_schedule, last_successful, generation) =
            match current.and_then(|k| self.cronjobs.get(k)) {
                Some(cj) => (
                    cj.active.clone(),
                    cj.last_schedule,
                    cj.last_successful,
                    cj.generation,
                ),
                None => Default::default(),
            };
        Some(CronJob {
            meta,
            schedule,
            cron: cron?,
            time_zone: spec["timeZone"].as_str().map(str::to_string),
            suspend: spec["suspend"].as_bool().unwrap_or(false),
            concurrency_policy: policy,
            successful_history: history("successfulJobsHistoryLimit", 3),
            failed_history: history("failedJobsHistoryLimit", 1),
            starting_deadline: spec["startingDeadlineSeconds"].as_i64(),
            job_labels: tmeta.labels,
            job_annotations: tmeta.annotations,
            job,
            generation: generation.max(1),
            active,
            last_schedule,
            last_successful,
        })
    }

    /// `PUT`, or the object a `PATCH` produced: the new state of an existing object.
    pub(crate) fn api_update(
        &mut self,
        r: Resource,
        key: &Key,
        obj: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let current = self
            .served(r, key)
            .ok_or_else(|| ApiError::not_found(r.group(), r.plural(), &key.1))?;
        Cluster::check_type(r, obj)?;
        let mut causes = Causes::default();
        let m = decode::client_meta(obj, &mut causes);
        if m.name != key.1 {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({})",
                m.name, key.1
            )));
        }
        if let Some(rv) = &m.resource_version
            && current["metadata"]["resourceVersion"].as_str() != Some(rv)
        {
            return Err(conflict(r, &key.1));
        }
        match r {
            Resource::Namespace => {
                causes.check("Namespace", "", &key.1)?;
                if let (false, Some(meta)) = (dry_run, self.namespaces.get_mut(&key.1)) {
                    let mut labels = m.labels.clone();
                    labels.remove("kubernetes.io/metadata.name");
                    meta.labels = labels;
                    meta.annotations = m.annotations.clone();
                }
            }
            Resource::Pod => self.update_pod(key, obj, &m, dry_run, causes)?,
            Resource::Deployment => {
                let Some(d) = self.deployments.get(key) else {
                    return Err(ApiError::not_found("apps", "deployments", &key.1));
                };
                let mut sources: Vec<ContainerSpec> = d.spec.template.containers.clone();
                sources.extend(d.spec.template.init.iter().cloned());
                for rs in self.revisions(&d.meta.uid) {
                    sources.extend(rs.template.containers.iter().cloned());
                }
                let f = decode::deployment(obj, &sources, &mut causes);
                if f.selector != d.spec.selector {
                    causes.invalid(
                        "spec.selector",
                        &format!("v1.LabelSelector{{MatchLabels:{}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}}", go_map(&f.selector)),
                        "field is immutable",
                    );
                }
                causes.check("Deployment", "apps", &key.1)?;
                let mut annotations = m.annotations.clone();
                annotations.retain(|k, _| !CONTROLLER_ANNOTATIONS[1..].contains(&k.as_str()));
                let changed = f != d.spec;
                if dry_run {
                    return Ok(obj.clone());
                }
                if let Some(d) = self.deployments.get_mut(key) {
                    d.meta.labels = m.labels.clone();
                    d.meta.annotations = annotations;
                    d.spec = f;
                    if changed {
                        d.generation += 1;
                    }
                }
                self.workloads_dirty = true;
            }
            Resource::Job => {
                let Some(j) = self.jobs.get(key) else {
                    return Err(ApiError::not_found("batch", "jobs", &key.1));
                };
                let mut next = j.clone();
                decode::job_spec(
                    &obj["spec"],
                    "spec",
                    &mut next,
                    &j.template.containers,
                    &mut causes,
                );
                if next.template != j.template {
                    causes.invalid(
                        "spec.template",
                        "core.PodTemplateSpec{...}",
                        "field is immutable",
                    );
                }
                if next.completions != j.completions {
                    causes.invalid(
                        "spec.completions",
                        &next.completions.to_string(),
                        "field is immutable",
                    );
                }
                causes.check("Job", "batch", &key.1)?;
                if dry_run {
                    return Ok(obj.clone());
                }
                next.meta.labels = m.labels.clone();
                next.meta.annotations = m.annotations.clone();
                if next.suspend != j.suspend
                    || next.parallelism != j.parallelism
                    || next.active_deadline != j.active_deadline
                    || next.backoff_limit != j.backoff_limit
                {
                    next.generation += 1;
                }
                self.jobs.insert(key.clone(), next);
                self.workloads_dirty = true;
            }
            Resource::CronJob => {
                let cj = self.decode_cronjob(&key.0, &key.1, obj, &m, Some(key), &mut causes);
                causes.check("CronJob", "batch", &key.1)?;
                if dry_run {
                    return Ok(obj.clone());
                }
                if let Some(mut cj) = cj {
                    if self.cronjobs.get(key).is_some_and(|old| {
                        old.schedule != cj.schedule
                            || old.suspend != cj.suspend
                            || old.job.template != cj.job.template
                    }) {
                        cj.generation += 1;
                    }
                    self.cronjobs.insert(key.clone(), cj);
                    self.workloads_dirty = true;
                }
            }
            _ => return Err(ApiError::method_not_allowed()),
        }
        self.commit();
        self.served(r, key)
            .ok_or_else(|| ApiError::not_found(r.group(), r.plural(), &key.1))
    }

    /// A pod's metadata, and its containers' images (the kubelet restarts a container
    /// whose image changed); any other spec change is forbidden, as on a real pod.
    fn update_pod(
        &mut self,
        key: &Key,
        obj: &Value,
        m: &ClientMeta,
        dry_run: bool,
        mut causes: Causes,
    ) -> Result<(), ApiError> {
        let Some(p) = self.pods.get(key) else {
            return Err(ApiError::not_found("", "pods", &key.1));
        };
        let sources: Vec<ContainerSpec> = p.all_containers().map(|c| c.spec.clone()).collect();
        let t = decode::pod_spec(
            &obj["spec"],
            "spec",
            &sources,
            &[p.restart_policy.as_str()],
            &mut causes,
        );
        let names = |cs: &[ContainerSpec]| cs.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        let current: Vec<ContainerSpec> = p.containers.iter().map(|c| c.spec.clone()).collect();
        let same_but_images = names(&t.containers) == names(&current)
            && t.containers.iter().zip(&current).all(|(a, b)| {
                let mut a = a.clone();
                a.image = b.image.clone();
                a == *b
            });
        if !same_but_images {
            causes.forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)");
        }
        causes.check("Pod", "", &key.1)?;
        if dry_run {
            return Ok(());
        }
        let changed: Vec<(String, String)> = t
            .containers
            .iter()
            .zip(&current)
            .filter(|(a, b)| a.image != b.image)
            .map(|(a, _)| (a.name.clone(), a.image.clone()))
            .collect();
        if let Some(p) = self.pods.get_mut(key) {
            p.meta.labels = m.labels.clone();
            p.meta.annotations = m.annotations.clone();
            for (name, image) in &changed {
                if let Some(c) = p.container_mut(name) {
                    c.spec.image = image.clone();
                }
            }
        }
        for (name, _) in changed {
            self.restart_container(&key.0, &key.1, &name, 0);
        }
        self.dirty_pods.insert(key.clone());
        self.workloads_dirty = true;
        Ok(())
    }

    /// `DELETE` with the client's grace period (pods) and propagation policy.
    pub(crate) fn api_delete(
        &mut self,
        r: Resource,
        key: &Key,
        grace: Option<i64>,
        propagation: Propagation,
        dry_run: bool,
    ) -> Result<Deleted, ApiError> {
        let Some(last) = self.served(r, key) else {
            return Err(ApiError::not_found(r.group(), r.plural(), &key.1));
        };
        if !writable(r) {
            return Err(ApiError::method_not_allowed());
        }
        if dry_run {
            return Ok(Deleted::Going(last));
        }
        let orphan = propagation == Propagation::Orphan;
        match r {
            Resource::Pod => {
                let default = self.pods.get(key).map_or(30, |p| {
                    p.spec_extra
                        .get("terminationGracePeriodSeconds")
                        .and_then(Value::as_i64)
                        .unwrap_or(30)
                });
                let grace = grace.unwrap_or(default).max(0) as u64;
                if grace == 0 {
                    self.force_delete_pod(key);
                    self.commit();
                    return Ok(Deleted::Gone(last));
                }
                // The simulated processes exit on SIGTERM within the controllers' grace.
                let stop = Duration::from_secs(grace).min(self.controller_grace);
                self.delete_pod_after(&key.0, &key.1, Duration::from_secs(grace), stop);
                self.commit();
                return Ok(match self.served(r, key) {
                    Some(now) => Deleted::Going(now),
                    None => Deleted::Gone(last),
                });
            }
            Resource::Deployment => {
                if orphan {
                    let uid = self.deployments.remove(key).map(|d| d.meta.uid);
                    self.store.remove(r, key);
                    for rs in self.replicasets.values_mut() {
                        if uid.as_deref().is_some_and(|u| rs.owned_by(u)) {
                            rs.owner = None;
                        }
                    }
                } else {
                    self.delete_deployment(&key.0, &key.1);
                }
            }
            Resource::Job => {
                if orphan {
                    self.jobs.remove(key);
                    self.store.remove(r, key);
                } else {
                    self.delete_job(&key.0, &key.1);
                }
            }
            Resource::CronJob => {
                let uid = self.cronjobs.remove(key).map(|cj| cj.meta.uid);
                self.store.remove(r, key);
                if !orphan {
                    let jobs: Vec<Key> = self
                        .jobs
                        .iter()
                        .filter(|(_, j)| {
                            j.owner
                                .as_ref()
                                .is_some_and(|o| Some(&o.uid) == uid.as_ref())
                        })
                        .map(|(k, _)| k.clone())
                        .collect();
                    for k in jobs {
                        self.delete_job(&k.0, &k.1);
                    }
                }
            }
            Resource::Namespace => {
                self.terminate_namespace(&key.1);
                self.commit();
                return Ok(match self.served(r, key) {
                    Some(now) => Deleted::Going(now),
                    None => Deleted::Gone(last),
                });
            }
            _ => return Err(ApiError::method_not_allowed()),
        }
        self.workloads_dirty = true;
        self.commit();
        Ok(Deleted::Gone(last))
    }

    /// The `scale` subresource of a Deployment (`autoscaling/v1` `Scale`).
    pub(crate) fn scale_json(&self, key: &Key) -> Option<Value> {
        let d = self.served(Resource::Deployment, key)?;
        let sel: Vec<String> = d["spec"]["selector"]["matchLabels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect()
            })
            .unwrap_or_default();
        let meta = &d["metadata"];
        Some(json!({
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"], "namespace": meta["namespace"], "uid": meta["uid"],
                "resourceVersion": meta["resourceVersion"], "creationTimestamp": meta["creationTimestamp"],
            },
            "spec": { "replicas": d["spec"]["replicas"] },
            "status": { "replicas": d["status"]["replicas"].as_u64().unwrap_or(0), "selector": sel.join(",") },
        }))
    }

    /// A new `Scale` for a Deployment (from a `PUT` or a patched `Scale`).
    pub(crate) fn api_scale(
        &mut self,
        key: &Key,
        scale: &Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let current = self
            .scale_json(key)
            .ok_or_else(|| ApiError::not_found("apps", "deployments", &key.1))?;
        if let Some(rv) = scale["metadata"]["resourceVersion"]
            .as_str()
            .filter(|s| !s.is_empty())
            && current["metadata"]["resourceVersion"].as_str() != Some(rv)
        {
            return Err(conflict(Resource::Deployment, &key.1));
        }
        let replicas = &scale["spec"]["replicas"];
        let n = match replicas.as_i64() {
            Some(n) if n >= 0 => n as u32,
            _ => {
                let mut causes = Causes::default();
                causes.invalid(
                    "spec.replicas",
                    &replicas.to_string(),
                    "must be greater than or equal to 0",
                );
                causes.check("Scale", "autoscaling", &key.1)?;
                0
            }
        };
        if !dry_run {
            self.scale(&key.0, &key.1, n);
            self.commit();
        }
        let mut out = self.scale_json(key).unwrap_or(current);
        if dry_run {
            out["spec"]["replicas"] = json!(n);
        }
        Ok(out)
    }

    /// Namespace deletion: `Terminating` with a deletionTimestamp, everything in it
    /// deleted, and the namespace gone once its last pod is.
    fn terminate_namespace(&mut self, ns: &str) {
        if !self.terminating.insert(ns.to_string()) {
            return;
        }
        self.namespace_deleted_at
            .insert(ns.to_string(), fmt_time(jiff::Timestamp::now()));
        for k in self.cronjobs.remove_in(ns) {
            self.store.remove(Resource::CronJob, &k);
        }
        for k in keys_in(&self.jobs, ns) {
            self.delete_job(&k.0, &k.1);
        }
        for k in keys_in(&self.deployments, ns) {
            self.delete_deployment(&k.0, &k.1);
        }
        let rest: Vec<Key> = self.pods.keys().filter(|k| k.0 == ns).cloned().collect();
        let grace = self.controller_grace;
        for k in rest {
            self.delete_pod(&k.0, &k.1, grace);
        }
        for (map, r) in [
            (
                &mut self.statefulsets as &mut dyn NamespacedMap,
                Resource::StatefulSet,
            ),
            (&mut self.daemonsets, Resource::DaemonSet),
            (&mut self.services, Resource::Service),
            (&mut self.replicasets, Resource::ReplicaSet),
        ] {
            for k in map.remove_in(ns) {
                self.store.remove(r, &k);
            }
        }
        self.workloads_dirty = true;
    }

    /// The namespace controller: a terminating namespace goes once it holds no pod.
    pub(super) fn reconcile_namespaces(&mut self) -> bool {
        let done: Vec<String> = self
            .terminating
            .iter()
            .filter(|ns| !self.pods.keys().any(|k| &k.0 == *ns))
            .cloned()
            .collect();
        for ns in &done {
            self.terminating.remove(ns);
            self.namespace_deleted_at.remove(ns);
            self.namespaces.remove(ns);
            self.events.remove_namespace(ns);
            self.store
                .remove(Resource::Namespace, &(String::new(), ns.clone()));
        }
        !done.is_empty()
    }
}

fn keys_in<T>(m: &BTreeMap<Key, T>, ns: &str) -> Vec<Key> {
    m.keys().filter(|k| k.0 == ns).cloned().collect()
}

/// A map of namespaced objects whose entries of one namespace can be dropped.
trait NamespacedMap {
    fn remove_in(&mut self, ns: &str) -> Vec<Key>;
}

impl<T> NamespacedMap for BTreeMap<Key, T> {
    fn remove_in(&mut self, ns: &str) -> Vec<Key> {
        let keys: Vec<Key> = self.keys().filter(|k| k.0 == ns).cloned().collect();
        for k in &keys {
            self.remove(k);
        }
        keys
    }
}
