//! The clusters of a run: one source per kubeconfig context, checked at start and
//! started together on the run's one channel of events.
//!
//! With one context nothing changes: its source sends straight to the run. With several,
//! each source's events pass a small relay that puts the context on them (the targets'
//! keys, pods gone, events, the names in messages), so that the same names in two
//! clusters are never one container. A context that cannot be reached is a warning: the
//! others stream on, and when following it is checked again with a back-off until it
//! answers; with `--no-follow` it makes the exit code 1. Only when no context can be
//! read is that the run's error.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::backoff::Backoff;
use crate::error::{Error, Result};
use crate::kube::SourceEvent;
use crate::kube::client::Cluster;
use crate::kube::preflight;
use crate::kube::query::PodQuery;
use crate::kube::source::{self, ClusterSource};
use crate::kube::target::Selection;
use crate::output::writer::{Out, OutTx};

/// Events in flight from one context's source to its relay.
const RELAYED: usize = 64;

/// What the run reads from: every context, checked.
pub(crate) struct Plans {
    pub(crate) query: Arc<PodQuery>,
    selection: Arc<Selection>,
    plans: Vec<Plan>,
    /// More than one context: everything says which one.
    several: bool,
    /// Why each context that failed its check cannot be read (yet).
    failed: Vec<String>,
}

enum Plan {
    /// Checked: its source can start.
    Ready(ClusterSource),
    /// Unreachable at start while following: checked again until it answers.
    Retry(Cluster),
}

/// Checks every context at once (the preflight of each: namespaces, the query's
/// object). Warnings go to `out`; a context that fails is a warning when another one
/// works, and the run's error when none does.
pub(crate) async fn check(
    clusters: Vec<Result<Cluster>>,
    query: &Arc<PodQuery>,
    selection: &Arc<Selection>,
    follow: bool,
    out: &OutTx,
) -> Result<Plans> {
    if clusters.is_empty() {
        return Err(Error::Other("no cluster to read pods from".into()));
    }
    let several = clusters.len() > 1;
    let checks = futures::future::join_all(clusters.into_iter().map(|c| async move {
        match c {
            Ok(cluster) => match preflight::check(&cluster, query).await {
                Ok(checked) => Ok((cluster, checked)),
                Err(e) => Err((Some(cluster), e)),
            },
            Err(e) => Err((None, e)),
        }
    }))
    .await;
    let mut plans = Vec::new();
    let mut first_error = None;
    let mut failures = Vec::new();
    for check in checks {
        match check {
            Ok((cluster, checked)) => {
                for warning in cluster.warnings.iter().chain(&checked.warnings) {
                    let _ = out.send(Out::Warning(warning.clone())).await;
                }
                plans.push(Plan::Ready(ClusterSource {
                    cluster,
                    query: query.clone(),
                    selection: selection.clone(),
                    scopes: checked.scopes,
                }));
            }
            Err((cluster, e)) => {
                let retry = follow && matches!(e, Error::Unreachable(_) | Error::Denied(_));
                failures.push((
                    cluster.as_ref().map(|c| c.context.clone()),
                    e.to_string(),
                    retry,
                ));
                if let (Some(cluster), true) = (cluster, retry) {
                    plans.push(Plan::Retry(cluster));
                }
                first_error.get_or_insert(e);
            }
        }
    }
    if !plans.iter().any(|p| matches!(p, Plan::Ready(_))) {
        return Err(first_error.expect("a context failed"));
    }
    let failed = failures
        .into_iter()
        .map(|(context, why, retry)| {
            let next = match retry {
                true => "the other contexts stream on; ktail keeps trying this one",
                false => "the other contexts stream on without it",
            };
            match context {
                Some(c) => format!("context '{c}': {why}; {next}"),
                None => format!("{why}; {next}"),
            }
        })
        .collect();
    Ok(Plans {
        query: query.clone(),
        selection: selection.clone(),
        plans,
        several,
        failed,
    })
}

/// Starts every context's source in `sources`, sending on `tx`.
pub(crate) fn spawn(
    plans: Plans,
    follow: bool,
    tx: &mpsc::Sender<SourceEvent>,
    sources: &mut JoinSet<Result<()>>,
) {
    let Plans {
        query,
        selection,
        plans,
        several,
        failed,
    } = plans;
    // A context that failed its check: with --no-follow its pods are not read, which
    // the exit code says (`Lost`); when following, ktail keeps trying it.
    for text in failed {
        let _ = tx.try_send(match follow {
            true => SourceEvent::Warning(text),
            false => SourceEvent::Lost(text),
        });
    }
    for plan in plans {
        let context: Arc<str> = match &plan {
            Plan::Ready(src) => src.cluster.context.as_str().into(),
            Plan::Retry(cluster) => cluster.context.as_str().into(),
        };
        let tx = match several {
            true => {
                let (ctx_tx, rx) = mpsc::channel(RELAYED);
                sources.spawn(relay(context, rx, tx.clone()));
                ctx_tx
            }
            false => tx.clone(),
        };
        let (query, selection) = (query.clone(), selection.clone());
        sources.spawn(async move {
            let src = match plan {
                Plan::Ready(src) => src,
                Plan::Retry(cluster) => match wait_for(cluster, query, selection, &tx).await {
                    Some(src) => src,
                    None => return Ok(()),
                },
            };
            let read = match follow {
                true => source::follow(src, tx.clone()).await,
                false => source::list_once(src, tx.clone()).await,
            };
            match read {
                Err(e) if several => {
                    let next = match follow {
                        true => "the other contexts stream on",
                        false => "its pods are missing from the output",
                    };
                    let _ = tx.send(SourceEvent::Lost(format!("{e}; {next}"))).await;
                    Ok(())
                }
                other => other,
            }
        });
    }
}

/// Checks a context that could not be reached at start again, with a back-off, until it
/// answers (`None` once the run no longer listens).
async fn wait_for(
    cluster: Cluster,
    query: Arc<PodQuery>,
    selection: Arc<Selection>,
    tx: &mpsc::Sender<SourceEvent>,
) -> Option<ClusterSource> {
    let mut backoff = Backoff::watch();
    loop {
        tokio::select! {
            () = tokio::time::sleep(backoff.next_delay()) => {}
            () = tx.closed() => return None,
        }
        if let Ok(checked) = preflight::check(&cluster, &query).await {
            let _ = tx
                .send(SourceEvent::Notice(
                    "reachable again: following its pods".into(),
                ))
                .await;
            for warning in checked.warnings {
                let _ = tx.send(SourceEvent::Warning(warning)).await;
            }
            return Some(ClusterSource {
                cluster,
                query,
                selection,
                scopes: checked.scopes,
            });
        }
    }
}

/// Puts `context` on every event of one context's source.
async fn relay(
    context: Arc<str>,
    mut rx: mpsc::Receiver<SourceEvent>,
    tx: mpsc::Sender<SourceEvent>,
) -> Result<()> {
    while let Some(ev) = rx.recv().await {
        if tx.send(tag(&context, ev)).await.is_err() {
            break;
        }
    }
    Ok(())
}

fn tag(context: &Arc<str>, ev: SourceEvent) -> SourceEvent {
    let named = |text: String| format!("context '{context}': {text}");
    match ev {
        SourceEvent::Added {
            mut target,
            history,
            known_only,
            client,
        } => {
            target.key.context = context.clone();
            SourceEvent::Added {
                target,
                history,
                known_only,
                client,
            }
        }
        SourceEvent::PodGone { uid, .. } => SourceEvent::PodGone {
            uid,
            context: context.clone(),
        },
        SourceEvent::Warning(text) => SourceEvent::Warning(named(text)),
        SourceEvent::Lost(text) => SourceEvent::Lost(named(text)),
        SourceEvent::Notice(text) => SourceEvent::Notice(named(text)),
        SourceEvent::Progress(text) => SourceEvent::Progress(named(text)),
        SourceEvent::Blocked {
            pod,
            container,
            reason,
            message,
        } => SourceEvent::Blocked {
            pod: format!("{context}/{pod}"),
            container,
            reason,
            message,
        },
        SourceEvent::Pod { uid, name, outcome } => SourceEvent::Pod {
            uid: format!("{context}/{uid}"),
            name: format!("{context}/{name}"),
            outcome,
        },
        SourceEvent::Event(mut ev) => {
            ev.context = context.clone();
            SourceEvent::Event(ev)
        }
        SourceEvent::WorkloadDone { what, outcome } => SourceEvent::WorkloadDone {
            what: format!("{context}/{what}"),
            outcome,
        },
    }
}
