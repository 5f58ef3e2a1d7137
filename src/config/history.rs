//! How tails read: follow or not, the history window (`--since`, `--since-time`,
//! `--tail`), stream limits and re-opening, and the stern rules that tie them to the
//! selection.

use crate::cli::{Args, Env};
use crate::config::parse::{DURATION_FORMS, parse_duration, parse_time};
use crate::error::{Error, Result};
use crate::kube::target::Selection;
use crate::render::filter::LineFilter;
use crate::tail::TailSettings;

/// stern's defaults for `--max-log-requests -1`.
const MAX_LOG_REQUESTS_FOLLOW: usize = 50;
const MAX_LOG_REQUESTS_NO_FOLLOW: usize = 5;

pub(crate) fn resolve(
    args: &Args,
    env: &Env,
    selection: &Selection,
    filter: LineFilter,
) -> Result<TailSettings> {
    let now = jiff::Timestamp::from_second(env.now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let since_time = args
        .since_time
        .as_deref()
        .map(|t| parse_time("--since-time", t))
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
    let until = args
        .until
        .as_deref()
        .map(|u| parse_until(u, now))
        .transpose()?;
    if let Some(until) = until {
        let start = since_time.unwrap_or_else(|| {
            jiff::SignedDuration::try_from(since)
                .ok()
                .and_then(|d| now.checked_sub(d).ok())
                .unwrap_or(jiff::Timestamp::MIN)
        });
        if until < start {
            let from = match &args.since_time {
                Some(t) => format!("--since-time {t}"),
                None => format!("--since {}", args.since),
            };
            return Err(Error::usage(format!(
                "--until {} ends the window before {from} starts it: nothing could be printed; give an --until after the start",
                args.until.as_deref().unwrap_or_default()
            )));
        }
    }
    // A window that has ended is printed like --no-follow.
    let follow = !args.no_follow && until.is_none_or(|u| u > now);
    if args.until_done && !follow {
        return Err(Error::usage(
            "--until-done follows until the selection is done, and --until in the past ends the run at once: drop one of them",
        ));
    }
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
        until,
    })
}

/// `--until`: an RFC3339 time, or a duration ago.
fn parse_until(value: &str, now: jiff::Timestamp) -> Result<jiff::Timestamp> {
    let text = value.trim();
    if let Ok(t) = text.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    humantime::parse_duration(text)
        .ok()
        .and_then(|d| jiff::SignedDuration::try_from(d).ok())
        .and_then(|d| now.checked_sub(d).ok())
        .ok_or_else(|| {
            Error::usage(format!(
                "invalid --until '{value}': give an RFC3339 time (2026-11-27T10:00:00Z) or a duration ago, {DURATION_FORMS}"
            ))
        })
}
