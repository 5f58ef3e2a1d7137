//! The tails of a run: one task per container instance, started when a source reports
//! it and told to drain when its pod goes away. Instances of one container print in
//! order: a previous instance's tail (`--previous`, or a restart ktail did not see)
//! finishes before the current instance's starts.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kube::Api;
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinError, JoinSet};

use crate::kube::SourceEvent;
use crate::kube::outcome::Ending;
use crate::kube::target::{InstanceState, TargetKey};
use crate::output::writer::Out;
use crate::tail::{self, Handover, Presence, TailContext, TailEnd, TailJob};

pub(crate) struct Tails {
    ctx: Arc<TailContext>,
    tasks: JoinSet<TailEnd>,
    /// Every instance ever started, with the sender that tells its tail what the watch
    /// says of it.
    running: HashMap<TargetKey, watch::Sender<Presence>>,
    /// The instances of each pod, by context and pod UID.
    by_pod: HashMap<(Arc<str>, String), Vec<TargetKey>>,
    /// A previous instance's tail signals when it is done, and the current instance of
    /// the same container (pod UID, container name) waits for it.
    /// With `--sort` the signal carries the previous instance's merge stream, which the
    /// current instance goes on with.
    previous_done: HashMap<(Arc<str>, String, String), oneshot::Receiver<Handover>>,
}

impl Tails {
    pub(crate) fn new(ctx: Arc<TailContext>) -> Tails {
        Tails {
            ctx,
            tasks: JoinSet::new(),
            running: HashMap::new(),
            by_pod: HashMap::new(),
            previous_done: HashMap::new(),
        }
    }

    /// Starts a tail that is not a container's (standard input).
    pub(crate) fn spawn(&mut self, tail: impl Future<Output = TailEnd> + Send + 'static) {
        self.tasks.spawn(tail);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    pub(crate) async fn join_next(&mut self) -> Option<Result<TailEnd, JoinError>> {
        self.tasks.join_next().await
    }

    /// Acts on one event of a source.
    pub(crate) async fn handle(&mut self, ev: SourceEvent) {
        match ev {
            SourceEvent::Added {
                target,
                history,
                known_only,
                client,
            } => {
                if let Some(tx) = self.running.get(&target.key) {
                    // The watch saw a tailed instance end: say how, and tell its tail,
                    // which need not wait for the kubelet to close the stream.
                    let ended = matches!(
                        target.state,
                        InstanceState::Terminated | InstanceState::Previous
                    ) && tx.send_if_modified(|p| {
                        let live = *p == Presence::Live;
                        if live {
                            *p = Presence::Ended;
                        }
                        live
                    });
                    if ended
                        && self.ctx.settings.notices
                        && let Some(ending) = &target.ended
                    {
                        let text = ended_text(&target.key, ending);
                        let _ = self.ctx.out.send(self.ctx.notice(text)).await;
                    }
                    return;
                }
                if known_only {
                    return;
                }
                let key = target.key.clone();
                // An instance first seen ended (it started and ended between two looks
                // of the watch, or before ktail started) is tailed as ended; its tail
                // says how it ended after its lines, if it ended during the run or
                // failed (a clean end from before the start is not news).
                let already_ended = matches!(
                    target.state,
                    InstanceState::Terminated | InstanceState::Previous
                );
                let ended_notice = target
                    .ended
                    .as_ref()
                    .filter(|e| already_ended && (!history || e.exit_code != 0))
                    .filter(|_| self.ctx.settings.notices)
                    .map(|e| ended_text(&key, e));
                let (tx, presence) = watch::channel(match already_ended {
                    true => Presence::Ended,
                    false => Presence::Live,
                });
                self.running.insert(key.clone(), tx);
                self.by_pod
                    .entry((key.context.clone(), key.pod_uid.clone()))
                    .or_default()
                    .push(key.clone());
                let container = (
                    key.context.clone(),
                    key.pod_uid.clone(),
                    key.container.clone(),
                );
                let (mut after, mut done) = (None, None);
                if target.state == InstanceState::Previous {
                    let (tx, rx) = oneshot::channel();
                    self.previous_done.insert(container, rx);
                    done = Some(tx);
                } else {
                    after = self.previous_done.remove(&container);
                }
                // Opened now, not when the tail starts streaming: an exact merge must
                // know of every stream before it writes anything. A current instance
                // that waits for its previous one goes on with that one's stream.
                let sorted = match &after {
                    Some(_) => None,
                    None => self.ctx.merge.as_ref().map(|m| m.stream()),
                };
                let job = Box::new(TailJob {
                    api: Api::namespaced(client, &key.namespace),
                    target: *target,
                    history,
                    presence,
                    after,
                    done,
                    sorted,
                    ended_notice,
                });
                self.tasks.spawn(tail::run(self.ctx.clone(), job));
            }
            SourceEvent::PodGone { uid, context } => {
                for key in self.by_pod.remove(&(context, uid)).unwrap_or_default() {
                    if let Some(tx) = self.running.remove(&key) {
                        let _ = tx.send(Presence::Gone);
                    }
                }
            }
            SourceEvent::Warning(msg) | SourceEvent::Lost(msg) => {
                let _ = self.ctx.out.send(Out::Warning(msg)).await;
            }
            SourceEvent::Notice(msg) => {
                let _ = self
                    .ctx
                    .out
                    .send(self.ctx.notice(format!("ktail: {msg}")))
                    .await;
            }
            SourceEvent::Blocked {
                pod,
                container,
                reason,
                message,
            } => {
                if self.ctx.settings.notices {
                    let why = match message.is_empty() {
                        true => reason,
                        false => format!("{reason}: {message}"),
                    };
                    let text = format!("ktail: {pod} › {container} is waiting: {why}");
                    let _ = self.ctx.out.send(self.ctx.notice(text)).await;
                }
            }
            SourceEvent::Event(ev) => tail::events::show(&self.ctx, &ev).await,
            SourceEvent::Progress(text) => {
                if self.ctx.settings.notices {
                    let _ = self
                        .ctx
                        .out
                        .send(self.ctx.notice(format!("ktail: {text}")))
                        .await;
                }
            }
            // How pods and workloads end is the completion's business.
            SourceEvent::Pod { .. } | SourceEvent::WorkloadDone { .. } => {}
        }
    }

    /// Tells the tails to stop reading and hand over the lines they hold; those still
    /// busy after `grace` (stdout blocked) are cut.
    pub(crate) async fn shutdown(&mut self, grace: Duration) {
        self.ctx.shut_down();
        let _ = tokio::time::timeout(grace, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.abort_all();
    }
}

/// `ktail: ns/pod › c ended: OOMKilled, exit 137`.
fn ended_text(k: &TargetKey, ending: &Ending) -> String {
    format!(
        "ktail: {} › {} ended: {}",
        k.pod_path(),
        k.container,
        ending.describe()
    )
}
