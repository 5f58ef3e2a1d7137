//! Kubernetes' protobuf encoding of objects (`application/vnd.kubernetes.protobuf`), read
//! into the JSON the rest of the simulator works with. kubectl's typed clients send it
//! for `create namespace`, `create job`, `create deployment`...: the `k8s\0` magic, a
//! `runtime.Unknown` envelope with the type, and the object's own message. Fields are
//! looked up in `schema`; values take their JSON form (times as RFC 3339, quantities
//! and int-or-strings as their strings or numbers), and zero values the JSON encoding
//! would omit are left out. Pure: bytes in, JSON out.

mod schema;

use base64::Engine;
use serde_json::{Map, Value, json};

/// How a field's value is encoded, and how it reads as JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ty {
    Str,
    Bytes,
    Bool,
    Int,
    /// `meta/v1` `Time`: `{seconds, nanos}` → RFC 3339.
    Time,
    /// `resource.Quantity`: `{string}` → the string.
    Quantity,
    /// `intstr.IntOrString`: `{type, intVal, strVal}` → a number or a string.
    IntOrString,
    /// `runtime.RawExtension`: `{raw}` → the JSON it holds.
    Raw,
    MapStr,
    MapMsg(&'static str),
    Msg(&'static str),
    /// A message of an API group the simulator does not serve: skipped.
    Skip,
}

/// One field of a message: number, JSON name, type, repeated.
pub(crate) type Field = (u32, &'static str, Ty, bool);

/// Fields whose zero value means something (pointers in the Go types), kept as sent.
const ZERO_MATTERS: [&str; 14] = [
    "replicas",
    "backoffLimit",
    "parallelism",
    "completions",
    "suspend",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "successfulJobsHistoryLimit",
    "failedJobsHistoryLimit",
    "startingDeadlineSeconds",
    "revisionHistoryLimit",
    "ttlSecondsAfterFinished",
    "gracePeriodSeconds",
    "automountServiceAccountToken",
];

/// Empty messages that still say something by being there.
const PRESENCE_MATTERS: [&str; 1] = ["emptyDir"];

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first().ok_or("truncated varint")?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.buf.len() {
            return Err("truncated field".into());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The next field: its number and its raw value.
    fn field(&mut self) -> Result<Option<(u32, Wire<'a>)>, String> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = (key >> 3) as u32;
        let wire = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Wire::Fixed
            }
            2 => {
                let n = self.varint()? as usize;
                Wire::Bytes(self.take(n)?)
            }
            5 => {
                self.take(4)?;
                Wire::Fixed
            }
            t => return Err(format!("unsupported wire type {t}")),
        };
        Ok(Some((number, wire)))
    }
}

enum Wire<'a> {
    Varint(u64),
    Fixed,
    Bytes(&'a [u8]),
}

fn fields_of(message: &str) -> Option<&'static [Field]> {
    schema::MESSAGES
        .binary_search_by(|(name, _)| name.cmp(&message))
        .ok()
        .map(|i| schema::MESSAGES[i].1)
}

/// Pairs of a nested message: `{1: a, 2: b}` as raw wires (map entries and the small
/// wrapper messages).
fn pair(bytes: &[u8]) -> Result<(Option<Wire<'_>>, Option<Wire<'_>>), String> {
    let mut r = Reader { buf: bytes };
    let (mut a, mut b) = (None, None);
    while let Some((n, w)) = r.field()? {
        match n {
            1 => a = Some(w),
            2 => b = Some(w),
            _ => {}
        }
    }
    Ok((a, b))
}

fn text(w: &Wire<'_>) -> String {
    match w {
        Wire::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

fn int(w: &Wire<'_>) -> i64 {
    match w {
        Wire::Varint(v) => *v as i64,
        _ => 0,
    }
}

fn value(ty: Ty, w: Wire<'_>) -> Result<Value, String> {
    Ok(match ty {
        Ty::Str => json!(text(&w)),
        Ty::Bytes => match w {
            Wire::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
            _ => Value::Null,
        },
        Ty::Bool => json!(int(&w) != 0),
        Ty::Int => json!(int(&w)),
        Ty::Time => {
            let Wire::Bytes(b) = w else {
                return Ok(Value::Null);
            };
            let (secs, _) = pair(b)?;
            let secs = secs.as_ref().map_or(0, int);
            match jiff::Timestamp::from_second(secs) {
                Ok(t) if secs != 0 => json!(crate::meta::fmt_time(t)),
                _ => Value::Null,
            }
        }
        Ty::Quantity => {
            let Wire::Bytes(b) = w else {
                return Ok(Value::Null);
            };
            json!(pair(b)?.0.as_ref().map(text).unwrap_or_default())
        }
        Ty::IntOrString => {
            let Wire::Bytes(b) = w else {
                return Ok(Value::Null);
            };
            let mut r = Reader { buf: b };
            let (mut kind, mut i, mut s) = (0, 0, String::new());
            while let Some((n, w)) = r.field()? {
                match n {
                    1 => kind = int(&w),
                    2 => i = int(&w),
                    3 => s = text(&w),
                    _ => {}
                }
            }
            if kind == 1 { json!(s) } else { json!(i) }
        }
        Ty::Raw => {
            let Wire::Bytes(b) = w else {
                return Ok(Value::Null);
            };
            let raw = pair(b)?.0.map(|w| text(&w)).unwrap_or_default();
            serde_json::from_str(&raw).unwrap_or(Value::Null)
        }
        Ty::Msg(name) => match w {
            Wire::Bytes(b) => message(name, b)?,
            _ => Value::Null,
        },
        Ty::MapStr | Ty::MapMsg(_) | Ty::Skip => Value::Null,
    })
}

/// Whether the JSON encoding would leave this value out.
fn omitted(name: &str, v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Bool(false) => !ZERO_MATTERS.contains(&name),
        Value::Number(n) => n.as_i64() == Some(0) && !ZERO_MATTERS.contains(&name),
        Value::Object(m) => m.is_empty() && !PRESENCE_MATTERS.contains(&name),
        _ => false,
    }
}

/// One message as JSON.
fn message(name: &str, bytes: &[u8]) -> Result<Value, String> {
    let fields = fields_of(name).ok_or_else(|| format!("unknown message {name}"))?;
    let mut out = Map::new();
    let mut r = Reader { buf: bytes };
    while let Some((n, w)) = r.field()? {
        let Some(&(_, json_name, ty, repeated)) = fields.iter().find(|f| f.0 == n) else {
            continue;
        };
        match ty {
            Ty::Skip => {}
            Ty::MapStr | Ty::MapMsg(_) => {
                let Wire::Bytes(b) = w else { continue };
                let (k, v) = pair(b)?;
                let key = k.as_ref().map(text).unwrap_or_default();
                let v = match (ty, v) {
                    (Ty::MapMsg(m), Some(Wire::Bytes(vb))) => message(m, vb)?,
                    (_, Some(v)) => json!(text(&v)),
                    (_, None) => json!(""),
                };
                let map = out.entry(json_name).or_insert_with(|| json!({}));
                map[key] = v;
            }
            // Packed repeated scalars.
            Ty::Int | Ty::Bool if repeated && matches!(w, Wire::Bytes(_)) => {
                let Wire::Bytes(b) = w else { continue };
                let mut pr = Reader { buf: b };
                let list = out.entry(json_name).or_insert_with(|| json!([]));
                while !pr.buf.is_empty() {
                    let v = pr.varint()?;
                    if let Value::Array(a) = list {
                        a.push(if matches!(ty, Ty::Bool) {
                            json!(v != 0)
                        } else {
                            json!(v as i64)
                        });
                    }
                }
            }
            _ if repeated => {
                let v = value(ty, w)?;
                if let Value::Array(a) = out.entry(json_name).or_insert_with(|| json!([])) {
                    a.push(v);
                }
            }
            _ => {
                let v = value(ty, w)?;
                if !omitted(json_name, &v) {
                    out.insert(json_name.to_string(), v);
                }
            }
        }
    }
    Ok(Value::Object(out))
}

/// An object sent as `application/vnd.kubernetes.protobuf`, as JSON with its
/// `apiVersion` and `kind`.
pub(crate) fn decode_object(body: &[u8]) -> Result<Value, String> {
    let envelope = body
        .strip_prefix(b"k8s\0")
        .ok_or("the protobuf body does not start with the Kubernetes magic number")?;
    let mut r = Reader { buf: envelope };
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    while let Some((n, w)) = r.field()? {
        match (n, w) {
            (1, Wire::Bytes(tm)) => {
                let (a, k) = pair(tm)?;
                api_version = a.as_ref().map(text).unwrap_or_default();
                kind = k.as_ref().map(text).unwrap_or_default();
            }
            (2, Wire::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    let mut obj = message(&kind, raw)?;
    obj["apiVersion"] = json!(api_version);
    obj["kind"] = json!(kind);
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `kubectl create job hello --image=busybox -- echo hello world` sends.
    const CREATE_JOB: &str = "6b3873000a0f0a0862617463682f7631120\
34a6f62129801 0a190a0568656c6c6f12001a0464656d6f22002a00320038004200127132 6f0a100a0012001a0022002a00320038004200125b12380a0568656c6c6f120762757379626f781a046563686f1a0568656c6c6f1a05776f726c642a0042006a00720080010088010090010 0a201001a054e6576657232004200 4a00520058006000680082010 08a01009a0100c201001a082000280030003a001a002200";

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn a_job_from_kubectl_create() {
        let obj = decode_object(&unhex(CREATE_JOB)).unwrap();
        assert_eq!(obj["kind"], "Job");
        assert_eq!(obj["apiVersion"], "batch/v1");
        assert_eq!(
            obj["metadata"],
            json!({"name": "hello", "namespace": "demo"})
        );
        let c = &obj["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["name"], "hello");
        assert_eq!(c["image"], "busybox");
        assert_eq!(c["command"], json!(["echo", "hello", "world"]));
        assert_eq!(obj["spec"]["template"]["spec"]["restartPolicy"], "Never");
        assert!(decode_object(b"{}").is_err());
    }
}
