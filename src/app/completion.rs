//! `--until-done`: when the selection is done, and how it went. A pure state machine fed
//! with the sources' events: for a Job query the Job's own end decides; for any other
//! selection, every selected pod must have ended or been deleted, and at least one must
//! have been seen.

use std::collections::BTreeMap;

use crate::kube::SourceEvent;
use crate::kube::outcome::{JobOutcome, PodOutcome};

/// What decides that the selection is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Every selected pod has ended or is gone.
    Pods,
    /// The queried workload (a Job) says it is done.
    Workload,
}

/// The run's verdict: what to say and how to exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// The workload failed: exit 7.
    pub(crate) failed: bool,
    /// One line: `job/migrate complete after 42s`.
    pub(crate) notice: String,
    /// One line per failed container (or pod): `ns/pod › app: exit code 1 (Error)`.
    pub(crate) failures: Vec<String>,
}

#[derive(Debug)]
enum PodState {
    Running,
    Ended(PodOutcome),
    Gone,
}

#[derive(Debug)]
pub(crate) struct Completion {
    rule: Rule,
    /// Selected pods by UID: their name, and how they stand.
    pods: BTreeMap<String, (String, PodState)>,
    workload: Option<(String, JobOutcome)>,
}

impl Completion {
    pub(crate) fn new(rule: Rule) -> Completion {
        Completion {
            rule,
            pods: BTreeMap::new(),
            workload: None,
        }
    }

    pub(crate) fn observe(&mut self, ev: &SourceEvent) {
        match ev {
            SourceEvent::Pod { uid, name, outcome } => {
                let state = match outcome {
                    Some(o) => PodState::Ended(o.clone()),
                    None => PodState::Running,
                };
                self.pods.insert(uid.clone(), (name.clone(), state));
            }
            // A pod that ended keeps its end when it is deleted (a Job's failed pods are).
            SourceEvent::PodGone { uid, .. } => {
                if let Some((_, state)) = self.pods.get_mut(uid)
                    && matches!(state, PodState::Running)
                {
                    *state = PodState::Gone;
                }
            }
            SourceEvent::WorkloadDone { what, outcome } => {
                self.workload = Some((what.clone(), outcome.clone()));
            }
            _ => {}
        }
    }

    /// How the selection went, once it is done.
    pub(crate) fn verdict(&self) -> Option<Verdict> {
        let failures = self.failures();
        match self.rule {
            Rule::Workload => {
                let (what, o) = self.workload.as_ref()?;
                let took = o
                    .took
                    .map(|d| format!(" after {}", humantime::format_duration(d)))
                    .unwrap_or_default();
                let notice = if o.succeeded {
                    format!("{what} complete{took}")
                } else {
                    let mut why = o.reason.clone();
                    if !o.message.is_empty() {
                        why = format!("{why}: {}", o.message);
                    }
                    format!("{what} failed{took}: {why}")
                };
                Some(Verdict {
                    failed: !o.succeeded,
                    notice,
                    failures: if o.succeeded { Vec::new() } else { failures },
                })
            }
            Rule::Pods => {
                if self.pods.is_empty()
                    || self
                        .pods
                        .values()
                        .any(|(_, s)| matches!(s, PodState::Running))
                {
                    return None;
                }
                let count =
                    |f: fn(&PodState) -> bool| self.pods.values().filter(|(_, s)| f(s)).count();
                let failed = count(|s| matches!(s, PodState::Ended(o) if !o.succeeded));
                let succeeded = count(|s| matches!(s, PodState::Ended(o) if o.succeeded));
                let gone = count(|s| matches!(s, PodState::Gone));
                let pods = |n: usize| {
                    if n == 1 {
                        "1 pod".to_string()
                    } else {
                        format!("{n} pods")
                    }
                };
                let notice = if failed > 0 {
                    format!(
                        "the selection failed: {} of {} failed",
                        pods(failed),
                        self.pods.len()
                    )
                } else if gone > 0 {
                    format!(
                        "the selection is done: {} succeeded, {} deleted",
                        pods(succeeded),
                        gone
                    )
                } else {
                    format!("the selection is done: {} succeeded", pods(succeeded))
                };
                Some(Verdict {
                    failed: failed > 0,
                    notice,
                    failures,
                })
            }
        }
    }

    /// A line per failed container of every pod that ended in failure, by pod name.
    fn failures(&self) -> Vec<String> {
        let mut failed: Vec<(&String, &PodOutcome)> = self
            .pods
            .values()
            .filter_map(|(name, s)| match s {
                PodState::Ended(o) if !o.succeeded => Some((name, o)),
                _ => None,
            })
            .collect();
        failed.sort_by_key(|(name, _)| *name);
        failed
            .into_iter()
            .flat_map(|(name, o)| {
                o.failures.iter().map(move |f| match &f.container {
                    Some(c) => format!("{name} › {c}: {}", f.what),
                    None => format!("{name}: {}", f.what),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::outcome::Failure;
    use std::time::Duration;

    fn pod(uid: &str, outcome: Option<PodOutcome>) -> SourceEvent {
        SourceEvent::Pod {
            uid: uid.into(),
            name: format!("ci/{uid}"),
            outcome,
        }
    }

    fn ok() -> Option<PodOutcome> {
        Some(PodOutcome {
            succeeded: true,
            failures: Vec::new(),
        })
    }

    fn exited(code: i32, reason: &str) -> Option<PodOutcome> {
        Some(PodOutcome {
            succeeded: false,
            failures: vec![Failure {
                container: Some("app".into()),
                what: format!("exit code {code} ({reason})"),
            }],
        })
    }

    #[test]
    fn a_selection_is_done_when_every_pod_has_ended_or_gone() {
        let mut c = Completion::new(Rule::Pods);
        assert_eq!(c.verdict(), None, "no pod seen yet: waiting for one");
        for uid in ["a", "b", "c"] {
            c.observe(&pod(uid, None));
        }
        c.observe(&pod("a", ok()));
        c.observe(&pod("b", ok()));
        assert_eq!(c.verdict(), None, "c still runs");
        c.observe(&SourceEvent::PodGone {
            uid: "c".into(),
            context: "".into(),
        });
        let v = c.verdict().unwrap();
        assert!(!v.failed);
        assert_eq!(
            v.notice,
            "the selection is done: 2 pods succeeded, 1 deleted"
        );
        assert_eq!(v.failures, Vec::<String>::new());
    }

    #[test]
    fn one_failed_pod_fails_the_selection_and_is_named() {
        let mut c = Completion::new(Rule::Pods);
        c.observe(&pod("b", exited(137, "OOMKilled")));
        c.observe(&pod("a", ok()));
        // A failed pod that is then deleted stays failed.
        c.observe(&SourceEvent::PodGone {
            uid: "b".into(),
            context: "".into(),
        });
        let v = c.verdict().unwrap();
        assert!(v.failed);
        assert_eq!(v.notice, "the selection failed: 1 pod of 2 failed");
        assert_eq!(v.failures, ["ci/b › app: exit code 137 (OOMKilled)"]);
        // A pod found running again (a re-list) is waited for again.
        c.observe(&pod("c", None));
        assert_eq!(c.verdict(), None);
    }

    #[test]
    fn a_job_decides_for_itself_and_names_the_pods_that_failed() {
        let mut c = Completion::new(Rule::Workload);
        c.observe(&pod("a", exited(1, "Error")));
        c.observe(&pod("b", exited(2, "Error")));
        assert_eq!(c.verdict(), None, "failed pods alone do not end a Job");
        c.observe(&SourceEvent::WorkloadDone {
            what: "job/migrate".into(),
            outcome: JobOutcome {
                succeeded: false,
                reason: "BackoffLimitExceeded".into(),
                message: "Job has reached the specified backoff limit".into(),
                took: Some(Duration::from_secs(12)),
            },
        });
        let v = c.verdict().unwrap();
        assert!(v.failed);
        assert_eq!(
            v.notice,
            "job/migrate failed after 12s: BackoffLimitExceeded: Job has reached the specified backoff limit"
        );
        assert_eq!(
            v.failures,
            [
                "ci/a › app: exit code 1 (Error)",
                "ci/b › app: exit code 2 (Error)"
            ]
        );

        let mut c = Completion::new(Rule::Workload);
        c.observe(&pod("a", exited(1, "Error")));
        c.observe(&SourceEvent::WorkloadDone {
            what: "job/migrate".into(),
            outcome: JobOutcome {
                succeeded: true,
                reason: "CompletionsReached".into(),
                message: String::new(),
                took: Some(Duration::from_secs(42)),
            },
        });
        let v = c.verdict().unwrap();
        assert_eq!(
            (v.failed, v.notice.as_str(), v.failures.len()),
            (false, "job/migrate complete after 42s", 0),
            "a retry that succeeded leaves nothing to report"
        );
    }
}
