//! The run, and only its orchestration: connect, check, start the sources, turn their
//! events into tails, stop them, and decide the exit code.
//!
//! One loop serves every mode. Sources (a cluster followed, a cluster listed once,
//! standard input) send `SourceEvent`s on one channel; the loop starts one tail per new
//! container instance (`tails`), tells tails whose pod is gone to drain, and ends when
//! every source has finished and every tail has ended — or at once, with exit 0, when
//! the reader of stdout goes away, and with 130/143 on SIGINT/SIGTERM after the lines
//! already received are written. What a source is, how a tail reads and how a line
//! looks are the lower layers' business.

mod clusters;
mod completion;
mod tails;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::{Input, Settings};
use crate::error::{Error, Result, exit};
use crate::kube::SourceEvent;
use crate::kube::auth;
use crate::kube::client::{self, Cluster};
use crate::kube::query::Kind;
use crate::output::writer::{self, WriterEnd};
use crate::output::{files, merge};
use crate::signals::Stop;
use crate::tail::{self, TailContext, TailEnd};

use self::completion::{Completion, Rule, Verdict};
use self::tails::Tails;

/// How long the tails get after SIGINT/SIGTERM to hand over what they hold.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Events in flight from the sources.
const EVENTS: usize = 256;
/// After `--until` passes, lines logged up to it may still be on their way: they get this
/// long before the follow run ends.
const UNTIL_GRACE: Duration = Duration::from_secs(1);

/// The streams a run reads and writes: the process's own, or a test's.
pub struct Io {
    pub stdout: Box<dyn Write + Send>,
    pub stderr: Box<dyn Write + Send>,
    /// Read with `--stdin` only.
    pub stdin: Box<dyn Read + Send>,
}

impl Io {
    /// This process's standard streams.
    pub fn process() -> Io {
        Io {
            stdout: Box::new(std::io::stdout()),
            stderr: Box::new(std::io::stderr()),
            stdin: Box::new(std::io::stdin()),
        }
    }
}

/// Runs ktail with resolved settings until it is done, `stop` resolves (a signal), or
/// stdout is closed; returns the exit code.
pub async fn run(settings: Settings, io: Io, stop: impl Future<Output = Stop>) -> Result<u8> {
    let mut stop = std::pin::pin!(stop);
    let clusters = match settings.input {
        Input::Stdin => Vec::new(),
        Input::Cluster => tokio::select! {
            c = client::connect(&settings.kube) => c?,
            s = &mut stop => return Ok(s.exit_code()),
        },
    };
    run_clusters(settings, clusters, io, stop).await
}

/// `run` with the cluster already connected (`None` with `--stdin`): tests bring their
/// own client.
pub async fn run_with(
    settings: Settings,
    cluster: Option<Cluster>,
    io: Io,
    stop: impl Future<Output = Stop>,
) -> Result<u8> {
    run_clusters(settings, cluster.into_iter().map(Ok).collect(), io, stop).await
}

/// `run` with every context's client built (or why it could not be).
async fn run_clusters(
    settings: Settings,
    clusters: Vec<Result<Cluster>>,
    io: Io,
    stop: impl Future<Output = Stop>,
) -> Result<u8> {
    let mut stop = std::pin::pin!(stop);
    if let Some(dir) = &settings.output.dir {
        files::prepare(dir)?;
    }
    let (out, mut closed, writer) = writer::spawn(&settings.output, io.stdout, io.stderr);
    // `--sort`: stdout's lines reach the writer through the merge, which ends once the
    // tails' context and every tail's stream are gone.
    let merge = settings
        .output
        .sort
        .filter(|_| settings.output.stdout)
        .map(|order| merge::spawn(order, out.clone()).0);
    let source = match settings.input {
        Input::Stdin => Source::Stdin(io.stdin),
        Input::Cluster => {
            let query = Arc::new(settings.query);
            let selection = Arc::new(settings.selection);
            let plans = tokio::select! {
                p = clusters::check(clusters, &query, &selection, settings.tail.follow, &out) => p?,
                s = &mut stop => return Ok(s.exit_code()),
            };
            Source::Clusters(plans)
        }
    };
    let ctx = Arc::new(TailContext::new(
        settings.tail,
        settings.render,
        &settings.output,
        out.clone(),
        merge,
    ));
    drop(out);
    let outcome = tokio::select! {
        r = drive(&ctx, source, &mut stop) => r,
        _ = &mut closed => Ok(Outcome::StdoutClosed),
    };
    // The writer ends once every sender is gone: the tails' context holds the last.
    drop(ctx);
    let outcome = outcome?;
    // Credentials refused for good end the run as an error, after what was received is
    // written.
    let refused = match &outcome {
        Outcome::Refused(msg) => Some(msg.clone()),
        _ => None,
    };
    let code = match outcome {
        // The writer stopped: a reader that went away is a normal end, a failed write
        // (a full disk under stdout or an --output-dir file) is not.
        Outcome::StdoutClosed => {
            return match tokio::task::spawn_blocking(move || writer.join()).await {
                Ok(Ok(WriterEnd::Failed(e))) => Err(Error::Output(e)),
                _ => Ok(exit::OK),
            };
        }
        // ktail's own failure wins over the workload's.
        Outcome::Done { failed: true, .. } => exit::STREAM_FAILED,
        Outcome::Done {
            workload_failed: true,
            ..
        } => exit::WORKLOAD_FAILED,
        Outcome::Done { .. } => exit::OK,
        Outcome::Signal(stop) => stop.exit_code(),
        Outcome::Refused(_) => exit::DENIED,
    };
    // Every tail is done: the writer drains the channel and stops. After a signal the
    // wait is bounded: a reader that stopped reading must not keep ktail alive.
    let join = tokio::task::spawn_blocking(move || writer.join());
    let joined = if code == exit::SIGINT || code == exit::SIGTERM {
        tokio::time::timeout(SHUTDOWN_GRACE, join).await.ok()
    } else {
        Some(join.await)
    };
    match (joined, refused) {
        (Some(Ok(Ok(WriterEnd::Failed(e)))), _) => Err(Error::Output(e)),
        (_, Some(msg)) => Err(Error::Denied(msg)),
        _ => Ok(code),
    }
}

/// Where a run's targets come from.
enum Source {
    Clusters(clusters::Plans),
    Stdin(tail::stdin::Input),
}

enum Outcome {
    StdoutClosed,
    /// Every source finished and every tail ended, or (`--until-done`) the selection is
    /// done and every tail ended; `failed`: a log could not be read.
    Done {
        failed: bool,
        /// `--until-done`: the workload failed.
        workload_failed: bool,
    },
    Signal(Stop),
    /// The API server kept refusing ktail's credentials (`kube::auth`'s policy).
    Refused(String),
}

/// The loop: sources' events in, tails out, until all is done or the run stops.
async fn drive(
    ctx: &Arc<TailContext>,
    source: Source,
    stop: &mut std::pin::Pin<&mut impl Future<Output = Stop>>,
) -> Result<Outcome> {
    let (tx, mut events) = mpsc::channel::<SourceEvent>(EVENTS);
    let mut sources: JoinSet<Result<()>> = JoinSet::new();
    let mut tails = Tails::new(ctx.clone());
    let mut completion = match &source {
        Source::Clusters(plans) if plans.query.until_done => {
            let job = plans
                .query
                .resource
                .as_ref()
                .is_some_and(|r| matches!(r.kind, Kind::Job | Kind::CronJob));
            Some(Completion::new(if job {
                Rule::Workload
            } else {
                Rule::Pods
            }))
        }
        _ => None,
    };
    match source {
        Source::Clusters(plans) => {
            clusters::spawn(plans, ctx.settings.follow, &tx, &mut sources);
        }
        Source::Stdin(input) => tails.spawn(tail::stdin::run(ctx.clone(), input)),
    }
    // Once every source is done, the channel closes.
    drop(tx);
    let mut listening = true;
    let mut failed = false;
    // A follow run with --until in the future ends then.
    let until = ctx.settings.until.filter(|_| ctx.settings.follow);
    let until_passed = async {
        match until {
            Some(t) => {
                let left = t.duration_since(jiff::Timestamp::now());
                let left = Duration::try_from(left).unwrap_or(Duration::ZERO);
                tokio::time::sleep(left + UNTIL_GRACE).await;
            }
            None => std::future::pending().await,
        }
    };
    let mut until_passed = std::pin::pin!(until_passed);
    loop {
        if tails.is_empty()
            && let Some(verdict) = completion.as_ref().and_then(Completion::verdict)
        {
            tell(ctx, &verdict).await;
            return Ok(Outcome::Done {
                failed,
                workload_failed: verdict.failed,
            });
        }
        if !listening && tails.is_empty() {
            return Ok(Outcome::Done {
                failed,
                workload_failed: false,
            });
        }
        tokio::select! {
            () = &mut until_passed => {
                tails.shutdown(SHUTDOWN_GRACE).await;
                return Ok(Outcome::Done { failed, workload_failed: false });
            }
            ev = events.recv(), if listening => match ev {
                Some(ev) => {
                    failed |= matches!(ev, SourceEvent::Lost(_));
                    if let Some(c) = completion.as_mut() {
                        c.observe(&ev);
                    }
                    tails.handle(ev).await;
                }
                None => {
                    listening = false;
                    // Every tail has been started: an exact merge can write.
                    if let Some(m) = &ctx.merge {
                        m.complete();
                    }
                }
            },
            Some(done) = sources.join_next() => match done {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(e) => return Err(Error::Other(format!("a source of pods failed: {e}"))),
            },
            Some(end) = tails.join_next() => {
                failed |= !matches!(end, Ok(TailEnd::Complete | TailEnd::Cut));
            }
            s = stop.as_mut() => {
                tails.shutdown(SHUTDOWN_GRACE).await;
                return Ok(Outcome::Signal(s));
            }
            msg = auth::refused_for_good() => {
                tails.shutdown(SHUTDOWN_GRACE).await;
                return Ok(Outcome::Refused(msg));
            }
        }
    }
}

/// `--until-done`: the selection's end on stderr, and every container that failed (those
/// lines stay with --only-log-lines: they are the result a CI log is read for).
async fn tell(ctx: &TailContext, verdict: &Verdict) {
    if ctx.settings.notices {
        let _ = ctx
            .out
            .send(ctx.notice(format!("ktail: {}", verdict.notice)))
            .await;
    }
    for f in &verdict.failures {
        let _ = ctx.out.send(ctx.notice(format!("ktail: {f}"))).await;
    }
}
