//! Jobs and the Job controller, by the real controller's rules: pods from one template
//! (restartPolicy `Never`), a replacement after each failed pod with an exponential
//! back-off, `backoffLimit` and `activeDeadlineSeconds`, cumulative `succeeded`/`failed`
//! counts, and the terminal conditions in their two steps (`SuccessCriteriaMet` then
//! `Complete`, `FailureTarget` then `Failed`: a target first, the terminal condition once no
//! pod of the Job is left running). It must not render the Job; `render` does.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::events::Note;
use super::kubelet::OwnedPod;
use super::template::Template;
use super::{Cluster, labels_of};
use crate::meta::{Meta, OwnerRef};
use crate::spec::JobSpec;
use crate::store::{Key, Resource};

/// The longest back-off before a failed pod is replaced (the controller's cap).
const MAX_BACKOFF: Duration = Duration::from_secs(360);

/// How a Job ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    /// `BackoffLimitExceeded` or `DeadlineExceeded`.
    Failure(&'static str),
}

impl Outcome {
    pub(super) fn message(self) -> &'static str {
        match self {
            Outcome::Success => "Reached expected number of succeeded pods",
            Outcome::Failure("DeadlineExceeded") => "Job was active longer than specified deadline",
            Outcome::Failure(_) => "Job has reached the specified backoff limit",
        }
    }

    pub(super) fn reason(self) -> &'static str {
        match self {
            Outcome::Success => "CompletionsReached",
            Outcome::Failure(r) => r,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Job {
    pub(super) meta: Meta,
    /// The CronJob that created it, if any.
    pub(super) owner: Option<OwnerRef>,
    pub(super) template: Template,
    pub(super) selector: BTreeMap<String, String>,
    pub(super) parallelism: u32,
    pub(super) completions: u32,
    pub(super) backoff_limit: u32,
    pub(super) active_deadline: Option<u64>,
    pub(super) suspend: bool,
    /// The first pods fail: `(n, exit code, reason)` (scenario control).
    pub(super) fail_first: Option<(u32, i32, String)>,
    /// Spec fields a client sent that are served as they are (`ttlSecondsAfterFinished`...).
    pub(super) spec_extra: Map<String, Value>,
    pub(super) generation: i64,
    /// When the controller first synced the Job (`status.startTime`).
    pub(super) start: Option<(Timestamp, Instant)>,
    pub(super) created_pods: u32,
    pub(super) succeeded: u32,
    pub(super) failed: u32,
    /// Pods created by the controller, and those already counted as succeeded or failed.
    pub(super) tracked: BTreeSet<String>,
    pub(super) counted: BTreeSet<String>,
    pub(super) last_failure: Option<Instant>,
    /// `SuccessCriteriaMet` / `FailureTarget`, and when.
    pub(super) target: Option<(Outcome, Timestamp)>,
    /// `Complete` / `Failed`, once no pod is left running.
    pub(super) finished: Option<Timestamp>,
}

impl Job {
    /// A Job object as a client or a CronJob creates it, before the controller saw it.
    pub(super) fn new(meta: Meta, template: Template) -> Job {
        Job {
            meta,
            owner: None,
            template,
            selector: BTreeMap::new(),
            parallelism: 1,
            completions: 1,
            backoff_limit: 6,
            active_deadline: None,
            suspend: false,
            fail_first: None,
            spec_extra: Map::new(),
            generation: 1,
            start: None,
            created_pods: 0,
            succeeded: 0,
            failed: 0,
            tracked: BTreeSet::new(),
            counted: BTreeSet::new(),
            last_failure: None,
            target: None,
            finished: None,
        }
    }

    /// A new Job with this one's spec (a CronJob's `jobTemplate`) and no status.
    pub(super) fn clone_spec(&self, meta: Meta) -> Job {
        let mut j = Job::new(meta, self.template.clone());
        j.parallelism = self.parallelism;
        j.completions = self.completions;
        j.backoff_limit = self.backoff_limit;
        j.active_deadline = self.active_deadline;
        j.suspend = self.suspend;
        j.fail_first = self.fail_first.clone();
        j.spec_extra = self.spec_extra.clone();
        j
    }

    pub(super) fn outcome(&self) -> Option<Outcome> {
        self.finished.and(self.target.map(|t| t.0))
    }

    /// The delay before the next pod after `failed` failures: 1x, 2x, 4x... the base.
    fn backoff(&self, base: Duration) -> Duration {
        let exp = self.failed.saturating_sub(1).min(20);
        base.saturating_mul(1 << exp).min(MAX_BACKOFF)
    }

    /// When the controller must look again by itself: the end of a back-off or the
    /// active deadline.
    pub(super) fn next_timer(&self, base: Duration) -> Option<Instant> {
        if self.target.is_some() || self.suspend {
            return None;
        }
        let backoff = self
            .last_failure
            .map(|at| crate::meta::after(at, self.backoff(base)));
        let deadline = match (self.active_deadline, self.start) {
            (Some(secs), Some((_, at))) => Some(crate::meta::after(at, Duration::from_secs(secs))),
            _ => None,
        };
        match (backoff, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The labels the Job controller gives a Job's pods and selects them by.
pub(super) fn job_labels(name: &str, uid: &str) -> BTreeMap<String, String> {
    labels_of(&[
        ("batch.kubernetes.io/controller-uid", uid),
        ("batch.kubernetes.io/job-name", name),
        ("controller-uid", uid),
        ("job-name", name),
    ])
}

impl Cluster {
    /// The Job of a scenario: its containers run for `run_for` and exit with `exit_code`.
    pub(crate) fn create_job(&mut self, ns: &str, spec: &JobSpec) {
        self.ensure_namespace(ns);
        let containers = spec
            .containers
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c.exit_after = Some((spec.run_for, spec.exit_code));
                c
            })
            .collect();
        let mut template = Template::new(labels_of(&[]), containers);
        template.restart_policy = "Never".to_string();
        template.labels.extend(spec.labels.iter().cloned());
        let meta = self.meta(ns, &spec.name);
        let mut job = Job::new(meta, template);
        job.backoff_limit = spec.backoff_limit;
        job.completions = spec.completions.max(1);
        job.parallelism = spec.parallelism;
        job.active_deadline = spec.active_deadline.map(|d| d.as_secs().max(1));
        job.fail_first = spec.fail_first.clone();
        self.insert_job(ns, job);
    }

    /// Adds a Job as the API server stores it: the controller uid in its selector and in
    /// its template's labels.
    pub(super) fn insert_job(&mut self, ns: &str, mut job: Job) {
        self.ensure_namespace(ns);
        let labels = job_labels(&job.meta.name, &job.meta.uid);
        if job.selector.is_empty() {
            job.selector = labels_of(&[("batch.kubernetes.io/controller-uid", &job.meta.uid)]);
        }
        job.template.labels.extend(labels.clone());
        if job.meta.labels.is_empty() {
            job.meta.labels = labels_of(&[
                ("batch.kubernetes.io/controller-uid", &job.meta.uid),
                ("batch.kubernetes.io/job-name", &job.meta.name),
                ("controller-uid", &job.meta.uid),
                ("job-name", &job.meta.name),
            ]);
        }
        self.jobs
            .insert((ns.to_string(), job.meta.name.clone()), job);
        self.workloads_dirty = true;
    }

    /// Deletes a Job with background propagation: the Job goes at once, its pods are
    /// deleted gracefully.
    pub(crate) fn delete_job(&mut self, ns: &str, name: &str) -> bool {
        let key = (ns.to_string(), name.to_string());
        let Some(j) = self.jobs.remove(&key) else {
            return false;
        };
        self.store.remove(crate::store::Resource::Job, &key);
        self.delete_owned_pods(&j.meta.uid);
        self.workloads_dirty = true;
        true
    }

    /// When the Job controller must look again without a change: the soonest back-off end
    /// or active deadline.
    pub(super) fn next_job_timer(&self) -> Option<Instant> {
        self.jobs
            .values()
            .filter(|j| j.finished.is_none())
            .filter_map(|j| j.next_timer(self.job_backoff))
            .min()
    }

    /// One step of the Job controller for one Job; true if it changed anything.
    pub(super) fn reconcile_job(&mut self, key: &Key) -> bool {
        let now = Instant::now();
        let now_t = Timestamp::now();
        let Some(j) = self.jobs.get(key) else {
            return false;
        };
        if j.finished.is_some() || (j.suspend && j.start.is_none()) {
            return false;
        }
        let uid = j.meta.uid.clone();
        let mut active = Vec::new();
        let mut terminating = 0;
        let mut ended = Vec::new();
        let mut alive = BTreeSet::new();
        for (k, p) in &self.pods {
            if p.owner.as_ref().is_none_or(|o| o.uid != uid) {
                continue;
            }
            alive.insert(p.meta.uid.clone());
            match p.phase() {
                "Succeeded" | "Failed" if j.counted.contains(&p.meta.uid) => {}
                "Succeeded" => ended.push((p.meta.uid.clone(), true)),
                "Failed" => ended.push((p.meta.uid.clone(), false)),
                _ if p.deletion.is_some() => terminating += 1,
                _ => active.push(k.clone()),
            }
        }
        let base = self.job_backoff;
        let grace = self.controller_grace;
        let Some(j) = self.jobs.get_mut(key) else {
            return false;
        };
        let mut progress = false;
        if j.start.is_none() {
            j.start = Some((now_t, now));
            progress = true;
        }
        // A pod that went away before it ended counts as failed, as the controller's
        // tracking finalizer makes sure.
        let vanished: Vec<String> = j
            .tracked
            .iter()
            .filter(|u| !alive.contains(*u) && !j.counted.contains(*u))
            .cloned()
            .collect();
        for (pod_uid, ok) in ended
            .into_iter()
            .chain(vanished.into_iter().map(|u| (u, false)))
        {
            j.counted.insert(pod_uid);
            if ok {
                j.succeeded += 1;
            } else {
                j.failed += 1;
                j.last_failure = Some(now);
            }
            progress = true;
        }
        if j.target.is_none() {
            let deadline_passed = match (j.active_deadline, j.start) {
                (Some(secs), Some((_, at))) => {
                    now >= crate::meta::after(at, Duration::from_secs(secs))
                }
                _ => false,
            };
            let target = if j.succeeded >= j.completions {
                Some(Outcome::Success)
            } else if j.failed > j.backoff_limit {
                Some(Outcome::Failure("BackoffLimitExceeded"))
            } else if deadline_passed {
                Some(Outcome::Failure("DeadlineExceeded"))
            } else {
                None
            };
            if let Some(t) = target {
                j.target = Some((t, now_t));
                progress = true;
            }
        }
        if j.target.is_some() {
            if !active.is_empty() {
                for k in active {
                    self.delete_pod(&k.0, &k.1, grace);
                }
                self.workloads_dirty = true;
                return true;
            }
            if terminating == 0 {
                j.finished = Some(now_t);
                progress = true;
                // The job controller's word on the terminal condition.
                let note = match j.target {
                    Some((Outcome::Failure(reason), _)) => {
                        Note::warning(reason, Outcome::Failure(reason).message())
                    }
                    _ => Note::normal("Completed", "Job completed"),
                };
                self.controller_event(Resource::Job, key, &uid, note);
            }
            self.workloads_dirty |= progress;
            return progress;
        }
        let want = j.parallelism.min(j.completions.saturating_sub(j.succeeded)) as usize;
        if j.suspend || active.len() >= want {
            self.workloads_dirty |= progress;
            return progress;
        }
        if let Some(at) = j.last_failure
            && now < crate::meta::after(at, j.backoff(base))
        {
            self.workloads_dirty |= progress;
            return progress;
        }
        let mut tpl = j.template.clone();
        if let Some((n, code, reason)) = &j.fail_first
            && j.created_pods < *n
        {
            for c in &mut tpl.containers {
                let run = c.exit_after.map_or(Duration::ZERO, |(d, _)| d);
                c.exit_after = Some((run, *code));
                c.exit_reason = Some(reason.clone());
            }
        }
        j.created_pods += 1;
        let owner = OwnerRef {
            api_version: "batch/v1",
            kind: "Job",
            name: j.meta.name.clone(),
            uid: uid.clone(),
        };
        let prefix = format!("{}-", j.meta.name);
        let ns = key.0.clone();
        let name = self.unique_name(&ns, &prefix);
        let node = self.pick_node();
        self.create_owned_pod(
            &ns,
            &tpl,
            OwnedPod {
                name: name.clone(),
                generate_name: Some(prefix),
                labels: tpl.labels.clone(),
                owner,
                node,
            },
        );
        if let Some(p) = self.pods.get(&(ns, name))
            && let Some(j) = self.jobs.get_mut(key)
        {
            j.tracked.insert(p.meta.uid.clone());
        }
        self.workloads_dirty = true;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{app, cluster};
    use super::*;
    use crate::store::Resource;

    fn job_status(c: &Cluster, name: &str) -> Value {
        let key = ("ns".to_string(), name.to_string());
        c.store.get(Resource::Job, &key).unwrap().obj["status"].clone()
    }

    /// A cluster where `spec` has run to its end (no back-off between attempts).
    fn ran(spec: JobSpec) -> Cluster {
        let mut c = cluster(1000);
        c.job_backoff = Duration::ZERO;
        c.create_job("ns", &spec);
        c.settle();
        c.commit();
        c
    }

    #[test]
    fn a_job_that_fails_replaces_its_pods_until_the_backoff_limit() {
        let c = ran(JobSpec::new("migrate")
            .container(app("run"))
            .exit_code(3)
            .backoff_limit(1));
        let st = job_status(&c, "migrate");
        assert_eq!(st["failed"], 2, "{st}");
        assert_eq!(st["conditions"][0]["type"], "FailureTarget", "{st}");
        assert_eq!(st["conditions"][1]["type"], "Failed", "{st}");
        assert_eq!(
            st["conditions"][1]["reason"], "BackoffLimitExceeded",
            "{st}"
        );
        assert!(st.get("completionTime").is_none(), "{st}");
        assert!(st.get("active").is_none(), "{st}");
        assert_eq!(c.pods.len(), 2, "the failed pods stay");
        assert!(c.pods.values().all(|p| p.phase() == "Failed"));
    }

    #[test]
    fn fail_first_then_succeed() {
        let c = ran(JobSpec::new("flaky")
            .container(app("run"))
            .fail_first(2, 137, "OOMKilled"));
        let st = job_status(&c, "flaky");
        assert_eq!(
            (st["failed"].clone(), st["succeeded"].clone()),
            (2.into(), 1.into()),
            "{st}"
        );
        let types: Vec<&str> = st["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["SuccessCriteriaMet", "Complete"]);
        assert!(st["completionTime"].is_string());
        let reasons: BTreeSet<String> = c
            .pods
            .keys()
            .map(|k| {
                let p = super::super::testing::pod_json(&c, &k.0, &k.1);
                p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(reasons, ["Completed", "OOMKilled"].map(String::from).into());
    }
}
