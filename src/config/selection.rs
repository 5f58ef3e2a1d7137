//! What to select: the pod query the API server gets (selectors, namespaces, a followed
//! object) and the selection ktail applies locally (name regexes, containers, states).

use crate::cli::Args;
use crate::config::parse::{compile, compile_set, non_empty};
use crate::error::{Error, Result};
use crate::kube::query::{Kind, NamespaceScope, PodQuery, ResourceQuery};
use crate::kube::target::{Selection, StateSet};

/// stern's pod condition names, in their canonical case.
const CONDITIONS: [&str; 6] = [
    "ContainersReady",
    "Initialized",
    "Ready",
    "PodScheduled",
    "DisruptionTarget",
    "PodReadyToStartContainers",
];

/// The query and the selection of `args`; `run_start` is when the run started.
pub(crate) fn resolve(args: &Args, run_start: i64) -> Result<(PodQuery, Selection)> {
    let resource = match &args.query {
        Some(q) if q.contains('/') => Some(ResourceQuery::parse(q)?),
        _ => None,
    };
    if resource.is_some() && args.selector.is_some() {
        return Err(Error::usage(
            "a resource query selects its own pods: drop --selector, or give a pod name regex instead",
        ));
    }
    let pod_query = match (&resource, args.query.as_deref()) {
        (None, Some(q)) => Some(compile("QUERY", q)?),
        _ => None,
    };
    let selection = Selection {
        pod_query,
        exclude_pods: compile_set("--exclude-pod", &args.exclude_pod)?,
        container: compile("--container", &args.container)?,
        exclude_containers: compile_set("--exclude-container", &args.exclude_container)?,
        init_containers: args.init_containers,
        ephemeral_containers: args.ephemeral_containers,
        condition: args.condition.as_deref().map(parse_condition).transpose()?,
        states: parse_states(&args.container_state)?,
        previous: args.previous,
        run_start,
    };
    let namespaces = namespaces(args, resource.as_ref())?;

    let mut field_selector = non_empty(&args.field_selector);
    let mut add_field = |term: String| {
        field_selector = Some(match field_selector.take() {
            Some(f) => format!("{f},{term}"),
            None => term,
        });
    };
    if let Some(node) = non_empty(&args.node) {
        add_field(format!("spec.nodeName={node}"));
    }
    // pod/NAME is exact, and the server can select it.
    let resource = match resource {
        Some(r) if r.kind == Kind::Pod => {
            add_field(format!("metadata.name={}", r.name));
            None
        }
        other => other,
    };
    let query = PodQuery {
        label_selector: non_empty(&args.selector),
        field_selector,
        resource,
        namespaces,
        until_done: args.until_done,
        // Filled in with the history window, once that is known.
        events: None,
    };
    Ok((query, selection))
}

fn namespaces(args: &Args, resource: Option<&ResourceQuery>) -> Result<NamespaceScope> {
    Ok(
        if args.namespace_regex.is_some() || args.namespace_selector.is_some() {
            NamespaceScope::Pattern {
                regex: args
                    .namespace_regex
                    .as_deref()
                    .map(|r| compile("--namespace-regex", r))
                    .transpose()?,
                labels: non_empty(&args.namespace_selector),
            }
        } else if args.all_namespaces && resource.is_some_and(|r| r.kind != Kind::Pod) {
            // Objects are followed per namespace: find every namespace that has one.
            NamespaceScope::Pattern {
                regex: None,
                labels: None,
            }
        } else if args.all_namespaces {
            NamespaceScope::All
        } else if args.namespaces.is_empty() {
            NamespaceScope::ContextDefault
        } else {
            let mut seen = Vec::<String>::new();
            for ns in &args.namespaces {
                let ns = ns.trim();
                if ns.is_empty() {
                    return Err(Error::usage(
                        "empty --namespace value: give a namespace name",
                    ));
                }
                if !seen.iter().any(|s| s == ns) {
                    seen.push(ns.to_string());
                }
            }
            NamespaceScope::Listed(seen)
        },
    )
}

/// `NAME[=VALUE]`, case-insensitive, value defaulting to true (stern's `--condition`).
fn parse_condition(s: &str) -> Result<(String, String)> {
    let (name, value) = match s.split_once('=') {
        Some((n, v)) => (n.trim(), v.trim()),
        None => (s.trim(), "true"),
    };
    let Some(canonical) = CONDITIONS.iter().find(|c| c.eq_ignore_ascii_case(name)) else {
        return Err(Error::usage(format!(
            "unknown --condition '{name}': use one of {}",
            CONDITIONS.join(", ")
        )));
    };
    let value = match value.to_ascii_lowercase().as_str() {
        "true" => "True",
        "false" => "False",
        "unknown" => "Unknown",
        _ => {
            return Err(Error::usage(format!(
                "invalid --condition value '{value}': use true, false or unknown"
            )));
        }
    };
    Ok((canonical.to_string(), value.to_string()))
}

fn parse_states(list: &[String]) -> Result<StateSet> {
    let mut set = StateSet {
        running: false,
        waiting: false,
        terminated: false,
    };
    for s in list {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" => set = StateSet::ALL,
            "running" => set.running = true,
            "waiting" => set.waiting = true,
            "terminated" => set.terminated = true,
            other => {
                return Err(Error::usage(format!(
                    "invalid --container-state '{other}': use running, waiting, terminated or all"
                )));
            }
        }
    }
    Ok(set)
}
