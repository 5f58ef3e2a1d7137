//! `/version` and legacy (non-aggregated) discovery documents: what kubectl reads before
//! it can resolve `pods`, `deploy`, `rs`... Serving the legacy format with a plain
//! `application/json` Content-Type makes client-go skip aggregated discovery.

use serde_json::{Value, json};

pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "37",
        "emulationMajor": "1",
        "emulationMinor": "37",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "36",
        "gitVersion": "v1.37.1",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-05-15T08:00:00Z",
        "goVersion": "go1.26.2",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// The verbs a client may use on a resource: every kind can be read and watched; the kinds
/// the simulator lets clients write also take create, update, patch and delete.
fn verbs(name: &str) -> Value {
    match name {
        "namespaces" | "pods" | "deployments" | "jobs" | "cronjobs" => {
            json!([
                "create", "delete", "get", "list", "patch", "update", "watch"
            ])
        }
        _ => json!(["get", "list", "watch"]),
    }
}

fn res(
    name: &str,
    singular: &str,
    kind: &str,
    namespaced: bool,
    short: &[&str],
    all: bool,
) -> Value {
    let mut v = json!({
        "name": name,
        "singularName": singular,
        "namespaced": namespaced,
        "kind": kind,
        "verbs": verbs(name),
    });
    if !short.is_empty() {
        v["shortNames"] = json!(short);
    }
    if all {
        v["categories"] = json!(["all"]);
    }
    v
}

fn sub(name: &str, kind: &str, verbs: &[&str]) -> Value {
    json!({ "name": name, "singularName": "", "namespaced": true, "kind": kind, "verbs": verbs })
}

/// A scale subresource: it speaks `autoscaling/v1` `Scale`, whatever its resource's group.
fn scale_sub(name: &str) -> Value {
    let mut v = sub(name, "Scale", &["get", "patch", "update"]);
    v["group"] = json!("autoscaling");
    v["version"] = json!("v1");
    v
}

/// The document for a discovery path, or None if the path is not a discovery path.
pub(crate) fn document(path: &str, server: &str) -> Option<Value> {
    let group = |name: &str| {
        json!({
            "name": name,
            "versions": [{ "groupVersion": format!("{name}/v1"), "version": "v1" }],
            "preferredVersion": { "groupVersion": format!("{name}/v1"), "version": "v1" },
        })
    };
    Some(match path {
        "/api" => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server }],
        }),
        "/apis" => json!({
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [group("apps"), group("batch")],
        }),
        "/apis/apps" | "/apis/batch" => {
            let mut g = group(&path["/apis/".len()..]);
            g["kind"] = json!("APIGroup");
            g["apiVersion"] = json!("v1");
            g
        }
        "/api/v1" => json!({
            "kind": "APIResourceList",
            "groupVersion": "v1",
            "resources": [
                res("events", "event", "Event", true, &["ev"], false),
                res("namespaces", "namespace", "Namespace", false, &["ns"], false),
                res("nodes", "node", "Node", false, &["no"], false),
                res("pods", "pod", "Pod", true, &["po"], true),
                sub("pods/log", "Pod", &["get"]),
                res("replicationcontrollers", "replicationcontroller", "ReplicationController", true, &["rc"], true),
                res("services", "service", "Service", true, &["svc"], true),
            ],
        }),
        "/apis/apps/v1" => json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": "apps/v1",
            "resources": [
                res("daemonsets", "daemonset", "DaemonSet", true, &["ds"], true),
                res("deployments", "deployment", "Deployment", true, &["deploy"], true),
                scale_sub("deployments/scale"),
                res("replicasets", "replicaset", "ReplicaSet", true, &["rs"], true),
                res("statefulsets", "statefulset", "StatefulSet", true, &["sts"], true),
            ],
        }),
        "/apis/batch/v1" => json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": "batch/v1",
            "resources": [
                res("cronjobs", "cronjob", "CronJob", true, &["cj"], true),
                res("jobs", "job", "Job", true, &[], true),
            ],
        }),
        _ => return None,
    })
}
