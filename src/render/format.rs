//! How a log line looks on stdout: pure functions that append one record to a `Vec<u8>`.
//!
//! Everything that is the same for every line of a container (the coloured pod and
//! container names, the JSON keys and values of the pod, a template's per-pod fields) is
//! rendered once per target in `Formatter::for_target`; the per-line work is copying
//! bytes and, for JSON, escaping the message. Default, raw and json output allocate
//! nothing per line. Colour decisions (on or off, which palette) are made by `config`,
//! never here.

use std::io::Write;
use std::sync::Arc;

use jiff::tz::TimeZone;
use regex::bytes::Regex as BytesRegex;

use crate::cli::{OutputMode, TimestampFormat};
use crate::render::level;
use crate::kube::target::Target;
use crate::render::template::{LineTemplate, TargetFields};

/// stern's palette: a name's FNV-1 hash picks a pair; the pod is written in the bright
/// colour, its containers in the normal one (SGR codes).
const PALETTE: [(&str, &str); 6] = [
    ("96", "36"),
    ("92", "32"),
    ("95", "35"),
    ("93", "33"),
    ("94", "34"),
    ("91", "31"),
];

/// The colour pair of a pod in stern's palette, stable across runs and machines.
pub fn color_pair(pod: &str) -> (&'static str, &'static str) {
    PALETTE[(fnv1_32(pod.as_bytes()) % PALETTE.len() as u32) as usize]
}

/// FNV-1 (multiply, then xor), 32 bits: Go's `hash/fnv.New32`, which stern uses, so a pod
/// has the same colour in stern and in ktail.
fn fnv1_32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h = h.wrapping_mul(0x0100_0193);
        h ^= u32::from(*b);
    }
    h
}

/// Which colours pods and containers get: stern's pairs, or the user's lists
/// (`--pod-colors`, `--container-colors`), and whether a container is coloured by its own
/// name (`--diff-container`). Built by `config`, which validates the lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Palette {
    /// (pod SGR, container SGR) pairs; never empty.
    pairs: Vec<(String, String)>,
    diff_container: bool,
}

impl Default for Palette {
    fn default() -> Palette {
        Palette::new(Vec::new(), false)
    }
}

impl Palette {
    /// `pairs` empty means stern's palette.
    pub fn new(pairs: Vec<(String, String)>, diff_container: bool) -> Palette {
        let pairs = if pairs.is_empty() {
            PALETTE
                .iter()
                .map(|(p, c)| (p.to_string(), c.to_string()))
                .collect()
        } else {
            pairs
        };
        Palette {
            pairs,
            diff_container,
        }
    }

    /// The SGR codes of a pod's name and of one of its containers' names.
    pub fn colors(&self, pod: &str, container: &str) -> (&str, &str) {
        let pick = |name: &str| &self.pairs[(fnv1_32(name.as_bytes()) as usize) % self.pairs.len()];
        let (pod_sgr, container_sgr) = pick(pod);
        if self.diff_container {
            (pod_sgr, &pick(container).1)
        } else {
            (pod_sgr, container_sgr)
        }
    }
}

fn paint(out: &mut Vec<u8>, sgr: &str, text: &str, color: bool) {
    if color {
        let _ = write!(out, "\x1b[{sgr}m{text}\x1b[0m");
    } else {
        out.extend_from_slice(text.as_bytes());
    }
}

/// Output settings shared by all targets.
#[derive(Debug, Clone)]
pub struct Formatter {
    pub mode: OutputMode,
    pub timestamps: Option<TimestampFormat>,
    pub color: bool,
    pub color_stderr: bool,
    /// Prefix lines with the namespace (several namespaces, or all of them, are watched).
    pub show_namespace: bool,
    /// The zone `--timestamps` are shown in.
    pub timezone: TimeZone,
    /// Colour matches in messages (only applied when `color` is on).
    pub highlight: Option<Arc<BytesRegex>>,
    pub palette: Palette,
    /// `--template`: replaces `mode`.
    pub template: Option<Arc<LineTemplate>>,
}

/// Per-container rendering, built once when the container's tail starts.
#[derive(Debug)]
pub struct TargetFormat {
    mode: OutputMode,
    timestamps: Option<TimestampFormat>,
    timezone: TimeZone,
    /// The zone offset of the last second rendered: one zone lookup per second of logs.
    offset_cache: (i64, i32),
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

impl Formatter {
    /// The output settings of a run.
    pub fn from_config(cfg: &crate::config::Config, show_namespace: bool) -> Formatter {
        Formatter {
            mode: cfg.output,
            timestamps: cfg.timestamps,
            color: cfg.color,
            color_stderr: cfg.color_stderr,
            show_namespace,
            timezone: cfg.timezone.clone(),
            highlight: cfg.highlight.clone().map(Arc::new),
            palette: cfg.palette.clone(),
            template: cfg.template.clone(),
        }
    }

    /// The rendering of `--output-dir` files: the records stdout gets, without colour and,
    /// in the default format, without the names the file's path already gives (`-t`
    /// timestamps stay). `template` is the run's template compiled without colour.
    pub fn for_files(&self, template: Option<Arc<LineTemplate>>) -> Formatter {
        Formatter {
            mode: match self.mode {
                OutputMode::Default => OutputMode::Raw,
                other => other,
            },
            color: false,
            color_stderr: false,
            highlight: None,
            template,
            ..self.clone()
        }
    }

    pub fn for_target(&self, t: &Target) -> TargetFormat {
        let k = &t.key;
        let (pod_sgr, container_sgr) = self.palette.colors(&k.pod, &k.container);
        let mut prefix = Vec::new();
        match self.mode {
            OutputMode::Default => {
                if self.show_namespace {
                    paint(&mut prefix, pod_sgr, &k.namespace, self.color);
                    prefix.push(b' ');
                }
                paint(&mut prefix, pod_sgr, &k.pod, self.color);
                prefix.push(b' ');
                paint(&mut prefix, container_sgr, &k.container, self.color);
                prefix.push(b' ');
            }
            OutputMode::Raw => {}
            OutputMode::Json => {
                let rest = serde_json::json!({
                    "namespace": k.namespace,
                    "podName": k.pod,
                    "containerName": k.container,
                    "nodeName": t.pod_info.node,
                    "labels": t.pod_info.labels,
                    "annotations": t.pod_info.annotations,
                });
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
                if self.show_namespace {
                    field("namespace", &k.namespace, pod_sgr);
                }
                field("pod", &k.pod, pod_sgr);
                field("container", &k.container, container_sgr);
            }
        }
        let notice = |sign: &str, sign_sgr: &str| {
            let mut n = Vec::new();
            paint(&mut n, sign_sgr, sign, self.color_stderr);
            n.push(b' ');
            if self.show_namespace {
                paint(&mut n, pod_sgr, &k.namespace, self.color_stderr);
                n.push(b' ');
            }
            paint(&mut n, pod_sgr, &k.pod, self.color_stderr);
            n.extend_from_slice(" › ".as_bytes());
            paint(&mut n, container_sgr, &k.container, self.color_stderr);
            n.push(b'\n');
            n
        };
        let template = self.template.clone().map(|tmpl| {
            let fields = TargetFields::new(
                (&k.namespace, &k.pod, &k.container, &t.pod_info.node),
                &t.pod_info.labels,
                &t.pod_info.annotations,
                (pod_sgr, container_sgr),
            );
            (tmpl, Arc::new(fields))
        });
        TargetFormat {
            mode: self.mode,
            timestamps: self.timestamps,
            timezone: self.timezone.clone(),
            offset_cache: (i64::MIN, 0),
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
                if let Some(f) = self.timestamps {
                    self.write_timestamp(out, f, timestamp, second);
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
                out.extend_from_slice(b"{\"message\":");
                write_json_str(out, message);
                if !timestamp.is_empty() {
                    out.extend_from_slice(b",\"timestamp\":");
                    write_json_str(out, timestamp);
                }
                out.extend_from_slice(&self.prefix);
            }
            OutputMode::Extjson | OutputMode::Ppextjson => {
                let pretty = self.mode == OutputMode::Ppextjson;
                out.extend_from_slice(&self.prefix);
                if let Some(f) = self.timestamps {
                    out.extend_from_slice(b"\"timestamp\": \"");
                    self.write_timestamp(out, f, timestamp, second);
                    out.extend_from_slice(if pretty { b"\",\n  " } else { b"\", " });
                }
                out.extend_from_slice(b"\"message\": ");
                if is_json(message) {
                    if pretty {
                        write_indented_json(out, message, 1);
                    } else {
                        out.extend_from_slice(trim_ascii(message));
                    }
                } else {
                    write_json_str(out, message);
                }
                out.extend_from_slice(if pretty { b"\n}\n" } else { b"}\n" });
            }
        }
    }

    fn write_message(&self, out: &mut Vec<u8>, part: &[u8]) {
        match &self.highlight {
            Some(re) => highlight(out, re, part),
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
        match self.timestamps {
            Some(f) => self.write_timestamp(&mut scratch, f, timestamp, second),
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
                self.template_failure = TemplateFailure::Pending(crate::render::template::describe(&e));
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

/// Whether `message` is one JSON value (stern's `json.Valid`), checked without building it.
fn is_json(message: &[u8]) -> bool {
    matches!(
        trim_ascii(message).first(),
        Some(b'{' | b'[' | b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9')
    ) && serde_json::from_slice::<serde::de::IgnoredAny>(message).is_ok()
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Re-indents valid JSON two spaces per level, starting at `depth`, keeping its key order
/// and number text: a streaming pass over the bytes, nothing is built.
fn write_indented_json(out: &mut Vec<u8>, json: &[u8], depth: usize) {
    let newline = |out: &mut Vec<u8>, depth: usize| {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', depth * 2));
    };
    let mut depth = depth;
    let mut in_string = false;
    let mut escaped = false;
    let bytes = trim_ascii(json);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        i += 1;
        if in_string {
            out.push(b);
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                out.push(b);
            }
            b'{' | b'[' => {
                out.push(b);
                // An empty container stays on one line.
                let close = if b == b'{' { b'}' } else { b']' };
                let next = bytes[i..].iter().position(|c| !c.is_ascii_whitespace());
                if next.is_some_and(|n| bytes[i + n] == close) {
                    out.push(close);
                    i += next.unwrap_or(0) + 1;
                } else {
                    depth += 1;
                    newline(out, depth);
                }
            }
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                newline(out, depth);
                out.push(b);
            }
            b',' => {
                out.push(b);
                newline(out, depth);
            }
            b':' => out.extend_from_slice(b": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
}
impl TargetFormat {
    /// stern's layouts in `--timezone`: `default` is RFC3339 with nine fractional digits
    /// (`Z` for UTC, else `±hh:mm`), `short` is `MM-DD hh:mm:ss`. Rendered by hand from
    /// the parsed second: one zone lookup per distinct second, no allocation.
    fn write_timestamp(
        &mut self,
        out: &mut Vec<u8>,
        format: TimestampFormat,
        ts: &[u8],
        second: Option<i64>,
    ) {
        let Some(second) = second else {
            out.extend_from_slice(ts);
            return;
        };
        let (cached, mut offset) = self.offset_cache;
        if cached != second {
            offset = jiff::Timestamp::from_second(second)
                .map(|t| self.timezone.to_offset(t).seconds())
                .unwrap_or(0);
            self.offset_cache = (second, offset);
        }
        let local = second + i64::from(offset);
        let (y, mo, d) = civil_from_days(local.div_euclid(86_400));
        let secs = local.rem_euclid(86_400);
        let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        let two = |out: &mut Vec<u8>, v: i64| {
            out.extend_from_slice(&[b'0' + (v / 10) as u8, b'0' + (v % 10) as u8])
        };
        match format {
            TimestampFormat::Short => {
                two(out, mo);
                out.push(b'-');
                two(out, d);
                out.push(b' ');
            }
            TimestampFormat::Default => {
                if (0..10_000).contains(&y) {
                    two(out, y / 100);
                    two(out, y % 100);
                    out.push(b'-');
                } else {
                    let _ = write!(out, "{y:04}-");
                }
                two(out, mo);
                out.push(b'-');
                two(out, d);
                out.push(b'T');
            }
        }
        two(out, h);
        out.push(b':');
        two(out, mi);
        out.push(b':');
        two(out, s);
        if format == TimestampFormat::Short {
            return;
        }
        // The fraction as sent, padded to nine digits.
        out.push(b'.');
        let frac = ts.get(19..).filter(|f| f.first() == Some(&b'.')).map(|f| {
            let n = f[1..].iter().take_while(|b| b.is_ascii_digit()).count();
            &f[1..1 + n.min(9)]
        });
        let frac = frac.unwrap_or(&[]);
        out.extend_from_slice(frac);
        out.extend(std::iter::repeat_n(b'0', 9 - frac.len()));
        if offset == 0 {
            out.push(b'Z');
        } else {
            out.push(if offset < 0 { b'-' } else { b'+' });
            let o = i64::from(offset.abs());
            two(out, o / 3600);
            out.push(b':');
            two(out, o / 60 % 60);
        }
    }
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Copies `message`, wrapping each match in stern's highlight (red bold).
fn highlight(out: &mut Vec<u8>, re: &BytesRegex, message: &[u8]) {
    let mut last = 0;
    for m in re.find_iter(message) {
        if m.is_empty() {
            continue;
        }
        out.extend_from_slice(&message[last..m.start()]);
        out.extend_from_slice(b"\x1b[1;31m");
        out.extend_from_slice(m.as_bytes());
        out.extend_from_slice(b"\x1b[0m");
        last = m.end();
    }
    out.extend_from_slice(&message[last..]);
}

/// Appends `bytes` as a JSON string, escaped as serde_json does; invalid UTF-8 becomes
/// U+FFFD. Runs that need no escape are copied whole: this is most of `-o json`'s cost.
fn write_json_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    match std::str::from_utf8(bytes) {
        Ok(_) => escape_json(out, bytes),
        // Rare: only a line that is not UTF-8 pays for the copy.
        Err(_) => escape_json(out, String::from_utf8_lossy(bytes).as_bytes()),
    }
    out.push(b'"');
}

fn escape_json(out: &mut Vec<u8>, text: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    let mut i = 0;
    while i < text.len() {
        // Eight clean bytes at a time: most of a line needs no escape.
        if let Some(word) = text.get(i..i + 8)
            && !word_needs_escape(u64::from_le_bytes(word.try_into().unwrap_or_default()))
        {
            i += 8;
            continue;
        }
        let b = text[i];
        i += 1;
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            _ => b"",
        };
        out.extend_from_slice(&text[start..i - 1]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        } else {
            out.extend_from_slice(short);
        }
        start = i;
    }
    out.extend_from_slice(&text[start..]);
}

/// Whether any byte of `w` is a control character, `"` or `\\` (SWAR: a byte test
/// across the word; a false alarm only sends the word to the byte loop).
fn word_needs_escape(w: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI != 0;
    has_zero(w ^ (LO * u64::from(b'"')))
        || has_zero(w ^ (LO * u64::from(b'\\')))
        || w.wrapping_sub(LO * 0x20) & !w & HI != 0
}

/// The inside of a JSON string, without its quotes (per target, not per line).
fn write_json_inner(out: &mut Vec<u8>, bytes: &[u8]) {
    let at = out.len();
    write_json_str(out, bytes);
    out.remove(at);
    out.pop();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::target::{ContainerKind, InstanceState, PodInfo, TargetKey};
    use std::sync::Arc;

    fn target(ns: &str, pod: &str, c: &str) -> Target {
        Target {
            key: TargetKey {
                namespace: ns.into(),
                pod: pod.into(),
                pod_uid: "u".into(),
                container: c.into(),
                container_id: "c://1".into(),
            },
            kind: ContainerKind::Regular,
            pod_info: Arc::new(PodInfo {
                node: "node-1".into(),
                labels: [("app".to_string(), "web".to_string())].into(),
                annotations: [("team".to_string(), "core".to_string())].into(),
            }),
            state: InstanceState::Running,
            container_state: crate::kube::target::ContainerState::Running,
            started_at: None,
        }
    }

    fn fmt(mode: OutputMode, color: bool, ns: bool, ts: Option<TimestampFormat>) -> Formatter {
        Formatter {
            mode,
            timestamps: ts,
            color,
            color_stderr: color,
            show_namespace: ns,
            timezone: TimeZone::UTC,
            highlight: None,
            palette: Palette::default(),
            template: None,
        }
    }

    const TS: &[u8] = b"2024-01-02T03:04:05.123456789Z";
    const SECOND: Option<i64> = Some(1_704_164_645);

    #[test]
    fn default_line_without_colour() {
        let mut f =
            fmt(OutputMode::Default, false, false, None).for_target(&target("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(&mut out, TS, SECOND, b"hello");
        assert_eq!(out, b"web-1 app hello\n");
        let mut f = fmt(
            OutputMode::Default,
            false,
            true,
            Some(TimestampFormat::Default),
        )
        .for_target(&target("p", "web-1", "app"));
        out.clear();
        f.write_line(&mut out, TS, SECOND, b"hello");
        assert_eq!(
            out, b"p web-1 app 2024-01-02T03:04:05.123456789Z hello\n",
            "UTC is written Z"
        );
    }

    #[test]
    fn files_get_the_records_without_colour_or_names() {
        let t = target("p", "web-1", "app");
        let mut coloured = fmt(
            OutputMode::Default,
            true,
            true,
            Some(TimestampFormat::Default),
        );
        coloured.highlight = Some(Arc::new(BytesRegex::new("ERROR").unwrap()));
        let mut out = Vec::new();
        let mut file = coloured.for_files(None).for_target(&t);
        file.write_line(&mut out, TS, SECOND, b"level=error ERROR here");
        assert_eq!(
            out, b"2024-01-02T03:04:05.123456789Z level=error ERROR here\n",
            "the path says pod and container; files get no colour"
        );
        out.clear();
        let mut file = fmt(OutputMode::Extjson, true, false, None)
            .for_files(None)
            .for_target(&t);
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
            fmt(OutputMode::Default, true, false, None).for_target(&target("p", "web-1", "app"));
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
        let mut t = f.for_target(&target("p", "web-1", "app"));
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, b"m");
        assert_eq!(out, b"2024-01-02T08:34:05.123456789+05:30 m\n");
        f.timezone = TimeZone::get("America/New_York").unwrap();
        f.timestamps = Some(TimestampFormat::Short);
        let mut t = f.for_target(&target("p", "web-1", "app"));
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
        .for_target(&target("p", "web-1", "app"));
        out.clear();
        t.write_line(&mut out, b"2024-01-02T03:04:05.5Z", SECOND, b"m");
        assert_eq!(out, b"2024-01-02T03:04:05.500000000Z m\n");
    }

    #[test]
    fn dates_agree_with_jiff() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T12:00:00Z",
            "2026-12-31T23:59:59Z",
            "1969-07-20T20:17:40Z",
        ] {
            let t: jiff::Timestamp = text.parse().unwrap();
            let dt = t.to_zoned(TimeZone::UTC).datetime();
            assert_eq!(
                civil_from_days(t.as_second().div_euclid(86_400)),
                (
                    i64::from(dt.year()),
                    i64::from(dt.month()),
                    i64::from(dt.day())
                ),
                "{text}"
            );
        }
    }

    #[test]
    fn highlight_paints_message_matches_only_with_colour() {
        let mut f = fmt(OutputMode::Default, true, false, None);
        f.highlight = Some(Arc::new(BytesRegex::new("web|err").unwrap()));
        let mut t = f.for_target(&target("p", "web-1", "app"));
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
        let mut t = f.for_target(&target("p", "web-1", "app"));
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, b"an err here");
        assert_eq!(out, b"web-1 app an err here\n");
    }

    #[test]
    fn palette_is_stable_and_sterns() {
        // Go's hash/fnv New32 (FNV-1): a change here changes every user's colours.
        assert_eq!(fnv1_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1_32(b"a"), 0x050c_5d7e);
        assert_eq!(fnv1_32(b"foobar"), 0x31f0_b262);
        assert_eq!(color_pair("web-1"), color_pair("web-1"));
        let p = Palette::default();
        assert_eq!(p.colors("web-1", "app"), color_pair("web-1"));
    }

    #[test]
    fn custom_palettes_and_diff_container() {
        let p = Palette::new(vec![("1;31".into(), "2;31".into())], false);
        assert_eq!(p.colors("any", "thing"), ("1;31", "2;31"));
        // -d: the container's own hash picks the container colour from the pairs.
        let p = Palette::new(Vec::new(), true);
        for (pod, c) in [("web-1", "app"), ("db-0", "sidecar"), ("x", "istio-proxy")] {
            assert_eq!(p.colors(pod, c), (color_pair(pod).0, color_pair(c).1));
        }
        let mut f = fmt(OutputMode::Default, true, false, None);
        f.palette = Palette::new(vec![("91".into(), "92".into())], false);
        let mut t = f.for_target(&target("p", "web-1", "app"));
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, b"m");
        assert_eq!(out, b"\x1b[91mweb-1\x1b[0m \x1b[92mapp\x1b[0m m\n");
    }

    #[test]
    fn default_output_colours_the_level_word() {
        let mut t =
            fmt(OutputMode::Default, true, false, None).for_target(&target("p", "web-1", "app"));
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
            fmt(OutputMode::Default, false, false, None).for_target(&target("p", "web-1", "app"));
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, b"level=error");
        assert_eq!(out, b"web-1 app level=error\n");
    }

    #[test]
    fn raw_and_short_timestamps() {
        let mut f = fmt(OutputMode::Raw, true, true, Some(TimestampFormat::Short))
            .for_target(&target("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(&mut out, TS, SECOND, b"msg");
        assert_eq!(out, b"01-02 03:04:05 msg\n");
    }

    #[test]
    fn json_carries_stern_keys_and_raw_message() {
        let mut f =
            fmt(OutputMode::Json, true, false, None).for_target(&target("p", "web-1", "app"));
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
            fmt(OutputMode::Extjson, false, false, None).for_target(&target("p", "web-1", "app"));
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
        .for_target(&target("p", "web-1", "app"));
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
            fmt(OutputMode::Extjson, true, false, None).for_target(&target("p", "web-1", "app"));
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
            fmt(OutputMode::Ppextjson, false, false, None).for_target(&target("p", "web-1", "app"));
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
        let mut t = f.for_target(&target("p", "web-1", "app"));
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
        let mut t = f.for_target(&target("p", "web-1", "app"));
        let mut out = Vec::new();
        t.write_line(&mut out, TS, SECOND, b"a");
        assert_eq!(out, b"a\n");
    }

    #[test]
    fn json_escaping_agrees_with_serde_json() {
        for text in [
            "plain",
            "q\"uote\\ back",
            "tab\tnl\ncr\r\u{8}\u{c}",
            "\u{1b}[31mred\u{7f}",
            "ünï \u{1f600}",
            "",
        ] {
            let mut out = Vec::new();
            write_json_str(&mut out, text.as_bytes());
            assert_eq!(
                String::from_utf8(out).unwrap(),
                serde_json::to_string(text).unwrap(),
                "{text:?}"
            );
        }
        // Escapes at every offset of the eight-byte steps.
        for at in 0..20 {
            for special in ["\"", "\\", "\n", "\u{1}", "\u{1f}", "é"] {
                let text = format!("{}{special}{}", "a".repeat(at), "b".repeat(at % 9));
                let mut out = Vec::new();
                write_json_str(&mut out, text.as_bytes());
                assert_eq!(out, serde_json::to_vec(&text).unwrap(), "{text:?}");
            }
        }
        let mut out = Vec::new();
        write_json_str(&mut out, b"a\xffb");
        assert_eq!(out, "\"a\u{fffd}b\"".as_bytes());
    }

    #[test]
    fn notices() {
        let f =
            fmt(OutputMode::Default, false, true, None).for_target(&target("p", "web-1", "app"));
        assert_eq!(f.added_notice(), "+ p web-1 › app\n".as_bytes());
        assert_eq!(f.removed_notice(), "- p web-1 › app\n".as_bytes());
    }
}
