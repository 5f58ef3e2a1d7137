//! ktail: tail the logs of many Kubernetes pods and containers at once, without losing a
//! line.
//!
//! Data flow (see the README for the picture): `cli::Args` → `Config::resolve` →
//! `kube::client::connect` → `kube::discovery` (one watcher per namespace scope) → `app`
//! starts one `tail` task per container instance → batches of formatted lines over a
//! bounded channel → `output`, the only writer of stdout and stderr.

pub mod app;
pub mod cli;
pub mod config;
pub mod error;
pub mod kube;
pub mod output;
pub mod render;
pub mod signals;
pub mod tail;
