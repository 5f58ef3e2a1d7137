//! How a log line looks on stdout: pure functions that append one record to a `Vec<u8>`.
//!
//! Everything that is the same for every line of a container (the coloured pod and
//! container names, the JSON keys and values of the pod) is rendered once per target in
//! `Formatter::for_target`; the per-line work is copying bytes and, for JSON, escaping
//! the message. Colour decisions are made by `config`, never here.

use std::io::Write;
use std::sync::Arc;

use jiff::tz::TimeZone;
use regex::bytes::Regex as BytesRegex;

use crate::cli::{OutputMode, TimestampFormat};
use crate::target::Target;

/// stern's palette: the pod name's FNV-1a hash picks a pair; the pod is written in the
/// bright colour, its containers in the normal one (SGR codes).
const PALETTE: [(u8, u8); 6] = [(96, 36), (92, 32), (95, 35), (93, 33), (94, 34), (91, 31)];

/// The colour pair of a pod, stable across runs and machines.
pub fn color_pair(pod: &str) -> (u8, u8) {
    PALETTE[(fnv1a32(pod.as_bytes()) % PALETTE.len() as u32) as usize]
}

fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
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
}

/// Per-container rendering, built once when the container's tail starts.
#[derive(Debug, Clone)]
pub struct TargetFormat {
    mode: OutputMode,
    timestamps: Option<TimestampFormat>,
    timezone: TimeZone,
    /// The zone offset of the last second rendered: one zone lookup per second of logs.
    offset_cache: (i64, i32),
    highlight: Option<Arc<BytesRegex>>,
    /// Default mode: `ns pod container `; JSON mode: `,"nodeName":…,"labels":{…}}\n`.
    prefix: Vec<u8>,
    /// `+ pod › container` and `- pod › container` (stderr), with newline.
    added: Vec<u8>,
    removed: Vec<u8>,
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
        }
    }

    pub fn for_target(&self, t: &Target) -> TargetFormat {
        let k = &t.key;
        let (pod_sgr, container_sgr) = color_pair(&k.pod);
        let (pod_sgr, container_sgr) = (pod_sgr.to_string(), container_sgr.to_string());
        let mut prefix = Vec::new();
        match self.mode {
            OutputMode::Default => {
                if self.show_namespace {
                    paint(&mut prefix, &pod_sgr, &k.namespace, self.color);
                    prefix.push(b' ');
                }
                paint(&mut prefix, &pod_sgr, &k.pod, self.color);
                prefix.push(b' ');
                paint(&mut prefix, &container_sgr, &k.container, self.color);
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
                });
                // `{"namespace":…}` → `,"namespace":…}` so it can follow the message.
                let text = rest.to_string();
                prefix.push(b',');
                prefix.extend_from_slice(&text.as_bytes()[1..]);
                prefix.push(b'\n');
            }
        }
        let notice = |sign: &str, sign_sgr: &str| {
            let mut n = Vec::new();
            paint(&mut n, sign_sgr, sign, self.color_stderr);
            n.push(b' ');
            if self.show_namespace {
                paint(&mut n, &pod_sgr, &k.namespace, self.color_stderr);
                n.push(b' ');
            }
            paint(&mut n, &pod_sgr, &k.pod, self.color_stderr);
            n.extend_from_slice(" › ".as_bytes());
            paint(&mut n, &container_sgr, &k.container, self.color_stderr);
            n.push(b'\n');
            n
        };
        TargetFormat {
            mode: self.mode,
            timestamps: self.timestamps,
            timezone: self.timezone.clone(),
            offset_cache: (i64::MIN, 0),
            highlight: self.highlight.clone().filter(|_| self.color),
            added: notice("+", "1;92"),
            removed: notice("-", "1;91"),
            prefix,
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
        match self.mode {
            OutputMode::Default | OutputMode::Raw => {
                out.extend_from_slice(&self.prefix);
                if let Some(f) = self.timestamps {
                    self.write_timestamp(out, f, timestamp, second);
                    out.push(b' ');
                }
                match &self.highlight {
                    Some(re) => highlight(out, re, message),
                    None => out.extend_from_slice(message),
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
        }
    }

    pub fn added_notice(&self) -> &[u8] {
        &self.added
    }

    pub fn removed_notice(&self) -> &[u8] {
        &self.removed
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
                let _ = write!(out, "{y:04}-");
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

/// Appends `bytes` as a JSON string; invalid UTF-8 becomes U+FFFD.
fn write_json_str(out: &mut Vec<u8>, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, text.as_ref());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{ContainerKind, InstanceState, PodInfo, TargetKey};
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
            }),
            state: InstanceState::Running,
            container_state: crate::target::ContainerState::Running,
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
    fn default_line_with_stern_colours() {
        let (pod, container) = color_pair("web-1");
        let mut f =
            fmt(OutputMode::Default, true, false, None).for_target(&target("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(&mut out, TS, SECOND, b"hi");
        let want = format!("\x1b[{pod}mweb-1\x1b[0m \x1b[{container}mapp\x1b[0m hi\n");
        assert_eq!(String::from_utf8(out).unwrap(), want);
        assert_eq!(pod, container + 60, "bright and normal of one pair");
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
    fn palette_is_stable() {
        // FNV-1a 32 of "web-1" is fixed; a change here changes every user's colours.
        assert_eq!(fnv1a32(b""), 0x811c_9dc5);
        assert_eq!(fnv1a32(b"a"), 0xe40c_292c);
        assert_eq!(color_pair("web-1"), color_pair("web-1"));
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
        assert!(!String::from_utf8_lossy(&out).contains('\x1b'));
    }

    #[test]
    fn notices() {
        let f =
            fmt(OutputMode::Default, false, true, None).for_target(&target("p", "web-1", "app"));
        assert_eq!(f.added_notice(), "+ p web-1 › app\n".as_bytes());
        assert_eq!(f.removed_notice(), "- p web-1 › app\n".as_bytes());
    }
}
