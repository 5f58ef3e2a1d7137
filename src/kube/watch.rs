//! What every watch of ktail keeps track of, as one pure state machine: pods per scope,
//! namespaces for `--namespace-regex`, the followed object of `deploy/web`.
//!
//! kube-runtime's `watcher` re-lists after a 410 or a broken watch; objects that were
//! known and are not listed again went away while the watch was down and must be
//! reported gone, exactly like a delete. Failures are told once per outage (a routine
//! 410 never), and the watch retries at ktail's pace (`Backoff::watch`).

use std::collections::HashSet;

use kube::runtime::watcher::{self, Event};

use crate::backoff::Backoff;

/// What one watch event means to the consumer of a watch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Seen<T> {
    /// The object as it is now: listed, re-listed, added or changed.
    Current(T),
    /// The object with this key is gone: deleted, or not listed again after a re-list.
    /// Only keys in the known set are reported.
    Gone(String),
    /// Deleted, and it was not in the known set.
    DeletedUnknown(String),
    /// A failure the user should hear of; the watch retries by itself.
    Warning(String),
}

/// The bookkeeping of one watch: which objects it has reported (the consumer decides
/// which keys count, with `insert` and `remove`), what the current re-list has shown,
/// and the last warning given.
#[derive(Debug, Default)]
pub(crate) struct WatchSet {
    known: HashSet<String>,
    /// Keys listed since the last `Init`: at `InitDone`, known keys not in it are gone.
    relisted: Option<HashSet<String>>,
    /// A list has completed.
    listed_once: bool,
    last_warning: String,
}

impl WatchSet {
    /// Applies one watch event; `key` names an object (UID or name).
    pub(crate) fn handle<T>(
        &mut self,
        item: Result<Event<T>, watcher::Error>,
        key: impl Fn(&T) -> String,
    ) -> Vec<Seen<T>> {
        let event = match item {
            Ok(event) => event,
            Err(e) => {
                let msg = describe(&e);
                // 410 Expired is routine: the watcher re-lists by itself.
                if is_expired(&e) || msg == self.last_warning {
                    return Vec::new();
                }
                self.last_warning = msg.clone();
                return vec![Seen::Warning(msg)];
            }
        };
        // Anything the server sends ends an outage: its next failure is told again.
        self.last_warning.clear();
        match event {
            Event::Init => {
                self.relisted = Some(HashSet::new());
                Vec::new()
            }
            Event::InitApply(obj) => {
                if let Some(seen) = self.relisted.as_mut() {
                    seen.insert(key(&obj));
                }
                vec![Seen::Current(obj)]
            }
            Event::Apply(obj) => vec![Seen::Current(obj)],
            Event::InitDone => {
                self.listed_once = true;
                let Some(seen) = self.relisted.take() else {
                    return Vec::new();
                };
                let mut gone: Vec<String> = self
                    .known
                    .iter()
                    .filter(|k| !seen.contains(*k))
                    .cloned()
                    .collect();
                gone.sort();
                for k in &gone {
                    self.known.remove(k);
                }
                gone.into_iter().map(Seen::Gone).collect()
            }
            Event::Delete(obj) => {
                let k = key(&obj);
                if self.known.remove(&k) {
                    vec![Seen::Gone(k)]
                } else {
                    vec![Seen::DeletedUnknown(k)]
                }
            }
        }
    }

    /// Counts `key` as reported; false when it already was.
    pub(crate) fn insert(&mut self, key: String) -> bool {
        self.known.insert(key)
    }

    /// Stops counting `key`; false when it was not counted.
    pub(crate) fn remove(&mut self, key: &str) -> bool {
        self.known.remove(key)
    }

    /// Whether a list has completed (the first list shows what existed at start).
    pub(crate) fn listed_once(&self) -> bool {
        self.listed_once
    }

    /// How many keys are counted.
    pub(crate) fn len(&self) -> usize {
        self.known.len()
    }

    /// Forgets everything: the watch stops. Returns the keys that were known.
    pub(crate) fn forget_all(&mut self) -> Vec<String> {
        self.relisted = None;
        let mut all: Vec<String> = self.known.drain().collect();
        all.sort();
        all
    }
}

/// kube-runtime asks a watch's backoff to reset after each success.
impl kube::runtime::utils::Backoff for Backoff {
    fn reset(&mut self) {
        Backoff::reset(self);
    }
}

fn is_expired(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::WatchError(status) => status.code == 410,
        watcher::Error::InitialListFailed(err)
        | watcher::Error::WatchStartFailed(err)
        | watcher::Error::WatchFailed(err) => {
            matches!(err, kube::Error::Api(s) if s.code == 410)
        }
        watcher::Error::NoResourceVersion => false,
    }
}

/// One line for a watch failure, without kube-runtime's wording around it.
pub(crate) fn describe(e: &watcher::Error) -> String {
    match e {
        watcher::Error::InitialListFailed(err)
        | watcher::Error::WatchStartFailed(err)
        | watcher::Error::WatchFailed(err) => crate::kube::client::describe_error(err),
        watcher::Error::WatchError(status) => {
            format!("{} ({} {})", status.message, status.code, status.reason)
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn handle(
        set: &mut WatchSet,
        item: Result<Event<&'static str>, watcher::Error>,
    ) -> Vec<Seen<&'static str>> {
        set.handle(item, |s| s.to_string())
    }

    fn error(code: u16, message: &str) -> watcher::Error {
        let mut status = Status::failure(message, "Reason");
        status.code = code;
        watcher::Error::WatchError(Box::new(status))
    }

    #[test]
    fn a_relist_reports_known_objects_that_were_not_listed_again() {
        let mut set = WatchSet::default();
        assert_eq!(handle(&mut set, Ok(Event::Init)), []);
        assert_eq!(
            handle(&mut set, Ok(Event::InitApply("a"))),
            [Seen::Current("a")]
        );
        assert_eq!(
            handle(&mut set, Ok(Event::InitApply("b"))),
            [Seen::Current("b")]
        );
        assert!(!set.listed_once());
        assert_eq!(handle(&mut set, Ok(Event::InitDone)), []);
        assert!(set.listed_once());
        // The consumer counts the objects it reported.
        assert!(set.insert("a".into()) && set.insert("b".into()) && set.insert("c".into()));
        // After a 410 the watcher lists again; only "a" is still there.
        handle(&mut set, Ok(Event::Init));
        handle(&mut set, Ok(Event::InitApply("a")));
        assert_eq!(
            handle(&mut set, Ok(Event::InitDone)),
            [Seen::Gone("b".into()), Seen::Gone("c".into())]
        );
        assert_eq!(set.forget_all(), ["a"]);
    }

    #[test]
    fn deletes_say_whether_the_object_was_known() {
        let mut set = WatchSet::default();
        set.insert("a".into());
        assert_eq!(
            handle(&mut set, Ok(Event::Delete("a"))),
            [Seen::Gone("a".into())]
        );
        assert_eq!(
            handle(&mut set, Ok(Event::Delete("a"))),
            [Seen::DeletedUnknown("a".into())]
        );
        assert_eq!(
            handle(&mut set, Ok(Event::Apply("z"))),
            [Seen::Current("z")]
        );
        assert!(!set.remove("z"), "only the consumer counts objects");
    }

    #[test]
    fn a_failure_is_told_once_per_outage_and_410_never() {
        let mut set = WatchSet::default();
        let warn = |set: &mut WatchSet, code, msg| handle(set, Err(error(code, msg)));
        assert_eq!(
            warn(&mut set, 500, "boom"),
            [Seen::Warning("boom (500 Reason)".into())]
        );
        assert_eq!(warn(&mut set, 500, "boom"), [], "the same failure again");
        assert_eq!(warn(&mut set, 410, "too old"), [], "a routine expiry");
        assert_eq!(warn(&mut set, 503, "down").len(), 1, "a different failure");
        handle(&mut set, Ok(Event::Init));
        assert_eq!(warn(&mut set, 503, "down").len(), 1, "a new outage");
    }
}
