//! Tails: one task per container instance (and one for `--stdin`) that reads a log,
//! splits and filters its lines, renders them and hands batches to the writer, and
//! reconnects without losing or repeating a line.
//!
//! A container tail is a state machine (`machine`) driven by its I/O (`container`):
//! open → stream → locate/resume → backoff → done. This layer reads logs and renders
//! lines; which targets exist is the sources' business (`kube`), and starting and
//! stopping tails the orchestrator's (`app`).

pub(crate) mod container;
pub(crate) mod context;
pub(crate) mod events;
pub(crate) mod lines;
pub(crate) mod machine;
pub(crate) mod resume;
pub(crate) mod sinks;
pub(crate) mod stdin;
pub(crate) mod task;

pub(crate) use context::{Presence, TailContext, TailEnd, TailSettings};
pub(crate) use task::{Handover, TailJob, run};
