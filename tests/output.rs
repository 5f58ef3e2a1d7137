//! Output formats, colours and pipes. How soon a closed pipe ends the run is in
//! `limits.rs`.

use kube_sim::{ContainerSpec, PodSpec};

use crate::util::{Cluster, pod_with_lines, sim_wait};

async fn one_pod(c: &Cluster, rate: f64) {
    c.sim.create_pod(
        "default",
        PodSpec::new("web-1")
            .label("app", "web")
            .container(ContainerSpec::new("app").backlog(5).rate(rate)),
    );
    sim_wait(&c.sim, "web-1 running", |s| {
        s.generated("default", "web-1", "app") >= 5
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_lines_carry_the_documented_keys() {
    let c = Cluster::start().await;
    one_pod(&c, 0.0).await;
    let out = c.run(&["web", "--no-follow", "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.lines().len(), 5);
    for (i, line) in out.lines().iter().enumerate() {
        let v: serde_json::Value = serde_json::from_str(line).expect("each line is JSON");
        assert_eq!(v["namespace"], "default");
        assert_eq!(v["podName"], "web-1");
        assert_eq!(v["containerName"], "app");
        assert_eq!(v["nodeName"], "node-1");
        assert_eq!(v["labels"]["app"], "web");
        let msg = v["message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!("pod=web-1 container=app seq={i} ")),
            "{msg}"
        );
        let ts = v["timestamp"].as_str().unwrap();
        assert!(
            ts.parse::<jiff::Timestamp>().is_ok() && ts.len() == 30,
            "{ts}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_prints_bare_messages_and_timestamps_prefix_them() {
    let c = Cluster::start().await;
    one_pod(&c, 0.0).await;
    let out = c.run(&["web", "--no-follow", "-o", "raw"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.lines().len(), 5);
    assert!(
        out.lines()
            .iter()
            .all(|l| l.starts_with("pod=web-1 container=app seq="))
    );
    let out = c.run(&["web", "--no-follow", "-t"]).await;
    for line in out.lines() {
        let (head, rest) = line.split_at("web-1 app ".len());
        assert_eq!(head, "web-1 app ");
        let (ts, msg) = rest.split_once(' ').unwrap();
        assert!(ts.parse::<jiff::Timestamp>().is_ok(), "{ts}");
        assert!(msg.starts_with("pod=web-1"), "{msg}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn color_always_paints_pod_and_container_in_the_pods_pair() {
    let c = Cluster::start().await;
    one_pod(&c, 0.0).await;
    let out = c.run(&["web", "--no-follow", "--color", "always"]).await;
    let (pod, container) = ktail::color_pair("web-1");
    let want = format!("\x1b[{pod}mweb-1\x1b[0m \x1b[{container}mapp\x1b[0m pod=web-1");
    assert!(
        out.lines().iter().all(|l| l.starts_with(&want)),
        "{:?}",
        out.lines()
    );
    assert!(
        out.stderr.contains("\x1b[1;92m+\x1b[0m"),
        "{:?}",
        out.stderr
    );
    // Not a terminal and no flag: no escape sequences at all.
    let out = c.run(&["web", "--no-follow"]).await;
    assert!(!out.stdout.contains('\x1b') && !out.stderr.contains('\x1b'));
    // --color always but NO_COLOR set: the flag wins; NO_COLOR alone with auto: none.
    let mut cmd = c.ktail(&["web", "--no-follow"]);
    cmd.env("NO_COLOR", "1").env("CLICOLOR_FORCE", "1");
    let out = crate::util::run(cmd).await;
    assert!(!out.stdout.contains('\x1b'));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_and_sigterm_exit_130_and_143_without_torn_lines() {
    for (sig, code) in [(libc::SIGINT, 130), (libc::SIGTERM, 143)] {
        let c = Cluster::start().await;
        one_pod(&c, 500.0).await;
        let mut k = c.spawn(&["web"]);
        k.wait_until("streaming", |out, _| out.len() > 20).await;
        k.signal(sig);
        assert_eq!(k.exit_code().await, Some(code));
        // The stream was cut, not printed to its end: no `-` notice.
        assert_eq!(k.stderr(), ["+ web-1 › app"]);
        for line in k.stdout() {
            assert!(
                crate::util::parse_generated(&line).is_some_and(|g| g.prefix == "web-1 app "),
                "torn: {line:?}"
            );
        }
    }
}

const MIXED: [&str; 7] = [
    r#"{"level":"debug","msg":"json debug"}"#,
    r#"{"level":"error","msg":"json error"}"#,
    r#"{"level":30,"msg":"bunyan info"}"#,
    "ts=1 level=warn msg=logfmt-warn",
    "lvl=info msg=logfmt-info",
    "plain line without a level",
    "E1127 10:00:00.000000       1 reflector.go:1] klog error",
];

/// Pipes `input` through `jq -c .`; jq must be installed (`.ci/run` installs it).
fn jq_compact(input: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("jq")
        .args(["-c", "."])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("jq is required for this test: apt-get install -y jq");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "jq rejected the output: {}\n{input}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn default_output_is_pod_container_message() {
    let c = Cluster::start().await;
    pod_with_lines(&c.sim, &["hello", "world"]).await;
    let out = c.run(&["web", "--no-follow"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.lines(), ["web-1 app hello", "web-1 app world"]);
    // Several namespaces: the namespace comes first.
    c.sim.create_namespace("other");
    let out = c.run(&["web", "--no-follow", "-n", "default,other"]).await;
    assert_eq!(
        out.lines(),
        ["default web-1 app hello", "default web-1 app world"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn json_and_extjson_pass_through_jq() {
    let c = Cluster::start().await;
    pod_with_lines(
        &c.sim,
        &[r#"{"level":"info","n":1}"#, "plain \"quoted\" text"],
    )
    .await;

    let out = c.run(&["web", "--no-follow", "-o", "json"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let compact = jq_compact(&out.stdout);
    let records: Vec<serde_json::Value> = compact
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["message"], r#"{"level":"info","n":1}"#);
    assert_eq!(records[1]["message"], "plain \"quoted\" text");
    for r in &records {
        let keys: Vec<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "annotations",
                "containerName",
                "labels",
                "message",
                "namespace",
                "nodeName",
                "podName",
                "timestamp"
            ],
            "the documented, stable key set"
        );
        assert_eq!(r["annotations"]["team"], "core");
        assert_eq!(r["labels"]["app"], "web");
    }

    let out = c.run(&["web", "--no-follow", "-o", "extjson"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.lines(),
        [
            r#"{"pod": "web-1", "container": "app", "message": {"level":"info","n":1}}"#,
            r#"{"pod": "web-1", "container": "app", "message": "plain \"quoted\" text"}"#,
        ]
    );
    assert_eq!(
        jq_compact(&out.stdout),
        "{\"pod\":\"web-1\",\"container\":\"app\",\"message\":{\"level\":\"info\",\"n\":1}}\n\
         {\"pod\":\"web-1\",\"container\":\"app\",\"message\":\"plain \\\"quoted\\\" text\"}\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ppextjson_is_indented_json() {
    let c = Cluster::start().await;
    pod_with_lines(&c.sim, &[r#"{"level":"info","tags":["a"]}"#, "plain"]).await;
    c.sim.create_namespace("x");
    let out = c
        .run(&["web", "--no-follow", "-o", "ppextjson", "-n", "default,x"])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        r#"{
  "namespace": "default",
  "pod": "web-1",
  "container": "app",
  "message": {
    "level": "info",
    "tags": [
      "a"
    ]
  }
}
{
  "namespace": "default",
  "pod": "web-1",
  "container": "app",
  "message": "plain"
}
"#
    );
    assert_eq!(jq_compact(&out.stdout).lines().count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn level_filters_json_logfmt_and_klog_lines_and_keeps_plain_ones() {
    let c = Cluster::start().await;
    pod_with_lines(&c.sim, &MIXED).await;
    let messages = |out: &crate::util::Output| {
        out.lines()
            .iter()
            .map(|l| l.strip_prefix("web-1 app ").unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let out = c.run(&["web", "--no-follow", "--level", "warn"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        messages(&out),
        [MIXED[1], MIXED[3], MIXED[5], MIXED[6]],
        "warn and above, and the line without a level"
    );
    let out = c.run(&["web", "--no-follow", "--level", "ERR"]).await;
    assert_eq!(messages(&out), [MIXED[1], MIXED[5], MIXED[6]]);
    let out = c.run(&["web", "--no-follow", "--level", "info"]).await;
    assert_eq!(messages(&out), MIXED[1..]);
    let out = c.run(&["web", "--no-follow", "--level", "loud"]).await;
    out.assert_one_error_line(2, "invalid value 'loud' for '--level <LEVEL>'");
}

#[tokio::test(flavor = "multi_thread")]
async fn colours_are_sterns_escape_sequences() {
    let c = Cluster::start().await;
    pod_with_lines(
        &c.sim,
        &[r#"{"level":"warn","msg":"w"}"#, "level=error x", "plain"],
    )
    .await;
    // FNV-1 of "web-1" picks stern's bright-yellow/yellow pair; of "app", magenta.
    let out = c.run(&["web", "--no-follow", "--color", "always"]).await;
    assert_eq!(
        out.lines(),
        [
            "\x1b[93mweb-1\x1b[0m \x1b[33mapp\x1b[0m {\"level\":\"\x1b[33mwarn\x1b[0m\",\"msg\":\"w\"}",
            "\x1b[93mweb-1\x1b[0m \x1b[33mapp\x1b[0m level=\x1b[31merror\x1b[0m x",
            "\x1b[93mweb-1\x1b[0m \x1b[33mapp\x1b[0m plain",
        ]
    );
    assert!(
        out.stderr
            .contains("\x1b[1;92m+\x1b[0m \x1b[93mweb-1\x1b[0m › \x1b[33mapp\x1b[0m"),
        "{:?}",
        out.stderr
    );
    // -d: the container's own hash picks its colour.
    let out = c
        .run(&[
            "web",
            "--no-follow",
            "--color",
            "always",
            "-d",
            "-o",
            "raw",
            "--template",
            "{{ color(pod_color, pod) }} {{ color(container_color, container) }}",
        ])
        .await;
    assert_eq!(out.lines()[0], "\x1b[93mweb-1\x1b[0m \x1b[35mapp\x1b[0m");
    // User lists, with the container list defaulting to the pod list.
    let out = c
        .run(&[
            "web",
            "--no-follow",
            "--color",
            "always",
            "--pod-colors",
            "38;2;255;97;136",
        ])
        .await;
    assert!(
        out.lines()[2] == "\x1b[38;2;255;97;136mweb-1\x1b[0m \x1b[38;2;255;97;136mapp\x1b[0m plain",
        "{:?}",
        out.lines()
    );
    let out = c
        .run(&[
            "web",
            "--no-follow",
            "--color",
            "always",
            "--pod-colors",
            "91",
            "--container-colors",
            "4;32",
        ])
        .await;
    assert_eq!(
        out.lines()[2],
        "\x1b[91mweb-1\x1b[0m \x1b[4;32mapp\x1b[0m plain"
    );
    // extjson paints names in place, as stern does.
    let out = c
        .run(&["web", "--no-follow", "--color", "always", "-o", "extjson"])
        .await;
    assert_eq!(
        out.lines()[2],
        "{\"pod\": \"\x1b[93mweb-1\x1b[0m\", \"container\": \"\x1b[33mapp\x1b[0m\", \"message\": \"plain\"}"
    );
    for (args, needle) in [
        (
            &["--pod-colors", "91,92", "--container-colors", "31"][..],
            "the same number",
        ),
        (&["--container-colors", "31"][..], "needs --pod-colors"),
        (
            &["--pod-colors", "red"][..],
            "invalid --pod-colors colour 'red'",
        ),
    ] {
        let mut argv = vec!["web", "--no-follow"];
        argv.extend_from_slice(args);
        c.run(&argv).await.assert_one_error_line(2, needle);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn never_and_no_color_mean_no_escape_sequence_anywhere() {
    let c = Cluster::start().await;
    pod_with_lines(&c.sim, &MIXED).await;
    for mode in ["default", "raw", "json", "extjson", "ppextjson"] {
        let never = c
            .run(&[
                "web",
                "--no-follow",
                "--color",
                "never",
                "-H",
                "error",
                "-o",
                mode,
            ])
            .await;
        let mut cmd = c.ktail(&["web", "--no-follow", "-H", "error", "-o", mode]);
        cmd.env("NO_COLOR", "1");
        let no_color = crate::util::run(cmd).await;
        for out in [never, no_color] {
            assert_eq!(out.code, Some(0), "{}", out.stderr);
            assert!(!out.stdout.is_empty());
            assert!(
                !out.stdout.contains('\x1b') && !out.stderr.contains('\x1b'),
                "{mode}: {:?} {:?}",
                out.stdout,
                out.stderr
            );
        }
    }
}
