//! The one error type of ktail and its exit-code table.
//!
//! Every failure that ends a run is an [`Error`]; `main` prints its message as one line,
//! prefixed with `ktail: `, and exits with [`Error::exit_code`]. Failures that only concern
//! one container are not errors: they are warnings and set the exit status of a
//! `--no-follow` run (see `app`). Messages say what failed, for which value, and what to
//! do; lowercase, no trailing period.

use std::fmt;

/// Exit codes, documented in the README ("Exit codes"). Keep both in step.
pub mod exit {
    /// Everything asked for was printed (or stdout was closed by its reader).
    pub const OK: u8 = 0;
    /// `--no-follow`: at least one container's log could not be read completely.
    pub const STREAM_FAILED: u8 = 1;
    /// The command line is invalid: a flag, regex, selector, duration or time.
    pub const USAGE: u8 = 2;
    /// The kubeconfig cannot be used: missing or unreadable file, unknown context, bad content.
    pub const KUBECONFIG: u8 = 3;
    /// The cluster cannot be reached: connection refused, DNS, TLS, timeouts.
    pub const UNREACHABLE: u8 = 4;
    /// The cluster refused ktail: 401 Unauthorized or 403 Forbidden everywhere.
    pub const DENIED: u8 = 5;
    /// Something named on the command line does not exist in the cluster.
    pub const NOT_FOUND: u8 = 6;
    /// `--until-done`: the workload failed (a Job failed, or a selected pod failed).
    pub const WORKLOAD_FAILED: u8 = 7;
    /// Interrupted by SIGINT (Ctrl-C), as shells report it.
    pub const SIGINT: u8 = 130;
    /// Terminated by SIGTERM.
    pub const SIGTERM: u8 = 143;
}

/// A failure that ends the run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid command-line input; the message names the flag and the value.
    #[error("{0}")]
    Usage(String),
    /// The kubeconfig or context cannot be used.
    #[error("{0}")]
    Kubeconfig(String),
    /// The API server cannot be reached.
    #[error("{0}")]
    Unreachable(String),
    /// The API server rejected ktail's credentials or permissions.
    #[error("{0}")]
    Denied(String),
    /// A namespace or object named by the user does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Writing output failed for another reason than a closed pipe.
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
    /// Anything else the cluster answered that ktail cannot continue from.
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn usage(msg: impl fmt::Display) -> Self {
        Error::Usage(msg.to_string())
    }

    /// The process exit code for this error (see [`exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => exit::USAGE,
            Error::Kubeconfig(_) => exit::KUBECONFIG,
            Error::Unreachable(_) => exit::UNREACHABLE,
            Error::Denied(_) => exit::DENIED,
            Error::NotFound(_) => exit::NOT_FOUND,
            Error::Output(_) | Error::Other(_) => exit::STREAM_FAILED,
        }
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
