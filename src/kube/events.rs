//! Kubernetes Events of the selected pods (`--events`): one watch of core/v1 Events per
//! scope, kept to the events whose object is a pod the scope's pod watch selected, and
//! sent as `SourceEvent::Event`.
//!
//! The pod watch records the pods it selects in `SelectedPods`; pods stay there when they
//! go, so that the events of a pod deleted during the run are still shown. An event can
//! arrive before the pod watch has delivered its pod (two watches, no order between
//! them): it waits for it a little while. Each event is shown once, and again when its
//! count goes up; a re-list (after a 410) shows nothing twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Event;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use tokio::sync::{Notify, mpsc};

use crate::backoff::Backoff;
use crate::kube::query::EventFilter;
use crate::kube::watch::{Seen, WatchSet};
use crate::kube::{EventRecord, SelectedPod, SourceEvent};

/// How long an event of a pod the pod watch has not delivered yet waits for it.
const PENDING_FOR: Duration = Duration::from_secs(30);
/// Events waiting for their pod, at most.
const PENDING_MAX: usize = 1024;

/// The pods a scope has selected, by UID: written by its pod watch, read by its events
/// watch.
#[derive(Debug, Clone, Default)]
pub(crate) struct SelectedPods {
    pods: Arc<Mutex<HashMap<String, Arc<SelectedPod>>>>,
    added: Arc<Notify>,
}

impl SelectedPods {
    pub(crate) fn insert(&self, uid: &str, pod: SelectedPod) {
        let fresh = self
            .pods
            .lock()
            .expect("not poisoned")
            .insert(uid.to_string(), Arc::new(pod))
            .is_none();
        if fresh {
            self.added.notify_waiters();
        }
    }

    fn get(&self, uid: &str) -> Option<Arc<SelectedPod>> {
        self.pods.lock().expect("not poisoned").get(uid).cloned()
    }
}

/// Watches the events of `api`'s scope until the receiver goes away.
pub(crate) async fn watch_events(
    api: Api<Event>,
    selected: SelectedPods,
    filter: EventFilter,
    label: String,
    tx: mpsc::Sender<SourceEvent>,
) {
    let mut fields = "involvedObject.kind=Pod".to_string();
    if filter.warnings_only {
        fields.push_str(",type=Warning");
    }
    let wc = watcher::Config::default().fields(&fields);
    let stream = watcher::watcher(api, wc).backoff(Backoff::watch());
    let mut stream = std::pin::pin!(stream);
    let mut set = WatchSet::default();
    let mut shown = Shown::default();
    let mut pending: Vec<(tokio::time::Instant, Event)> = Vec::new();
    let key = |e: &Event| e.metadata.uid.clone().unwrap_or_default();
    loop {
        // Registered before the waiting events are looked at, so a pod selected from here
        // on wakes the loop even while it is busy below: `notify_waiters` keeps no permit
        // for a waiter that registers late, and the two watches race at every start.
        let added = selected.added.notified();
        let mut added = std::pin::pin!(added);
        added.as_mut().enable();
        // Events whose pod has been selected since they arrived.
        let (known, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut pending)
            .into_iter()
            .partition(|(_, e)| selected.get(&involved_uid(e)).is_some());
        pending = waiting;
        let mut ready: Vec<Event> = known.into_iter().map(|(_, e)| e).collect();
        if ready.is_empty() {
            tokio::select! {
                item = stream.next() => {
                    let Some(item) = item else { return };
                    for seen in set.handle(item, key) {
                        match seen {
                            Seen::Current(ev) => ready.push(ev),
                            Seen::Gone(_) | Seen::DeletedUnknown(_) => {}
                            Seen::Warning(msg) => {
                                let text = format!("watching events in {label}: {msg} (retrying)");
                                if tx.send(SourceEvent::Warning(text)).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                }
                // A pod was selected: events that waited for it may be shown now.
                () = &mut added, if !pending.is_empty() => {}
            }
        }
        for ev in ready {
            let Some(pod) = selected.get(&involved_uid(&ev)) else {
                let now = tokio::time::Instant::now();
                pending.retain(|(at, _)| now.duration_since(*at) < PENDING_FOR);
                if pending.len() < PENDING_MAX {
                    pending.push((now, ev));
                }
                continue;
            };
            if let Some(rec) = shown.record(&ev, pod, &filter)
                && tx.send(SourceEvent::Event(Box::new(rec))).await.is_err()
            {
                return;
            }
        }
    }
}

/// The UID of the object an event is about.
fn involved_uid(ev: &Event) -> String {
    ev.involved_object.uid.clone().unwrap_or_default()
}

/// The count each event was last shown with, by event UID.
#[derive(Debug, Default)]
struct Shown {
    counts: HashMap<String, i32>,
}

impl Shown {
    /// The record to show for `ev`, or `None`: out of the window, of the wrong type, or
    /// shown already with this count.
    fn record(
        &mut self,
        ev: &Event,
        pod: Arc<SelectedPod>,
        filter: &EventFilter,
    ) -> Option<EventRecord> {
        let kind = ev.type_.clone().unwrap_or_else(|| "Normal".into());
        if filter.warnings_only && kind != "Warning" {
            return None;
        }
        let time = event_time(ev)?;
        if time < filter.since {
            return None;
        }
        let count = ev
            .series
            .as_ref()
            .and_then(|s| s.count)
            .or(ev.count)
            .unwrap_or(1)
            .max(1);
        let uid = ev.metadata.uid.clone().unwrap_or_default();
        if self.counts.get(&uid).is_some_and(|c| *c >= count) {
            return None;
        }
        self.counts.insert(uid, count);
        Some(EventRecord {
            context: Arc::from(""),
            pod,
            container: ev
                .involved_object
                .field_path
                .as_deref()
                .and_then(container_of)
                .unwrap_or_default()
                .to_string(),
            kind,
            reason: ev.reason.clone().unwrap_or_default(),
            message: ev
                .message
                .clone()
                .unwrap_or_default()
                .trim_end()
                .to_string(),
            count,
            source: ev
                .source
                .as_ref()
                .and_then(|s| s.component.clone())
                .or_else(|| ev.reporting_component.clone())
                .unwrap_or_default(),
            time: time.to_string(),
        })
    }
}

/// When the event was last seen: `lastTimestamp`, else the series' last observation,
/// else `eventTime`, else `firstTimestamp`, else its creation.
fn event_time(ev: &Event) -> Option<jiff::Timestamp> {
    ev.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| {
            ev.series
                .as_ref()
                .and_then(|s| s.last_observed_time.as_ref())
                .map(|t| t.0)
        })
        .or_else(|| ev.event_time.as_ref().map(|t| t.0))
        .or_else(|| ev.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| ev.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// The container a `fieldPath` names: `spec.containers{app}` → `app`.
fn container_of(field_path: &str) -> Option<&str> {
    let (_, rest) = field_path.split_once('{')?;
    rest.strip_suffix('}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(uid: &str, kind: &str, count: i32, last: &str) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": "web-1.17f3", "uid": uid},
            "involvedObject": {"kind": "Pod", "name": "web-1", "uid": "p1",
                               "fieldPath": "spec.containers{app}"},
            "reason": "Unhealthy", "type": kind, "count": count,
            "message": "Liveness probe failed: HTTP probe failed with statuscode: 500",
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2026-11-27T10:00:00Z", "lastTimestamp": last
        }))
        .unwrap()
    }

    fn pod() -> Arc<SelectedPod> {
        Arc::new(SelectedPod {
            namespace: "prod".into(),
            name: "web-1".into(),
            info: Arc::default(),
        })
    }

    #[test]
    fn each_event_once_and_again_with_a_new_count() {
        let filter = EventFilter {
            warnings_only: true,
            since: "2026-11-27T09:00:00Z".parse().unwrap(),
        };
        let mut shown = Shown::default();
        let first = shown
            .record(
                &event("e1", "Warning", 1, "2026-11-27T10:00:00Z"),
                pod(),
                &filter,
            )
            .unwrap();
        assert_eq!(
            (first.container.as_str(), first.count, first.source.as_str()),
            ("app", 1, "kubelet")
        );
        assert!(
            shown
                .record(
                    &event("e1", "Warning", 1, "2026-11-27T10:00:00Z"),
                    pod(),
                    &filter
                )
                .is_none(),
            "a re-list shows nothing twice"
        );
        let again = shown
            .record(
                &event("e1", "Warning", 4, "2026-11-27T10:01:30Z"),
                pod(),
                &filter,
            )
            .unwrap();
        assert_eq!(
            (again.count, again.time.as_str()),
            (4, "2026-11-27T10:01:30Z")
        );
        assert!(
            shown
                .record(
                    &event("e2", "Normal", 1, "2026-11-27T10:00:00Z"),
                    pod(),
                    &filter
                )
                .is_none(),
            "Normal events only with --events=all"
        );
        assert!(
            shown
                .record(
                    &event("e3", "Warning", 1, "2026-11-27T08:00:00Z"),
                    pod(),
                    &filter
                )
                .is_none(),
            "older than --since"
        );
    }

    #[test]
    fn field_paths_name_containers() {
        assert_eq!(container_of("spec.containers{app}"), Some("app"));
        assert_eq!(container_of("spec.initContainers{setup}"), Some("setup"));
        assert_eq!(container_of(""), None);
    }
}
