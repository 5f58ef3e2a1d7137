//! Objects named by a resource query (`deploy/web`): reading the pod selector of the
//! object, once (`--no-follow`) or for as long as ktail runs.
//!
//! A followed object drives its scope's pod watch through a filter channel: every
//! change of its selector, its deletion and its re-creation reach the pod watch, which
//! then re-lists with the new selector. This module reads objects; it starts no tails.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, ReplicationController, Service};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::Api;
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use tokio::sync::{mpsc, watch};

use crate::backoff::Backoff;
use crate::kube::SourceEvent;
use crate::kube::query::{self, Kind, PodFilter, ResourceQuery};
use crate::kube::watch::{Seen, WatchSet};

fn api_resource(kind: Kind) -> ApiResource {
    match kind {
        Kind::Deployment => ApiResource::erase::<Deployment>(&()),
        Kind::ReplicaSet => ApiResource::erase::<ReplicaSet>(&()),
        Kind::StatefulSet => ApiResource::erase::<StatefulSet>(&()),
        Kind::DaemonSet => ApiResource::erase::<DaemonSet>(&()),
        Kind::Job => ApiResource::erase::<Job>(&()),
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

/// The pod filter of the object now, or `None` when it has no selector.
/// A missing object is `Err` with a 404 `Status`.
pub(crate) async fn object_filter(
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
/// its re-creation reach `tx`, which drives the scope's pod watch. Ends when `tx` has no
/// receiver left.
pub(crate) async fn follow_object(
    client: kube::Client,
    ns: String,
    rq: ResourceQuery,
    base: PodFilter,
    tx: watch::Sender<Option<PodFilter>>,
    events: mpsc::Sender<SourceEvent>,
) {
    let api = object_api(&client, &ns, rq.kind);
    let wc = watcher::Config::default().fields(&format!("metadata.name={}", rq.name));
    let stream = watcher::watcher(api, wc).backoff(Backoff::watch());
    let mut stream = std::pin::pin!(stream);
    let mut set = WatchSet::default();
    let mut warned_selectorless = false;
    while let Some(item) = stream.next().await {
        let name = |o: &DynamicObject| o.metadata.name.clone().unwrap_or_default();
        for seen in set.handle(item, name) {
            let next = match seen {
                Seen::Current(obj) => {
                    set.insert(name(&obj));
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
                                let _ = events.send(SourceEvent::Warning(text)).await;
                            }
                            None
                        }
                    }
                }
                Seen::Gone(_) | Seen::DeletedUnknown(_) => None,
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
            // Only real changes restart the pod watch.
            tx.send_if_modified(|cur| {
                let changed = *cur != next;
                if changed {
                    *cur = next.clone();
                }
                changed
            });
        }
        if tx.is_closed() {
            return;
        }
    }
}
