//! Object metadata and the small formatting rules every Kubernetes object shares: RFC 3339
//! second-precision times, owner references, controller-style name suffixes and hashes,
//! image references as the runtime reports them.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde_json::{Map, Value, json};

/// `t + d`, saturating a year out: scenario durations come from tests and must not be
/// able to overflow a deadline.
pub(crate) fn after(t: tokio::time::Instant, d: std::time::Duration) -> tokio::time::Instant {
    t + d.min(std::time::Duration::from_secs(366 * 86_400))
}

/// `metav1.Time`: RFC 3339 with whole seconds and `Z`.
pub(crate) fn fmt_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Debug, Clone)]
pub(crate) struct Meta {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) uid: String,
    pub(crate) created: Timestamp,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) annotations: BTreeMap<String, String>,
}

impl Meta {
    pub(crate) fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("name".into(), json!(self.name));
        if !self.namespace.is_empty() {
            m.insert("namespace".into(), json!(self.namespace));
        }
        m.insert("uid".into(), json!(self.uid));
        m.insert("resourceVersion".into(), json!(""));
        m.insert("creationTimestamp".into(), json!(fmt_time(self.created)));
        if !self.labels.is_empty() {
            m.insert("labels".into(), json!(self.labels));
        }
        if !self.annotations.is_empty() {
            m.insert("annotations".into(), json!(self.annotations));
        }
        m
    }
}

/// A controller owner reference (`controller: true, blockOwnerDeletion: true`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OwnerRef {
    pub(crate) api_version: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) name: String,
    pub(crate) uid: String,
}

impl OwnerRef {
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "controller": true,
            "blockOwnerDeletion": true,
        })
    }
}

pub(crate) fn fnv64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// apimachinery's `rand.SafeEncodeString` alphabet: no vowels, no confusable digits, so
/// generated names never spell words.
const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A `pod-template-hash` / `controller-revision-hash` value: like the controllers, the
/// decimal form of a 32-bit hash mapped through the safe alphabet.
pub(crate) fn template_hash(data: &str) -> String {
    let h = fnv64(data.as_bytes()) as u32;
    h.to_string()
        .bytes()
        .map(|d| SAFE[usize::from(d - b'0')] as char)
        .collect()
}

/// Deterministic pseudo-random source (splitmix64) for uids, suffixes, container IDs and
/// jitter. Every stream in a simulator descends from its seed (`SimOptions::seed`), so a
/// run can be replayed.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A new stream seeded from this one: what it yields does not depend on how much
    /// either stream is used afterwards.
    pub(crate) fn split(&mut self) -> Rng {
        Rng::new(self.next())
    }

    /// A stream for a new purpose, seeded from this one's state and `salt` without
    /// advancing it: adding it changes nothing this stream yields.
    pub(crate) fn derive(&self, salt: u64) -> Rng {
        Rng::new(self.0 ^ salt)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }

    pub(crate) fn uid(&mut self) -> String {
        let a = self.next();
        let b = self.next();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | ((b >> 48) & 0x3fff),
            b & 0xffff_ffff_ffff
        )
    }

    /// The 5-character suffix of generated names (`web-7d9c8b6f5-x2x7q`).
    pub(crate) fn suffix(&mut self) -> String {
        (0..5)
            .map(|_| SAFE[(self.next() % SAFE.len() as u64) as usize] as char)
            .collect()
    }

    pub(crate) fn container_id(&mut self) -> String {
        let mut s = String::from("containerd://");
        for _ in 0..4 {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s
    }
}

/// The image reference as the container runtime reports it in `status.image`.
pub(crate) fn normalize_image(image: &str) -> String {
    let (name, tag) = match image.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, t),
        _ => (image, "latest"),
    };
    let first = name.split('/').next().unwrap_or("");
    let name = if !name.contains('/') {
        format!("docker.io/library/{name}")
    } else if first.contains('.') || first.contains(':') || first == "localhost" {
        name.to_string()
    } else {
        format!("docker.io/{name}")
    };
    format!("{name}:{tag}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_normalized_like_containerd() {
        assert_eq!(
            normalize_image("nginx:1.25"),
            "docker.io/library/nginx:1.25"
        );
        assert_eq!(
            normalize_image("busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            normalize_image("bitnami/redis:7"),
            "docker.io/bitnami/redis:7"
        );
        assert_eq!(
            normalize_image("registry.k8s.io/pause:3.9"),
            "registry.k8s.io/pause:3.9"
        );
    }

    #[test]
    fn hashes_use_the_safe_alphabet() {
        let h = template_hash("web");
        assert!(!h.is_empty() && h.len() <= 10);
        assert!(h.bytes().all(|b| SAFE.contains(&b)));
        assert_eq!(h, template_hash("web"));
        let mut r = Rng::new(1);
        let uid = r.uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(r.container_id().len(), "containerd://".len() + 64);
    }

    #[test]
    fn times_have_second_precision() {
        let t: Timestamp = "2024-01-02T03:04:05.678Z".parse().unwrap();
        assert_eq!(fmt_time(t), "2024-01-02T03:04:05Z");
    }
}
