//! Namespaces found by a pattern (`--namespace-regex`, `--namespace-selector`, or `-A`
//! with a resource query): listed once, or watched so that namespaces created later
//! join the run and deleted ones leave it.

use futures::StreamExt;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::ListParams;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher;
use regex::Regex;
use tokio::sync::mpsc;

use crate::backoff::Backoff;
use crate::kube::SourceEvent;
use crate::kube::watch::{Seen, WatchSet};

/// A namespace joins or leaves the watched set.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NsEvent {
    /// `initial`: the namespace existed when ktail started.
    Add {
        name: String,
        initial: bool,
    },
    Remove(String),
    /// The first list is complete: every namespace that existed at start was added.
    Listed,
}

/// Watches namespaces, reporting those whose name matches `regex` (all when `None`) and
/// whose labels match `labels` (sent to the server), as they come and go.
pub(crate) async fn watch_namespaces(
    client: kube::Client,
    regex: Option<Regex>,
    labels: Option<String>,
    tx: mpsc::Sender<NsEvent>,
    warn: mpsc::Sender<SourceEvent>,
) {
    let mut wc = watcher::Config::default();
    if let Some(l) = &labels {
        wc = wc.labels(l);
    }
    let api: Api<Namespace> = Api::all(client);
    let stream = watcher::watcher(api, wc).backoff(Backoff::watch());
    let mut stream = std::pin::pin!(stream);
    let mut set = WatchSet::default();
    let name = |ns: &Namespace| ns.metadata.name.clone().unwrap_or_default();
    let mut listed = false;
    while let Some(item) = stream.next().await {
        let mut events = Vec::new();
        for seen in set.handle(item, name) {
            let event = match seen {
                Seen::Current(ns) => {
                    let n = name(&ns);
                    // A namespace being deleted has no future pods worth a new watch.
                    let wanted = regex.as_ref().is_none_or(|r| r.is_match(&n))
                        && ns.metadata.deletion_timestamp.is_none();
                    if wanted && set.insert(n.clone()) {
                        NsEvent::Add {
                            name: n,
                            initial: !set.listed_once(),
                        }
                    } else if !wanted && set.remove(&n) {
                        NsEvent::Remove(n)
                    } else {
                        continue;
                    }
                }
                Seen::Gone(n) => NsEvent::Remove(n),
                Seen::DeletedUnknown(_) => continue,
                Seen::Warning(msg) => {
                    let text = format!("watching namespaces: {msg} (retrying)");
                    if warn.send(SourceEvent::Warning(text)).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            events.push(event);
        }
        if !listed && set.listed_once() {
            listed = true;
            events.push(NsEvent::Listed);
        }
        for event in events {
            if tx.send(event).await.is_err() {
                return;
            }
        }
    }
}

/// Lists the namespaces a pattern selects, once (`--no-follow`).
pub(crate) async fn list_namespaces(
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
