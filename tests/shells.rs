//! Completion as a user meets it: the scripts `ktail completions SHELL` prints, loaded
//! into real bash, zsh and fish, asked for candidates the way each shell asks at TAB,
//! against a simulated cluster.
//!
//! bash: the registered function is called with `COMP_WORDS`/`COMP_CWORD` set, as
//! readline calls it, and `COMPREPLY` is printed. fish: `complete --do-complete`, fish's
//! own completion of a command line. zsh: the registered function is called with
//! `words`/`CURRENT` set, with `compdef` and `_describe` (compsys functions that need a
//! terminal) standing in to print what would be offered. All three shells are required:
//! `.ci/run` installs zsh and fish.

use std::path::{Path, PathBuf};

use kube_sim::{ContainerSpec, WorkloadSpec};

use crate::util::{Cluster, TIMEOUT, ktail_command, run, running_pod, sim_wait};

#[derive(Clone, Copy, Debug)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

impl Shell {
    fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
        }
    }
}

/// A directory with the completion scripts ktail prints, and PATH with ktail first.
pub struct Scripts {
    dir: tempfile::TempDir,
}

impl Scripts {
    pub async fn new() -> Scripts {
        let dir = tempfile::tempdir().unwrap();
        for shell in SHELLS {
            let mut cmd = ktail_command(dir.path());
            cmd.args(["completions", shell.name()]);
            let out = run(cmd).await;
            assert_eq!(out.code, Some(0), "{}", out.stderr);
            assert!(
                out.stdout.contains("COMPLETE=") || out.stdout.contains("COMPLETE\""),
                "{} script calls ktail back: {}",
                shell.name(),
                out.stdout
            );
            std::fs::write(dir.path().join(shell.name()), out.stdout).unwrap();
        }
        Scripts { dir }
    }

    /// What `shell` offers at TAB after `words` (the last is the word being typed), with
    /// `KUBECONFIG=kubeconfig`; the shell's stdout and stderr.
    pub async fn offer(
        &self,
        shell: Shell,
        kubeconfig: &Path,
        words: &[&str],
    ) -> (Vec<String>, String) {
        let script = self.dir.path().join(shell.name());
        let mut cmd = tokio::process::Command::new(shell.name());
        match shell {
            Shell::Bash => {
                cmd.args([
                    "--norc",
                    "--noprofile",
                    "-c",
                    r#"source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_TYPE=9
                       _clap_complete_ktail ktail "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                       printf '%s\n' "${COMPREPLY[@]}""#,
                    "bash",
                ]);
                cmd.arg(&script).args(words);
            }
            Shell::Zsh => {
                cmd.args([
                    "-f",
                    "-c",
                    r#"compdef() { : }; _describe() { print -rl -- ${(P)3} }
                       source "$1"; shift; words=("$@"); CURRENT=$#
                       _clap_dynamic_completer_ktail"#,
                    "zsh",
                ]);
                cmd.arg(&script).args(words);
            }
            Shell::Fish => {
                cmd.args([
                    "--no-config",
                    "-c",
                    "source $argv[1]; complete --do-complete $argv[2]",
                ]);
                cmd.arg(&script).arg(words.join(" "));
            }
        }
        let path = format!(
            "{}:{}",
            ktail_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        cmd.env_clear()
            .env("HOME", self.dir.path())
            .env("PATH", path)
            .env("KUBECONFIG", kubeconfig)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let out = tokio::time::timeout(TIMEOUT, cmd.output())
            .await
            .expect("the shell answers in time")
            .unwrap_or_else(|e| panic!("{} runs (.ci/run installs it): {e}", shell.name()));
        assert!(out.status.success(), "{}: {:?}", shell.name(), out);
        let offered = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            // fish shows a description after a tab, zsh after a colon.
            .map(|l| match shell {
                Shell::Zsh => l.split(':').next(),
                _ => l.split('\t').next(),
            })
            .map(|v| v.unwrap_or_default().to_string())
            .collect();
        (offered, String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The directory of the ktail binary under test, first on the shells' PATH.
pub fn ktail_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_ktail"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A kubeconfig whose one context reaches `server` with a token.
pub fn kubeconfig_for(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster:\n    server: {server}\n\
         contexts:\n- name: x\n  context:\n    cluster: x\n    user: u\ncurrent-context: x\n\
         users:\n- name: u\n  user:\n    token: t\n"
    )
}

/// A cluster with namespace `shop` (deployments `web` and `api`), and a kubeconfig with
/// two contexts on it, `sim` (namespace `shop`, current) and `staging`.
async fn shop() -> Cluster {
    let c = Cluster::start().await;
    c.sim.create_namespace("shop");
    for (name, containers) in [("web", &["app", "sidecar"][..]), ("api", &["server"])] {
        let mut spec = WorkloadSpec::new(name, 1).label("app", name);
        for container in containers {
            spec = spec.container(ContainerSpec::new(container).rate(1.0));
        }
        c.sim.create_deployment("shop", spec);
    }
    sim_wait(&c.sim, "two pods running in shop", |s| {
        let pods = s.pod_names("shop");
        pods.len() == 2 && pods.iter().all(|p| running_pod(s, "shop", p).is_some())
    })
    .await;
    let kubeconfig = c.sim.kubeconfig_in("shop").replace(
        "contexts:\n",
        "contexts:\n- name: staging\n  context:\n    cluster: sim\n    user: sim-user\n",
    );
    std::fs::write(&c.kubeconfig, kubeconfig).unwrap();
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn every_shell_completes_namespaces_contexts_objects_and_containers_from_the_cluster() {
    let c = shop().await;
    let scripts = Scripts::new().await;
    let pods = c.sim.pod_names("shop");
    for shell in SHELLS {
        let offer = async |words: &[&str]| {
            let (offered, stderr) = scripts.offer(shell, &c.kubeconfig, words).await;
            assert!(stderr.is_empty(), "{shell:?} {words:?}: {stderr}");
            offered
        };
        let namespaces = offer(&["ktail", "-n", ""]).await;
        for ns in ["default", "kube-system", "shop"] {
            assert!(
                namespaces.iter().any(|n| n == ns),
                "{shell:?}: {namespaces:?}"
            );
        }
        assert_eq!(offer(&["ktail", "-n", "sh"]).await, ["shop"], "{shell:?}");
        assert_eq!(
            offer(&["ktail", "--context", ""]).await,
            ["sim", "staging"],
            "{shell:?}"
        );
        assert_eq!(
            offer(&["ktail", "deploy/"]).await,
            ["deploy/api", "deploy/web"],
            "{shell:?}"
        );
        assert_eq!(
            offer(&["ktail", "-n", "default", "deploy/"]).await,
            Vec::<String>::new(),
            "{shell:?}: no deployment in default"
        );
        assert_eq!(
            offer(&["ktail", "-n", "shop", "-c", ""]).await,
            ["app", "server", "sidecar"],
            "{shell:?}"
        );
        assert_eq!(
            offer(&["ktail", "deploy/web", "-c", ""]).await,
            ["app", "sidecar"],
            "{shell:?}: the containers of the pods the line selects"
        );
        assert_eq!(
            offer(&["ktail", "--node", ""]).await,
            ["node-1", "node-2"],
            "{shell:?}"
        );
        // A bare QUERY: commands, kinds and pod names (zsh shows `deploy/` as `deploy`,
        // completed with its slash).
        let bare = offer(&["ktail", ""]).await;
        for want in ["demo", "completions", "man", "sts", "svc"]
            .into_iter()
            .map(String::from)
            .chain(pods.iter().cloned())
        {
            assert!(
                bare.iter().any(|o| o.trim_end_matches('/') == want),
                "{shell:?}: {want} in {bare:?}"
            );
        }
        // Fixed value sets.
        assert_eq!(
            offer(&["ktail", "-o", ""]).await,
            ["default", "raw", "json", "extjson", "ppextjson"],
            "{shell:?}"
        );
        assert_eq!(
            offer(&["ktail", "--color", "n"]).await,
            ["never"],
            "{shell:?}"
        );
        assert_eq!(
            offer(&["ktail", "--container-state", ""]).await,
            ["running", "waiting", "terminated", "all"],
            "{shell:?}"
        );
        let levels = offer(&["ktail", "--level", ""]).await;
        assert!(
            levels.starts_with(&["trace".to_string(), "debug".to_string()]),
            "{shell:?}: {levels:?}"
        );
        // After a flag, a command name is a namespace or a QUERY, never a command.
        assert_eq!(
            offer(&["ktail", "-n", "shop", "dem"]).await,
            Vec::<String>::new(),
            "{shell:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn completion_without_a_cluster_offers_nothing_and_says_nothing() {
    let scripts = Scripts::new().await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-kubeconfig");
    let refused = dir.path().join("refused");
    std::fs::write(&refused, kubeconfig_for("http://127.0.0.1:1")).unwrap();
    for shell in SHELLS {
        for kubeconfig in [&missing, &refused] {
            for words in [
                &["ktail", "-n", ""][..],
                &["ktail", "deploy/"],
                &["ktail", "-c", ""],
            ] {
                let (offered, stderr) = scripts.offer(shell, kubeconfig, words).await;
                assert!(
                    offered.is_empty() && stderr.is_empty(),
                    "{shell:?} {words:?} with {}: {offered:?} {stderr}",
                    kubeconfig.display()
                );
            }
        }
    }
}
