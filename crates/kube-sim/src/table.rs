//! Server-side printing: the `meta.k8s.io/v1` `Table` kubectl asks for with
//! `Accept: application/json;as=Table;...`. Columns and cell values follow the apiserver's
//! printers (`pkg/printers/internalversion`), computed from the served JSON so a table row
//! always agrees with the object next to it.

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::store::Resource;

/// What each row carries in `object` (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IncludeObject {
    None,
    Metadata,
    Object,
}

impl IncludeObject {
    pub(crate) fn parse(v: Option<&str>) -> IncludeObject {
        match v {
            Some("None") => IncludeObject::None,
            Some("Object") => IncludeObject::Object,
            _ => IncludeObject::Metadata,
        }
    }
}

/// Whether an Accept header asks for a Table (`as=Table` before any plain JSON).
pub(crate) fn wants_table(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let ty = parts.next().unwrap_or("");
        if ty != "application/json" && ty != "*/*" && ty != "application/*" {
            continue;
        }
        let params: Vec<&str> = parts.collect();
        if params.contains(&"as=Table") {
            return true;
        }
        if !params.iter().any(|p| p.starts_with("as=")) {
            // Plain JSON preferred before any table.
            return false;
        }
    }
    false
}

const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

fn col(name: &str, ty: &str, desc: &str, priority: u8) -> Value {
    json!({
        "name": name,
        "type": ty,
        "format": if name == "Name" { "name" } else { "" },
        "description": desc,
        "priority": priority,
    })
}

pub(crate) fn columns(r: Resource) -> Vec<Value> {
    let name = col("Name", "string", NAME_DESC, 0);
    let age = col("Age", "string", AGE_DESC, 0);
    let containers = col(
        "Containers",
        "string",
        "Names of each container in the template.",
        1,
    );
    let images = col(
        "Images",
        "string",
        "Images referenced by each container in the template.",
        1,
    );
    let selector = col(
        "Selector",
        "string",
        "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
        1,
    );
    match r {
        Resource::Event => event_columns(),
        Resource::Pod => vec![
            name,
            col(
                "Ready",
                "string",
                "The aggregate readiness state of this pod for accepting traffic.",
                0,
            ),
            col(
                "Status",
                "string",
                "The aggregate status of the containers in this pod.",
                0,
            ),
            col(
                "Restarts",
                "string",
                "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                0,
            ),
            age,
            col(
                "IP",
                "string",
                "IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
                1,
            ),
            col(
                "Node",
                "string",
                "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName.",
                1,
            ),
            col(
                "Nominated Node",
                "string",
                "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.",
                1,
            ),
            col(
                "Readiness Gates",
                "string",
                "If specified, all readiness gates will be evaluated for pod readiness.",
                1,
            ),
        ],
        Resource::Namespace => vec![
            name,
            col("Status", "string", "The status of the namespace", 0),
            age,
        ],
        Resource::Node => vec![
            name,
            col("Status", "string", "The status of the node", 0),
            col("Roles", "string", "The roles of the node", 0),
            age,
            col(
                "Version",
                "string",
                "Kubelet Version reported by the node.",
                0,
            ),
            col(
                "Internal-IP",
                "string",
                "List of addresses reachable to the node.",
                1,
            ),
            col(
                "External-IP",
                "string",
                "List of addresses reachable to the node.",
                1,
            ),
            col(
                "OS-Image",
                "string",
                "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
                1,
            ),
            col(
                "Kernel-Version",
                "string",
                "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
                1,
            ),
            col(
                "Container-Runtime",
                "string",
                "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
                1,
            ),
        ],
        Resource::Service => vec![
            name,
            col(
                "Type",
                "string",
                "type determines how the Service is exposed.",
                0,
            ),
            col(
                "Cluster-IP",
                "string",
                "clusterIP is the IP address of the service and is usually assigned randomly.",
                0,
            ),
            col(
                "External-IP",
                "string",
                "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.",
                0,
            ),
            col(
                "Port(s)",
                "string",
                "The list of ports that are exposed by this service.",
                0,
            ),
            age,
            col(
                "Selector",
                "string",
                "Route service traffic to pods with label keys and values matching this selector.",
                1,
            ),
        ],
        Resource::Deployment => vec![
            name,
            col("Ready", "string", "Number of the pod with ready state", 0),
            col(
                "Up-to-date",
                "integer",
                "Total number of non-terminated pods targeted by this deployment that have the desired template spec.",
                0,
            ),
            col(
                "Available",
                "integer",
                "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.",
                0,
            ),
            age,
            containers,
            images,
            selector,
        ],
        Resource::ReplicaSet | Resource::ReplicationController => vec![
            name,
            col(
                "Desired",
                "integer",
                "Replicas is the number of desired replicas.",
                0,
            ),
            col(
                "Current",
                "integer",
                "Replicas is the most recently observed number of replicas.",
                0,
            ),
            col(
                "Ready",
                "integer",
                "The number of ready replicas for this replica set.",
                0,
            ),
            age,
            containers,
            images,
            selector,
        ],
        Resource::StatefulSet => vec![
            name,
            col("Ready", "string", "Number of the pod with ready state", 0),
            age,
            containers,
            images,
        ],
        Resource::DaemonSet => vec![
            name,
            col(
                "Desired",
                "integer",
                "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).",
                0,
            ),
            col(
                "Current",
                "integer",
                "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.",
                0,
            ),
            col(
                "Ready",
                "integer",
                "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
                0,
            ),
            col(
                "Up-to-date",
                "integer",
                "The total number of nodes that are running updated daemon pod",
                0,
            ),
            col(
                "Available",
                "integer",
                "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
                0,
            ),
            col(
                "Node Selector",
                "string",
                "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node.",
                0,
            ),
            age,
            containers,
            images,
            selector,
        ],
        Resource::CronJob => vec![
            name,
            col(
                "Schedule",
                "string",
                "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
                0,
            ),
            col(
                "Timezone",
                "string",
                "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.",
                0,
            ),
            col(
                "Suspend",
                "boolean",
                "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.",
                0,
            ),
            col(
                "Active",
                "integer",
                "A list of pointers to currently running jobs.",
                0,
            ),
            col(
                "Last Schedule",
                "string",
                "Information when was the last time the job was successfully scheduled.",
                0,
            ),
            age,
            containers,
            images,
            selector,
        ],
        Resource::Job => vec![
            name,
            col("Status", "string", "Status of the job.", 0),
            col(
                "Completions",
                "string",
                "The completion status of the job.",
                0,
            ),
            col(
                "Duration",
                "string",
                "Time required to complete the job.",
                0,
            ),
            age,
            containers,
            images,
            selector,
        ],
    }
}

/// apimachinery `duration.HumanDuration`: the AGE / "(5s ago)" format.
pub(crate) fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        let s = secs % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// The apiserver's event columns (`eventColumnDefinitions`), described by the core/v1
/// Event's swagger docs.
fn event_columns() -> Vec<Value> {
    vec![
        col(
            "Last Seen",
            "string",
            "The time at which the most recent occurrence of this event was recorded.",
            0,
        ),
        col(
            "Type",
            "string",
            "Type of this event (Normal, Warning), new types could be added in the future",
            0,
        ),
        col(
            "Reason",
            "string",
            "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
            0,
        ),
        col(
            "Object",
            "string",
            "The object that this event is about.",
            0,
        ),
        col(
            "Subobject",
            "string",
            "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.",
            1,
        ),
        col(
            "Source",
            "string",
            "The component reporting this event. Should be a short machine understandable string.",
            1,
        ),
        col(
            "Message",
            "string",
            "A human-readable description of the status of this operation.",
            0,
        ),
        col(
            "First Seen",
            "string",
            "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
            1,
        ),
        col(
            "Count",
            "string",
            "The number of times this event has occurred.",
            1,
        ),
        col("Name", "string", NAME_DESC, 1),
    ]
}

/// The cells of an event row (`printEvent`): times fall back to `eventTime` for events
/// written through events.k8s.io (the scheduler's), the count to 1.
fn event_cells(obj: &Value, now: Timestamp) -> Vec<Value> {
    let first = match time_of(&obj["firstTimestamp"]) {
        Some(_) => since(&obj["firstTimestamp"], now),
        None => since(&obj["eventTime"], now),
    };
    let last = match time_of(&obj["lastTimestamp"]) {
        Some(_) => since(&obj["lastTimestamp"], now),
        None => first.clone(),
    };
    let count = match int(&obj["count"]) {
        0 => 1,
        n => n,
    };
    let io = &obj["involvedObject"];
    let kind = s(&io["kind"]).to_lowercase();
    let target = match s(&io["name"]) {
        "" => kind,
        n => format!("{kind}/{n}"),
    };
    let first_non_empty = |a: &str, b: &str| if a.is_empty() { b } else { a }.to_string();
    let component = first_non_empty(
        s(&obj["source"]["component"]),
        s(&obj["reportingComponent"]),
    );
    let instance = first_non_empty(s(&obj["source"]["host"]), s(&obj["reportingInstance"]));
    let source = if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    };
    vec![
        json!(last),
        json!(s(&obj["type"])),
        json!(s(&obj["reason"])),
        json!(target),
        json!(s(&io["fieldPath"])),
        json!(source),
        json!(s(&obj["message"]).trim()),
        json!(first),
        json!(count),
        obj["metadata"]["name"].clone(),
    ]
}

fn time_of(v: &Value) -> Option<Timestamp> {
    v.as_str().and_then(|s| s.parse().ok())
}

fn since(v: &Value, now: Timestamp) -> String {
    match time_of(v) {
        Some(t) => human_duration(now.duration_since(t).as_secs()),
        None => "<unknown>".into(),
    }
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// kubectl's pod STATUS and RESTARTS columns (`printPod`).
pub(crate) fn pod_status(pod: &Value, now: Timestamp) -> (String, String, String) {
    let status = &pod["status"];
    let mut reason = s(&status["phase"]).to_string();
    if let Some(r) = status["reason"].as_str().filter(|r| !r.is_empty()) {
        reason = r.to_string();
    }
    let empty = Vec::new();
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    let mut restarts = 0;
    let mut ready = 0;
    let mut last_restart: Option<Timestamp> = None;
    let mut note_restart = |c: &Value| {
        if let Some(t) = time_of(&c["lastState"]["terminated"]["finishedAt"])
            && last_restart.is_none_or(|l| t > l)
        {
            last_restart = Some(t);
        }
    };
    let inits = status["initContainerStatuses"].as_array().unwrap_or(&empty);
    let n_init = pod["spec"]["initContainers"].as_array().map_or(0, Vec::len);
    let mut initializing = false;
    for (i, c) in inits.iter().enumerate() {
        restarts += int(&c["restartCount"]);
        note_restart(c);
        let term = &c["state"]["terminated"];
        let waiting = &c["state"]["waiting"];
        if term.is_object() && int(&term["exitCode"]) == 0 {
            continue;
        }
        if term.is_object() {
            reason = match term["reason"].as_str().filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None => format!("Init:ExitCode:{}", int(&term["exitCode"])),
            };
        } else if let Some(r) = waiting["reason"]
            .as_str()
            .filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            reason = format!("Init:{r}");
        } else {
            reason = format!("Init:{i}/{n_init}");
        }
        initializing = true;
        break;
    }
    let initialized = status["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Initialized" && c["status"] == "True")
    });
    if !initializing || initialized {
        restarts = 0;
        let mut has_running = false;
        let cs = status["containerStatuses"].as_array().unwrap_or(&empty);
        for c in cs.iter().rev() {
            restarts += int(&c["restartCount"]);
            note_restart(c);
            let st = &c["state"];
            if let Some(r) = st["waiting"]["reason"].as_str().filter(|r| !r.is_empty()) {
                reason = r.to_string();
            } else if let Some(r) = st["terminated"]["reason"]
                .as_str()
                .filter(|r| !r.is_empty())
            {
                reason = r.to_string();
            } else if st["terminated"].is_object() {
                reason = format!("ExitCode:{}", int(&st["terminated"]["exitCode"]));
            } else if c["ready"] == true && st["running"].is_object() {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = status["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
            reason = if pod_ready { "Running" } else { "NotReady" }.into();
        }
    }
    let phase = s(&status["phase"]);
    if !pod["metadata"]["deletionTimestamp"].is_null() && phase != "Succeeded" && phase != "Failed"
    {
        reason = "Terminating".into();
    }
    let restarts_str = match last_restart {
        Some(t) if restarts != 0 => format!(
            "{restarts} ({} ago)",
            human_duration(now.duration_since(t).as_secs())
        ),
        _ => restarts.to_string(),
    };
    (format!("{ready}/{total}"), reason, restarts_str)
}

fn template_containers(obj: &Value) -> (String, String) {
    let cs = obj["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = cs.iter().map(|c| s(&c["name"])).collect();
    let images: Vec<&str> = cs.iter().map(|c| s(&c["image"])).collect();
    (names.join(","), images.join(","))
}

fn selector_string(sel: &Value) -> String {
    let map = if sel["matchLabels"].is_object() {
        &sel["matchLabels"]
    } else {
        sel
    };
    match map.as_object() {
        Some(m) if !m.is_empty() => m
            .iter()
            .map(|(k, v)| format!("{k}={}", s(v)))
            .collect::<Vec<_>>()
            .join(","),
        _ => "<none>".into(),
    }
}

/// The cells of one row.
pub(crate) fn cells(r: Resource, obj: &Value, now: Timestamp) -> Vec<Value> {
    let name = json!(obj["metadata"]["name"]);
    let age = json!(since(&obj["metadata"]["creationTimestamp"], now));
    let st = &obj["status"];
    match r {
        Resource::Event => event_cells(obj, now),
        Resource::Pod => {
            let (ready, status, restarts) = pod_status(obj, now);
            let or_none = |v: &Value| match v.as_str() {
                Some(x) if !x.is_empty() => x.to_string(),
                _ => "<none>".to_string(),
            };
            vec![
                name,
                json!(ready),
                json!(status),
                json!(restarts),
                age,
                json!(or_none(&st["podIPs"][0]["ip"])),
                json!(or_none(&obj["spec"]["nodeName"])),
                json!(or_none(&st["nominatedNodeName"])),
                json!("<none>"),
            ]
        }
        Resource::Namespace => vec![name, json!(s(&st["phase"])), age],
        Resource::Node => {
            let ready = st["conditions"].as_array().is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
            let ip = st["addresses"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["type"] == "InternalIP"))
                .map_or("<none>", |x| s(&x["address"]));
            let info = &st["nodeInfo"];
            vec![
                name,
                json!(if ready { "Ready" } else { "NotReady" }),
                json!("<none>"),
                age,
                json!(s(&info["kubeletVersion"])),
                json!(ip),
                json!("<none>"),
                json!(s(&info["osImage"])),
                json!(s(&info["kernelVersion"])),
                json!(s(&info["containerRuntimeVersion"])),
            ]
        }
        Resource::Service => {
            let spec = &obj["spec"];
            let ports: Vec<String> = spec["ports"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| format!("{}/{}", int(&p["port"]), s(&p["protocol"])))
                        .collect()
                })
                .unwrap_or_default();
            vec![
                name,
                json!(s(&spec["type"])),
                json!(s(&spec["clusterIP"])),
                json!("<none>"),
                json!(if ports.is_empty() {
                    "<none>".to_string()
                } else {
                    ports.join(",")
                }),
                age,
                json!(selector_string(&spec["selector"])),
            ]
        }
        Resource::Deployment => {
            let (c, i) = template_containers(obj);
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(&st["readyReplicas"]),
                    int(&obj["spec"]["replicas"])
                )),
                json!(int(&st["updatedReplicas"])),
                json!(int(&st["availableReplicas"])),
                age,
                json!(c),
                json!(i),
                json!(selector_string(&obj["spec"]["selector"])),
            ]
        }
        Resource::ReplicaSet | Resource::ReplicationController => {
            let (c, i) = template_containers(obj);
            vec![
                name,
                json!(int(&obj["spec"]["replicas"])),
                json!(int(&st["replicas"])),
                json!(int(&st["readyReplicas"])),
                age,
                json!(c),
                json!(i),
                json!(selector_string(&obj["spec"]["selector"])),
            ]
        }
        Resource::StatefulSet => {
            let (c, i) = template_containers(obj);
            vec![
                name,
                json!(format!(
                    "{}/{}",
                    int(&st["readyReplicas"]),
                    int(&obj["spec"]["replicas"])
                )),
                age,
                json!(c),
                json!(i),
            ]
        }
        Resource::DaemonSet => {
            let (c, i) = template_containers(obj);
            vec![
                name,
                json!(int(&st["desiredNumberScheduled"])),
                json!(int(&st["currentNumberScheduled"])),
                json!(int(&st["numberReady"])),
                json!(int(&st["updatedNumberScheduled"])),
                json!(int(&st["numberAvailable"])),
                json!(selector_string(
                    &obj["spec"]["template"]["spec"]["nodeSelector"]
                )),
                age,
                json!(c),
                json!(i),
                json!(selector_string(&obj["spec"]["selector"])),
            ]
        }
        Resource::CronJob => {
            let spec = &obj["spec"];
            let (c, i) = template_containers(&spec["jobTemplate"]);
            let suspend = match spec["suspend"].as_bool() {
                Some(true) => "True",
                Some(false) => "False",
                None => "<unset>",
            };
            let last = match st["lastScheduleTime"].as_str() {
                Some(_) => since(&st["lastScheduleTime"], now),
                None => "<none>".to_string(),
            };
            vec![
                name,
                json!(s(&spec["schedule"])),
                json!(spec["timeZone"].as_str().unwrap_or("<none>")),
                json!(suspend),
                json!(st["active"].as_array().map_or(0, Vec::len)),
                json!(last),
                age,
                json!(c),
                json!(i),
                json!(selector_string(&spec["jobTemplate"]["spec"]["selector"])),
            ]
        }
        Resource::Job => {
            let (c, i) = template_containers(obj);
            let conds = st["conditions"].as_array().cloned().unwrap_or_default();
            let has = |t: &str| {
                conds
                    .iter()
                    .any(|c| c["type"] == t && c["status"] == "True")
            };
            let status = if has("Complete") {
                "Complete"
            } else if has("Failed") {
                "Failed"
            } else if has("FailureTarget") {
                "FailureTarget"
            } else if has("SuccessCriteriaMet") {
                "SuccessCriteriaMet"
            } else {
                "Running"
            };
            let duration = match (time_of(&st["startTime"]), time_of(&st["completionTime"])) {
                (Some(a), Some(b)) => human_duration(b.duration_since(a).as_secs()),
                (Some(a), None) => human_duration(now.duration_since(a).as_secs()),
                _ => String::new(),
            };
            vec![
                name,
                json!(status),
                json!(format!(
                    "{}/{}",
                    int(&st["succeeded"]),
                    int(&obj["spec"]["completions"])
                )),
                json!(duration),
                age,
                json!(c),
                json!(i),
                json!(selector_string(&obj["spec"]["selector"])),
            ]
        }
    }
}

fn row(r: Resource, obj: &Value, include: IncludeObject, now: Timestamp) -> Value {
    let mut row = json!({ "cells": cells(r, obj, now) });
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj["metadata"],
            });
        }
        IncludeObject::Object => {
            let mut o = obj.clone();
            o["kind"] = json!(r.kind());
            o["apiVersion"] = json!(r.api_version());
            row["object"] = o;
        }
    }
    if r == Resource::Pod {
        match obj["status"]["phase"].as_str() {
            Some("Succeeded") => {
                row["conditions"] = json!([{"type": "Completed", "status": "True", "reason": "Succeeded", "message": "The pod has completed successfully."}]);
            }
            Some("Failed") => {
                row["conditions"] = json!([{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]);
            }
            _ => {}
        }
    }
    row
}

/// A whole Table. `headers` is false for watch events after the first, as the apiserver
/// sends column definitions only once per watch.
pub(crate) fn table<'a>(
    r: Resource,
    objs: impl Iterator<Item = &'a Value>,
    meta: Value,
    include: IncludeObject,
    headers: bool,
) -> Value {
    let now = Timestamp::now();
    let rows: Vec<Value> = objs.map(|o| row(r, o, include, now)).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": meta,
        "columnDefinitions": if headers { Value::Array(columns(r)) } else { json!([]) },
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2024-01-02T03:10:00Z".parse().unwrap()
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(125), "2m5s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(10 * 3600), "10h");
        assert_eq!(human_duration(3 * 86400 + 3600), "3d1h");
        assert_eq!(human_duration(30 * 86400), "30d");
    }

    fn pod(status: Value) -> Value {
        json!({
            "metadata": {"name": "p", "creationTimestamp": "2024-01-02T03:00:00Z"},
            "spec": {"containers": [{"name": "app"}, {"name": "side"}], "initContainers": [{"name": "init"}]},
            "status": status,
        })
    }

    #[test]
    fn pod_status_column() {
        let running = json!({"state": {"running": {}}, "ready": true, "restartCount": 0});
        let creating = json!({"state": {"waiting": {"reason": "ContainerCreating"}}, "ready": false, "restartCount": 0});
        let init_done = json!({"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}, "restartCount": 0});
        let init_running = json!({"state": {"running": {}}, "restartCount": 0});
        let initialized = json!({"type": "Initialized", "status": "True"});

        let p = pod(json!({"phase": "Running", "conditions": [initialized],
            "initContainerStatuses": [init_done], "containerStatuses": [running, running]}));
        assert_eq!(
            pod_status(&p, now()),
            ("2/2".into(), "Running".into(), "0".into())
        );

        let p = pod(
            json!({"phase": "Pending", "initContainerStatuses": [init_done],
            "conditions": [initialized], "containerStatuses": [running, creating]}),
        );
        assert_eq!(pod_status(&p, now()).1, "ContainerCreating");

        let p = pod(
            json!({"phase": "Pending", "initContainerStatuses": [init_running],
            "containerStatuses": [creating, creating]}),
        );
        assert_eq!(pod_status(&p, now()).1, "Init:0/1");

        let crash = json!({"state": {"waiting": {"reason": "CrashLoopBackOff"}}, "ready": false, "restartCount": 2,
            "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2024-01-02T03:09:55Z"}}});
        let p = pod(json!({"phase": "Running", "conditions": [initialized],
            "initContainerStatuses": [init_done], "containerStatuses": [crash, running]}));
        assert_eq!(
            pod_status(&p, now()),
            ("1/2".into(), "CrashLoopBackOff".into(), "2 (5s ago)".into())
        );

        let done = json!({"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}, "restartCount": 0});
        let failed =
            json!({"state": {"terminated": {"exitCode": 3, "reason": "Error"}}, "restartCount": 0});
        let p = pod(json!({"phase": "Succeeded", "conditions": [initialized],
            "initContainerStatuses": [init_done], "containerStatuses": [done, done]}));
        assert_eq!(pod_status(&p, now()).1, "Completed");
        let p = pod(json!({"phase": "Failed", "conditions": [initialized],
            "initContainerStatuses": [init_done], "containerStatuses": [failed, done]}));
        assert_eq!(pod_status(&p, now()).1, "Error");
        let p = pod(json!({"phase": "Running", "conditions": [initialized],
            "initContainerStatuses": [init_done], "containerStatuses": [done, running]}));
        assert_eq!(pod_status(&p, now()).1, "NotReady");

        let mut p = pod(json!({"phase": "Running", "conditions": [initialized],
            "initContainerStatuses": [init_done], "containerStatuses": [running, running]}));
        p["metadata"]["deletionTimestamp"] = json!("2024-01-02T03:10:30Z");
        assert_eq!(pod_status(&p, now()).1, "Terminating");
    }

    #[test]
    fn table_negotiation() {
        assert!(wants_table(Some(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        )));
        assert!(!wants_table(Some("application/json")));
        assert!(!wants_table(None));
        assert!(!wants_table(Some(
            "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json"
        )));
    }
}
