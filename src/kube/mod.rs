//! Everything that talks to the Kubernetes API.

pub mod client;
pub mod discovery;
pub mod resource;
pub mod scopes;
pub mod target;
