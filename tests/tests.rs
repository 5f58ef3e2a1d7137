//! ktail's black-box tests: the real binary against the simulated API server.
//!
//! One test binary keeps link time down on two cores; each module says what belongs in it.

/// `ktail demo`: the simulated cluster, a rolling update, a clean end.
mod demo;

/// The harness: a simulated cluster, a temp kubeconfig, and ktail runs with a scrubbed
/// environment.
mod util;

/// Which pods and containers are selected: query regex, -l, -n, -A, -c, -E.
mod selection;

/// Following a changing pod set: rolling updates, restarts, notices.
mod follow;

/// --no-follow: --tail, waiting containers, exit codes.
mod no_follow;

/// Output formats, colours, pipes.
mod output;

/// --output-dir and --files-only: one file per container.
mod output_dir;

/// Cluster access: exec plugins, merged KUBECONFIG, and every way access can fail.
mod access;

/// TLS and authentication: client certificates, tls-server-name, relative paths.
mod tls_auth;

/// HTTP/2: pooling within the server's stream limit, GOAWAY.
mod http2;

/// Proxies: proxy-url, HTTPS_PROXY and NO_PROXY, a proxy that is down.
mod proxies;

/// Credentials that change mid-run: exec plugin tokens and token files rotated, refusal.
mod credentials;

/// Selection, filter and history flags: field selectors, nodes, conditions, container
/// states, -i/-e/-H, time zones, --previous, --stdin, namespace patterns.
mod filtering;

/// Resource queries (deploy/web…), followed as the object changes.
mod resources;

/// The rollout tutorial: ktail follows deploy/web while the real kubectl rolls it forward
/// and back.
mod playground;

/// --since, --since-time and --tail side by side with kubectl.
mod history;

/// CI mode: --until, --until-done and the exit status of a workload.
mod ci;

/// Saying why: how tailed containers ended, what keeps one from running.
mod reasons;

/// Long lines: printed whole in bounded memory, split where a format needs records,
/// resumed within a line.
mod long_lines;

/// --sort: time order across containers, exact with --no-follow, windowed when following.
mod sorted;

/// Several kubeconfig contexts in one run.
mod contexts;

/// Never lose a line: every fault the simulator injects, counted exactly.
mod faults;

/// Limits: tests that bound elapsed time, latency or memory (a deadline tighter than
/// `TIMEOUT`, a peak RSS), apart from the functional tests so that a failure on a loaded
/// machine reads as such. Waiting for an event under `TIMEOUT` is not a limit.
mod limits;

/// Escape sequences in log lines: neutralised on a terminal, byte-exact in a pipe.
mod terminal;

/// Shell completion through real bash, zsh and fish, from the simulated cluster.
mod shells;

/// Installing ktail: `kubectl ktail` through a plugin link, `--version`, the crate package.
mod install;

/// No input panics: every parser of the command line fed random text.
mod parsers;

/// --template and --template-file: fields, helpers, start-up errors.
mod templates;

/// The config file: locations, precedence, errors.
mod config_file;

/// Completions, man page and --help, checked against the committed copies.
mod generated;

/// The shape of the code: layers, module docs, the README's flag table.
mod tidy;
