//! How a log line looks: formats, colours, JSON, time, templates, levels and line
//! filters.
//!
//! Everything here is pure: a container's rendering is built once from the run's
//! `RenderSettings` and an `Origin` (the names a line is shown with), then appends one
//! record per line to a buffer. This layer knows nothing of the command line, the
//! cluster or the writer; `config` decides every setting, `tail` calls it per line.

pub(crate) mod color;
pub(crate) mod filter;
pub(crate) mod format;
pub(crate) mod helpers;
pub(crate) mod json;
pub(crate) mod level;
pub(crate) mod template;
pub(crate) mod time;

use std::collections::BTreeMap;

/// Where a line comes from, as far as rendering is concerned: the names in its prefix
/// and the pod's facts that JSON output and templates show.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The kubeconfig context when several are followed, else empty (not shown).
    pub context: &'a str,
    pub namespace: &'a str,
    pub pod: &'a str,
    pub container: &'a str,
    /// The pod's node (`spec.nodeName`).
    pub node: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    pub annotations: &'a BTreeMap<String, String>,
    /// The lines are a previous instance's (`--previous`, or a restart ktail caught up
    /// on): JSON says `"previous": true` and the notices say so.
    pub previous: bool,
}
