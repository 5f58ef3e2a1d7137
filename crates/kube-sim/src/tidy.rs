//! Keeps the crate's shape as the module map in `lib.rs` describes it: every module of
//! `src/` belongs to one layer and uses only modules of lower layers (so there are no
//! import cycles), every file opens with a `//!` paragraph, and the module map names every
//! module. Test-only; it reads the sources and must not depend on any other module.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The layers, top first. A module may use modules of any layer below its own.
const LAYERS: &[&[&str]] = &[
    &["demo", "ctl"],
    &["sim"],
    &["server"],
    &["api"],
    &["watch"],
    &["state"],
    &["cluster", "query"],
    &["pod", "table", "openapi", "proto", "options"],
    &[
        "logs",
        "store",
        "selector",
        "http",
        "meta",
        "spec",
        "tls",
        "connections",
        "discovery",
        "patch",
        "kubectl",
    ],
];

/// Files outside the layering: the crate root, the binary, and this check.
const OUTSIDE: &[&str] = &["lib", "main", "tidy"];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("src is readable")
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file belongs to: `src/x.rs` and everything under `src/x/`.
fn module_of(file: &Path) -> String {
    let rel = file.strip_prefix(src()).expect("under src");
    let first = rel.components().next().expect("a component");
    let name = first.as_os_str().to_string_lossy();
    name.trim_end_matches(".rs").to_string()
}

/// The modules a source text names as `crate::x`, comments left out.
fn uses(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

#[test]
fn modules_depend_only_on_lower_layers() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut edges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for f in &files {
        let module = module_of(f);
        if OUTSIDE.contains(&module.as_str()) {
            continue;
        }
        let Some(own) = layer_of(&module) else {
            problems.push(format!("module `{module}` has no layer in tidy::LAYERS"));
            continue;
        };
        let text = std::fs::read_to_string(f).expect("source is readable");
        for used in uses(&text) {
            if used == module {
                continue;
            }
            match layer_of(&used) {
                Some(l) if l > own => edges.entry(module.clone()).or_default().push(used),
                _ => problems.push(format!(
                    "{}: `{module}` uses `{used}`, which is not in a lower layer",
                    f.display()
                )),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        edges.contains_key("sim"),
        "the scan found no imports at all"
    );
}

#[test]
fn every_file_opens_with_its_module_doc() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).expect("source is readable");
            !text.starts_with("//!")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(missing.is_empty(), "no `//!` doc: {missing:?}");
}

#[test]
fn the_module_map_names_every_module() {
    let lib = std::fs::read_to_string(src().join("lib.rs")).expect("lib.rs is readable");
    let doc: String = lib
        .lines()
        .filter(|l| l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let missing: Vec<&str> = LAYERS
        .iter()
        .flat_map(|l| l.iter().copied())
        .filter(|m| !doc.contains(&format!("`{m}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in lib.rs's module map: {missing:?}"
    );
}
