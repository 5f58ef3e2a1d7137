//! How tails read: follow or not, the history window (`--since`, `--since-time`,
//! `--tail`), stream limits and re-opening, and the stern rules that tie them to the
//! selection.

use crate::cli::Args;
use crate::config::parse::parse_duration;
use crate::error::{Error, Result};
use crate::kube::target::Selection;
use crate::render::filter::LineFilter;
use crate::tail::TailSettings;

/// stern's defaults for `--max-log-requests -1`.
const MAX_LOG_REQUESTS_FOLLOW: usize = 50;
const MAX_LOG_REQUESTS_NO_FOLLOW: usize = 5;

pub(crate) fn resolve(
    args: &Args,
    selection: &Selection,
    filter: LineFilter,
) -> Result<TailSettings> {
    let since_time = args
        .since_time
        .as_deref()
        .map(|t| {
            t.trim().parse::<jiff::Timestamp>().map_err(|e| {
                Error::usage(format!(
                    "invalid --since-time '{t}': {e} (use RFC3339, e.g. 2026-11-27T10:00:00Z)"
                ))
            })
        })
        .transpose()?;
    let since = parse_duration("--since", &args.since)?;
    let silence =
        Some(parse_duration("--silence-timeout", &args.silence_timeout)?).filter(|d| !d.is_zero());
    let tail = match args.tail {
        -1 => None,
        n if n < -1 => {
            return Err(Error::usage(format!(
                "invalid --tail {n}: give a number of lines, or -1 for all"
            )));
        }
        n => Some(n as u64),
    };
    let follow = !args.no_follow;
    if !follow && tail == Some(0) {
        return Err(Error::usage(
            "--no-follow with --tail 0 would print nothing: drop one of them",
        ));
    }
    if selection.condition.is_some() && follow && tail != Some(0) {
        return Err(Error::usage(
            "--condition needs --tail 0 or --no-follow (as in stern): add one of them",
        ));
    }
    let max_log_requests = match args.max_log_requests {
        -1 if follow => MAX_LOG_REQUESTS_FOLLOW,
        -1 => MAX_LOG_REQUESTS_NO_FOLLOW,
        n if n >= 1 => n as usize,
        n => {
            return Err(Error::usage(format!(
                "invalid --max-log-requests {n}: give at least 1, or -1 for the default"
            )));
        }
    };
    Ok(TailSettings {
        follow,
        since,
        since_time,
        tail,
        silence,
        max_log_requests,
        notices: !args.only_log_lines,
        filter,
    })
}
