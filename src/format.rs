//! How a log line looks on stdout: pure functions that append one record to a `Vec<u8>`.
//!
//! Everything that is the same for every line of a container (the coloured pod and
//! container names, the JSON keys and values of the pod) is rendered once per target in
//! `Formatter::for_target`; the per-line work is copying bytes and, for JSON, escaping
//! the message. Colour decisions are made by `config`, never here.

use std::io::Write;

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
}

/// Per-container rendering, built once when the container's tail starts.
#[derive(Debug, Clone)]
pub struct TargetFormat {
    mode: OutputMode,
    timestamps: Option<TimestampFormat>,
    /// Default mode: `ns pod container `; JSON mode: `,"nodeName":…,"labels":{…}}\n`.
    prefix: Vec<u8>,
    /// `+ pod › container` and `- pod › container` (stderr), with newline.
    added: Vec<u8>,
    removed: Vec<u8>,
}

impl Formatter {
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
            added: notice("+", "1;92"),
            removed: notice("-", "1;91"),
            prefix,
        }
    }
}

impl TargetFormat {
    /// Appends one record for `message` (without its newline), logged at `timestamp`
    /// (the API's RFC3339 text; may be empty when the line carried none).
    pub fn write_line(&self, out: &mut Vec<u8>, timestamp: &[u8], message: &[u8]) {
        match self.mode {
            OutputMode::Default | OutputMode::Raw => {
                out.extend_from_slice(&self.prefix);
                if let Some(f) = self.timestamps {
                    write_timestamp(out, f, timestamp);
                    out.push(b' ');
                }
                out.extend_from_slice(message);
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

/// `default` prints the API's text as is; `short` prints `MM-DD hh:mm:ss` (stern's short).
fn write_timestamp(out: &mut Vec<u8>, format: TimestampFormat, ts: &[u8]) {
    match format {
        TimestampFormat::Default => out.extend_from_slice(ts),
        TimestampFormat::Short => {
            // 2024-01-02T03:04:05.123456789Z → 01-02 03:04:05
            if ts.len() >= 19 {
                out.extend_from_slice(&ts[5..10]);
                out.push(b' ');
                out.extend_from_slice(&ts[11..19]);
            } else {
                out.extend_from_slice(ts);
            }
        }
    }
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
        }
    }

    fn fmt(mode: OutputMode, color: bool, ns: bool, ts: Option<TimestampFormat>) -> Formatter {
        Formatter {
            mode,
            timestamps: ts,
            color,
            color_stderr: color,
            show_namespace: ns,
        }
    }

    const TS: &[u8] = b"2024-01-02T03:04:05.123456789Z";

    #[test]
    fn default_line_without_colour() {
        let f =
            fmt(OutputMode::Default, false, false, None).for_target(&target("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(&mut out, TS, b"hello");
        assert_eq!(out, b"web-1 app hello\n");
        let f = fmt(
            OutputMode::Default,
            false,
            true,
            Some(TimestampFormat::Default),
        )
        .for_target(&target("p", "web-1", "app"));
        out.clear();
        f.write_line(&mut out, TS, b"hello");
        assert_eq!(out, b"p web-1 app 2024-01-02T03:04:05.123456789Z hello\n");
    }

    #[test]
    fn default_line_with_stern_colours() {
        let (pod, container) = color_pair("web-1");
        let f =
            fmt(OutputMode::Default, true, false, None).for_target(&target("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(&mut out, TS, b"hi");
        let want = format!("\x1b[{pod}mweb-1\x1b[0m \x1b[{container}mapp\x1b[0m hi\n");
        assert_eq!(String::from_utf8(out).unwrap(), want);
        assert_eq!(pod, container + 60, "bright and normal of one pair");
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
        let f = fmt(OutputMode::Raw, true, true, Some(TimestampFormat::Short))
            .for_target(&target("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(&mut out, TS, b"msg");
        assert_eq!(out, b"01-02 03:04:05 msg\n");
    }

    #[test]
    fn json_carries_stern_keys_and_raw_message() {
        let f = fmt(OutputMode::Json, true, false, None).for_target(&target("p", "web-1", "app"));
        let mut out = Vec::new();
        f.write_line(&mut out, TS, b"{\"level\":\"info\"} \xff \"q\"");
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
