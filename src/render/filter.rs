//! Which lines are printed: `--include`, `--exclude` and `--level`, on a message's bytes.
//!
//! Patterns run on the raw bytes of the message, so a line that is not UTF-8 is neither
//! copied nor rejected. This is a pure predicate; the tails apply it before rendering.

use regex::bytes::RegexSet;

use crate::render::level::{self, Level};

/// The line filters of a run.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineFilter {
    pub(crate) include: Option<RegexSet>,
    pub(crate) exclude: Option<RegexSet>,
    /// `--level`: drop lines whose level is known and below this.
    pub(crate) min_level: Option<Level>,
}

impl LineFilter {
    /// No filter is set: every line is kept.
    pub(crate) fn is_empty(&self) -> bool {
        self.include.is_none() && self.exclude.is_none() && self.min_level.is_none()
    }

    /// stern's rule: any exclude match drops the line; otherwise, with includes, any
    /// include match keeps it. Then `--level`: a line below the level is dropped, a line
    /// without a level is kept.
    pub(crate) fn keeps(&self, message: &[u8]) -> bool {
        if let Some(ex) = &self.exclude
            && ex.is_match(message)
        {
            return false;
        }
        if let Some(inc) = &self.include
            && !inc.is_match(message)
        {
            return false;
        }
        match self.min_level {
            Some(min) => level::detect(message).is_none_or(|d| d.level >= min),
            None => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[&str]) -> Option<RegexSet> {
        Some(RegexSet::new(patterns).unwrap())
    }

    #[test]
    fn exclude_wins_over_include_and_levels_keep_unlevelled_lines() {
        let f = LineFilter {
            include: set(&["GET", "POST"]),
            exclude: set(&["healthz"]),
            min_level: None,
        };
        assert!(f.keeps(b"GET /api") && f.keeps(b"POST /api"));
        assert!(!f.keeps(b"GET /healthz") && !f.keeps(b"DELETE /api"));
        assert!(LineFilter::default().keeps(b"anything"));
        let f = LineFilter {
            min_level: Some(Level::Warn),
            ..LineFilter::default()
        };
        assert!(f.keeps(br#"{"level":"error"}"#) && !f.keeps(b"lvl=debug"));
        assert!(f.keeps(b"no level here"));
    }
}
