//! A simulated Kubernetes API server and kubelet for ktail's tests, benchmarks and demo.
//!
//! [`Sim::start`] serves the API on `127.0.0.1` (HTTP or HTTPS with a generated CA, bearer
//! token auth) with the behaviour real clients depend on: legacy discovery, list/watch with
//! selectors, resourceVersion semantics, bookmarks and in-band 410s, server-side Tables for
//! kubectl, workloads with controller-made pods, and pod logs with the kubelet's semantics.
//! Tests then drive the cluster through [`Sim`]'s methods while clients are attached:
//! create workloads, roll them out, restart or crash containers, write log lines, and
//! inject faults.
//!
//! Module map: `sim` (public handle, background tasks), `cluster` (all state and the
//! controllers), `pod` (kubelet model of one pod), `store` (served JSON, resourceVersions,
//! history), `server` (sockets, TLS, HTTP/1.1), `api` (request path, list/get/logs),
//! `watch`, `table`, `discovery`, `tls`, `meta`, `http`, `demo`; `logs` and `selector`
//! hold the kubelet log journal and the selector parsers.

mod api;
mod cluster;
mod demo;
mod discovery;
mod http;
pub mod kubectl;
pub mod logs;
mod meta;
mod options;
mod pod;
mod query;
pub mod selector;
mod server;
mod sim;
mod spec;
mod state;
mod store;
mod table;
mod tls;
mod watch;

pub use demo::{demo, run_demo};
pub use logs::{Chunking, StreamEnd};
pub use options::SimOptions;
pub use sim::Sim;
pub use spec::{ContainerSpec, JobSpec, PodSpec, WorkloadSpec};
