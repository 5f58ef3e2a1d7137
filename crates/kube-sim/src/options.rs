//! [`SimOptions`]: how one simulator instance serves (scheme, credentials, log chunking,
//! watch history) and the seed of its randomness. A plain value with defaults; it must
//! not start or own anything.

use crate::logs::Chunking;

/// How a simulator instance serves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Serve HTTPS with a generated CA (the kubeconfig carries it).
    pub tls: bool,
    /// With `tls`: refuse TLS handshakes without a client certificate signed by the CA.
    /// Without it, a client certificate is asked for but optional, as kube-apiserver
    /// does; either way a verified one authenticates the request without a token.
    pub require_client_certs: bool,
    /// With `tls`: offer HTTP/2 by ALPN besides HTTP/1.1, as kube-apiserver does.
    pub http2: bool,
    /// SETTINGS_MAX_CONCURRENT_STREAMS of an HTTP/2 connection (kube-apiserver's
    /// `--http2-max-streams-per-connection`, 100 by default).
    pub http2_max_streams: u32,
    /// The bearer token every request except `/version` and health checks must carry.
    pub token: String,
    /// The user name in Forbidden messages and the kubeconfig.
    pub user: String,
    /// How log bodies are chunked: kubelet-style per line, or coalesced for bulk speed.
    pub chunking: Chunking,
    /// Events kept for resuming watches from a resourceVersion.
    pub watch_history: usize,
    /// The seed of everything random in the simulator: generated pod names, uids,
    /// container IDs, node placement, watch timeouts. `None` picks one from the clock;
    /// [`Sim::seed`](crate::Sim::seed) tells which, so a failing run can be replayed.
    pub seed: Option<u64>,
    /// How long a follow stream of a container stays open after the container exits. The
    /// kubelet notices the exit at its next state check (every 5 s), so a real stream
    /// ends up to 5 s late; zero (the default) is a check that fell right at the exit.
    pub exit_stream_hold: std::time::Duration,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            tls: false,
            require_client_certs: false,
            http2: true,
            http2_max_streams: 100,
            token: "sim-token".to_string(),
            user: "sim-user".to_string(),
            chunking: Chunking::PerLine,
            watch_history: 10_000,
            seed: None,
            exit_stream_hold: std::time::Duration::ZERO,
        }
    }
}
