//! The workloads and how each tool is run on them: W1 a backlog drain, W2 the same with
//! one HTTP chunk per line (over HTTPS, then plain HTTP/1.1), W3 following at a steady rate (latency and CPU), W4 many
//! streams starting, W5 memory (idle streams, a blocked stdout), W6 a rolling update
//! (pickup latency), W8 the cost of each output mode and filter, W9 thousands of streams,
//! W10 one 100 MiB line.
//!
//! Every workload gets its own simulator (HTTPS, because kubectl sends its token only over
//! TLS, and every tool talks to the same server in the same run). Pod names are
//! zero-padded (`bulk-007`): kubetail picks containers with `grep <pod>`, so `bulk-1`
//! would also match `bulk-10`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube_sim::{Chunking, ContainerSpec, PodSpec, Sim, SimOptions, WorkloadSpec};

use crate::check::{OutputReader, now_ns};
use crate::proc::{self, Child, Usage};
use crate::report::{self, Results, Verdict, quantile};

/// Paths of the programs under test.
#[derive(Debug, Default, Clone)]
pub struct Tools {
    pub ktail: PathBuf,
    pub kubectl: Option<PathBuf>,
    pub kubetail: Option<PathBuf>,
    pub curl: Option<PathBuf>,
    /// A command ktail runs under, e.g. `perf record -g --` (for profiling only: its
    /// numbers then include the wrapper).
    pub wrap_ktail: Vec<String>,
}

/// Sizes, repetitions and time limits.
#[derive(Debug, Clone)]
pub struct Plan {
    pub runs: usize,
    /// Runs of the slow peers (kubectl needs ~20 s per W1 run, throttled).
    pub slow_runs: usize,
    pub w1_pods: usize,
    pub w1_lines: u64,
    pub w3_pods: usize,
    pub w3_rate: f64,
    pub w3_warmup: Duration,
    pub w3_window: Duration,
    pub w4_pods: usize,
    pub w4_kubectl_cap: Duration,
    pub w5_pods: usize,
    pub w5_rate: f64,
    pub w5_block: Duration,
    pub w5_runs: usize,
    pub w9_pods: usize,
    pub w6_replicas: u32,
    pub w6_rollouts: usize,
    pub w6_runs: usize,
    pub kubetail_cap: Duration,
}

impl Plan {
    pub fn full(runs: usize) -> Plan {
        Plan {
            runs,
            slow_runs: runs.min(3),
            w1_pods: 100,
            w1_lines: 20_000,
            w3_pods: 100,
            w3_rate: 100.0,
            w3_warmup: Duration::from_secs(2),
            w3_window: Duration::from_secs(10),
            w4_pods: 1000,
            w4_kubectl_cap: Duration::from_secs(60),
            w5_pods: 50,
            w5_rate: 2000.0,
            w5_block: Duration::from_secs(10),
            w5_runs: runs.min(3),
            w9_pods: 5000,
            w6_replicas: 20,
            w6_rollouts: 3,
            w6_runs: runs.min(3),
            kubetail_cap: Duration::from_secs(15),
        }
    }

    /// Small sizes to check the harness itself in a minute.
    pub fn quick(runs: usize) -> Plan {
        Plan {
            runs: runs.min(2),
            slow_runs: 1,
            w1_pods: 10,
            w1_lines: 2_000,
            w3_pods: 10,
            w3_rate: 50.0,
            w3_warmup: Duration::from_secs(1),
            w3_window: Duration::from_secs(2),
            w4_pods: 50,
            w4_kubectl_cap: Duration::from_secs(20),
            w5_pods: 5,
            w5_rate: 500.0,
            w5_block: Duration::from_secs(2),
            w5_runs: 1,
            w9_pods: 200,
            w6_replicas: 3,
            w6_rollouts: 1,
            w6_runs: 1,
            kubetail_cap: Duration::from_secs(5),
        }
    }
}

pub struct Ctx {
    pub tools: Tools,
    pub plan: Plan,
    pub tmp: PathBuf,
    pub results: Results,
    /// `/proc/loadavg` when the run started: other work on the two cores skews results.
    pub load_at_start: String,
    /// Which of W1 and W8 to run (they share one cluster).
    pub only_w1: bool,
    pub only_w8: bool,
}

impl Ctx {
    pub fn new(tools: Tools, plan: Plan, tmp: PathBuf) -> Ctx {
        Ctx {
            tools,
            plan,
            tmp,
            results: Results::default(),
            load_at_start: load_average(),
            only_w1: true,
            only_w8: true,
        }
    }
}

/// The protocol a cluster's server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Http2,
    Http1,
    /// HTTP/1.1 without TLS (`http://`, as behind `kubectl proxy` or a plain test server).
    Plain,
}

impl Wire {
    fn label(self) -> &'static str {
        match self {
            Wire::Http2 => "HTTP/2",
            Wire::Http1 => "HTTP/1.1",
            Wire::Plain => "plain HTTP/1.1",
        }
    }
}

/// A simulator with its kubeconfig and CA file.
struct Cluster {
    sim: Sim,
    name: &'static str,
    kubeconfig: PathBuf,
    ca: PathBuf,
}

impl Cluster {
    async fn start(ctx: &Ctx, name: &'static str, chunking: Chunking) -> Result<Cluster, String> {
        Cluster::start_with(ctx, name, chunking, Wire::Http2).await
    }

    /// A cluster that offers HTTP/2 (as kube-apiserver does) or only HTTP/1.1.
    async fn start_with(
        ctx: &Ctx,
        name: &'static str,
        chunking: Chunking,
        wire: Wire,
    ) -> Result<Cluster, String> {
        let sim = Sim::start(SimOptions {
            tls: wire != Wire::Plain,
            chunking,
            http2: wire == Wire::Http2,
            ..SimOptions::default()
        })
        .await
        .map_err(|e| format!("cannot start the simulator: {e}"))?;
        let kubeconfig = ctx.tmp.join(format!("{name}.kubeconfig"));
        sim.write_kubeconfig(&kubeconfig)
            .map_err(|e| format!("cannot write {}: {e}", kubeconfig.display()))?;
        let ca = ctx.tmp.join(format!("{name}-ca.pem"));
        std::fs::write(&ca, sim.ca_pem().unwrap_or_default())
            .map_err(|e| format!("cannot write {}: {e}", ca.display()))?;
        Ok(Cluster {
            sim,
            name,
            kubeconfig,
            ca,
        })
    }

    /// Creates `n` pods `<prefix>-000…` with label `app=<prefix>` and one container `app`.
    fn create_pods(
        &self,
        ns: &str,
        prefix: &str,
        n: usize,
        c: &ContainerSpec,
        restart: &str,
    ) -> Vec<String> {
        self.sim.create_namespace(ns);
        (0..n)
            .map(|i| {
                let name = format!("{prefix}-{i:03}");
                self.sim.create_pod(
                    ns,
                    PodSpec::new(&name)
                        .label("app", prefix)
                        .restart_policy(restart)
                        .container(c.clone()),
                );
                name
            })
            .collect()
    }

    async fn wait_generated(&self, ns: &str, pods: &[String], at_least: u64) -> Result<(), String> {
        let ok = self
            .sim
            .wait_for(Duration::from_secs(120), |s| {
                pods.iter().all(|p| s.generated(ns, p, "app") >= at_least)
            })
            .await;
        ok.then_some(()).ok_or_else(|| {
            format!(
                "{}: the pods did not write {at_least} lines within 120 s",
                self.name
            )
        })
    }

    async fn stop(self) {
        self.sim.shutdown().await;
    }

    fn log_url(&self, ns: &str, pod: &str, query: &str) -> String {
        format!(
            "{}/api/v1/namespaces/{ns}/pods/{pod}/log?container=app&{query}",
            self.sim.url()
        )
    }
}

/// The command line of a tool with a scrubbed environment pointing at the cluster.
fn command(ctx: &Ctx, c: &Cluster, program: &Path, args: &[String]) -> Command {
    let mut cmd = match ctx.tools.wrap_ktail.split_first() {
        Some((wrapper, wrapper_args)) if program == ctx.tools.ktail => {
            let mut cmd = Command::new(wrapper);
            cmd.args(wrapper_args).arg(program);
            cmd
        }
        _ => Command::new(program),
    };
    cmd.args(args);
    cmd.env_clear();
    // kubetail runs `kubectl` from PATH: the kubectl under test comes first.
    let mut path = std::env::var("PATH").unwrap_or_default();
    if let Some(dir) = ctx.tools.kubectl.as_ref().and_then(|k| k.parent()) {
        path = format!("{}:{path}", dir.display());
    }
    let home = ctx.tmp.join("home");
    let _ = std::fs::create_dir_all(&home);
    cmd.env("PATH", path)
        .env("HOME", home)
        .env("TZ", "UTC")
        .env("TERM", "dumb")
        .env("KUBECONFIG", &c.kubeconfig);
    if let Some(k) = &ctx.tools.kubectl {
        cmd.env("KUBECTL_BIN", k);
    }
    if program.file_name().is_some_and(|n| n == "kubetail") {
        // kubetail 1.6.5 joins its per-container pipelines with `${@/#/ & }`; bash 5.2's
        // patsub_replacement turns that `&` into the matched (empty) text, so the
        // pipelines run into one another and nothing is tailed. Switch it off.
        let env = ctx.tmp.join("kubetail.bashrc");
        let _ = std::fs::write(&env, "shopt -u patsub_replacement 2>/dev/null || true\n");
        cmd.env("BASH_ENV", env);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped());
    let log = ctx.tmp.join("stderr.log");
    match std::fs::File::create(&log) {
        Ok(f) => cmd.stderr(f),
        Err(_) => cmd.stderr(Stdio::null()),
    };
    cmd
}

fn stderr_tail(ctx: &Ctx) -> String {
    let text = std::fs::read_to_string(ctx.tmp.join("stderr.log")).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// Runs `cmd | wc -l`; returns the tool's usage, the wall time until `wc` exited and the
/// count.
fn run_to_wc(
    ctx: &Ctx,
    mut cmd: Command,
    limit: Duration,
    what: &str,
) -> Result<(Usage, Duration, u64), String> {
    let start = Instant::now();
    let mut child = Child::spawn(&mut cmd).map_err(|e| format!("cannot start {what}: {e}"))?;
    let out = child.take_stdout().ok_or("no stdout pipe")?;
    let wc = Command::new("wc")
        .arg("-l")
        .stdin(Stdio::from(out))
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start wc: {e}"))?;
    let Some(usage) = child.wait_timeout(limit) else {
        child.stop(Duration::from_secs(2));
        let _ = wc.wait_with_output();
        return Err(format!(
            "{what} did not finish within {} s; stderr: {}",
            limit.as_secs(),
            stderr_tail(ctx)
        ));
    };
    // Helpers the tool left behind would keep the pipe open.
    child.stop(Duration::ZERO);
    let output = wc.wait_with_output().map_err(|e| format!("wc: {e}"))?;
    let wall = start.elapsed();
    let count = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .map_err(|_| "wc printed no number".to_string())?;
    if usage.code != 0 {
        return Err(format!(
            "{what} exited with {}; stderr: {}",
            usage.code,
            stderr_tail(ctx)
        ));
    }
    Ok((usage, wall, count))
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Adds wall, CPU, per-line CPU and peak RSS of one run.
fn add_usage(
    r: &mut Results,
    w: &'static str,
    tool: &str,
    run: usize,
    u: &Usage,
    wall: Duration,
    lines: u64,
) {
    r.add(w, tool, run, "wall_s", wall.as_secs_f64());
    r.add(w, tool, run, "cpu_s", u.cpu().as_secs_f64());
    r.add(w, tool, run, "sys_s", u.sys.as_secs_f64());
    if lines > 0 {
        r.add(
            w,
            tool,
            run,
            "cpu_us_per_line",
            u.cpu().as_secs_f64() * 1e6 / lines as f64,
        );
        r.add(
            w,
            tool,
            run,
            "mlines_per_s",
            lines as f64 / wall.as_secs_f64() / 1e6,
        );
    }
    r.add(w, tool, run, "max_rss_mib", mib(u.max_rss_kib));
}

fn progress(w: &str, tool: &str, run: usize, text: String) {
    println!("  {w} {tool:<20} run {run}: {text}");
}

/// Writes a curl config with one `url` (and optionally `output`) per pod.
fn curl_config(
    ctx: &Ctx,
    c: &Cluster,
    ns: &str,
    pods: &[String],
    query: &str,
    devnull: bool,
) -> Result<PathBuf, String> {
    let mut text = String::new();
    for p in pods {
        text.push_str(&format!("url = \"{}\"\n", c.log_url(ns, p, query)));
        if devnull {
            text.push_str("output = \"/dev/null\"\n");
        }
    }
    let path = ctx.tmp.join(format!("{}-{ns}-curl.cfg", c.name));
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn curl_args(c: &Cluster, cfg: &Path, parallel: usize, extra: &[&str]) -> Vec<String> {
    let mut a = strings(&["--parallel", "--parallel-immediate", "--parallel-max"]);
    a.push(parallel.to_string());
    a.extend(strings(&["-sS", "--fail"]));
    if c.sim.url().starts_with("https:") {
        a.push("--cacert".into());
        a.push(c.ca.display().to_string());
    }
    a.push("-H".into());
    a.push(format!("Authorization: Bearer {}", c.sim.token()));
    a.extend(strings(extra));
    a.push("-K".into());
    a.push(cfg.display().to_string());
    a
}

fn ktail_help(ctx: &Ctx) -> String {
    Command::new(&ctx.tools.ktail)
        .arg("--help")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

// ---- W1 and W8 ------------------------------------------------------------------------

pub async fn w1_w8(ctx: &mut Ctx, w1: bool, w8: bool) -> Result<(), String> {
    let (pods_n, lines) = (ctx.plan.w1_pods, ctx.plan.w1_lines);
    let c = Cluster::start(ctx, "w1", Chunking::Coalesced).await?;
    let ns = "bulk";
    let pods = c.create_pods(
        ns,
        "bulk",
        pods_n,
        &ContainerSpec::new("app").backlog(lines),
        "Always",
    );
    c.wait_generated(ns, &pods, lines).await?;
    let total = pods_n as u64 * lines;
    let bytes: u64 = pods
        .iter()
        .map(|p| {
            (0..lines)
                .map(|s| 32 + kube_sim::logs::generated_line(p, "app", s).len() as u64)
                .sum::<u64>()
        })
        .sum();
    let streams = pods_n.to_string();
    let ktail_args = strings(&[
        "-l",
        "app=bulk",
        "-n",
        ns,
        "--no-follow",
        "--max-log-requests",
        &streams,
    ]);
    if w1 {
        ctx.results.title(
            "W1",
            format!(
                "backlog drain — {pods_n} pods × {lines} lines ({:.0} MB with timestamps), `--no-follow`, HTTPS, coalesced chunks, output piped to `wc -l`",
                bytes as f64 / 1e6
            ),
        );
        verify_drain(ctx, &c, "W1", &ktail_args, &pods, lines)?;
        for run in 1..=ctx.plan.runs {
            let cmd = command(ctx, &c, &ctx.tools.ktail, &ktail_args);
            let (u, wall, n) = run_to_wc(ctx, cmd, Duration::from_secs(120), "ktail")?;
            expect_count("ktail", n, total)?;
            progress(
                "W1",
                "ktail",
                run,
                format!(
                    "{:.3} s, {:.2} s CPU",
                    wall.as_secs_f64(),
                    u.cpu().as_secs_f64()
                ),
            );
            add_usage(&mut ctx.results, "W1", "ktail", run, &u, wall, n);
        }
        // The default stream cap with --no-follow is 5, like stern.
        let default_args = strings(&["-l", "app=bulk", "-n", ns, "--no-follow"]);
        for run in 1..=ctx.plan.runs {
            let cmd = command(ctx, &c, &ctx.tools.ktail, &default_args);
            let (u, wall, n) = run_to_wc(ctx, cmd, Duration::from_secs(120), "ktail")?;
            expect_count("ktail", n, total)?;
            progress(
                "W1",
                "ktail (default 5 streams)",
                run,
                format!("{:.3} s", wall.as_secs_f64()),
            );
            add_usage(
                &mut ctx.results,
                "W1",
                "ktail (5 streams)",
                run,
                &u,
                wall,
                n,
            );
        }
        if let Some(curl) = ctx.tools.curl.clone() {
            let cfg = curl_config(ctx, &c, ns, &pods, "timestamps=true", true)?;
            for run in 1..=ctx.plan.runs {
                let args = curl_args(&c, &cfg, pods_n, &["-w", "%{size_download}\\n"]);
                let mut cmd = command(ctx, &c, &curl, &args);
                let start = Instant::now();
                let mut child =
                    Child::spawn(&mut cmd).map_err(|e| format!("cannot start curl: {e}"))?;
                let mut out = String::new();
                if let Some(mut o) = child.take_stdout() {
                    use std::io::Read;
                    let _ = o.read_to_string(&mut out);
                }
                let u = child
                    .wait_timeout(Duration::from_secs(120))
                    .ok_or("curl did not finish within 120 s")?;
                let wall = start.elapsed();
                let got: u64 = out
                    .lines()
                    .filter_map(|l| l.trim().parse::<u64>().ok())
                    .sum();
                if u.code != 0 || got != bytes {
                    return Err(format!(
                        "curl: exit {}, {got} bytes, expected {bytes}; {}",
                        u.code,
                        stderr_tail(ctx)
                    ));
                }
                progress(
                    "W1",
                    "curl >/dev/null",
                    run,
                    format!("{:.3} s", wall.as_secs_f64()),
                );
                add_usage(
                    &mut ctx.results,
                    "W1",
                    "curl >/dev/null",
                    run,
                    &u,
                    wall,
                    total,
                );
            }
            let cfg = curl_config(ctx, &c, ns, &pods, "timestamps=true", false)?;
            for run in 1..=ctx.plan.runs {
                let cmd = command(ctx, &c, &curl, &curl_args(&c, &cfg, pods_n, &[]));
                let (u, wall, n) = run_to_wc(ctx, cmd, Duration::from_secs(120), "curl")?;
                expect_count("curl", n, total)?;
                progress(
                    "W1",
                    "curl | wc -l",
                    run,
                    format!("{:.3} s", wall.as_secs_f64()),
                );
                add_usage(&mut ctx.results, "W1", "curl | wc -l", run, &u, wall, n);
            }
        }
        if let Some(kubectl) = ctx.tools.kubectl.clone() {
            let args = strings(&[
                "logs",
                "-l",
                "app=bulk",
                "-n",
                ns,
                "--prefix",
                "--tail=-1",
                "--max-log-requests",
                &streams,
            ]);
            for run in 1..=ctx.plan.slow_runs {
                let cmd = command(ctx, &c, &kubectl, &args);
                let (u, wall, n) = run_to_wc(ctx, cmd, Duration::from_secs(300), "kubectl")?;
                expect_count("kubectl", n, total)?;
                progress("W1", "kubectl", run, format!("{:.2} s", wall.as_secs_f64()));
                add_usage(&mut ctx.results, "W1", "kubectl", run, &u, wall, n);
            }
        }
        if let Some(kubetail) = ctx.tools.kubetail.clone() {
            // Its default --tail is -1 (all); it cannot parse `--tail -1` itself.
            let args = strings(&[
                "-l", "app=bulk", "-n", ns, "-f", "false", "--since", "48h", "-k", "false",
            ]);
            kubetail_capped(ctx, &c, &kubetail, &args, "W1", total)?;
        }
    }
    if w8 {
        w8_filters(ctx, &c, ns, &ktail_args, &pods, lines, bytes).await?;
    }
    c.stop().await;
    Ok(())
}

fn expect_count(tool: &str, got: u64, want: u64) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{tool} printed {got} lines, expected {want}"))
    }
}

/// One run read by the checker: every container's seq 0..lines exactly once.
fn verify_drain(
    ctx: &mut Ctx,
    c: &Cluster,
    w: &'static str,
    args: &[String],
    pods: &[String],
    lines: u64,
) -> Result<(), String> {
    let mut cmd = command(ctx, c, &ctx.tools.ktail, args);
    let mut child = Child::spawn(&mut cmd).map_err(|e| format!("cannot start ktail: {e}"))?;
    let mut reader = OutputReader::start(child.take_stdout().ok_or("no stdout pipe")?);
    let done = reader.wait_eof(Duration::from_secs(180));
    let u = child.stop(Duration::from_secs(2));
    if !done || u.code != 0 {
        return Err(format!(
            "ktail verification run: exit {}, finished: {done}; {}",
            u.code,
            stderr_tail(ctx)
        ));
    }
    let seen = reader.seen();
    let exact = pods
        .iter()
        .filter(|p| seen.stream(p, "app").is_some_and(|s| s.is_exactly(lines)))
        .count();
    let note = format!(
        "ktail correctness run: {exact}/{} containers printed every seq 0..{lines} exactly once and in order ({} lines, {} other lines)",
        pods.len(),
        seen.lines,
        seen.unparsed
    );
    let ok = exact == pods.len();
    drop(seen);
    ctx.results.note(w, note);
    ok.then_some(())
        .ok_or_else(|| format!("{w}: ktail lost, repeated or reordered lines"))
}

/// kubetail forks a `tail` per line: it cannot drain millions of lines in a benchmark, so
/// it runs for a fixed time and the rate it reached is reported.
fn kubetail_capped(
    ctx: &mut Ctx,
    c: &Cluster,
    program: &Path,
    args: &[String],
    w: &'static str,
    total: u64,
) -> Result<(), String> {
    let cap = ctx.plan.kubetail_cap;
    let mut cmd = command(ctx, c, program, args);
    let mut child = Child::spawn(&mut cmd).map_err(|e| format!("cannot start kubetail: {e}"))?;
    let reader = OutputReader::start(child.take_stdout().ok_or("no stdout pipe")?);
    let pgid = child.pid();
    let (mut peak_kib, mut cpu) = (0u64, Duration::ZERO);
    let start = child.started();
    while start.elapsed() < cap && !child.has_exited() {
        let s = proc::sample_group(pgid);
        peak_kib = peak_kib.max(s.rss_kib);
        cpu = cpu.max(s.cpu + s.children_cpu);
        std::thread::sleep(Duration::from_millis(200));
    }
    let elapsed = start.elapsed();
    child.stop(Duration::from_secs(1));
    let seen = reader.seen();
    let got = seen.lines - seen.unparsed;
    drop(seen);
    if got == 0 {
        return Err(format!(
            "kubetail printed no log line; stderr: {}",
            stderr_tail(ctx)
        ));
    }
    let rate = got as f64 / elapsed.as_secs_f64();
    let r = &mut ctx.results;
    r.add(w, "kubetail", 1, "lines_in_cap", got as f64);
    r.add(w, "kubetail", 1, "mlines_per_s", rate / 1e6);
    if rate > 0.0 {
        r.add(w, "kubetail", 1, "wall_s", total as f64 / rate);
    }
    r.add(w, "kubetail", 1, "cpu_s", cpu.as_secs_f64());
    r.add(w, "kubetail", 1, "max_rss_mib", mib(peak_kib));
    r.note(
        w,
        format!(
            "kubetail (one kubectl per container, one `tail` fork per line) was stopped after {:.0} s with {got} of {total} lines; its wall_s is extrapolated from that rate, its CPU and RSS are sums over its process group (sampled)",
            elapsed.as_secs_f64()
        ),
    );
    Ok(())
}

async fn w8_filters(
    ctx: &mut Ctx,
    c: &Cluster,
    ns: &str,
    base: &[String],
    pods: &[String],
    lines: u64,
    bytes: u64,
) -> Result<(), String> {
    let total = pods.len() as u64 * lines;
    // seq ending in 0 or 5: a fifth of the lines.
    let fifth: u64 = (0..lines).filter(|s| s % 5 == 0).count() as u64 * pods.len() as u64;
    let pattern = r"seq=\d*[05] ";
    let mut variants: Vec<(&str, Vec<&str>, u64)> = vec![
        ("ktail", vec![], total),
        ("ktail -i", vec!["-i", pattern], fifth),
        ("ktail -e", vec!["-e", pattern], total - fifth),
        ("ktail --color=always", vec!["--color", "always"], total),
        (
            "ktail -H --color=always",
            vec!["-H", r"seq=\d+", "--color", "always"],
            total,
        ),
    ];
    let template = "{{ pod }} {{ container }} {{ message }}";
    let help = ktail_help(ctx);
    let has_template = help.contains("--template");
    if has_template {
        variants.push(("ktail --template", vec!["--template", template], total));
    }
    // Time order across the 100 containers: an exact merge of every stream at once.
    if help.contains("--sort") {
        variants.push(("ktail --sort", vec!["--sort"], total));
    }
    // One file per container beside stdout, and instead of it; the files are counted too.
    let files_dir = std::env::temp_dir().join(format!("ktail-bench-files-{}", std::process::id()));
    let files_arg = files_dir.to_string_lossy().into_owned();
    if help.contains("--output-dir") {
        variants.push((
            "ktail --output-dir",
            vec!["--output-dir", &files_arg],
            total,
        ));
        variants.push((
            "ktail --output-dir --files-only",
            vec!["--output-dir", &files_arg, "--files-only"],
            0,
        ));
    }
    ctx.results.title(
        "W8",
        format!(
            "filter cost — W1's {} lines ({:.0} MB) with `-i`/`-e` `{pattern}` (keeps 1/5 or 4/5), `-H 'seq=\\d+'` (every line, needs colour){}; cpu_us_per_line is per input line",
            total,
            bytes as f64 / 1e6,
            if has_template { format!(", `--template '{template}'`") } else { ", no --template in this ktail".into() }
        ),
    );
    for (tool, extra, want) in variants {
        let mut args = base.to_vec();
        args.extend(strings(&extra));
        for run in 1..=ctx.plan.runs {
            let cmd = command(ctx, c, &ctx.tools.ktail, &args);
            let (u, wall, n) = run_to_wc(ctx, cmd, Duration::from_secs(120), tool)?;
            expect_count(tool, n, want)?;
            if extra.contains(&"--output-dir") {
                let in_files = count_file_lines(&files_dir)?;
                let _ = std::fs::remove_dir_all(&files_dir);
                expect_count(&format!("{tool} (files)"), in_files, total)?;
            }
            progress(
                "W8",
                tool,
                run,
                format!(
                    "{:.3} s, {:.2} s CPU",
                    wall.as_secs_f64(),
                    u.cpu().as_secs_f64()
                ),
            );
            add_usage(&mut ctx.results, "W8", tool, run, &u, wall, total);
            ctx.results.add("W8", tool, run, "lines_out", n as f64);
        }
    }
    let _ = ns;
    Ok(())
}

/// Lines in every file under `dir` (`--output-dir`'s tree).
fn count_file_lines(dir: &std::path::Path) -> Result<u64, String> {
    let mut n = 0;
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            n += count_file_lines(&path)?;
        } else {
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            n += bytes.iter().filter(|b| **b == b'\n').count() as u64;
        }
    }
    Ok(n)
}

// ---- W2 -------------------------------------------------------------------------------

pub async fn w2(ctx: &mut Ctx) -> Result<(), String> {
    let pods_n = ctx.plan.w1_pods;
    ctx.results.title(
        "W2",
        format!("per-line chunks — W1's {pods_n} × {} lines served one HTTP chunk per line (kubelet-style), HTTPS and then plain HTTP/1.1, `--no-follow | wc -l`", ctx.plan.w1_lines),
    );
    w2_on(ctx, Wire::Http2, "", "w2").await?;
    // Plain HTTP/1.1: the drain where a client's own per-chunk cost shows most.
    w2_on(ctx, Wire::Plain, " (plain HTTP)", "w2-plain").await
}

/// W2 on one kind of server; `label` tells the tools' rows apart.
async fn w2_on(ctx: &mut Ctx, wire: Wire, label: &str, name: &'static str) -> Result<(), String> {
    let (pods_n, lines) = (ctx.plan.w1_pods, ctx.plan.w1_lines);
    let c = Cluster::start_with(ctx, name, Chunking::PerLine, wire).await?;
    let ns = "perline";
    let pods = c.create_pods(
        ns,
        "perline",
        pods_n,
        &ContainerSpec::new("app").backlog(lines),
        "Always",
    );
    c.wait_generated(ns, &pods, lines).await?;
    let total = pods_n as u64 * lines;
    let streams = pods_n.to_string();
    let args = strings(&[
        "-l",
        "app=perline",
        "-n",
        ns,
        "--no-follow",
        "--max-log-requests",
        &streams,
    ]);
    verify_drain(ctx, &c, "W2", &args, &pods, lines)?;
    let (ktail, curl_tool) = (format!("ktail{label}"), format!("curl | wc -l{label}"));
    for run in 1..=ctx.plan.runs {
        let cmd = command(ctx, &c, &ctx.tools.ktail, &args);
        let (u, wall, n) = run_to_wc(ctx, cmd, Duration::from_secs(180), "ktail")?;
        expect_count("ktail", n, total)?;
        progress(
            "W2",
            &ktail,
            run,
            format!(
                "{:.3} s, {:.3} µs CPU/line",
                wall.as_secs_f64(),
                u.cpu().as_secs_f64() * 1e6 / n as f64
            ),
        );
        add_usage(&mut ctx.results, "W2", &ktail, run, &u, wall, n);
    }
    if let Some(curl) = ctx.tools.curl.clone() {
        let cfg = curl_config(ctx, &c, ns, &pods, "timestamps=true", false)?;
        for run in 1..=ctx.plan.runs {
            let cmd = command(ctx, &c, &curl, &curl_args(&c, &cfg, pods_n, &[]));
            let (u, wall, n) = run_to_wc(ctx, cmd, Duration::from_secs(180), "curl")?;
            expect_count("curl", n, total)?;
            progress(
                "W2",
                &curl_tool,
                run,
                format!("{:.3} s", wall.as_secs_f64()),
            );
            add_usage(&mut ctx.results, "W2", &curl_tool, run, &u, wall, n);
        }
    }
    c.stop().await;
    Ok(())
}

// ---- W3 -------------------------------------------------------------------------------

pub async fn w3(ctx: &mut Ctx) -> Result<(), String> {
    let p = ctx.plan.clone();
    let c = Cluster::start(ctx, "w3", Chunking::PerLine).await?;
    let ns = "follow";
    let pods = c.create_pods(
        ns,
        "follow",
        p.w3_pods,
        &ContainerSpec::new("app").rate(p.w3_rate),
        "Always",
    );
    c.wait_generated(ns, &pods, 1).await?;
    ctx.results.title(
        "W3",
        format!(
            "follow latency — {} pods × {} lines/s ({:.0} lines/s), one chunk per line, HTTPS, `--tail 0`; latency = arrival on the tool's stdout − the line's API timestamp, over a {} s window after {} s warm-up",
            p.w3_pods,
            p.w3_rate,
            p.w3_pods as f64 * p.w3_rate,
            p.w3_window.as_secs(),
            p.w3_warmup.as_secs()
        ),
    );
    let streams = p.w3_pods.to_string();
    let ktail_args = strings(&[
        "-l",
        "app=follow",
        "-n",
        ns,
        "-t",
        "--tail",
        "0",
        "--max-log-requests",
        &streams,
    ]);
    for run in 1..=p.runs {
        let cmd = command(ctx, &c, &ctx.tools.ktail, &ktail_args);
        follow_run(
            ctx,
            cmd,
            "ktail",
            run,
            p.w3_pods,
            Duration::from_secs(30),
            false,
            true,
        )?;
    }
    // --sort holds each line until every stream has shown a later one (or the window
    // passes): the latency it adds, and its CPU.
    if ktail_help(ctx).contains("--sort") {
        let mut args = ktail_args.clone();
        args.push("--sort".into());
        for run in 1..=p.runs {
            let cmd = command(ctx, &c, &ctx.tools.ktail, &args);
            follow_run(
                ctx,
                cmd,
                "ktail --sort",
                run,
                p.w3_pods,
                Duration::from_secs(30),
                false,
                true,
            )?;
        }
    }
    if let Some(curl) = ctx.tools.curl.clone() {
        let cfg = curl_config(
            ctx,
            &c,
            ns,
            &pods,
            "follow=true&timestamps=true&tailLines=0",
            false,
        )?;
        for run in 1..=p.slow_runs {
            let cmd = command(ctx, &c, &curl, &curl_args(&c, &cfg, p.w3_pods, &["-N"]));
            follow_run(
                ctx,
                cmd,
                "curl",
                run,
                p.w3_pods,
                Duration::from_secs(30),
                false,
                false,
            )?;
        }
    }
    if let Some(kubectl) = ctx.tools.kubectl.clone() {
        let args = strings(&[
            "logs",
            "-l",
            "app=follow",
            "-n",
            ns,
            "--prefix",
            "--timestamps",
            "-f",
            "--tail=0",
            "--max-log-requests",
            &streams,
        ]);
        for run in 1..=p.slow_runs {
            let cmd = command(ctx, &c, &kubectl, &args);
            follow_run(
                ctx,
                cmd,
                "kubectl",
                run,
                p.w3_pods,
                Duration::from_secs(90),
                false,
                false,
            )?;
        }
    }
    if let Some(kubetail) = ctx.tools.kubetail.clone() {
        let args = strings(&[
            "-l",
            "app=follow",
            "-n",
            ns,
            "--timestamps",
            "--tail",
            "0",
            "-k",
            "false",
        ]);
        let cmd = command(ctx, &c, &kubetail, &args);
        follow_run(
            ctx,
            cmd,
            "kubetail",
            1,
            p.w3_pods,
            p.kubetail_cap,
            true,
            false,
        )?;
    }
    c.stop().await;
    Ok(())
}

/// Starts a follower, waits until every stream delivered, then measures latency and CPU
/// over the window. `group` sums CPU and RSS over the tool's process group.
#[allow(clippy::too_many_arguments)]
fn follow_run(
    ctx: &mut Ctx,
    mut cmd: Command,
    tool: &str,
    run: usize,
    streams: usize,
    connect_cap: Duration,
    group: bool,
    strict: bool,
) -> Result<(), String> {
    let p = ctx.plan.clone();
    let mut child = Child::spawn(&mut cmd).map_err(|e| format!("cannot start {tool}: {e}"))?;
    let reader = OutputReader::start(child.take_stdout().ok_or("no stdout pipe")?);
    let all = reader.wait_until(connect_cap, |s| s.streams.len() >= streams);
    let connected = child.started().elapsed();
    let live = reader.seen().streams.len();
    if child.has_exited() {
        return Err(format!("{tool} exited early; stderr: {}", stderr_tail(ctx)));
    }
    std::thread::sleep(p.w3_warmup);
    let sample = |pid: i32| {
        if group {
            let s = proc::sample_group(pid);
            (s.cpu + s.children_cpu, s.rss_kib)
        } else {
            proc::sample(pid)
                .map(|s| (s.cpu, s.rss_kib))
                .unwrap_or_default()
        }
    };
    let (cpu0, _) = sample(child.pid());
    let t0 = Instant::now();
    reader.record(true);
    std::thread::sleep(p.w3_window);
    reader.record(false);
    let (cpu1, rss) = sample(child.pid());
    let window = t0.elapsed();
    child.stop(Duration::from_secs(2));
    let seen = reader.seen();
    let mut lat = seen.latencies_ns.clone();
    let (mut gaps, mut dups) = (0, 0);
    for s in seen.streams.values() {
        let (g, d) = s.gaps_and_dups();
        gaps += g;
        dups += d;
    }
    drop(seen);
    lat.sort_unstable();
    let ms = |q: f64| quantile(&lat, q).map_or(f64::NAN, |v| v as f64 / 1e6);
    let r = &mut ctx.results;
    r.add("W3", tool, run, "latency_p50_ms", ms(0.5));
    r.add("W3", tool, run, "latency_p99_ms", ms(0.99));
    r.add("W3", tool, run, "latency_max_ms", ms(1.0));
    r.add(
        "W3",
        tool,
        run,
        "lines_per_s",
        lat.len() as f64 / window.as_secs_f64(),
    );
    r.add(
        "W3",
        tool,
        run,
        "cpu_pct",
        (cpu1.saturating_sub(cpu0)).as_secs_f64() / window.as_secs_f64() * 100.0,
    );
    r.add("W3", tool, run, "rss_mib", mib(rss));
    r.add("W3", tool, run, "gaps_or_dups", (gaps + dups) as f64);
    if all {
        r.add("W3", tool, run, "all_streams_s", connected.as_secs_f64());
    } else {
        r.note(
            "W3",
            format!(
                "{tool} run {run}: only {live} of {streams} streams delivered within {} s",
                connect_cap.as_secs()
            ),
        );
    }
    progress(
        "W3",
        tool,
        run,
        format!(
            "p50 {:.2} ms, p99 {:.2} ms, {:.0} lines/s, CPU {:.1} %",
            ms(0.5),
            ms(0.99),
            lat.len() as f64 / window.as_secs_f64(),
            (cpu1.saturating_sub(cpu0)).as_secs_f64() / window.as_secs_f64() * 100.0
        ),
    );
    if strict && (gaps + dups) > 0 {
        return Err(format!(
            "{tool}: {gaps} gaps and {dups} duplicates in followed streams"
        ));
    }
    Ok(())
}

// ---- W4 and W5 (idle) ----------------------------------------------------------------

/// What one follower run over many idle streams showed.
struct FanOut {
    /// From start until every stream has printed its line.
    all_streams: Duration,
    /// RSS and open descriptors 3 s later, with every stream idle.
    idle_rss_kib: u64,
    fds: usize,
    /// The server's connections open at that moment.
    connections: usize,
    max_rss_kib: u64,
}

/// Follows the `app=<ns>` pods of namespace `ns` (`pods` of them, one line each) with ktail
/// until every stream has printed its line, then measures the follower while they idle.
fn fan_out(ctx: &Ctx, c: &Cluster, ns: &str, pods: usize) -> Result<FanOut, String> {
    let streams = pods.to_string();
    let selector = format!("app={ns}");
    let args = strings(&["-l", &selector, "-n", ns, "--max-log-requests", &streams]);
    let mut cmd = command(ctx, c, &ctx.tools.ktail, &args);
    let mut child = Child::spawn(&mut cmd).map_err(|e| format!("cannot start ktail: {e}"))?;
    let reader = OutputReader::start(child.take_stdout().ok_or("no stdout pipe")?);
    let all = reader.wait_until(Duration::from_secs(60), |s| s.streams.len() >= pods);
    let all_streams = child.started().elapsed();
    if !all {
        let live = reader.seen().streams.len();
        child.stop(Duration::from_secs(2));
        return Err(format!(
            "ktail: only {live} of {pods} streams delivered within 60 s; {}",
            stderr_tail(ctx)
        ));
    }
    std::thread::sleep(Duration::from_secs(3));
    let idle_rss_kib = proc::sample(child.pid()).map_or(0, |s| s.rss_kib);
    let fds = std::fs::read_dir(format!("/proc/{}/fd", child.pid())).map_or(0, |d| d.count());
    let connections = c.sim.connections().iter().filter(|s| s.open).count();
    let u = child.stop(Duration::from_secs(2));
    Ok(FanOut {
        all_streams,
        idle_rss_kib,
        fds,
        connections,
        max_rss_kib: u.max_rss_kib,
    })
}

/// Starts a cluster offering `wire` with `pods` pods of one line each in namespace `fan`,
/// runs [`fan_out`] `runs` times and records the time under `workloads.0` and the idle
/// follower under `workloads.1`. Returns the cluster for more tools to run against.
async fn fan_out_runs(
    ctx: &mut Ctx,
    wire: Wire,
    pods: usize,
    runs: usize,
    tool: &str,
    workloads: (&'static str, &'static str),
) -> Result<Cluster, String> {
    let ns = "fan";
    let name = match wire {
        Wire::Http2 => "fan-http2",
        Wire::Http1 | Wire::Plain => "fan-http1",
    };
    let c = Cluster::start_with(ctx, name, Chunking::PerLine, wire).await?;
    let names = c.create_pods(
        ns,
        ns,
        pods,
        &ContainerSpec::new("app").backlog(1),
        "Always",
    );
    c.wait_generated(ns, &names, 1).await?;
    let (time, memory) = workloads;
    for run in 1..=runs {
        let f = fan_out(ctx, &c, ns, pods)?;
        let r = &mut ctx.results;
        r.add(
            time,
            tool,
            run,
            "all_streams_s",
            f.all_streams.as_secs_f64(),
        );
        r.add(time, tool, run, "connections", f.connections as f64);
        r.add(memory, tool, run, "idle_rss_mib", mib(f.idle_rss_kib));
        let per_stream = f.idle_rss_kib as f64 / pods as f64;
        r.add(memory, tool, run, "idle_kib_per_stream", per_stream);
        r.add(memory, tool, run, "open_fds", f.fds as f64);
        r.add(memory, tool, run, "max_rss_mib", mib(f.max_rss_kib));
        progress(
            time,
            tool,
            run,
            format!(
                "{:.2} s to {pods} streams over {}, idle RSS {:.1} MiB, {} fds, {} connections",
                f.all_streams.as_secs_f64(),
                wire.label(),
                mib(f.idle_rss_kib),
                f.fds,
                f.connections
            ),
        );
    }
    Ok(c)
}

pub async fn w4_w5_idle(ctx: &mut Ctx) -> Result<(), String> {
    let p = ctx.plan.clone();
    ctx.results.title(
        "W4",
        format!("fan-out — {} pods followed (one line each, then idle), HTTPS over HTTP/2 (as kube-apiserver offers it, 100 streams per connection) and over HTTP/1.1 only; time from start until every stream has printed its line", p.w4_pods),
    );
    ctx.results.title(
        "W5",
        format!("memory — RSS of the follower with the {} W4 streams idle (3 s after the last first line); then peak RSS with stdout blocked for {} s while {} pods write {} lines/s each, and every line checked afterwards", p.w4_pods, p.w5_block.as_secs(), p.w5_pods, p.w5_rate),
    );
    let mut h2_cluster = None;
    for wire in [Wire::Http2, Wire::Http1] {
        let tool = match wire {
            Wire::Http2 => "ktail",
            Wire::Http1 | Wire::Plain => "ktail (HTTP/1.1)",
        };
        let c = fan_out_runs(ctx, wire, p.w4_pods, p.runs, tool, ("W4", "W5")).await?;
        if wire == Wire::Http2 {
            h2_cluster = Some(c);
        } else {
            c.stop().await;
        }
    }
    let c = h2_cluster.ok_or("no HTTP/2 cluster")?;
    let ns = "fan";
    let streams = p.w4_pods.to_string();
    if let Some(kubectl) = ctx.tools.kubectl.clone() {
        let args = strings(&[
            "logs",
            "-l",
            "app=fan",
            "-n",
            ns,
            "--prefix",
            "-f",
            "--tail=-1",
            "--max-log-requests",
            &streams,
        ]);
        let mut cmd = command(ctx, &c, &kubectl, &args);
        let mut child = Child::spawn(&mut cmd).map_err(|e| format!("cannot start kubectl: {e}"))?;
        let reader = OutputReader::start(child.take_stdout().ok_or("no stdout pipe")?);
        let all = reader.wait_until(p.w4_kubectl_cap, |s| s.streams.len() >= p.w4_pods);
        let t = child.started().elapsed();
        let live = reader.seen().streams.len();
        let rss = proc::sample(child.pid()).map_or(0, |s| s.rss_kib);
        child.stop(Duration::from_secs(2));
        let r = &mut ctx.results;
        r.add("W4", "kubectl", 1, "streams_at_end", live as f64);
        if all {
            r.add("W4", "kubectl", 1, "all_streams_s", t.as_secs_f64());
            r.add("W5", "kubectl", 1, "idle_rss_mib", mib(rss));
        } else {
            let rate = live as f64 / t.as_secs_f64();
            r.add(
                "W4",
                "kubectl",
                1,
                "all_streams_s",
                p.w4_pods as f64 / rate.max(1e-9),
            );
            r.add("W5", "kubectl", 1, "rss_at_cap_mib", mib(rss));
            r.note(
                "W4",
                format!("kubectl was stopped after {:.0} s with {live} of {} streams delivering ({:.1} streams/s, client-side throttling); its all_streams_s is extrapolated", t.as_secs_f64(), p.w4_pods, rate),
            );
        }
        progress(
            "W4",
            "kubectl",
            1,
            format!(
                "{live} streams after {:.1} s, RSS {:.0} MiB",
                t.as_secs_f64(),
                mib(rss)
            ),
        );
    }
    c.stop().await;
    Ok(())
}

// ---- W9 (thousands of streams) -----------------------------------------------------------

pub async fn w9_scale(ctx: &mut Ctx) -> Result<(), String> {
    let p = ctx.plan.clone();
    ctx.results.title(
        "W9",
        format!("scale — {} pods followed (one line each, then idle), HTTPS over HTTP/2 (100 streams per connection) and over HTTP/1.1 only; time until every stream has printed its line, then RSS, descriptors and the server's open connections 3 s later", p.w9_pods),
    );
    for wire in [Wire::Http2, Wire::Http1] {
        let tool = format!("ktail {}", wire.label());
        let c = fan_out_runs(ctx, wire, p.w9_pods, p.slow_runs, &tool, ("W9", "W9")).await?;
        c.stop().await;
    }
    Ok(())
}

// ---- W5 (stdout blocked) ----------------------------------------------------------------

pub async fn w5_blocked(ctx: &mut Ctx) -> Result<(), String> {
    let p = ctx.plan.clone();
    let c = Cluster::start(ctx, "w5", Chunking::PerLine).await?;
    let tool = "ktail blocked";
    for run in 1..=p.w5_runs {
        let ns = format!("load{run}");
        let pods = c.create_pods(
            &ns,
            "load",
            p.w5_pods,
            &ContainerSpec::new("app").rate(p.w5_rate),
            "Never",
        );
        c.wait_generated(&ns, &pods, 1).await?;
        let streams = p.w5_pods.to_string();
        let args = strings(&["-l", "app=load", "-n", &ns, "--max-log-requests", &streams]);
        let mut cmd = command(ctx, &c, &ctx.tools.ktail, &args);
        let mut child = Child::spawn(&mut cmd).map_err(|e| format!("cannot start ktail: {e}"))?;
        let reader = OutputReader::start(child.take_stdout().ok_or("no stdout pipe")?);
        if !reader.wait_until(Duration::from_secs(30), |s| s.streams.len() >= p.w5_pods) {
            child.stop(Duration::from_secs(2));
            return Err(format!(
                "W5: ktail did not open {} streams within 30 s",
                p.w5_pods
            ));
        }
        std::thread::sleep(Duration::from_secs(2));
        let before = proc::sample(child.pid()).map_or(0, |s| s.rss_kib);
        reader.pause(true);
        let blocked = Instant::now();
        let mut peak = before;
        while blocked.elapsed() < p.w5_block {
            std::thread::sleep(Duration::from_millis(100));
            peak = peak.max(proc::sample(child.pid()).map_or(0, |s| s.rss_kib));
        }
        let behind: u64 = pods
            .iter()
            .map(|pd| c.sim.generated(&ns, pd, "app"))
            .sum::<u64>()
            - reader.seen().lines;
        reader.pause(false);
        let resumed = Instant::now();
        std::thread::sleep(Duration::from_secs(2));
        for pd in &pods {
            c.sim.terminate_container(&ns, pd, "app", 0);
        }
        // Ground truth after the containers ended: every seq 0..generated, once.
        let want: HashMap<String, u64> = pods
            .iter()
            .map(|pd| (pd.clone(), c.sim.generated(&ns, pd, "app")))
            .collect();
        let complete = reader.wait_until(Duration::from_secs(120), |s| {
            want.iter()
                .all(|(pd, n)| s.stream(pd, "app").is_some_and(|st| st.lines >= *n))
        });
        let catch_up = resumed.elapsed();
        let u = child.stop(Duration::from_secs(2));
        let seen = reader.seen();
        let mut bad = 0u64;
        for (pd, n) in &want {
            match seen.stream(pd, "app") {
                Some(st) if st.is_exactly(*n) => {}
                Some(st) => {
                    let (g, d) = st.gaps_and_dups();
                    let (lo, hi) = st.range().unwrap_or((0, 0));
                    bad += g + d + lo + n.saturating_sub(hi + 1);
                }
                None => bad += n,
            }
        }
        let total: u64 = want.values().sum();
        drop(seen);
        let r = &mut ctx.results;
        r.add("W5", tool, run, "blocked_peak_rss_mib", mib(peak));
        r.add("W5", tool, run, "rss_before_block_mib", mib(before));
        r.add("W5", tool, run, "max_rss_mib", mib(u.max_rss_kib));
        r.add("W5", tool, run, "lines_behind_at_unblock", behind as f64);
        r.add("W5", tool, run, "catch_up_s", catch_up.as_secs_f64());
        r.add("W5", tool, run, "lines_checked", total as f64);
        r.add("W5", tool, run, "lost_or_dup", bad as f64);
        progress(
            "W5",
            tool,
            run,
            format!(
                "RSS {:.1} → peak {:.1} MiB blocked, {behind} lines behind, {total} lines checked, {bad} lost or repeated, complete: {complete}",
                mib(before),
                mib(peak)
            ),
        );
    }
    c.stop().await;
    Ok(())
}

// ---- W6 -------------------------------------------------------------------------------

pub async fn w6(ctx: &mut Ctx) -> Result<(), String> {
    let p = ctx.plan.clone();
    let c = Cluster::start(ctx, "w6", Chunking::PerLine).await?;
    let ns = "roll";
    c.sim.create_namespace(ns);
    c.sim.set_controller_grace(Duration::from_millis(200));
    c.sim.create_deployment(
        ns,
        WorkloadSpec::new("web", p.w6_replicas)
            .label("app", "roll")
            .container(
                ContainerSpec::new("app")
                    .image("nginx:1.0")
                    .backlog(1)
                    .rate(1.0),
            ),
    );
    let mut image_no = 0;
    rollout_done(&c, ns, p.w6_replicas, "nginx:1.0").await?;
    ctx.results.title(
        "W6",
        format!(
            "pickup — Deployment of {} replicas rolled {} times per run (maxSurge 1, 200 ms grace), each new container writes a line as it starts; time from the API reporting it Running to its first line on stdout",
            p.w6_replicas, p.w6_rollouts
        ),
    );
    let mut pooled: Vec<i64> = Vec::new();
    for run in 1..=p.w6_runs {
        let args = strings(&["-l", "app=roll", "-n", ns, "--max-log-requests", "200"]);
        let mut cmd = command(ctx, &c, &ctx.tools.ktail, &args);
        let mut child = Child::spawn(&mut cmd).map_err(|e| format!("cannot start ktail: {e}"))?;
        let reader = OutputReader::start(child.take_stdout().ok_or("no stdout pipe")?);
        let existing: HashSet<String> = c.sim.pod_names(ns).into_iter().collect();
        if !reader.wait_until(Duration::from_secs(30), |s| {
            s.streams.len() >= existing.len()
        }) {
            child.stop(Duration::from_secs(2));
            return Err("W6: ktail did not pick up the existing pods within 30 s".into());
        }
        let running_at: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
        let recorder = {
            let (sim, running_at, existing) = (c.sim.clone(), running_at.clone(), existing.clone());
            tokio::spawn(async move {
                sim.wait_for(Duration::from_secs(900), |s| {
                    let mut seen = running_at.lock().unwrap_or_else(|e| e.into_inner());
                    for name in s.pod_names(ns) {
                        if existing.contains(&name) || seen.contains_key(&name) {
                            continue;
                        }
                        if s.pod(ns, &name).is_some_and(|pod| is_running(&pod)) {
                            seen.insert(name, now_ns());
                        }
                    }
                    false
                })
                .await
            })
        };
        for _ in 0..p.w6_rollouts {
            image_no += 1;
            let image = format!("nginx:1.{image_no}");
            c.sim.set_image(ns, "web", "app", &image);
            rollout_done(&c, ns, p.w6_replicas, &image).await?;
        }
        let started: HashMap<String, i64> =
            running_at.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let all_seen = reader.wait_until(Duration::from_secs(10), |s| {
            started.keys().all(|pd| s.stream(pd, "app").is_some())
        });
        recorder.abort();
        child.stop(Duration::from_secs(2));
        let seen = reader.seen();
        let mut pickups: Vec<i64> = Vec::new();
        let mut missed = 0;
        for (pd, at) in &started {
            match seen.stream(pd, "app") {
                Some(s) => pickups.push(s.first_arrival_ns - at),
                None => missed += 1,
            }
        }
        drop(seen);
        pickups.sort_unstable();
        pooled.extend(&pickups);
        let ms = |q: f64| quantile(&pickups, q).map_or(f64::NAN, |v| v as f64 / 1e6);
        let r = &mut ctx.results;
        r.add("W6", "ktail", run, "pickup_p50_ms", ms(0.5));
        r.add("W6", "ktail", run, "pickup_p99_ms", ms(0.99));
        r.add("W6", "ktail", run, "pickup_max_ms", ms(1.0));
        r.add("W6", "ktail", run, "new_containers", started.len() as f64);
        r.add("W6", "ktail", run, "not_picked_up", missed as f64);
        progress(
            "W6",
            "ktail",
            run,
            format!(
                "{} new containers, pickup p50 {:.1} ms, p99 {:.1} ms, {missed} missed (all seen: {all_seen})",
                started.len(),
                ms(0.5),
                ms(0.99)
            ),
        );
    }
    pooled.sort_unstable();
    let ms = |q: f64| quantile(&pooled, q).map_or(f64::NAN, |v| v as f64 / 1e6);
    ctx.results.note(
        "W6",
        format!(
            "all runs pooled: {} pickups, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            pooled.len(),
            ms(0.5),
            ms(0.99),
            ms(1.0)
        ),
    );
    c.stop().await;
    Ok(())
}

fn is_running(pod: &serde_json::Value) -> bool {
    pod["status"]["containerStatuses"]
        .as_array()
        .is_some_and(|cs| {
            !cs.is_empty()
                && cs.iter().all(|c| {
                    c["state"]["running"].is_object()
                        && c["containerID"].as_str().is_some_and(|id| !id.is_empty())
                })
        })
}

async fn rollout_done(c: &Cluster, ns: &str, replicas: u32, image: &str) -> Result<(), String> {
    let ok = c
        .sim
        .wait_for(Duration::from_secs(120), |s| {
            let names = s.pod_names(ns);
            names.len() == replicas as usize
                && names.iter().all(|n| {
                    s.pod(ns, n).is_some_and(|pod| {
                        pod["spec"]["containers"][0]["image"] == image
                            && pod["metadata"]["deletionTimestamp"].is_null()
                            && is_running(&pod)
                    })
                })
        })
        .await;
    if ok {
        return Ok(());
    }
    let pods: Vec<String> = c
        .sim
        .pod_names(ns)
        .iter()
        .filter_map(|n| c.sim.pod(ns, n).map(|p| (n.clone(), p)))
        .map(|(n, p)| {
            format!(
                "{n} {} {}{}",
                p["spec"]["containers"][0]["image"].as_str().unwrap_or("?"),
                p["status"]["phase"].as_str().unwrap_or("?"),
                if p["metadata"]["deletionTimestamp"].is_null() {
                    ""
                } else {
                    " deleting"
                }
            )
        })
        .collect();
    let sets: Vec<String> = c
        .sim
        .objects("replicasets", ns)
        .iter()
        .map(|rs| {
            format!(
                "{} rev {} {} want {} have {}",
                rs["metadata"]["name"].as_str().unwrap_or("?"),
                rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                    .as_str()
                    .unwrap_or("?"),
                rs["spec"]["template"]["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or("?"),
                rs["spec"]["replicas"],
                rs["status"]["replicas"]
            )
        })
        .collect();
    let deploy: Vec<String> = c
        .sim
        .objects("deployments", ns)
        .iter()
        .map(|d| {
            format!(
                "generation {} status {}",
                d["metadata"]["generation"], d["status"]
            )
        })
        .collect();
    Err(format!(
        "the rollout to {image} did not finish within 120 s; pods: {}; replicasets: {}; deployment: {}",
        pods.join(", "),
        sets.join(", "),
        deploy.join(", ")
    ))
}

// ---- RESULTS.md -----------------------------------------------------------------------

fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn utc_now() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M:%S UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn first_line_of(program: &Path, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|_| "not found".into())
}

fn machine(ctx: &Ctx) -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map_or("?".into(), |k| format!("{:.1} GiB", k / 1024.0 / 1024.0));
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut v = vec![
        ("CPU".to_string(), format!("{model}, {cores} cores")),
        ("memory".into(), mem),
        ("kernel".into(), kernel.trim().to_string()),
        (
            "rustc".into(),
            first_line_of(Path::new("rustc"), &["--version"]),
        ),
        (
            "ktail".into(),
            first_line_of(&ctx.tools.ktail, &["--version"]),
        ),
    ];
    if let Some(k) = &ctx.tools.kubectl {
        v.push(("kubectl".into(), first_line_of(k, &["version", "--client"])));
    }
    if let Some(k) = &ctx.tools.kubetail {
        v.push(("kubetail".into(), first_line_of(k, &["--version"])));
    }
    if let Some(k) = &ctx.tools.curl {
        v.push(("curl".into(), first_line_of(k, &["--version"])));
    }
    v
}

pub fn results_markdown(
    ctx: &Ctx,
    verdicts: &[Verdict],
    started: &str,
    elapsed: Duration,
    quick: bool,
    out: &Path,
) -> String {
    let mut md = String::from("# ktail benchmark results\n\n");
    md.push_str("Generated by `bench/run` (the `ktail-bench` program in `crates/ktail-bench`); raw numbers in `bench/results/*.csv`. ");
    md.push_str("Every tool reads the same simulated cluster (`crates/kube-sim`, in the benchmark process, HTTPS on 127.0.0.1) in the same run; the simulator shares the two cores with the tool under test. ");
    md.push_str("CPU and peak RSS are the tool's own (`wait4`), wall time runs from start until the consumer (`wc -l` or the benchmark's reader) has everything. ");
    md.push_str("Each workload is described in `crates/ktail-bench/src/workloads.rs`.\n\n");
    if quick {
        md.push_str("**Quick run: reduced sizes, not comparable with the targets.**\n\n");
    }
    md.push_str("## Machine\n\n| | |\n|---|---|\n");
    for (k, v) in machine(ctx) {
        md.push_str(&format!("| {k} | {v} |\n"));
    }
    md.push_str(&format!(
        "| run | {started} → {}, {:.0} s, {} runs per tool ({} for kubectl and the slow workloads) |\n",
        utc_now(),
        elapsed.as_secs_f64(),
        ctx.plan.runs,
        ctx.plan.slow_runs
    ));
    md.push_str(&format!(
        "| load average (1, 5, 15 min) | {} at the start, {} at the end |\n",
        ctx.load_at_start,
        load_average()
    ));
    md.push_str("\n## Targets\n\n");
    md.push_str(&report::verdicts_markdown(verdicts));
    md.push_str("\n## All numbers: median, min and max over the runs; ÷ ktail is the median divided by ktail's\n");
    md.push_str(&report::table_markdown(&ctx.results));
    let notes = out.join("NOTES.md");
    if let Ok(text) = std::fs::read_to_string(&notes) {
        md.push('\n');
        md.push_str(&text);
    }
    md
}

// ---- W10 ------------------------------------------------------------------------------

/// One container's log holds a 100 MiB line without a newline in between, between two
/// short lines; each tool reads the log once. Peak RSS shows whether a tool holds the
/// whole line.
pub async fn w10_long_line(ctx: &mut Ctx) -> Result<(), String> {
    const MIB: usize = 1 << 20;
    let len = if ctx.plan.w1_lines < 20_000 {
        10 * MIB
    } else {
        100 * MIB
    };
    let c = Cluster::start(ctx, "w10", Chunking::Coalesced).await?;
    let ns = "long";
    let pods = c.create_pods(
        ns,
        "long",
        1,
        &ContainerSpec::new("app").backlog(1),
        "Always",
    );
    c.wait_generated(ns, &pods, 1).await?;
    let line: String = (0..len).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    c.sim.log(ns, &pods[0], "app", &line);
    c.sim.log(ns, &pods[0], "app", "after");
    drop(line);
    ctx.results.title(
        "W10",
        format!(
            "long line — one container logs a {} MiB line between two short ones, read once (`--no-follow`), HTTPS, output piped to `wc -l`",
            len / MIB
        ),
    );
    let mut tools = vec![(
        "ktail",
        ctx.tools.ktail.clone(),
        strings(&[&pods[0], "-n", ns, "--no-follow"]),
        ctx.plan.runs,
    )];
    if let Some(kubectl) = ctx.tools.kubectl.clone() {
        let args = strings(&["logs", "-n", ns, &pods[0], "-c", "app"]);
        tools.push(("kubectl", kubectl, args, ctx.plan.slow_runs));
    }
    for (tool, program, args, runs) in tools {
        for run in 1..=runs {
            let cmd = command(ctx, &c, &program, &args);
            let (u, wall, n) = run_to_wc(ctx, cmd, Duration::from_secs(300), tool)?;
            expect_count(tool, n, 3)?;
            progress(
                "W10",
                tool,
                run,
                format!(
                    "{:.2} s, peak RSS {:.1} MiB",
                    wall.as_secs_f64(),
                    mib(u.max_rss_kib)
                ),
            );
            add_usage(&mut ctx.results, "W10", tool, run, &u, wall, n);
        }
    }
    c.stop().await;
    Ok(())
}
