//! `--template` and `--template-file`: fields, every helper, start-up errors.
//!
//! Helpers are tried on lines fed through `--stdin` (the same formatter, no cluster);
//! fields and files against the simulated cluster.

use kube_sim::{ContainerSpec, PodSpec};

use crate::util::{Cluster, Output, pod_with_lines, start_pod};

/// Runs `ktail --stdin ARGS` on `input`.
async fn stdin(args: &[&str], input: &str) -> Output {
    crate::util::run_stdin(args, input).await
}

/// The template's output for each input line, checking a clean exit.
async fn render(template: &str, input: &str) -> String {
    render_with(&["--template", template], input).await
}

async fn render_with(args: &[&str], input: &str) -> String {
    let out = stdin(args, input).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    out.stdout
}

const JSON: &str = r#"{"level":"warn","msg":"disk full","ts":1704164645.5,"n":3}"#;

#[tokio::test]
async fn parse_json() {
    assert_eq!(
        render(
            "{{ (message | parse_json).msg }} {{ parse_json(message).n * 2 }}",
            JSON
        )
        .await,
        "disk full 6\n"
    );
    // A line the template fails on is printed as it came, not lost, and the first
    // failure is said once.
    let out = stdin(
        &["--template", "{{ parse_json(message).msg }}"],
        &format!("not json\n{JSON}\nplain\n"),
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "not json\ndisk full\nplain\n");
    let warnings: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    assert!(
        warnings[0].starts_with("ktail: warning: --template failed on a line (")
            && warnings[0].contains("printed as they came"),
        "{}",
        warnings[0]
    );
}

#[tokio::test]
async fn try_parse_json() {
    let t = "{% set j = message | try_parse_json %}{% if j %}{{ j.msg }}{% else %}raw: {{ message }}{% endif %}";
    assert_eq!(
        render(t, &format!("{JSON}\nplain\n")).await,
        "disk full\nraw: plain\n"
    );
}

#[tokio::test]
async fn extract_json_parts() {
    assert_eq!(
        render(
            "{{ extract_json_parts(message, 'level', 'msg', 'n') }}",
            JSON
        )
        .await,
        "warn, disk full, 3\n"
    );
}

#[tokio::test]
async fn try_extract_json_parts() {
    assert_eq!(
        render(
            "{{ message | try_extract_json_parts('msg', 'level') }}",
            &format!("{JSON}\nplain text\n")
        )
        .await,
        "disk full, warn\nplain text\n"
    );
}

#[tokio::test]
async fn pretty_json() {
    assert_eq!(
        render("{{ pretty_json(message) }}", r#"{"b":[1],"a":"x"}"#).await,
        "{\n  \"a\": \"x\",\n  \"b\": [\n    1\n  ]\n}\n"
    );
    assert_eq!(
        render("{{ parse_json(message) | pretty_json }}", r#"{"k":true}"#).await,
        "{\n  \"k\": true\n}\n"
    );
}

#[tokio::test]
async fn to_timestamp() {
    assert_eq!(
        render(
            "{{ to_timestamp(parse_json(message).ts, '%Y-%m-%d %H:%M:%S%.3f', 'UTC') }}",
            JSON
        )
        .await,
        "2024-01-02 03:04:05.500\n"
    );
    // The zone defaults to --timezone; strings and integers are read too.
    assert_eq!(
        render_with(
            &[
                "--timezone",
                "Asia/Kolkata",
                "--template",
                "{{ to_timestamp(message, '%H:%M %z') }}"
            ],
            "1704164645\n2024-01-02T03:04:05Z\n"
        )
        .await,
        "08:34 +0530\n08:34 +0530\n"
    );
}

#[tokio::test]
async fn to_rfc3339nano_and_to_utc() {
    assert_eq!(
        render_with(
            &[
                "--timezone",
                "UTC",
                "--template",
                "{{ to_rfc3339nano(parse_json(message).ts) }} {{ to_utc('2024-01-02T05:04:05.25+02:00') }}"
            ],
            JSON
        )
        .await,
        "2024-01-02T03:04:05.5Z 2024-01-02T03:04:05.25Z\n"
    );
}

#[tokio::test]
async fn color_and_color_custom() {
    let t = "{{ color('1;36', 'a') }} {{ 'b' | color(95) }} {{ color_custom('c', 1, '4') }}";
    assert_eq!(
        render_with(&["--color", "always", "--template", t], "x").await,
        "\x1b[1;36ma\x1b[0m \x1b[95mb\x1b[0m \x1b[1;4mc\x1b[0m\n"
    );
    // Colour off: the same template prints plain text.
    assert_eq!(render(t, "x").await, "a b c\n");
}

#[tokio::test]
async fn named_colours() {
    let t = "{{ color_black('k') }}{{ 'r' | color_red }}{{ color_green('g') }}{{ color_yellow('y') }}{{ color_blue('b') }}{{ color_magenta('m') }}{{ color_cyan('c') }}{{ color_white('w') }}";
    assert_eq!(
        render_with(&["--color", "always", "--template", t], "x").await,
        "\x1b[30mk\x1b[0m\x1b[31mr\x1b[0m\x1b[32mg\x1b[0m\x1b[33my\x1b[0m\x1b[34mb\x1b[0m\x1b[35mm\x1b[0m\x1b[36mc\x1b[0m\x1b[37mw\x1b[0m\n"
    );
}

#[tokio::test]
async fn level_color() {
    let t = "{{ level_color(parse_json(message).level) }}";
    let input = "{\"level\":\"debug\"}\n{\"level\":\"INFO\"}\n{\"level\":\"warning\"}\n{\"level\":\"error\"}\n{\"level\":\"fatal\"}\n{\"level\":\"other\"}\n";
    assert_eq!(
        render_with(&["--color", "always", "--template", t], input).await,
        "\x1b[35mdebug\x1b[0m\n\x1b[38;5;33mINFO\x1b[0m\n\x1b[33mwarning\x1b[0m\n\x1b[31merror\x1b[0m\n\x1b[36mfatal\x1b[0m\nother\n"
    );
}

#[tokio::test]
async fn bunyan_level_color() {
    let t = "{{ parse_json(message).level | bunyan_level_color }}";
    let input = "{\"level\":20}\n{\"level\":30}\n{\"level\":40}\n{\"level\":50}\n{\"level\":60}\n";
    assert_eq!(
        render_with(&["--color", "always", "--template", t], input).await,
        "\x1b[35m20\x1b[0m\n\x1b[38;5;33m30\x1b[0m\n\x1b[33m40\x1b[0m\n\x1b[31m50\x1b[0m\n\x1b[36m60\x1b[0m\n"
    );
}

#[tokio::test]
async fn newlines_empty_records_and_stern_style_templates() {
    // A newline is added only when missing; a record that renders empty prints nothing.
    assert_eq!(
        render(
            "{% if 'keep' in message %}{{ message }}{{ '\\n' }}{% endif %}",
            "keep 1\ndrop\nkeep 2\n"
        )
        .await,
        "keep 1\nkeep 2\n"
    );
}

#[tokio::test]
async fn start_up_errors_are_one_line_with_a_position() {
    for (template, needle) in [
        (
            "{{ pod }} {{ mesage }}",
            "invalid --template at line 1, column 14: unknown field or function 'mesage'",
        ),
        ("{{ pod }}\n{% if %}", "invalid --template at line 2"),
        ("{{ message | shout }}", "unknown filter"),
        ("{{ message is loud }}", "unknown test"),
        // A template written for stern gets told how to say it here.
        (
            "{{color .PodColor .PodName}} {{.Message}}",
            "ktail templates are Jinja, not Go: write {{ pod_color }} for {{.PodColor}}",
        ),
        (
            "{{.Message}}",
            "syntax error: unexpected `.`; ktail templates are Jinja, not Go: write {{ message }} for {{.Message}}",
        ),
    ] {
        let out = stdin(&["--template", template], "x\n").await;
        out.assert_one_error_line(2, needle);
    }
    let out = stdin(&["-T", "/nonexistent/t.j2"], "x\n").await;
    out.assert_one_error_line(2, "cannot read --template-file '/nonexistent/t.j2'");
}

#[tokio::test(flavor = "multi_thread")]
async fn fields_of_a_pod_and_a_template_file() {
    let c = Cluster::start().await;
    pod_with_lines(&c.sim, &[r#"{"level":"info","msg":"hi"}"#]).await;
    let file = c.path("line.j2");
    std::fs::write(
        &file,
        "{{ namespace }}/{{ pod }}/{{ container }} on {{ node }} \
         app={{ labels.app }} team={{ annotations['team'] }} \
         colours={{ pod_color }},{{ container_color }} \
         ts={{ timestamp[:4] }} {{ (message | parse_json).msg }}\n",
    )
    .unwrap();
    let out = c
        .run(&[
            "web",
            "--no-follow",
            "-T",
            file.to_str().unwrap(),
            "--template",
            "ignored",
        ])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let year = jiff::Timestamp::now().strftime("%Y").to_string();
    assert_eq!(
        out.lines(),
        [format!(
            "default/web-1/app on node-1 app=web team=core colours=93,33 ts={year} hi"
        )]
    );
    // A bad template stops ktail before it opens a stream.
    let out = c
        .run(&["web", "--no-follow", "--template", "{{ nope }}"])
        .await;
    out.assert_one_error_line(2, "unknown field or function 'nope'");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_failing_on_a_containers_lines_is_warned_of_once_per_container() {
    let c = Cluster::start().await;
    start_pod(
        &c.sim,
        "default",
        PodSpec::new("mixed")
            .container(ContainerSpec::new("json").lines([r#"{"msg":"a"}"#, "plain 1", "plain 2"]))
            .container(ContainerSpec::new("text").lines(["plain 3", "plain 4"])),
    )
    .await;
    let out = c
        .run(&[
            "mixed",
            "--no-follow",
            "--only-log-lines",
            "--template",
            "{{ container }}: {{ parse_json(message).msg }}",
        ])
        .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut lines = out.lines();
    lines.sort();
    assert_eq!(
        lines,
        ["json: a", "plain 1", "plain 2", "plain 3", "plain 4"]
    );
    let warnings: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(warnings.len(), 2, "one per container: {}", out.stderr);
    for c in ["mixed › json", "mixed › text"] {
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with(&format!("ktail: warning: default/{c}: --template failed"))),
            "{c}: {}",
            out.stderr
        );
    }
}
