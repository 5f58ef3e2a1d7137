//! The life of one tail as an explicit state machine: open → stream → locate → (backoff)
//! → open …, until done. Pure: the I/O driver (`container`) performs each step and
//! reports what happened; this module decides what comes next, which warning the user
//! gets, and when to give up.
//!
//! The policy is chosen once, from the run's mode. Following, a tail never gives up while
//! its container instance exists: after five failed requests in a row it says so once
//! and keeps retrying. With `--no-follow`, a read is tried five times before the
//! container counts as failed (exit 1).

use std::fmt;

use crate::tail::context::TailEnd;

/// Failed attempts for one read with `--no-follow` before the container counts as failed.
const DRAIN_ATTEMPTS: u32 = 5;
/// Failed requests in a row after which a follow tail warns that it keeps retrying
/// (about 1.5 s of backoff: 100, 200, 400 and 800 ms between them).
const OUTAGE_WARNING: u32 = 5;

/// Which request to make next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Follow the running instance.
    Follow,
    /// Read the instance once to its end; `previous` selects the last terminated instance.
    Once { previous: bool },
}

/// Why a stream ended before the end of its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Break {
    /// The container restarted while ktail opened or resumed its log: what the kubelet
    /// served belongs to another instance, and ours must be found again.
    Moved,
    /// The pod was deleted before ktail could tell which instance the kubelet served
    /// (the look at the pod found none, and no line of the stream was one ktail had
    /// read before): it may be a later instance, whose lines are not ours to print.
    Unproven,
    /// Nothing arrived for `--silence-timeout`.
    Silent,
    /// The server ended the stream cleanly while the instance still ran (a kubelet or a
    /// proxy ends long streams).
    Closed,
    /// The connection broke, with the transport's reason.
    Io(String),
}

impl Break {
    /// The stream may not have been this tail's instance: look for ours, whatever the
    /// mode.
    fn lost_track(&self) -> bool {
        matches!(self, Break::Moved | Break::Unproven)
    }
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Break::Moved => f.write_str("the container restarted while ktail opened its log"),
            Break::Unproven => f.write_str(
                "the pod was deleted before ktail could tell which container instance the log came from",
            ),
            Break::Silent => f.write_str("no data for --silence-timeout"),
            Break::Closed => f.write_str("the server ended it while the container ran"),
            Break::Io(why) => f.write_str(why),
        }
    }
}

/// Why a request to open a stream failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OpenError {
    /// The request may have reached another instance of the container.
    Moved,
    /// The pod was deleted before the request could be proven to have reached this
    /// instance, and nothing read from the response could prove it (`Break::Unproven`).
    Unproven,
    /// The API's answer will not change (a 4xx other than 429): the tail ends.
    Final(String),
    /// The pod does not exist (any more).
    PodGone,
    /// Worth another try after a backoff (429, 5xx, a transport failure).
    Retry(String),
}

/// How one response ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    /// The server ended the response normally.
    Clean,
    /// The connection broke, or the stream went silent.
    Broken(Break),
    /// The writer is gone, the run stops, or the pod was removed past its grace.
    Stop(TailEnd),
}

/// Where the instance stands, as a look at its pod found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Located {
    /// Still the current instance, running.
    Running,
    /// Ended; still the current instance.
    Terminated,
    /// Replaced by a newer instance (a restart).
    Previous,
    /// Left the pod's status, or the pod is gone.
    Gone,
    /// The look failed; the API's answer.
    Failed(String),
}

/// What a tail does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Request the log.
    Open(Mode),
    /// Look at the pod to find where the instance stands; `broken` is why the last
    /// stream ended, if it did not end cleanly.
    Locate {
        broken: Option<Break>,
    },
    /// Wait a backoff delay (the wait ends the tail if its pod is removed or the run
    /// stops), then take the step.
    Backoff(Box<Step>),
    Done(TailEnd),
}

/// A warning for the user, rendered with the container's name by the driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Warning {
    /// The API's answer, as it gave it.
    Api(String),
    /// The pod went away before a single line could be read.
    DeletedBeforeRead,
    /// The pod went away between a look at the instance and the read to finish it.
    DeletedBeforeEnd,
    /// A broken `--no-follow` read, after every attempt.
    StreamBroke(Break),
    /// The stream broke (or ended while the instance ran) and then the instance left
    /// before the rest was read: lines after the cursor may be lost.
    BrokenAndGone(Break),
    /// A follow tail failed `OUTAGE_WARNING` requests in a row and keeps retrying.
    Outage(String),
}

impl Warning {
    /// The text, given the last second printed (for the lines that may be missing).
    pub(crate) fn text(&self, last_second: Option<i64>) -> String {
        match self {
            Warning::Api(msg) => msg.clone(),
            Warning::DeletedBeforeRead => {
                "the pod was deleted before ktail could read its log".into()
            }
            Warning::DeletedBeforeEnd => format!(
                "the log stream broke ({}) and the container instance is gone: lines after {} may be missing",
                "the pod was deleted before the rest of its log was read",
                describe_second(last_second)
            ),
            Warning::StreamBroke(why) => format!("the log stream broke: {why}"),
            Warning::BrokenAndGone(why) => format!(
                "the log stream broke ({why}) and the container instance is gone: lines after {} may be missing",
                describe_second(last_second)
            ),
            Warning::Outage(msg) => format!(
                "{OUTAGE_WARNING} attempts in a row to open the log stream failed, the last with: {msg}; ktail keeps retrying"
            ),
        }
    }
}

/// A second as RFC3339, or the start of the log when none was printed.
pub(crate) fn describe_second(second: Option<i64>) -> String {
    second
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.to_string())
        .unwrap_or_else(|| "the start of the log".into())
}

/// The next step, and what to tell the user on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transition {
    pub(crate) step: Step,
    pub(crate) warning: Option<Warning>,
}

impl Transition {
    fn to(step: Step) -> Transition {
        Transition {
            step,
            warning: None,
        }
    }

    fn warn(self, warning: Option<Warning>) -> Transition {
        Transition { warning, ..self }
    }

    fn done(end: TailEnd, warning: Warning) -> Transition {
        Transition {
            step: Step::Done(end),
            warning: Some(warning),
        }
    }
}

/// A tail's decisions and the counts they rest on.
#[derive(Debug)]
pub(crate) struct Machine {
    follow: bool,
    /// Failed attempts of this tail (`--no-follow` gives up at `DRAIN_ATTEMPTS`).
    failures: u32,
    /// Failed requests in a row since a stream last opened.
    outage: u32,
    /// A stream has opened: the `+` notice was given.
    announced: bool,
    /// Why the last stream ended before the end of its log (it broke, or it ended while
    /// a look found the instance running), until a stream opens again: lines after the
    /// cursor are still to be read, and if the pod goes first they may be lost.
    unread: Option<Break>,
}

impl Machine {
    /// A tail of a follow run (`follow`) or of a `--no-follow` run.
    pub(crate) fn new(follow: bool) -> Machine {
        Machine {
            follow,
            failures: 0,
            outage: 0,
            announced: false,
            unread: None,
        }
    }

    /// The first step for an instance in this state.
    pub(crate) fn start(&self, state: crate::kube::target::InstanceState) -> Step {
        use crate::kube::target::InstanceState;
        Step::Open(match state {
            InstanceState::Running if self.follow => Mode::Follow,
            InstanceState::Previous => Mode::Once { previous: true },
            _ => Mode::Once { previous: false },
        })
    }

    /// A stream opened. True the first time: the tail announces itself.
    pub(crate) fn opened(&mut self) -> bool {
        self.outage = 0;
        self.unread = None;
        !std::mem::replace(&mut self.announced, true)
    }

    /// Whether a stream ever opened.
    pub(crate) fn announced(&self) -> bool {
        self.announced
    }

    /// Counts a failed request; the `OUTAGE_WARNING`th in a row of a follow tail is said
    /// once, so a container that cannot be streamed for long is not silently missing.
    fn note_failure(&mut self, msg: &str) -> Option<Warning> {
        self.outage += 1;
        (self.follow && self.outage == OUTAGE_WARNING).then(|| Warning::Outage(msg.to_string()))
    }

    pub(crate) fn open_failed(&mut self, mode: Mode, err: OpenError) -> Transition {
        match err {
            OpenError::Moved => Transition::to(Step::Locate {
                broken: Some(Break::Moved),
            }),
            OpenError::Unproven => Transition::to(Step::Locate {
                broken: Some(Break::Unproven),
            }),
            OpenError::Final(msg) => Transition::done(TailEnd::Failed, Warning::Api(msg)),
            // Deleted between a look at the instance and the read that was to finish it.
            // An instance that ended is trusted to have been drained by its follow
            // stream (the kubelet ends it only then), as every rollout deletes pods right
            // after their containers stop. One replaced by a restart may have been cut
            // before, and so was one whose last stream broke or ended while it ran: say
            // so.
            OpenError::PodGone if self.announced => match (mode, self.unread.take()) {
                (Mode::Once { previous: true }, _) => {
                    Transition::done(TailEnd::Failed, Warning::DeletedBeforeEnd)
                }
                (_, Some(why)) => Transition::done(TailEnd::Failed, Warning::BrokenAndGone(why)),
                (_, None) => Transition::to(Step::Done(TailEnd::Complete)),
            },
            OpenError::PodGone => Transition::done(TailEnd::Failed, Warning::DeletedBeforeRead),
            OpenError::Retry(msg) => {
                self.failures += 1;
                let outage = self.note_failure(&msg);
                if !self.follow && self.failures >= DRAIN_ATTEMPTS {
                    return Transition::done(TailEnd::Failed, Warning::Api(msg));
                }
                Transition::to(Step::Backoff(Box::new(Step::Open(mode)))).warn(outage)
            }
        }
    }

    /// A response ended. A clean end of a one-shot read is the end of the log; a clean
    /// end while following is not the end of the container (kubelets and proxies end
    /// streams of running containers): where the instance stands decides.
    pub(crate) fn stream_ended(&mut self, mode: Mode, end: StreamEnd) -> Transition {
        if let StreamEnd::Broken(why) = &end {
            self.unread = Some(why.clone());
        }
        match end {
            StreamEnd::Stop(end) => Transition::to(Step::Done(end)),
            StreamEnd::Clean if mode == Mode::Follow => {
                Transition::to(Step::Locate { broken: None })
            }
            StreamEnd::Clean => Transition::to(Step::Done(TailEnd::Complete)),
            StreamEnd::Broken(why) if self.follow || why.lost_track() => {
                Transition::to(Step::Locate { broken: Some(why) })
            }
            // A broken one-shot read: read again from the cursor.
            StreamEnd::Broken(why) => {
                self.failures += 1;
                if self.failures >= DRAIN_ATTEMPTS {
                    return Transition::done(TailEnd::Failed, Warning::StreamBroke(why));
                }
                Transition::to(Step::Backoff(Box::new(Step::Open(mode))))
            }
        }
    }

    /// The instance was looked for after a stream ended (`broken`: not cleanly).
    pub(crate) fn located(&mut self, broken: Option<Break>, at: Located) -> Transition {
        let open = |mode| match (mode, &broken) {
            // A running instance whose stream broke: reconnect after a backoff.
            (Mode::Follow, Some(_)) => Step::Backoff(Box::new(Step::Open(mode))),
            _ => Step::Open(mode),
        };
        match at {
            Located::Running if self.follow => {
                // The stream ended before the instance did: the rest is still to be read.
                self.unread
                    .get_or_insert_with(|| broken.clone().unwrap_or(Break::Closed));
                Transition::to(open(Mode::Follow))
            }
            Located::Running | Located::Terminated => {
                Transition::to(open(Mode::Once { previous: false }))
            }
            Located::Previous => Transition::to(open(Mode::Once { previous: true })),
            // The instance left: after a clean end its log was complete; after a break,
            // lines logged after the cursor may be lost.
            Located::Gone => match broken {
                None => Transition::to(Step::Done(TailEnd::Complete)),
                Some(why) => Transition::done(TailEnd::Failed, Warning::BrokenAndGone(why)),
            },
            Located::Failed(msg) => {
                let outage = self.note_failure(&msg);
                Transition::to(Step::Backoff(Box::new(Step::Locate { broken }))).warn(outage)
            }
        }
    }

    /// The pod was removed while the tail waited to take `next`: the API no longer
    /// serves its log, so `next` would find it gone.
    pub(crate) fn removed(&mut self, next: Step) -> Transition {
        match next {
            Step::Open(mode) => self.open_failed(mode, OpenError::PodGone),
            Step::Locate { broken } => self.located(broken, Located::Gone),
            Step::Backoff(_) | Step::Done(_) => Transition::to(Step::Done(TailEnd::Cut)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::target::InstanceState;

    const FOLLOW: Mode = Mode::Follow;
    const ONCE: Mode = Mode::Once { previous: false };
    const PREVIOUS: Mode = Mode::Once { previous: true };

    fn backoff(step: Step) -> Step {
        Step::Backoff(Box::new(step))
    }

    fn retry() -> OpenError {
        OpenError::Retry("503 Service Unavailable".into())
    }

    #[test]
    fn the_first_request_depends_on_the_instance_and_the_mode() {
        let (follow, drain) = (Machine::new(true), Machine::new(false));
        assert_eq!(follow.start(InstanceState::Running), Step::Open(FOLLOW));
        assert_eq!(drain.start(InstanceState::Running), Step::Open(ONCE));
        assert_eq!(follow.start(InstanceState::Terminated), Step::Open(ONCE));
        assert_eq!(follow.start(InstanceState::Previous), Step::Open(PREVIOUS));
        // Never started (--no-follow lists it): the read says why it has no log.
        assert_eq!(drain.start(InstanceState::Waiting), Step::Open(ONCE));
    }

    #[test]
    fn opening_announces_once_and_ends_an_outage() {
        let mut m = Machine::new(true);
        for _ in 0..4 {
            m.open_failed(FOLLOW, retry());
        }
        assert!(m.opened(), "the first stream is announced");
        assert!(!m.opened(), "a resumed stream is not");
        for _ in 0..4 {
            assert_eq!(m.open_failed(FOLLOW, retry()).warning, None);
        }
        assert!(
            m.open_failed(FOLLOW, retry()).warning.is_some(),
            "five in a row since the last stream opened"
        );
    }

    #[test]
    fn a_follow_tail_retries_for_ever_and_warns_once_per_outage() {
        let mut m = Machine::new(true);
        let warnings: Vec<Option<Warning>> = (0..12)
            .map(|_| m.open_failed(FOLLOW, retry()).warning)
            .collect();
        assert_eq!(warnings.iter().flatten().count(), 1);
        assert_eq!(
            warnings[4],
            Some(Warning::Outage("503 Service Unavailable".into()))
        );
        assert_eq!(
            m.open_failed(FOLLOW, retry()).step,
            backoff(Step::Open(FOLLOW))
        );
    }

    #[test]
    fn a_drain_gives_up_after_five_attempts() {
        let mut m = Machine::new(false);
        for _ in 0..4 {
            let t = m.open_failed(ONCE, retry());
            assert_eq!(t, Transition::to(backoff(Step::Open(ONCE))));
        }
        assert_eq!(
            m.open_failed(ONCE, retry()),
            Transition::done(
                TailEnd::Failed,
                Warning::Api("503 Service Unavailable".into())
            )
        );
    }

    #[test]
    fn final_answers_and_missing_pods_end_the_tail() {
        let mut m = Machine::new(true);
        let t = m.open_failed(FOLLOW, OpenError::Final("container is waiting".into()));
        assert_eq!(
            t,
            Transition::done(TailEnd::Failed, Warning::Api("container is waiting".into()))
        );
        assert_eq!(
            m.open_failed(FOLLOW, OpenError::PodGone),
            Transition::done(TailEnd::Failed, Warning::DeletedBeforeRead)
        );
        m.opened();
        // After lines were printed, a pod deleted once its instance ended is complete…
        assert_eq!(
            m.open_failed(ONCE, OpenError::PodGone).step,
            Step::Done(TailEnd::Complete)
        );
        // …but a previous instance cut by its restart may have lost its last lines.
        assert_eq!(
            m.open_failed(PREVIOUS, OpenError::PodGone),
            Transition::done(TailEnd::Failed, Warning::DeletedBeforeEnd)
        );
    }

    #[test]
    fn a_racing_restart_sends_the_tail_to_find_its_instance() {
        for follow in [true, false] {
            let mut m = Machine::new(follow);
            assert_eq!(
                m.open_failed(FOLLOW, OpenError::Moved).step,
                Step::Locate {
                    broken: Some(Break::Moved)
                }
            );
            assert_eq!(
                m.stream_ended(ONCE, StreamEnd::Broken(Break::Moved)).step,
                Step::Locate {
                    broken: Some(Break::Moved)
                }
            );
        }
    }

    #[test]
    fn a_deletion_before_the_instance_was_proven_is_a_lost_instance() {
        for follow in [true, false] {
            let mut m = Machine::new(follow);
            let lost = Step::Locate {
                broken: Some(Break::Unproven),
            };
            assert_eq!(m.open_failed(FOLLOW, OpenError::Unproven).step, lost);
            m.opened();
            assert_eq!(
                m.stream_ended(PREVIOUS, StreamEnd::Broken(Break::Unproven))
                    .step,
                lost,
                "not read again from the cursor: the pod is gone"
            );
            // Its lines after the cursor went with the pod: said, not printed from a
            // stream that may be another instance's.
            let t = m.located(Some(Break::Unproven), Located::Gone);
            assert_eq!(
                t,
                Transition::done(TailEnd::Failed, Warning::BrokenAndGone(Break::Unproven))
            );
            assert!(t.warning.unwrap().text(Some(0)).ends_with(
                "(the pod was deleted before ktail could tell which container instance the log came from) and the container instance is gone: lines after 1970-01-01T00:00:00Z may be missing"
            ));
        }
    }

    #[test]
    fn clean_ends() {
        let mut m = Machine::new(true);
        assert_eq!(
            m.stream_ended(FOLLOW, StreamEnd::Clean).step,
            Step::Locate { broken: None },
            "a clean end while following is not the end of the container"
        );
        assert_eq!(
            m.stream_ended(ONCE, StreamEnd::Clean).step,
            Step::Done(TailEnd::Complete)
        );
        assert_eq!(
            m.stream_ended(FOLLOW, StreamEnd::Stop(TailEnd::Cut)).step,
            Step::Done(TailEnd::Cut)
        );
    }

    #[test]
    fn broken_streams() {
        let io = || Break::Io("connection reset".into());
        let mut m = Machine::new(true);
        assert_eq!(
            m.stream_ended(FOLLOW, StreamEnd::Broken(io())).step,
            Step::Locate { broken: Some(io()) }
        );
        let mut m = Machine::new(false);
        for _ in 0..4 {
            assert_eq!(
                m.stream_ended(ONCE, StreamEnd::Broken(io())).step,
                backoff(Step::Open(ONCE)),
                "a broken one-shot read is read again from the cursor"
            );
        }
        assert_eq!(
            m.stream_ended(ONCE, StreamEnd::Broken(io())),
            Transition::done(TailEnd::Failed, Warning::StreamBroke(io()))
        );
    }

    #[test]
    fn where_the_instance_stands_decides_the_next_read() {
        let io = || Some(Break::Io("reset".into()));
        let mut m = Machine::new(true);
        assert_eq!(
            m.located(None, Located::Running).step,
            Step::Open(FOLLOW),
            "a clean end of a running instance resumes at once"
        );
        assert_eq!(
            m.located(io(), Located::Running).step,
            backoff(Step::Open(FOLLOW)),
            "a broken one after a backoff"
        );
        assert_eq!(m.located(io(), Located::Terminated).step, Step::Open(ONCE));
        assert_eq!(
            m.located(None, Located::Previous).step,
            Step::Open(PREVIOUS)
        );
        assert_eq!(
            m.located(None, Located::Gone).step,
            Step::Done(TailEnd::Complete)
        );
        assert_eq!(
            m.located(io(), Located::Gone),
            Transition::done(
                TailEnd::Failed,
                Warning::BrokenAndGone(Break::Io("reset".into()))
            )
        );
        let mut drain = Machine::new(false);
        assert_eq!(
            drain.located(Some(Break::Moved), Located::Running).step,
            Step::Open(ONCE),
            "--no-follow reads a running instance once"
        );
    }

    #[test]
    fn a_pod_gone_before_the_rest_was_read_is_warned_of() {
        let io = || Break::Io("reset".into());
        let lost = |why| Transition::done(TailEnd::Failed, Warning::BrokenAndGone(why));
        // The stream broke, a look found the instance running, the resume found the pod
        // gone: the lines after the cursor went with it.
        let mut m = Machine::new(true);
        m.opened();
        m.stream_ended(FOLLOW, StreamEnd::Broken(io()));
        assert_eq!(
            m.located(Some(io()), Located::Running).step,
            backoff(Step::Open(FOLLOW))
        );
        assert_eq!(
            m.open_failed(FOLLOW, retry()).step,
            backoff(Step::Open(FOLLOW))
        );
        assert_eq!(m.open_failed(FOLLOW, OpenError::PodGone), lost(io()));
        // The same after a break once the instance ended, whose rest is read at once.
        let mut m = Machine::new(true);
        m.opened();
        m.stream_ended(FOLLOW, StreamEnd::Broken(io()));
        m.located(Some(io()), Located::Terminated);
        assert_eq!(m.open_failed(ONCE, OpenError::PodGone), lost(io()));
        // A clean end is the instance's end only if the instance ended: one that still
        // ran was cut by the server.
        let mut m = Machine::new(true);
        m.opened();
        m.stream_ended(FOLLOW, StreamEnd::Clean);
        m.located(None, Located::Running);
        assert_eq!(
            m.open_failed(FOLLOW, OpenError::PodGone),
            lost(Break::Closed)
        );
        // A stream that opened since read on from the cursor: a clean end of the
        // instance that ended is trusted to have drained it, as before.
        let mut m = Machine::new(true);
        m.opened();
        m.stream_ended(FOLLOW, StreamEnd::Broken(io()));
        m.located(Some(io()), Located::Running);
        m.opened();
        m.stream_ended(FOLLOW, StreamEnd::Clean);
        m.located(None, Located::Terminated);
        assert_eq!(
            m.open_failed(ONCE, OpenError::PodGone).step,
            Step::Done(TailEnd::Complete)
        );
        // --no-follow: a broken read is read again from the cursor, if the pod is still
        // there.
        let mut m = Machine::new(false);
        m.opened();
        m.stream_ended(ONCE, StreamEnd::Broken(io()));
        assert_eq!(m.open_failed(ONCE, OpenError::PodGone), lost(io()));
    }

    #[test]
    fn a_pod_removed_while_the_tail_waits_is_what_the_next_step_would_find() {
        let io = || Break::Io("reset".into());
        let mut m = Machine::new(true);
        assert_eq!(
            m.removed(Step::Open(FOLLOW)),
            Transition::done(TailEnd::Failed, Warning::DeletedBeforeRead),
            "nothing was read"
        );
        m.opened();
        m.stream_ended(FOLLOW, StreamEnd::Broken(io()));
        assert_eq!(
            m.removed(Step::Locate { broken: Some(io()) }),
            Transition::done(TailEnd::Failed, Warning::BrokenAndGone(io()))
        );
        m.located(Some(io()), Located::Running);
        assert_eq!(
            m.removed(Step::Open(FOLLOW)),
            Transition::done(TailEnd::Failed, Warning::BrokenAndGone(io()))
        );
        let mut m = Machine::new(true);
        m.opened();
        assert_eq!(
            m.removed(Step::Locate { broken: None }).step,
            Step::Done(TailEnd::Complete),
            "a clean end, and the instance gone: its log was read"
        );
        assert_eq!(
            m.removed(Step::Open(PREVIOUS)),
            Transition::done(TailEnd::Failed, Warning::DeletedBeforeEnd)
        );
    }

    #[test]
    fn a_failed_look_backs_off_and_counts_towards_the_outage() {
        let mut m = Machine::new(true);
        let t = m.located(None, Located::Failed("timeout".into()));
        assert_eq!(t.step, backoff(Step::Locate { broken: None }));
        for _ in 0..3 {
            m.located(None, Located::Failed("timeout".into()));
        }
        assert_eq!(
            m.located(None, Located::Failed("timeout".into())).warning,
            Some(Warning::Outage("timeout".into()))
        );
    }

    #[test]
    fn warnings_say_what_was_lost() {
        let text = Warning::BrokenAndGone(Break::Silent).text(Some(1_704_164_645));
        assert_eq!(
            text,
            "the log stream broke (no data for --silence-timeout) and the container instance is gone: lines after 2024-01-02T03:04:05Z may be missing"
        );
        assert!(
            Warning::DeletedBeforeEnd
                .text(None)
                .ends_with("lines after the start of the log may be missing")
        );
    }
}
