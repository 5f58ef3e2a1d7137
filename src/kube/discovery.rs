//! The watched pod set: one kube-runtime `watcher` per namespace scope, turned into
//! `TargetEvent`s.
//!
//! Label and field selectors go to the API server; the pod-name regex and the container
//! rules are applied here through the pure `target::select`. A scope's selector can change
//! while it runs (a followed `deploy/web` whose selector is edited, or that is deleted):
//! the watch restarts with the new selector and pods it no longer lists are reported gone,
//! exactly as after a re-list (a 410 from the API). A container instance that existed
//! when ktail started is marked `history` (so `--since`/`--tail` apply); one that started
//! later is read from its first line. This module sends events and never starts tails itself.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::utils::Backoff as WatchBackoffTrait;
use kube::runtime::watcher::{self, Event};
use tokio::sync::{mpsc, watch};

use crate::config::Selection;
use crate::kube::target::{self, InstanceState, Target};

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

/// The server-side pod filter of a scope. `None` in the channel means "watch nothing":
/// the followed object does not exist (now).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodFilter {
    pub labels: Option<String>,
    pub fields: Option<String>,
}

impl PodFilter {
    fn watcher_config(&self) -> watcher::Config {
        let mut wc = watcher::Config::default();
        if let Some(l) = &self.labels {
            wc = wc.labels(l);
        }
        if let Some(f) = &self.fields {
            wc = wc.fields(f);
        }
        wc
    }
}

/// One scope's watch: what to watch, and what the run knows about it.
pub struct Scope {
    pub api: Api<Pod>,
    pub filter: watch::Receiver<Option<PodFilter>>,
    pub selection: Arc<Selection>,
    /// For messages: `namespace 'prod'`.
    pub label: String,
    /// When ktail started, in epoch seconds: instances started before it get history.
    pub run_start: i64,
    /// The scope was opened when ktail started (not a namespace that appeared later):
    /// everything its first list finds existed at start.
    pub initial: bool,
}

/// Watches one scope until its filter channel closes or the receiver goes away.
pub async fn watch_scope(mut scope: Scope, tx: mpsc::Sender<TargetEvent>) {
    let mut state = ScopeState::default();
    loop {
        let filter = scope.filter.borrow_and_update().clone();
        let Some(filter) = filter else {
            // Nothing to watch: every pod seen so far has left the scope.
            let gone: Vec<TargetEvent> = state.forget_all();
            if send_all(&tx, gone).await.is_err() || scope.filter.changed().await.is_err() {
                return;
            }
            continue;
        };
        let stream = watcher::watcher(scope.api.clone(), filter.watcher_config())
            .backoff(WatchBackoff::default());
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
            if send_all(&tx, events).await.is_err() {
                return;
            }
        }
    }
}

async fn send_all(tx: &mpsc::Sender<TargetEvent>, events: Vec<TargetEvent>) -> Result<(), ()> {
    for ev in events {
        tx.send(ev).await.map_err(|_| ())?;
    }
    Ok(())
}

#[derive(Default)]
struct ScopeState {
    /// Pods the scope has reported, by UID.
    known: HashSet<String>,
    /// Pods listed since the last `Init`: at `InitDone`, known pods not in it are gone.
    relisted: Option<HashSet<String>>,
    /// Pods that stopped matching (`--condition`): if they match again, they start over
    /// from `--since`/`--tail`, like pods found at start.
    dropped: HashSet<String>,
    /// No list has completed yet: `--previous` applies to pods of the first list.
    listed_once: bool,
    last_warning: String,
}

impl ScopeState {
    fn handle(
        &mut self,
        item: Result<Event<Pod>, watcher::Error>,
        scope: &Scope,
    ) -> Vec<TargetEvent> {
        let mut events = Vec::new();
        match item {
            Ok(Event::Init) => self.relisted = Some(HashSet::new()),
            Ok(Event::InitApply(pod)) => {
                let uid = uid(&pod);
                if let Some(seen) = self.relisted.as_mut() {
                    seen.insert(uid.clone());
                }
                self.applied(&pod, scope, &mut events);
            }
            Ok(Event::InitDone) => {
                if let Some(seen) = self.relisted.take() {
                    self.known.retain(|uid| {
                        let keep = seen.contains(uid);
                        if !keep {
                            events.push(TargetEvent::PodGone { uid: uid.clone() });
                        }
                        keep
                    });
                }
                self.listed_once = true;
                self.last_warning.clear();
            }
            Ok(Event::Apply(pod)) => {
                self.applied(&pod, scope, &mut events);
                self.last_warning.clear();
            }
            Ok(Event::Delete(pod)) => {
                let uid = uid(&pod);
                self.known.remove(&uid);
                self.dropped.remove(&uid);
                events.push(TargetEvent::PodGone { uid });
            }
            Err(e) => {
                let msg = describe_watch_error(&e);
                // 410 Expired is routine: the watcher re-lists by itself.
                if !msg.contains("410") && msg != self.last_warning {
                    events.push(TargetEvent::Warning(format!(
                        "watching pods in {}: {msg} (retrying)",
                        scope.label
                    )));
                    self.last_warning = msg;
                }
            }
        }
        events
    }

    /// A pod as it is now: its targets, or its end when it stopped matching.
    fn applied(&mut self, pod: &Pod, scope: &Scope, events: &mut Vec<TargetEvent>) {
        let uid = uid(pod);
        let selection = &scope.selection;
        if !target::pod_matches(pod, selection) {
            if self.known.remove(&uid) {
                self.dropped.insert(uid.clone());
                events.push(TargetEvent::PodGone { uid });
            }
            return;
        }
        self.known.insert(uid.clone());
        let rematched = self.dropped.remove(&uid);
        // --previous asks for the previous instances of the containers found at start (or
        // on a re-match). A previous instance that started after ktail is read whatever
        // the flags: ktail never saw it running (the container restarted while the watch
        // was away, or before its pod was first listed), and its lines are new.
        let found_at_start = scope.initial && !self.listed_once;
        let wants_previous = selection.previous && (found_at_start || rematched);
        for target in target::select(pod, selection, false, true) {
            // Found by the first list of a scope opened at start, or started before ktail:
            // --since/--tail apply. Anything else started later: read it from its start.
            let history = rematched
                || found_at_start
                || target.started_at.is_some_and(|t| t < scope.run_start);
            if target.state == InstanceState::Previous && history && !wants_previous {
                continue;
            }
            // --container-state concerns the containers found at start.
            if history && !target.state_allowed(selection.states) {
                continue;
            }
            events.push(TargetEvent::Added { target, history });
        }
    }

    fn forget_all(&mut self) -> Vec<TargetEvent> {
        self.relisted = None;
        self.known
            .drain()
            .map(|uid| TargetEvent::PodGone { uid })
            .collect()
    }
}

fn uid(pod: &Pod) -> String {
    pod.metadata.uid.clone().unwrap_or_default()
}

fn describe_watch_error(e: &watcher::Error) -> String {
    match e {
        watcher::Error::InitialListFailed(err)
        | watcher::Error::WatchStartFailed(err)
        | watcher::Error::WatchFailed(err) => crate::kube::client::describe_error(err),
        watcher::Error::WatchError(status) => {
            format!("{} ({} {})", status.message, status.code, status.reason)
        }
        other => other.to_string(),
    }
}

/// The watch's retry pace. kube-runtime's default grows to 30 s, too slow for an
/// interactive tool: after an outage the pod set must be current again within seconds.
/// 250 ms doubling to a 2 s cap, reset by any successful event.
pub struct WatchBackoff {
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
