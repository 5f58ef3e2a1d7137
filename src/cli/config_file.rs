//! The config file: default flag values read from TOML before the command line is parsed.
//!
//! The file is `--config FILE`, else `$KTAIL_CONFIG`, else
//! `$XDG_CONFIG_HOME/ktail/config.toml` (or `~/.config/ktail/config.toml`). Its keys are
//! long flag names (`tail = 10`, `namespace = ["a", "b"]`, `timestamps = "short"`,
//! `context = "prod"`). Each setting becomes a `--key=value` argument placed before the
//! real ones, so clap validates file values exactly like typed ones, and every flag works
//! in the file, `context` and `kubeconfig` included (stern applies its file too late for
//! those). A setting is dropped when the command line gives the same flag, or one that
//! conflicts with it: the command line wins, and repeatable flags are replaced, not
//! extended. The environment variables that stand for a flag (`NO_COLOR` and
//! `CLICOLOR_FORCE` for `color`, `KUBECONFIG` for `kubeconfig`) beat the file too. This module reads one file and nothing else; it must not give the settings
//! meaning, which is `config`'s work.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, CommandFactory};

use crate::cli::Args;
use crate::cli::Env;
use crate::error::{Error, Result};

/// The environment variable that names the config file.
pub(crate) const CONFIG_ENV: &str = "KTAIL_CONFIG";

/// Environment variables that speak for a flag: when one is set, the file's value of that
/// flag is dropped, so the order is file < environment < command line.
const ENV_FOR_FLAG: [(&str, &str); 3] = [
    ("color", "NO_COLOR"),
    ("color", "CLICOLOR_FORCE"),
    ("kubeconfig", "KUBECONFIG"),
];

/// Keys that are long flags but make no sense in a file.
const NOT_SETTINGS: [&str; 3] = ["config", "help", "version"];

/// `argv` with the config file's settings inserted after the program name.
pub fn with_config_file(argv: Vec<OsString>, env: &Env) -> Result<Vec<OsString>> {
    let mut cmd = Args::command();
    cmd.build();
    // A command line clap rejects (or --help, --version) is left for the real parse to
    // report; the file cannot change that.
    let Ok(matches) = cmd.clone().try_get_matches_from(&argv) else {
        return Ok(argv);
    };
    let (path, explicit) = match matches.get_one::<PathBuf>("config") {
        Some(p) => (p.clone(), true),
        None => match env.vars.get(CONFIG_ENV).filter(|v| !v.is_empty()) {
            Some(p) => (PathBuf::from(p), true),
            None => match default_path(env) {
                Some(p) => (p, false),
                None => return Ok(argv),
            },
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(argv),
        Err(e) => {
            return Err(Error::usage(format!(
                "cannot read config file '{}': {e}",
                path.display()
            )));
        }
    };
    let settings = parse(&text, &path, &cmd)?;
    // Values clap rejects are reported against the file, not the command line.
    let alone = argv
        .first()
        .cloned()
        .into_iter()
        .chain(settings.iter().flat_map(|(_, v)| v.iter().cloned()));
    if let Err(e) = cmd.clone().try_get_matches_from(alone) {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        return Err(Error::usage(format!(
            "invalid setting in config file '{}': {}",
            path.display(),
            first.strip_prefix("error: ").unwrap_or(first)
        )));
    }

    // What the command line (or the environment) set wins over the file.
    let given: Vec<&clap::Arg> = cmd
        .get_arguments()
        .filter(|a| {
            matches!(
                matches.value_source(a.get_id().as_str()),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        })
        .collect();
    let from_env = |arg: &clap::Arg| {
        ENV_FOR_FLAG.iter().any(|(flag, var)| {
            arg.get_long() == Some(flag)
                && env
                    .vars
                    .get(*var)
                    .is_some_and(|v| !(v.is_empty() || *var == "CLICOLOR_FORCE" && v == "0"))
        })
    };
    let overridden = |arg: &clap::Arg| {
        from_env(arg)
            || given.iter().any(|g| {
                g.get_id() == arg.get_id()
                    || cmd
                        .get_arg_conflicts_with(arg)
                        .iter()
                        .any(|c| c.get_id() == g.get_id())
                    || cmd
                        .get_arg_conflicts_with(g)
                        .iter()
                        .any(|c| c.get_id() == arg.get_id())
            })
    };
    let mut out = Vec::with_capacity(argv.len() + settings.len());
    out.extend(argv.first().cloned());
    for (arg, values) in settings {
        if !overridden(arg) {
            out.extend(values);
        }
    }
    out.extend(argv.into_iter().skip(1));
    Ok(out)
}

/// `$XDG_CONFIG_HOME/ktail/config.toml`, else `$HOME/.config/ktail/config.toml`.
pub(crate) fn default_path(env: &Env) -> Option<PathBuf> {
    let var = |name: &str| env.vars.get(name).filter(|v| !v.is_empty());
    // The XDG spec ignores a relative XDG_CONFIG_HOME.
    let base = match var("XDG_CONFIG_HOME").map(PathBuf::from) {
        Some(p) if p.is_absolute() => p,
        _ => Path::new(var("HOME")?).join(".config"),
    };
    Some(base.join("ktail").join("config.toml"))
}

/// The file's settings as arguments, per flag (in key order: each flag is given once, so
/// the order does not matter).
fn parse<'c>(
    text: &str,
    path: &Path,
    cmd: &'c clap::Command,
) -> Result<Vec<(&'c clap::Arg, Vec<OsString>)>> {
    let file = path.display();
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
        // toml says where, on its first line: "TOML parse error at line 2, column 14".
        let shown = e.to_string();
        let at = shown
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("TOML parse error"))
            .unwrap_or_default();
        Error::usage(format!(
            "invalid TOML in config file '{file}'{at}: {}",
            e.message().trim()
        ))
    })?;
    let mut settings = Vec::new();
    for (key, value) in &table {
        if NOT_SETTINGS.contains(&key.as_str()) {
            return Err(Error::usage(format!(
                "'{key}' cannot be set in config file '{file}'"
            )));
        }
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()));
        let Some(arg) = arg else {
            let hint = match cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(&key.replace('_', "-")))
            {
                Some(a) => format!("did you mean '{}'?", a.get_long().unwrap_or_default()),
                None => "keys are long flag names such as 'tail' or 'namespace'".to_string(),
            };
            return Err(Error::usage(format!(
                "unknown key '{key}' in config file '{file}': {hint}"
            )));
        };
        let flag = format!("--{key}");
        let bad = |what: &str| {
            Error::usage(format!(
                "invalid value for '{key}' in config file '{file}': {what}"
            ))
        };
        let scalar = |v: &toml::Value| -> Result<String> {
            Ok(match v {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => return Err(bad("give a string, number or boolean")),
            })
        };
        let args: Vec<OsString> = match (arg.get_action(), value) {
            (ArgAction::SetTrue, toml::Value::Boolean(true)) => vec![flag.into()],
            (ArgAction::SetTrue, toml::Value::Boolean(false)) => vec![],
            (ArgAction::SetTrue, _) => return Err(bad("give true or false")),
            (ArgAction::Append, toml::Value::Array(items)) => items
                .iter()
                .map(|v| Ok(format!("{flag}={}", scalar(v)?).into()))
                .collect::<Result<_>>()?,
            (_, toml::Value::Array(_)) => return Err(bad("give one value, not a list")),
            // A flag with an optional value (--timestamps): true is the bare flag.
            (_, toml::Value::Boolean(b))
                if arg.get_num_args().is_some_and(|n| n.min_values() == 0) =>
            {
                if *b {
                    vec![flag.into()]
                } else {
                    vec![]
                }
            }
            (_, v) => vec![format!("{flag}={}", scalar(v)?).into()],
        };
        settings.push((arg, args));
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(tempfile::TempDir);

    impl Dir {
        fn new() -> Dir {
            Dir(tempfile::tempdir().unwrap())
        }
        fn file(&self, name: &str, text: &str) -> String {
            let p = self.0.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            p.display().to_string()
        }
        fn env(&self, vars: &[(&str, &str)]) -> Env {
            let mut vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            vars.push(("HOME".into(), self.0.path().display().to_string()));
            Env {
                vars: vars.into_iter().collect(),
                ..Env::default()
            }
        }
    }

    fn expand(argv: &[&str], env: &Env) -> Result<Vec<String>> {
        let argv = std::iter::once("ktail")
            .chain(argv.iter().copied())
            .map(OsString::from)
            .collect();
        with_config_file(argv, env)
            .map(|v| v.into_iter().map(|a| a.into_string().unwrap()).collect())
    }

    #[test]
    fn settings_become_arguments_before_the_command_line() {
        let d = Dir::new();
        d.file(
            ".config/ktail/config.toml",
            r#"
tail = 10
namespace = ["a", "b"]
timestamps = "short"
context = "prod"
no-follow = true
all-namespaces = false
init-containers = false
"#,
        );
        let argv = expand(&["web"], &d.env(&[])).unwrap();
        assert_eq!(
            argv,
            [
                "ktail",
                "--context=prod",
                "--init-containers=false",
                "--namespace=a",
                "--namespace=b",
                "--no-follow",
                "--tail=10",
                "--timestamps=short",
                "web"
            ]
            .map(String::from)
        );
    }

    #[test]
    fn the_command_line_replaces_settings_and_their_conflicts() {
        let d = Dir::new();
        d.file(
            ".config/ktail/config.toml",
            "namespace = [\"a\"]\ntail = 10\nsince-time = \"2026-01-01T00:00:00Z\"\n",
        );
        let argv = expand(&["web", "-n", "c", "--since", "5m"], &d.env(&[])).unwrap();
        assert_eq!(
            argv,
            ["ktail", "--tail=10", "web", "-n", "c", "--since", "5m"].map(String::from)
        );
    }

    #[test]
    fn environment_variables_beat_the_file() {
        let d = Dir::new();
        d.file(
            ".config/ktail/config.toml",
            "color = \"always\"\nkubeconfig = \"/file/kubeconfig\"\n",
        );
        let all = [
            "ktail",
            "--color=always",
            "--kubeconfig=/file/kubeconfig",
            "x",
        ];
        assert_eq!(expand(&["x"], &d.env(&[])).unwrap(), all);
        assert_eq!(
            expand(&["x"], &d.env(&[("NO_COLOR", "1"), ("KUBECONFIG", "/env")])).unwrap(),
            ["ktail", "x"]
        );
        assert_eq!(
            expand(&["x"], &d.env(&[("CLICOLOR_FORCE", "0"), ("NO_COLOR", "")])).unwrap(),
            all
        );
    }

    #[test]
    fn which_file() {
        let d = Dir::new();
        d.file(".config/ktail/config.toml", "tail = 1\n");
        let env_file = d.file("env.toml", "tail = 2\n");
        let flag_file = d.file("flag.toml", "tail = 3\n");
        let xdg = d.file("xdg/ktail/config.toml", "tail = 4\n");
        let xdg_dir = Path::new(&xdg).parent().unwrap().parent().unwrap();
        let xdg_env = d.env(&[("XDG_CONFIG_HOME", xdg_dir.to_str().unwrap())]);
        assert!(
            expand(&["x"], &d.env(&[]))
                .unwrap()
                .contains(&"--tail=1".into())
        );
        assert!(
            expand(&["x"], &xdg_env)
                .unwrap()
                .contains(&"--tail=4".into())
        );
        let with_env = d.env(&[(CONFIG_ENV, &env_file)]);
        assert!(
            expand(&["x"], &with_env)
                .unwrap()
                .contains(&"--tail=2".into())
        );
        assert!(
            expand(&["x", "--config", &flag_file], &with_env)
                .unwrap()
                .contains(&"--tail=3".into())
        );
    }

    #[test]
    fn missing_files() {
        let d = Dir::new();
        // No default file: nothing changes.
        assert_eq!(expand(&["x"], &d.env(&[])).unwrap(), ["ktail", "x"]);
        // A file that was asked for must exist.
        let err = expand(&["x", "--config", "/nonexistent/k.toml"], &d.env(&[])).unwrap_err();
        assert!(err.to_string().contains("'/nonexistent/k.toml'"), "{err}");
        assert_eq!(err.exit_code(), 2);
        let err = expand(&["x"], &d.env(&[(CONFIG_ENV, "/nonexistent/e.toml")])).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/e.toml"), "{err}");
    }

    #[test]
    fn bad_files_name_the_key_and_the_file() {
        let d = Dir::new();
        let f = d.file("bad.toml", "tail = 1\ntails = 2\n");
        let err = expand(&["x", "--config", &f], &d.env(&[])).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("unknown key 'tails'") && msg.contains(&f),
            "{msg}"
        );
        let f = d.file("under.toml", "max_log_requests = 2\n");
        let msg = expand(&["x", "--config", &f], &d.env(&[]))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("did you mean 'max-log-requests'"), "{msg}");
        let f = d.file("syntax.toml", "tail = 1\nnamespace = [\n");
        let msg = expand(&["x", "--config", &f], &d.env(&[]))
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("invalid TOML") && msg.contains("line 2"),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
        for bad in [
            "tail = [1, 2]",
            "no-follow = \"yes\"",
            "tail = { a = 1 }",
            "config = \"x\"",
            "tail = \"many\"",
            "output = \"yaml\"",
        ] {
            let f = d.file("v.toml", bad);
            let err = expand(&["x", "--config", &f], &d.env(&[])).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
            let msg = err.to_string();
            assert!(msg.contains(&f) && !msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn flags_with_an_optional_value_take_booleans() {
        let d = Dir::new();
        let f = d.file("t.toml", "timestamps = true\n");
        let argv = expand(&["x", "--config", &f], &d.env(&[])).unwrap();
        assert!(argv.contains(&"--timestamps".to_string()), "{argv:?}");
    }
}
