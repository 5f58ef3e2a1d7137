//! What the command line means: `Settings::resolve` turns `cli::Args` into one settings
//! value per consumer (`KubeSource`, `PodQuery`, `Selection`, `TailSettings`,
//! `RenderSettings`, `OutputSettings`), with no clap type past this point.
//!
//! This is the only reader of `Args`. It compiles every regex once, parses durations and
//! times, decides colours from the flag, the environment and whether the streams are
//! terminals, parses templates, and validates combinations. It does no network I/O and
//! reads nothing from the process itself: the environment comes in as an `Env` value, so
//! tests need no process.

mod history;
mod parse;
mod render;
mod selection;

use crate::cli::{Args, Env, EventTypes};
use crate::error::{Error, Result};
use crate::kube::client::KubeSource;
use crate::kube::query::{EventFilter, PodQuery};
use crate::kube::target::Selection;
use std::time::Duration;

use crate::output::OutputSettings;
use crate::output::merge::Order;
use crate::render::format::RenderSettings;
use crate::tail::TailSettings;

/// Where the lines come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// The pods of a cluster.
    Cluster,
    /// Standard input (`--stdin`): no cluster.
    Stdin,
}

/// Everything a run needs, validated: one part per consumer.
#[derive(Debug, Clone)]
pub struct Settings {
    pub(crate) input: Input,
    pub(crate) kube: KubeSource,
    pub(crate) query: PodQuery,
    pub(crate) selection: Selection,
    pub(crate) tail: TailSettings,
    pub(crate) render: RenderSettings,
    pub(crate) output: OutputSettings,
}

impl Settings {
    /// Whether the run follows its logs (not `--no-follow`): it then spends its life
    /// waiting for lines rather than reading them as fast as it can.
    pub fn follows(&self) -> bool {
        self.tail.follow
    }

    /// The meaning of `args` in the environment `env`, or the one-line reason it has none.
    pub fn resolve(args: &Args, env: &Env) -> Result<Settings> {
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
        let (mut query, selection) = selection::resolve(args, env.now)?;
        let filter = render::filter(args)?;
        let mut tail = history::resolve(args, env, &selection, filter)?;
        let sort = sort_order(args, tail.follow)?;
        if sort == Some(Order::Exact) {
            // An exact merge waits for a line of every container: all must stream at once.
            tail.max_log_requests = tokio::sync::Semaphore::MAX_PERMITS;
        }
        query.events = args.events.map(|types| {
            let now = jiff::Timestamp::from_second(env.now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            let since = tail.since_time.unwrap_or_else(|| {
                jiff::SignedDuration::try_from(tail.since)
                    .ok()
                    .and_then(|d| now.checked_sub(d).ok())
                    .unwrap_or(jiff::Timestamp::MIN)
            });
            EventFilter {
                warnings_only: types == EventTypes::Warning,
                since,
            }
        });
        let show_namespace = !args.stdin && query.namespaces.spans_namespaces();
        let render = render::resolve(args, env, show_namespace)?;
        let output = OutputSettings {
            stdout: !args.files_only,
            dir: args.output_dir.clone(),
            color_stderr: render.color_stderr,
            sanitize: env.stdout_is_terminal && !args.raw_escapes,
            sort,
        };
        let kube = kube_source(args, env)?;
        Ok(Settings {
            input: if args.stdin {
                Input::Stdin
            } else {
                Input::Cluster
            },
            kube,
            query,
            selection,
            tail,
            render,
            output,
        })
    }
}

/// Which clusters `args` reach, in the environment `env`.
fn kube_source(args: &Args, env: &Env) -> Result<KubeSource> {
    Ok(KubeSource {
        kubeconfig: args.kubeconfig.clone(),
        kubeconfig_env: env.var("KUBECONFIG").map(str::to_string),
        home: env.var("HOME").filter(|h| !h.is_empty()).map(Into::into),
        contexts: dedup(args.context.iter().filter(|c| !c.is_empty()).cloned()),
        context_regex: args
            .context_regex
            .as_deref()
            .map(|r| parse::compile("--context-regex", r))
            .transpose()?,
        impersonate: parse::non_empty(&args.as_user),
        impersonate_groups: args.as_group.clone(),
    })
}

/// What shell completion needs of a command line that is still being typed: the
/// clusters it reaches, and the pods it selects (query, selectors, namespaces). Checks
/// only what these need; no network I/O.
pub(crate) fn for_completion(args: &Args, env: &Env) -> Result<(KubeSource, PodQuery, Selection)> {
    let (query, selection) = selection::resolve(args, env.now)?;
    Ok((kube_source(args, env)?, query, selection))
}

/// The longest and shortest `--sort-window`: a line is held at most 10 s, and less than
/// 10 ms would order nothing.
const SORT_WINDOW: std::ops::RangeInclusive<Duration> =
    Duration::from_millis(10)..=Duration::from_secs(10);

/// `--sort`: exact with `--no-follow`, within a window when following.
fn sort_order(args: &Args, follow: bool) -> Result<Option<Order>> {
    if !args.sort {
        return Ok(None);
    }
    let window = parse::parse_duration("--sort-window", &args.sort_window)?;
    if !SORT_WINDOW.contains(&window) {
        return Err(Error::usage(format!(
            "--sort-window {} is out of range: give a duration from 10ms to 10s (default 500ms)",
            args.sort_window.trim()
        )));
    }
    Ok(Some(match follow {
        true => Order::Window(window),
        false => Order::Exact,
    }))
}

/// The values in their first order, each once.
fn dedup(values: impl Iterator<Item = String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    values.filter(|v| seen.insert(v.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::query::NamespaceScope;
    use crate::kube::target::StateSet;
    use crate::render::color::Palette;
    use clap::Parser;
    use std::time::Duration;

    fn args(argv: &[&str]) -> Args {
        Args::try_parse_from(std::iter::once("ktail").chain(argv.iter().copied())).unwrap()
    }

    fn resolve(argv: &[&str]) -> Result<Settings> {
        Settings::resolve(&args(argv), &Env::default())
    }

    fn env(vars: &[(&str, &str)], tty: bool) -> Env {
        Env {
            vars: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            stdout_is_terminal: tty,
            stderr_is_terminal: tty,
            ..Env::default()
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
            resolve(&["x"]).unwrap().tail.since,
            Duration::from_secs(48 * 3600)
        );
        assert_eq!(
            resolve(&["x", "-s", "1h30m"]).unwrap().tail.since,
            Duration::from_secs(5400)
        );
        let err = resolve(&["x", "--since", "soon"]).unwrap_err();
        assert!(err.to_string().contains("--since 'soon'"), "{err}");
    }

    #[test]
    fn max_log_requests_defaults_depend_on_follow() {
        assert_eq!(resolve(&["x"]).unwrap().tail.max_log_requests, 50);
        assert_eq!(
            resolve(&["x", "--no-follow"])
                .unwrap()
                .tail
                .max_log_requests,
            5
        );
        assert_eq!(
            resolve(&["x", "--max-log-requests", "7"])
                .unwrap()
                .tail
                .max_log_requests,
            7
        );
        assert!(resolve(&["x", "--max-log-requests", "0"]).is_err());
    }

    #[test]
    fn sort_is_exact_with_every_stream_at_once_without_follow_and_windowed_with_it() {
        let c = resolve(&["x", "--sort", "--no-follow", "--max-log-requests", "3"]).unwrap();
        assert_eq!(c.output.sort, Some(Order::Exact));
        assert_eq!(
            c.tail.max_log_requests,
            tokio::sync::Semaphore::MAX_PERMITS,
            "an exact merge needs a line of every container"
        );
        let c = resolve(&["x", "--sort"]).unwrap();
        assert_eq!(
            c.output.sort,
            Some(Order::Window(Duration::from_millis(500)))
        );
        assert_eq!(c.tail.max_log_requests, 50, "following keeps the limit");
        let c = resolve(&["x", "--sort", "--sort-window", "1s"]).unwrap();
        assert_eq!(c.output.sort, Some(Order::Window(Duration::from_secs(1))));
        assert_eq!(resolve(&["x"]).unwrap().output.sort, None);
        for bad in ["5ms", "11s", "0s", "soon"] {
            assert!(
                resolve(&["x", "--sort", "--sort-window", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn no_follow_with_tail_zero_is_refused() {
        assert!(resolve(&["x", "--no-follow", "--tail", "0"]).is_err());
        assert!(resolve(&["x", "--tail", "0"]).is_ok());
    }

    #[test]
    fn namespaces() {
        assert_eq!(
            resolve(&["x"]).unwrap().query.namespaces,
            NamespaceScope::ContextDefault
        );
        assert_eq!(
            resolve(&["x", "-n", "a,b,a"]).unwrap().query.namespaces,
            NamespaceScope::Listed(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            resolve(&["x", "-n", "a", "-A"]).unwrap().query.namespaces,
            NamespaceScope::All
        );
    }

    #[test]
    fn colour_decision() {
        let a = args(&["x"]);
        let c = |vars: &[(&str, &str)], tty| {
            Settings::resolve(&a, &env(vars, tty)).unwrap().render.color
        };
        assert!(c(&[], true));
        assert!(!c(&[], false));
        assert!(!c(&[("NO_COLOR", "1")], true));
        assert!(!c(&[("TERM", "dumb")], true));
        assert!(c(&[("CLICOLOR_FORCE", "1")], false));
        let always = Settings::resolve(
            &args(&["x", "--color", "always"]),
            &env(&[("NO_COLOR", "1")], false),
        );
        assert!(always.unwrap().render.color);
        let never = Settings::resolve(&args(&["x", "--color", "never"]), &env(&[], true));
        assert!(!never.unwrap().render.color);
    }

    #[test]
    fn node_joins_the_field_selector() {
        let c = resolve(&["--node", "n1"]).unwrap();
        assert_eq!(c.query.field_selector.as_deref(), Some("spec.nodeName=n1"));
        let c = resolve(&["--field-selector", "status.phase=Running", "--node", "n1"]).unwrap();
        assert_eq!(
            c.query.field_selector.as_deref(),
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
    fn until_ends_the_window() {
        let at = |argv: &[&str]| {
            let env = Env {
                now: 1_800_000_000,
                ..Env::default()
            };
            Settings::resolve(&args(argv), &env)
        };
        let c = at(&["x", "--until", "2027-01-15T09:00:00Z"]).unwrap();
        assert_eq!(c.tail.until.unwrap().to_string(), "2027-01-15T09:00:00Z");
        assert!(c.tail.follow, "a time in the future ends a follow run then");
        let c = at(&["x", "--until", "5m"]).unwrap();
        assert_eq!(c.tail.until.unwrap().as_second(), 1_800_000_000 - 300);
        assert!(
            !c.tail.follow,
            "a window that has ended is printed like --no-follow"
        );
        assert_eq!(c.tail.max_log_requests, 5);
        for (bad, says) in [
            (&["x", "--until", "soon"][..], "invalid --until 'soon'"),
            (&["x", "--until", "3d"], "before --since 48h"),
            (
                &["x", "--since-time", "2027-01-15T08:00:00Z", "--until", "1h"],
                "before --since-time",
            ),
            (&["x", "--until-done", "--until", "1m"], "--until-done"),
        ] {
            let err = at(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
            assert!(err.to_string().contains(says), "{bad:?}: {err}");
        }
        let err = Args::try_parse_from(["ktail", "x", "--until-done", "--no-follow"]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("--until-done") && text.contains("--no-follow"),
            "{text}"
        );
    }

    #[test]
    fn since_time_and_timezone() {
        let c = resolve(&["x", "--since-time", "2026-11-27T10:00:00+01:00"]).unwrap();
        assert_eq!(
            c.tail.since_time.unwrap().to_string(),
            "2026-11-27T09:00:00Z"
        );
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
        let h = c.render.highlight.unwrap();
        assert!(h.is_match(b"an err") && h.is_match(b"a warn"));
        assert!(resolve(&["x"]).unwrap().render.highlight.is_none());
        assert!(resolve(&["x", "-H", "("]).is_err());
    }

    #[test]
    fn resource_queries() {
        let c = resolve(&["deploy/web"]).unwrap();
        assert_eq!(c.query.resource.unwrap().name, "web");
        assert!(c.selection.pod_query.is_none());
        let c = resolve(&["pod/db-0", "--field-selector", "status.phase=Running"]).unwrap();
        assert!(c.query.resource.is_none());
        assert_eq!(
            c.query.field_selector.as_deref(),
            Some("status.phase=Running,metadata.name=db-0")
        );
        assert!(resolve(&["deploy/web", "-l", "app=web"]).is_err());
        assert_eq!(resolve(&["configmap/x"]).unwrap_err().exit_code(), 2);
        assert!(resolve(&["cj/nightly"]).is_ok());
        // Followed objects across all namespaces are found by a namespace watch.
        assert_eq!(
            resolve(&["deploy/web", "-A"]).unwrap().query.namespaces,
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
            matches!(&c.query.namespaces, NamespaceScope::Pattern { regex: Some(r), labels: None } if r.as_str() == "^team-")
        );
        let c = resolve(&["x", "--namespace-selector", "env=prod"]).unwrap();
        assert!(
            matches!(&c.query.namespaces, NamespaceScope::Pattern { regex: None, labels: Some(l) } if l == "env=prod")
        );
        assert!(resolve(&["x", "--namespace-regex", "("]).is_err());
        assert!(Args::try_parse_from(["ktail", "x", "-n", "a", "--namespace-regex", "b"]).is_err());
    }

    #[test]
    fn stdin_needs_no_selector() {
        assert_eq!(resolve(&["--stdin"]).unwrap().input, Input::Stdin);
    }

    #[test]
    fn line_filter_follows_stern() {
        let c = resolve(&["x", "-i", "GET", "-i", "POST", "-e", "healthz"]).unwrap();
        assert!(c.tail.filter.keeps(b"GET /api"));
        assert!(c.tail.filter.keeps(b"POST /api"));
        assert!(!c.tail.filter.keeps(b"GET /healthz"));
        assert!(!c.tail.filter.keeps(b"DELETE /api"));
        let c = resolve(&["x"]).unwrap();
        assert!(c.tail.filter.keeps(b"anything"));
        // Not UTF-8: patterns still apply to the bytes around it.
        let c = resolve(&["x", "-i", "GET"]).unwrap();
        assert!(c.tail.filter.keeps(b"\xff GET"));
    }

    #[test]
    fn level_filter_keeps_lines_without_a_level() {
        let c = resolve(&["x", "--level", "warn"]).unwrap();
        assert!(c.tail.filter.keeps(br#"{"level":"error"}"#));
        assert!(c.tail.filter.keeps(b"level=warn x"));
        assert!(!c.tail.filter.keeps(br#"{"level":"info"}"#));
        assert!(!c.tail.filter.keeps(b"lvl=debug"));
        assert!(c.tail.filter.keeps(b"no level here"));
        // Include and exclude still apply first.
        let c = resolve(&["x", "--level", "warn", "-e", "noisy"]).unwrap();
        assert!(!c.tail.filter.keeps(b"level=error noisy"));
    }

    #[test]
    fn colour_lists_follow_stern() {
        let p = resolve(&["x", "--pod-colors", "91, 92", "--container-colors", "31,32"])
            .unwrap()
            .render
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
            .render
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
            cfg.output.dir.as_deref(),
            Some(std::path::Path::new("logs"))
        );
        assert!(!cfg.output.stdout, "--files-only");
        assert!(
            resolve(&["x", "--output-dir", "logs"])
                .unwrap()
                .output
                .stdout
        );
    }

    #[test]
    fn templates_are_compiled_at_resolve() {
        assert!(
            resolve(&["x", "--template", "{{ pod }}"])
                .unwrap()
                .render
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
                let cfg = Settings::resolve(&args, &Env::default()).unwrap();
                let excluded = excludes.iter().any(|p| line.contains(p.as_str()));
                let included = includes.is_empty() || includes.iter().any(|p| line.contains(p.as_str()));
                prop_assert_eq!(cfg.tail.filter.keeps(line.as_bytes()), !excluded && included);
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
                let cfg = Settings::resolve(&Args::try_parse_from(argv).unwrap(), &Env::default()).unwrap();
                let labels = Default::default();
                let mut f = cfg.render.target(&crate::render::Origin {
                    context: "", namespace: "n", pod: "abc", container: "c", node: "",
                    labels: &labels, annotations: &labels, previous: false,
                });
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
