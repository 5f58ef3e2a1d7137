//! The config file: where it is found, file < environment < command line, and errors.

use crate::util::{Cluster, ktail_command, pod_with_lines, run};

/// What web-1's container has logged in these tests.
const LINES: [&str; 5] = ["one", "two", "three", "four", "five"];

/// Writes `text` under the run's HOME (the harness points HOME at the cluster's dir).
fn write(c: &Cluster, relative: &str, text: &str) -> String {
    let path = c.path(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_apply_and_the_command_line_wins() {
    let c = Cluster::start().await;
    pod_with_lines(&c.sim, &LINES).await;
    write(
        &c,
        ".config/ktail/config.toml",
        "# defaults for every run\nno-follow = true\noutput = \"raw\"\ntail = 1\nnamespace = [\"default\"]\n",
    );
    let out = c.run(&["web"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.lines(), ["five"], "file: raw, last line, no follow");

    let out = c.run(&["web", "--tail", "2", "-o", "default"]).await;
    assert_eq!(
        out.lines(),
        ["web-1 app four", "web-1 app five"],
        "flags win"
    );

    // A repeatable flag on the command line replaces the file's list.
    let out = c.run(&["web", "-n", "elsewhere"]).await;
    assert!(out.lines().is_empty(), "{:?}", out.lines());
}

#[tokio::test(flavor = "multi_thread")]
async fn file_then_environment_then_flag() {
    let c = Cluster::start().await;
    pod_with_lines(&c.sim, &LINES).await;
    write(&c, ".config/ktail/config.toml", "no-follow = true\no = 1\n");
    // The default file has a bad key, so a run that reads it fails: proof of which file
    // was read.
    let env_file = write(
        &c,
        "env.toml",
        "no-follow = true\ntail = 2\noutput = \"raw\"\n",
    );
    let flag_file = write(
        &c,
        "flag.toml",
        "no-follow = true\ntail = 3\noutput = \"raw\"\n",
    );

    let out = c.run(&["web"]).await;
    out.assert_one_error_line(2, "unknown key 'o'");

    let mut cmd = c.ktail(&["web"]);
    cmd.env("KTAIL_CONFIG", &env_file);
    let out = run(cmd).await;
    assert_eq!(
        out.lines(),
        ["four", "five"],
        "KTAIL_CONFIG replaces the default file"
    );

    let mut cmd = c.ktail(&["web", "--config", &flag_file]);
    cmd.env("KTAIL_CONFIG", &env_file);
    let out = run(cmd).await;
    assert_eq!(
        out.lines(),
        ["three", "four", "five"],
        "--config wins over KTAIL_CONFIG"
    );

    let mut cmd = c.ktail(&["web", "--config", &flag_file, "--tail", "1"]);
    cmd.env("KTAIL_CONFIG", &env_file);
    assert_eq!(
        run(cmd).await.lines(),
        ["five"],
        "a flag wins over every file"
    );

    // XDG_CONFIG_HOME moves the default file.
    write(&c, "xdg/ktail/config.toml", "no-follow = true\ntail = 1\n");
    let mut cmd = c.ktail(&["web"]);
    cmd.env("XDG_CONFIG_HOME", c.path("xdg"));
    assert_eq!(run(cmd).await.lines(), ["web-1 app five"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn kubeconfig_and_context_work_from_the_file() {
    let c = Cluster::start().await;
    pod_with_lines(&c.sim, &LINES).await;
    // No KUBECONFIG in the environment: only the file says where the cluster is.
    let file = write(
        &c,
        "k.toml",
        &format!(
            "kubeconfig = {:?}\nno-follow = true\ntail = 1\n",
            c.kubeconfig.display().to_string()
        ),
    );
    let mut cmd = ktail_command(c.dir.path());
    cmd.args(["web", "--config", &file]);
    let out = run(cmd).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.lines(), ["web-1 app five"]);

    let file = write(
        &c,
        "ctx.toml",
        "context = \"no-such-context\"\nno-follow = true\n",
    );
    let out = c.run(&["web", "--config", &file]).await;
    out.assert_one_error_line(3, "no-such-context");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_files_are_one_line_naming_the_key_and_the_file() {
    let c = Cluster::start().await;
    let file = write(&c, "bad.toml", "tail = 1\ntial = 2\n");
    let out = c.run(&["web", "--config", &file]).await;
    out.assert_one_error_line(2, &format!("unknown key 'tial' in config file '{file}'"));

    let file = write(&c, "value.toml", "tail = \"lots\"\n");
    let out = c.run(&["web", "--config", &file]).await;
    out.assert_one_error_line(2, &format!("invalid setting in config file '{file}'"));

    let file = write(&c, "syntax.toml", "tail = \n");
    let out = c.run(&["web", "--config", &file]).await;
    out.assert_one_error_line(2, "invalid TOML in config file");

    let out = c.run(&["web", "--config", "/nonexistent/ktail.toml"]).await;
    out.assert_one_error_line(2, "cannot read config file '/nonexistent/ktail.toml'");
    let mut cmd = c.ktail(&["web"]);
    cmd.env("KTAIL_CONFIG", "/nonexistent/env.toml");
    run(cmd)
        .await
        .assert_one_error_line(2, "cannot read config file '/nonexistent/env.toml'");
}

#[tokio::test(flavor = "multi_thread")]
async fn environment_variables_beat_the_file_and_flags_beat_both() {
    let c = Cluster::start().await;
    pod_with_lines(&c.sim, &LINES).await;
    write(
        &c,
        ".config/ktail/config.toml",
        "no-follow = true\ntail = 1\ncolor = \"always\"\nkubeconfig = \"/nonexistent/kubeconfig\"\n",
    );
    // The harness sets KUBECONFIG: it beats the file's kubeconfig.
    let out = c.run(&["web"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stdout.contains("\x1b["),
        "the file's colour: {:?}",
        out.stdout
    );

    let mut cmd = c.ktail(&["web"]);
    cmd.env("NO_COLOR", "1");
    let out = run(cmd).await;
    assert_eq!(out.lines(), ["web-1 app five"], "NO_COLOR beats the file");

    let mut cmd = c.ktail(&["web", "--color", "always"]);
    cmd.env("NO_COLOR", "1");
    let out = run(cmd).await;
    assert!(out.stdout.contains("\x1b["), "the flag beats NO_COLOR");

    // Without KUBECONFIG the file's kubeconfig is used.
    let mut cmd = c.ktail(&["web"]);
    cmd.env_remove("KUBECONFIG");
    let out = run(cmd).await;
    out.assert_one_error_line(3, "/nonexistent/kubeconfig");
}

#[tokio::test(flavor = "multi_thread")]
async fn output_files_can_be_the_default() {
    let c = Cluster::start().await;
    pod_with_lines(&c.sim, &LINES).await;
    let dir = c.path("collected");
    write(
        &c,
        ".config/ktail/config.toml",
        &format!(
            "no-follow = true\noutput-dir = {:?}\nfiles-only = true\n",
            dir.display().to_string()
        ),
    );
    let out = c.run(&["web"]).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "", "files only, from the file");
    let log = std::fs::read_to_string(dir.join("default/web-1/app.log")).unwrap();
    assert_eq!(log, "one\ntwo\nthree\nfour\nfive\n");
    // --stdin conflicts with the file's output-dir: the file's setting gives way.
    let mut cmd = ktail_command(c.dir.path());
    cmd.args(["--stdin", "-o", "raw"]);
    cmd.stdin(std::process::Stdio::null());
    let out = run(cmd).await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}
