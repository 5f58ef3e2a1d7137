//! A cluster as a source of targets: `follow` keeps the pod set current for as long as
//! the run lasts, `list_once` reports the pods that exist now (`--no-follow`).
//!
//! Both send `SourceEvent`s on the run's one channel and never start tails: the app's
//! orchestrator does, for every source alike. A scope is one namespace (or the whole
//! cluster): a pod watch, driven by the followed object's selector when the query names
//! one (`deploy/web`). With a namespace pattern, scopes open and close as namespaces
//! come and go.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};

use crate::error::Result;
use crate::kube::SourceEvent;
use crate::kube::client::{self, Cluster};
use crate::kube::discovery::{self, PodWatch};
use crate::kube::namespaces::{self, NsEvent};
use crate::kube::objects;
use crate::kube::preflight::{Scopes, api_code, pods_api, scope_label};
use crate::kube::query::{PodFilter, PodQuery};
use crate::kube::target::{self, Selection, Sighting};

/// One cluster, and what to read from it.
#[derive(Clone)]
pub(crate) struct ClusterSource {
    pub(crate) cluster: Cluster,
    pub(crate) query: Arc<PodQuery>,
    pub(crate) selection: Arc<Selection>,
    /// Where to watch, as the preflight checks found it.
    pub(crate) scopes: Scopes,
}

/// Follow mode: keeps every scope's pod watch running, opening and closing scopes as a
/// namespace pattern's namespaces come and go, until the receiver of `tx` goes away.
/// Dropping the future stops every watch it started.
pub(crate) async fn follow(src: ClusterSource, tx: mpsc::Sender<SourceEvent>) -> Result<()> {
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut open: HashMap<Option<String>, ScopeHandle> = HashMap::new();
    let (ns_tx, mut ns_events) = mpsc::channel::<NsEvent>(64);
    match &src.scopes {
        Scopes::Fixed(list) => {
            for ns in list {
                if let Entry::Vacant(slot) = open.entry(ns.clone()) {
                    slot.insert(open_scope(&src, ns.clone(), true, &tx, &mut tasks));
                }
            }
        }
        Scopes::Pattern { regex, labels } => {
            tasks.spawn(namespaces::watch_namespaces(
                src.cluster.client.clone(),
                regex.clone(),
                labels.clone(),
                ns_tx.clone(),
                tx.clone(),
            ));
        }
    }
    drop(ns_tx);
    loop {
        tokio::select! {
            Some(ev) = ns_events.recv() => match ev {
                NsEvent::Add { name, initial } => {
                    let ns = Some(name);
                    if let Entry::Vacant(slot) = open.entry(ns.clone()) {
                        slot.insert(open_scope(&src, ns, initial, &tx, &mut tasks));
                    }
                }
                NsEvent::Remove(name) => {
                    if let Some(scope) = open.remove(&Some(name)) {
                        scope.close();
                    }
                }
            },
            // Reap the watches that ended (a closed scope's, after its last events).
            Some(_) = tasks.join_next() => {}
            () = tx.closed() => return Ok(()),
        }
    }
}

/// The tasks behind one open scope.
struct ScopeHandle {
    /// The object follower, which holds the filter sender of an object's scope.
    follower: Option<AbortHandle>,
    /// The scope's filter, when it is fixed (no followed object).
    filter: Option<watch::Sender<Option<PodFilter>>>,
}

impl ScopeHandle {
    /// The namespace left: its pods are gone. The pod watch reports them when its filter
    /// channel closes, then ends.
    fn close(self) {
        if let Some(f) = self.follower {
            f.abort();
        }
        drop(self.filter);
    }
}

/// Starts the pod watch of one namespace (or of the whole cluster), and the watch of
/// the followed object that drives its selector.
fn open_scope(
    src: &ClusterSource,
    ns: Option<String>,
    initial: bool,
    tx: &mpsc::Sender<SourceEvent>,
    tasks: &mut JoinSet<()>,
) -> ScopeHandle {
    let client = &src.cluster.client;
    let base = src.query.base_filter();
    let (filter_tx, filter_rx) = watch::channel(None);
    let mut handle = ScopeHandle {
        follower: None,
        filter: None,
    };
    match (&src.query.resource, &ns) {
        (Some(rq), Some(n)) => {
            handle.follower = Some(tasks.spawn(objects::follow_object(
                client.clone(),
                n.clone(),
                rq.clone(),
                base,
                filter_tx,
                tx.clone(),
            )));
        }
        _ => {
            filter_tx.send_replace(Some(base));
            handle.filter = Some(filter_tx);
        }
    }
    let watch = PodWatch {
        api: pods_api(client, ns.as_deref()),
        client: client.clone(),
        filter: filter_rx,
        selection: src.selection.clone(),
        label: scope_label(ns.as_deref()),
        initial,
    };
    tasks.spawn(discovery::watch_scope(watch, tx.clone()));
    handle
}

/// `--no-follow`: lists every scope once and reports the targets found. A failure that
/// leaves nothing to read ends the run with its error.
pub(crate) async fn list_once(src: ClusterSource, tx: mpsc::Sender<SourceEvent>) -> Result<()> {
    let (cluster, query) = (&src.cluster, &src.query);
    let client = &cluster.client;
    let namespaces: Vec<Option<String>> = match &src.scopes {
        Scopes::Fixed(list) => list.clone(),
        Scopes::Pattern { regex, labels } => {
            namespaces::list_namespaces(client, regex.as_ref(), labels.as_deref())
                .await
                .map_err(|e| client::startup_error(cluster, &e, "cannot list namespaces"))?
                .into_iter()
                .map(Some)
                .collect()
        }
    };
    let base = query.base_filter();
    for ns in namespaces {
        let filter = match (&query.resource, ns.as_deref()) {
            (Some(rq), Some(n)) => match objects::object_filter(client, n, rq, &base).await {
                Ok(Some(f)) => f,
                Ok(None) | Err(kube::Error::Api(_)) => continue,
                Err(e) => {
                    return Err(client::startup_error(
                        cluster,
                        &e,
                        &format!("cannot read {}", rq.describe()),
                    ));
                }
            },
            _ => base.clone(),
        };
        let pods = match list_all(pods_api(client, ns.as_deref()), &filter.list_params()).await {
            Ok(p) => p,
            Err(e) if api_code(&e) == 403 => continue,
            Err(e) => {
                let what = format!("cannot list pods in {}", scope_label(ns.as_deref()));
                return Err(client::startup_error(cluster, &e, &what));
            }
        };
        for pod in &pods {
            for a in target::admit(pod, &src.selection, Sighting::Listed) {
                let added = SourceEvent::Added {
                    target: Box::new(a.target),
                    history: a.history,
                    client: client.clone(),
                };
                if tx.send(added).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}

/// Lists every pod of a scope, page by page.
async fn list_all(api: Api<Pod>, lp: &ListParams) -> kube::Result<Vec<Pod>> {
    let mut pods = Vec::new();
    let mut lp = lp.clone().limit(500);
    loop {
        let page = api.list(&lp).await?;
        pods.extend(page.items);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(token) => lp = lp.continue_token(&token),
            None => return Ok(pods),
        }
    }
}
