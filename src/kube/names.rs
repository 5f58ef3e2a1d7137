//! Names for shell completion: the namespaces, nodes, objects and pods of a cluster, and
//! the containers of pods, each read with one list request and no watch.
//!
//! The caller bounds the time (a completion has about a second) and turns every failure
//! into no candidates; this module only asks.

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{DynamicObject, ListParams};

use crate::kube::namespaces::list_namespaces;
use crate::kube::objects::api_resource;
use crate::kube::pods::{list_all, pods_api};
use crate::kube::query::{Kind, PodFilter};

/// Every namespace's name.
pub(crate) async fn namespaces(client: &kube::Client) -> kube::Result<Vec<String>> {
    list_namespaces(client, None, None).await
}

/// Every node's name.
pub(crate) async fn nodes(client: &kube::Client) -> kube::Result<Vec<String>> {
    names_in(Api::<Node>::all(client.clone())).await
}

/// The names of the objects of `kind` in `namespace` (`None`: all namespaces).
pub(crate) async fn objects(
    client: &kube::Client,
    namespace: Option<&str>,
    kind: Kind,
) -> kube::Result<Vec<String>> {
    let resource = api_resource(kind);
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    names_in(api).await
}

/// The names of what one list request of `api` returns.
async fn names_in<K>(api: Api<K>) -> kube::Result<Vec<String>>
where
    K: kube::Resource + Clone + std::fmt::Debug + serde::de::DeserializeOwned,
{
    let list = api.list(&ListParams::default()).await?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|o| o.meta().name.clone())
        .collect())
}

/// The pods of `namespace` (`None`: all namespaces) that the server-side `filter` selects.
pub(crate) async fn pods(
    client: &kube::Client,
    namespace: Option<&str>,
    filter: &PodFilter,
) -> kube::Result<Vec<Pod>> {
    list_all(pods_api(client, namespace), &filter.list_params()).await
}

/// The names of a pod's containers: init, regular and ephemeral.
pub(crate) fn containers(pod: &Pod) -> Vec<String> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    let init = spec.init_containers.iter().flatten().map(|c| &c.name);
    let regular = spec.containers.iter().map(|c| &c.name);
    let ephemeral = spec.ephemeral_containers.iter().flatten().map(|c| &c.name);
    init.chain(regular).chain(ephemeral).cloned().collect()
}
