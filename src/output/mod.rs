//! The only writer of stdout, stderr and `--output-dir` files.
//!
//! Tails hand over whole formatted lines in batches on one bounded channel; the writer
//! thread owns the buffers and the files and decides when to flush. Nothing else in
//! ktail writes to the process's streams while a run is on. This layer knows nothing
//! of pods or formats: it moves bytes, keeps terminals safe and keeps files in order.

pub(crate) mod files;
pub(crate) mod merge;
pub(crate) mod sanitize;
pub(crate) mod writer;

use std::path::PathBuf;

/// Where a run's output goes, decided by `config`.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutputSettings {
    /// Log lines go to stdout (not with `--files-only`).
    pub(crate) stdout: bool,
    /// `--output-dir`: each container's lines also go to `DIR/ns/pod/container.log`.
    pub(crate) dir: Option<PathBuf>,
    /// Colour the `warning:` of warnings on stderr.
    pub(crate) color_stderr: bool,
    /// Neutralise escape sequences in log lines: stdout is a terminal (see `sanitize`).
    pub(crate) sanitize: bool,
    /// `--sort`: stdout's lines pass through the merge.
    pub(crate) sort: Option<merge::Order>,
}
