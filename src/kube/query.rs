//! What ktail asks the API server for: selectors, namespaces, and resource queries
//! (`deploy/web`, `svc/api`, `pod/db-0`), with the pure conversions between them.
//!
//! Unlike stern, which reads a queried object once, ktail watches it: when its selector
//! changes or it is deleted and created again, the pod set follows (see `objects`). The
//! selector is the object's `spec.selector` — what its controller uses to own pods — as
//! kubectl does, rather than the template labels stern reads, which may carry more.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::ListParams;
use kube::runtime::watcher;
use regex::Regex;

use crate::error::{Error, Result};

/// The server-side side of a selection: which pods, in which namespaces.
#[derive(Debug, Clone)]
pub(crate) struct PodQuery {
    pub(crate) label_selector: Option<String>,
    /// The user's field selector, with `--node` and `pod/NAME` added to it.
    pub(crate) field_selector: Option<String>,
    /// `deploy/web` and friends (not `pod/x`, which is a field selector).
    pub(crate) resource: Option<ResourceQuery>,
    pub(crate) namespaces: NamespaceScope,
    /// `--until-done`: also report how selected pods end, and when a queried Job is done.
    pub(crate) until_done: bool,
    /// `--events`: which events of the selected pods to report.
    pub(crate) events: Option<EventFilter>,
}

impl PodQuery {
    /// The user's own server-side filter (a followed object adds its selector to it).
    pub(crate) fn base_filter(&self) -> PodFilter {
        PodFilter {
            labels: self.label_selector.clone(),
            fields: self.field_selector.clone(),
        }
    }

    /// For messages: the selectors the API server refused.
    pub(crate) fn describe_selectors(&self) -> String {
        let mut parts = Vec::new();
        if let Some(l) = &self.label_selector {
            parts.push(format!("--selector '{l}'"));
        }
        if let Some(f) = &self.field_selector {
            parts.push(format!("--field-selector '{f}'"));
        }
        parts.join(" with ")
    }
}

/// Which namespaces are watched.
#[derive(Debug, Clone)]
pub(crate) enum NamespaceScope {
    /// The kubeconfig context's namespace (known only once the kubeconfig is read).
    ContextDefault,
    /// These namespaces, de-duplicated, in the order given.
    Listed(Vec<String>),
    /// One cluster-wide watch.
    All,
    /// Namespaces found by a watch of namespaces: those whose name matches `regex` and
    /// whose labels match `labels`; new ones join while ktail runs.
    Pattern {
        regex: Option<Regex>,
        labels: Option<String>,
    },
}

impl NamespaceScope {
    /// Whether lines are shown with their namespace: more than one can appear.
    pub(crate) fn spans_namespaces(&self) -> bool {
        match self {
            NamespaceScope::All | NamespaceScope::Pattern { .. } => true,
            NamespaceScope::Listed(list) => list.len() > 1,
            NamespaceScope::ContextDefault => false,
        }
    }
}

impl PartialEq for NamespaceScope {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (NamespaceScope::ContextDefault, NamespaceScope::ContextDefault) => true,
            (NamespaceScope::All, NamespaceScope::All) => true,
            (NamespaceScope::Listed(a), NamespaceScope::Listed(b)) => a == b,
            (
                NamespaceScope::Pattern {
                    regex: r1,
                    labels: l1,
                },
                NamespaceScope::Pattern {
                    regex: r2,
                    labels: l2,
                },
            ) => r1.as_ref().map(Regex::as_str) == r2.as_ref().map(Regex::as_str) && l1 == l2,
            _ => false,
        }
    }
}

/// Which events `--events` shows.
#[derive(Debug, Clone)]
pub(crate) struct EventFilter {
    /// Warning events only (`--events=warning`).
    pub(crate) warnings_only: bool,
    /// Events last seen before this are history older than `--since`.
    pub(crate) since: jiff::Timestamp,
}

/// The server-side pod filter of one scope. `None` in a scope's filter channel means
/// "watch nothing": the followed object does not exist (now).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PodFilter {
    pub(crate) labels: Option<String>,
    pub(crate) fields: Option<String>,
}

impl PodFilter {
    pub(crate) fn watcher_config(&self) -> watcher::Config {
        let mut wc = watcher::Config::default();
        if let Some(l) = &self.labels {
            wc = wc.labels(l);
        }
        if let Some(f) = &self.fields {
            wc = wc.fields(f);
        }
        wc
    }

    pub(crate) fn list_params(&self) -> ListParams {
        let mut lp = ListParams::default();
        if let Some(l) = &self.labels {
            lp = lp.labels(l);
        }
        if let Some(f) = &self.fields {
            lp = lp.fields(f);
        }
        lp
    }
}

/// The kinds a query may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    /// Its pods are those of the Jobs it creates.
    CronJob,
    Service,
    ReplicationController,
}

impl Kind {
    /// Short, long and plural names, as kubectl accepts them.
    pub(crate) fn parse(s: &str) -> Option<Kind> {
        Some(match s.to_ascii_lowercase().as_str() {
            "po" | "pod" | "pods" => Kind::Pod,
            "deploy" | "deployment" | "deployments" => Kind::Deployment,
            "rs" | "replicaset" | "replicasets" => Kind::ReplicaSet,
            "sts" | "statefulset" | "statefulsets" => Kind::StatefulSet,
            "ds" | "daemonset" | "daemonsets" => Kind::DaemonSet,
            "job" | "jobs" => Kind::Job,
            "cj" | "cronjob" | "cronjobs" => Kind::CronJob,
            "svc" | "service" | "services" => Kind::Service,
            "rc" | "replicationcontroller" | "replicationcontrollers" => {
                Kind::ReplicationController
            }
            _ => return None,
        })
    }

    /// The name used in messages, e.g. `deployment`.
    pub(crate) fn noun(self) -> &'static str {
        match self {
            Kind::Pod => "pod",
            Kind::Deployment => "deployment",
            Kind::ReplicaSet => "replicaset",
            Kind::StatefulSet => "statefulset",
            Kind::DaemonSet => "daemonset",
            Kind::Job => "job",
            Kind::CronJob => "cronjob",
            Kind::Service => "service",
            Kind::ReplicationController => "replicationcontroller",
        }
    }
}

/// `kind/name` from the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceQuery {
    pub(crate) kind: Kind,
    pub(crate) name: String,
}

impl ResourceQuery {
    pub(crate) fn parse(query: &str) -> Result<ResourceQuery> {
        let (kind, name) = query.split_once('/').unwrap_or((query, ""));
        let Some(k) = Kind::parse(kind) else {
            return Err(Error::usage(format!(
                "unknown resource kind '{kind}' in '{query}': use pod, deploy, rs, sts, ds, job, cj, svc or rc"
            )));
        };
        if name.is_empty() || name.contains('/') {
            return Err(Error::usage(format!(
                "invalid resource query '{query}': write KIND/NAME, e.g. deploy/web"
            )));
        }
        Ok(ResourceQuery {
            kind: k,
            name: name.to_string(),
        })
    }

    /// For messages: `deployment 'web'`.
    pub(crate) fn describe(&self) -> String {
        format!("{} '{}'", self.kind.noun(), self.name)
    }
}

/// A `matchLabels`/`matchExpressions` selector as the label-selector string the API takes.
/// `None` when it selects nothing usable (empty), which a controller never has.
pub(crate) fn selector_string(sel: &LabelSelector) -> Option<String> {
    let mut terms = Vec::new();
    for (k, v) in sel.match_labels.iter().flatten() {
        terms.push(format!("{k}={v}"));
    }
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        terms.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            _ => return None,
        });
    }
    (!terms.is_empty()).then(|| terms.join(","))
}

/// A service's (or replication controller's) plain map selector.
pub(crate) fn map_selector(map: &BTreeMap<String, String>) -> Option<String> {
    (!map.is_empty()).then(|| {
        map.iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_take_short_long_and_plural_names() {
        for (q, kind) in [
            ("deploy/web", Kind::Deployment),
            ("deployments/web", Kind::Deployment),
            ("Deployment/web", Kind::Deployment),
            ("po/web", Kind::Pod),
            ("sts/db", Kind::StatefulSet),
            ("statefulsets/db", Kind::StatefulSet),
            ("ds/agent", Kind::DaemonSet),
            ("rs/web-1", Kind::ReplicaSet),
            ("jobs/migrate", Kind::Job),
            ("cj/nightly", Kind::CronJob),
            ("cronjobs/nightly", Kind::CronJob),
            ("svc/api", Kind::Service),
            ("services/api", Kind::Service),
            ("rc/old", Kind::ReplicationController),
        ] {
            assert_eq!(ResourceQuery::parse(q).unwrap().kind, kind, "{q}");
        }
    }

    #[test]
    fn bad_queries_name_the_problem() {
        let err = ResourceQuery::parse("configmap/nightly").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown resource kind 'configmap'"),
            "{err}"
        );
        assert_eq!(err.exit_code(), 2);
        assert!(ResourceQuery::parse("deploy/").is_err());
        assert!(ResourceQuery::parse("deploy/a/b").is_err());
    }

    #[test]
    fn selectors_become_api_strings() {
        let sel: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web", "tier": "front"},
            "matchExpressions": [
                {"key": "env", "operator": "In", "values": ["prod", "staging"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "team", "operator": "Exists"},
                {"key": "zone", "operator": "NotIn", "values": ["a"]}
            ]
        }))
        .unwrap();
        assert_eq!(
            selector_string(&sel).unwrap(),
            "app=web,tier=front,env in (prod,staging),!canary,team,zone notin (a)"
        );
        assert_eq!(selector_string(&LabelSelector::default()), None);
        let map: BTreeMap<String, String> = [("app".into(), "api".into())].into();
        assert_eq!(map_selector(&map).unwrap(), "app=api");
        assert_eq!(map_selector(&BTreeMap::new()), None);
    }
}
