//! The three patch formats of a `PATCH` request, applied to an object's JSON: JSON Patch
//! (RFC 6902) and JSON Merge Patch (RFC 7386), both by the `json-patch` crate, and the
//! strategic merge patch kubectl sends for built-in kinds: maps merge, lists of objects
//! with a merge key (`containers` by `name`, `ports` by `containerPort`...) merge element
//! by element, other lists are replaced, and the `$patch`, `$setElementOrder`,
//! `$retainKeys` and `$deleteFromPrimitiveList` directives are obeyed. Pure functions:
//! what the patched object means is the caller's business.

use serde_json::{Map, Value};

/// A patch that could not be applied: the message, and whether the body itself was
/// malformed (400) rather than inapplicable to this object (422).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PatchError {
    pub(crate) message: String,
    pub(crate) malformed: bool,
}

fn malformed(message: impl Into<String>) -> PatchError {
    PatchError {
        message: message.into(),
        malformed: true,
    }
}

/// RFC 6902: `[{"op": "replace", "path": "/spec/template", "value": ...}]`.
pub(crate) fn json_patch(doc: &mut Value, body: &[u8]) -> Result<(), PatchError> {
    let patch: json_patch::Patch =
        serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    json_patch::patch(doc, &patch).map_err(|e| PatchError {
        message: e.to_string(),
        malformed: false,
    })
}

/// RFC 7386: maps merge, `null` deletes, anything else replaces.
pub(crate) fn merge_patch(doc: &mut Value, body: &[u8]) -> Result<(), PatchError> {
    let patch: Value = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    if !patch.is_object() {
        return Err(malformed("a merge patch must be a JSON object"));
    }
    json_patch::merge(doc, &patch);
    Ok(())
}

/// A strategic merge patch as kubectl builds them for built-in kinds.
pub(crate) fn strategic_merge(doc: &mut Value, body: &[u8]) -> Result<(), PatchError> {
    let patch: Value = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    let Value::Object(patch) = patch else {
        return Err(malformed("a strategic merge patch must be a JSON object"));
    };
    let Value::Object(target) = doc else {
        return Err(malformed("the object is not a JSON object"));
    };
    merge_map(target, patch)
}

/// The merge key of a list field, when its elements merge one by one.
fn merge_key(field: &str, sample: Option<&Value>) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "hostAliases" => "ip",
        "ownerReferences" => "uid",
        "conditions" => "type",
        "topologySpreadConstraints" => "topologyKey",
        // A container's ports merge by containerPort, a Service's by port.
        "ports" if sample.is_some_and(|s| s.get("containerPort").is_some()) => "containerPort",
        "ports" => "port",
        _ => return None,
    })
}

/// Lists of scalars that merge as sets.
fn merges_as_set(field: &str) -> bool {
    field == "finalizers"
}

fn merge_map(
    target: &mut Map<String, Value>,
    mut patch: Map<String, Value>,
) -> Result<(), PatchError> {
    match patch.remove("$patch") {
        Some(Value::String(s)) if s == "replace" => {
            *target = patch;
            return Ok(());
        }
        Some(Value::String(s)) if s == "merge" => {}
        Some(Value::String(s)) if s == "delete" => {
            target.clear();
            return Ok(());
        }
        Some(other) => return Err(malformed(format!("unknown patch type: {other}"))),
        None => {}
    }
    let retain = patch.remove("$retainKeys");
    let mut orders = Vec::new();
    let mut deletions = Vec::new();
    let keys: Vec<String> = patch.keys().cloned().collect();
    for k in keys {
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            orders.push((field.to_string(), patch.remove(&k).unwrap_or(Value::Null)));
        } else if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            deletions.push((field.to_string(), patch.remove(&k).unwrap_or(Value::Null)));
        }
    }
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(&k);
            }
            Value::Object(p) => match target.get_mut(&k) {
                Some(Value::Object(t)) => merge_map(t, p)?,
                _ => {
                    let mut fresh = Map::new();
                    merge_map(&mut fresh, p)?;
                    target.insert(k, Value::Object(fresh));
                }
            },
            Value::Array(p) => {
                let merged = match target.remove(&k) {
                    Some(Value::Array(t)) => merge_list(&k, t, p)?,
                    _ => merge_list(&k, Vec::new(), p)?,
                };
                target.insert(k, Value::Array(merged));
            }
            v => {
                target.insert(k, v);
            }
        }
    }
    for (field, values) in deletions {
        if let (Some(Value::Array(list)), Value::Array(gone)) = (target.get_mut(&field), values) {
            list.retain(|x| !gone.contains(x));
        }
    }
    for (field, order) in orders {
        let (Some(Value::Array(list)), Value::Array(order)) = (target.get_mut(&field), order)
        else {
            continue;
        };
        let key = merge_key(&field, list.first());
        let rank = |x: &Value| {
            order
                .iter()
                .position(|o| match key {
                    Some(key) => o.get(key).is_some() && o.get(key) == x.get(key),
                    None => o == x,
                })
                .unwrap_or(usize::MAX)
        };
        list.sort_by_key(rank);
    }
    if let Some(Value::Array(keep)) = retain {
        target.retain(|k, _| keep.iter().any(|x| x.as_str() == Some(k)));
    }
    Ok(())
}

fn merge_list(
    field: &str,
    mut target: Vec<Value>,
    patch: Vec<Value>,
) -> Result<Vec<Value>, PatchError> {
    if merges_as_set(field) {
        for v in patch {
            if !target.contains(&v) {
                target.push(v);
            }
        }
        return Ok(target);
    }
    let Some(key) = merge_key(field, patch.first().or(target.first())) else {
        return Ok(patch);
    };
    if patch
        .iter()
        .any(|p| p.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(patch
            .into_iter()
            .filter(|p| p.get("$patch").is_none())
            .collect());
    }
    for p in patch {
        let Value::Object(mut p) = p else {
            return Err(malformed(format!(
                "{field}: a list element must be an object"
            )));
        };
        let Some(id) = p.get(key).cloned() else {
            return Err(PatchError {
                message: format!("map: {p:?} does not contain declared merge key: {key}"),
                malformed: false,
            });
        };
        let at = target.iter().position(|t| t.get(key) == Some(&id));
        if p.get("$patch").and_then(Value::as_str) == Some("delete") {
            if let Some(i) = at {
                target.remove(i);
            }
            continue;
        }
        p.remove("$patch");
        match at {
            Some(i) => {
                if let Value::Object(t) = &mut target[i] {
                    merge_map(t, p)?;
                }
            }
            None => {
                let mut fresh = Map::new();
                merge_map(&mut fresh, p)?;
                target.push(Value::Object(fresh));
            }
        }
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(doc: Value, patch: Value) -> Value {
        let mut doc = doc;
        strategic_merge(&mut doc, patch.to_string().as_bytes()).unwrap();
        doc
    }

    #[test]
    fn set_image_merges_containers_by_name_in_their_order() {
        let doc = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "nginx:1.27", "ports": [{"containerPort": 80}]},
            {"name": "sidecar", "image": "fluent-bit:3.2"}]}}}});
        // What `kubectl set image deploy/web app=nginx:1.28` sends.
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "sidecar"}],
            "containers": [{"image": "nginx:1.28", "name": "app"}]}}}});
        let out = smp(doc, patch);
        let cs = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            cs[0],
            json!({"name": "app", "image": "nginx:1.28", "ports": [{"containerPort": 80}]})
        );
        assert_eq!(cs[1]["image"], "fluent-bit:3.2");
    }

    #[test]
    fn directives_delete_replace_and_retain() {
        let doc = json!({"metadata": {"finalizers": ["a"], "labels": {"x": "1", "y": "2"}},
            "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                     "containers": [{"name": "a"}, {"name": "b"}]}});
        let patch = json!({"metadata": {"finalizers": ["b"], "labels": {"x": null}},
            "spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                     "containers": [{"name": "a", "$patch": "delete"}]}});
        let out = smp(doc, patch);
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(out["metadata"]["labels"], json!({"y": "2"}));
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(out["spec"]["containers"], json!([{"name": "b"}]));
        // Lists without a merge key are replaced.
        let out = smp(json!({"args": ["a", "b"]}), json!({"args": ["c"]}));
        assert_eq!(out, json!({"args": ["c"]}));
    }

    #[test]
    fn json_and_merge_patches() {
        let mut doc = json!({"spec": {"replicas": 3, "paused": true}});
        merge_patch(&mut doc, br#"{"spec":{"replicas":5,"paused":null}}"#).unwrap();
        assert_eq!(doc, json!({"spec": {"replicas": 5}}));
        json_patch(
            &mut doc,
            br#"[{"op":"replace","path":"/spec/replicas","value":1}]"#,
        )
        .unwrap();
        assert_eq!(doc["spec"]["replicas"], 1);
        let e = json_patch(&mut doc, br#"[{"op":"remove","path":"/nope"}]"#).unwrap_err();
        assert!(!e.malformed);
        assert!(json_patch(&mut doc, b"{").unwrap_err().malformed);
    }
}
