//! The functions templates can call: stern's template functions under snake_case names
//! (stern's `parseJSON` is `parse_json` here, `levelColor` is `level_color`…), usable as
//! functions and, where they take a text, as filters.
//!
//! Colour helpers print plain text when colour is off, and times are shown in
//! `--timezone`: both decisions are the run's, passed in when a template is compiled.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use minijinja::value::{Rest, ValueKind};
use minijinja::{Environment, Error as TemplateError, ErrorKind, Value};

use crate::render::color::{READABLE_BLUE, painted};
use crate::render::level::Level;

fn fail(msg: impl Into<String>) -> TemplateError {
    TemplateError::new(ErrorKind::InvalidOperation, msg.into())
}

/// The helpers, as functions and (where the first argument is a text) filters.
pub(crate) fn register(env: &mut Environment<'static>, color: bool, tz: TimeZone) {
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
            n if n < 40 => READABLE_BLUE,
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

/// stern's `levelColor` table, then ktail's synonyms (trace, err, crit…). Info is a
/// blue that dark terminals show too, as in the default output.
fn stern_level_sgr(word: &str) -> Option<&'static str> {
    Some(match word.to_ascii_lowercase().as_str() {
        "debug" => "35",
        "info" => READABLE_BLUE,
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
