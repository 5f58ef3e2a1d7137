//! The small parsers every part of `resolve` uses: regexes that name their flag when they
//! are wrong, durations, and empty values.

use std::time::Duration;

use regex::Regex;
use regex::bytes::RegexSet as BytesRegexSet;

use crate::error::{Error, Result};

pub(crate) fn compile(flag: &str, pattern: &str) -> Result<Regex> {
    Regex::new(pattern).map_err(|e| invalid_regex(flag, pattern, &e))
}

pub(crate) fn compile_set(flag: &str, patterns: &[String]) -> Result<Option<regex::RegexSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    // Compile each alone first so the message names the pattern that is wrong.
    for p in patterns {
        compile(flag, p)?;
    }
    regex::RegexSet::new(patterns)
        .map(Some)
        .map_err(|e| Error::usage(format!("invalid {flag} patterns: {e}")))
}

/// Line filters run on bytes; the patterns are the same as for names.
pub(crate) fn compile_bytes_set(flag: &str, patterns: &[String]) -> Result<Option<BytesRegexSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    for p in patterns {
        compile(flag, p)?;
    }
    BytesRegexSet::new(patterns)
        .map(Some)
        .map_err(|e| Error::usage(format!("invalid {flag} patterns: {e}")))
}

fn invalid_regex(flag: &str, pattern: &str, err: &regex::Error) -> Error {
    // regex's messages span several lines (a caret under the pattern); keep the last,
    // which says what is wrong.
    let reason = match err {
        regex::Error::Syntax(s) => s
            .lines()
            .rev()
            .find(|l| l.starts_with("error:"))
            .map(|l| l.trim_start_matches("error:").trim().to_string())
            .unwrap_or_else(|| s.clone()),
        other => other.to_string(),
    };
    Error::usage(format!("invalid regex for {flag} '{pattern}': {reason}"))
}

/// The durations every duration flag accepts, as messages show them.
pub(crate) const DURATION_FORMS: &str =
    "a number and a unit (ms, s, m, h, d), e.g. 500ms, 30s, 5m, 1h30m";

/// Parses stern-style durations: `5s`, `2m`, `3h`, `1h30m`, `500ms`.
pub(crate) fn parse_duration(flag: &str, value: &str) -> Result<Duration> {
    humantime::parse_duration(value.trim()).map_err(|e| {
        // humantime's own message lists every unit spelling it knows; say it short.
        let what = match e {
            humantime::DurationError::UnknownUnit { unit, .. } => format!("unknown unit '{unit}'"),
            humantime::DurationError::NumberOverflow => "too long".to_string(),
            humantime::DurationError::Empty => "empty".to_string(),
            _ => "not a duration".to_string(),
        };
        Error::usage(format!(
            "invalid {flag} '{value}': {what}; give {DURATION_FORMS}"
        ))
    })
}

/// Parses an RFC3339 time, for `flag`.
pub(crate) fn parse_time(flag: &str, value: &str) -> Result<jiff::Timestamp> {
    value.trim().parse::<jiff::Timestamp>().map_err(|_| {
        Error::usage(format!(
            "invalid {flag} '{value}': not an RFC3339 time; give e.g. 2026-11-27T10:00:00Z or 2026-11-27T10:00:00+01:00"
        ))
    })
}

/// A value that is not blank.
pub(crate) fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|s| !s.trim().is_empty()).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_durations_and_times_say_what_is_accepted_in_one_short_line() {
        for (value, what) in [
            ("5x", "unknown unit 'x'"),
            ("soon", "not a duration"),
            ("", "empty"),
            ("5 m s", "not a duration"),
        ] {
            let msg = parse_duration("--since", value).unwrap_err().to_string();
            assert_eq!(
                msg,
                format!("invalid --since '{value}': {what}; give {DURATION_FORMS}")
            );
            assert!(msg.len() < 120 && !msg.contains('\n'), "{msg}");
        }
        assert_eq!(
            parse_duration("--since", "1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        let msg = parse_time("--since-time", "yesterday")
            .unwrap_err()
            .to_string();
        assert!(msg.starts_with("invalid --since-time 'yesterday': not an RFC3339 time; give e.g. 2026-11-27T10:00:00Z"), "{msg}");
        assert!(!msg.contains("four digit"), "{msg}");
    }
}
