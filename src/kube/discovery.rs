//! The watched pod set of one scope (a namespace, or the whole cluster): a kube-runtime
//! `watcher` turned into `SourceEvent`s.
//!
//! Label and field selectors go to the API server; the pod-name regex and the container
//! rules are applied here through the pure `target::admit`. A scope's selector can change
//! while it runs (a followed `deploy/web` whose selector is edited, or that is deleted):
//! the watch restarts with the new selector and pods it no longer lists are reported gone,
//! exactly as after a re-list (a 410 from the API). This module sends events and never
//! starts tails itself.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use tokio::sync::{mpsc, oneshot, watch};

use crate::backoff::Backoff;
use crate::kube::events::SelectedPods;
use crate::kube::outcome;
use crate::kube::query::PodFilter;
use crate::kube::target::{self, PodInfo, Selection, Sighting};
use crate::kube::watch::{Seen, WatchSet};
use crate::kube::{SelectedPod, SourceEvent};

/// One scope's pod watch: what to watch, and what the run knows about it.
pub(crate) struct PodWatch {
    pub(crate) api: Api<Pod>,
    pub(crate) client: kube::Client,
    /// The server-side filter; `None` watches nothing (the followed object is missing).
    pub(crate) filter: watch::Receiver<Option<PodFilter>>,
    /// The filter is a followed object's selector, not known until the object's first
    /// list: the initial `None` means "not yet", and the watch waits for the first value.
    pub(crate) awaits_filter: bool,
    pub(crate) selection: Arc<Selection>,
    /// For messages: `namespace 'prod'`.
    pub(crate) label: String,
    /// The scope was opened when ktail started (not a namespace that appeared later):
    /// everything its first list finds existed at start.
    pub(crate) initial: bool,
    /// Told how many pods the first list selected (none when nothing is watched).
    pub(crate) first_list: Option<oneshot::Sender<usize>>,
    /// `--until-done`: report how selected pods end.
    pub(crate) outcomes: bool,
    /// `--events`: where the selected pods are recorded for the scope's events watch.
    pub(crate) selected: Option<SelectedPods>,
}

/// Watches one scope until its filter channel closes or the receiver goes away.
pub(crate) async fn watch_scope(mut scope: PodWatch, tx: mpsc::Sender<SourceEvent>) {
    let mut state = ScopeState::default();
    if scope.awaits_filter && scope.filter.changed().await.is_err() {
        return;
    }
    loop {
        let filter = scope.filter.borrow_and_update().clone();
        let Some(filter) = filter else {
            // The followed object does not exist: nothing is selected.
            if let Some(first) = scope.first_list.take() {
                let _ = first.send(0);
            }
            // Nothing to watch: every pod seen so far has left the scope.
            let gone = state.forget_all();
            if send_all(&tx, gone).await.is_err() || scope.filter.changed().await.is_err() {
                return;
            }
            continue;
        };
        let stream =
            watcher::watcher(scope.api.clone(), filter.watcher_config()).backoff(Backoff::watch());
        let mut stream = std::pin::pin!(stream);
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                changed = scope.filter.changed() => {
                    if changed.is_err() {
                        let gone = state.forget_all();
                        let _ = send_all(&tx, gone).await;
                        return;
                    }
                    // A new selector: the new watch's first list decides who stays.
                    break;
                }
            };
            let Some(item) = item else { return };
            let events = state.handle(item, &scope);
            if state.pods.listed_once()
                && let Some(first) = scope.first_list.take()
            {
                let _ = first.send(state.pods.len());
            }
            if send_all(&tx, events).await.is_err() {
                return;
            }
        }
    }
}

async fn send_all(tx: &mpsc::Sender<SourceEvent>, events: Vec<SourceEvent>) -> Result<(), ()> {
    for ev in events {
        tx.send(ev).await.map_err(|_| ())?;
    }
    Ok(())
}

/// A scope's pods: those reported (by UID) in the watch's set, and those that stopped
/// matching.
#[derive(Default)]
struct ScopeState {
    pods: WatchSet,
    /// Pods that stopped matching (`--condition`): if they match again, they start over
    /// from `--since`/`--tail`, like pods found at start.
    dropped: HashSet<String>,
    /// `--until-done`: whether each reported pod had ended when last reported.
    ended: HashMap<String, bool>,
    /// The blocking reasons each container (pod UID, name) was reported waiting for: each
    /// is said once (the kubelet alternates ErrImagePull and ImagePullBackOff at every
    /// retry).
    blocked: HashMap<(String, String), HashSet<String>>,
}

impl ScopeState {
    fn handle(
        &mut self,
        item: Result<Event<Pod>, watcher::Error>,
        scope: &PodWatch,
    ) -> Vec<SourceEvent> {
        let mut events = Vec::new();
        for seen in self.pods.handle(item, uid) {
            match seen {
                Seen::Current(pod) => self.applied(&pod, scope, &mut events),
                Seen::Gone(uid) => {
                    self.ended.remove(&uid);
                    self.blocked.retain(|(u, _), _| *u != uid);
                    events.push(SourceEvent::PodGone {
                        uid,
                        context: Arc::from(""),
                    });
                }
                Seen::DeletedUnknown(uid) => {
                    self.dropped.remove(&uid);
                }
                Seen::Warning(msg) => events.push(SourceEvent::Warning(format!(
                    "watching pods in {}: {msg} (retrying)",
                    scope.label
                ))),
            }
        }
        events
    }

    /// A pod as it is now: its targets, or its end when it stopped matching.
    fn applied(&mut self, pod: &Pod, scope: &PodWatch, events: &mut Vec<SourceEvent>) {
        let uid = uid(pod);
        if !target::pod_matches(pod, &scope.selection) {
            if self.pods.remove(&uid) {
                self.dropped.insert(uid.clone());
                self.ended.remove(&uid);
                events.push(SourceEvent::PodGone {
                    uid,
                    context: Arc::from(""),
                });
            }
            return;
        }
        self.pods.insert(uid.clone());
        if let Some(selected) = &scope.selected {
            selected.insert(&uid, selected_pod(pod));
        }
        let seen = Sighting::Watched {
            at_start: scope.initial && !self.pods.listed_once(),
            rematched: self.dropped.remove(&uid),
        };
        for a in target::admit(pod, &scope.selection, seen) {
            events.push(SourceEvent::Added {
                target: Box::new(a.target),
                history: a.history,
                known_only: a.known_only,
                client: scope.client.clone(),
            });
        }
        // Containers waiting for a reason that blocks them, once per reason.
        for b in target::blocked_containers(pod, &scope.selection) {
            let said = self
                .blocked
                .entry((uid.clone(), b.container.clone()))
                .or_default();
            if said.insert(b.reason.clone()) {
                events.push(SourceEvent::Blocked {
                    pod: pod_name(pod),
                    container: b.container,
                    reason: b.reason,
                    message: b.message,
                });
            }
        }
        // After its containers, so that a pod's end never comes before its tails.
        if scope.outcomes {
            let outcome = outcome::pod_outcome(pod);
            let ended = outcome.is_some();
            if self.ended.insert(uid.clone(), ended) != Some(ended) {
                events.push(SourceEvent::Pod {
                    name: pod_name(pod),
                    uid,
                    outcome,
                });
            }
        }
    }

    fn forget_all(&mut self) -> Vec<SourceEvent> {
        self.ended.clear();
        self.blocked.clear();
        self.pods
            .forget_all()
            .into_iter()
            .map(|uid| SourceEvent::PodGone {
                uid,
                context: Arc::from(""),
            })
            .collect()
    }
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

/// A selected pod as its events are shown.
fn selected_pod(pod: &Pod) -> SelectedPod {
    SelectedPod {
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        name: pod.metadata.name.clone().unwrap_or_default(),
        info: Arc::new(PodInfo {
            node: pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_default(),
            labels: pod.metadata.labels.clone().unwrap_or_default(),
            annotations: pod.metadata.annotations.clone().unwrap_or_default(),
        }),
    }
}

/// `namespace/pod`, for messages.
pub(crate) fn pod_name(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}
