//! How a log line looks: each container's rendering, built once, appends one record
//! per line to a `Vec<u8>`.
//!
//! Everything that is the same for every line of a container (the coloured pod and
//! container names, the JSON keys and values of the pod, a template's per-pod fields) is
//! rendered once, in `RenderSettings::target`; the per-line work is copying bytes and,
//! for JSON, escaping the message. Default, raw and json output allocate nothing per
//! line. Colour decisions (on or off, which palette) are made by `config`, never here,
//! and nothing here knows where a line came from beyond its `Origin`.

use std::io::Write;
use std::sync::Arc;

use jiff::tz::TimeZone;
use regex::bytes::Regex as BytesRegex;

use crate::render::Origin;
use crate::render::color::{self, Palette, paint};
use crate::render::json::{is_json, write_indented_json, write_json_inner, write_json_str};
use crate::render::level;
use crate::render::template::{self, LineTemplate, TargetFields};
use crate::render::time::{TimestampFormat, TimestampWriter};

/// Text output marks each record of a split line but its last with this at its end: the
/// line goes on in the container's next record. (JSON records carry `"continues": true`.)
pub(crate) const CONTINUES: &[u8] = b" [continues]";

/// How each line is rendered (`--output`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputMode {
    /// `pod container message`, coloured per pod.
    Default,
    /// The message alone.
    Raw,
    /// One JSON object per line with stern's keys.
    Json,
    /// `{"pod": …, "container": …, "message": …}`, the message embedded when it is JSON.
    Extjson,
    /// extjson over several lines, indented.
    Ppextjson,
}

/// How a run renders its lines, decided by `config` and shared by every tail.
#[derive(Debug, Clone)]
pub(crate) struct RenderSettings {
    pub(crate) mode: OutputMode,
    pub(crate) timestamps: Option<TimestampFormat>,
    /// The zone `--timestamps` are shown in.
    pub(crate) timezone: TimeZone,
    /// Colour log lines on stdout.
    pub(crate) color: bool,
    /// Colour notices on stderr.
    pub(crate) color_stderr: bool,
    /// Prefix lines with the namespace (several namespaces, or all of them, are watched).
    pub(crate) show_namespace: bool,
    /// Colour these matches in messages (`-H` and `-i` patterns; only when `color`).
    pub(crate) highlight: Option<Arc<BytesRegex>>,
    pub(crate) palette: Palette,
    /// `--template`: replaces `mode`.
    pub(crate) template: Option<Arc<LineTemplate>>,
    /// The same template compiled without colour, for `--output-dir` files.
    pub(crate) file_template: Option<Arc<LineTemplate>>,
}

/// A Kubernetes event as `--events` shows it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EventText<'a> {
    /// `Normal` or `Warning`.
    pub(crate) kind: &'a str,
    pub(crate) reason: &'a str,
    pub(crate) message: &'a str,
    pub(crate) count: i32,
    /// The component that reported it (`kubelet`, `default-scheduler`…).
    pub(crate) source: &'a str,
}

/// One container's rendering, built once when its tail starts.
#[derive(Debug)]
pub struct TargetFormat {
    mode: OutputMode,
    timestamps: Option<TimestampWriter>,
    highlight: Option<Arc<BytesRegex>>,
    /// Colour the level word of default output.
    level_color: bool,
    /// Default mode: `ns pod container `; json: `,"annotations":…,"podName":…}\n`;
    /// extjson and ppextjson: the object up to the message's value.
    prefix: Vec<u8>,
    template: Option<(Arc<LineTemplate>, Arc<TargetFields>)>,
    /// Reused for a template's timestamp field.
    scratch: Vec<u8>,
    /// The first line the template failed on, until a warning takes it; then `Reported`.
    template_failure: TemplateFailure,
    /// `+ pod › container` and `- pod › container` (stderr), with newline.
    added: Vec<u8>,
    removed: Vec<u8>,
}

#[derive(Debug)]
enum TemplateFailure {
    None,
    Pending(String),
    Reported,
}

impl RenderSettings {
    /// The rendering of `--output-dir` files: the records stdout gets, without colour and,
    /// in the default format, without the names the file's path already gives (`-t`
    /// timestamps stay), with the template compiled without colour.
    pub(crate) fn for_files(&self) -> RenderSettings {
        RenderSettings {
            mode: match self.mode {
                OutputMode::Default => OutputMode::Raw,
                other => other,
            },
            color: false,
            color_stderr: false,
            highlight: None,
            template: self.file_template.clone(),
            ..self.clone()
        }
    }

    /// The rendering of one container's lines.
    pub(crate) fn target(&self, o: &Origin<'_>) -> TargetFormat {
        let (pod_sgr, container_sgr) = self.palette.colors(o.pod, o.container);
        // Several clusters: the context leads, in a colour of its own name.
        let context_sgr = self.palette.colors(o.context, o.context).0;
        let mut prefix = Vec::new();
        match self.mode {
            OutputMode::Default => {
                if !o.context.is_empty() {
                    paint(&mut prefix, context_sgr, o.context, self.color);
                    prefix.push(b' ');
                }
                if self.show_namespace {
                    paint(&mut prefix, pod_sgr, o.namespace, self.color);
                    prefix.push(b' ');
                }
                paint(&mut prefix, pod_sgr, o.pod, self.color);
                prefix.push(b' ');
                paint(&mut prefix, container_sgr, o.container, self.color);
                prefix.push(b' ');
            }
            OutputMode::Raw => {}
            OutputMode::Json => {
                let mut rest = serde_json::json!({
                    "namespace": o.namespace,
                    "podName": o.pod,
                    "containerName": o.container,
                    "nodeName": o.node,
                    "labels": o.labels,
                    "annotations": o.annotations,
                });
                if o.previous {
                    rest["previous"] = serde_json::Value::Bool(true);
                }
                if !o.context.is_empty() {
                    rest["context"] = serde_json::Value::from(o.context);
                }
                // `{"annotations":…}` → `,"annotations":…}` so it can follow the message.
                let text = rest.to_string();
                prefix.push(b',');
                prefix.extend_from_slice(&text.as_bytes()[1..]);
                prefix.push(b'\n');
            }
            OutputMode::Extjson | OutputMode::Ppextjson => {
                // stern's layout, byte for byte: names are painted in place when colour
                // is on (the escape codes then sit raw inside the JSON strings, as in
                // stern, which is for terminals; pipes get no colour under --color auto).
                let pretty = self.mode == OutputMode::Ppextjson;
                prefix.extend_from_slice(if pretty { b"{\n  " } else { b"{" });
                let sep: &[u8] = if pretty { b",\n  " } else { b", " };
                let mut field = |key: &str, value: &str, sgr: &str| {
                    let _ = write!(prefix, "\"{key}\": ");
                    if self.color {
                        let _ = write!(prefix, "\"\x1b[{sgr}m");
                        write_json_inner(&mut prefix, value.as_bytes());
                        prefix.extend_from_slice(b"\x1b[0m\"");
                    } else {
                        write_json_str(&mut prefix, value.as_bytes());
                    }
                    prefix.extend_from_slice(sep);
                };
                if !o.context.is_empty() {
                    field("context", o.context, context_sgr);
                }
                if self.show_namespace {
                    field("namespace", o.namespace, pod_sgr);
                }
                field("pod", o.pod, pod_sgr);
                field("container", o.container, container_sgr);
            }
        }
        let notice = |sign: &str, sign_sgr: &str| {
            let mut n = Vec::new();
            paint(&mut n, sign_sgr, sign, self.color_stderr);
            n.push(b' ');
            if !o.context.is_empty() {
                paint(&mut n, context_sgr, o.context, self.color_stderr);
                n.push(b' ');
            }
            if self.show_namespace {
                paint(&mut n, pod_sgr, o.namespace, self.color_stderr);
                n.push(b' ');
            }
            paint(&mut n, pod_sgr, o.pod, self.color_stderr);
            n.extend_from_slice(" › ".as_bytes());
            paint(&mut n, container_sgr, o.container, self.color_stderr);
            if o.previous {
                n.extend_from_slice(b" (previous instance)");
            }
            n.push(b'\n');
            n
        };
        let template = self.template.clone().map(|tmpl| {
            let fields = TargetFields::new(o, (pod_sgr, container_sgr));
            (tmpl, Arc::new(fields))
        });
        TargetFormat {
            mode: self.mode,
            timestamps: self
                .timestamps
                .map(|f| TimestampWriter::new(f, self.timezone.clone())),
            highlight: self.highlight.clone().filter(|_| self.color),
            level_color: self.color && self.mode == OutputMode::Default,
            added: notice("+", "1;92"),
            removed: notice("-", "1;91"),
            prefix,
            template,
            scratch: Vec::new(),
            template_failure: TemplateFailure::None,
        }
    }
}

impl TargetFormat {
    /// Appends one record for `message` (without its newline), logged at `timestamp`
    /// (the API's RFC3339 text, whole `second` parsed from it; both may be absent).
    pub fn write_line(
        &mut self,
        out: &mut Vec<u8>,
        timestamp: &[u8],
        second: Option<i64>,
        message: &[u8],
    ) {
        if self.template.is_some() {
            self.write_template(out, timestamp, second, message);
            return;
        }
        match self.mode {
            OutputMode::Default | OutputMode::Raw => {
                out.extend_from_slice(&self.prefix);
                if let Some(ts) = self.timestamps.as_mut() {
                    ts.write(out, timestamp, second);
                    out.push(b' ');
                }
                let word = if self.level_color {
                    level::detect(message).and_then(|d| Some((d.level, d.span?)))
                } else {
                    None
                };
                match word {
                    Some((level, span)) => {
                        self.write_message(out, &message[..span.start]);
                        let _ = write!(out, "\x1b[{}m", level.sgr());
                        out.extend_from_slice(&message[span.clone()]);
                        out.extend_from_slice(b"\x1b[0m");
                        self.write_message(out, &message[span.end..]);
                    }
                    None => self.write_message(out, message),
                }
                out.push(b'\n');
            }
            OutputMode::Json => {
                json_head(out, timestamp, message);
                out.extend_from_slice(&self.prefix);
            }
            OutputMode::Extjson | OutputMode::Ppextjson => {
                let pretty = self.extjson_head(out, timestamp, second);
                if is_json(message) {
                    if pretty {
                        write_indented_json(out, message, 1);
                    } else {
                        out.extend_from_slice(message.trim_ascii());
                    }
                } else {
                    write_json_str(out, message);
                }
                out.extend_from_slice(if pretty { b"\n}\n" } else { b"}\n" });
            }
        }
    }

    /// Whether a line longer than a piece can be one record whose bytes follow each other
    /// unchanged: default and raw output without a template.
    pub(crate) fn streams(&self) -> bool {
        self.template.is_none() && matches!(self.mode, OutputMode::Default | OutputMode::Raw)
    }

    /// A streamed long line's start: the prefix, the timestamp and its first bytes, without
    /// a newline (see `streams`).
    pub(crate) fn write_start(
        &mut self,
        out: &mut Vec<u8>,
        timestamp: &[u8],
        second: Option<i64>,
        piece: &[u8],
    ) {
        out.extend_from_slice(&self.prefix);
        if let Some(ts) = self.timestamps.as_mut() {
            ts.write(out, timestamp, second);
            out.push(b' ');
        }
        self.write_message(out, piece);
    }

    /// More bytes of a streamed long line.
    pub(crate) fn write_more(&self, out: &mut Vec<u8>, piece: &[u8]) {
        self.write_message(out, piece);
    }

    /// The end of a streamed long line's record: its newline, after `CONTINUES` when the
    /// line goes on in a record of its own.
    pub(crate) fn write_end(&self, out: &mut Vec<u8>, continues: bool) {
        if continues {
            out.extend_from_slice(CONTINUES);
        }
        out.push(b'\n');
    }

    /// One record for a piece of a long line, where a format needs whole records (JSON,
    /// templates, filters): `continues` on every piece but the last.
    pub(crate) fn write_piece(
        &mut self,
        out: &mut Vec<u8>,
        timestamp: &[u8],
        second: Option<i64>,
        piece: &[u8],
        continues: bool,
    ) {
        if !continues {
            self.write_line(out, timestamp, second, piece);
            return;
        }
        if self.template.is_some() {
            // The template sees the marker at the end of the message.
            let mut marked = Vec::with_capacity(piece.len() + CONTINUES.len());
            marked.extend_from_slice(piece);
            marked.extend_from_slice(CONTINUES);
            self.write_template(out, timestamp, second, &marked);
            return;
        }
        match self.mode {
            OutputMode::Default | OutputMode::Raw => {
                self.write_line(out, timestamp, second, piece);
                out.pop();
                self.write_end(out, true);
            }
            OutputMode::Json => {
                json_head(out, timestamp, piece);
                out.extend_from_slice(b",\"continues\":true");
                out.extend_from_slice(&self.prefix);
            }
            OutputMode::Extjson | OutputMode::Ppextjson => {
                let pretty = self.extjson_head(out, timestamp, second);
                // A piece of a JSON document is not one: always a string.
                write_json_str(out, piece);
                out.extend_from_slice(if pretty {
                    b",\n  \"continues\": true\n}\n"
                } else {
                    b", \"continues\": true}\n"
                });
            }
        }
    }

    /// Appends one Kubernetes event of the container's pod (`--events`) where its log
    /// lines go: with the same prefix and an `[TYPE REASON]` marker, or in JSON with an
    /// `event` object that log lines never carry.
    pub(crate) fn write_event(
        &mut self,
        out: &mut Vec<u8>,
        timestamp: &[u8],
        second: Option<i64>,
        ev: &EventText<'_>,
    ) {
        let times = if ev.count > 1 {
            format!(" ({} times)", ev.count)
        } else {
            String::new()
        };
        let event_json = |out: &mut Vec<u8>| {
            let obj = serde_json::json!({
                "type": ev.kind,
                "reason": ev.reason,
                "count": ev.count,
                "source": ev.source,
            });
            out.extend_from_slice(obj.to_string().as_bytes());
        };
        match self.mode {
            OutputMode::Json if self.template.is_none() => {
                out.extend_from_slice(b"{\"message\":");
                write_json_str(out, ev.message.as_bytes());
                if !timestamp.is_empty() {
                    out.extend_from_slice(b",\"timestamp\":");
                    write_json_str(out, timestamp);
                }
                out.extend_from_slice(b",\"event\":");
                event_json(out);
                out.extend_from_slice(&self.prefix);
            }
            OutputMode::Extjson | OutputMode::Ppextjson if self.template.is_none() => {
                let pretty = self.extjson_head(out, timestamp, second);
                write_json_str(out, format!("{}{times}", ev.message).as_bytes());
                out.extend_from_slice(if pretty {
                    b",\n  \"event\": "
                } else {
                    b", \"event\": "
                });
                event_json(out);
                out.extend_from_slice(if pretty { b"\n}\n" } else { b"}\n" });
            }
            _ => {
                let marker = format!("[{} {}]", ev.kind, ev.reason);
                let sgr = if ev.kind == "Warning" { "1;33" } else { "1;34" };
                let mut text = Vec::new();
                paint(&mut text, sgr, &marker, self.level_color);
                text.extend_from_slice(format!(" {}{times}", ev.message).as_bytes());
                self.write_line(out, timestamp, second, &text);
            }
        }
    }

    /// An extjson record up to its message's value; whether it is ppextjson.
    fn extjson_head(&mut self, out: &mut Vec<u8>, timestamp: &[u8], second: Option<i64>) -> bool {
        let pretty = self.mode == OutputMode::Ppextjson;
        out.extend_from_slice(&self.prefix);
        if let Some(ts) = self.timestamps.as_mut() {
            out.extend_from_slice(b"\"timestamp\": \"");
            ts.write(out, timestamp, second);
            out.extend_from_slice(if pretty { b"\",\n  " } else { b"\", " });
        }
        out.extend_from_slice(b"\"message\": ");
        pretty
    }

    fn write_message(&self, out: &mut Vec<u8>, part: &[u8]) {
        match &self.highlight {
            Some(re) => color::highlight(out, re, part),
            None => out.extend_from_slice(part),
        }
    }

    /// The template's record; the timestamp is shown as `-t` asks, else as the API sent
    /// it. A newline is added when the rendered text lacks one; an empty rendering prints
    /// nothing. A line the template fails on (parse_json of a line that is not JSON, a
    /// missing key) is printed as its bare message, so no line is lost; the first
    /// failure waits in `take_template_failure` for a warning.
    fn write_template(
        &mut self,
        out: &mut Vec<u8>,
        timestamp: &[u8],
        second: Option<i64>,
        message: &[u8],
    ) {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        match self.timestamps.as_mut() {
            Some(ts) => ts.write(&mut scratch, timestamp, second),
            None => scratch.extend_from_slice(timestamp),
        }
        let Some((tmpl, fields)) = &self.template else {
            return;
        };
        let start = out.len();
        let rendered = tmpl.render(
            out,
            fields,
            &String::from_utf8_lossy(&scratch),
            &String::from_utf8_lossy(message),
        );
        self.scratch = scratch;
        if let Err(e) = rendered {
            out.truncate(start);
            out.extend_from_slice(message);
            if matches!(self.template_failure, TemplateFailure::None) {
                self.template_failure = TemplateFailure::Pending(template::describe(&e));
            }
        }
        if out.len() > start && out.last() != Some(&b'\n') {
            out.push(b'\n');
        }
    }

    /// Why the template failed on a line, once per container: the caller warns, so a
    /// template that does not fit the logs is noticed rather than silently bypassed.
    pub fn take_template_failure(&mut self) -> Option<String> {
        match std::mem::replace(&mut self.template_failure, TemplateFailure::Reported) {
            TemplateFailure::Pending(why) => Some(why),
            other => {
                self.template_failure = other;
                None
            }
        }
    }

    pub fn added_notice(&self) -> &[u8] {
        &self.added
    }

    pub fn removed_notice(&self) -> &[u8] {
        &self.removed
    }
}

/// A json record's message and timestamp, before the container's keys.
fn json_head(out: &mut Vec<u8>, timestamp: &[u8], message: &[u8]) {
    out.extend_from_slice(b"{\"message\":");
    write_json_str(out, message);
    if !timestamp.is_empty() {
        out.extend_from_slice(b",\"timestamp\":");
        write_json_str(out, timestamp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::color::color_pair;
    use std::collections::BTreeMap;
    use std::sync::LazyLock;

    fn origin(ns: &'static str, pod: &'static str, c: &'static str) -> Origin<'static> {
        static LABELS: LazyLock<BTreeMap<String, String>> =
            LazyLock::new(|| [("app".to_string(), "web".to_string())].into());
        static ANNOTATIONS: LazyLock<BTreeMap<String, String>> =
            LazyLock::new(|| [("team".to_string(), "core".to_string())].into());
        Origin {
            context: "",
            namespace: ns,
            pod,
            container: c,
            node: "node-1",
            labels: &LABELS,
            annotations: &ANNOTATIONS,
            previous: false,
        }
    }

    fn fmt(mode: OutputMode, color: bool, ns: bool, ts: Option<TimestampFormat>) -> RenderSettings {
        RenderSettings {
            mode,
            timestamps: ts,
            color,
            color_stderr: color,
            show_namespace: ns,
            timezone: TimeZone::UTC,
            highlight: None,
            palette: Palette::default(),
            template: None,
            file_template: None,
        }
    }

    const TS: &[u8] = b"2024-01-02T03:04:05.123456789Z";
    const SECOND: Option<i64> = Some(1_704_164_645);

    #[test]
    fn default_line_without_colour() {
        let mut f =
            fmt(OutputMode::Default, false, false, None).target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(&mut out, TS, SECOND, b"hello");
        assert_eq!(out, b"web-1 app hello\n");
        let mut f = fmt(
            OutputMode::Default,
            false,
            true,
            Some(TimestampFormat::Default),
        )
        .target(&origin("p", "web-1", "app"));
        out.clear();
        f.write_line(&mut out, TS, SECOND, b"hello");
        assert_eq!(
            out, b"p web-1 app 2024-01-02T03:04:05.123456789Z hello\n",
            "UTC is written Z"
        );
    }

    #[test]
    fn files_get_the_records_without_colour_or_names() {
        let t = origin("p", "web-1", "app");
        let mut coloured = fmt(
            OutputMode::Default,
            true,
            true,
            Some(TimestampFormat::Default),
        );
        coloured.highlight = Some(Arc::new(BytesRegex::new("ERROR").unwrap()));
        let mut out = Vec::new();
        let mut file = coloured.for_files().target(&t);
        file.write_line(&mut out, TS, SECOND, b"level=error ERROR here");
        assert_eq!(
            out, b"2024-01-02T03:04:05.123456789Z level=error ERROR here\n",
            "the path says pod and container; files get no colour"
        );
        out.clear();
        let mut file = fmt(OutputMode::Extjson, true, false, None)
            .for_files()
            .target(&t);
        file.write_line(&mut out, TS, SECOND, b"{\"a\":1}");
        assert_eq!(
            out,
            b"{\"pod\": \"web-1\", \"container\": \"app\", \"message\": {\"a\":1}}\n"
        );
    }

    #[test]
    fn default_line_with_stern_colours() {
        let (pod, container) = color_pair("web-1");
        let mut f =
            fmt(OutputMode::Default, true, false, None).target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(&mut out, TS, SECOND, b"hi");
        let want = format!("\x1b[{pod}mweb-1\x1b[0m \x1b[{container}mapp\x1b[0m hi\n");
        assert_eq!(String::from_utf8(out).unwrap(), want);
        assert_eq!(
            pod.parse::<u8>().unwrap(),
            container.parse::<u8>().unwrap() + 60,
            "bright and normal of one pair"
        );
    }

    #[test]
    fn timestamps_in_a_time_zone() {
        let mut f = fmt(
            OutputMode::Raw,
            false,
            false,
            Some(TimestampFormat::Default),
        );
        f.timezone = TimeZone::get("Asia/Kolkata").unwrap();
        let mut t = f.target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, b"m");
        assert_eq!(out, b"2024-01-02T08:34:05.123456789+05:30 m\n");
        f.timezone = TimeZone::get("America/New_York").unwrap();
        f.timestamps = Some(TimestampFormat::Short);
        let mut t = f.target(&origin("p", "web-1", "app"));
        out.clear();
        t.write_line(&mut out, TS, SECOND, b"m");
        assert_eq!(out, b"01-01 22:04:05 m\n");
        // A short fraction is padded; a line without a timestamp prints as sent.
        let mut t = fmt(
            OutputMode::Raw,
            false,
            false,
            Some(TimestampFormat::Default),
        )
        .target(&origin("p", "web-1", "app"));
        out.clear();
        t.write_line(&mut out, b"2024-01-02T03:04:05.5Z", SECOND, b"m");
        assert_eq!(out, b"2024-01-02T03:04:05.500000000Z m\n");
    }

    #[test]
    fn highlight_paints_message_matches_only_with_colour() {
        let mut f = fmt(OutputMode::Default, true, false, None);
        f.highlight = Some(Arc::new(BytesRegex::new("web|err").unwrap()));
        let mut t = f.target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, b"an err here");
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with(" an \x1b[1;31merr\x1b[0m here\n"),
            "{text:?}"
        );
        assert!(
            !text.contains("\x1b[1;31mweb"),
            "the prefix is not highlighted: {text:?}"
        );
        f.color = false;
        let mut t = f.target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, b"an err here");
        assert_eq!(out, b"web-1 app an err here\n");
    }

    #[test]
    fn a_custom_palette_paints_the_prefix() {
        let mut f = fmt(OutputMode::Default, true, false, None);
        f.palette = Palette::new(vec![("91".into(), "92".into())], false);
        let mut t = f.target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, b"m");
        assert_eq!(out, b"\x1b[91mweb-1\x1b[0m \x1b[92mapp\x1b[0m m\n");
    }

    #[test]
    fn default_output_colours_the_level_word() {
        let mut t =
            fmt(OutputMode::Default, true, false, None).target(&origin("p", "web-1", "app"));
        let (pod, c) = color_pair("web-1");
        let prefix = format!("\x1b[{pod}mweb-1\x1b[0m \x1b[{c}mapp\x1b[0m ");
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, b"ts=1 level=error msg=x");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{prefix}ts=1 level=\x1b[31merror\x1b[0m msg=x\n")
        );
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, br#"{"level":"warn","m":1}"#);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{prefix}{{\"level\":\"\x1b[33mwarn\x1b[0m\",\"m\":1}}\n")
        );
        // Without colour the line is untouched.
        let mut t =
            fmt(OutputMode::Default, false, false, None).target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, b"level=error");
        assert_eq!(out, b"web-1 app level=error\n");
    }

    #[test]
    fn raw_and_short_timestamps() {
        let mut f = fmt(OutputMode::Raw, true, true, Some(TimestampFormat::Short))
            .target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(&mut out, TS, SECOND, b"msg");
        assert_eq!(out, b"01-02 03:04:05 msg\n");
    }

    #[test]
    fn json_carries_stern_keys_and_raw_message() {
        let mut f = fmt(OutputMode::Json, true, false, None).target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(&mut out, TS, SECOND, b"{\"level\":\"info\"} \xff \"q\"");
        assert_eq!(out.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["message"], "{\"level\":\"info\"} \u{fffd} \"q\"");
        assert_eq!(v["timestamp"], "2024-01-02T03:04:05.123456789Z");
        assert_eq!(v["namespace"], "p");
        assert_eq!(v["podName"], "web-1");
        assert_eq!(v["containerName"], "app");
        assert_eq!(v["nodeName"], "node-1");
        assert_eq!(v["labels"]["app"], "web");
        assert_eq!(v["annotations"]["team"], "core");
        assert!(!String::from_utf8_lossy(&out).contains('\x1b'));
    }

    #[test]
    fn extjson_embeds_json_messages_and_quotes_others() {
        let mut f =
            fmt(OutputMode::Extjson, false, false, None).target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(&mut out, TS, SECOND, br#"{"level":"info","n":1}"#);
        f.write_line(&mut out, TS, SECOND, b"plain \"text\"");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            concat!(
                r#"{"pod": "web-1", "container": "app", "message": {"level":"info","n":1}}"#,
                "\n",
                r#"{"pod": "web-1", "container": "app", "message": "plain \"text\""}"#,
                "\n"
            )
        );
        // Namespace when several are watched, timestamp with -t.
        let mut f = fmt(
            OutputMode::Extjson,
            false,
            true,
            Some(TimestampFormat::Default),
        )
        .target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(&mut out, TS, SECOND, b"42");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"namespace\": \"p\", \"pod\": \"web-1\", \"container\": \"app\", \"timestamp\": \"2024-01-02T03:04:05.123456789Z\", \"message\": 42}\n"
        );
    }

    #[test]
    fn extjson_with_colour_paints_names_like_stern() {
        let mut f =
            fmt(OutputMode::Extjson, true, false, None).target(&origin("p", "web-1", "app"));
        let (pod, c) = color_pair("web-1");
        let mut out = Vec::new();
        f.write_line(&mut out, TS, SECOND, b"m");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "{{\"pod\": \"\x1b[{pod}mweb-1\x1b[0m\", \"container\": \"\x1b[{c}mapp\x1b[0m\", \"message\": \"m\"}}\n"
            )
        );
    }

    #[test]
    fn ppextjson_indents_the_record_and_an_embedded_message() {
        let mut f =
            fmt(OutputMode::Ppextjson, false, false, None).target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(
            &mut out,
            TS,
            SECOND,
            br#"{"b":[1, {"c":"x,}"}],"e":{},"a":"q\"}"}"#,
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            r#"{
  "pod": "web-1",
  "container": "app",
  "message": {
    "b": [
      1,
      {
        "c": "x,}"
      }
    ],
    "e": {},
    "a": "q\"}"
  }
}
"#
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["message"]["b"][1]["c"], "x,}");
        let mut out = Vec::new();
        f.write_line(&mut out, TS, SECOND, b"not json {");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n  \"pod\": \"web-1\",\n  \"container\": \"app\",\n  \"message\": \"not json {\"\n}\n"
        );
    }

    #[test]
    fn templates_render_per_line_add_newlines_and_fall_back() {
        let mut f = fmt(OutputMode::Default, false, false, None);
        f.template = Some(Arc::new(
            LineTemplate::compile(
                "{% if message != 'skip' %}{{ pod }}/{{ container }} {{ (message | parse_json).msg }}{% endif %}".into(),
                "--template",
                false,
                TimeZone::UTC,
            )
            .unwrap(),
        ));
        let mut t = f.target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, br#"{"msg":"hi"}"#);
        t.write_line(&mut out, TS, SECOND, b"skip");
        t.write_line(&mut out, TS, SECOND, b"not json");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "web-1/app hi\nnot json\n",
            "newline added, empty record dropped, failed record printed bare"
        );
        // A template that ends its own lines gets no second newline.
        f.template = Some(Arc::new(
            LineTemplate::compile(
                "{{ message }}{{ '\\n' }}".into(),
                "--template",
                false,
                TimeZone::UTC,
            )
            .unwrap(),
        ));
        f.timestamps = Some(TimestampFormat::Short);
        let mut t = f.target(&origin("p", "web-1", "app"));
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, b"a");
        assert_eq!(out, b"a\n");
    }

    #[test]
    fn pieces_of_a_long_line_stream_or_carry_a_marker() {
        let o = origin("p", "web-1", "app");
        let mut f = fmt(OutputMode::Default, false, false, None).target(&o);
        assert!(f.streams());
        let mut out = Vec::new();
        f.write_start(&mut out, TS, SECOND, b"aa");
        f.write_more(&mut out, b"bb");
        f.write_end(&mut out, false);
        f.write_start(&mut out, TS, SECOND, b"cc");
        f.write_end(&mut out, true);
        f.write_piece(&mut out, TS, SECOND, b"dd", true);
        f.write_piece(&mut out, TS, SECOND, b"ee", false);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "web-1 app aabb\nweb-1 app cc [continues]\nweb-1 app dd [continues]\nweb-1 app ee\n"
        );
        let mut f = fmt(OutputMode::Json, false, false, None).target(&o);
        assert!(!f.streams());
        let mut out = Vec::new();
        f.write_piece(&mut out, TS, SECOND, b"{\"a\":", true);
        f.write_piece(&mut out, TS, SECOND, b"1}", false);
        let records: Vec<serde_json::Value> = out
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(records[0]["message"], "{\"a\":");
        assert_eq!(records[0]["continues"], true);
        assert_eq!(records[0]["podName"], "web-1");
        assert_eq!(records[1]["message"], "1}");
        assert_eq!(records[1].get("continues"), None);
        for mode in [OutputMode::Extjson, OutputMode::Ppextjson] {
            let mut f = fmt(mode, false, false, None).target(&o);
            let mut out = Vec::new();
            f.write_piece(&mut out, TS, SECOND, b"{\"a\":", true);
            let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(
                (&v["message"], &v["continues"]),
                (&"{\"a\":".into(), &true.into())
            );
        }
    }

    #[test]
    fn events_have_a_marker_or_an_event_object() {
        let ev = EventText {
            kind: "Warning",
            reason: "BackOff",
            message: "Back-off restarting failed container app",
            count: 3,
            source: "kubelet",
        };
        let mut out = Vec::new();
        fmt(OutputMode::Default, false, false, None)
            .target(&origin("p", "web-1", "app"))
            .write_event(&mut out, TS, SECOND, &ev);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "web-1 app [Warning BackOff] Back-off restarting failed container app (3 times)\n"
        );
        let mut out = Vec::new();
        fmt(OutputMode::Json, false, false, None)
            .target(&origin("p", "web-1", "app"))
            .write_event(&mut out, TS, SECOND, &ev);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["message"], "Back-off restarting failed container app");
        assert_eq!(v["podName"], "web-1");
        assert_eq!(
            v["event"],
            serde_json::json!({"type": "Warning", "reason": "BackOff", "count": 3, "source": "kubelet"})
        );
        let mut out = Vec::new();
        fmt(OutputMode::Extjson, false, false, None)
            .target(&origin("p", "web-1", "app"))
            .write_event(&mut out, TS, SECOND, &ev);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["event"]["reason"], "BackOff");
    }

    #[test]
    fn a_previous_instance_says_so() {
        let mut o = origin("p", "web-1", "app");
        o.previous = true;
        let mut f = fmt(OutputMode::Json, false, false, None).target(&o);
        assert_eq!(
            f.added_notice(),
            "+ web-1 › app (previous instance)\n".as_bytes()
        );
        let mut out = Vec::new();
        f.write_line(&mut out, TS, SECOND, b"m");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["previous"], true);
        let mut out = Vec::new();
        let mut current =
            fmt(OutputMode::Json, false, false, None).target(&origin("p", "web-1", "app"));
        current.write_line(&mut out, TS, SECOND, b"m");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v.get("previous"),
            None,
            "the current instance's lines keep stern's keys"
        );
    }

    #[test]
    fn notices() {
        let f = fmt(OutputMode::Default, false, true, None).target(&origin("p", "web-1", "app"));
        assert_eq!(f.added_notice(), "+ p web-1 › app\n".as_bytes());
        assert_eq!(f.removed_notice(), "- p web-1 › app\n".as_bytes());
    }
}
