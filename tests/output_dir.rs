//! `--output-dir`: one file per container, beside stdout or instead of it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube_sim::{ContainerSpec, PodSpec};

use crate::util::{
    Cluster, TIMEOUT, assert_exactly_once, logging_pod, parse_generated, restart_and_log, run,
    sim_wait,
};

/// The (pod, container) pairs of `three_containers`.
const THREE: [(&str, &str); 3] = [("web-1", "app"), ("web-1", "sidecar"), ("web-2", "app")];

/// Two pods, three containers, five lines each, all written.
async fn three_containers(c: &Cluster) {
    c.sim.create_pod(
        "default",
        PodSpec::new("web-1")
            .container(ContainerSpec::new("app").backlog(5))
            .container(ContainerSpec::new("sidecar").backlog(5)),
    );
    c.sim.create_pod(
        "default",
        PodSpec::new("web-2").container(ContainerSpec::new("app").backlog(5)),
    );
    sim_wait(&c.sim, "three containers logged", |s| {
        THREE
            .iter()
            .all(|(p, ctr)| s.generated("default", p, ctr) == 5)
    })
    .await;
}

/// Where `--output-dir DIR` writes the lines of `pod`'s `container` in `default`.
fn log_file(dir: &Path, pod: &str, container: &str) -> PathBuf {
    dir.join("default")
        .join(pod)
        .join(format!("{container}.log"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Waits until the file at `path` satisfies `cond`.
async fn wait_for_file(path: &Path, what: &str, cond: impl Fn(&str) -> bool) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tick.tick().await;
        if cond(&std::fs::read_to_string(path).unwrap_or_default()) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {}: {what}",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_container_gets_a_file_that_reads_like_kubectl_logs() {
    let c = Cluster::start_tls().await;
    three_containers(&c).await;
    let dir = c.path("logs");
    // A file left by an earlier run is replaced, not appended to.
    let stale = dir.join("default/web-1/app.log");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, "an earlier run\n").unwrap();

    let out = c
        .run(&[
            "web",
            "--no-follow",
            "--color",
            "always",
            "--output-dir",
            dir.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // stdout is unchanged: every line, prefixed and coloured.
    assert_eq!(out.lines().len(), 15, "{}", out.stdout);
    let (pod_sgr, _) = ktail::color_pair("web-2");
    assert!(
        out.stdout.contains(&format!("\x1b[{pod_sgr}mweb-2\x1b[0m")),
        "{}",
        out.stdout
    );

    for (pod, container) in THREE {
        let file = log_file(&dir, pod, container);
        let got = read(&file);
        let want = run(c.kubectl(&["logs", pod, "-c", container])).await;
        assert_eq!(want.code, Some(0), "kubectl: {}", want.stderr);
        assert_eq!(
            got,
            want.stdout,
            "{} differs from kubectl logs",
            file.display()
        );
        assert_eq!(got.lines().count(), 5);
        assert!(!got.contains('\x1b'), "no colour in files: {got:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn files_only_keeps_stdout_empty_and_files_keep_the_output_format() {
    let c = Cluster::start().await;
    three_containers(&c).await;
    let dir = c.path("logs");
    let out = c
        .run(&[
            "web",
            "--no-follow",
            "-o",
            "json",
            "--color",
            "always",
            "--files-only",
            "--output-dir",
            dir.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "", "--files-only writes nothing to stdout");
    for (pod, container) in THREE {
        let text = read(&log_file(&dir, pod, container));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        for (seq, line) in lines.iter().enumerate() {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON record");
            assert_eq!(v["podName"], pod);
            assert_eq!(v["containerName"], container);
            let g = parse_generated(v["message"].as_str().unwrap()).unwrap();
            assert_eq!((g.pod.as_str(), g.seq), (pod, seq as u64));
        }
    }
    // The notices still say what was followed (coloured: --color always).
    let sgr = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
    let notices = sgr.replace_all(&out.stderr, "");
    assert!(notices.contains("+ web-2 › app"), "{notices}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_renders_into_files_without_colour() {
    let c = Cluster::start().await;
    three_containers(&c).await;
    let dir = c.path("logs");
    let out = c
        .run(&[
            "web-2",
            "--no-follow",
            "--color",
            "always",
            "--template",
            "{{ color(pod_color, pod) }}: {{ message }}",
            "--output-dir",
            dir.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let (pod_sgr, _) = ktail::color_pair("web-2");
    assert!(
        out.lines()
            .iter()
            .all(|l| l.starts_with(&format!("\x1b[{pod_sgr}mweb-2\x1b[0m: pod=web-2"))),
        "{}",
        out.stdout
    );
    let text = read(&dir.join("default/web-2/app.log"));
    assert_eq!(text.lines().count(), 5);
    assert!(
        text.lines().all(|l| l.starts_with("web-2: pod=web-2 ")),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_container_continues_its_file() {
    let c = Cluster::start().await;
    logging_pod(&c.sim, "worker", "main", 50, 100.0, 80).await;
    let dir = c.path("logs");
    let file = dir.join("default/worker/main.log");
    let k = c.spawn(&[
        "worker",
        "-t",
        "--files-only",
        "--output-dir",
        dir.to_str().unwrap(),
    ]);
    wait_for_file(&file, "100 lines of the first instance", |t| {
        t.lines().count() >= 100
    })
    .await;
    let before = restart_and_log(&c.sim, "default", "worker", "main", 50).await;
    wait_for_file(&file, "lines of the new instance", |t| {
        t.lines().count() as u64 >= before
    })
    .await;
    let text = read(&file);
    let mut seqs = Vec::new();
    for line in text.lines() {
        // `-t` keeps the timestamp; the names are in the path.
        let (ts, msg) = line.split_once(' ').unwrap();
        assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{line:?}");
        let g = parse_generated(msg).unwrap_or_else(|| panic!("{line:?}"));
        assert_eq!(g.prefix, "", "{line:?}");
        seqs.push(g.seq);
    }
    assert_exactly_once("worker/main in its file", &seqs);
    assert!(k.stdout().is_empty(), "{:?}", k.stdout());
    // With -t the notices carry their time too.
    assert_eq!(
        k.stderr()
            .iter()
            .filter(|l| l
                .split_once(' ')
                .is_some_and(
                    |(ts, n)| ts.parse::<jiff::Timestamp>().is_ok() && n == "+ worker › main"
                ))
            .count(),
        2,
        "{:?}",
        k.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unusable_output_dir_is_one_error_line() {
    let c = Cluster::start().await;
    three_containers(&c).await;
    let not_a_dir = c.path("taken");
    std::fs::write(&not_a_dir, "a file").unwrap();
    let out = c
        .run(&[
            "web",
            "--no-follow",
            "--output-dir",
            not_a_dir.to_str().unwrap(),
        ])
        .await;
    out.assert_one_error_line(2, &format!("--output-dir '{}'", not_a_dir.display()));

    let out = c.run(&["web", "--no-follow", "--files-only"]).await;
    out.assert_one_error_line(2, "not provided: --output-dir <DIR>");

    let out = c.run(&["--stdin", "--output-dir", "logs"]).await;
    out.assert_one_error_line(2, "'--stdin' cannot be used with '--output-dir <DIR>'");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_cannot_be_written_ends_the_run_naming_it() {
    let c = Cluster::start().await;
    three_containers(&c).await;
    let dir: PathBuf = c.path("logs");
    std::fs::create_dir_all(&dir).unwrap();
    // The namespace's directory cannot be made: a file has its name.
    std::fs::write(dir.join("default"), "").unwrap();
    let out = c
        .run(&[
            "web",
            "--no-follow",
            "--files-only",
            "--output-dir",
            dir.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    let errors: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("ktail: "))
        .collect();
    assert_eq!(errors.len(), 1, "{}", out.stderr);
    assert!(
        errors[0].contains(&dir.join("default").display().to_string()),
        "{}",
        errors[0]
    );
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}
