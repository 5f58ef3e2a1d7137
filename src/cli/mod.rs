//! The command line as the user typed it: flag definitions, help texts and defaults, the
//! config file that supplies defaults, the subcommands (`demo`, `completions`, `man`),
//! and the process environment (`Env`).
//!
//! `Args` is syntax only. It must not compile regexes or talk to the cluster;
//! `config::Settings::resolve` is its only reader and gives it meaning. Flag names and
//! defaults follow stern's wherever stern has the flag.

mod config_file;
mod demo;
mod env;
mod generate;

use std::ffi::OsString;

use clap::{Parser, ValueEnum};

pub use config_file::with_config_file;
pub use demo::run as run_demo;
pub use env::Env;
pub use generate::{COMPLETE_VAR, completion_registration, run_completions, run_man};

/// What the process was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Tail logs: the whole command line, program name first.
    Run(Vec<OsString>),
    /// One of ktail's own commands ([`Builtin`]): the whole command line, program name
    /// first, for [`parse`].
    Builtin(Vec<OsString>),
}

/// The names of ktail's own commands, as the first argument.
pub const BUILTINS: [&str; 3] = ["demo", "completions", "man"];

impl Command {
    /// A subcommand is the first argument, exactly. A pod regex spelled like one is given
    /// after `--` (`ktail -- demo`) or after any flag (`ktail -n prod demo`), which clap
    /// then reads as the QUERY.
    pub fn from_argv(argv: Vec<OsString>) -> Command {
        match argv.get(1).and_then(|a| a.to_str()) {
            Some(first) if BUILTINS.contains(&first) => Command::Builtin(argv),
            _ => Command::Run(argv),
        }
    }
}

// ktail's own commands, listed under "Commands" in `--help` and offered by completion.
// (Not a doc comment: clap would make it the about text of the whole command.)
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum Builtin {
    /// Tail a built-in simulated cluster where a deployment keeps rolling
    ///
    /// Starts the kube-sim binary (beside ktail or on PATH) and runs ktail against it
    /// with ARGS, ktail's own QUERY and flags (every pod of namespace 'demo' when no
    /// QUERY or selector is given). Prints, once, kubectl commands to try in another
    /// terminal. Ctrl-C ends the demo and the simulator.
    Demo {
        /// ktail's arguments for the demo, e.g. '-l app=web -o json'
        #[arg(
            value_name = "ARGS",
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        args: Vec<OsString>,
    },
    /// Print the completion script for a shell (it asks ktail for candidates at TAB)
    Completions {
        #[arg(value_name = "SHELL", value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff)
    Man,
}

/// How ktail was started: as itself, or as the kubectl plugin `kubectl-ktail` (a link or
/// a copy on PATH, run as `kubectl ktail`), which help, usage and errors then name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    Ktail,
    KubectlPlugin,
}

impl Program {
    /// From the program name the process was started with (argv[0]).
    pub fn from_argv0(argv0: Option<&OsString>) -> Program {
        let stem = argv0
            .map(std::path::Path::new)
            .and_then(|p| p.file_stem())
            .and_then(|s| s.to_str());
        match stem {
            Some("kubectl-ktail") => Program::KubectlPlugin,
            _ => Program::Ktail,
        }
    }

    /// The name users type: `ktail` or `kubectl ktail`.
    pub fn name(self) -> &'static str {
        match self {
            Program::Ktail => "ktail",
            Program::KubectlPlugin => "kubectl ktail",
        }
    }
}

/// The whole command line interface: the flags of [`Args`], ktail's own commands, and
/// the program's name. Help, usage, completion and the man page all come from it.
pub fn command(program: Program) -> clap::Command {
    command_with(program, true)
}

/// [`command`], with ktail's own commands or without them: a command line whose first
/// argument names none is parsed without, so that a stray word is "unexpected", not a
/// command in the wrong place.
pub fn command_with(program: Program, builtins: bool) -> clap::Command {
    use clap::{CommandFactory, Subcommand};
    let name = program.name();
    let mut cmd = Args::command().after_help(format!(
        "A pod regex spelled like a command goes after --: `{name} -- demo`."
    ));
    if builtins {
        cmd = Builtin::augment_subcommands(cmd)
            // A command is only the first argument: after a flag, `demo` is a QUERY.
            .args_conflicts_with_subcommands(true)
            // `ktail help` is a QUERY; `--help` is the help.
            .disable_help_subcommand(true)
            .subcommand_help_heading("Commands")
            .subcommand_value_name("COMMAND");
    }
    match program {
        Program::Ktail => cmd,
        Program::KubectlPlugin => cmd.name("kubectl-ktail").bin_name(name).display_name(name),
    }
}

/// What the command line asks for: a run ([`Args`]) or one of ktail's own commands.
#[derive(Debug, Clone)]
pub enum Parsed {
    Run(Box<Args>),
    Builtin(Builtin),
}

/// Parses a whole command line (program name first). clap's error carries `--help` and
/// `--version` too, which print to stdout and succeed; the help lists the commands.
pub fn parse(program: Program, argv: &[OsString]) -> Result<Parsed, clap::Error> {
    use clap::FromArgMatches;
    let builtin = matches!(Command::from_argv(argv.to_vec()), Command::Builtin(_));
    let mut cmd = command_with(program, builtin);
    let matches = match cmd.try_get_matches_from_mut(argv) {
        Ok(m) => m,
        // The same words, parsed with the commands, give the help that lists them.
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp && !builtin => {
            return Err(command(program)
                .try_get_matches_from(argv)
                .err()
                .unwrap_or(e));
        }
        Err(e) => return Err(e),
    };
    if builtin {
        return Builtin::from_arg_matches(&matches)
            .map(Parsed::Builtin)
            .map_err(|e| e.format(&mut cmd));
    }
    Args::from_arg_matches(&matches)
        .map(|a| Parsed::Run(Box::new(a)))
        .map_err(|e| e.format(&mut cmd))
}

/// clap's error as one line: what was wrong, with which value, and what to do.
pub fn clap_error_line(program: Program, e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let rendered = e.to_string();
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or_default();
    let mut msg = first.strip_prefix("error: ").unwrap_or(first).to_string();
    // "the following required arguments were not provided:" lists them below.
    if msg.ends_with(':') {
        let listed: Vec<&str> = lines
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        msg = format!("{msg} {}", listed.join(", "));
    }
    if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue)
        && !valid.is_empty()
    {
        msg.push_str(&format!(": use one of {}", valid.join(", ")));
    } else if let Some(ContextValue::String(s)) = e.get(ContextKind::SuggestedArg) {
        msg.push_str(&format!(" (did you mean '{s}'?)"));
    }
    format!("{msg}; see {} --help", program.name())
}

const SELECTION: &str = "Selection";
const FILTERING: &str = "Filtering";
const HISTORY: &str = "History";
const OUTPUT: &str = "Output";
const KUBERNETES: &str = "Kubernetes";
const CONFIG: &str = "Configuration";

/// Tail the logs of many Kubernetes pods and containers at once.
///
/// ktail watches the pods that match QUERY (a regular expression on the pod name) and/or a
/// label selector, follows every matching container, and starts and stops streams as pods
/// come and go. Lines are prefixed with their pod and container in stable colours; `+` and
/// `-` notices on stderr say when a container's stream starts and ends.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ktail",
    version = env!("KTAIL_VERSION"),
    about,
    long_about = None,
    max_term_width = 100
)]
pub struct Args {
    /// Pod name regex (unanchored), e.g. 'web-.*', or a resource: deploy/web, svc/api
    ///
    /// Every pod whose name contains a match is selected; use '^name$' for an exact name.
    /// KIND/NAME selects the pods of that object (pod, deploy, rs, sts, ds, job, svc, rc,
    /// in short, long or plural form) and keeps following it: if its selector changes, or
    /// it is deleted and created again, the pod set follows. Required unless --selector or
    /// --field-selector is given.
    #[arg(value_name = "QUERY", help_heading = SELECTION)]
    pub query: Option<String>,

    /// Label selector sent to the API server, e.g. 'app=web,tier!=db'
    #[arg(short = 'l', long = "selector", value_name = "SELECTOR", help_heading = SELECTION)]
    pub selector: Option<String>,

    /// Field selector sent to the API server, e.g. 'spec.nodeName=node-1'
    #[arg(long, value_name = "SELECTOR", help_heading = SELECTION)]
    pub field_selector: Option<String>,

    /// Namespace(s) to watch; repeat or separate with commas
    ///
    /// Defaults to the namespace of the kubeconfig context, else "default".
    #[arg(short = 'n', long = "namespace", value_name = "NAMESPACE", value_delimiter = ',', help_heading = SELECTION)]
    pub namespaces: Vec<String>,

    /// Watch pods in every namespace (overrides --namespace)
    #[arg(short = 'A', long, help_heading = SELECTION)]
    pub all_namespaces: bool,

    /// Watch every namespace whose name matches this regex, including ones created later
    #[arg(long, value_name = "REGEX", conflicts_with_all = ["namespaces", "all_namespaces"], help_heading = SELECTION)]
    pub namespace_regex: Option<String>,

    /// Watch every namespace with these labels (a label selector), including ones created later
    #[arg(long, value_name = "SELECTOR", conflicts_with_all = ["namespaces", "all_namespaces"], help_heading = SELECTION)]
    pub namespace_selector: Option<String>,

    /// Container name regex; only matching containers are tailed
    #[arg(short = 'c', long, value_name = "REGEX", default_value = ".*", help_heading = SELECTION)]
    pub container: String,

    /// Container name regex to skip; repeatable
    #[arg(short = 'E', long, value_name = "REGEX", help_heading = SELECTION)]
    pub exclude_container: Vec<String>,

    /// Pod name regex to skip; repeatable
    #[arg(long, value_name = "REGEX", help_heading = SELECTION)]
    pub exclude_pod: Vec<String>,

    /// Only pods on this node (sent to the API server as spec.nodeName)
    #[arg(long, value_name = "NODE", help_heading = SELECTION)]
    pub node: Option<String>,

    /// Only pods with this condition, e.g. 'Ready=false' (value defaults to true)
    ///
    /// Names: ContainersReady, Initialized, Ready, PodScheduled, DisruptionTarget,
    /// PodReadyToStartContainers (any case). A pod that stops matching has its streams
    /// ended. Needs --tail 0 or --no-follow, as in stern.
    #[arg(long, value_name = "NAME[=VALUE]", help_heading = SELECTION)]
    pub condition: Option<String>,

    /// Container states to tail: running, waiting, terminated, all; repeat or comma list
    ///
    /// Applies to the containers that exist when ktail starts; containers that start later
    /// are always tailed.
    #[arg(long, value_name = "STATE", value_delimiter = ',', default_value = "all", help_heading = SELECTION)]
    pub container_state: Vec<String>,

    /// Tail init containers too
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, help_heading = SELECTION)]
    pub init_containers: bool,

    /// Tail ephemeral (debug) containers too
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set, help_heading = SELECTION)]
    pub ephemeral_containers: bool,

    /// Keep only lines whose message matches any of these regexes; repeatable
    #[arg(short = 'i', long, value_name = "REGEX", help_heading = FILTERING)]
    pub include: Vec<String>,

    /// Drop lines whose message matches any of these regexes; repeatable
    #[arg(short = 'e', long, value_name = "REGEX", help_heading = FILTERING)]
    pub exclude: Vec<String>,

    /// Colour matches of these regexes in the message, without filtering; repeatable
    #[arg(short = 'H', long, value_name = "REGEX", help_heading = FILTERING)]
    pub highlight: Vec<String>,

    /// Keep only lines at this level or above: trace, debug, info, warn, error, fatal
    ///
    /// The level is read from JSON lines (a top-level "level", "lvl" or "severity" key,
    /// a word or a bunyan number 10..60), logfmt lines (level=… or lvl=…) and klog
    /// headers (I/W/E/F). Synonyms are accepted (warning, err, critical, panic…). A line
    /// whose level cannot be found is always kept.
    #[arg(long, value_name = "LEVEL", value_enum, ignore_case = true, help_heading = FILTERING)]
    pub level: Option<MinLevel>,

    /// Only lines newer than this, e.g. 5s, 2m, 1h30m
    ///
    /// Applies to the containers that exist when ktail starts; a container that starts
    /// later is read from its first line.
    #[arg(short = 's', long, value_name = "DURATION", default_value = "48h", help_heading = HISTORY)]
    pub since: String,

    /// Only lines at or after this time (RFC3339, e.g. 2026-11-27T10:00:00Z); replaces --since
    #[arg(long, value_name = "TIME", conflicts_with = "since", help_heading = HISTORY)]
    pub since_time: Option<String>,

    /// Only lines up to this time: RFC3339 (2026-11-27T10:00:00Z) or a duration ago (5m)
    ///
    /// The end of the window that --since starts, by each line's API timestamp. A time in
    /// the past ends the run once the window is printed, as --no-follow does; a time in
    /// the future ends a follow run at that time, with exit 0.
    #[arg(long, value_name = "TIME|DURATION", help_heading = HISTORY)]
    pub until: Option<String>,

    /// Print the previous instance's log of every selected container that has one
    ///
    /// With --no-follow, only previous instances are printed; when following, each
    /// previous instance comes first, then the current one.
    #[arg(short = 'p', long, help_heading = HISTORY)]
    pub previous: bool,

    /// Lines from the end of each log to show first; -1 shows all
    ///
    /// Applies to the containers that exist when ktail starts; a container that starts
    /// later is read from its first line, so even --tail 0 loses none of its lines.
    #[arg(long, value_name = "N", default_value_t = -1, allow_negative_numbers = true, help_heading = HISTORY)]
    pub tail: i64,

    /// Print the logs that exist now and exit instead of following
    #[arg(long, help_heading = HISTORY)]
    pub no_follow: bool,

    /// Follow until the selection is done, then exit with its status (7 when it failed)
    ///
    /// For job/NAME and cronjob/NAME, done means the Job has completed or failed; pods the
    /// Job controller replaces are followed through their retries. For any other
    /// selection, every selected pod has succeeded, failed or been deleted, and at least
    /// one pod was seen. ktail exits once every container's log has been read to its end:
    /// 0 when the Job completed or every pod succeeded, 7 when it failed, with one line
    /// per failed container on stderr.
    #[arg(long, conflicts_with = "no_follow", help_heading = HISTORY)]
    pub until_done: bool,

    /// Print each line's timestamp: 'default' (RFC3339, nanoseconds) or 'short'
    #[arg(short = 't', long, value_name = "FORMAT", num_args = 0..=1, require_equals = true,
          default_missing_value = "default", help_heading = OUTPUT)]
    pub timestamps: Option<Timestamps>,

    /// Time zone for --timestamps, an IANA name such as 'Europe/Berlin' or 'UTC' (default: local)
    #[arg(long, value_name = "ZONE", help_heading = OUTPUT)]
    pub timezone: Option<String>,

    /// Output format
    #[arg(short = 'o', long, value_name = "FORMAT", value_enum, default_value_t = OutputFormat::Default, help_heading = OUTPUT)]
    pub output: OutputFormat,

    /// Render each line with this template (minijinja syntax), e.g. '{{ pod }} {{ message }}'
    ///
    /// Replaces --output. Fields: namespace, pod, container, node, message, timestamp,
    /// labels, annotations, pod_color, container_color; functions such as parse_json,
    /// try_parse_json, extract_json_parts, pretty_json, to_timestamp, color and
    /// level_color (see the README). A newline is added when the rendered text does not
    /// end with one; a line that renders empty prints nothing.
    #[arg(long, value_name = "TEMPLATE", help_heading = OUTPUT)]
    pub template: Option<String>,

    /// Read the --template from this file (wins over --template)
    #[arg(short = 'T', long, value_name = "FILE", value_hint = clap::ValueHint::FilePath, help_heading = OUTPUT)]
    pub template_file: Option<std::path::PathBuf>,

    /// Colour container names by their own name's hash instead of their pod's pair
    #[arg(short = 'd', long, help_heading = OUTPUT)]
    pub diff_container: bool,

    /// Colours for pod names: a comma list of SGR codes, e.g. '91,92,93' or '38;2;255;97;136'
    ///
    /// Replaces the built-in palette; the hash of a pod's name picks its entry.
    #[arg(long, value_name = "SGR,...", value_delimiter = ',', help_heading = OUTPUT)]
    pub pod_colors: Vec<String>,

    /// Colours for container names, like --pod-colors and as many (default: --pod-colors)
    #[arg(long, value_name = "SGR,...", value_delimiter = ',', help_heading = OUTPUT)]
    pub container_colors: Vec<String>,

    /// When to use colours
    ///
    /// 'auto' colours output that goes to a terminal, unless NO_COLOR is set or TERM is
    /// 'dumb'; CLICOLOR_FORCE=1 forces colours like 'always'.
    #[arg(long, value_name = "WHEN", value_enum, default_value_t = ColorChoice::Auto, help_heading = OUTPUT)]
    pub color: ColorChoice,

    /// Pass control characters and escape sequences in log lines to the terminal as they are
    ///
    /// By default, when stdout is a terminal, everything but colour (SGR) sequences, tab
    /// and newline is shown in caret notation (ESC as ^[), so a log line cannot move the
    /// cursor, clear the screen, set the title or plant hyperlinks. Output to a pipe or a
    /// file is always byte-exact.
    #[arg(long, help_heading = OUTPUT)]
    pub raw_escapes: bool,

    /// Also write each container's log to DIR/NAMESPACE/POD/CONTAINER.log
    ///
    /// A file holds what stdout shows for its container, without colours and, in the
    /// default format, without the pod and container names its path already gives, so
    /// it reads like 'kubectl logs'. A file is emptied when ktail first opens it; later
    /// instances of the container (restarts, --previous) are appended to it.
    #[arg(long, value_name = "DIR", value_hint = clap::ValueHint::DirPath, conflicts_with = "stdin", help_heading = OUTPUT)]
    pub output_dir: Option<std::path::PathBuf>,

    /// With --output-dir: write log lines only to the files, not to stdout
    #[arg(long, requires = "output_dir", help_heading = OUTPUT)]
    pub files_only: bool,

    /// Print the lines of all containers in the order of their timestamps
    ///
    /// With --no-follow the order is exact: every container's log is requested at once
    /// (whatever --max-log-requests says) and the logs are merged as they are read. When
    /// following, a line is held until every streaming container has shown a later one,
    /// and at most --sort-window. Lines of one time keep their container's order. The
    /// order is that of the API timestamps (the kubelet's clock), with or without -t;
    /// notices and warnings on stderr are not held.
    #[arg(long, conflicts_with_all = ["stdin", "files_only"], help_heading = OUTPUT)]
    pub sort: bool,

    /// With --sort while following: how long a line may wait for earlier lines, 10ms to 10s
    ///
    /// A line that arrives later than this allows (its container was slower than the
    /// window) is printed at once, out of order, and counted on stderr.
    #[arg(long, value_name = "DURATION", default_value = "500ms", requires = "sort", help_heading = OUTPUT)]
    pub sort_window: String,

    /// Print only log lines: no notices on stderr (warnings and --until-done's failures are still shown)
    #[arg(long, help_heading = OUTPUT)]
    pub only_log_lines: bool,

    /// Also print the Kubernetes events of the selected pods, in the output: 'warning' or 'all'
    ///
    /// Events (core/v1) whose object is a selected pod are printed with the pod's prefix
    /// and an [TYPE REASON] marker, in order with the log lines as they arrive; in -o json
    /// they carry an "event" object that log lines never have. 'warning' (the default
    /// value) shows Warning events (Unhealthy, BackOff, Failed, FailedScheduling,
    /// Evicted…); 'all' adds Normal ones (Scheduled, Pulled, Started, Killing…). Events
    /// older than --since are not shown, and an event whose count goes up is shown again
    /// with its new count.
    #[arg(long, value_name = "TYPES", value_enum, num_args = 0..=1, require_equals = true,
          default_missing_value = "warning", help_heading = OUTPUT)]
    pub events: Option<EventTypes>,

    /// Read lines from standard input instead of a cluster, and filter and format them
    #[arg(long, help_heading = FILTERING)]
    pub stdin: bool,

    /// Re-open a follow stream that has delivered nothing for this long; 0 never does
    ///
    /// A connection behind a proxy or load balancer can die without closing; ktail then
    /// resumes the stream from where it was, printing nothing twice.
    #[arg(long, value_name = "DURATION", default_value = "5m", help_heading = KUBERNETES)]
    pub silence_timeout: String,

    /// Maximum number of log streams open at once; -1 means 50 when following, 5 with --no-follow
    ///
    /// Containers beyond the limit wait in a queue until a stream ends; ktail never exits
    /// because of the limit.
    #[arg(long, value_name = "N", default_value_t = -1, allow_negative_numbers = true, help_heading = KUBERNETES)]
    pub max_log_requests: i64,

    /// Kubeconfig context to use (default: the current context); repeat it or give a
    /// comma list to follow several clusters at once
    ///
    /// With more than one context, every line, notice and --output-dir path says which
    /// context it came from; a context that cannot be reached is a warning and the others
    /// stream on.
    #[arg(long, value_name = "NAME", value_delimiter = ',', help_heading = KUBERNETES)]
    pub context: Vec<String>,

    /// Follow every kubeconfig context whose name matches this regex
    #[arg(long, value_name = "REGEX", conflicts_with = "context", help_heading = KUBERNETES)]
    pub context_regex: Option<String>,

    /// Path to the kubeconfig file (default: $KUBECONFIG, else ~/.kube/config)
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath, help_heading = KUBERNETES)]
    pub kubeconfig: Option<std::path::PathBuf>,

    /// Username to impersonate for the operation, as kubectl --as
    ///
    /// Sent as the Impersonate-User header; the kubeconfig's user must be allowed to
    /// impersonate. Overrides the kubeconfig user's `as`.
    #[arg(long = "as", value_name = "USER", help_heading = KUBERNETES)]
    pub as_user: Option<String>,

    /// Group to impersonate for the operation, with --as; repeatable, as kubectl --as-group
    ///
    /// Sent as Impersonate-Group headers.
    #[arg(long = "as-group", value_name = "GROUP", requires = "as_user", help_heading = KUBERNETES)]
    pub as_group: Vec<String>,

    /// Read default flag values from this TOML file (env: KTAIL_CONFIG)
    ///
    /// Default: $XDG_CONFIG_HOME/ktail/config.toml, else ~/.config/ktail/config.toml;
    /// a missing default file is ignored. Keys are long flag names (tail = 10,
    /// namespace = ["a", "b"]); flags on the command line win.
    #[arg(long, value_name = "FILE", value_hint = clap::ValueHint::FilePath, help_heading = CONFIG)]
    pub config: Option<std::path::PathBuf>,
}

/// `--output`: how each line is rendered on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `pod container message`, coloured per pod
    Default,
    /// The message alone
    Raw,
    /// One JSON object per line with stern's keys
    Json,
    /// `{"pod": …, "container": …, "message": …}`, the message embedded when it is JSON
    Extjson,
    /// extjson over several lines, indented
    Ppextjson,
}

/// `--level`: the least severe level printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum MinLevel {
    Trace,
    Debug,
    #[value(alias = "information", alias = "notice")]
    Info,
    #[value(alias = "warning")]
    Warn,
    #[value(alias = "err")]
    Error,
    #[value(
        alias = "critical",
        alias = "crit",
        alias = "panic",
        alias = "dpanic",
        alias = "alert",
        alias = "emergency"
    )]
    Fatal,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// `--events[=TYPES]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EventTypes {
    /// Warning events only
    Warning,
    /// Normal and Warning events
    All,
}

/// `--timestamps[=FORMAT]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Timestamps {
    /// 2006-01-02T15:04:05.000000000+01:00, in --timezone
    Default,
    /// 01-02 15:04:05
    Short,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(argv: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("ktail").chain(argv.iter().copied())).unwrap()
    }

    #[test]
    fn command_is_consistent() {
        Args::command().debug_assert();
        command(Program::Ktail).debug_assert();
        command(Program::KubectlPlugin).debug_assert();
    }

    #[test]
    fn subcommands_leave_a_pod_query_of_the_same_name_reachable() {
        let argv = |words: &[&str]| words.iter().map(OsString::from).collect::<Vec<_>>();
        let parsed = |words: &[&str]| crate::cli::parse(Program::Ktail, &argv(words));
        let builtin = |words: &[&str]| match parsed(words) {
            Ok(Parsed::Builtin(b)) => b,
            other => panic!("{words:?}: {other:?}"),
        };
        assert_eq!(
            builtin(&["ktail", "demo", "-l", "app=web"]),
            Builtin::Demo {
                args: argv(&["-l", "app=web"])
            }
        );
        assert_eq!(builtin(&["ktail", "man"]), Builtin::Man);
        assert_eq!(
            builtin(&["ktail", "completions", "zsh"]),
            Builtin::Completions {
                shell: clap_complete::Shell::Zsh
            }
        );
        for words in [
            &["ktail", "--", "demo"][..],
            &["ktail", "-n", "prod", "demo"],
            &["ktail", "--no-follow", "completions"],
            &["ktail", "help"],
        ] {
            let Ok(Parsed::Run(args)) = parsed(words) else {
                panic!("{words:?} is a run");
            };
            assert_eq!(args.query.as_deref(), words.last().copied(), "{words:?}");
        }
        // A stray word is unexpected, not a command in the wrong place.
        let e = parsed(&["ktail", "web", "man"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
    }

    #[test]
    fn the_kubectl_plugin_is_named_as_kubectl_runs_it() {
        for (argv0, program) in [
            ("ktail", Program::Ktail),
            ("/usr/local/bin/ktail", Program::Ktail),
            ("/home/u/.krew/bin/kubectl-ktail", Program::KubectlPlugin),
            ("kubectl-ktail.exe", Program::KubectlPlugin),
        ] {
            assert_eq!(Program::from_argv0(Some(&OsString::from(argv0))), program);
        }
        let mut cmd = command(Program::KubectlPlugin);
        let usage = cmd.render_usage().to_string();
        assert!(usage.contains("kubectl ktail [OPTIONS] [QUERY]"), "{usage}");
        let e = crate::cli::parse(
            Program::KubectlPlugin,
            &[OsString::from("kubectl-ktail"), OsString::from("--bogus")],
        )
        .unwrap_err();
        assert_eq!(
            clap_error_line(Program::KubectlPlugin, &e),
            "unexpected argument '--bogus' found; see kubectl ktail --help"
        );
    }

    #[test]
    fn namespaces_repeat_and_split_on_commas() {
        let a = parse(&["x", "-n", "a,b", "--namespace", "c"]);
        assert_eq!(a.namespaces, ["a", "b", "c"]);
    }

    #[test]
    fn stern_defaults() {
        let a = parse(&["x"]);
        assert_eq!(a.since, "48h");
        assert_eq!(a.tail, -1);
        assert_eq!(a.max_log_requests, -1);
        assert_eq!(a.container, ".*");
        assert_eq!(a.output, OutputFormat::Default);
        assert_eq!(a.color, ColorChoice::Auto);
        assert!(a.init_containers && a.ephemeral_containers);
        assert_eq!(a.timestamps, None);
        assert_eq!(a.container_state, ["all"]);
        assert!(!a.previous && !a.stdin);
    }

    #[test]
    fn since_and_since_time_conflict() {
        assert!(
            Args::try_parse_from(["ktail", "x", "--since-time", "2026-01-01T00:00:00Z"]).is_ok()
        );
        assert!(
            Args::try_parse_from([
                "ktail",
                "x",
                "-s",
                "5m",
                "--since-time",
                "2026-01-01T00:00:00Z"
            ])
            .is_err()
        );
    }

    #[test]
    fn container_state_list() {
        assert_eq!(
            parse(&[
                "x",
                "--container-state",
                "running,waiting",
                "--container-state",
                "terminated"
            ])
            .container_state,
            ["running", "waiting", "terminated"]
        );
    }

    #[test]
    fn timestamps_take_an_optional_value_after_equals() {
        assert_eq!(parse(&["x", "-t"]).timestamps, Some(Timestamps::Default));
        assert_eq!(
            parse(&["x", "--timestamps=short"]).timestamps,
            Some(Timestamps::Short)
        );
        // A bare -t does not swallow the query that follows it.
        let a = parse(&["-t", "web"]);
        assert_eq!(a.query.as_deref(), Some("web"));
    }

    #[test]
    fn negative_numbers_are_values() {
        assert_eq!(parse(&["x", "--tail", "-1"]).tail, -1);
        assert_eq!(parse(&["x", "--tail", "10"]).tail, 10);
    }

    #[test]
    fn boolean_switches_take_values() {
        let a = parse(&[
            "x",
            "--init-containers=false",
            "--ephemeral-containers",
            "false",
        ]);
        assert!(!a.init_containers && !a.ephemeral_containers);
    }

    #[test]
    fn level_takes_synonyms_in_any_case() {
        assert_eq!(
            parse(&["x", "--level", "WARNING"]).level,
            Some(MinLevel::Warn)
        );
        assert_eq!(parse(&["x", "--level", "err"]).level, Some(MinLevel::Error));
        assert_eq!(
            parse(&["x", "--level", "critical"]).level,
            Some(MinLevel::Fatal)
        );
        assert_eq!(parse(&["x"]).level, None);
        assert!(Args::try_parse_from(["ktail", "x", "--level", "loud"]).is_err());
        assert!(MinLevel::Debug < MinLevel::Warn);
    }

    #[test]
    fn output_templates_and_colours() {
        let a = parse(&[
            "x",
            "-o",
            "ppextjson",
            "-T",
            "t.j2",
            "--template",
            "{{ pod }}",
            "-d",
            "--pod-colors",
            "91,38;2;1;2;3",
            "--container-colors",
            "31",
            "--container-colors",
            "32",
        ]);
        assert_eq!(a.output, OutputFormat::Ppextjson);
        assert_eq!(
            a.template_file.as_deref(),
            Some(std::path::Path::new("t.j2"))
        );
        assert_eq!(a.template.as_deref(), Some("{{ pod }}"));
        assert!(a.diff_container);
        assert_eq!(a.pod_colors, ["91", "38;2;1;2;3"]);
        assert_eq!(a.container_colors, ["31", "32"]);
        assert_eq!(parse(&["x", "-o", "extjson"]).output, OutputFormat::Extjson);
        assert_eq!(
            parse(&["x", "--config", "k.toml"]).config.as_deref(),
            Some(std::path::Path::new("k.toml"))
        );
    }

    #[test]
    fn repeatable_regex_flags_collect() {
        let a = parse(&["x", "-E", "istio", "-E", "linkerd", "-i", "a", "-e", "b"]);
        assert_eq!(a.exclude_container, ["istio", "linkerd"]);
        assert_eq!(a.include, ["a"]);
        assert_eq!(a.exclude, ["b"]);
    }
}
