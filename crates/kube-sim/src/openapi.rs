//! The OpenAPI v3 documents kubectl reads before `apply`, `create -f` and `replace -f`:
//! the root (`/openapi/v3`, one entry per group version) and, per group version, the
//! write operations with their `x-kubernetes-group-version-kind` and query parameters.
//! kubectl only asks whether the server validates fields itself (`fieldValidation` on
//! the PATCH operation), so the documents carry operations, not schemas; without a
//! strategic-merge request body kubectl computes patches from its built-in types. Plain
//! data; it must not read cluster state.

use serde_json::{Map, Value, json};

use crate::store::Resource;

/// The group versions served: (path in the root, API path prefix).
const GROUP_VERSIONS: [(&str, &str); 3] = [
    ("api/v1", "/api/v1"),
    ("apis/apps/v1", "/apis/apps/v1"),
    ("apis/batch/v1", "/apis/batch/v1"),
];

/// A stable stand-in for the document hash the apiserver puts into every URL.
fn hash(gv: &str) -> String {
    format!("{:016X}", crate::meta::fnv64(gv.as_bytes()))
}

/// The document for `path` (`/openapi/v3`, `/openapi/v3/apis/apps/v1`), if it is one.
pub(crate) fn document(path: &str) -> Option<Value> {
    if path == "/openapi/v3" {
        let paths: Map<String, Value> = GROUP_VERSIONS
            .iter()
            .map(|(gv, _)| {
                let url = format!("/openapi/v3/{gv}?hash={}", hash(gv));
                (gv.to_string(), json!({ "serverRelativeURL": url }))
            })
            .collect();
        return Some(json!({ "paths": paths }));
    }
    let gv = path.strip_prefix("/openapi/v3/")?;
    let (_, prefix) = GROUP_VERSIONS.iter().find(|(g, _)| *g == gv)?;
    let group = match gv {
        "api/v1" => "",
        other => other.trim_start_matches("apis/").trim_end_matches("/v1"),
    };
    let mut paths = Map::new();
    for r in Resource::ALL.into_iter().filter(|r| r.group() == group) {
        let item = if r.namespaced() {
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", r.plural())
        } else {
            format!("{prefix}/{}/{{name}}", r.plural())
        };
        let gvk = json!({ "group": group, "version": "v1", "kind": r.kind() });
        let param = |name: &str| json!({ "name": name, "in": "query", "schema": { "type": "string", "uniqueItems": true } });
        let op = |action: &str, verb: &str| {
            json!({
                "operationId": format!("{verb}{}", r.kind()),
                "parameters": [param("dryRun"), param("fieldManager"), param("fieldValidation")],
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            })
        };
        paths.insert(
            item,
            json!({ "put": op("put", "replace"), "patch": op("patch", "patch") }),
        );
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": "v1.37.1" },
        "paths": paths,
        "components": { "schemas": {} },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_links_every_group_version() {
        let root = document("/openapi/v3").unwrap();
        let url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");
        let apps = document("/openapi/v3/apis/apps/v1").unwrap();
        let op = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(document("/openapi/v3/apis/nope/v1").is_none());
        assert!(document("/openapi/v2").is_none());
    }
}
