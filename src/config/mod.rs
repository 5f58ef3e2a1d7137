//! What the command line means: `Config::resolve` turns `cli::Args` into a `Config`.
//!
//! This is the only reader of `Args`. It compiles every regex once, parses durations,
//! decides colours from the flag, the environment and whether the streams are terminals,
//! and validates combinations. It does no network I/O and reads nothing from the process
//! itself: the environment comes in as an [`Env`] value so tests need no process.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use regex::Regex;
use regex::bytes::{Regex as BytesRegex, RegexSet as BytesRegexSet};

use crate::cli::{Args, ColorChoice, MinLevel, OutputMode, TimestampFormat};
use crate::error::{Error, Result};
use crate::render::format::Palette;
use crate::render::level::{self, Level};
use crate::kube::resource::{Kind, ResourceQuery};
use crate::render::template::LineTemplate;

/// stern's defaults for `--max-log-requests -1`.
const MAX_LOG_REQUESTS_FOLLOW: usize = 50;
const MAX_LOG_REQUESTS_NO_FOLLOW: usize = 5;

/// The parts of the process environment that change ktail's behaviour.
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub vars: HashMap<String, String>,
    pub stdout_is_terminal: bool,
    pub stderr_is_terminal: bool,
    /// The wall clock at start, in epoch seconds.
    pub now: i64,
}

impl Env {
    /// The real environment of this process.
    pub fn from_process() -> Env {
        use std::io::IsTerminal;
        Env {
            vars: std::env::vars().collect(),
            stdout_is_terminal: std::io::stdout().is_terminal(),
            stderr_is_terminal: std::io::stderr().is_terminal(),
            now: jiff::Timestamp::now().as_second(),
        }
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

/// Which namespaces are watched.
#[derive(Debug, Clone)]
pub enum NamespaceScope {
    /// The kubeconfig context's namespace (known only once the kubeconfig is read).
    ContextDefault,
    /// These namespaces, de-duplicated, in the order given.
    Listed(Vec<String>),
    /// One cluster-wide watch.
    All,
    /// Namespaces found by a watch of namespaces: those whose name matches `regex` and
    /// whose labels match `labels`; new ones join while ktail runs.
    Pattern {
        regex: Option<Regex>,
        labels: Option<String>,
    },
}

impl PartialEq for NamespaceScope {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (NamespaceScope::ContextDefault, NamespaceScope::ContextDefault) => true,
            (NamespaceScope::All, NamespaceScope::All) => true,
            (NamespaceScope::Listed(a), NamespaceScope::Listed(b)) => a == b,
            (
                NamespaceScope::Pattern {
                    regex: r1,
                    labels: l1,
                },
                NamespaceScope::Pattern {
                    regex: r2,
                    labels: l2,
                },
            ) => r1.as_ref().map(Regex::as_str) == r2.as_ref().map(Regex::as_str) && l1 == l2,
            _ => false,
        }
    }
}

/// Which pods and containers are tailed; everything `target::select` needs.
#[derive(Debug, Clone)]
pub struct Selection {
    pub pod_query: Option<Regex>,
    pub exclude_pods: Option<regex::RegexSet>,
    pub container: Regex,
    pub exclude_containers: Option<regex::RegexSet>,
    pub init_containers: bool,
    pub ephemeral_containers: bool,
    /// `--condition`: the pod condition type (canonical case) and wanted status.
    pub condition: Option<(String, String)>,
    /// `--container-state`: which current states pass (for containers found at start).
    pub states: StateSet,
    /// `--previous`: also select the previous instance of each container.
    pub previous: bool,
}

/// A set of container states for `--container-state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateSet {
    pub running: bool,
    pub waiting: bool,
    pub terminated: bool,
}

impl StateSet {
    pub const ALL: StateSet = StateSet {
        running: true,
        waiting: true,
        terminated: true,
    };
}

/// Which lines are printed. Patterns run on the raw bytes of the message, so a line
/// that is not UTF-8 is neither copied nor rejected.
#[derive(Debug, Clone, Default)]
pub struct LineFilter {
    pub include: Option<BytesRegexSet>,
    pub exclude: Option<BytesRegexSet>,
    /// `--level`: drop lines whose level is known and below this.
    pub min_level: Option<Level>,
}

impl LineFilter {
    /// stern's rule: any exclude match drops the line; otherwise, with includes, any
    /// include match keeps it. Then `--level`: a line below the level is dropped, a line
    /// without a level is kept.
    pub fn keeps(&self, message: &[u8]) -> bool {
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

/// stern's pod condition names, in their canonical case.
const CONDITIONS: [&str; 6] = [
    "ContainersReady",
    "Initialized",
    "Ready",
    "PodScheduled",
    "DisruptionTarget",
    "PodReadyToStartContainers",
];

/// Everything a run needs, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub selection: Selection,
    pub filter: LineFilter,
    pub label_selector: Option<String>,
    pub field_selector: Option<String>,
    /// `deploy/web` and friends (not `pod/x`, which becomes a field selector).
    pub resource: Option<ResourceQuery>,
    pub namespaces: NamespaceScope,
    pub since: Duration,
    /// `--since-time`, which replaces `since` when given.
    pub since_time: Option<jiff::Timestamp>,
    pub tail: Option<u64>,
    pub follow: bool,
    pub timestamps: Option<TimestampFormat>,
    pub timezone: jiff::tz::TimeZone,
    /// Colour these matches in messages (`-H` and `-i` patterns), when colour is on.
    pub highlight: Option<BytesRegex>,
    /// `--stdin`: format lines from standard input; no cluster.
    pub stdin: bool,
    pub output: OutputMode,
    /// `--template`/`--template-file`, compiled; replaces `output`.
    pub template: Option<Arc<LineTemplate>>,
    /// `--output-dir`: write each container's lines to `DIR/ns/pod/container.log` too.
    pub output_dir: Option<PathBuf>,
    /// Log lines go to stdout (not with `--files-only`).
    pub stdout: bool,
    /// The template compiled without colour, for `--output-dir` files.
    pub file_template: Option<Arc<LineTemplate>>,
    /// Colour log lines on stdout.
    pub color: bool,
    /// Which colours pods and containers get (when colour is on).
    pub palette: Palette,
    /// Colour notices and warnings on stderr.
    pub color_stderr: bool,
    /// Print `+`/`-` notices.
    pub notices: bool,
    /// Neutralise escape sequences in log lines: stdout is a terminal (see `sanitize`).
    pub sanitize: bool,
    pub max_log_requests: usize,
    /// Re-open a follow stream silent for this long (`None`: never).
    pub silence: Option<Duration>,
    pub context: Option<String>,
    pub kubeconfig: Option<PathBuf>,
    /// When this run started (epoch seconds, from `Env::now`): container instances that
    /// started earlier get `--since`/`--tail`, later ones are read from their start.
    pub run_start: i64,
}

impl Config {
    pub fn resolve(args: &Args, env: &Env) -> Result<Config> {
        if args.query.is_none()
            && args.selector.is_none()
            && args.field_selector.is_none()
            && args.node.is_none()
            && !args.stdin
        {
            return Err(Error::usage(
                "nothing selects pods: give a pod QUERY regex, --selector or --field-selector (see ktail --help)",
            ));
        }
        let resource = match &args.query {
            Some(q) if q.contains('/') => Some(ResourceQuery::parse(q)?),
            _ => None,
        };
        if resource.is_some() && args.selector.is_some() {
            return Err(Error::usage(
                "a resource query selects its own pods: drop --selector, or give a pod name regex instead",
            ));
        }
        let pod_query = match (&resource, args.query.as_deref()) {
            (None, Some(q)) => Some(compile("QUERY", q)?),
            _ => None,
        };
        let selection = Selection {
            pod_query,
            exclude_pods: compile_set("--exclude-pod", &args.exclude_pod)?,
            container: compile("--container", &args.container)?,
            exclude_containers: compile_set("--exclude-container", &args.exclude_container)?,
            init_containers: args.init_containers,
            ephemeral_containers: args.ephemeral_containers,
            condition: args.condition.as_deref().map(parse_condition).transpose()?,
            states: parse_states(&args.container_state)?,
            previous: args.previous,
        };
        let filter = LineFilter {
            include: compile_bytes_set("--include", &args.include)?,
            exclude: compile_bytes_set("--exclude", &args.exclude)?,
            min_level: args.level.map(|l| match l {
                MinLevel::Trace => Level::Trace,
                MinLevel::Debug => Level::Debug,
                MinLevel::Info => Level::Info,
                MinLevel::Warn => Level::Warn,
                MinLevel::Error => Level::Error,
                MinLevel::Fatal => Level::Fatal,
            }),
        };
        // stern highlights include matches too.
        let highlight = {
            let mut all: Vec<&str> = Vec::new();
            for (flag, list) in [
                ("--highlight", &args.highlight),
                ("--include", &args.include),
            ] {
                for p in list {
                    compile(flag, p)?;
                    all.push(p);
                }
            }
            if all.is_empty() {
                None
            } else {
                let joined = all
                    .iter()
                    .map(|p| format!("(?:{p})"))
                    .collect::<Vec<_>>()
                    .join("|");
                Some(
                    BytesRegex::new(&joined)
                        .map_err(|e| Error::usage(format!("invalid --highlight patterns: {e}")))?,
                )
            }
        };
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
        let timezone = match args.timezone.as_deref() {
            None => jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC),
            Some(name) => jiff::tz::TimeZone::get(name).map_err(|_| {
                Error::usage(format!(
                    "unknown --timezone '{name}': give an IANA name such as UTC or Europe/Berlin"
                ))
            })?,
        };

        let since = parse_duration("--since", &args.since)?;
        let silence = Some(parse_duration("--silence-timeout", &args.silence_timeout)?)
            .filter(|d| !d.is_zero());
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

        let namespaces = if args.namespace_regex.is_some() || args.namespace_selector.is_some() {
            NamespaceScope::Pattern {
                regex: args
                    .namespace_regex
                    .as_deref()
                    .map(|r| compile("--namespace-regex", r))
                    .transpose()?,
                labels: non_empty(&args.namespace_selector),
            }
        } else if args.all_namespaces && resource.as_ref().is_some_and(|r| r.kind != Kind::Pod) {
            // Objects are followed per namespace: find every namespace that has one.
            NamespaceScope::Pattern {
                regex: None,
                labels: None,
            }
        } else if args.all_namespaces {
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

        let mut field_selector = non_empty(&args.field_selector);
        let mut add_field = |term: String| {
            field_selector = Some(match field_selector.take() {
                Some(f) => format!("{f},{term}"),
                None => term,
            });
        };
        if let Some(node) = non_empty(&args.node) {
            add_field(format!("spec.nodeName={node}"));
        }
        // pod/NAME is exact, and the server can select it.
        let resource = match resource {
            Some(r) if r.kind == Kind::Pod => {
                add_field(format!("metadata.name={}", r.name));
                None
            }
            other => other,
        };

        let color = decide_color(args.color, env, env.stdout_is_terminal);
        let palette = palette(args)?;
        let template_source = match (&args.template_file, &args.template) {
            (Some(path), _) => {
                let source = std::fs::read_to_string(path).map_err(|e| {
                    Error::usage(format!(
                        "cannot read --template-file '{}': {e}",
                        path.display()
                    ))
                })?;
                Some((source, format!("--template-file '{}'", path.display())))
            }
            (None, Some(source)) => Some((source.clone(), "--template".to_string())),
            (None, None) => None,
        };
        let compile_template = |color: bool| {
            template_source
                .as_ref()
                .map(|(source, origin)| {
                    LineTemplate::compile(source.clone(), origin, color, timezone.clone())
                        .map(Arc::new)
                })
                .transpose()
        };
        let template = compile_template(color)?;
        // Files never get colour: the same template, its colour helpers plain.
        let file_template = match (&args.output_dir, &template) {
            (Some(_), Some(_)) if color => compile_template(false)?,
            (Some(_), t) => t.clone(),
            (None, _) => None,
        };

        Ok(Config {
            selection,
            filter,
            label_selector: non_empty(&args.selector),
            field_selector,
            resource,
            namespaces,
            since,
            since_time,
            tail,
            follow,
            timestamps: args.timestamps,
            timezone,
            highlight,
            stdin: args.stdin,
            output: args.output,
            template,
            output_dir: args.output_dir.clone(),
            stdout: !args.files_only,
            file_template,
            color,
            palette,
            color_stderr: decide_color(args.color, env, env.stderr_is_terminal),
            notices: !args.only_log_lines,
            sanitize: env.stdout_is_terminal && !args.raw_escapes,
            max_log_requests,
            silence,
            context: non_empty(&args.context),
            kubeconfig: args.kubeconfig.clone(),
            run_start: env.now,
        })
    }
}

/// `--pod-colors`, `--container-colors` and `--diff-container`, validated as stern does:
/// container colours need pod colours, default to them, and pair up one to one.
fn palette(args: &Args) -> Result<Palette> {
    let (pods, containers) = (&args.pod_colors, &args.container_colors);
    if pods.is_empty() && !containers.is_empty() {
        return Err(Error::usage(
            "--container-colors needs --pod-colors: the two lists pair up",
        ));
    }
    let pods = pods
        .iter()
        .map(|c| parse_sgr("--pod-colors", c))
        .collect::<Result<Vec<_>>>()?;
    let containers = if containers.is_empty() {
        pods.clone()
    } else {
        containers
            .iter()
            .map(|c| parse_sgr("--container-colors", c))
            .collect::<Result<Vec<_>>>()?
    };
    if pods.len() != containers.len() {
        return Err(Error::usage(format!(
            "--pod-colors has {} colours and --container-colors {}: give both the same number",
            pods.len(),
            containers.len()
        )));
    }
    Ok(Palette::new(
        pods.into_iter().zip(containers).collect(),
        args.diff_container,
    ))
}

/// One SGR colour: numbers 0..=255 separated by ';' (`91`, `1;4;31`, `38;2;255;97;136`).
fn parse_sgr(flag: &str, value: &str) -> Result<String> {
    let parts: Vec<&str> = value.split(';').map(str::trim).collect();
    if parts.iter().any(|p| p.parse::<u8>().is_err()) {
        return Err(Error::usage(format!(
            "invalid {flag} colour '{value}': give SGR numbers separated by ';', e.g. 91 or 38;2;255;97;136"
        )));
    }
    Ok(parts.join(";"))
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

fn compile_set(flag: &str, patterns: &[String]) -> Result<Option<regex::RegexSet>> {
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
fn compile_bytes_set(flag: &str, patterns: &[String]) -> Result<Option<BytesRegexSet>> {
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

/// `NAME[=VALUE]`, case-insensitive, value defaulting to true (stern's `--condition`).
fn parse_condition(s: &str) -> Result<(String, String)> {
    let (name, value) = match s.split_once('=') {
        Some((n, v)) => (n.trim(), v.trim()),
        None => (s.trim(), "true"),
    };
    let Some(canonical) = CONDITIONS.iter().find(|c| c.eq_ignore_ascii_case(name)) else {
        return Err(Error::usage(format!(
            "unknown --condition '{name}': use one of {}",
            CONDITIONS.join(", ")
        )));
    };
    let value = match value.to_ascii_lowercase().as_str() {
        "true" => "True",
        "false" => "False",
        "unknown" => "Unknown",
        _ => {
            return Err(Error::usage(format!(
                "invalid --condition value '{value}': use true, false or unknown"
            )));
        }
    };
    Ok((canonical.to_string(), value.to_string()))
}

fn parse_states(list: &[String]) -> Result<StateSet> {
    let mut set = StateSet {
        running: false,
        waiting: false,
        terminated: false,
    };
    for s in list {
        match s.trim().to_ascii_lowercase().as_str() {
            "all" => set = StateSet::ALL,
            "running" => set.running = true,
            "waiting" => set.waiting = true,
            "terminated" => set.terminated = true,
            other => {
                return Err(Error::usage(format!(
                    "invalid --container-state '{other}': use running, waiting, terminated or all"
                )));
            }
        }
    }
    Ok(set)
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
            now: 0,
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
    fn node_joins_the_field_selector() {
        let c = resolve(&["--node", "n1"]).unwrap();
        assert_eq!(c.field_selector.as_deref(), Some("spec.nodeName=n1"));
        let c = resolve(&["--field-selector", "status.phase=Running", "--node", "n1"]).unwrap();
        assert_eq!(
            c.field_selector.as_deref(),
            Some("status.phase=Running,spec.nodeName=n1")
        );
    }

    #[test]
    fn conditions_follow_stern() {
        let c = resolve(&["x", "--condition", "ready=FALSE", "--tail", "0"]).unwrap();
        assert_eq!(
            c.selection.condition,
            Some(("Ready".into(), "False".into()))
        );
        let c = resolve(&["x", "--condition", "podscheduled", "--no-follow"]).unwrap();
        assert_eq!(
            c.selection.condition,
            Some(("PodScheduled".into(), "True".into()))
        );
        assert!(
            resolve(&["x", "--condition", "Ready"]).is_err(),
            "needs --tail 0 or --no-follow"
        );
        let err = resolve(&["x", "--condition", "Happy", "--no-follow"]).unwrap_err();
        assert!(err.to_string().contains("'Happy'"), "{err}");
        assert!(resolve(&["x", "--condition", "Ready=maybe", "--no-follow"]).is_err());
    }

    #[test]
    fn container_states() {
        assert_eq!(resolve(&["x"]).unwrap().selection.states, StateSet::ALL);
        let s = resolve(&["x", "--container-state", "running,terminated"])
            .unwrap()
            .selection
            .states;
        assert_eq!(
            s,
            StateSet {
                running: true,
                waiting: false,
                terminated: true
            }
        );
        assert!(resolve(&["x", "--container-state", "sleeping"]).is_err());
    }

    #[test]
    fn since_time_and_timezone() {
        let c = resolve(&["x", "--since-time", "2026-11-27T10:00:00+01:00"]).unwrap();
        assert_eq!(c.since_time.unwrap().to_string(), "2026-11-27T09:00:00Z");
        let err = resolve(&["x", "--since-time", "yesterday"]).unwrap_err();
        assert!(
            err.to_string().contains("--since-time 'yesterday'"),
            "{err}"
        );
        assert!(resolve(&["x", "--timezone", "Europe/Berlin"]).is_ok());
        let err = resolve(&["x", "--timezone", "Mars/Olympus"]).unwrap_err();
        assert!(err.to_string().contains("'Mars/Olympus'"), "{err}");
    }

    #[test]
    fn highlight_covers_highlight_and_include_patterns() {
        let c = resolve(&["x", "-H", "err", "-i", "warn"]).unwrap();
        let h = c.highlight.unwrap();
        assert!(h.is_match(b"an err") && h.is_match(b"a warn"));
        assert!(resolve(&["x"]).unwrap().highlight.is_none());
        assert!(resolve(&["x", "-H", "("]).is_err());
    }

    #[test]
    fn resource_queries() {
        let c = resolve(&["deploy/web"]).unwrap();
        assert_eq!(c.resource.unwrap().name, "web");
        assert!(c.selection.pod_query.is_none());
        let c = resolve(&["pod/db-0", "--field-selector", "status.phase=Running"]).unwrap();
        assert!(c.resource.is_none());
        assert_eq!(
            c.field_selector.as_deref(),
            Some("status.phase=Running,metadata.name=db-0")
        );
        assert!(resolve(&["deploy/web", "-l", "app=web"]).is_err());
        assert_eq!(resolve(&["cronjob/x"]).unwrap_err().exit_code(), 2);
        // Followed objects across all namespaces are found by a namespace watch.
        assert_eq!(
            resolve(&["deploy/web", "-A"]).unwrap().namespaces,
            NamespaceScope::Pattern {
                regex: None,
                labels: None
            }
        );
    }

    #[test]
    fn namespace_patterns() {
        let c = resolve(&["x", "--namespace-regex", "^team-"]).unwrap();
        assert!(
            matches!(&c.namespaces, NamespaceScope::Pattern { regex: Some(r), labels: None } if r.as_str() == "^team-")
        );
        let c = resolve(&["x", "--namespace-selector", "env=prod"]).unwrap();
        assert!(
            matches!(&c.namespaces, NamespaceScope::Pattern { regex: None, labels: Some(l) } if l == "env=prod")
        );
        assert!(resolve(&["x", "--namespace-regex", "("]).is_err());
        assert!(Args::try_parse_from(["ktail", "x", "-n", "a", "--namespace-regex", "b"]).is_err());
    }

    #[test]
    fn stdin_needs_no_selector() {
        assert!(resolve(&["--stdin"]).unwrap().stdin);
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
        // Not UTF-8: patterns still apply to the bytes around it.
        let c = resolve(&["x", "-i", "GET"]).unwrap();
        assert!(c.filter.keeps(b"\xff GET"));
    }

    #[test]
    fn level_filter_keeps_lines_without_a_level() {
        let c = resolve(&["x", "--level", "warn"]).unwrap();
        assert!(c.filter.keeps(br#"{"level":"error"}"#));
        assert!(c.filter.keeps(b"level=warn x"));
        assert!(!c.filter.keeps(br#"{"level":"info"}"#));
        assert!(!c.filter.keeps(b"lvl=debug"));
        assert!(c.filter.keeps(b"no level here"));
        // Include and exclude still apply first.
        let c = resolve(&["x", "--level", "warn", "-e", "noisy"]).unwrap();
        assert!(!c.filter.keeps(b"level=error noisy"));
    }

    #[test]
    fn colour_lists_follow_stern() {
        let p = resolve(&["x", "--pod-colors", "91, 92", "--container-colors", "31,32"])
            .unwrap()
            .palette;
        assert_eq!(
            p,
            Palette::new(
                vec![("91".into(), "31".into()), ("92".into(), "32".into())],
                false
            )
        );
        let p = resolve(&["x", "--pod-colors", "1;4;91", "-d"])
            .unwrap()
            .palette;
        assert_eq!(
            p,
            Palette::new(vec![("1;4;91".into(), "1;4;91".into())], true)
        );
        for bad in [
            &["x", "--container-colors", "31"][..],
            &["x", "--pod-colors", "91,92", "--container-colors", "31"],
            &["x", "--pod-colors", "red"],
            &["x", "--pod-colors", "300"],
            &["x", "--pod-colors", ""],
        ] {
            let err = resolve(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }

    #[test]
    fn output_dir_settings() {
        let cfg = resolve(&["x", "--output-dir", "logs", "--files-only"]).unwrap();
        assert_eq!(
            cfg.output_dir.as_deref(),
            Some(std::path::Path::new("logs"))
        );
        assert!(!cfg.stdout, "--files-only");
        assert!(resolve(&["x", "--output-dir", "logs"]).unwrap().stdout);
    }

    #[test]
    fn templates_are_compiled_at_resolve() {
        assert!(
            resolve(&["x", "--template", "{{ pod }}"])
                .unwrap()
                .template
                .is_some()
        );
        let err = resolve(&["x", "--template", "{{ pod"]).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid --template at line 1"),
            "{err}"
        );
        let err = resolve(&["x", "-T", "/nonexistent.j2"]).unwrap_err();
        assert!(
            err.to_string().contains("cannot read --template-file"),
            "{err}"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Literal patterns over a small alphabet, so that matches are frequent.
        fn pattern() -> impl Strategy<Value = String> {
            "[abc]{1,3}"
        }

        proptest! {
            /// stern's semantics: any exclude match drops; else, with includes, any include
            /// match keeps; without includes everything is kept.
            #[test]
            fn include_or_exclude_wins(
                line in "[abc ]{0,24}",
                includes in proptest::collection::vec(pattern(), 0..3),
                excludes in proptest::collection::vec(pattern(), 0..3),
            ) {
                let mut argv = vec!["x".to_string()];
                for p in &includes { argv.push("-i".into()); argv.push(p.clone()); }
                for p in &excludes { argv.push("-e".into()); argv.push(p.clone()); }
                let args = Args::try_parse_from(std::iter::once("ktail".to_string()).chain(argv)).unwrap();
                let cfg = Config::resolve(&args, &Env::default()).unwrap();
                let excluded = excludes.iter().any(|p| line.contains(p.as_str()));
                let included = includes.is_empty() || includes.iter().any(|p| line.contains(p.as_str()));
                prop_assert_eq!(cfg.filter.keeps(line.as_bytes()), !excluded && included);
            }

            /// Highlighting never changes the text: with the escapes removed, the message is
            /// the same, and every occurrence of a pattern sits inside a highlight.
            #[test]
            fn highlight_only_adds_colour(
                line in "[abc ]{0,24}",
                patterns in proptest::collection::vec(pattern(), 1..3),
            ) {
                let mut argv = vec!["ktail".to_string(), "x".into(), "--color".into(), "always".into(), "-o".into(), "raw".into()];
                for p in &patterns { argv.push("-H".into()); argv.push(p.clone()); }
                let cfg = Config::resolve(&Args::try_parse_from(argv).unwrap(), &Env::default()).unwrap();
                let formatter = crate::render::format::Formatter::from_config(&cfg, false);
                let target = crate::kube::target::Target {
                    key: crate::kube::target::TargetKey {
                        namespace: "n".into(), pod: "abc".into(), pod_uid: "u".into(),
                        container: "c".into(), container_id: "i".into(),
                    },
                    kind: crate::kube::target::ContainerKind::Regular,
                    pod_info: Default::default(),
                    state: crate::kube::target::InstanceState::Running,
                    container_state: crate::kube::target::ContainerState::Running,
                    started_at: None,
                };
                let mut f = formatter.for_target(&target);
                let mut out = Vec::new();
                f.write_line(&mut out, b"", None, line.as_bytes());
                let text = String::from_utf8(out).unwrap();
                let plain = text.replace("\x1b[1;31m", "").replace("\x1b[0m", "");
                prop_assert_eq!(plain, format!("{line}\n"));
                // Lit spans, in the message's own positions.
                let mut spans = Vec::new();
                let mut pos = 0;
                for (i, part) in text.split("\x1b[1;31m").enumerate() {
                    if i == 0 {
                        pos += part.len();
                        continue;
                    }
                    let (lit, rest) = part.split_once("\x1b[0m").unwrap();
                    spans.push((pos, pos + lit.len()));
                    pos += lit.len() + rest.len();
                }
                // Every occurrence of a pattern touches a highlight (matches are found
                // leftmost first, so overlapping occurrences may share one).
                for p in &patterns {
                    for (at, _) in line.match_indices(p.as_str()) {
                        let end = at + p.len();
                        prop_assert!(
                            spans.iter().any(|(s, e)| *s < end && at < *e),
                            "{:?} at {} left unlit in {:?}", p, at, text
                        );
                    }
                }
            }
        }
    }
}
