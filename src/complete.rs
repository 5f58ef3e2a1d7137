//! Shell completion that knows the cluster: the answer to `COMPLETE=SHELL ktail -- WORDS…`,
//! the call the scripts of `ktail completions SHELL` make at each TAB.
//!
//! clap_complete's dynamic engine walks the command line and asks this module for the
//! values of the flags that name things in a cluster: `-n` (namespaces), `--context`
//! (the kubeconfig's contexts, read from files only), `--node`, QUERY (`KIND/` prefixes,
//! then the objects of that kind; pod names for a bare query) and `-c`/`-E` (the
//! containers of the pods the line selects so far). Everything else it completes from the
//! flags themselves (fixed value sets, file paths, commands).
//!
//! A completion must never hang a shell or write into its command line: every request to
//! the cluster shares one deadline, [`TIME_LIMIT`] after start, past which the candidates
//! are simply none, and stderr is closed for a completion request, so nothing a library
//! or a credential plugin says can reach the terminal. This module reads the process
//! (arguments, environment) because it stands in for `main` when a shell asks.

use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{CommandFactory, FromArgMatches};
use clap_complete::engine::{ArgValueCandidates, ArgValueCompleter, CompletionCandidate};
use clap_complete::env::CompleteEnv;

use crate::cli::{self, Args, BUILTINS, COMPLETE_VAR, Env, Program};
use crate::kube::client::{self, Cluster, KubeSource};
use crate::kube::query::{Kind, NamespaceScope, PodQuery};
use crate::kube::target::{Selection, pod_matches};
use crate::kube::{names, objects};

/// How long a completion request may take in all, cluster requests included.
pub const TIME_LIMIT: Duration = Duration::from_secs(1);

/// The kinds offered as `KIND/` for a QUERY, in stern's short names (any name kubectl
/// accepts is completed once typed).
const QUERY_KINDS: [&str; 7] = ["deploy/", "sts/", "ds/", "job/", "cj/", "svc/", "pod/"];

/// `--container-state` values (a comma list, so not an enumerated flag).
const CONTAINER_STATES: [&str; 4] = ["running", "waiting", "terminated", "all"];

/// Answers a shell's completion request and exits, when the process was started as one
/// (`COMPLETE` set); returns otherwise. With `COMPLETE` set and no words, prints the
/// registration script, as `ktail completions SHELL` does.
pub fn answer_if_asked() {
    let asked = std::env::var_os(COMPLETE_VAR).is_some_and(|v| !v.is_empty() && v != "0");
    if !asked {
        return;
    }
    let started = Instant::now();
    let argv: Vec<OsString> = std::env::args_os().collect();
    let words: Vec<OsString> = argv
        .iter()
        .skip_while(|a| *a != "--")
        .skip(1)
        .cloned()
        .collect();
    if !words.is_empty() {
        silence_stderr();
    }
    // bash, zsh and elvish say which word the cursor is in; fish and PowerShell cut the
    // line at the cursor, so it is the last.
    let index = std::env::var("_CLAP_COMPLETE_INDEX")
        .ok()
        .and_then(|i| i.parse().ok())
        .unwrap_or(words.len().saturating_sub(1));
    let line = Arc::new(Line::new(
        words,
        index,
        Env::from_process(),
        started + TIME_LIMIT,
    ));
    CompleteEnv::with_factory(move || completing_command(&line))
        .var(COMPLETE_VAR)
        .bin("ktail")
        .complete();
}

/// Points stderr at /dev/null: a completion's only output is its candidates.
fn silence_stderr() {
    use std::os::fd::AsRawFd;
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 onto the process's own stderr descriptor with a descriptor we own.
        unsafe { libc::dup2(null.as_raw_fd(), 2) };
    }
}

/// The command the engine walks, with the cluster completers attached. ktail's own
/// commands are offered only as the first word: after it, a word such as `demo` is a
/// namespace or a QUERY, never a command, as when ktail runs.
fn completing_command(line: &Arc<Line>) -> clap::Command {
    let cmd = cli::command_with(Program::Ktail, line.offers_commands);
    let values = |f: fn(&Line, &str) -> Vec<String>| {
        let line = line.clone();
        ArgValueCompleter::new(move |current: &OsStr| {
            let current = current.to_string_lossy();
            f(&line, &current)
                .into_iter()
                .filter(|v| v.starts_with(current.as_ref()))
                .map(CompletionCandidate::new)
                .collect::<Vec<_>>()
        })
    };
    cmd.mut_arg("namespaces", |a| a.add(values(Line::namespaces)))
        .mut_arg("context", |a| a.add(values(Line::contexts)))
        .mut_arg("node", |a| a.add(values(Line::nodes)))
        .mut_arg("query", |a| a.add(values(Line::query)))
        .mut_arg("container", |a| a.add(values(Line::containers)))
        .mut_arg("exclude_container", |a| a.add(values(Line::containers)))
        .mut_arg("container_state", |a| {
            a.add(ArgValueCandidates::new(|| {
                CONTAINER_STATES.map(CompletionCandidate::new).into()
            }))
        })
}

/// The command line being completed, without the word under the cursor, and the time
/// by which candidates must be found.
struct Line {
    /// What the words say, when they parse as far as they go.
    args: Option<Args>,
    env: Env,
    deadline: Instant,
    offers_commands: bool,
}

impl Line {
    fn new(mut words: Vec<OsString>, index: usize, env: Env, deadline: Instant) -> Line {
        let offers_commands = index <= 1
            || words
                .get(1)
                .and_then(|w| w.to_str())
                .is_some_and(|w| BUILTINS.contains(&w));
        if index < words.len() {
            words.remove(index);
        }
        // The flag whose value is being typed (`-c <TAB>`) has none yet: without it, the
        // rest parses.
        let args = parse_partial(words.clone(), &env).or_else(|| {
            if (1..=words.len()).contains(&index) {
                words.remove(index - 1);
            }
            parse_partial(words, &env)
        });
        Line {
            args,
            env,
            deadline,
            offers_commands,
        }
    }

    /// The clusters, query and selection of the line; `None` when it names none usable
    /// (an invalid regex so far, say).
    fn resolved(&self) -> Option<(KubeSource, PodQuery, Selection)> {
        let mut args = self.args.clone()?;
        // A QUERY being typed is not yet a query: `-c` and friends see every pod.
        args.query = args.query.filter(|q| !q.is_empty());
        crate::config::for_completion(&args, &self.env).ok()
    }

    /// Runs `ask` on the first cluster of the line, and returns its answer if it comes
    /// before the deadline, else nothing. The request goes on a thread of its own, so a
    /// credential plugin that blocks cannot hold the answer either.
    fn ask<F, Fut>(&self, ask: F) -> Vec<String>
    where
        F: FnOnce(Cluster, PodQuery, Selection) -> Fut + Send + 'static,
        Fut: Future<Output = Option<Vec<String>>>,
    {
        let Some((mut source, query, selection)) = self.resolved() else {
            return Vec::new();
        };
        source.contexts.truncate(1);
        source.context_regex = None;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            let answer = runtime.block_on(async move {
                let cluster = client::connect(&source).await.ok()?.into_iter().next()?;
                ask(cluster.ok()?, query, selection).await
            });
            let _ = tx.send(answer);
        });
        let left = self.deadline.saturating_duration_since(Instant::now());
        let mut names = rx.recv_timeout(left).ok().flatten().unwrap_or_default();
        names.sort();
        names.dedup();
        names
    }

    fn namespaces(&self, _current: &str) -> Vec<String> {
        self.ask(|cluster, _, _| async move { names::namespaces(&cluster.client).await.ok() })
    }

    fn nodes(&self, _current: &str) -> Vec<String> {
        self.ask(|cluster, _, _| async move { names::nodes(&cluster.client).await.ok() })
    }

    /// The kubeconfig's contexts: files only, no request.
    fn contexts(&self, _current: &str) -> Vec<String> {
        let mut names = self
            .resolved()
            .and_then(|(source, _, _)| client::context_names(&source).ok())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// `KIND/` and pod names for a bare word; `KIND/NAME` once a kind is typed.
    fn query(&self, current: &str) -> Vec<String> {
        if let Some((kind_word, _)) = current.split_once('/') {
            let Some(kind) = Kind::parse(kind_word) else {
                return Vec::new();
            };
            let prefix = format!("{kind_word}/");
            return self
                .ask(move |cluster, query, _| async move {
                    let mut found = Vec::new();
                    for ns in namespaces_of(&cluster, &query.namespaces) {
                        found.extend(
                            names::objects(&cluster.client, ns.as_deref(), kind)
                                .await
                                .ok()?,
                        );
                    }
                    Some(found)
                })
                .into_iter()
                .map(|name| format!("{prefix}{name}"))
                .collect();
        }
        let mut candidates: Vec<String> = QUERY_KINDS.iter().map(|k| k.to_string()).collect();
        candidates.extend(self.ask(|cluster, query, _| async move {
            let mut found = Vec::new();
            for ns in namespaces_of(&cluster, &query.namespaces) {
                let filter = query.base_filter();
                let pods = names::pods(&cluster.client, ns.as_deref(), &filter)
                    .await
                    .ok()?;
                found.extend(pods.into_iter().filter_map(|p| p.metadata.name));
            }
            Some(found)
        }));
        candidates
    }

    /// The containers of the pods the line selects: its QUERY (a regex or `KIND/NAME`),
    /// selectors and namespaces.
    fn containers(&self, _current: &str) -> Vec<String> {
        self.ask(|cluster, query, selection| async move {
            let mut found = Vec::new();
            for ns in namespaces_of(&cluster, &query.namespaces) {
                let filter = match &query.resource {
                    Some(rq) => {
                        let Some(ns) = ns.as_deref() else {
                            continue;
                        };
                        let base = query.base_filter();
                        objects::object_filter(&cluster.client, ns, rq, &base)
                            .await
                            .ok()?
                    }
                    None => Some(query.base_filter()),
                };
                let Some(filter) = filter else { continue };
                let pods = names::pods(&cluster.client, ns.as_deref(), &filter)
                    .await
                    .ok()?;
                for pod in pods.iter().filter(|p| pod_matches(p, &selection)) {
                    found.extend(names::containers(pod));
                }
            }
            Some(found)
        })
    }
}

/// What a partial command line says, as far as it parses. The config file's settings
/// count, as in a run (its context, its namespace).
fn parse_partial(words: Vec<OsString>, env: &Env) -> Option<Args> {
    let words = cli::with_config_file(words.clone(), env).unwrap_or(words);
    let matches = Args::command()
        .ignore_errors(true)
        .try_get_matches_from(words)
        .ok()?;
    Args::from_arg_matches(&matches).ok()
}

/// The namespaces a completion looks in: those the line names, the context's own, or
/// all (`None`) for `-A` and namespace patterns.
fn namespaces_of(cluster: &Cluster, scope: &NamespaceScope) -> Vec<Option<String>> {
    match scope {
        NamespaceScope::ContextDefault => vec![Some(cluster.default_namespace.clone())],
        NamespaceScope::Listed(names) => names.iter().cloned().map(Some).collect(),
        NamespaceScope::All | NamespaceScope::Pattern { .. } => vec![None],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(words: &[&str], index: usize) -> Line {
        let words = words.iter().map(OsString::from).collect();
        Line::new(words, index, Env::default(), Instant::now())
    }

    #[test]
    fn the_line_is_read_without_the_word_being_typed_or_its_flag() {
        let l = line(&["ktail", "web", "-n", "shop", "-c", ""], 5);
        let args = l.args.unwrap();
        assert_eq!(args.namespaces, ["shop"]);
        assert_eq!(args.query.as_deref(), Some("web"));
        // The flag whose value is typed is left out, with its partial value.
        let args = line(&["ktail", "--context", "prod", "-c", "ap"], 4)
            .args
            .unwrap();
        assert_eq!(
            (args.context, args.container),
            (vec!["prod".into()], ".*".into())
        );
        // Words after the cursor count too.
        let args = line(&["ktail", "deploy/", "-n", "shop"], 1).args.unwrap();
        assert_eq!((args.query, args.namespaces), (None, vec!["shop".into()]));
    }

    #[test]
    fn commands_are_offered_as_the_first_word_only() {
        assert!(line(&["ktail", ""], 1).offers_commands);
        assert!(line(&["ktail", "demo", "-"], 2).offers_commands);
        assert!(!line(&["ktail", "-n", "demo", ""], 3).offers_commands);
        assert!(!line(&["ktail", "web", ""], 2).offers_commands);
    }
}
