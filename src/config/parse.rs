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

/// Parses stern-style durations: `5s`, `2m`, `3h`, `1h30m`, `500ms`.
pub(crate) fn parse_duration(flag: &str, value: &str) -> Result<Duration> {
    humantime::parse_duration(value.trim()).map_err(|e| {
        Error::usage(format!(
            "invalid {flag} '{value}': {e} (use e.g. 30s, 5m, 1h30m)"
        ))
    })
}

/// A value that is not blank.
pub(crate) fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|s| !s.trim().is_empty()).cloned()
}
