//! Where pods are watched: which namespaces (fixed, or found by a watch of namespaces),
//! and with which server-side filter (the user's selectors, or the selector of a followed
//! object such as `deploy/web`).
//!
//! Each function here feeds the app loop or a scope's filter channel; none starts tails.

use std::collections::HashSet;

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, ReplicationController, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Api;
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use regex::Regex;
use tokio::sync::{mpsc, watch};

use crate::kube::discovery::{PodFilter, TargetEvent, WatchBackoff};
use crate::kube::resource::{self, Kind, ResourceQuery};

/// A namespace joins or leaves the watched set.
#[derive(Debug)]
pub enum NsEvent {
    /// `initial`: the namespace existed when ktail started.
    Add {
        name: String,
        initial: bool,
    },
    Remove(String),
}

/// Watches namespaces, reporting those whose name matches `regex` (all when `None`) and
/// whose labels match `labels` (sent to the server), as they come and go.
pub async fn watch_namespaces(
    client: kube::Client,
    regex: Option<Regex>,
    labels: Option<String>,
    tx: mpsc::Sender<NsEvent>,
    warn: mpsc::Sender<TargetEvent>,
) {
    let mut wc = watcher::Config::default();
    if let Some(l) = &labels {
        wc = wc.labels(l);
    }
    let api: Api<Namespace> = Api::all(client);
    let stream = watcher::watcher(api, wc).backoff(WatchBackoff::default());
    let mut stream = std::pin::pin!(stream);
    let mut known: HashSet<String> = HashSet::new();
    let mut relisted: Option<HashSet<String>> = None;
    let mut last_warning = String::new();
    let mut first_list = true;
    let wanted = |ns: &Namespace| {
        let name = ns.metadata.name.clone().unwrap_or_default();
        // A namespace being deleted has no future pods worth a new watch.
        let terminating = ns.metadata.deletion_timestamp.is_some();
        (regex.as_ref().is_none_or(|r| r.is_match(&name)) && !terminating).then_some(name)
    };
    while let Some(item) = stream.next().await {
        let mut events = Vec::new();
        match item {
            Ok(Event::Init) => relisted = Some(HashSet::new()),
            Ok(Event::InitApply(ns)) | Ok(Event::Apply(ns)) => {
                let name = ns.metadata.name.clone().unwrap_or_default();
                if let Some(seen) = relisted.as_mut() {
                    seen.insert(name.clone());
                }
                match wanted(&ns) {
                    Some(name) if known.insert(name.clone()) => {
                        events.push(NsEvent::Add {
                            name,
                            initial: first_list,
                        });
                    }
                    Some(_) => {}
                    None if known.remove(&name) => events.push(NsEvent::Remove(name)),
                    None => {}
                }
            }
            Ok(Event::InitDone) => {
                if let Some(seen) = relisted.take() {
                    known.retain(|n| {
                        let keep = seen.contains(n);
                        if !keep {
                            events.push(NsEvent::Remove(n.clone()));
                        }
                        keep
                    });
                }
                first_list = false;
                last_warning.clear();
            }
            Ok(Event::Delete(ns)) => {
                let name = ns.metadata.name.clone().unwrap_or_default();
                if known.remove(&name) {
                    events.push(NsEvent::Remove(name));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                if msg != last_warning {
                    let text = format!("watching namespaces: {msg} (retrying)");
                    if warn.send(TargetEvent::Warning(text)).await.is_err() {
                        return;
                    }
                    last_warning = msg;
                }
            }
        }
        for ev in events {
            if tx.send(ev).await.is_err() {
                return;
            }
        }
    }
}

/// Lists the namespaces a pattern selects, once (`--no-follow`).
pub async fn list_namespaces(
    client: &kube::Client,
    regex: Option<&Regex>,
    labels: Option<&str>,
) -> kube::Result<Vec<String>> {
    let api: Api<Namespace> = Api::all(client.clone());
    let mut lp = ListParams::default();
    if let Some(l) = labels {
        lp = lp.labels(l);
    }
    let list = api.list(&lp).await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|ns| ns.metadata.name)
        .filter(|n| regex.is_none_or(|r| r.is_match(n)))
        .collect())
}

fn api_resource(kind: Kind) -> ApiResource {
    match kind {
        Kind::Deployment => ApiResource::erase::<Deployment>(&()),
        Kind::ReplicaSet => ApiResource::erase::<ReplicaSet>(&()),
        Kind::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
        Kind::DaemonSet => ApiResource::erase::<DaemonSet>(&()),
        Kind::Job => ApiResource::erase::<Job>(&()),
        Kind::Service => ApiResource::erase::<Service>(&()),
        Kind::ReplicationController => ApiResource::erase::<ReplicationController>(&()),
        Kind::Pod => ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&()),
    }
}

fn object_api(client: &kube::Client, ns: &str, kind: Kind) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), ns, &api_resource(kind))
}

/// The pod selector of an object, as the API's label-selector string: `spec.selector`
/// (a map for services and replication controllers).
pub fn pod_selector(kind: Kind, obj: &DynamicObject) -> Option<String> {
    let sel = obj.data.get("spec")?.get("selector")?;
    match kind {
        Kind::Service | Kind::ReplicationController => {
            resource::map_selector(&serde_json::from_value(sel.clone()).ok()?)
        }
        _ => resource::selector_string(&serde_json::from_value::<LabelSelector>(sel.clone()).ok()?),
    }
}

/// The pod filter of the object now, or `None` when it has no selector.
/// A missing object is `Err` with a 404 `Status`.
pub async fn object_filter(
    client: &kube::Client,
    ns: &str,
    rq: &ResourceQuery,
    base: &PodFilter,
) -> kube::Result<Option<PodFilter>> {
    let obj = object_api(client, ns, rq.kind).get(&rq.name).await?;
    Ok(pod_selector(rq.kind, &obj).map(|labels| PodFilter {
        labels: Some(labels),
        ..base.clone()
    }))
}

/// Follows one object in one namespace: every change of its selector, its deletion and
/// its re-creation reach `tx`, which drives the scope's pod watch.
pub async fn follow_object(
    client: kube::Client,
    ns: String,
    rq: ResourceQuery,
    base: PodFilter,
    tx: watch::Sender<Option<PodFilter>>,
    warn: mpsc::Sender<TargetEvent>,
) {
    let api = object_api(&client, &ns, rq.kind);
    let wc = watcher::Config::default().fields(&format!("metadata.name={}", rq.name));
    let stream = watcher::watcher(api, wc).backoff(WatchBackoff::default());
    let mut stream = std::pin::pin!(stream);
    let mut seen_in_list = false;
    let mut warned_selectorless = false;
    let mut last_warning = String::new();
    while let Some(item) = stream.next().await {
        let next = match item {
            Ok(Event::Init) => {
                seen_in_list = false;
                continue;
            }
            Ok(Event::InitApply(obj)) | Ok(Event::Apply(obj)) => {
                seen_in_list = true;
                last_warning.clear();
                match pod_selector(rq.kind, &obj) {
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
                            let _ = warn.send(TargetEvent::Warning(text)).await;
                        }
                        None
                    }
                }
            }
            Ok(Event::InitDone) if !seen_in_list => None,
            Ok(Event::InitDone) => continue,
            Ok(Event::Delete(_)) => None,
            Err(e) => {
                let msg = e.to_string();
                if msg != last_warning {
                    let text = format!(
                        "watching {} in namespace '{ns}': {msg} (retrying)",
                        rq.describe()
                    );
                    if warn.send(TargetEvent::Warning(text)).await.is_err() {
                        return;
                    }
                    last_warning = msg;
                }
                continue;
            }
        };
        // Only real changes restart the pod watch.
        tx.send_if_modified(|cur| {
            let changed = *cur != next;
            if changed {
                *cur = next.clone();
            }
            changed
        });
        if tx.is_closed() {
            return;
        }
    }
}
