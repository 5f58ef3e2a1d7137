//! One container's tail as a task: it waits for its turn (the previous instance of the
//! container, then a stream slot), runs, and says `-` when its log was printed to its end.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use tokio::sync::{mpsc, oneshot, watch};

use crate::kube::target::{InstanceState, Target};
use crate::output::merge::SortedBatch;
use crate::output::writer::Out;
use crate::render::Origin;
use crate::tail::container::ContainerTail;
use crate::tail::context::{Presence, TailContext, TailEnd};

/// One container instance to tail.
pub(crate) struct TailJob {
    pub(crate) target: Target,
    /// Apply `--since`/`--tail`: the instance existed when ktail started.
    pub(crate) history: bool,
    /// The pods of the instance's namespace, in its cluster.
    pub(crate) api: Api<Pod>,
    /// What the watch says of the instance: ended, or gone with its pod.
    pub(crate) presence: watch::Receiver<Presence>,
    /// Start only once this fires (or its sender is dropped): the previous instance of
    /// the same container prints first.
    pub(crate) after: Option<oneshot::Receiver<Handover>>,
    /// Fired when this tail ends.
    pub(crate) done: Option<oneshot::Sender<Handover>>,
    /// `--sort`: the merge stream for this tail's stdout records, opened when the tail
    /// was started so that the merge waits for it; a tail that waits for the previous
    /// instance gets that one's stream instead (its lines all come later).
    pub(crate) sorted: Option<mpsc::Sender<SortedBatch>>,
    /// The instance had ended when it was first seen: how, said after its lines.
    pub(crate) ended_notice: Option<String>,
}

/// What a previous instance's tail hands to the current one's: its `--sort` stream.
pub(crate) type Handover = Option<mpsc::Sender<SortedBatch>>;

/// Runs one container's tail to its end: waits for its turn (the previous instance,
/// then a stream slot), streams, and says `-` when its log was printed to its end.
/// The job comes boxed and is taken apart at once: a task's future keeps its arguments
/// beside its locals, and thousands of tasks may wait at once.
pub(crate) async fn run(ctx: Arc<TailContext>, job: Box<TailJob>) -> TailEnd {
    let TailJob {
        target,
        history,
        api,
        presence,
        after,
        done,
        mut sorted,
        ended_notice,
    } = *job;
    // Listed before it ever started (`--no-follow`): there is no log, so nothing failed
    // to be read; say why it waits.
    if let Some(why) = &target.waiting {
        if ctx.settings.notices {
            let k = &target.key;
            let text = format!(
                "ktail: {} › {} has not started ({why}): it has no log yet",
                k.pod_path(),
                k.container
            );
            let _ = ctx.out.send(ctx.notice(text)).await;
        }
        return TailEnd::Complete;
    }
    let mut stop = ctx.shutdown.subscribe();
    if let Some(after) = after {
        tokio::select! {
            handed = after => {
                sorted = match handed {
                    Ok(stream) => stream,
                    // The previous instance's tail did not finish (it cannot happen
                    // short of a panic): a stream of its own.
                    Err(_) => ctx.merge.as_ref().map(|m| m.stream()),
                };
            }
            _ = stop.wait_for(|s| *s) => return TailEnd::Cut,
        }
    }
    if ctx.stopping() {
        return TailEnd::Cut;
    }
    let _slot = match ctx.slots.clone().try_acquire_owned() {
        Ok(p) => p,
        Err(_) => {
            // With --no-follow the cap is a worker pool and queueing is the plan; when
            // following, say once why some containers do not stream yet.
            let s = &ctx.settings;
            if s.follow && s.notices && !ctx.queue_noticed.swap(true, Ordering::Relaxed) {
                let text = format!(
                    "ktail: {} log streams are open (--max-log-requests); more containers wait in a queue for a free stream",
                    s.max_log_requests
                );
                let _ = ctx.out.send(ctx.notice(text)).await;
            }
            tokio::select! {
                p = ctx.slots.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return TailEnd::Cut,
                },
                _ = stop.wait_for(|s| *s) => return TailEnd::Cut,
            }
        }
    };
    let t = &target;
    let k = &t.key;
    let sinks = ctx.sinks(
        &Origin {
            context: &k.context,
            namespace: &k.namespace,
            pod: &k.pod,
            container: &k.container,
            node: &t.pod_info.node,
            labels: &t.pod_info.labels,
            annotations: &t.pod_info.annotations,
            previous: t.state == InstanceState::Previous,
        },
        sorted,
    );
    let mut tail = ContainerTail::new(&ctx, api, target, history, presence, sinks);
    let end = tail.run().await;
    if tail.announced()
        && let Some(file) = &tail.sinks().file
    {
        let _ = ctx.out.send(Out::FileClose(file.path.clone())).await;
    }
    if let Some(text) = ended_notice
        && !ctx.stopping()
    {
        let _ = ctx.out.send(ctx.notice(text)).await;
    }
    // `-` says a container's log was printed to its end, or that its pod went away; a
    // run stopped by a signal cut every stream and says nothing per container.
    if tail.announced() && ctx.settings.notices && !ctx.stopping() {
        let notice = ctx.notice(tail.sinks().stdout.removed_notice());
        let _ = ctx.out.send(notice).await;
    }
    let sorted = tail.into_sinks().into_sorted();
    if let Some(done) = done {
        let _ = done.send(sorted);
    }
    end
}
