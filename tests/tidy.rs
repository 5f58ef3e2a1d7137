//! The shape of the code, checked as code (in the spirit of rust-analyzer's `tidy.rs`):
//! the layers of `src/` import one way only and no module imports itself back in a
//! cycle, every Rust file says what it is for in a `//!` paragraph, and the README's flag
//! table agrees with `--help`. ARCHITECTURE.md explains the layers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use clap::CommandFactory;

/// The layers of `src/`, lowest first: a module may use the modules of lower layers,
/// never one of its own layer or above. `lib.rs` and `main.rs` stand outside.
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["backoff", "signals"],
    &["cli", "render", "output", "kube"],
    &["tail"],
    &["config"],
    &["app", "complete"],
    &["bench"],
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The production code of a file: without its inline `mod tests`, without comments.
/// A file that is itself a test module (`tests.rs`) has none.
fn production_code(file: &Path) -> String {
    if file.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    let text = std::fs::read_to_string(file).unwrap();
    let end = text.find("#[cfg(test)]\nmod tests {").unwrap_or(text.len());
    text[..end]
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `crate::a::b::…` paths a text names, as their segments.
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let segments: Vec<String> = path
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if !segments.is_empty() {
            out.push(segments);
        }
    }
    out
}

/// The module path of a file: `src/kube/watch.rs` → `kube::watch`, `src/kube/mod.rs` →
/// `kube`.
fn module_path(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

#[test]
fn layers_import_downwards_only() {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for file in &files {
        let module = module_path(&src, file);
        let top = module.split("::").next().unwrap().to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(layer) = layer_of(&top) else {
            wrong.push(format!("{module}: not in any layer of tests/tidy.rs"));
            continue;
        };
        for path in crate_paths(&production_code(file)) {
            let used = &path[0];
            if *used == top {
                continue;
            }
            match layer_of(used) {
                Some(l) if l < layer => {}
                _ => wrong.push(format!("{module} uses crate::{}", path.join("::"))),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_module_imports_itself_back() {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_path(&src, f)).collect();
    // Edges from a file to the most specific module file a path names.
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let from = module_path(&src, file);
        for path in crate_paths(&production_code(file)) {
            let to = (1..=path.len())
                .rev()
                .map(|n| path[..n].join("::"))
                .find(|m| modules.contains(m));
            if let Some(to) = to
                && to != from
            {
                edges.entry(from.clone()).or_default().insert(to);
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        m: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == m) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        if !done.insert(m.to_string()) {
            return None;
        }
        stack.push(m.to_string());
        for next in edges.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, edges, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for m in &modules {
        let cycle = visit(m, &edges, &mut Vec::new(), &mut done);
        assert!(
            cycle.is_none(),
            "import cycle: {}",
            cycle.unwrap().join(" → ")
        );
    }
}

#[test]
fn every_rust_file_opens_with_its_purpose() {
    let root = root();
    let mut files = Vec::new();
    for dir in ["src", "tests", "examples", "crates/ktail-bench"] {
        rust_files(&root.join(dir), &mut files);
    }
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! paragraph saying what they own: {missing:?}"
    );
}

/// One row of the README's flag table: the flags it names and its default column.
struct Row {
    short: Option<char>,
    long: Option<String>,
    positional: Option<String>,
    default: String,
    /// The whole row, for the values it names.
    text: String,
}

fn readme_rows() -> Vec<Row> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let table = readme
        .split("| flag | default | meaning |")
        .nth(1)
        .expect("the README has a flag table");
    let mut rows = Vec::new();
    for line in table.lines().skip(2) {
        if !line.starts_with('|') {
            break;
        }
        let cells: Vec<&str> = line.split(" | ").collect();
        let names = cells[0].trim_start_matches("| ").trim_matches('`');
        let mut row = Row {
            short: None,
            long: None,
            positional: None,
            default: cells.get(1).copied().unwrap_or_default().to_string(),
            text: line.to_string(),
        };
        for name in names.split(", ") {
            if let Some(long) = name.strip_prefix("--") {
                let long: String = long
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                row.long = Some(long);
            } else if let Some(short) = name.strip_prefix('-') {
                row.short = short.chars().next();
            } else {
                row.positional = Some(name.to_string());
            }
        }
        rows.push(row);
    }
    rows
}

#[test]
fn the_readme_flag_table_agrees_with_help() {
    let rows = readme_rows();
    let cmd = ktail::cli::Args::command();
    let mut wrong = Vec::new();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        let row = match arg.get_long() {
            Some(long) => rows.iter().find(|r| r.long.as_deref() == Some(long)),
            None => {
                let name = arg
                    .get_value_names()
                    .and_then(|v| v.first())
                    .map(|v| v.as_str());
                rows.iter().find(|r| r.positional.as_deref() == name)
            }
        };
        let Some(row) = row else {
            wrong.push(format!(
                "--{}: no row in the README's flag table",
                id.replace('_', "-")
            ));
            continue;
        };
        if row.short != arg.get_short() {
            wrong.push(format!(
                "{id}: the README says short -{:?}, --help says -{:?}",
                row.short,
                arg.get_short()
            ));
        }
        // A flag with a fixed set of values (not a boolean's true and false) names each one.
        let values: Vec<_> = arg
            .get_possible_values()
            .into_iter()
            .filter(|v| !v.is_hide_set())
            .collect();
        let boolean = values
            .iter()
            .all(|v| ["true", "false"].contains(&v.get_name()));
        if !boolean {
            for value in &values {
                if !row.text.contains(&format!("`{}`", value.get_name()))
                    && !row.text.contains(&format!("{}\\|", value.get_name()))
                    && !row.text.contains(&format!("\\|{}", value.get_name()))
                {
                    wrong.push(format!(
                        "{id}: the README's row does not name the value '{}'",
                        value.get_name()
                    ));
                }
            }
        }
        let flag = matches!(arg.get_action(), clap::ArgAction::SetTrue);
        for default in arg.get_default_values() {
            let default = default.to_string_lossy();
            if !flag && !row.default.contains(&format!("`{default}`")) {
                wrong.push(format!(
                    "{id}: --help's default is {default}, the README's is '{}'",
                    row.default
                ));
            }
        }
    }
    for row in &rows {
        let known = cmd
            .get_arguments()
            .any(|a| match (&row.long, &row.positional) {
                (Some(long), _) => a.get_long() == Some(long.as_str()),
                (None, Some(name)) => a
                    .get_value_names()
                    .is_some_and(|v| v.iter().any(|v| v.as_str() == name)),
                (None, None) => false,
            });
        if !known {
            wrong.push(format!(
                "the README's row {:?} names no flag of --help",
                row.long.as_ref().or(row.positional.as_ref())
            ));
        }
    }
    // ktail's own commands: in the README's usage block, as in --help.
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let usage = readme
        .split("## Usage\n\n```\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the README has a usage block");
    for sub in ktail::cli::command(ktail::cli::Program::Ktail).get_subcommands() {
        if !usage.contains(&format!("ktail {} ", sub.get_name()))
            && !usage.contains(&format!("ktail {}\n", sub.get_name()))
        {
            wrong.push(format!(
                "command {}: not in the README's usage block",
                sub.get_name()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "README flag table vs --help:\n{}",
        wrong.join("\n")
    );
}
