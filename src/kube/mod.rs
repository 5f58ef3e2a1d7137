//! Everything that talks to the Kubernetes API: the client, the checks made at start,
//! the watches and lists that find pods, and the pure rule that turns a pod into the
//! container instances to tail.
//!
//! A cluster is a *source*: `source::follow` or `source::list_once` sends
//! `SourceEvent`s on the run's channel. This layer starts no tails and writes nothing;
//! warnings travel as events. It knows nothing of rendering or the writer.

pub(crate) mod auth;
pub(crate) mod client;
pub(crate) mod discovery;
pub(crate) mod events;
pub(crate) mod failure;
pub(crate) mod h1;
pub(crate) mod h2;
pub(crate) mod names;
pub(crate) mod namespaces;
pub(crate) mod objects;
pub(crate) mod outcome;
pub(crate) mod pods;
pub(crate) mod preflight;
pub(crate) mod proxy;
pub(crate) mod query;
pub(crate) mod rollout;
pub(crate) mod source;
pub(crate) mod target;
pub(crate) mod watch;

use std::sync::Arc;

use crate::kube::outcome::{JobOutcome, PodOutcome};
use crate::kube::target::{PodInfo, Target};

/// What a source tells the run.
pub(crate) enum SourceEvent {
    /// A container instance to tail (the run ignores one it already tails), with the
    /// client of the cluster it lives in.
    Added {
        target: Box<Target>,
        /// `--since`/`--tail` apply: the instance existed when ktail started.
        history: bool,
        /// Only news for a tail that already reads the instance (`Admitted::known_only`).
        known_only: bool,
        client: kube::Client,
    },
    /// The pod was deleted or is no longer selected: its tails drain and end.
    PodGone {
        uid: String,
        /// The pod's context when several are followed, else empty.
        context: Arc<str>,
    },
    /// Something the user should know; the source keeps trying.
    Warning(String),
    /// One of several clusters could not be read (a warning): the others go on, and the
    /// run's exit code says that something was not read.
    Lost(String),
    /// Something the user should hear of that is not a failure (one line, no prefix).
    Notice(String),
    /// How a followed workload's rollout goes (one line, no prefix); a notice that
    /// `--only-log-lines` drops.
    Progress(String),
    /// A selected container waits for a reason that blocks it (`CrashLoopBackOff`,
    /// `ImagePullBackOff`…), said once per reason.
    Blocked {
        /// `namespace/pod`.
        pod: String,
        container: String,
        reason: String,
        message: String,
    },
    /// `--until-done`: a selected pod, when first seen and whenever it ends (or is found
    /// running again after a re-list).
    Pod {
        uid: String,
        /// `namespace/pod`, for messages.
        name: String,
        outcome: Option<PodOutcome>,
    },
    /// `--events`: a Kubernetes event of a selected pod.
    Event(Box<EventRecord>),
    /// `--until-done`: the queried Job is done. Every pod it ran was reported before.
    WorkloadDone {
        /// `job/migrate`, for messages.
        what: String,
        outcome: JobOutcome,
    },
}

/// A selected pod, as its events are shown.
#[derive(Debug)]
pub(crate) struct SelectedPod {
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) info: Arc<PodInfo>,
}

/// One event as `--events` shows it.
#[derive(Debug, Clone)]
pub(crate) struct EventRecord {
    /// The pod's context when several are followed, else empty.
    pub(crate) context: Arc<str>,
    pub(crate) pod: Arc<SelectedPod>,
    /// From the event's `fieldPath` (`spec.containers{app}`), or empty.
    pub(crate) container: String,
    /// `Normal` or `Warning`.
    pub(crate) kind: String,
    pub(crate) reason: String,
    pub(crate) message: String,
    pub(crate) count: i32,
    pub(crate) source: String,
    /// When it was last seen, RFC3339.
    pub(crate) time: String,
}
