//! CronJobs and the CronJob controller: a Job named `NAME-<scheduled minute>` at each
//! scheduled time (cron syntax, parsed by `croner`), owned by the CronJob, with the
//! concurrency policies, suspension, and the history limits that delete old finished Jobs;
//! and a Job made on demand, as `kubectl create job --from=cronjob/NAME` makes it.
//! Rendering is `render`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::Timestamp;
use tokio::time::Instant;

use super::jobs::Job;
use super::template::Template;
use super::{Cluster, labels_of};
use crate::meta::{Meta, OwnerRef};
use crate::spec::CronJobSpec;
use crate::store::Key;

pub(crate) struct CronJob {
    pub(super) meta: Meta,
    pub(super) schedule: String,
    pub(super) cron: Cron,
    pub(super) time_zone: Option<String>,
    pub(super) suspend: bool,
    pub(super) concurrency_policy: String,
    pub(super) successful_history: u32,
    pub(super) failed_history: u32,
    pub(super) starting_deadline: Option<i64>,
    /// `jobTemplate.metadata`.
    pub(super) job_labels: BTreeMap<String, String>,
    pub(super) job_annotations: BTreeMap<String, String>,
    /// `jobTemplate.spec`, as a Job the controller copies.
    pub(super) job: Job,
    pub(super) generation: i64,
    /// Uids of the Jobs it scheduled and that have not finished (`status.active`).
    pub(super) active: BTreeSet<String>,
    pub(super) last_schedule: Option<Timestamp>,
    pub(super) last_successful: Option<Timestamp>,
}

/// A schedule in the five-field cron syntax the CronJob controller accepts (and the
/// `@hourly`-style names); the error is the parser's.
pub(crate) fn parse_schedule(schedule: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
        .parse(schedule)
        .map_err(|e| e.to_string())
}

/// The first scheduled time strictly after `after`, in UTC.
fn next_after(cron: &Cron, after: Timestamp) -> Option<Timestamp> {
    let z = after.to_zoned(jiff::tz::TimeZone::UTC);
    cron.find_next_occurrence(&z, false)
        .ok()
        .map(|z| z.timestamp())
}

/// The Job name the controller gives a run: `NAME-<minutes since the epoch>`.
pub(super) fn scheduled_job_name(cronjob: &str, at: Timestamp) -> String {
    format!("{cronjob}-{}", at.as_second().div_euclid(60))
}

impl CronJob {
    /// Where scheduling starts from: the last scheduled run, else the creation.
    fn since(&self) -> Timestamp {
        self.last_schedule.unwrap_or(self.meta.created)
    }

    pub(super) fn next_run(&self) -> Option<Timestamp> {
        if self.suspend {
            return None;
        }
        next_after(&self.cron, self.since())
    }
}

/// How long until `t`, as an instant of the runtime's clock.
fn instant_of(t: Timestamp) -> Instant {
    let now = Timestamp::now();
    let ahead = t.duration_since(now).as_secs_f64().max(0.0);
    crate::meta::after(Instant::now(), Duration::from_secs_f64(ahead))
}

impl Cluster {
    pub(crate) fn create_cronjob(&mut self, ns: &str, spec: &CronJobSpec) -> Result<(), String> {
        let cron = parse_schedule(&spec.schedule)?;
        self.ensure_namespace(ns);
        let containers = spec
            .job
            .containers
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c.exit_after = Some((spec.job.run_for, spec.job.exit_code));
                c
            })
            .collect();
        let mut template = Template::new(labels_of(&[]), containers);
        template.restart_policy = "Never".to_string();
        template.labels.extend(spec.job.labels.iter().cloned());
        let mut job = Job::new(self.meta(ns, ""), template);
        job.backoff_limit = spec.job.backoff_limit;
        job.completions = spec.job.completions.max(1);
        job.parallelism = spec.job.parallelism;
        job.active_deadline = spec.job.active_deadline.map(|d| d.as_secs().max(1));
        job.fail_first = spec.job.fail_first.clone();
        let meta = self.meta(ns, &spec.name);
        self.insert_cronjob(
            ns,
            CronJob {
                meta,
                schedule: spec.schedule.clone(),
                cron,
                time_zone: None,
                suspend: spec.suspend,
                concurrency_policy: spec.concurrency_policy.clone(),
                successful_history: spec.successful_history,
                failed_history: spec.failed_history,
                starting_deadline: None,
                job_labels: BTreeMap::new(),
                job_annotations: BTreeMap::new(),
                job,
                generation: 1,
                active: BTreeSet::new(),
                last_schedule: None,
                last_successful: None,
            },
        );
        Ok(())
    }

    pub(super) fn insert_cronjob(&mut self, ns: &str, cj: CronJob) {
        self.ensure_namespace(ns);
        self.cronjobs
            .insert((ns.to_string(), cj.meta.name.clone()), cj);
        self.workloads_dirty = true;
    }

    /// A Job made from the CronJob's template, owned by it, as the controller (or
    /// `kubectl create job --from`) makes it.
    fn job_from_cronjob(&mut self, key: &Key, name: &str) -> Option<Job> {
        let meta = self.meta(&key.0, name);
        let cj = self.cronjobs.get(key)?;
        let mut job = cj.job.clone_spec(meta);
        job.meta.labels = cj.job_labels.clone();
        job.meta.annotations = cj.job_annotations.clone();
        job.owner = Some(OwnerRef {
            api_version: "batch/v1",
            kind: "CronJob",
            name: cj.meta.name.clone(),
            uid: cj.meta.uid.clone(),
        });
        Some(job)
    }

    /// `kubectl create job NAME --from=cronjob/CJ` as a scenario step: a Job now, named
    /// `CJ-manual-<suffix>` unless `name` is given; returns its name.
    pub(crate) fn trigger_cronjob(&mut self, ns: &str, cronjob: &str) -> Option<String> {
        let key = (ns.to_string(), cronjob.to_string());
        self.cronjobs.get(&key)?;
        let name = format!("{cronjob}-manual-{}", self.rng.suffix());
        let mut job = self.job_from_cronjob(&key, &name)?;
        job.meta
            .annotations
            .insert("cronjob.kubernetes.io/instantiate".into(), "manual".into());
        self.insert_job(ns, job);
        Some(name)
    }

    /// The earliest scheduled run of any CronJob.
    pub(super) fn next_cronjob_timer(&self) -> Option<Instant> {
        self.cronjobs
            .values()
            .filter_map(CronJob::next_run)
            .min()
            .map(instant_of)
    }

    /// One step of the CronJob controller for one CronJob; true if it changed anything.
    pub(super) fn reconcile_cronjob(&mut self, key: &Key) -> bool {
        let Some(cj) = self.cronjobs.get(key) else {
            return false;
        };
        let uid = cj.meta.uid.clone();
        // The Jobs it owns: finished ones leave `active`, old ones past the history
        // limits are deleted.
        let mut owned: Vec<(Key, Timestamp, bool, Option<Timestamp>)> = self
            .jobs
            .iter()
            .filter(|(_, j)| j.owner.as_ref().is_some_and(|o| o.uid == uid))
            .map(|(k, j)| {
                let ok = j
                    .outcome()
                    .is_some_and(|o| o == super::jobs::Outcome::Success);
                (k.clone(), j.meta.created, ok, j.finished)
            })
            .collect();
        owned.sort_by_key(|o| o.1);
        let live: BTreeSet<String> = self
            .jobs
            .values()
            .filter(|j| j.owner.as_ref().is_some_and(|o| o.uid == uid) && j.finished.is_none())
            .map(|j| j.meta.uid.clone())
            .collect();
        let mut progress = false;
        let mut last_ok = None;
        for (_, _, ok, done) in &owned {
            if let (true, Some(at)) = (ok, done) {
                last_ok = Some(last_ok.map_or(*at, |l: Timestamp| l.max(*at)));
            }
        }
        let (keep_ok, keep_failed) = (cj.successful_history as usize, cj.failed_history as usize);
        let finished_ok: Vec<&Key> = owned
            .iter()
            .filter(|o| o.3.is_some() && o.2)
            .map(|o| &o.0)
            .collect();
        let finished_failed: Vec<&Key> = owned
            .iter()
            .filter(|o| o.3.is_some() && !o.2)
            .map(|o| &o.0)
            .collect();
        let mut doomed: Vec<Key> = Vec::new();
        doomed.extend(finished_ok.iter().rev().skip(keep_ok).map(|k| (*k).clone()));
        doomed.extend(
            finished_failed
                .iter()
                .rev()
                .skip(keep_failed)
                .map(|k| (*k).clone()),
        );
        let Some(cj) = self.cronjobs.get_mut(key) else {
            return false;
        };
        let before = cj.active.len();
        cj.active.retain(|u| live.contains(u));
        if cj.active.len() != before {
            progress = true;
        }
        if last_ok.is_some() && cj.last_successful != last_ok {
            cj.last_successful = last_ok;
            progress = true;
        }
        for k in doomed {
            progress |= self.delete_job(&k.0, &k.1);
        }
        // Is a run due?
        let now = Timestamp::now();
        let Some(cj) = self.cronjobs.get(key) else {
            return progress;
        };
        let Some(due) = cj.next_run().filter(|t| *t <= now) else {
            self.workloads_dirty |= progress;
            return progress;
        };
        // The most recent missed time counts; older misses are skipped, as the controller
        // does after a downtime.
        let mut latest = due;
        while let Some(t) = next_after(&cj.cron, latest).filter(|t| *t <= now) {
            latest = t;
        }
        let too_late = cj
            .starting_deadline
            .is_some_and(|d| now.duration_since(latest).as_secs() > d);
        let busy = !cj.active.is_empty();
        let policy = cj.concurrency_policy.clone();
        if too_late || (busy && policy == "Forbid") {
            if let Some(cj) = self.cronjobs.get_mut(key) {
                // Forbid waits for the next schedule; the missed one is not made up.
                cj.last_schedule = Some(latest);
            }
            self.workloads_dirty = true;
            return true;
        }
        if busy && policy == "Replace" {
            let active: Vec<Key> = self
                .jobs
                .iter()
                .filter(|(_, j)| cj.active.contains(&j.meta.uid))
                .map(|(k, _)| k.clone())
                .collect();
            for k in active {
                self.delete_job(&k.0, &k.1);
            }
        }
        let name = scheduled_job_name(&key.1, latest);
        if !self.jobs.contains_key(&(key.0.clone(), name.clone()))
            && let Some(mut job) = self.job_from_cronjob(key, &name)
        {
            job.meta.annotations.insert(
                "batch.kubernetes.io/cronjob-scheduled-timestamp".into(),
                crate::meta::fmt_time(latest),
            );
            let job_uid = job.meta.uid.clone();
            self.insert_job(&key.0, job);
            if let Some(cj) = self.cronjobs.get_mut(key) {
                cj.active.insert(job_uid);
            }
        }
        if let Some(cj) = self.cronjobs.get_mut(key) {
            cj.last_schedule = Some(latest);
        }
        self.workloads_dirty = true;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{app, cluster};
    use super::*;
    use crate::spec::JobSpec;
    use crate::store::Resource;

    #[test]
    fn a_due_run_creates_the_job_of_its_minute_once() {
        let mut c = cluster(1000);
        let spec = CronJobSpec::new("tick", "* * * * *", JobSpec::new("").container(app("run")));
        c.create_cronjob("ns", &spec).unwrap();
        let key = ("ns".to_string(), "tick".to_string());
        // Created three minutes ago: the missed runs collapse into the latest one.
        let created = Timestamp::now() - jiff::SignedDuration::from_secs(180);
        c.cronjobs.get_mut(&key).unwrap().meta.created = created;
        c.settle();
        c.commit();
        // One Job, for the latest scheduled minute.
        assert_eq!(c.jobs.len(), 1);
        let (jkey, j) = c.jobs.iter().next().unwrap();
        let at: Timestamp = j.meta.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]
            .parse()
            .unwrap();
        assert_eq!(at.as_second() % 60, 0);
        assert!(Timestamp::now().duration_since(at).as_secs() < 60);
        assert_eq!(jkey.1, scheduled_job_name("tick", at));
        let job = c.store.get(Resource::Job, jkey).unwrap();
        assert_eq!(job.obj["metadata"]["ownerReferences"][0]["kind"], "CronJob");
        let latest = at;
        let cj = c.store.get(Resource::CronJob, &key).unwrap();
        assert_eq!(
            cj.obj["status"]["lastScheduleTime"],
            crate::meta::fmt_time(latest)
        );
        // The job ran (zero run time) and left status.active; the next run is in the future.
        assert!(cj.obj["status"].get("active").is_none(), "{}", cj.obj);
        assert!(c.cronjobs[&key].next_run().unwrap() > Timestamp::now());
    }

    #[test]
    fn schedules_and_job_names() {
        let cron = parse_schedule("*/5 * * * *").unwrap();
        let t: Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(
            next_after(&cron, t).unwrap().to_string(),
            "2026-01-02T03:05:00Z"
        );
        let at: Timestamp = "2026-01-02T03:05:00Z".parse().unwrap();
        assert_eq!(
            scheduled_job_name("backup", at),
            format!("backup-{}", at.as_second() / 60)
        );
        assert!(parse_schedule("@hourly").is_ok());
        assert!(
            parse_schedule("0 * * * * *").is_err(),
            "seconds are not cron syntax here"
        );
        assert!(parse_schedule("61 * * * *").is_err());
    }
}
