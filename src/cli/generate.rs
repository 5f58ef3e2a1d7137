//! Shell completions and the man page, generated from the clap command itself so they
//! can never drift from the flags (`ktail completions SHELL`, `ktail man`).
//!
//! The committed copies under `completions/` and `doc/` are checked against these by a
//! test. Completion is static: flag names and the values of enumerated flags. Namespaces,
//! contexts, nodes and `kind/name` queries are not completed from the cluster (see the
//! README for why).

use std::ffi::OsString;
use std::io::Write;

use clap::{CommandFactory, ValueEnum};
use clap_complete::Shell;

use crate::cli::Args;
use crate::error::{Error, Result, exit};

/// The completion script for `shell`.
pub(crate) fn completion_script(shell: Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), "ktail", &mut out);
    out
}

/// The man page, roff.
pub(crate) fn man_page() -> Vec<u8> {
    let mut out = Vec::new();
    // Rendering into a Vec cannot fail.
    let _ = clap_mangen::Man::new(Args::command()).render(&mut out);
    out
}

/// `ktail completions SHELL`.
pub fn run_completions(args: &[OsString]) -> Result<u8> {
    let names = || {
        Shell::value_variants()
            .iter()
            .filter_map(|s| s.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let [name] = args else {
        return Err(Error::usage(format!(
            "usage: ktail completions SHELL, with SHELL one of {}",
            names()
        )));
    };
    let name = name.to_string_lossy();
    let shell = Shell::from_str(&name, true)
        .map_err(|_| Error::usage(format!("unknown shell '{name}': use one of {}", names())))?;
    print(&completion_script(shell))
}

/// `ktail man`.
pub fn run_man(args: &[OsString]) -> Result<u8> {
    if !args.is_empty() {
        return Err(Error::usage("usage: ktail man (it takes no arguments)"));
    }
    print(&man_page())
}

fn print(bytes: &[u8]) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Output(e)),
        _ => Ok(exit::OK),
    }
}
