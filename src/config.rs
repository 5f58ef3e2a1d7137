//! What the command line means: `Config::resolve` turns `cli::Args` into a `Config`.
//!
//! This is the only reader of `Args`. It compiles every regex once, parses durations,
//! decides colours from the flag, the environment and whether the streams are terminals,
//! and validates combinations. It does no network I/O and reads nothing from the process
//! itself: the environment comes in as an [`Env`] value so tests need no process.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use regex::{Regex, RegexSet};

use crate::cli::{Args, ColorChoice, OutputMode, TimestampFormat};
use crate::error::{Error, Result};

/// stern's defaults for `--max-log-requests -1`.
const MAX_LOG_REQUESTS_FOLLOW: usize = 50;
const MAX_LOG_REQUESTS_NO_FOLLOW: usize = 5;

/// The parts of the process environment that change ktail's behaviour.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub vars: HashMap<String, String>,
    pub stdout_is_terminal: bool,
    pub stderr_is_terminal: bool,
}

impl Env {
    /// The real environment of this process.
    pub fn from_process() -> Env {
        use std::io::IsTerminal;
        Env {
            vars: std::env::vars().collect(),
            stdout_is_terminal: std::io::stdout().is_terminal(),
            stderr_is_terminal: std::io::stderr().is_terminal(),
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

/// Which namespaces are watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamespaceScope {
    /// The kubeconfig context's namespace (known only once the kubeconfig is read).
    ContextDefault,
    /// These namespaces, de-duplicated, in the order given.
    Listed(Vec<String>),
    /// One cluster-wide watch.
    All,
}

/// Which pods and containers are tailed; everything `target::select` needs.
#[derive(Debug, Clone)]
pub struct Selection {
    pub pod_query: Option<Regex>,
    pub exclude_pods: Option<RegexSet>,
    pub container: Regex,
    pub exclude_containers: Option<RegexSet>,
    pub init_containers: bool,
    pub ephemeral_containers: bool,
}

/// Which lines are printed.
#[derive(Debug, Clone, Default)]
pub struct LineFilter {
    pub include: Option<RegexSet>,
    pub exclude: Option<RegexSet>,
}

impl LineFilter {
    /// stern's rule: any exclude match drops the line; otherwise, with includes, any
    /// include match keeps it.
    pub fn keeps(&self, message: &[u8]) -> bool {
        if self.include.is_none() && self.exclude.is_none() {
            return true;
        }
        let text = String::from_utf8_lossy(message);
        if let Some(ex) = &self.exclude
            && ex.is_match(&text)
        {
            return false;
        }
        match &self.include {
            Some(inc) => inc.is_match(&text),
            None => true,
        }
    }
}

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub selection: Selection,
    pub filter: LineFilter,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    pub namespaces: NamespaceScope,
    pub since: Duration,
    pub tail: Option<u64>,
    pub follow: bool,
    pub timestamps: Option<TimestampFormat>,
    pub output: OutputMode,
    /// Colour log lines on stdout.
    pub color: bool,
    /// Colour notices and warnings on stderr.
    pub color_stderr: bool,
    /// Print `+`/`-` notices.
    pub notices: bool,
    pub max_log_requests: usize,
    pub context: Option<String>,
    pub kubeconfig: Option<PathBuf>,
}

impl Config {
    pub fn resolve(args: &Args, env: &Env) -> Result<Config> {
        if args.query.is_none() && args.selector.is_none() && args.field_selector.is_none() {
            return Err(Error::usage(
                "nothing selects pods: give a pod QUERY regex, --selector or --field-selector (see ktail --help)",
            ));
        }
        if let Some(q) = &args.query
            && q.contains('/')
        {
            return Err(Error::usage(format!(
                "resource query '{q}' is not supported yet: select its pods with --selector (e.g. -l app=web) or a pod name regex"
            )));
        }
        let pod_query = args
            .query
            .as_deref()
            .map(|q| compile("QUERY", q))
            .transpose()?;
        let selection = Selection {
            pod_query,
            exclude_pods: compile_set("--exclude-pod", &args.exclude_pod)?,
            container: compile("--container", &args.container)?,
            exclude_containers: compile_set("--exclude-container", &args.exclude_container)?,
            init_containers: args.init_containers,
            ephemeral_containers: args.ephemeral_containers,
        };
        let filter = LineFilter {
            include: compile_set("--include", &args.include)?,
            exclude: compile_set("--exclude", &args.exclude)?,
        };

        let since = parse_duration("--since", &args.since)?;
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

        let namespaces = if args.all_namespaces {
            NamespaceScope::All
        } else if args.namespaces.is_empty() {
            NamespaceScope::ContextDefault
        } else {
            let mut seen = Vec::<String>::new();
            for ns in &args.namespaces {
                let ns = ns.trim();
                if ns.is_empty() {
                    return Err(Error::usage(
                        "empty --namespace value: give a namespace name",
                    ));
                }
                if !seen.iter().any(|s| s == ns) {
                    seen.push(ns.to_string());
                }
            }
            NamespaceScope::Listed(seen)
        };

        Ok(Config {
            selection,
            filter,
            label_selector: non_empty(&args.selector),
            field_selector: non_empty(&args.field_selector),
            namespaces,
            since,
            tail,
            follow,
            timestamps: args.timestamps,
            output: args.output,
            color: decide_color(args.color, env, env.stdout_is_terminal),
            color_stderr: decide_color(args.color, env, env.stderr_is_terminal),
            notices: !args.only_log_lines,
            max_log_requests,
            context: non_empty(&args.context),
            kubeconfig: args.kubeconfig.clone(),
        })
    }
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_ref().filter(|s| !s.trim().is_empty()).cloned()
}

/// Colour when asked to, or when the stream is a terminal that wants it
/// (NO_COLOR: <https://no-color.org>, CLICOLOR_FORCE, TERM=dumb).
fn decide_color(choice: ColorChoice, env: &Env, is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            if env.var("NO_COLOR").is_some_and(|v| !v.is_empty()) {
                return false;
            }
            if env
                .var("CLICOLOR_FORCE")
                .is_some_and(|v| !v.is_empty() && v != "0")
            {
                return true;
            }
            is_terminal && env.var("TERM") != Some("dumb")
        }
    }
}

fn compile(flag: &str, pattern: &str) -> Result<Regex> {
    Regex::new(pattern).map_err(|e| invalid_regex(flag, pattern, &e))
}

fn compile_set(flag: &str, patterns: &[String]) -> Result<Option<RegexSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    // Compile each alone first so the message names the pattern that is wrong.
    for p in patterns {
        compile(flag, p)?;
    }
    RegexSet::new(patterns)
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
pub fn parse_duration(flag: &str, value: &str) -> Result<Duration> {
    humantime::parse_duration(value.trim()).map_err(|e| {
        Error::usage(format!(
            "invalid {flag} '{value}': {e} (use e.g. 30s, 5m, 1h30m)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(argv: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("ktail").chain(argv.iter().copied())).unwrap()
    }

    fn resolve(argv: &[&str]) -> Result<Config> {
        Config::resolve(&args(argv), &Env::default())
    }

    fn env(vars: &[(&str, &str)], tty: bool) -> Env {
        Env {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            stdout_is_terminal: tty,
            stderr_is_terminal: tty,
        }
    }

    #[test]
    fn something_must_select_pods() {
        let err = resolve(&[]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("QUERY"), "{err}");
        assert!(resolve(&["-l", "app=web"]).is_ok());
        assert!(resolve(&["--field-selector", "spec.nodeName=n1"]).is_ok());
    }

    #[test]
    fn invalid_regex_names_flag_and_value_on_one_line() {
        let err = resolve(&["web-(", "-c", "x"]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("QUERY") && msg.contains("'web-('"), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        let err = resolve(&["web", "-E", "ok", "-E", "[z-a]"]).unwrap_err();
        assert!(
            err.to_string().contains("--exclude-container '[z-a]'"),
            "{err}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(
            resolve(&["x"]).unwrap().since,
            Duration::from_secs(48 * 3600)
        );
        assert_eq!(
            resolve(&["x", "-s", "1h30m"]).unwrap().since,
            Duration::from_secs(5400)
        );
        let err = resolve(&["x", "--since", "soon"]).unwrap_err();
        assert!(err.to_string().contains("--since 'soon'"), "{err}");
    }

    #[test]
    fn max_log_requests_defaults_depend_on_follow() {
        assert_eq!(resolve(&["x"]).unwrap().max_log_requests, 50);
        assert_eq!(resolve(&["x", "--no-follow"]).unwrap().max_log_requests, 5);
        assert_eq!(
            resolve(&["x", "--max-log-requests", "7"])
                .unwrap()
                .max_log_requests,
            7
        );
        assert!(resolve(&["x", "--max-log-requests", "0"]).is_err());
    }

    #[test]
    fn no_follow_with_tail_zero_is_refused() {
        assert!(resolve(&["x", "--no-follow", "--tail", "0"]).is_err());
        assert!(resolve(&["x", "--tail", "0"]).is_ok());
    }

    #[test]
    fn namespaces() {
        assert_eq!(
            resolve(&["x"]).unwrap().namespaces,
            NamespaceScope::ContextDefault
        );
        assert_eq!(
            resolve(&["x", "-n", "a,b,a"]).unwrap().namespaces,
            NamespaceScope::Listed(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            resolve(&["x", "-n", "a", "-A"]).unwrap().namespaces,
            NamespaceScope::All
        );
    }

    #[test]
    fn colour_decision() {
        let a = args(&["x"]);
        let c = |vars: &[(&str, &str)], tty| Config::resolve(&a, &env(vars, tty)).unwrap().color;
        assert!(c(&[], true));
        assert!(!c(&[], false));
        assert!(!c(&[("NO_COLOR", "1")], true));
        assert!(!c(&[("TERM", "dumb")], true));
        assert!(c(&[("CLICOLOR_FORCE", "1")], false));
        let always = Config::resolve(
            &args(&["x", "--color", "always"]),
            &env(&[("NO_COLOR", "1")], false),
        );
        assert!(always.unwrap().color);
        let never = Config::resolve(&args(&["x", "--color", "never"]), &env(&[], true));
        assert!(!never.unwrap().color);
    }

    #[test]
    fn line_filter_follows_stern() {
        let c = resolve(&["x", "-i", "GET", "-i", "POST", "-e", "healthz"]).unwrap();
        assert!(c.filter.keeps(b"GET /api"));
        assert!(c.filter.keeps(b"POST /api"));
        assert!(!c.filter.keeps(b"GET /healthz"));
        assert!(!c.filter.keeps(b"DELETE /api"));
        let c = resolve(&["x"]).unwrap();
        assert!(c.filter.keeps(b"anything"));
    }
}
