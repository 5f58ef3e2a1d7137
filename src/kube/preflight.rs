//! Checks made before anything streams, so that bad credentials, an unreachable server,
//! an invalid selector, a missing namespace or a missing object end the run with one
//! clear line and its exit code, instead of a run that prints nothing for ever.
//!
//! A namespace that is forbidden while others are allowed is a warning, and the others
//! continue. Nothing here starts a watch or a tail.

use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::ListParams;
use regex::Regex;

use crate::error::{Error, Result};
use crate::kube::client::{self, Cluster};
use crate::kube::objects;
use crate::kube::pods::{api_code, pods_api, scope_label};
use crate::kube::query::{NamespaceScope, PodQuery};

/// The namespaces a run watches, once the cluster has been asked.
#[derive(Debug, Clone)]
pub(crate) enum Scopes {
    /// These namespaces (`None`: one cluster-wide scope).
    Fixed(Vec<Option<String>>),
    /// Namespaces found by a pattern, as they come and go.
    Pattern {
        regex: Option<Regex>,
        labels: Option<String>,
    },
}

/// What the checks found: where to watch, and what the user should hear first.
#[derive(Debug)]
pub(crate) struct Checked {
    pub(crate) scopes: Scopes,
    /// Namespaces that are skipped, and why.
    pub(crate) warnings: Vec<String>,
}

/// Asks the cluster whether the run can go ahead, and where.
pub(crate) async fn check(cluster: &Cluster, query: &PodQuery) -> Result<Checked> {
    let client = &cluster.client;
    let listed: Vec<Option<String>> = match &query.namespaces {
        NamespaceScope::All => vec![None],
        NamespaceScope::ContextDefault => vec![Some(cluster.default_namespace.clone())],
        NamespaceScope::Listed(list) => list.iter().cloned().map(Some).collect(),
        NamespaceScope::Pattern { regex, labels } => {
            let lp = ListParams::default().limit(1);
            let lp = match labels {
                Some(l) => lp.labels(l),
                None => lp,
            };
            let api: Api<Namespace> = Api::all(client.clone());
            api.list(&lp).await.map_err(|e| {
                let what = match &e {
                    kube::Error::Api(s) if s.code == 400 => {
                        format!(
                            "invalid --namespace-selector '{}'",
                            labels.as_deref().unwrap_or_default()
                        )
                    }
                    _ => "cannot list namespaces".to_string(),
                };
                client::startup_error(cluster, &e, &what)
            })?;
            return Ok(Checked {
                scopes: Scopes::Pattern {
                    regex: regex.clone(),
                    labels: labels.clone(),
                },
                warnings: Vec::new(),
            });
        }
    };
    let base = query.base_filter();
    let lp = base.list_params().limit(1);
    let mut allowed = Vec::new();
    let mut denied = Vec::new();
    let mut missing = Vec::new();
    for ns in listed {
        let label = scope_label(ns.as_deref());
        if let Some(name) = ns.as_deref() {
            check_namespace(cluster, name).await?;
        }
        let checked = async {
            pods_api(client, ns.as_deref()).list(&lp).await?;
            if let (Some(rq), Some(n)) = (&query.resource, ns.as_deref()) {
                objects::object_filter(client, n, rq, &base).await?;
            }
            Ok::<(), kube::Error>(())
        };
        match checked.await {
            Ok(()) => allowed.push(ns),
            Err(e @ kube::Error::Api(_)) if api_code(&e) == 403 => {
                denied.push(client::startup_error(
                    cluster,
                    &e,
                    &format!("cannot read {label}"),
                ));
            }
            Err(e @ kube::Error::Api(_)) if api_code(&e) == 404 && query.resource.is_some() => {
                missing.push(ns);
            }
            Err(e) => {
                let what = match &e {
                    kube::Error::Api(s) if s.code == 400 => {
                        format!("the API server refused {}", query.describe_selectors())
                    }
                    _ => format!("cannot list pods in {label}"),
                };
                return Err(client::startup_error(cluster, &e, &what));
            }
        }
    }
    if let Some(rq) = &query.resource
        && allowed.is_empty()
        && let Some(ns) = missing.first()
    {
        // Following an object that exists nowhere would print nothing, for ever.
        return Err(Error::NotFound(format!(
            "{} not found in {}: check the name, or the namespace (-n)",
            rq.describe(),
            scope_label(ns.as_deref())
        )));
    }
    if allowed.is_empty() && missing.is_empty() && !denied.is_empty() {
        return Err(denied.swap_remove(0));
    }
    let warnings = denied
        .into_iter()
        .map(|err| format!("{err}; ktail goes on without it"))
        .collect();
    // Where the object is missing now, it is still followed: it may be created.
    allowed.extend(missing);
    Ok(Checked {
        scopes: Scopes::Fixed(allowed),
        warnings,
    })
}

/// A namespace named on the command line (or by the context) must exist: a typo would
/// otherwise wait for pods for ever. Without permission to read namespaces, the check is
/// skipped and the pod list decides.
async fn check_namespace(cluster: &Cluster, name: &str) -> Result<()> {
    let api: Api<Namespace> = Api::all(cluster.client.clone());
    match api.get(name).await {
        Err(e) if api_code(&e) == 404 => Err(Error::NotFound(format!(
            "namespace '{name}' not found in context '{}': check -n (kubectl get namespaces lists them)",
            cluster.context
        ))),
        Err(e @ kube::Error::Api(_)) if api_code(&e) == 401 => {
            Err(client::startup_error(cluster, &e, "cannot read namespaces"))
        }
        // Forbidden to read namespaces, or any other answer: the pod list decides.
        Err(kube::Error::Api(_)) => Ok(()),
        Err(e) => Err(client::startup_error(
            cluster,
            &e,
            &format!("cannot read namespace '{name}'"),
        )),
        Ok(_) => Ok(()),
    }
}
