//! ktail: tail the logs of many Kubernetes pods and containers at once, without losing a
//! line.
//!
//! The layers, each allowed to use only the ones listed before it (`tests/tidy.rs` keeps
//! it so; ARCHITECTURE.md explains them):
//!
//! - `error`, `backoff`, `signals`: the base every layer may use;
//! - `cli`: the command line, the config file, the environment, the subcommands;
//! - `render`, `output`, `kube`: how a line looks; the only writer; the cluster;
//! - `tail`: one task per log, from bytes to rendered batches;
//! - `config`: the meaning of the command line, one settings value per consumer;
//! - `app`: the orchestration of a run; `complete`: shell completion from the cluster;
//! - `bench`: the per-line functions, for the benchmarks.
//!
//! Everything is `pub(crate)` but what the binary, the tests and the benchmarks use.

#![warn(unreachable_pub)]

mod app;
mod backoff;
pub mod bench;
pub mod cli;
pub mod complete;
mod config;
mod error;
mod kube;
mod output;
mod render;
mod signals;
mod tail;

pub use app::{Io, run, run_with};
pub use config::Settings;
pub use error::{Error, exit};
pub use kube::client::Cluster;
pub use render::color::color_pair;
pub use signals::{Signals, Stop};
