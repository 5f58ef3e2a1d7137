//! A simulated Kubernetes API server and kubelet for ktail's tests, benchmarks and demo.
//!
//! [`Sim::start`] serves the API on `127.0.0.1` (HTTP, or HTTPS with a generated CA and
//! HTTP/2; bearer token or client-certificate auth) with the behaviour real clients
//! depend on: legacy discovery, list/watch with selectors, resourceVersion semantics,
//! bookmarks and in-band 410s, server-side Tables for kubectl, workloads with
//! controller-made pods, and pod logs with the kubelet's semantics.
//! Tests then drive the cluster through [`Sim`]'s methods while clients are attached:
//! create workloads, roll them out, restart or crash containers, write log lines, and
//! inject faults.
//!
//! # Module map
//!
//! Layers, top first; a module uses only modules below it (the `tidy` test keeps it so, and
//! with it the absence of import cycles):
//!
//! 1. `demo`: the demo scenario, driven through the public handle like a test; `ctl`:
//!    the `kube-sim ctl` client, which reaches a running simulator over HTTP only.
//! 2. `sim`: the public handle [`Sim`]: start, shutdown, the scenario-control API.
//! 3. `server`: the listener, TLS accept, HTTP/1.1 and HTTP/2 (ALPN) connections.
//! 4. `api`: the request path: auth, faults, routing, list/get, pod logs.
//! 5. `watch`: watch streams.
//! 6. `state`: the shared state behind one lock and the background tasks that move it.
//! 7. `cluster` (every object, the kubelet clock and the controllers) and `query`
//!    (request parameters, selectors as filters, watch event lines).
//! 8. `pod` (kubelet model of one pod), `table` (server-side Tables), `openapi` (the
//!    OpenAPI v3 documents kubectl reads before it applies), `proto` (objects sent in
//!    Kubernetes' protobuf encoding, read as JSON), `options` ([`SimOptions`]).
//! 9. Leaves: `logs` (log journals and the kubelet's log serving), `store` (served JSON,
//!    resourceVersions, history), `selector` (selector parsers), `http` (responses and
//!    `Status` errors), `meta` (object metadata, the seeded RNG), `spec` (scenario
//!    vocabulary), `tls`, `connections` (streams per connection), `discovery`, `patch`
//!    (JSON, merge and strategic merge patches), `kubectl` (finding the real kubectl).
//!
//! Everything random descends from one seed ([`SimOptions::seed`], reported by
//! [`Sim::seed`]), so a run can be replayed.

mod api;
mod cluster;
mod connections;
pub mod ctl;
mod demo;
mod discovery;
mod http;
pub mod kubectl;
pub mod logs;
mod meta;
mod openapi;
mod options;
mod patch;
mod pod;
mod proto;
mod query;
pub mod selector;
mod server;
mod sim;
mod spec;
mod state;
mod store;
mod table;
#[cfg(test)]
mod tidy;
mod tls;
mod watch;

pub use connections::{ConnectionStats, Protocol};
pub use demo::{demo, run_demo};
pub use logs::{Chunking, StreamEnd};
pub use options::SimOptions;
pub use sim::{HeldRequest, Sim};
pub use spec::{ContainerSpec, CronJobSpec, JobSpec, PodSpec, WorkloadSpec};
