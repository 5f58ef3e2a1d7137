//! The watched pod set: one kube-runtime `watcher` per namespace scope, turned into
//! `TargetEvent`s.
//!
//! Label and field selectors go to the API server; the pod-name regex and the container
//! rules are applied here through the pure `target::select`. Targets found in the first
//! list are marked `history` (they existed when ktail started, so `--since`/`--tail`
//! apply); everything found later is read from its start. After a re-list (a 410 from
//! the API), pods that were not listed again are reported gone. This module sends events
//! and never starts tails itself.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::utils::Backoff as WatchBackoffTrait;
use kube::runtime::watcher::{self, Event};
use tokio::sync::mpsc;

use crate::config::Selection;
use crate::target::{self, Target};

/// What the app loop learns from a watch.
#[derive(Debug)]
pub enum TargetEvent {
    /// A container instance to tail (the app ignores ones it already knows).
    Added { target: Target, history: bool },
    /// The pod was deleted or is no longer listed: its tails may end.
    PodGone { uid: String },
    /// Something the user should know; the watch keeps trying.
    Warning(String),
}

/// Watches one scope until the receiver goes away.
pub async fn watch_scope(
    api: Api<Pod>,
    config: watcher::Config,
    selection: Arc<Selection>,
    scope: String,
    tx: mpsc::Sender<TargetEvent>,
) {
    let stream = watcher::watcher(api, config).backoff(WatchBackoff::default());
    let mut stream = std::pin::pin!(stream);
    let mut known: HashMap<String, ()> = HashMap::new();
    // Pods that stopped matching (--condition): if they match again, they start over
    // from --since/--tail like pods found at start.
    let mut dropped: HashSet<String> = HashSet::new();
    let mut relisted: Option<HashSet<String>> = None;
    let mut first_list = true;
    let mut last_warning = String::new();
    while let Some(item) = stream.next().await {
        let mut events = Vec::new();
        match item {
            Ok(Event::Init) => relisted = Some(HashSet::new()),
            Ok(Event::InitApply(pod)) => {
                let uid = uid(&pod);
                if let Some(seen) = relisted.as_mut() {
                    seen.insert(uid.clone());
                }
                known.insert(uid, ());
                applied(&pod, &selection, first_list, &mut dropped, &mut events);
            }
            Ok(Event::InitDone) => {
                if let Some(seen) = relisted.take() {
                    known.retain(|uid, _| {
                        let keep = seen.contains(uid);
                        if !keep {
                            events.push(TargetEvent::PodGone { uid: uid.clone() });
                        }
                        keep
                    });
                }
                first_list = false;
                last_warning.clear();
            }
            Ok(Event::Apply(pod)) => {
                known.insert(uid(&pod), ());
                applied(&pod, &selection, false, &mut dropped, &mut events);
                last_warning.clear();
            }
            Ok(Event::Delete(pod)) => {
                let uid = uid(&pod);
                known.remove(&uid);
                dropped.remove(&uid);
                events.push(TargetEvent::PodGone { uid });
            }
            Err(e) => {
                let msg = describe_watch_error(&e);
                // 410 Expired is routine: the watcher re-lists by itself.
                if !msg.contains("410") && msg != last_warning {
                    events.push(TargetEvent::Warning(format!(
                        "watching pods in {scope}: {msg} (retrying)"
                    )));
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

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

/// A pod as it is now: its targets, or its end when it stopped matching (`--condition`).
fn applied(
    pod: &Pod,
    selection: &Selection,
    first_list: bool,
    dropped: &mut HashSet<String>,
    events: &mut Vec<TargetEvent>,
) {
    let uid = uid(pod);
    if !target::pod_matches(pod, selection) {
        if selection.condition.is_some() && dropped.insert(uid.clone()) {
            events.push(TargetEvent::PodGone { uid });
        }
        return;
    }
    let history = first_list || dropped.remove(&uid);
    // --previous and --container-state concern the containers found at start.
    for target in target::select(pod, selection, false, history && selection.previous) {
        if history && !target.state_allowed(selection.states) {
            continue;
        }
        events.push(TargetEvent::Added { target, history });
    }
}

fn describe_watch_error(e: &watcher::Error) -> String {
    match e {
        watcher::Error::InitialListFailed(err)
        | watcher::Error::WatchStartFailed(err)
        | watcher::Error::WatchFailed(err) => crate::cluster::describe_error(err),
        watcher::Error::WatchError(status) => {
            format!("{} ({} {})", status.message, status.code, status.reason)
        }
        other => other.to_string(),
    }
}

/// The watch's retry pace. kube-runtime's default grows to 30 s, too slow for an
/// interactive tool: after an outage the pod set must be current again within seconds.
/// 250 ms doubling to a 2 s cap, reset by any successful event.
struct WatchBackoff {
    next: Duration,
}

impl Default for WatchBackoff {
    fn default() -> Self {
        WatchBackoff {
            next: Duration::from_millis(250),
        }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let d = self.next;
        self.next = (self.next * 2).min(Duration::from_secs(2));
        Some(d)
    }
}

impl WatchBackoffTrait for WatchBackoff {
    fn reset(&mut self) {
        *self = WatchBackoff::default();
    }
}
