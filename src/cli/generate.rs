//! Shell completion scripts and the man page, generated from the clap command itself so
//! they can never drift from the flags (`ktail completions SHELL`, `ktail man`).
//!
//! A completion script only registers ktail with the shell: at TAB the shell runs
//! `COMPLETE=SHELL ktail -- WORDS…` and ktail answers with candidates (clap_complete's
//! dynamic engine, served by `complete`), so namespaces, contexts and objects come from
//! the cluster. The committed copies under `completions/` and `doc/` are checked against
//! these by a test.

use std::io::Write;

use clap_complete::Shell;
use clap_complete::env::Shells;

use crate::cli::{Program, command};
use crate::error::{Error, Result, exit};

/// The environment variable that asks ktail for candidates instead of a run.
pub const COMPLETE_VAR: &str = "COMPLETE";

/// The completion script for `shell`: it calls `ktail` on PATH back for candidates.
pub fn completion_registration(shell: Shell) -> Vec<u8> {
    // Every shell clap's `Shell` names has a dynamic completer of the same name.
    let shells = Shells::builtins();
    let completer = shells
        .completer(&shell.to_string())
        .unwrap_or(&clap_complete::env::Bash);
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = completer.write_registration(COMPLETE_VAR, "ktail", "ktail", "ktail", &mut out);
    out
}

/// The man page, roff.
pub(crate) fn man_page() -> Vec<u8> {
    let mut out = Vec::new();
    // Rendering into a Vec cannot fail.
    // The version without the commit: the committed page must not change with each commit.
    let cmd = command(Program::Ktail).version(env!("CARGO_PKG_VERSION"));
    let _ = clap_mangen::Man::new(cmd).render(&mut out);
    out
}

/// `ktail completions SHELL`.
pub fn run_completions(shell: Shell) -> Result<u8> {
    print(&completion_registration(shell))
}

/// `ktail man`.
pub fn run_man() -> Result<u8> {
    print(&man_page())
}

fn print(bytes: &[u8]) -> Result<u8> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Output(e)),
        _ => Ok(exit::OK),
    }
}
