//! Build script: the version `ktail --version` prints, with the commit it was built from.
//!
//! In a git checkout of ktail the commit is `git rev-parse HEAD`; in a package built by
//! `cargo package` or `cargo install ktail` (no repository of its own) it is the one
//! cargo recorded in `.cargo_vcs_info.json`; with neither, the version stands alone. A
//! repository around the package that is not ktail's own (the package unpacked inside
//! another checkout) is not asked.

use std::path::Path;
use std::process::Command;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&dir);
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let commit = git_commit(dir).or_else(|| packaged_commit(dir));
    let full = match commit {
        Some(sha) => format!("{version} (commit {})", &sha[..sha.len().min(12)]),
        None => version,
    };
    println!("cargo:rustc-env=KTAIL_VERSION={full}");
    println!("cargo:rerun-if-changed=.cargo_vcs_info.json");
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// HEAD of the repository whose top is this package's directory, and the files that
/// change when HEAD moves, for cargo to watch.
fn git_commit(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if Path::new(&top).canonicalize().ok()? != dir.canonicalize().ok()? {
        return None;
    }
    let sha = git(dir, &["rev-parse", "HEAD"])?;
    let mut watched = vec![git(dir, &["rev-parse", "--git-path", "HEAD"])?];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.extend(git(dir, &["rev-parse", "--git-path", &branch]));
    }
    watched.extend(git(dir, &["rev-parse", "--git-path", "packed-refs"]));
    // A file that does not exist would make cargo run this script on every build.
    for path in watched.iter().map(|p| dir.join(p)).filter(|p| p.exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    Some(sha)
}

/// The commit `cargo package` recorded: `{"git": {"sha1": "…"}, …}`.
fn packaged_commit(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let at = text.find("\"sha1\"")?;
    let rest = &text[at + "\"sha1\"".len()..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    let sha = &rest[start..start + len];
    (sha.len() >= 7 && sha.bytes().all(|b| b.is_ascii_hexdigit())).then(|| sha.to_string())
}
