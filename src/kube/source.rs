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

use k8s_openapi::api::core::v1::Event;
use kube::Api;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{AbortHandle, JoinSet};

use crate::error::Result;
use crate::kube::SourceEvent;
use crate::kube::client::{self, Cluster};
use crate::kube::discovery::{self, PodWatch};
use crate::kube::events::{self, SelectedPods};
use crate::kube::namespaces::{self, NsEvent};
use crate::kube::objects::{self, UntilDone};
use crate::kube::pods::{api_code, list_all, pods_api, scope_label};
use crate::kube::preflight::Scopes;
use crate::kube::query::{Kind, PodFilter, PodQuery};
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
    // The first lists of the scopes open at start: none selecting a pod is said once.
    let mut first_lists = Vec::new();
    let (ns_tx, mut ns_events) = mpsc::channel::<NsEvent>(64);
    match &src.scopes {
        Scopes::Fixed(list) => {
            for ns in list {
                if let Entry::Vacant(slot) = open.entry(ns.clone()) {
                    let (scope, first) = open_scope(&src, ns.clone(), true, &tx, &mut tasks);
                    slot.insert(scope);
                    first_lists.extend(first);
                }
            }
            tasks.spawn(tell_if_nothing_selected(
                std::mem::take(&mut first_lists),
                nothing_selected(&src, true),
                tx.clone(),
            ));
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
                        let (scope, first) = open_scope(&src, ns, initial, &tx, &mut tasks);
                        slot.insert(scope);
                        first_lists.extend(first);
                    }
                }
                NsEvent::Listed => {
                    tasks.spawn(tell_if_nothing_selected(
                        std::mem::take(&mut first_lists),
                        nothing_selected(&src, true),
                        tx.clone(),
                    ));
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

/// Waits for the first lists of the scopes open at start; when none selected a pod,
/// sends `text`.
async fn tell_if_nothing_selected(
    first_lists: Vec<oneshot::Receiver<usize>>,
    text: String,
    tx: mpsc::Sender<SourceEvent>,
) {
    let mut selected = 0;
    for first in first_lists {
        // A scope closed before its first list (its namespace went away) selected nothing.
        selected += first.await.unwrap_or(0);
    }
    if selected == 0 {
        let _ = tx.send(SourceEvent::Notice(text)).await;
    }
}

/// What to tell a user whose selection matches no pod: the selection and where it was
/// looked for, and that a follow run waits.
fn nothing_selected(src: &ClusterSource, following: bool) -> String {
    describe_nothing(&src.query, &src.selection, &src.scopes, following)
}

fn describe_nothing(query: &PodQuery, sel: &Selection, scopes: &Scopes, following: bool) -> String {
    let what = match &query.resource {
        Some(rq) => format!("no pod of {}", rq.describe()),
        None => {
            let mut parts = Vec::new();
            if let Some(q) = &sel.pod_query {
                parts.push(format!("'{q}'"));
            }
            if let Some(l) = &query.label_selector {
                parts.push(format!("-l {l}"));
            }
            if let Some(f) = &query.field_selector {
                parts.push(format!("--field-selector {f}"));
            }
            format!("no pod matches {}", parts.join(" with "))
        }
    };
    let quote = |ns: &[Option<String>]| {
        ns.iter()
            .flatten()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let place = match scopes {
        Scopes::Fixed(list) if list.iter().any(Option::is_none) => "in any namespace".to_string(),
        Scopes::Fixed(list) if list.len() == 1 => format!("in namespace {}", quote(list)),
        Scopes::Fixed(list) => format!("in namespaces {}", quote(list)),
        Scopes::Pattern { regex, labels } => {
            let mut how = Vec::new();
            if let Some(r) = regex {
                how.push(format!("matching '{r}'"));
            }
            if let Some(l) = labels {
                how.push(format!("with labels {l}"));
            }
            match how.is_empty() {
                true => "in any namespace".to_string(),
                false => format!("in the namespaces {}", how.join(" and ")),
            }
        }
    };
    if following {
        format!("{what} {place} yet; ktail waits for pods to appear")
    } else {
        format!("{what} {place}")
    }
}

/// Starts the pod watch of one namespace (or of the whole cluster), and the watch of
/// the followed object that drives its selector. A scope open at start also reports
/// how many pods its first list selected.
fn open_scope(
    src: &ClusterSource,
    ns: Option<String>,
    initial: bool,
    tx: &mpsc::Sender<SourceEvent>,
    tasks: &mut JoinSet<()>,
) -> (ScopeHandle, Option<oneshot::Receiver<usize>>) {
    let client = &src.cluster.client;
    let base = src.query.base_filter();
    let (filter_tx, filter_rx) = watch::channel(None);
    let mut handle = ScopeHandle {
        follower: None,
        filter: None,
    };
    match (&src.query.resource, &ns) {
        (Some(rq), Some(n)) => {
            let until_done = src.query.until_done.then(|| UntilDone {
                selection: src.selection.clone(),
            });
            let (c, n, rq, events) = (client.clone(), n.clone(), rq.clone(), tx.clone());
            handle.follower = Some(match rq.kind {
                Kind::CronJob => tasks.spawn(objects::follow_cronjob(
                    c, n, rq, base, filter_tx, events, until_done,
                )),
                _ => tasks.spawn(objects::follow_object(
                    c, n, rq, base, filter_tx, events, until_done,
                )),
            });
        }
        _ => {
            filter_tx.send_replace(Some(base));
            handle.filter = Some(filter_tx);
        }
    }
    let (first_tx, first_rx) = match initial {
        true => {
            let (tx, rx) = oneshot::channel();
            (Some(tx), Some(rx))
        }
        false => (None, None),
    };
    let watch = PodWatch {
        api: pods_api(client, ns.as_deref()),
        client: client.clone(),
        filter: filter_rx,
        awaits_filter: handle.follower.is_some(),
        selection: src.selection.clone(),
        label: scope_label(ns.as_deref()),
        initial,
        first_list: first_tx,
        outcomes: src.query.until_done,
        selected: src.query.events.as_ref().map(|_| SelectedPods::default()),
    };
    match (&src.query.events, watch.selected.clone()) {
        // The scope's events go with its pod watch: they end together.
        (Some(filter), Some(selected)) => {
            let api: Api<Event> = match ns.as_deref() {
                Some(n) => Api::namespaced(client.clone(), n),
                None => Api::all(client.clone()),
            };
            let events = events::watch_events(
                api,
                selected,
                filter.clone(),
                scope_label(ns.as_deref()),
                tx.clone(),
            );
            let pods = discovery::watch_scope(watch, tx.clone());
            tasks.spawn(async move {
                tokio::select! {
                    () = pods => {}
                    () = events => {}
                }
            });
        }
        _ => {
            tasks.spawn(discovery::watch_scope(watch, tx.clone()));
        }
    }
    (handle, first_rx)
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
    let mut selected = 0;
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
            selected += usize::from(target::pod_matches(pod, &src.selection));
            for a in target::admit(pod, &src.selection, Sighting::Listed) {
                let added = SourceEvent::Added {
                    target: Box::new(a.target),
                    history: a.history,
                    known_only: a.known_only,
                    client: client.clone(),
                };
                if tx.send(added).await.is_err() {
                    return Ok(());
                }
            }
        }
    }
    if selected == 0 {
        let _ = tx
            .send(SourceEvent::Notice(nothing_selected(&src, false)))
            .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::query::{NamespaceScope, ResourceQuery};
    use crate::kube::target::StateSet;
    use regex::Regex;

    fn selection(query: Option<&str>) -> Selection {
        Selection {
            pod_query: query.map(|q| Regex::new(q).unwrap()),
            exclude_pods: None,
            container: Regex::new(".*").unwrap(),
            exclude_containers: None,
            init_containers: true,
            ephemeral_containers: true,
            condition: None,
            states: StateSet::ALL,
            previous: false,
            run_start: 0,
        }
    }

    fn query(labels: Option<&str>, resource: Option<&str>) -> PodQuery {
        PodQuery {
            label_selector: labels.map(String::from),
            field_selector: None,
            resource: resource.map(|r| ResourceQuery::parse(r).unwrap()),
            namespaces: NamespaceScope::ContextDefault,
            until_done: false,
            events: None,
        }
    }

    #[test]
    fn an_empty_selection_is_told_with_what_and_where() {
        let one = Scopes::Fixed(vec![Some("prod".into())]);
        let two = Scopes::Fixed(vec![Some("a".into()), Some("b".into())]);
        let all = Scopes::Fixed(vec![None]);
        let pattern = Scopes::Pattern {
            regex: Some(Regex::new("^team-").unwrap()),
            labels: None,
        };
        let cases = [
            (
                query(None, None),
                selection(Some("web")),
                &one,
                false,
                "no pod matches 'web' in namespace 'prod'",
            ),
            (
                query(Some("app=web"), None),
                selection(None),
                &two,
                false,
                "no pod matches -l app=web in namespaces 'a', 'b'",
            ),
            (
                query(None, Some("deploy/web")),
                selection(None),
                &all,
                true,
                "no pod of deployment 'web' in any namespace yet; ktail waits for pods to appear",
            ),
            (
                query(Some("x=y"), None),
                selection(Some("api")),
                &pattern,
                false,
                "no pod matches 'api' with -l x=y in the namespaces matching '^team-'",
            ),
        ];
        for (q, sel, scopes, following, want) in cases {
            assert_eq!(describe_nothing(&q, &sel, scopes, following), want);
        }
    }
}
