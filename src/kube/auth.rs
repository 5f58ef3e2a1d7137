//! Credentials that go stale, fetched again as client-go does: an exec credential
//! plugin's token and a token file (kubeconfig `tokenFile`, the in-cluster
//! service-account token, which the kubelet rotates).
//!
//! kube-rs caches an exec token without `expirationTimestamp` for the life of the client
//! and re-reads a token file only once a minute, so after the cluster rotates a token
//! every request gets 401 and a follow run silently loses everything from then on. This
//! module owns such a credential instead: it runs the plugin (the
//! `client.authentication.k8s.io` ExecCredential protocol, `KUBERNETES_EXEC_INFO` and
//! all) or reads the file, renews the token before its expiry, and on a 401 renews it
//! once and retries the request. Only a 401 with credentials as fresh as ktail can get
//! counts as refused; [`RefreshLayer`] counts those for every kind of credential
//! (static tokens and client certificates too), and when they stay refused the run is
//! told through [`refused_for_good`] (the policy: [`GIVE_UP_REFUSALS`] in a row over
//! at least [`GIVE_UP_AFTER`]). It must not print: what the user reads is decided above.

use std::future::Future;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::header::AUTHORIZATION;
use http::{HeaderValue, Request, Response, StatusCode};
use kube::client::Body;
use kube::config::{AuthInfo, ExecConfig, ExecInteractiveMode};
use serde::Deserialize;
use tokio::sync::{Mutex, watch};
use tower::{BoxError, Layer, Service, ServiceExt};

/// A token file is read again at least this often (kube-rs and client-go: a minute).
const FILE_REREAD: Duration = Duration::from_secs(60);
/// An expiring exec token is renewed this long before its `expirationTimestamp`, so that
/// no request leaves with a token about to lapse.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// A credential fetched after a 401 this recently counts as fresh: another 401 for it
/// renews nothing (many streams refused at once must not run the plugin once each).
const FRESH: Duration = Duration::from_secs(1);
/// Refused requests in a row (each with fresh credentials) after which a run gives up…
pub(crate) const GIVE_UP_REFUSALS: u32 = 5;
/// …when the first of them is at least this old: one outage of an authentication
/// webhook must not end a long run.
pub(crate) const GIVE_UP_AFTER: Duration = Duration::from_secs(10);

/// A credential that ktail can fetch again.
#[derive(Debug, Clone)]
pub(crate) enum Refreshable {
    /// An exec credential plugin.
    Exec(Box<ExecConfig>),
    /// A file holding a bearer token.
    File(PathBuf),
}

impl Refreshable {
    /// The renewable credential of `auth`, in kube-rs's (and client-go's) order of
    /// precedence: `None` when an auth-provider, basic auth or a static token wins, or
    /// there is nothing to renew.
    pub(crate) fn of(auth: &AuthInfo) -> Option<Refreshable> {
        if auth.auth_provider.is_some()
            || (auth.username.is_some() && auth.password.is_some())
            || auth.token.is_some()
        {
            return None;
        }
        if let Some(file) = &auth.token_file {
            return Some(Refreshable::File(PathBuf::from(file)));
        }
        auth.exec.clone().map(|e| Refreshable::Exec(Box::new(e)))
    }

    /// What the credential is, for messages (never the token).
    fn describe(&self) -> String {
        match self {
            Refreshable::Exec(exec) => format!(
                "the credential plugin '{}'",
                exec.command.as_deref().unwrap_or_default()
            ),
            Refreshable::File(path) => format!("the token file '{}'", path.display()),
        }
    }
}

/// Credentials could not be fetched: the message says from where and why.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct CredentialError(pub(crate) String);

/// A fetched token and when to fetch again.
struct Token {
    /// `None`: the plugin returned a client certificate (kube-rs's TLS layer presents it).
    header: Option<HeaderValue>,
    generation: u64,
    fetched: Instant,
    /// Fetched because a request was refused.
    after_refusal: bool,
    renew_at: Option<Instant>,
}

/// The owned credential: the source, the token last fetched, and the refusal count.
struct Credential {
    source: Option<Refreshable>,
    token: Mutex<Option<Token>>,
    refusals: std::sync::Mutex<Refusals>,
    /// The newest generation a request was accepted with.
    accepted: AtomicU64,
    server: String,
}

impl Credential {
    /// The token to send now, fetched when there is none yet or it is due; with the
    /// generation it belongs to.
    async fn current(&self) -> Result<(Option<HeaderValue>, u64), CredentialError> {
        let Some(source) = &self.source else {
            return Ok((None, 0));
        };
        let mut token = self.token.lock().await;
        let due = match token.as_ref() {
            None => true,
            Some(t) => t.renew_at.is_some_and(|at| Instant::now() >= at),
        };
        if due {
            let previous = token.take();
            *token = Some(fetch(source, previous).await?);
        }
        let t = token.as_ref().expect("fetched above");
        Ok((t.header.clone(), t.generation))
    }

    /// After a 401 for a request sent with generation `used`: a fresh token (fetched again
    /// unless another request already did, or it is fresh anyway), and its generation.
    async fn renew(&self, used: u64) -> Result<(Option<HeaderValue>, u64), CredentialError> {
        let Some(source) = &self.source else {
            return Ok((None, used));
        };
        let mut token = self.token.lock().await;
        let stale = match token.as_ref() {
            None => true,
            Some(t) => {
                // Just fetched for a refused request and accepted nowhere yet: fetching
                // again would give the same.
                let unproven = t.after_refusal
                    && self.accepted.load(Ordering::Relaxed) < t.generation
                    && t.fetched.elapsed() < FRESH;
                t.generation == used && !unproven
            }
        };
        if stale {
            let previous = token.take();
            let mut fresh = fetch(source, previous).await?;
            fresh.after_refusal = true;
            *token = Some(fresh);
        }
        let t = token.as_ref().expect("fetched above");
        Ok((t.header.clone(), t.generation))
    }

    /// Counts the answer to a request sent with the credential of `generation`, as fresh
    /// as it gets.
    fn judge(&self, status: StatusCode, generation: u64) {
        if status != StatusCode::UNAUTHORIZED {
            self.accepted.fetch_max(generation, Ordering::Relaxed);
        }
        let given_up = {
            let mut r = self.refusals.lock().unwrap_or_else(|e| e.into_inner());
            r.record(status == StatusCode::UNAUTHORIZED, Instant::now())
        };
        if given_up {
            let what = match &self.source {
                Some(s) => format!("{} gave", s.describe()),
                None => "the kubeconfig gives".to_string(),
            };
            let msg = format!(
                "the API server at {} keeps refusing ktail's credentials (401 Unauthorized on {GIVE_UP_REFUSALS} requests in a row, each with the freshest credentials {what}): log in again or fix the user in the kubeconfig, then run ktail again",
                self.server
            );
            give_up_channel().send_if_modified(|m| {
                let first = m.is_none();
                if first {
                    *m = Some(msg);
                }
                first
            });
        }
    }
}

/// Refused requests in a row, and when the first of them was answered.
#[derive(Debug, Default)]
struct Refusals {
    in_row: u32,
    since: Option<Instant>,
}

impl Refusals {
    /// Records one answer; true when the run should give up.
    fn record(&mut self, refused: bool, now: Instant) -> bool {
        if !refused {
            *self = Refusals::default();
            return false;
        }
        self.in_row += 1;
        let since = *self.since.get_or_insert(now);
        self.in_row >= GIVE_UP_REFUSALS && now.duration_since(since) >= GIVE_UP_AFTER
    }
}

fn give_up_channel() -> &'static watch::Sender<Option<String>> {
    static CHANNEL: OnceLock<watch::Sender<Option<String>>> = OnceLock::new();
    CHANNEL.get_or_init(|| watch::channel(None).0)
}

/// Resolves, with the message for the user, once the API server has kept refusing
/// ktail's credentials (see the module's policy). One per process: a run is a process,
/// and whichever cluster refuses for good ends it.
pub(crate) async fn refused_for_good() -> String {
    let mut rx = give_up_channel().subscribe();
    loop {
        if let Some(msg) = rx.borrow_and_update().clone() {
            return msg;
        }
        if rx.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Fetches the credential from its source. A token file that cannot be read again keeps
/// the last token read (client-go does, kubernetes/kubernetes#68164: some setups remove
/// the file once the process has started).
async fn fetch(source: &Refreshable, previous: Option<Token>) -> Result<Token, CredentialError> {
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    let now = Instant::now();
    match source {
        Refreshable::File(path) => {
            let header = match tokio::fs::read_to_string(path).await {
                Ok(text) => Some(bearer(text.trim(), source)?),
                Err(e) => match previous.and_then(|p| p.header) {
                    Some(h) => Some(h),
                    None => {
                        return Err(CredentialError(format!(
                            "cannot read the token file '{}': {}",
                            path.display(),
                            io_reason(&e)
                        )));
                    }
                },
            };
            Ok(Token {
                header,
                generation,
                fetched: now,
                after_refusal: false,
                renew_at: Some(now + FILE_REREAD),
            })
        }
        Refreshable::Exec(exec) => {
            let out = run_plugin(exec).await?;
            let renew_at = out.expiry.map(|at| {
                let left = at.duration_since(jiff::Timestamp::now());
                let left = Duration::try_from(left).unwrap_or(Duration::ZERO);
                now + left.saturating_sub(EXPIRY_MARGIN)
            });
            let header = out.token.map(|t| bearer(&t, source)).transpose()?;
            Ok(Token {
                header,
                generation,
                fetched: now,
                after_refusal: false,
                renew_at,
            })
        }
    }
}

fn bearer(token: &str, source: &Refreshable) -> Result<HeaderValue, CredentialError> {
    let mut value = HeaderValue::try_from(format!("Bearer {token}")).map_err(|_| {
        CredentialError(format!(
            "{} gave a token that cannot be sent in an HTTP header",
            source.describe()
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// What a plugin run gave.
#[derive(Debug, PartialEq)]
struct PluginOutput {
    /// `None` when it gave a client certificate instead.
    token: Option<String>,
    expiry: Option<jiff::Timestamp>,
}

#[derive(Deserialize)]
struct ExecCredential {
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    status: Option<ExecStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecStatus {
    token: Option<String>,
    expiration_timestamp: Option<String>,
    client_certificate_data: Option<String>,
}

/// Runs the exec plugin as client-go does: its args and env, `KUBERNETES_EXEC_INFO`
/// (with the cluster when `provideClusterInfo`), the terminal's stdin only when
/// interactive; stdout must be an ExecCredential of the configured apiVersion (JSON or
/// YAML, which client-go's decoder also takes).
async fn run_plugin(exec: &ExecConfig) -> Result<PluginOutput, CredentialError> {
    let Some(command) = exec.command.as_deref() else {
        return Err(CredentialError(
            "the exec credential plugin of the kubeconfig user names no command".into(),
        ));
    };
    let what = format!("the credential plugin '{command}'");
    let mut cmd = tokio::process::Command::new(command);
    cmd.args(exec.args.iter().flatten());
    for pair in exec.env.iter().flatten() {
        if let (Some(name), Some(value)) = (pair.get("name"), pair.get("value")) {
            cmd.env(name, value);
        }
    }
    for name in exec.drop_env.iter().flatten() {
        cmd.env_remove(name);
    }
    let interactive =
        exec.interactive_mode != Some(ExecInteractiveMode::Never) && std::io::stdin().is_terminal();
    let mut spec = serde_json::json!({ "interactive": interactive });
    if exec.provide_cluster_info
        && let Some(cluster) = &exec.cluster
    {
        spec["cluster"] = serde_json::to_value(cluster).unwrap_or_default();
    }
    let info = serde_json::json!({
        "apiVersion": exec.api_version,
        "kind": "ExecCredential",
        "spec": spec,
    });
    cmd.env("KUBERNETES_EXEC_INFO", info.to_string());
    cmd.stdin(if interactive {
        std::process::Stdio::inherit()
    } else {
        std::process::Stdio::null()
    });
    cmd.kill_on_drop(true);
    let out = cmd.output().await.map_err(|e| {
        let hint = exec
            .install_hint
            .as_deref()
            .map(|h| format!(" ({})", first_line(h)))
            .unwrap_or_default();
        CredentialError(format!("cannot run {what}: {}{hint}", io_reason(&e)))
    })?;
    if !out.status.success() {
        let said = first_line(&String::from_utf8_lossy(&out.stderr));
        let code = out
            .status
            .code()
            .map_or("a signal".to_string(), |c| format!("status {c}"));
        return Err(CredentialError(if said.is_empty() {
            format!("{what} failed with {code}")
        } else {
            format!("{what} failed with {code}: {said}")
        }));
    }
    parse_plugin_output(&out.stdout, exec.api_version.as_deref())
        .map_err(|why| CredentialError(format!("{what} {why}")))
}

fn parse_plugin_output(stdout: &[u8], api_version: Option<&str>) -> Result<PluginOutput, String> {
    let cred: ExecCredential = serde_saphyr::from_slice(stdout)
        .map_err(|e| format!("printed no ExecCredential: {}", first_line(&e.to_string())))?;
    if cred.kind.as_deref().is_some_and(|k| k != "ExecCredential") {
        return Err(format!(
            "printed a {} instead of an ExecCredential",
            cred.kind.unwrap_or_default()
        ));
    }
    if let (Some(want), Some(got)) = (api_version, cred.api_version.as_deref())
        && want != got
    {
        return Err(format!(
            "answered in API version {got}, but the kubeconfig asks for {want}"
        ));
    }
    let Some(status) = cred.status else {
        return Err("printed an ExecCredential without a status".into());
    };
    let expiry = status
        .expiration_timestamp
        .as_deref()
        .map(|t| {
            t.parse::<jiff::Timestamp>()
                .map_err(|_| format!("gave an invalid expirationTimestamp '{t}'"))
        })
        .transpose()?;
    let token = status.token.filter(|t| !t.is_empty());
    if token.is_none() && status.client_certificate_data.is_none() {
        return Err("gave neither a token nor a client certificate".into());
    }
    Ok(PluginOutput { token, expiry })
}

/// An I/O failure in words, without the OS error number.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            match s.find(" (os error") {
                Some(at) => s[..at].to_string(),
                None => s,
            }
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_string()
}

/// Adds the credential to every request, renews it on a 401 and retries once, and counts
/// refusals (see the module doc). Its place is kube-rs's auth layer's.
#[derive(Clone)]
pub(crate) struct RefreshLayer {
    credential: Arc<Credential>,
}

impl RefreshLayer {
    /// A layer for `source` (`None`: another layer authenticates; this one only counts
    /// refusals) for requests to `server`.
    pub(crate) fn new(source: Option<Refreshable>, server: &str) -> RefreshLayer {
        RefreshLayer {
            credential: Arc::new(Credential {
                source,
                token: Mutex::new(None),
                refusals: std::sync::Mutex::new(Refusals::default()),
                accepted: AtomicU64::new(0),
                server: server.trim_end_matches('/').to_string(),
            }),
        }
    }
}

impl<S> Layer<S> for RefreshLayer {
    type Service = Refresh<S>;

    fn layer(&self, inner: S) -> Refresh<S> {
        Refresh {
            inner,
            credential: self.credential.clone(),
        }
    }
}

/// The service of [`RefreshLayer`].
#[derive(Clone)]
pub(crate) struct Refresh<S> {
    inner: S,
    credential: Arc<Credential>,
}

impl<S, B> Service<Request<Body>> for Refresh<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Send + 'static,
{
    type Response = Response<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Response<B>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // The service that was polled ready serves this call; a clone takes its place.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let credential = self.credential.clone();
        Box::pin(async move {
            let again = clone_request(&req);
            let (header, used) = credential.current().await?;
            if let Some(h) = header {
                req.headers_mut().insert(AUTHORIZATION, h);
            }
            let resp = inner.call(req).await.map_err(Into::into)?;
            if resp.status() != StatusCode::UNAUTHORIZED || credential.source.is_none() {
                credential.judge(resp.status(), used);
                return Ok(resp);
            }
            let Some(mut again) = again else {
                credential.judge(resp.status(), used);
                return Ok(resp);
            };
            let (header, renewed) = credential.renew(used).await?;
            if renewed == used {
                // Refused although fresh: sending the same again would change nothing.
                credential.judge(resp.status(), used);
                return Ok(resp);
            }
            if let Some(h) = header {
                again.headers_mut().insert(AUTHORIZATION, h);
            }
            let resp = inner
                .ready()
                .await
                .map_err(Into::into)?
                .call(again)
                .await
                .map_err(Into::into)?;
            credential.judge(resp.status(), renewed);
            Ok(resp)
        })
    }
}

/// A copy of a request whose body can be sent again (ktail's requests carry none or a
/// small one); `None` for a streaming body.
fn clone_request(req: &Request<Body>) -> Option<Request<Body>> {
    let body = req.body().try_clone()?;
    let mut copy = Request::new(body);
    *copy.method_mut() = req.method().clone();
    *copy.uri_mut() = req.uri().clone();
    *copy.version_mut() = req.version();
    *copy.headers_mut() = req.headers().clone();
    Some(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_give_up_only_when_many_and_lasting() {
        let t0 = Instant::now();
        let mut r = Refusals::default();
        for i in 0..20 {
            assert!(!r.record(true, t0 + Duration::from_millis(i * 100)), "{i}");
        }
        assert!(r.record(true, t0 + GIVE_UP_AFTER));
        // Any other answer starts the count again.
        assert!(!r.record(false, t0 + GIVE_UP_AFTER));
        let later = t0 + GIVE_UP_AFTER * 3;
        for i in 0..GIVE_UP_REFUSALS {
            assert!(!r.record(true, later + Duration::from_millis(i.into())));
        }
        assert!(r.record(true, later + GIVE_UP_AFTER));
    }

    #[test]
    fn precedence_of_renewable_credentials() {
        let mut auth = AuthInfo {
            token_file: Some("/t".into()),
            exec: Some(ExecConfig {
                api_version: None,
                command: Some("p".into()),
                args: None,
                env: None,
                drop_env: None,
                install_hint: None,
                interactive_mode: None,
                provide_cluster_info: false,
                cluster: None,
                other: Default::default(),
            }),
            ..Default::default()
        };
        assert!(matches!(Refreshable::of(&auth), Some(Refreshable::File(_))));
        auth.token_file = None;
        assert!(matches!(Refreshable::of(&auth), Some(Refreshable::Exec(_))));
        auth.token = Some("static".to_string().into());
        assert!(Refreshable::of(&auth).is_none());
    }

    #[test]
    fn plugin_output_json_yaml_and_errors() {
        let json = br#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"2030-01-01T00:00:00Z"}}"#;
        let out = parse_plugin_output(json, Some("client.authentication.k8s.io/v1")).unwrap();
        assert_eq!(out.token.as_deref(), Some("t"));
        assert_eq!(out.expiry, Some("2030-01-01T00:00:00Z".parse().unwrap()));
        let yaml = b"apiVersion: client.authentication.k8s.io/v1beta1\nkind: ExecCredential\nstatus:\n  token: y\n";
        let out = parse_plugin_output(yaml, None).unwrap();
        assert_eq!((out.token.as_deref(), out.expiry), (Some("y"), None));
        let err = parse_plugin_output(yaml, Some("client.authentication.k8s.io/v1")).unwrap_err();
        assert!(err.contains("v1beta1"), "{err}");
        assert!(parse_plugin_output(b"not: [valid", None).is_err());
        let none = br#"{"kind":"ExecCredential","status":{}}"#;
        assert_eq!(
            parse_plugin_output(none, None).unwrap_err(),
            "gave neither a token nor a client certificate"
        );
        let bad =
            br#"{"kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"soon"}}"#;
        assert!(parse_plugin_output(bad, None).unwrap_err().contains("soon"));
    }
}
