//! The one retry pace of ktail: jittered exponential backoff with a low cap.
//!
//! ktail is interactive: after an outage the pod set must be current again, and every
//! stream flowing, within seconds, so both the watches and the log streams retry from a
//! fraction of a second up to a 2 s cap (kube-runtime's default grows to 30 s). Jitter
//! keeps many streams cut at once from reconnecting in lockstep. Any success resets it.

use std::time::Duration;

/// Delays between retries: `first`, doubling up to `cap`, each ±25 %.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    first: Duration,
    cap: Duration,
    next: Duration,
}

impl Backoff {
    /// The largest delay: no retry waits longer than this (plus jitter).
    pub(crate) const CAP: Duration = Duration::from_secs(2);

    /// For log streams: 100 ms, 200 ms, … 2 s.
    pub(crate) fn stream() -> Backoff {
        Backoff::new(Duration::from_millis(100))
    }

    /// For watches, whose re-list costs the API server more: 250 ms, 500 ms, … 2 s.
    pub(crate) fn watch() -> Backoff {
        Backoff::new(Duration::from_millis(250))
    }

    fn new(first: Duration) -> Backoff {
        Backoff {
            first,
            cap: Backoff::CAP,
            next: first,
        }
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.first;
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.cap);
        d.mul_f64(0.75 + 0.5 * jitter_fraction())
    }
}

impl Iterator for Backoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(self.next_delay())
    }
}

/// A number in [0, 1) that differs per call, without a random-number crate.
fn jitter_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_a_low_cap_and_resets() {
        let mut b = Backoff::stream();
        let first = b.next_delay();
        assert!(first >= Duration::from_millis(75) && first <= Duration::from_millis(125));
        for _ in 0..10 {
            b.next_delay();
        }
        let capped = b.next_delay();
        assert!(capped <= Duration::from_millis(2500), "{capped:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(125));
        let mut w = Backoff::watch();
        let first = w.next().unwrap();
        assert!(first >= Duration::from_millis(187) && first <= Duration::from_millis(313));
    }
}
