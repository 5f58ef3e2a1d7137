//! The public handle, [`Sim`]: starting and stopping the server, and the scenario-control
//! API tests call while clients are attached (objects, container lifecycles, log lines,
//! faults).
//!
//! Every method is a thin call into [`Shared`]: changes go through [`Shared::with`], which
//! commits them and wakes watchers, controllers and `wait_for` afterwards, outside the
//! lock. This is the top layer: nothing below it may name `Sim`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::logs::StreamEnd;
use crate::options::SimOptions;
use crate::spec::{CronJobSpec, JobSpec, PodSpec, WorkloadSpec};
use crate::state::Shared;

/// A request held on arrival ([`Sim::hold_next`]); dropping the handle releases it.
pub struct HeldRequest {
    shared: Arc<Shared>,
    hold: Arc<crate::state::Hold>,
}

impl HeldRequest {
    /// Waits until the request has arrived and is held; false if `timeout` passed first.
    pub async fn arrived(&self, timeout: Duration) -> bool {
        let mut rx = self.hold.arrived.subscribe();
        matches!(
            tokio::time::timeout(timeout, rx.wait_for(|a| *a)).await,
            Ok(Ok(_))
        )
    }

    /// Lets the request go on (at once, if it has not arrived yet).
    pub fn release(&self) {
        self.hold.released.send_replace(true);
    }
}

impl Drop for HeldRequest {
    /// A request that never came is no longer waited for; one that did goes on.
    fn drop(&mut self) {
        self.shared
            .faults()
            .holds
            .retain(|h| !Arc::ptr_eq(h, &self.hold));
        self.release();
    }
}

/// A running simulated cluster. Cheap to clone; all clones control the same server.
#[derive(Clone)]
pub struct Sim {
    pub(crate) shared: Arc<Shared>,
}

impl Sim {
    /// Binds `127.0.0.1` on a free port and serves in background tasks.
    pub async fn start(opts: SimOptions) -> std::io::Result<Sim> {
        Sim::start_on(opts, 0).await
    }

    /// Like [`Sim::start`] on a given port (0 = any free port).
    pub async fn start_on(opts: SimOptions, port: u16) -> std::io::Result<Sim> {
        let listener = crate::server::bind(port)?;
        let addr = listener.local_addr()?;
        let tls = if opts.tls {
            Some(crate::tls::generate(opts.require_client_certs, opts.http2)?)
        } else {
            None
        };
        let shared = Shared::start(opts, addr, tls);
        let s = shared.clone();
        shared.spawn_acceptor(async move { crate::server::accept_loop(s, listener).await });
        Ok(Sim { shared })
    }

    pub fn url(&self) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.shared.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The seed of this run: [`SimOptions::seed`], or the one picked from the clock when
    /// that was `None`. Starting a simulator with it replays the generated names, uids and
    /// container IDs of the same scenario steps.
    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// The token the simulator started with ([`SimOptions::token`]); what the
    /// kubeconfig carries.
    pub fn token(&self) -> String {
        self.shared.opts.token.clone()
    }

    /// The bearer tokens accepted from now on, replacing all others: requests with a
    /// revoked token get the apiserver's 401 `Unauthorized` Status. Streams already open
    /// go on, as on a real apiserver, which authenticates a request once, at its start.
    pub fn set_tokens(&self, tokens: &[&str]) {
        self.shared
            .set_tokens(tokens.iter().map(|t| t.to_string()).collect());
    }

    /// Revokes every accepted token and accepts `token` alone.
    pub fn rotate_token(&self, token: &str) {
        self.set_tokens(&[token]);
    }

    /// The bearer tokens accepted now.
    pub fn tokens(&self) -> Vec<String> {
        self.shared.tokens()
    }

    pub fn ca_pem(&self) -> Option<String> {
        self.shared.tls.as_ref().map(|t| t.ca_pem.clone())
    }

    /// The CA's private key (PKCS#8 PEM) when serving TLS: sign client certificates
    /// with it (`openssl x509 -req -CA … -CAkey …`) to authenticate as their subject.
    pub fn ca_key_pem(&self) -> Option<String> {
        self.shared.tls.as_ref().map(|t| t.ca_key_pem.clone())
    }

    /// Every client connection so far, in the order accepted.
    pub fn connections(&self) -> Vec<crate::ConnectionStats> {
        self.shared.connections()
    }

    /// Sends GOAWAY on every open HTTP/2 connection (and closes HTTP/1.1 connections after
    /// their current response), as an apiserver with `--goaway-chance` or on its way
    /// down does: streams in flight go on, new requests must use a new connection.
    pub fn goaway(&self) {
        self.shared.goaway.send_modify(|n| *n += 1);
    }

    /// Requests authenticated by a client certificate so far.
    pub fn client_cert_requests(&self) -> u64 {
        self.shared
            .client_cert_requests
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Each distinct impersonation asked for (`Impersonate-User`, then the
    /// `Impersonate-Group` values in order), in the order first seen.
    pub fn impersonations(&self) -> Vec<(String, Vec<String>)> {
        self.shared.impersonations()
    }

    /// A kubeconfig for this server: cluster `sim`, user `sim-user` with the token,
    /// context `sim` (namespace `default`) as the current context.
    pub fn kubeconfig(&self) -> String {
        self.kubeconfig_in("default")
    }

    /// [`Sim::kubeconfig`] whose context works in namespace `ns`.
    pub fn kubeconfig_in(&self, ns: &str) -> String {
        use base64::Engine;
        let ca = match &self.shared.tls {
            Some(t) => format!(
                "    certificate-authority-data: {}\n",
                base64::engine::general_purpose::STANDARD.encode(t.ca_pem.as_bytes())
            ),
            None => String::new(),
        };
        format!(
            "apiVersion: v1\nkind: Config\npreferences: {{}}\nclusters:\n- name: sim\n  cluster:\n    server: {url}\n{ca}contexts:\n- name: sim\n  context:\n    cluster: sim\n    user: sim-user\n    namespace: {ns}\ncurrent-context: sim\nusers:\n- name: sim-user\n  user:\n    token: {token}\n",
            url = self.url(),
            token = self.shared.opts.token,
        )
    }

    pub fn write_kubeconfig(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// Writes [`Sim::kubeconfig_in`].
    pub fn write_kubeconfig_in(&self, path: &std::path::Path, ns: &str) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig_in(ns))
    }

    /// Resolves once [`Sim::shutdown`] has been called.
    pub(crate) async fn stopped(&self) {
        crate::state::stopped(&mut self.shared.shutdown.subscribe()).await;
    }

    /// An API server outage: the port refuses connections and every open connection is
    /// dropped, while the cluster behind it runs on (pods keep logging, controllers keep
    /// acting) and keeps its state, as when a control plane restarts over its etcd.
    /// [`Sim::come_back`] ends it.
    pub async fn go_down(&self) {
        self.shared.down.send_replace(true);
        // Until the port is closed: connection attempts from now on are refused.
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && std::net::TcpStream::connect(self.addr()).is_ok() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Ends an outage: the API server listens on the same address again.
    pub fn come_back(&self) {
        self.shared.down.send_replace(false);
    }

    /// Stops listening, drops every connection (ending all open streams) and stops the
    /// background tasks.
    pub async fn shutdown(&self) {
        self.shared.stop().await;
    }

    // ---- objects --------------------------------------------------------------------

    pub fn create_namespace(&self, name: &str) {
        self.shared.with(|c| c.create_namespace(name, &[]));
    }

    pub fn create_namespace_with_labels(&self, name: &str, labels: &[(&str, &str)]) {
        self.shared.with(|c| c.create_namespace(name, labels));
    }

    /// Every request in this namespace (pods, logs, workloads) gets 403 Forbidden.
    pub fn forbid_namespace(&self, name: &str) {
        self.shared.with(|c| c.forbidden.insert(name.to_string()));
    }

    /// Creates a bare pod and returns its name (generated when the spec has none).
    pub fn create_pod(&self, ns: &str, spec: PodSpec) -> String {
        self.shared.with(|c| c.create_pod(ns, spec))
    }

    pub fn create_deployment(&self, ns: &str, spec: WorkloadSpec) {
        self.shared.with(|c| c.create_deployment(ns, &spec));
    }

    pub fn create_statefulset(&self, ns: &str, spec: WorkloadSpec) {
        self.shared.with(|c| c.create_statefulset(ns, &spec));
    }

    pub fn create_daemonset(&self, ns: &str, spec: WorkloadSpec) {
        self.shared.with(|c| c.create_daemonset(ns, &spec));
    }

    /// Creates a Job; the Job controller runs its pods (see [`JobSpec`]).
    pub fn create_job(&self, ns: &str, spec: JobSpec) {
        self.shared.with(|c| c.create_job(ns, &spec));
    }

    /// The Job as the API server serves it now.
    pub fn job(&self, ns: &str, name: &str) -> Option<Value> {
        self.object(crate::store::Resource::Job, ns, name)
    }

    /// Creates a CronJob; its controller creates a Job at each scheduled minute.
    ///
    /// # Panics
    /// If the schedule is not cron syntax.
    pub fn create_cronjob(&self, ns: &str, spec: CronJobSpec) {
        self.shared
            .with(|c| c.create_cronjob(ns, &spec))
            .unwrap_or_else(|e| panic!("schedule {:?}: {e}", spec.schedule));
    }

    /// Runs a CronJob now, as `kubectl create job NAME-manual-xxxxx --from=cronjob/NAME`
    /// does; returns the Job's name, or None when there is no such CronJob.
    pub fn trigger_cronjob(&self, ns: &str, name: &str) -> Option<String> {
        self.shared.with(|c| c.trigger_cronjob(ns, name))
    }

    /// The CronJob as the API server serves it now.
    pub fn cronjob(&self, ns: &str, name: &str) -> Option<Value> {
        self.object(crate::store::Resource::CronJob, ns, name)
    }

    /// The Job controller's back-off before it replaces a failed pod: `d`, doubled after
    /// each further failure, at most 6 minutes. 1 s by default so tests move quickly (the
    /// real controller starts at 10 s).
    pub fn set_job_backoff(&self, d: Duration) {
        self.shared.with(|c| c.job_backoff = d);
    }

    pub fn create_service(&self, ns: &str, name: &str, selector: &[(&str, &str)]) {
        self.shared.with(|c| c.create_service(ns, name, selector));
    }

    /// `kubectl set image`: a rolling update (maxSurge 1, maxUnavailable 0) to a new
    /// ReplicaSet.
    pub fn set_image(&self, ns: &str, deploy: &str, container: &str, image: &str) {
        self.shared
            .with(|c| c.set_image(ns, deploy, container, image));
    }

    /// `kubectl rollout undo`: roll back to the previous revision's template.
    pub fn rollout_undo(&self, ns: &str, deploy: &str) {
        self.shared.with(|c| c.rollout_undo(ns, deploy));
    }

    pub fn scale(&self, ns: &str, deploy: &str, replicas: u32) {
        self.shared.with(|c| c.scale(ns, deploy, replicas));
    }

    /// Changes a Deployment's selector and template labels; new pods carry the new labels.
    pub fn set_deployment_selector(&self, ns: &str, deploy: &str, labels: &[(&str, &str)]) {
        self.shared
            .with(|c| c.set_deployment_selector(ns, deploy, labels));
    }

    /// Deletes a Deployment, its ReplicaSets and (gracefully) its pods.
    pub fn delete_deployment(&self, ns: &str, deploy: &str) {
        self.shared.with(|c| c.delete_deployment(ns, deploy));
    }

    /// Grace period of pods deleted by controllers (rolling updates, scale-down); 1 s by
    /// default so tests move quickly.
    pub fn set_controller_grace(&self, grace: std::time::Duration) {
        self.shared.with(|c| c.controller_grace = grace);
    }

    /// The current instance exits with `exit_code` and a new one starts: new containerID,
    /// restartCount + 1, the old log stays readable with `previous=true`.
    pub fn restart_container(&self, ns: &str, pod: &str, container: &str, exit_code: i32) {
        self.shared
            .with(|c| c.restart_container(ns, pod, container, exit_code));
    }

    /// The current instance exits with 1 and the container waits in CrashLoopBackOff until
    /// `restart_container`.
    pub fn crash_loop(&self, ns: &str, pod: &str, container: &str) {
        self.shared.with(|c| c.crash_loop(ns, pod, container));
    }

    /// The current instance dies with `exit_code` and `reason` (`OOMKilled`, `Error`...)
    /// and the kubelet starts the next one: restartCount + 1, the dead instance in
    /// `lastState.terminated`. False if there is no such container.
    pub fn crash(
        &self,
        ns: &str,
        pod: &str,
        container: &str,
        exit_code: i32,
        reason: &str,
    ) -> bool {
        self.shared
            .with(|c| c.crash(ns, pod, container, exit_code, Some(reason)))
    }

    /// The container's readiness probe fails (`true`) or passes again (`false`): it keeps
    /// running, but the pod is not Ready. False if there is no such container.
    pub fn fail_readiness(&self, ns: &str, pod: &str, container: &str, failing: bool) -> bool {
        self.shared
            .with(|c| c.set_readiness(ns, pod, container, failing))
    }

    /// The container's liveness probe starts failing: the kubelet reports `Unhealthy`
    /// (`Liveness probe failed: HTTP probe failed with statuscode: 500`) at once and every
    /// probe period (2 s) after, bumping the event's count, and on the third failure
    /// kills the container (`Killing`; exit 137, reason Error in `lastState`) and
    /// restarts it; the new instance is healthy. False if the container is not a running
    /// regular container.
    pub fn fail_liveness(&self, ns: &str, pod: &str, container: &str) -> bool {
        self.shared.with(|c| c.fail_liveness(ns, pod, container))
    }

    /// The simulated registry refuses `image` (`true`) or serves it again: containers that
    /// need it wait in `ErrImagePull` and `ImagePullBackOff` until it does.
    pub fn fail_image_pulls(&self, image: &str, fail: bool) {
        self.shared.with(|c| c.set_image_pullable(image, fail));
    }

    /// The current instance exits (Completed for 0, Error otherwise); follow streams end.
    pub fn terminate_container(&self, ns: &str, pod: &str, container: &str, exit_code: i32) {
        self.shared
            .with(|c| c.terminate_container(ns, pod, container, exit_code));
    }

    /// Graceful deletion: MODIFIED with deletionTimestamp now, containers stop after
    /// `grace`, then DELETED.
    pub fn delete_pod(&self, ns: &str, pod: &str, grace: std::time::Duration) {
        self.shared.with(|c| c.delete_pod(ns, pod, grace));
    }

    /// Appends one line to the container's current instance.
    pub fn log(&self, ns: &str, pod: &str, container: &str, line: &str) {
        self.shared.with(|c| c.log(ns, pod, container, line));
    }

    /// Appends `line` to the current instance as if the container had written it at `at`
    /// (history written before a test attached, with known timestamps). Lines must be
    /// appended in time order, as a container writes them.
    pub fn log_at(&self, ns: &str, pod: &str, container: &str, at: jiff::Timestamp, line: &str) {
        self.shared.with(|c| c.log_at(ns, pod, container, at, line));
    }

    /// The pod as the API server serves it now.
    pub fn pod(&self, ns: &str, name: &str) -> Option<Value> {
        self.object(crate::store::Resource::Pod, ns, name)
    }

    /// Every object of a resource (`"replicasets"`, `"deployments"`, `"namespaces"`...) in
    /// a namespace (ignored for cluster-scoped ones), as the API server serves them now.
    pub fn objects(&self, resource: &str, ns: &str) -> Vec<Value> {
        let Some(r) = crate::store::Resource::ALL
            .into_iter()
            .find(|r| r.plural() == resource)
        else {
            return Vec::new();
        };
        let ns = r.namespaced().then_some(ns);
        let c = self.shared.lock();
        c.store.list(r, ns).map(|(_, s)| (*s.obj).clone()).collect()
    }

    /// The Events of a namespace as the API server serves them now, in the order of their
    /// last change (a count bump moves an event to the end).
    pub fn events(&self, ns: &str) -> Vec<Value> {
        let mut evs = self.objects("events", ns);
        evs.sort_by_key(|e| {
            e["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|rv| rv.parse::<u64>().ok())
        });
        evs
    }

    fn object(&self, r: crate::store::Resource, ns: &str, name: &str) -> Option<Value> {
        let c = self.shared.lock();
        c.store
            .get(r, &(ns.to_string(), name.to_string()))
            .map(|s| (*s.obj).clone())
    }

    pub fn pod_names(&self, ns: &str) -> Vec<String> {
        let c = self.shared.lock();
        c.pods
            .keys()
            .filter(|k| k.0 == ns)
            .map(|k| k.1.clone())
            .collect()
    }

    /// Waits until `cond` holds, re-checking after every state change; false on timeout.
    pub async fn wait_for(&self, timeout: Duration, cond: impl Fn(&Sim) -> bool) -> bool {
        let deadline = crate::meta::after(Instant::now(), timeout);
        let mut rx = self.shared.ticked.subscribe();
        loop {
            rx.borrow_and_update();
            if cond(self) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => return cond(self),
            }
        }
    }

    /// Generated lines (seq 0..n) this container has written over all its instances.
    pub fn generated(&self, ns: &str, pod: &str, container: &str) -> u64 {
        let c = self.shared.lock();
        c.generated
            .get(&(ns.to_string(), pod.to_string(), container.to_string()))
            .copied()
            .unwrap_or(0)
    }

    /// Generated lines per (pod, container) of every pod that has been in `ns`, deleted
    /// ones included: the ground truth of a whole rollout.
    pub fn generated_in(&self, ns: &str) -> std::collections::BTreeMap<(String, String), u64> {
        let c = self.shared.lock();
        c.generated
            .iter()
            .filter(|((n, _, _), _)| n == ns)
            .map(|((_, p, ctr), n)| ((p.clone(), ctr.clone()), *n))
            .collect()
    }

    // ---- faults ---------------------------------------------------------------------

    /// Every open log stream ends (cleanly or by a connection reset); containers keep
    /// running.
    pub fn end_log_streams(&self, how: StreamEnd) {
        self.shared.lock().end_log_streams(how);
    }

    /// Every open watch gets an in-band ERROR 410 Expired and closes; the history is
    /// compacted so resuming from an older resourceVersion is 410 as well.
    pub fn expire_watches(&self) {
        self.shared.with(|c| c.store.compact());
        // Watchers only look at the epoch when woken.
        self.shared.changed.send_modify(|_| {});
    }

    /// Every request arriving within `d` is held until `d` has passed.
    pub fn stall(&self, d: Duration) {
        self.shared.faults().stall_until = Some(crate::meta::after(Instant::now(), d));
    }

    /// Holds the next request whose request line is `method path` (no query: `"GET"`,
    /// `"/api/v1/namespaces/default/pods/web-1"`) on arrival, before anything looks at it,
    /// until [`HeldRequest::release`]: a request that a slow network or a busy API server
    /// delivers late. A test orders a client's requests between changes of the cluster
    /// with it, without sleeping.
    pub fn hold_next(&self, method: &str, path: &str) -> HeldRequest {
        let hold = Arc::new(crate::state::Hold::new(format!("{method} {path}")));
        self.shared.faults().holds.push(hold.clone());
        HeldRequest {
            shared: self.shared.clone(),
            hold,
        }
    }

    /// The next `k` requests get 429 TooManyRequests (with Retry-After) or 500.
    pub fn fail_next(&self, k: usize, code: u16, retry_after: Option<u32>) {
        self.shared.faults().fail = (k > 0).then_some((k, code, retry_after));
    }

    /// Rotates the container's current log: older lines are no longer served to new
    /// requests, open follow streams continue.
    pub fn rotate_log(&self, ns: &str, pod: &str, container: &str) {
        self.shared.lock().rotate_log(ns, pod, container);
    }

    /// Requests received so far.
    pub fn request_count(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// The requests received so far, as `METHOD path?query` (the first 100,000).
    pub fn request_log(&self) -> Vec<String> {
        self.shared.request_log()
    }

    /// The journals of a container, previous instance first (for tests of the log model).
    pub fn journal_lens(&self, ns: &str, pod: &str, container: &str) -> Vec<usize> {
        self.shared
            .lock()
            .journals(ns, pod, container)
            .iter()
            .map(|j| j.len())
            .collect()
    }
}
