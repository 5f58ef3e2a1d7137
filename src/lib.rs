//! ktail: tail the logs of many Kubernetes pods and containers at once, without losing a
//! line.
//!
//! Data flow (see the README for the picture): `cli::Args` → `Config::resolve` →
//! `cluster::connect` → `discovery` (one watcher per namespace scope) → `app` starts one
//! `tail` task per container instance → batches of formatted lines over a bounded channel
//! → `output`, the only writer of stdout and stderr.

pub mod app;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod demo;
pub mod discovery;
pub mod error;
pub mod files;
pub mod format;
pub mod generate;
pub mod level;
pub mod lines;
pub mod output;
pub mod resource;
pub mod sanitize;
pub mod scopes;
pub mod settings;
pub mod signals;
pub mod tail;
pub mod target;
pub mod template;
