//! `--template` / `--template-file`: each line rendered by a minijinja template.
//!
//! The template is compiled once, in `Settings::resolve`, and every mistake that does not
//! depend on the log data is reported there, before any stream opens: syntax errors
//! (with line and column), unknown fields or functions (a static scan of the names the
//! template reads), unknown filters, tests and methods (one render against a sample
//! record). Rendering writes straight into the caller's output buffer.
//!
//! The functions a template can call are stern's, in `helpers`.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::tz::TimeZone;
use minijinja::value::{Enumerator, Object};
use minijinja::{Environment, Error as TemplateError, ErrorKind, UndefinedBehavior, Value};

use crate::error::{Error, Result};
use crate::render::Origin;
use crate::render::helpers;

/// The fields of a record, in the order the README lists them.
pub(crate) const FIELDS: [&str; 11] = [
    "context",
    "namespace",
    "pod",
    "container",
    "node",
    "message",
    "timestamp",
    "labels",
    "annotations",
    "pod_color",
    "container_color",
];

const NAME: &str = "line";

/// A compiled template, shared by every tail.
pub(crate) struct LineTemplate {
    env: Environment<'static>,
}

impl std::fmt::Debug for LineTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LineTemplate")
    }
}

/// The fields of one container, built once when its tail starts.
#[derive(Debug)]
pub(crate) struct TargetFields {
    /// Empty unless several contexts are followed.
    pub context: Value,
    pub namespace: Value,
    pub pod: Value,
    pub container: Value,
    pub node: Value,
    pub labels: Value,
    pub annotations: Value,
    pub pod_color: Value,
    pub container_color: Value,
}

impl TargetFields {
    pub(crate) fn new(o: &Origin<'_>, (pod_color, container_color): (&str, &str)) -> TargetFields {
        let map = |m: &BTreeMap<String, String>| {
            Value::from(
                m.iter()
                    .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                    .collect::<BTreeMap<String, Value>>(),
            )
        };
        TargetFields {
            context: Value::from(o.context),
            namespace: Value::from(o.namespace),
            pod: Value::from(o.pod),
            container: Value::from(o.container),
            node: Value::from(o.node),
            labels: map(o.labels),
            annotations: map(o.annotations),
            pod_color: Value::from(pod_color),
            container_color: Value::from(container_color),
        }
    }
}

/// One line's record: the container's fields and the line's own.
#[derive(Debug)]
struct Record {
    target: Arc<TargetFields>,
    message: Value,
    timestamp: Value,
}

impl Object for Record {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let t = &self.target;
        Some(match key.as_str()? {
            "context" => t.context.clone(),
            "namespace" => t.namespace.clone(),
            "pod" => t.pod.clone(),
            "container" => t.container.clone(),
            "node" => t.node.clone(),
            "message" => self.message.clone(),
            "timestamp" => self.timestamp.clone(),
            "labels" => t.labels.clone(),
            "annotations" => t.annotations.clone(),
            "pod_color" => t.pod_color.clone(),
            "container_color" => t.container_color.clone(),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&FIELDS)
    }
}

impl LineTemplate {
    /// Compiles `source`; `origin` names it in errors (`--template`, `--template-file 'x'`).
    /// `color` and `timezone` are the run's decisions, used by the helpers.
    pub(crate) fn compile(
        source: String,
        origin: &str,
        color: bool,
        timezone: TimeZone,
    ) -> Result<LineTemplate> {
        let mut env = Environment::new();
        // A misspelt field must fail loudly, not print nothing.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Debug info would collect the template's variables on every failed line; the
        // error positions used here do not need it.
        env.set_debug(false);
        helpers::register(&mut env, color, timezone);
        env.add_template_owned(NAME, source.clone())
            .map_err(|e| invalid(origin, &source, &e))?;
        let this = LineTemplate { env };
        let tmpl = this
            .env
            .get_template(NAME)
            .map_err(|e| invalid(origin, &source, &e))?;

        // Every name the template reads must be a field or a function.
        let known =
            |name: &str| FIELDS.contains(&name) || this.env.globals().any(|(g, _)| g == name);
        let mut unknown: Vec<String> = tmpl
            .undeclared_variables(false)
            .into_iter()
            .filter(|n| !known(n))
            .collect();
        unknown.sort_by_key(|n| source.find(n.as_str()));
        if let Some(name) = unknown.first() {
            let (line, col) = position_of_name(&source, name);
            return Err(Error::usage(format!(
                "invalid {origin} at line {line}, column {col}: unknown field or function '{name}' (fields: {})",
                FIELDS.join(", ")
            )));
        }

        // Filters, tests and methods are looked up when they run: one render against a
        // sample record finds the unknown ones on the paths it takes. Errors that depend
        // on the data (parse_json of a line that is not JSON, a missing key) are left to
        // the real lines.
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let sample = Arc::new(TargetFields::new(
            &Origin {
                context: "",
                namespace: "default",
                pod: "web-1",
                container: "app",
                node: "node-1",
                labels: &labels,
                annotations: &BTreeMap::new(),
                previous: false,
            },
            ("96", "36"),
        ));
        let mut out = Vec::new();
        if let Err(e) = this.render(
            &mut out,
            &sample,
            "2026-01-02T03:04:05.000000006Z",
            r#"{"level":"info","msg":"ktail","ts":1767323045}"#,
        ) && matches!(
            e.kind(),
            ErrorKind::UnknownFilter
                | ErrorKind::UnknownTest
                | ErrorKind::UnknownFunction
                | ErrorKind::UnknownMethod
        ) {
            return Err(invalid(origin, &source, &e));
        }
        Ok(this)
    }

    /// Appends the rendered record to `out`. On error, `out` may hold part of it: the
    /// caller truncates.
    pub(crate) fn render(
        &self,
        out: &mut Vec<u8>,
        target: &Arc<TargetFields>,
        timestamp: &str,
        message: &str,
    ) -> std::result::Result<(), TemplateError> {
        let record = Value::from_object(Record {
            target: target.clone(),
            message: Value::from(message),
            timestamp: Value::from(timestamp),
        });
        let tmpl = self.env.get_template(NAME)?;
        tmpl.render_captured_to(record, &mut *out)?;
        Ok(())
    }
}

/// What went wrong in a template, without where: `invalid operation: not JSON: …`.
pub(crate) fn describe(e: &TemplateError) -> String {
    match e.detail() {
        Some(d) => format!("{}: {d}", e.kind()),
        None => e.kind().to_string(),
    }
}

/// A template error as one line: where, and what is wrong.
fn invalid(origin: &str, source: &str, e: &TemplateError) -> Error {
    let what = describe(e);
    let at = match (e.range(), e.line()) {
        (Some(r), _) => {
            let (line, col) = line_col(source, r.start);
            format!(" at line {line}, column {col}")
        }
        (None, Some(line)) => format!(" at line {line}"),
        _ => String::new(),
    };
    let hint = go_template_hint(source).unwrap_or_default();
    Error::usage(format!("invalid {origin}{at}: {what}{hint}"))
}

/// stern's (Go template) fields and their names here.
const STERN_FIELDS: [(&str, &str); 9] = [
    ("PodName", "pod"),
    ("ContainerName", "container"),
    ("Namespace", "namespace"),
    ("NodeName", "node"),
    ("Message", "message"),
    ("Labels", "labels"),
    ("Annotations", "annotations"),
    ("PodColor", "pod_color"),
    ("ContainerColor", "container_color"),
];

/// For a template written for stern (`{{.PodName}}`), how to say it here.
fn go_template_hint(source: &str) -> Option<String> {
    let (go, ours) = source
        .split("{{")
        .skip(1)
        .filter_map(|block| block.split("}}").next())
        .flat_map(|inner| inner.split('.').skip(1))
        .find_map(|after| {
            let name: String = after
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            STERN_FIELDS.iter().find(|(go, _)| *go == name)
        })?;
    Some(format!(
        "; ktail templates are Jinja, not Go: write {{{{ {ours} }}}} for {{{{.{go}}}}} (see the README's Templates)"
    ))
}

fn line_col(source: &str, at: usize) -> (usize, usize) {
    let before = &source[..at.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

/// Where `name` is first used as a whole word (the scan that found it has no positions).
fn position_of_name(source: &str, name: &str) -> (usize, usize) {
    let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let at = source
        .match_indices(name)
        .find(|(i, _)| {
            !ident(source[..*i].chars().next_back())
                && !ident(source[i + name.len()..].chars().next())
        })
        .map_or(0, |(i, _)| i);
    line_col(source, at)
}

#[cfg(test)]
mod tests {
    #[test]
    fn stern_templates_get_a_hint_only_for_stern_fields() {
        let hint = |s: &str| super::go_template_hint(s);
        assert!(
            hint("{{.PodName}}")
                .unwrap()
                .contains("write {{ pod }} for {{.PodName}}")
        );
        assert!(hint("{{ labels.app }} {{ mesage }}").is_none());
        assert!(
            hint("{{ pod }} costs 3.Message").is_none(),
            "outside a block"
        );
    }

    use super::*;

    fn render(source: &str, color: bool, message: &str) -> String {
        let t = LineTemplate::compile(source.into(), "--template", color, TimeZone::UTC).unwrap();
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        let annotations = BTreeMap::from([("team".to_string(), "core".to_string())]);
        let origin = Origin {
            context: "",
            namespace: "prod",
            pod: "web-1",
            container: "app",
            node: "node-1",
            labels: &labels,
            annotations: &annotations,
            previous: false,
        };
        let fields = Arc::new(TargetFields::new(&origin, ("96", "36")));
        let mut out = Vec::new();
        t.render(&mut out, &fields, "2024-01-02T03:04:05.5Z", message)
            .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn compile_err(source: &str) -> String {
        LineTemplate::compile(source.into(), "--template", false, TimeZone::UTC)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn fields() {
        assert_eq!(
            render(
                "{{namespace}} {{pod}} {{container}} {{node}} {{timestamp}} {{labels.app}} {{annotations.team}} {{pod_color}}/{{container_color}} {{message}}",
                false,
                "hi"
            ),
            "prod web-1 app node-1 2024-01-02T03:04:05.5Z web core 96/36 hi"
        );
    }

    #[test]
    fn errors_at_compile_time_name_the_position() {
        let e = compile_err("{{ pod }} {{ mesage }}");
        assert!(
            e.contains("line 1, column 14") && e.contains("'mesage'"),
            "{e}"
        );
        let e = compile_err("{{ pod }}\n{{ message ");
        assert!(e.contains("line 2") && e.contains("syntax error"), "{e}");
        let e = compile_err("{{ message | no_such_filter }}");
        assert!(e.contains("unknown filter"), "{e}");
        let e = compile_err("{{ nope(message) }}");
        assert!(e.contains("'nope'"), "{e}");
        assert!(!e.contains('\n'));
        // Data-dependent failures are not start-up errors.
        assert!(
            LineTemplate::compile(
                "{{ (message | parse_json).missing }}".into(),
                "--template",
                false,
                TimeZone::UTC
            )
            .is_ok()
        );
    }

    #[test]
    fn json_helpers() {
        let line = r#"{"level":"warn","msg":"disk","n":3,"obj":{"b":1,"a":2}}"#;
        assert_eq!(
            render("{{ (message | parse_json).msg }}", false, line),
            "disk"
        );
        assert_eq!(render("{{ parse_json(message).n + 1 }}", false, line), "4");
        assert_eq!(
            render("{{ try_parse_json(message) is none }}", false, "plain"),
            "True"
        );
        assert_eq!(
            render(
                "{{ extract_json_parts(message, 'level', 'msg', 'n', 'x') }}",
                false,
                line
            ),
            "warn, disk, 3, "
        );
        assert_eq!(
            render(
                "{{ message | try_extract_json_parts('msg') }}",
                false,
                "plain text"
            ),
            "plain text"
        );
        assert_eq!(
            render("{{ pretty_json(message) }}", false, r#"{"b":1,"a":[1,2]}"#),
            "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": 1\n}"
        );
        assert_eq!(
            render("{{ pretty_json(parse_json(message).obj) }}", false, line),
            "{\n  \"a\": 2,\n  \"b\": 1\n}"
        );
    }

    #[test]
    fn time_helpers() {
        assert_eq!(
            render("{{ to_timestamp(timestamp, '%H:%M:%S') }}", false, ""),
            "03:04:05"
        );
        assert_eq!(
            render(
                "{{ to_timestamp(1704164645, '%Y-%m-%d %H:%M', 'Asia/Kolkata') }}",
                false,
                ""
            ),
            "2024-01-02 08:34"
        );
        assert_eq!(
            render("{{ to_timestamp('1704164645.25', '%S%.3f') }}", false, ""),
            "05.250"
        );
        assert_eq!(
            render("{{ to_rfc3339nano(1704164645.5) }}", false, ""),
            "2024-01-02T03:04:05.5Z"
        );
        assert_eq!(
            render("{{ to_utc('2024-01-02T05:04:05+02:00') }}", false, ""),
            "2024-01-02T03:04:05Z"
        );
    }

    #[test]
    fn colour_helpers_follow_the_colour_decision() {
        assert_eq!(
            render("{{ color(pod_color, pod) }}", true, ""),
            "\x1b[96mweb-1\x1b[0m"
        );
        assert_eq!(render("{{ color(pod_color, pod) }}", false, ""), "web-1");
        assert_eq!(
            render("{{ container | color(container_color) }}", true, ""),
            "\x1b[36mapp\x1b[0m"
        );
        assert_eq!(
            render("{{ color_custom('x', 1, '4') }}", true, ""),
            "\x1b[1;4mx\x1b[0m"
        );
        assert_eq!(
            render("{{ 'x' | color_red }}", true, ""),
            "\x1b[31mx\x1b[0m"
        );
        assert_eq!(
            render("{{ color_cyan('x') }}", true, ""),
            "\x1b[36mx\x1b[0m"
        );
        assert_eq!(
            render(
                "{{ level_color('WARN') }} {{ level_color('other') }}",
                true,
                ""
            ),
            "\x1b[33mWARN\x1b[0m other"
        );
        assert_eq!(
            render(
                "{{ bunyan_level_color(50) }}|{{ bunyan_level_color('x') }}",
                true,
                ""
            ),
            "\x1b[31m50\x1b[0m|"
        );
    }
}
