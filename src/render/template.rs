//! `--template` / `--template-file`: each line rendered by a minijinja template.
//!
//! The template is compiled once, in `Config::resolve`, and every mistake that does not
//! depend on the log data is reported there, before any stream opens: syntax errors
//! (with line and column), unknown fields or functions (a static scan of the names the
//! template reads), unknown filters, tests and methods (one render against a sample
//! record). Rendering writes straight into the caller's output buffer.
//!
//! The helpers mirror stern's template functions under snake_case names (stern's
//! `parseJSON` is `parse_json` here, `levelColor` is `level_color`…), usable as functions
//! and, where they take a text, as filters. Colour helpers print plain text when colour
//! is off: the decision comes from the config, like every colour decision.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::tz::TimeZone;
use minijinja::value::{Enumerator, Object, Rest, ValueKind};
use minijinja::{Environment, Error as TemplateError, ErrorKind, UndefinedBehavior, Value};

use crate::error::{Error, Result};
use crate::render::color::painted;
use crate::render::format::Origin;
use crate::render::level::Level;

/// The fields of a record, in the order the README lists them.
pub(crate) const FIELDS: [&str; 10] = [
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
        register(&mut env, color, timezone);
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
                namespace: "default",
                pod: "web-1",
                container: "app",
                node: "node-1",
                labels: &labels,
                annotations: &BTreeMap::new(),
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

fn fail(msg: impl Into<String>) -> TemplateError {
    TemplateError::new(ErrorKind::InvalidOperation, msg.into())
}

/// The helpers, as functions and (where the first argument is a text) filters.
fn register(env: &mut Environment<'static>, color: bool, tz: TimeZone) {
    env.add_function("parse_json", parse_json);
    env.add_filter("parse_json", parse_json);
    env.add_function("try_parse_json", try_parse_json);
    env.add_filter("try_parse_json", try_parse_json);
    env.add_function("extract_json_parts", extract_json_parts);
    env.add_filter("extract_json_parts", extract_json_parts);
    env.add_function("try_extract_json_parts", try_extract_json_parts);
    env.add_filter("try_extract_json_parts", try_extract_json_parts);
    env.add_function("pretty_json", pretty_json);
    env.add_filter("pretty_json", pretty_json);

    let zone = tz.clone();
    let to_timestamp = move |v: Value, layout: &str, zone_name: Option<&str>| {
        let ts = to_time(&v)?;
        let zone = match zone_name {
            Some(name) => {
                TimeZone::get(name).map_err(|_| fail(format!("unknown time zone '{name}'")))?
            }
            None => zone.clone(),
        };
        jiff::fmt::strtime::format(layout, &ts.to_zoned(zone))
            .map_err(|e| fail(format!("cannot format with '{layout}': {e}")))
    };
    env.add_function("to_timestamp", to_timestamp.clone());
    env.add_filter("to_timestamp", to_timestamp);
    let zone = tz;
    let to_rfc3339nano = move |v: Value| -> std::result::Result<String, TemplateError> {
        Ok(rfc3339(&to_time(&v)?.to_zoned(zone.clone())))
    };
    env.add_function("to_rfc3339nano", to_rfc3339nano.clone());
    env.add_filter("to_rfc3339nano", to_rfc3339nano);
    let to_utc = |v: Value| -> std::result::Result<String, TemplateError> {
        Ok(rfc3339(&to_time(&v)?.to_zoned(TimeZone::UTC)))
    };
    env.add_function("to_utc", to_utc);
    env.add_filter("to_utc", to_utc);

    // stern: `color .PodColor .PodName`; as a filter the text comes first.
    let paint_fn = move |sgr: Value, text: Value| paint(color, &sgr_text(&sgr)?, &text);
    env.add_function("color", paint_fn);
    env.add_filter("color", move |text: Value, sgr: Value| {
        paint(color, &sgr_text(&sgr)?, &text)
    });
    let custom = move |text: Value, attrs: Rest<Value>| {
        let sgr = attrs
            .iter()
            .map(sgr_text)
            .collect::<std::result::Result<Vec<_>, _>>()?
            .join(";");
        paint(color, &sgr, &text)
    };
    env.add_function("color_custom", custom);
    env.add_filter("color_custom", custom);
    for (name, sgr) in [
        ("color_black", "30"),
        ("color_red", "31"),
        ("color_green", "32"),
        ("color_yellow", "33"),
        ("color_blue", "34"),
        ("color_magenta", "35"),
        ("color_cyan", "36"),
        ("color_white", "37"),
    ] {
        let f = move |text: Value| paint(color, sgr, &text);
        env.add_function(name, f);
        env.add_filter(name, f);
    }
    let level_color = move |v: Value| -> String {
        let Some(word) = v.as_str() else {
            return String::new();
        };
        match stern_level_sgr(word) {
            Some(sgr) => painted(sgr, word, color),
            None => word.to_string(),
        }
    };
    env.add_function("level_color", level_color);
    env.add_filter("level_color", level_color);
    let bunyan = move |v: Value| -> String {
        let Some(n) = number(&v) else {
            return String::new();
        };
        let n = n as i64;
        let sgr = match n {
            n if n < 30 => "35",
            n if n < 40 => "34",
            n if n < 50 => "33",
            n if n < 60 => "31",
            n if n < 100 => "36",
            n => return n.to_string(),
        };
        painted(sgr, &n.to_string(), color)
    };
    env.add_function("bunyan_level_color", bunyan);
    env.add_filter("bunyan_level_color", bunyan);
}

/// stern's `levelColor` table, then ktail's synonyms (trace, err, crit…).
fn stern_level_sgr(word: &str) -> Option<&'static str> {
    Some(match word.to_ascii_lowercase().as_str() {
        "debug" => "35",
        "info" => "34",
        "warn" | "warning" => "33",
        "error" | "dpanic" | "panic" => "31",
        "fatal" | "critical" => "36",
        other => Level::from_word(other.as_bytes())?.sgr(),
    })
}

fn paint(color: bool, sgr: &str, text: &Value) -> std::result::Result<String, TemplateError> {
    if text.is_undefined() {
        return Err(TemplateError::from(ErrorKind::UndefinedError));
    }
    Ok(painted(sgr, &text.to_string(), color))
}

/// An SGR parameter list such as `96`, `1;31` or `38;2;255;97;136`.
fn sgr_text(v: &Value) -> std::result::Result<String, TemplateError> {
    let text = v.to_string();
    if text.split(';').all(|p| p.trim().parse::<u8>().is_ok()) {
        Ok(text.split(';').map(str::trim).collect::<Vec<_>>().join(";"))
    } else {
        Err(fail(format!(
            "'{text}' is not an SGR colour (numbers 0-255 separated by ';', e.g. 31 or 1;31)"
        )))
    }
}

fn number(v: &Value) -> Option<f64> {
    match v.kind() {
        ValueKind::Number => v
            .as_i64()
            .map(|n| n as f64)
            .or_else(|| f64::try_from(v.clone()).ok()),
        ValueKind::String => v.as_str()?.trim().parse().ok(),
        _ => None,
    }
}

/// A time from RFC3339 text, or epoch seconds (integer, fraction, or their text).
fn to_time(v: &Value) -> std::result::Result<jiff::Timestamp, TemplateError> {
    let bad = || {
        fail(format!(
            "cannot read {v} as a time (RFC3339 text or epoch seconds)"
        ))
    };
    let (secs, nanos) = if let Some(s) = v.as_str() {
        let s = s.trim();
        if let Ok(t) = s.parse::<jiff::Timestamp>() {
            return Ok(t);
        }
        // Decimal text is read exactly: a float cannot hold nanoseconds of today.
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        let secs: i64 = int.parse().map_err(|_| bad())?;
        if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let nanos = format!("{frac:0<9}").parse::<i64>().unwrap_or(0);
        (secs, if s.starts_with('-') { -nanos } else { nanos })
    } else if let Some(i) = v.as_i64() {
        (i, 0)
    } else {
        let f = number(v).ok_or_else(bad)?;
        (f.trunc() as i64, ((f - f.trunc()) * 1e9).round() as i64)
    };
    jiff::Timestamp::new(secs, nanos as i32)
        .map_err(|_| fail(format!("{v} is out of range for a time")))
}

/// RFC3339 with as many fractional digits as needed, like Go's RFC3339Nano.
fn rfc3339(z: &jiff::Zoned) -> String {
    let offset = z.offset();
    if offset.seconds() == 0 {
        return z.timestamp().to_string();
    }
    z.timestamp().display_with_offset(offset).to_string()
}

fn json_to_value(v: serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Null => Value::from(()),
        J::Bool(b) => Value::from(b),
        J::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::from(s),
        J::Array(a) => Value::from(a.into_iter().map(json_to_value).collect::<Vec<_>>()),
        J::Object(m) => Value::from(
            m.into_iter()
                .map(|(k, v)| (k, json_to_value(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}

fn value_to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v.kind() {
        ValueKind::Undefined | ValueKind::None => J::Null,
        ValueKind::Bool => J::Bool(v.is_true()),
        ValueKind::Number => match v.as_i64() {
            Some(i) => J::from(i),
            None => f64::try_from(v.clone())
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map_or(J::Null, J::Number),
        },
        ValueKind::String => J::String(v.as_str().unwrap_or_default().to_string()),
        ValueKind::Map => J::Object(
            v.try_iter()
                .into_iter()
                .flatten()
                .map(|k| {
                    let item = v.get_item(&k).unwrap_or_default();
                    (k.to_string(), value_to_json(&item))
                })
                .collect(),
        ),
        _ => match v.try_iter() {
            Ok(items) => J::Array(items.map(|i| value_to_json(&i)).collect()),
            Err(_) => J::String(v.to_string()),
        },
    }
}

fn text_arg(v: &Value) -> std::result::Result<String, TemplateError> {
    if v.is_undefined() {
        return Err(TemplateError::from(ErrorKind::UndefinedError));
    }
    Ok(match v.as_str() {
        Some(s) => s.to_string(),
        None => v.to_string(),
    })
}

fn parse_object(text: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Object(m)) => Some(m),
        _ => None,
    }
}

fn parse_json(text: Value) -> std::result::Result<Value, TemplateError> {
    let text = text_arg(&text)?;
    serde_json::from_str::<serde_json::Value>(&text)
        .map(json_to_value)
        .map_err(|e| fail(format!("parse_json: not JSON: {e}")))
}

fn try_parse_json(text: Value) -> Value {
    text_arg(&text)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .map_or(Value::from(()), json_to_value)
}

fn parts(obj: &serde_json::Map<String, serde_json::Value>, keys: &[String]) -> String {
    keys.iter()
        .map(|k| match obj.get(k) {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn extract_json_parts(
    text: Value,
    keys: Rest<String>,
) -> std::result::Result<String, TemplateError> {
    let text = text_arg(&text)?;
    let obj = parse_object(&text)
        .ok_or_else(|| fail("extract_json_parts: the text is not a JSON object"))?;
    Ok(parts(&obj, &keys))
}

fn try_extract_json_parts(
    text: Value,
    keys: Rest<String>,
) -> std::result::Result<String, TemplateError> {
    let text = text_arg(&text)?;
    Ok(match parse_object(&text) {
        Some(obj) => parts(&obj, &keys),
        None => text,
    })
}

/// stern's `prettyJSON`: a JSON text or a parsed value, indented by two spaces with
/// sorted keys; a text that is not a JSON object comes back as it is.
fn pretty_json(v: Value) -> std::result::Result<String, TemplateError> {
    let json = match v.as_str() {
        Some(text) => match parse_object(text) {
            Some(obj) => serde_json::Value::Object(obj),
            None => return Ok(text.to_string()),
        },
        None => value_to_json(&v),
    };
    serde_json::to_string_pretty(&json).map_err(|e| fail(e.to_string()))
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
            namespace: "prod",
            pod: "web-1",
            container: "app",
            node: "node-1",
            labels: &labels,
            annotations: &annotations,
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
