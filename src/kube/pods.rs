//! The pods of a scope as every part of `kube` asks for them: the API handle of a
//! namespace (or of all of them), a full list page by page, and how a scope and an API
//! error are named in messages.

use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::ListParams;

/// The API pod access of `namespace` (`None`: all namespaces).
pub(crate) fn pods_api(client: &kube::Client, namespace: Option<&str>) -> Api<Pod> {
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// For messages: `namespace 'prod'` or `all namespaces`.
pub(crate) fn scope_label(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("namespace '{ns}'"),
        None => "all namespaces".to_string(),
    }
}

/// The HTTP status of an API error, 0 for anything else.
pub(crate) fn api_code(e: &kube::Error) -> u16 {
    match e {
        kube::Error::Api(s) => s.code,
        _ => 0,
    }
}

/// Lists every pod of a scope, page by page.
pub(crate) async fn list_all(api: Api<Pod>, lp: &ListParams) -> kube::Result<Vec<Pod>> {
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
