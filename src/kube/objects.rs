//! Objects named by a resource query (`deploy/web`): reading the pod selector of the
//! object, once (`--no-follow`) or for as long as ktail runs.
//!
//! A followed object drives its scope's pod watch through a filter channel: every
//! change of its selector, its deletion and its re-creation reach the pod watch, which
//! then re-lists with the new selector. This module reads objects; it starts no tails.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{Pod, ReplicationController, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Api;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use tokio::sync::{mpsc, watch};

use crate::backoff::Backoff;
use crate::kube::SourceEvent;
use crate::kube::discovery;
use crate::kube::outcome::{self, JobOutcome};
use crate::kube::pods;
use crate::kube::query::{self, Kind, PodFilter, ResourceQuery};
use crate::kube::rollout::{self, Rollouts};
use crate::kube::target::{self, Selection, Sighting};
use crate::kube::watch::{Seen, WatchSet};

pub(crate) fn api_resource(kind: Kind) -> ApiResource {
    match kind {
        Kind::Deployment => ApiResource::erase::<Deployment>(&()),
        Kind::ReplicaSet => ApiResource::erase::<ReplicaSet>(&()),
        Kind::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
        Kind::DaemonSet => ApiResource::erase::<DaemonSet>(&()),
        Kind::Job => ApiResource::erase::<Job>(&()),
        Kind::CronJob => ApiResource::erase::<CronJob>(&()),
        Kind::Service => ApiResource::erase::<Service>(&()),
        Kind::ReplicationController => ApiResource::erase::<ReplicationController>(&()),
        Kind::Pod => ApiResource::erase::<Pod>(&()),
    }
}

fn object_api(client: &kube::Client, ns: &str, kind: Kind) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &api_resource(kind))
}

/// The pod selector of an object, as the API's label-selector string: `spec.selector`
/// (a map for services and replication controllers).
fn pod_selector(kind: Kind, obj: &DynamicObject) -> Option<String> {
    let sel = obj.data.get("spec")?.get("selector")?;
    match kind {
        Kind::Service | Kind::ReplicationController => {
            query::map_selector(&serde_json::from_value(sel.clone()).ok()?)
        }
        _ => query::selector_string(&serde_json::from_value::<LabelSelector>(sel.clone()).ok()?),
    }
}

/// The pod filter of the object now, or `None` when it has no selector (or, for a
/// CronJob, no Job). A missing object is `Err` with a 404 `Status`.
pub(crate) async fn object_filter(
    client: &kube::Client,
    ns: &str,
    rq: &ResourceQuery,
    base: &PodFilter,
) -> kube::Result<Option<PodFilter>> {
    let obj = object_api(client, ns, rq.kind).get(&rq.name).await?;
    if rq.kind == Kind::CronJob {
        let jobs = object_api(client, ns, Kind::Job)
            .list(&Default::default())
            .await?;
        let uid = obj.metadata.uid.unwrap_or_default();
        let owned: Vec<&DynamicObject> = jobs.items.iter().filter(|j| owned_by(j, &uid)).collect();
        return Ok(jobs_filter(&owned, base));
    }
    Ok(pod_selector(rq.kind, &obj).map(|labels| PodFilter {
        labels: Some(labels),
        ..base.clone()
    }))
}

/// Whether `obj` is owned by the object with this UID.
fn owned_by(obj: &DynamicObject, uid: &str) -> bool {
    obj.metadata
        .owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid)
}

/// The label the Job controller puts on a Job's pods and its selector (1.27+ prefixes it).
fn job_uid_label(job: &DynamicObject) -> &'static str {
    let prefixed = job
        .data
        .pointer("/spec/selector/matchLabels/batch.kubernetes.io~1controller-uid")
        .is_some();
    if prefixed {
        "batch.kubernetes.io/controller-uid"
    } else {
        "controller-uid"
    }
}

/// The pods of these Jobs, as one set-based selector, or `None` without Jobs.
fn jobs_filter(jobs: &[&DynamicObject], base: &PodFilter) -> Option<PodFilter> {
    let first = jobs.first()?;
    let mut uids: Vec<&str> = jobs
        .iter()
        .filter_map(|j| j.metadata.uid.as_deref())
        .collect();
    uids.sort_unstable();
    Some(PodFilter {
        labels: Some(format!("{} in ({})", job_uid_label(first), uids.join(","))),
        ..base.clone()
    })
}

/// `--until-done` for a Job query: report the Job's end, after every pod it ran, selected
/// with this selection.
pub(crate) struct UntilDone {
    pub(crate) selection: Arc<Selection>,
}

/// Follows one object in one namespace: every change of its selector, its deletion and
/// its re-creation reach `tx`, which drives the scope's pod watch. Ends when `tx` has no
/// receiver left.
pub(crate) async fn follow_object(
    client: kube::Client,
    ns: String,
    rq: ResourceQuery,
    base: PodFilter,
    tx: watch::Sender<Option<PodFilter>>,
    events: mpsc::Sender<SourceEvent>,
    until_done: Option<UntilDone>,
) {
    let api = object_api(&client, &ns, rq.kind);
    let wc = watcher::Config::default().fields(&format!("metadata.name={}", rq.name));
    let stream = watcher::watcher(api, wc).backoff(Backoff::watch());
    let mut stream = std::pin::pin!(stream);
    let mut set = WatchSet::default();
    let mut warned_selectorless = false;
    let mut told = false;
    let mut done_reported = false;
    let mut rollouts = Rollouts::default();
    let rolls = matches!(
        rq.kind,
        Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet
    );
    while let Some(item) = stream.next().await {
        let name = |o: &DynamicObject| o.metadata.name.clone().unwrap_or_default();
        for seen in set.handle(item, name) {
            let (next, obj) = match seen {
                Seen::Current(obj) => {
                    set.insert(name(&obj));
                    let filter = match pod_selector(rq.kind, &obj) {
                        Some(labels) => Some(PodFilter {
                            labels: Some(labels),
                            ..base.clone()
                        }),
                        None => {
                            if !warned_selectorless {
                                warned_selectorless = true;
                                let text = format!(
                                    "{} in namespace '{ns}' has no pod selector: no pods to tail",
                                    rq.describe()
                                );
                                let _ = events.send(SourceEvent::Warning(text)).await;
                            }
                            None
                        }
                    };
                    (filter, Some(obj))
                }
                Seen::Gone(_) | Seen::DeletedUnknown(_) => (None, None),
                Seen::Warning(msg) => {
                    let text = format!(
                        "watching {} in namespace '{ns}': {msg} (retrying)",
                        rq.describe()
                    );
                    if events.send(SourceEvent::Warning(text)).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            tell_selector(&tx, &next, &mut told);
            if rolls && let Some(obj) = &obj {
                let now = rollout::snapshot(rq.kind, obj);
                let new_revision =
                    rollouts.revision().is_some() && rollouts.revision() != now.revision.as_deref();
                let back_to = match (&next, &now.revision) {
                    (Some(filter), Some(rev)) if new_revision && rq.kind == Kind::Deployment => {
                        rolled_back_from(&client, &ns, filter, rev).await
                    }
                    _ => None,
                };
                let what = format!("{}/{}", rq.kind.noun(), rq.name);
                for text in rollouts.observe(&what, now, back_to) {
                    if events.send(SourceEvent::Progress(text)).await.is_err() {
                        return;
                    }
                }
            }
            if let (Some(done), Some(filter), Some(obj)) = (&until_done, &next, &obj)
                && !done_reported
                && rq.kind == Kind::Job
                && let Some(outcome) = outcome::job_outcome(obj)
            {
                done_reported = true;
                let what = format!("job/{}", rq.name);
                if report_done(&client, &ns, filter, done, what, outcome, &events)
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
        tell_listed(&tx, set.listed_once(), &mut told);
        if tx.is_closed() {
            return;
        }
    }
}

/// When revision `revision` of a Deployment is a rollback (`kubectl rollout undo`), the
/// earlier revision whose template it took: its ReplicaSet keeps the revisions it had in
/// `deployment.kubernetes.io/revision-history`.
async fn rolled_back_from(
    client: &kube::Client,
    ns: &str,
    filter: &PodFilter,
    revision: &str,
) -> Option<String> {
    let api: Api<ReplicaSet> = Api::namespaced(client.clone(), ns);
    let mut lp = kube::api::ListParams::default();
    if let Some(l) = &filter.labels {
        lp = lp.labels(l);
    }
    let list = api.list(&lp).await.ok()?;
    let annotation = |rs: &ReplicaSet, key: &str| {
        rs.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key).cloned())
    };
    let rs = list.items.iter().find(|rs| {
        annotation(rs, "deployment.kubernetes.io/revision").as_deref() == Some(revision)
    })?;
    let history = annotation(rs, "deployment.kubernetes.io/revision-history")?;
    history
        .split(',')
        .map(str::trim)
        .rfind(|r| !r.is_empty())
        .map(String::from)
}

/// Tells the scope's pod watch what the followed object selects now, if that changed
/// (each change restarts the pod watch).
fn tell_selector(tx: &watch::Sender<Option<PodFilter>>, next: &Option<PodFilter>, told: &mut bool) {
    *told |= tx.send_if_modified(|cur| {
        let changed = cur != next;
        if changed {
            cur.clone_from(next);
        }
        changed
    });
}

/// The pod watch waits for a first value: once the object's watches have `listed` and
/// nothing was sent, it is told that the object selects nothing (the object is missing,
/// or owns no Jobs yet), so that it says so instead of waiting.
fn tell_listed(tx: &watch::Sender<Option<PodFilter>>, listed: bool, told: &mut bool) {
    if listed && !*told {
        tx.send_modify(|_| {});
        *told = true;
    }
}

/// Follows a CronJob in one namespace: the pods of every Job it owns, including Jobs it
/// creates later, reach `tx` as one selector. With `--until-done`, the run's Job is the
/// one active when ktail starts, else the next one created; its end is reported.
pub(crate) async fn follow_cronjob(
    client: kube::Client,
    ns: String,
    rq: ResourceQuery,
    base: PodFilter,
    tx: watch::Sender<Option<PodFilter>>,
    events: mpsc::Sender<SourceEvent>,
    until_done: Option<UntilDone>,
) {
    let by_name = watcher::Config::default().fields(&format!("metadata.name={}", rq.name));
    let cronjobs = watcher::watcher(object_api(&client, &ns, Kind::CronJob), by_name)
        .backoff(Backoff::watch());
    let jobs = watcher::watcher(
        object_api(&client, &ns, Kind::Job),
        watcher::Config::default(),
    )
    .backoff(Backoff::watch());
    let (mut cronjobs, mut jobs) = (std::pin::pin!(cronjobs), std::pin::pin!(jobs));
    let name = |o: &DynamicObject| o.metadata.name.clone().unwrap_or_default();
    let (mut cj_set, mut job_set) = (WatchSet::default(), WatchSet::default());
    let mut cronjob_uid: Option<String> = None;
    let mut all_jobs: BTreeMap<String, DynamicObject> = BTreeMap::new();
    // --until-done: the Jobs there were at start, and the one the run waits for.
    let mut at_start: Option<BTreeSet<String>> = None;
    let mut target: Option<String> = None;
    let mut told = false;
    let mut done_reported = false;
    loop {
        let mut warnings = Vec::new();
        tokio::select! {
            Some(item) = cronjobs.next() => for seen in cj_set.handle(item, name) {
                match seen {
                    Seen::Current(cj) => {
                        cj_set.insert(name(&cj));
                        cronjob_uid = cj.metadata.uid.clone();
                    }
                    Seen::Gone(_) | Seen::DeletedUnknown(_) => cronjob_uid = None,
                    Seen::Warning(msg) => warnings.push(msg),
                }
            },
            Some(item) = jobs.next() => for seen in job_set.handle(item, name) {
                match seen {
                    Seen::Current(job) => {
                        job_set.insert(name(&job));
                        all_jobs.insert(name(&job), job);
                    }
                    Seen::Gone(n) | Seen::DeletedUnknown(n) => {
                        all_jobs.remove(&n);
                    }
                    Seen::Warning(msg) => warnings.push(msg),
                }
            },
            else => return,
        }
        for msg in warnings {
            let text = format!(
                "watching {} in namespace '{ns}': {msg} (retrying)",
                rq.describe()
            );
            if events.send(SourceEvent::Warning(text)).await.is_err() {
                return;
            }
        }
        let uid = cronjob_uid.clone().unwrap_or_default();
        let owned: Vec<&DynamicObject> = all_jobs.values().filter(|j| owned_by(j, &uid)).collect();
        let next = jobs_filter(&owned, &base);
        tell_selector(&tx, &next, &mut told);
        tell_listed(
            &tx,
            job_set.listed_once() && cj_set.listed_once(),
            &mut told,
        );
        if tx.is_closed() {
            return;
        }
        let Some(done) = &until_done else { continue };
        if done_reported || !job_set.listed_once() || !cj_set.listed_once() {
            continue;
        }
        let start = at_start.get_or_insert_with(|| owned.iter().map(|j| name(j)).collect());
        if target.is_none() {
            // The newest Job still running at start, else the first one created since.
            let running = |j: &&&DynamicObject| outcome::job_outcome(j).is_none();
            let newest = |js: Vec<&&DynamicObject>| {
                js.into_iter()
                    .max_by_key(|j| j.metadata.creation_timestamp.clone().map(|t| t.0))
                    .map(|j| name(j))
            };
            target = newest(
                owned
                    .iter()
                    .filter(|j| start.contains(&name(j)))
                    .filter(running)
                    .collect(),
            )
            .or_else(|| newest(owned.iter().filter(|j| !start.contains(&name(j))).collect()));
        }
        let Some(job) = target.as_ref().and_then(|t| all_jobs.get(t)) else {
            continue;
        };
        if let (Some(outcome), Some(filter)) =
            (outcome::job_outcome(job), jobs_filter(&[job], &base))
        {
            done_reported = true;
            let what = format!("cronjob/{}: job/{}", rq.name, name(job));
            if report_done(&client, &ns, &filter, done, what, outcome, &events)
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

/// The Job is done: no pod will be created for it any more. Its pods are listed once
/// more and reported (the pod watch may not have delivered the last of them yet, and the
/// run must not end before their logs are read), then the Job's end.
async fn report_done(
    client: &kube::Client,
    ns: &str,
    filter: &PodFilter,
    done: &UntilDone,
    what: String,
    outcome: JobOutcome,
    events: &mpsc::Sender<SourceEvent>,
) -> Result<(), ()> {
    let sel = &done.selection;
    // A failed list leaves the pod watch to report the pods; the end is told regardless.
    let pods = pods::list_all(pods::pods_api(client, Some(ns)), &filter.list_params())
        .await
        .unwrap_or_default();
    for pod in pods.iter().filter(|p| target::pod_matches(p, sel)) {
        let seen = Sighting::Watched {
            at_start: false,
            rematched: false,
        };
        for a in target::admit(pod, sel, seen) {
            let added = SourceEvent::Added {
                target: Box::new(a.target),
                history: a.history,
                known_only: a.known_only,
                client: client.clone(),
            };
            events.send(added).await.map_err(|_| ())?;
        }
        let ended = SourceEvent::Pod {
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            name: discovery::pod_name(pod),
            outcome: outcome::pod_outcome(pod),
        };
        events.send(ended).await.map_err(|_| ())?;
    }
    events
        .send(SourceEvent::WorkloadDone { what, outcome })
        .await
        .map_err(|_| ())
}
