//! Reading objects a client sent (`create`, `apply`, `replace`, a patched object) into the
//! cluster's own types, with the API server's defaults and its validation messages
//! (`spec.replicas: Invalid value: -1: must be greater than or equal to 0`). A container
//! keeps the simulated behaviour of the container it replaces (same name and command);
//! a new one does what its command says as far as the simulated kubelet understands it
//! (`echo`, `sleep`, `exit`), and one without a command serves: it runs until stopped and
//! writes a line a second. Pure: nothing here changes the cluster.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::jobs::Job;
use super::template::Template;
use super::workloads::{DeploymentSpec, IntOrPercent, Strategy};
use crate::http::ApiError;
use crate::meta::Meta;
use crate::spec::ContainerSpec;

/// Field errors, as `details.causes` lists them: (reason, message, field).
#[derive(Debug, Default)]
pub(super) struct Causes(Vec<(String, String, String)>);

impl Causes {
    fn push(&mut self, reason: &str, field: &str, message: String) {
        self.0
            .push((reason.to_string(), message, field.to_string()));
    }

    pub(super) fn required(&mut self, field: &str) {
        self.push("FieldValueRequired", field, "Required value".to_string());
    }

    pub(super) fn invalid(&mut self, field: &str, value: &str, detail: &str) {
        self.push(
            "FieldValueInvalid",
            field,
            format!("Invalid value: {value}: {detail}"),
        );
    }

    pub(super) fn unsupported(&mut self, field: &str, value: &str, supported: &[&str]) {
        let s: Vec<String> = supported.iter().map(|s| format!("\"{s}\"")).collect();
        self.push(
            "FieldValueNotSupported",
            field,
            format!(
                "Unsupported value: \"{value}\": supported values: {}",
                s.join(", ")
            ),
        );
    }

    pub(super) fn push_required_name(&mut self) {
        self.push(
            "FieldValueRequired",
            "metadata.name",
            "Required value: name or generateName is required".to_string(),
        );
    }

    pub(super) fn forbidden(&mut self, field: &str, detail: &str) {
        self.push("FieldValueForbidden", field, format!("Forbidden: {detail}"));
    }

    /// `<Kind>[.group] "<name>" is invalid: ...` when there is any cause.
    pub(super) fn check(self, kind: &str, group: &str, name: &str) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let causes: Vec<(&str, &str, &str)> = self
            .0
            .iter()
            .map(|(r, m, f)| (r.as_str(), m.as_str(), f.as_str()))
            .collect();
        let group = (!group.is_empty()).then_some(group);
        Err(ApiError::invalid(kind, group, name, &causes))
    }
}

/// The metadata a client may set.
#[derive(Debug, Default, Clone)]
pub(super) struct ClientMeta {
    pub(super) name: String,
    pub(super) generate_name: String,
    pub(super) namespace: Option<String>,
    pub(super) labels: BTreeMap<String, String>,
    pub(super) annotations: BTreeMap<String, String>,
    pub(super) resource_version: Option<String>,
    /// `(kind, name, uid)` of a controller owner reference.
    pub(super) controller: Option<(String, String, String)>,
}

fn string_map(v: &Value, field: &str, causes: &mut Causes) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k, x) in m {
                match x.as_str() {
                    Some(s) => {
                        out.insert(k.clone(), s.to_string());
                    }
                    None => {
                        causes.invalid(&format!("{field}.{k}"), &x.to_string(), "must be a string")
                    }
                }
            }
        }
        other => causes.invalid(field, &other.to_string(), "must be a map of strings"),
    }
    out
}

pub(super) fn client_meta(obj: &Value, causes: &mut Causes) -> ClientMeta {
    let m = &obj["metadata"];
    let controller = m["ownerReferences"].as_array().and_then(|refs| {
        refs.iter().find(|r| r["controller"] == true).map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("kind"), s("name"), s("uid"))
        })
    });
    ClientMeta {
        name: m["name"].as_str().unwrap_or_default().to_string(),
        generate_name: m["generateName"].as_str().unwrap_or_default().to_string(),
        namespace: m["namespace"].as_str().map(str::to_string),
        labels: string_map(&m["labels"], "metadata.labels", causes),
        annotations: string_map(&m["annotations"], "metadata.annotations", causes),
        resource_version: m["resourceVersion"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        controller,
    }
}

/// An RFC 1123 label: lower-case alphanumerics and `-`, at most 63 characters.
pub(super) fn dns_label_error(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    (!ok).then(|| "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string())
}

/// An RFC 1123 subdomain: labels joined by dots, at most 253 characters.
pub(super) fn dns_subdomain_error(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| dns_label_error(l).is_none());
    (!ok).then(|| "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string())
}

fn strings(v: &Value, field: &str, causes: &mut Causes) -> Vec<String> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .filter_map(|(i, x)| match x.as_str() {
                Some(s) => Some(s.to_string()),
                None => {
                    causes.invalid(&format!("{field}[{i}]"), &x.to_string(), "must be a string");
                    None
                }
            })
            .collect(),
        other => {
            causes.invalid(field, &other.to_string(), "must be a list of strings");
            Vec::new()
        }
    }
}

/// What a container's process does, as far as the simulated kubelet understands it: the
/// lines it echoes, how long it sleeps, how it exits. No command: a server that runs until
/// stopped and writes a generated line a second.
fn process(command: &[String], args: &[String]) -> (Vec<String>, Option<(Duration, i32)>, f64) {
    let words: Vec<String> = command.iter().chain(args).cloned().collect();
    if words.is_empty() {
        return (Vec::new(), None, 1.0);
    }
    let program = |w: &str| w.rsplit('/').next().unwrap_or(w).to_string();
    let script: Vec<Vec<String>> = match words.as_slice() {
        [sh, c, script, ..]
            if matches!(program(sh).as_str(), "sh" | "bash" | "ash") && c == "-c" =>
        {
            script
                .split(['\n', ';'])
                .flat_map(|s| s.split("&&"))
                .map(|s| shlex::split(s.trim()).unwrap_or_default())
                .filter(|s| !s.is_empty())
                .collect()
        }
        _ => vec![words.clone()],
    };
    let mut lines = Vec::new();
    let mut slept = 0.0f64;
    for statement in script {
        match program(&statement[0]).as_str() {
            "echo" => lines.push(statement[1..].join(" ")),
            "sleep" => match statement.get(1).map(String::as_str) {
                Some("infinity") => return (lines, None, 0.0),
                Some(n) => slept += n.trim_end_matches('s').parse::<f64>().unwrap_or(0.0),
                None => {}
            },
            "exit" => {
                let code = statement.get(1).and_then(|c| c.parse().ok()).unwrap_or(0);
                return (lines, Some((Duration::from_secs_f64(slept), code)), 0.0);
            }
            "false" => return (lines, Some((Duration::from_secs_f64(slept), 1)), 0.0),
            "while" | "tail" => return (lines, None, 0.0),
            _ => {}
        }
    }
    (
        lines,
        Some((Duration::from_secs_f64(slept.min(1e6)), 0)),
        0.0,
    )
}

/// Container fields the simulator models itself; everything else is kept as sent.
const CONTAINER_FIELDS: [&str; 4] = ["name", "image", "command", "args"];

fn container(
    v: &Value,
    field: &str,
    sources: &[ContainerSpec],
    causes: &mut Causes,
) -> ContainerSpec {
    let name = v["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        causes.required(&format!("{field}.name"));
    } else if let Some(e) = dns_label_error(name) {
        causes.invalid(&format!("{field}.name"), &format!("\"{name}\""), &e);
    }
    let image = v["image"].as_str().unwrap_or_default();
    if image.is_empty() {
        causes.required(&format!("{field}.image"));
    }
    let command = strings(&v["command"], &format!("{field}.command"), causes);
    let args = strings(&v["args"], &format!("{field}.args"), causes);
    let mut c = match sources
        .iter()
        .find(|s| s.name == name && s.command == command && s.args == args)
    {
        Some(s) => s.clone(),
        None => {
            let (lines, exit, rate) = process(&command, &args);
            let mut c = ContainerSpec::new(name).lines(lines).rate(rate);
            c.exit_after = exit;
            c
        }
    };
    c.name = name.to_string();
    c.image = image.to_string();
    c.command = command;
    c.args = args;
    c.extra = Map::new();
    let defaults = crate::pod::container_spec_json(&c);
    if let Value::Object(m) = v {
        for (k, x) in m {
            if !CONTAINER_FIELDS.contains(&k.as_str()) && defaults.get(k) != Some(x) {
                c.extra.insert(k.clone(), x.clone());
            }
        }
    }
    c
}

fn containers(
    v: &Value,
    field: &str,
    sources: &[ContainerSpec],
    causes: &mut Causes,
) -> Vec<ContainerSpec> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, c)| container(c, &format!("{field}[{i}]"), sources, causes))
            .collect(),
        other => {
            causes.invalid(field, &other.to_string(), "must be a list of containers");
            Vec::new()
        }
    }
}

/// Pod spec fields the simulator models itself.
const POD_FIELDS: [&str; 4] = ["containers", "initContainers", "restartPolicy", "nodeName"];

/// A pod spec (of a pod or a template) at `field`: containers, init containers, restart
/// policy (checked against `allowed`, defaulted to its first entry) and the rest kept.
pub(super) fn pod_spec(
    spec: &Value,
    field: &str,
    sources: &[ContainerSpec],
    allowed: &[&str],
    causes: &mut Causes,
) -> Template {
    let cs = containers(
        &spec["containers"],
        &format!("{field}.containers"),
        sources,
        causes,
    );
    if cs.is_empty() {
        causes.required(&format!("{field}.containers"));
    }
    let init = containers(
        &spec["initContainers"],
        &format!("{field}.initContainers"),
        sources,
        causes,
    );
    let restart = spec["restartPolicy"].as_str().unwrap_or(allowed[0]);
    if !allowed.contains(&restart) {
        if spec["restartPolicy"].is_null() {
            causes.required(&format!("{field}.restartPolicy"));
        } else {
            causes.unsupported(&format!("{field}.restartPolicy"), restart, allowed);
        }
    }
    let mut t = Template::new(BTreeMap::new(), cs);
    t.init = init;
    t.restart_policy = restart.to_string();
    let defaults = crate::pod::pod_spec_json(&[], &[], restart);
    if let Value::Object(m) = spec {
        for (k, x) in m {
            if !POD_FIELDS.contains(&k.as_str()) && defaults.get(k) != Some(x) {
                t.spec_extra.insert(k.clone(), x.clone());
            }
        }
    }
    t
}

/// A pod template at `field` (`spec.template`).
pub(super) fn template(
    v: &Value,
    field: &str,
    sources: &[ContainerSpec],
    allowed: &[&str],
    causes: &mut Causes,
) -> Template {
    let mut t = pod_spec(
        &v["spec"],
        &format!("{field}.spec"),
        sources,
        allowed,
        causes,
    );
    t.labels = string_map(
        &v["metadata"]["labels"],
        &format!("{field}.metadata.labels"),
        causes,
    );
    t.annotations = string_map(
        &v["metadata"]["annotations"],
        &format!("{field}.metadata.annotations"),
        causes,
    );
    t
}

fn count(v: &Value, field: &str, default: u32, causes: &mut Causes) -> u32 {
    match v {
        Value::Null => default,
        x => match x.as_i64() {
            Some(n) if n < 0 => {
                causes.invalid(field, &n.to_string(), "must be greater than or equal to 0");
                default
            }
            Some(n) => n.min(i64::from(i32::MAX)) as u32,
            None => {
                causes.invalid(field, &x.to_string(), "must be an integer");
                default
            }
        },
    }
}

fn int_or_percent(
    v: &Value,
    field: &str,
    default: IntOrPercent,
    causes: &mut Causes,
) -> IntOrPercent {
    match v {
        Value::Null => default,
        Value::String(s) => match s.strip_suffix('%').and_then(|p| p.parse().ok()) {
            Some(p) => IntOrPercent::Percent(p),
            None => {
                causes.invalid(field, &format!("\"{s}\""), "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')");
                default
            }
        },
        x => IntOrPercent::Int(count(x, field, 0, causes)),
    }
}

fn selector(v: &Value, field: &str, causes: &mut Causes) -> BTreeMap<String, String> {
    let sel = string_map(&v["matchLabels"], &format!("{field}.matchLabels"), causes);
    if sel.is_empty() && v["matchExpressions"].is_null() {
        causes.required(field);
    }
    sel
}

/// Go's `%#v` of a label map, as validation messages print it.
pub(super) fn go_map(m: &BTreeMap<String, String>) -> String {
    let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
    format!("map[string]string{{{}}}", parts.join(", "))
}

/// The selector must select the template's pods.
fn selects(sel: &BTreeMap<String, String>, t: &Template, field: &str, causes: &mut Causes) {
    if sel.iter().any(|(k, v)| t.labels.get(k) != Some(v)) {
        causes.invalid(
            &format!("{field}.metadata.labels"),
            &go_map(&t.labels),
            "`selector` does not match template `labels`",
        );
    }
}

pub(super) fn deployment(
    obj: &Value,
    sources: &[ContainerSpec],
    causes: &mut Causes,
) -> DeploymentSpec {
    let spec = &obj["spec"];
    // In the apiserver's order: replicas, selector, the template's labels, its spec.
    let replicas = count(&spec["replicas"], "spec.replicas", 1, causes);
    let selector = selector(&spec["selector"], "spec.selector", causes);
    let mut template_causes = Causes::default();
    let template = template(
        &spec["template"],
        "spec.template",
        sources,
        &["Always"],
        &mut template_causes,
    );
    selects(&selector, &template, "spec.template", causes);
    causes.0.extend(template_causes.0);
    let strategy = match spec["strategy"]["type"].as_str() {
        None | Some("RollingUpdate") => {
            let ru = &spec["strategy"]["rollingUpdate"];
            let max_surge = int_or_percent(
                &ru["maxSurge"],
                "spec.strategy.rollingUpdate.maxSurge",
                IntOrPercent::Percent(25),
                causes,
            );
            let max_unavailable = int_or_percent(
                &ru["maxUnavailable"],
                "spec.strategy.rollingUpdate.maxUnavailable",
                IntOrPercent::Percent(25),
                causes,
            );
            let zero =
                |x: IntOrPercent| matches!(x, IntOrPercent::Int(0) | IntOrPercent::Percent(0));
            if zero(max_surge) && zero(max_unavailable) {
                causes.invalid(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    "0",
                    "may not be 0 when `maxSurge` is 0",
                );
            }
            Strategy::RollingUpdate {
                max_surge,
                max_unavailable,
            }
        }
        Some("Recreate") => {
            if !spec["strategy"]["rollingUpdate"].is_null() {
                causes.forbidden(
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                );
            }
            Strategy::Recreate
        }
        Some(other) => {
            causes.unsupported("spec.strategy.type", other, &["Recreate", "RollingUpdate"]);
            Strategy::DEFAULT
        }
    };
    DeploymentSpec {
        replicas,
        selector,
        template,
        strategy,
        revision_history_limit: count(
            &spec["revisionHistoryLimit"],
            "spec.revisionHistoryLimit",
            10,
            causes,
        ),
        progress_deadline: count(
            &spec["progressDeadlineSeconds"],
            "spec.progressDeadlineSeconds",
            600,
            causes,
        ),
        min_ready_seconds: count(&spec["minReadySeconds"], "spec.minReadySeconds", 0, causes),
        paused: spec["paused"].as_bool().unwrap_or(false),
    }
}

/// Job spec fields the simulator models itself.
const JOB_FIELDS: [&str; 9] = [
    "template",
    "parallelism",
    "completions",
    "backoffLimit",
    "activeDeadlineSeconds",
    "suspend",
    "selector",
    "manualSelector",
    "completionMode",
];

/// A Job spec at `field` (`spec`, or `spec.jobTemplate.spec`) into `job`.
pub(super) fn job_spec(
    spec: &Value,
    field: &str,
    job: &mut Job,
    sources: &[ContainerSpec],
    causes: &mut Causes,
) {
    job.template = template(
        &spec["template"],
        &format!("{field}.template"),
        sources,
        &["Never", "OnFailure"],
        causes,
    );
    if spec["template"]["spec"]["restartPolicy"].is_null() {
        causes.required(&format!("{field}.template.spec.restartPolicy"));
    }
    job.parallelism = count(
        &spec["parallelism"],
        &format!("{field}.parallelism"),
        1,
        causes,
    );
    job.completions = count(
        &spec["completions"],
        &format!("{field}.completions"),
        1,
        causes,
    )
    .max(1);
    job.backoff_limit = count(
        &spec["backoffLimit"],
        &format!("{field}.backoffLimit"),
        6,
        causes,
    );
    job.active_deadline = match &spec["activeDeadlineSeconds"] {
        Value::Null => None,
        v => match v.as_u64() {
            Some(n) if n > 0 => Some(n),
            _ => {
                causes.invalid(
                    &format!("{field}.activeDeadlineSeconds"),
                    &v.to_string(),
                    "must be greater than 0",
                );
                None
            }
        },
    };
    job.suspend = spec["suspend"].as_bool().unwrap_or(false);
    job.spec_extra = Map::new();
    if let Value::Object(m) = spec {
        for (k, x) in m {
            let defaulted = k == "podReplacementPolicy" && x == "TerminatingOrFailed";
            if !JOB_FIELDS.contains(&k.as_str()) && !defaulted {
                job.spec_extra.insert(k.clone(), x.clone());
            }
        }
    }
}

/// A fresh object's metadata for the cluster: the client's labels and annotations on a
/// new uid and creation time.
pub(super) fn apply_meta(meta: &mut Meta, m: &ClientMeta) {
    meta.labels = m.labels.clone();
    meta.annotations = m.annotations.clone();
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn processes_do_what_their_commands_say() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            process(&s(&["echo", "hello", "world"]), &[]),
            (s(&["hello world"]), Some((Duration::ZERO, 0)), 0.0)
        );
        assert_eq!(
            process(&s(&["sh", "-c"]), &s(&["echo 'a b'; sleep 2 && exit 3"])),
            (s(&["a b"]), Some((Duration::from_secs(2), 3)), 0.0)
        );
        assert_eq!(process(&[], &[]), (Vec::new(), None, 1.0));
        assert_eq!(process(&s(&["sleep", "infinity"]), &[]).1, None);
    }

    #[test]
    fn deployments_validate_like_the_apiserver() {
        let mut causes = Causes::default();
        let d = json!({"spec": {"replicas": -1, "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "c"}]}}}});
        deployment(&d, &[], &mut causes);
        let e = causes.check("Deployment", "apps", "web").unwrap_err();
        assert_eq!(
            e.message,
            "Deployment.apps \"web\" is invalid: [spec.replicas: Invalid value: -1: must be greater than or equal to 0, spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"y\"}: `selector` does not match template `labels`, spec.template.spec.containers[0].image: Required value]"
        );
    }

    #[test]
    fn defaults_sent_back_are_not_extras() {
        let mut causes = Causes::default();
        let src = ContainerSpec::new("app").image("nginx:1.27").rate(5.0);
        let v = json!({"name": "app", "image": "nginx:1.28", "imagePullPolicy": "IfNotPresent",
            "resources": {}, "ports": [{"containerPort": 80}]});
        let c = container(&v, "c", std::slice::from_ref(&src), &mut causes);
        assert_eq!(c.rate, 5.0, "the behaviour of the container it replaces");
        assert_eq!(c.image, "nginx:1.28");
        assert_eq!(
            Value::Object(c.extra),
            json!({"ports": [{"containerPort": 80}]})
        );
    }
}
