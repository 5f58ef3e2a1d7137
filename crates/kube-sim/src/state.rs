//! The state every layer shares: one [`Cluster`] behind one mutex, the signals that wake
//! watchers, controllers and `wait_for`, injected faults, and the background tasks that
//! make the cluster move on its own (pod lifecycle clocks, log generators, the controller
//! manager).
//!
//! Every change goes through [`Shared::with`], which commits it and wakes everyone who
//! waits, outside the lock. This module sits below the server and the public handle: it
//! must not know about sockets, HTTP or request parsing.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};
use tokio::time::Instant;

use crate::cluster::{Cluster, PodStep, Spawn};
use crate::logs::StreamEnd;
use crate::meta::Rng;
use crate::options::SimOptions;
use crate::store::Key;
use crate::tls::TlsMaterial;

#[derive(Default)]
pub(crate) struct Faults {
    pub(crate) stall_until: Option<Instant>,
    /// Remaining count, status code, Retry-After seconds.
    pub(crate) fail: Option<(usize, u16, Option<u32>)>,
    /// Requests to hold on arrival, each the next one of its request line.
    pub(crate) holds: Vec<Arc<Hold>>,
}

/// The next request whose request line (`GET /api/v1/namespaces/default/pods/web-1`, no
/// query) is `line` waits on arrival until `released`: a request that a slow network or a
/// busy API server delivers late.
pub(crate) struct Hold {
    pub(crate) line: String,
    /// The request came and is held.
    pub(crate) arrived: watch::Sender<bool>,
    pub(crate) released: watch::Sender<bool>,
}

impl Hold {
    pub(crate) fn new(line: String) -> Hold {
        Hold {
            line,
            arrived: watch::channel(false).0,
            released: watch::channel(false).0,
        }
    }
}

pub(crate) struct Shared {
    pub(crate) opts: SimOptions,
    /// The seed every random stream of this simulator descends from.
    pub(crate) seed: u64,
    /// The server's own random stream (watch timeouts), apart from the cluster's so that
    /// how many requests clients make does not change generated names.
    rng: Mutex<Rng>,
    pub(crate) cluster: Mutex<Cluster>,
    /// Bumped with the store's resourceVersion after every object write.
    pub(crate) changed: watch::Sender<u64>,
    /// Bumped after every state change, including log writes (for `wait_for`).
    pub(crate) ticked: watch::Sender<u64>,
    pub(crate) shutdown: watch::Sender<bool>,
    /// The API server is down (`Sim::go_down`): the port is closed and every connection
    /// dropped, while the cluster behind it (kubelets, controllers) runs on.
    pub(crate) down: watch::Sender<bool>,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) requests: AtomicU64,
    /// The first `REQUEST_LOG_MAX` request lines (`GET /api/v1/pods?watch=true`), for
    /// tests that count what a client asks for.
    request_log: Mutex<Vec<String>>,
    /// The bearer tokens accepted now: `SimOptions::token` at start, changed at runtime
    /// by `Sim::set_tokens` as a real cluster revokes and issues tokens.
    tokens: Mutex<Vec<String>>,
    /// Every connection accepted, with its stream counts.
    connections: Mutex<Vec<Arc<crate::connections::Conn>>>,
    /// Bumped by `Sim::goaway`: connections shut down gracefully.
    pub(crate) goaway: watch::Sender<u64>,
    /// Requests authenticated by a verified client certificate.
    pub(crate) client_cert_requests: AtomicU64,
    /// Distinct (Impersonate-User, Impersonate-Group…) pairs seen.
    impersonations: Mutex<Vec<(String, Vec<String>)>>,
    pub(crate) addr: SocketAddr,
    pub(crate) tls: Option<TlsMaterial>,
    handle: tokio::runtime::Handle,
    tasks: Mutex<Vec<AbortHandle>>,
    /// The accept loop, awaited on shutdown so the port is closed when `stop` returns.
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

/// Request lines kept for `Sim::request_log`: a benchmark's millions of requests must not
/// grow the simulator without bound.
const REQUEST_LOG_MAX: usize = 100_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not take the simulator down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// The shared state of a server listening on `addr`, with the controller manager
    /// already running on the current runtime. Without a seed in `opts` one is taken from
    /// the clock; either way [`Shared::seed`] keeps it, so the run can be replayed.
    pub(crate) fn start(
        opts: SimOptions,
        addr: SocketAddr,
        tls: Option<TlsMaterial>,
    ) -> Arc<Shared> {
        let seed = opts
            .seed
            .unwrap_or_else(|| jiff::Timestamp::now().as_nanosecond() as u64);
        let mut root = Rng::new(seed);
        let cluster = Cluster::new(opts.watch_history, root.split());
        let shared = Arc::new(Shared {
            tokens: Mutex::new(vec![opts.token.clone()]),
            client_cert_requests: AtomicU64::new(0),
            connections: Mutex::new(Vec::new()),
            goaway: watch::channel(0).0,
            impersonations: Mutex::new(Vec::new()),
            request_log: Mutex::new(Vec::new()),
            cluster: Mutex::new(cluster),
            opts,
            seed,
            rng: Mutex::new(root.split()),
            changed: watch::channel(0).0,
            ticked: watch::channel(0).0,
            shutdown: watch::channel(false).0,
            down: watch::channel(false).0,
            faults: Mutex::new(Faults::default()),
            requests: AtomicU64::new(0),
            addr,
            tls,
            handle: tokio::runtime::Handle::current(),
            tasks: Mutex::new(Vec::new()),
            acceptor: Mutex::new(None),
        });
        let s = shared.clone();
        shared.spawn(async move { controllers(s).await });
        shared
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Cluster> {
        lock(&self.cluster)
    }

    /// The bearer tokens accepted now.
    pub(crate) fn tokens(&self) -> Vec<String> {
        lock(&self.tokens).clone()
    }

    pub(crate) fn set_tokens(&self, tokens: Vec<String>) {
        *lock(&self.tokens) = tokens;
    }

    /// Registers a new connection.
    pub(crate) fn connection(
        &self,
        protocol: crate::connections::Protocol,
    ) -> Arc<crate::connections::Conn> {
        let conn = crate::connections::Conn::new(protocol);
        lock(&self.connections).push(conn.clone());
        conn
    }

    pub(crate) fn connections(&self) -> Vec<crate::connections::ConnectionStats> {
        lock(&self.connections).iter().map(|c| c.stats()).collect()
    }

    pub(crate) fn impersonations(&self) -> Vec<(String, Vec<String>)> {
        lock(&self.impersonations).clone()
    }

    /// Records an impersonation a request asked for, once.
    pub(crate) fn saw_request(&self, method: &hyper::Method, uri: &hyper::Uri) {
        let mut log = lock(&self.request_log);
        if log.len() < REQUEST_LOG_MAX {
            let target = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
            log.push(format!("{method} {target}"));
        }
    }

    pub(crate) fn request_log(&self) -> Vec<String> {
        lock(&self.request_log).clone()
    }

    pub(crate) fn saw_impersonation(&self, user: String, groups: Vec<String>) {
        let mut seen = lock(&self.impersonations);
        if !seen.iter().any(|(u, g)| *u == user && *g == groups) {
            seen.push((user, groups));
        }
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    /// Takes the hold waiting for this request line, if one is.
    pub(crate) fn take_hold(&self, line: &str) -> Option<Arc<Hold>> {
        let mut f = self.faults();
        let i = f.holds.iter().position(|h| h.line == line)?;
        Some(f.holds.remove(i))
    }

    /// The next number of the server's random stream.
    pub(crate) fn random(&self) -> u64 {
        lock(&self.rng).next()
    }

    /// Runs a mutation, commits it, starts requested tasks and wakes everyone who waits
    /// for changes.
    pub(crate) fn with<R>(self: &Arc<Self>, f: impl FnOnce(&mut Cluster) -> R) -> R {
        let (r, spawns, rv) = {
            let mut c = self.lock();
            let r = f(&mut c);
            c.commit();
            (r, c.take_spawns(), c.store.rv())
        };
        for s in spawns {
            self.start_task(s);
        }
        self.changed.send_if_modified(|v| {
            let bumped = *v != rv;
            *v = rv;
            bumped
        });
        self.ticked.send_modify(|v| *v += 1);
        r
    }

    /// Runs `fut` until it ends or the simulator shuts down.
    pub(crate) fn spawn(&self, fut: impl Future<Output = ()> + Send + 'static) {
        let h = self.handle.spawn(fut).abort_handle();
        let mut tasks = lock(&self.tasks);
        if tasks.len() >= 256 {
            tasks.retain(|t| !t.is_finished());
        }
        tasks.push(h);
    }

    /// Runs the accept loop; [`Shared::stop`] waits for it to end.
    pub(crate) fn spawn_acceptor(&self, fut: impl Future<Output = ()> + Send + 'static) {
        *lock(&self.acceptor) = Some(self.handle.spawn(fut));
    }

    /// Stops listening, drops every connection (ending all open streams) and stops the
    /// background tasks.
    pub(crate) async fn stop(&self) {
        self.shutdown.send_replace(true);
        let acceptor = lock(&self.acceptor).take();
        if let Some(a) = acceptor {
            let _ = a.await;
        }
        let tasks = std::mem::take(&mut *lock(&self.tasks));
        for t in tasks {
            t.abort();
        }
        self.lock().end_log_streams(StreamEnd::Reset);
        tokio::task::yield_now().await;
    }

    fn start_task(self: &Arc<Self>, s: Spawn) {
        let me = self.clone();
        match s {
            Spawn::PodLifecycle { key, uid, wake } => self.spawn(async move {
                pod_lifecycle(me, key, uid, wake).await;
            }),
            Spawn::Generator {
                key,
                uid,
                container,
            } => self.spawn(async move {
                generator(me, key, uid, container).await;
            }),
        }
    }
}

/// Resolves once the simulator shuts down.
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Drives one pod's clock until the pod is gone.
async fn pod_lifecycle(shared: Arc<Shared>, key: Key, uid: String, wake: Arc<tokio::sync::Notify>) {
    loop {
        match shared.with(|c| c.advance_pod(&key, &uid)) {
            PodStep::Gone => return,
            PodStep::Wait(None) => wake.notified().await,
            PodStep::Wait(Some(at)) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = wake.notified() => {}
                }
            }
        }
    }
}

/// Writes a container's generated lines in small batches every 10 ms while it runs.
async fn generator(shared: Arc<Shared>, key: Key, uid: String, container: String) {
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let alive = {
            let mut c = shared.lock();
            c.generate_tick(&key, &uid, &container)
        };
        shared.ticked.send_modify(|v| *v += 1);
        if !alive {
            return;
        }
    }
}

/// The controller manager: reconciles workloads after every change, and when a timer a
/// controller asked for (a Job's back-off or deadline, a CronJob's schedule) is due.
async fn controllers(shared: Arc<Shared>) {
    let mut rx = shared.changed.subscribe();
    loop {
        let mut progress = true;
        for _ in 0..1000 {
            progress = shared.with(Cluster::reconcile_all);
            if !progress {
                break;
            }
        }
        if progress {
            tokio::task::yield_now().await;
            continue;
        }
        rx.borrow_and_update();
        let timer = shared.lock().next_timer();
        tokio::select! {
            r = rx.changed() => {
                if r.is_err() {
                    return;
                }
            }
            _ = tokio::time::sleep_until(timer.unwrap_or_else(Instant::now)), if timer.is_some() => {}
        }
    }
}
