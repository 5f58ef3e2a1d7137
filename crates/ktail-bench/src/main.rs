//! `ktail-bench`: runs ktail, kubectl, kubetail and curl on the same simulated cluster,
//! workload by workload (W1–W6, W8, W9 and W10, each described in `workloads`), and prints and
//! writes the table.
//!
//! The simulator runs in this process on a two-worker tokio runtime: the workloads are
//! built through its Rust API (the `kube-sim` binary only has fixed scenarios), and the
//! ground truth — lines generated per container, the moment a container became Running —
//! is read from it directly instead of through the API the tools under test use. Each
//! tool runs as a child process; its CPU and peak RSS come from `wait4`, so the
//! simulator's own CPU is never counted against it (but it shares the two cores).
//!
//! ```text
//! ktail-bench --ktail PATH [--kubectl PATH] [--kubetail PATH] [--curl PATH]
//!             [--runs N] [--only W1,W3] [--out DIR] [--quick] [--wrap-ktail 'perf record -g --']
//! ```

mod check;
mod proc;
mod report;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use workloads::{Ctx, Plan, Tools};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match Opts::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("ktail-bench: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // The workloads run on the main thread (children are forked from it, see `proc`); the
    // simulator's tasks run on the two workers.
    match rt.block_on(run(opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ktail-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: ktail-bench --ktail PATH [--kubectl PATH] [--kubetail PATH] [--curl PATH] [--runs N] [--only W1,W3,...] [--out DIR] [--quick] [--wrap-ktail 'CMD ARGS']";

struct Opts {
    tools: Tools,
    runs: usize,
    only: Option<Vec<String>>,
    out: PathBuf,
    quick: bool,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let mut o = Opts {
            tools: Tools::default(),
            runs: 5,
            only: None,
            out: PathBuf::from("bench"),
            quick: false,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = || {
                it.next()
                    .cloned()
                    .ok_or_else(|| format!("{a} needs a value"))
            };
            match a.as_str() {
                "--ktail" => o.tools.ktail = PathBuf::from(value()?),
                "--kubectl" => o.tools.kubectl = Some(PathBuf::from(value()?)),
                "--kubetail" => o.tools.kubetail = Some(PathBuf::from(value()?)),
                "--curl" => o.tools.curl = Some(PathBuf::from(value()?)),
                "--wrap-ktail" => {
                    o.tools.wrap_ktail = value()?.split_whitespace().map(str::to_string).collect()
                }
                "--runs" => {
                    o.runs = value()?
                        .parse()
                        .ok()
                        .filter(|n| (1..=50).contains(n))
                        .ok_or("--runs takes 1..=50")?
                }
                "--only" => {
                    o.only = Some(
                        value()?
                            .split(',')
                            .map(|w| w.trim().to_uppercase())
                            .collect(),
                    )
                }
                "--out" => o.out = PathBuf::from(value()?),
                "--quick" => o.quick = true,
                "-h" | "--help" => return Err("help".into()),
                other => return Err(format!("unknown argument {other}")),
            }
        }
        if o.tools.ktail.as_os_str().is_empty() {
            return Err("--ktail is required".into());
        }
        Ok(o)
    }
}

async fn run(opts: Opts) -> Result<(), String> {
    let started = Instant::now();
    let date_start = workloads::utc_now();
    let tmp = std::env::temp_dir().join(format!("ktail-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| format!("cannot create {}: {e}", tmp.display()))?;
    let plan = if opts.quick {
        Plan::quick(opts.runs)
    } else {
        Plan::full(opts.runs)
    };
    let mut ctx = Ctx::new(opts.tools, plan, tmp.clone());
    let want = |w: &str| opts.only.as_ref().is_none_or(|o| o.iter().any(|x| x == w));
    println!(
        "ktail-bench: {} runs per tool{}",
        ctx.plan.runs,
        if opts.quick { " (quick sizes)" } else { "" }
    );
    // A workload that fails is reported and the others still run.
    type Step = fn(&mut Ctx) -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + '_>>;
    let steps: [(&str, bool, Step); 8] = [
        ("W1/W8", want("W1") || want("W8"), |c| {
            let (w1, w8) = (c.only_w1, c.only_w8);
            Box::pin(workloads::w1_w8(c, w1, w8))
        }),
        ("W2", want("W2"), |c| Box::pin(workloads::w2(c))),
        ("W3", want("W3"), |c| Box::pin(workloads::w3(c))),
        ("W4/W5", want("W4") || want("W5"), |c| {
            Box::pin(workloads::w4_w5_idle(c))
        }),
        ("W5", want("W5"), |c| Box::pin(workloads::w5_blocked(c))),
        ("W6", want("W6"), |c| Box::pin(workloads::w6(c))),
        ("W9", want("W9"), |c| Box::pin(workloads::w9_scale(c))),
        ("W10", want("W10"), |c| {
            Box::pin(workloads::w10_long_line(c))
        }),
    ];
    ctx.only_w1 = want("W1");
    ctx.only_w8 = want("W8");
    let mut failed = Vec::new();
    for (name, wanted, step) in steps {
        if !wanted {
            continue;
        }
        if let Err(e) = step(&mut ctx).await {
            eprintln!("ktail-bench: {name} failed: {e}");
            let w = name.split('/').next().unwrap_or(name);
            let w: &'static str = match w {
                "W1" => "W1",
                "W2" => "W2",
                "W3" => "W3",
                "W4" => "W4",
                "W5" => "W5",
                "W6" => "W6",
                "W9" => "W9",
                _ => "W10",
            };
            ctx.results.note(w, format!("FAILED: {e}"));
            failed.push(name);
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);

    let elapsed = started.elapsed();
    println!("\n{}", report::table_text(&ctx.results));
    let verdicts = report::verdicts(&ctx.results);
    for v in &verdicts {
        println!(
            "{} {:<4} {:<45} {:>14}  target {}",
            if v.met { "ok  " } else { "MISS" },
            v.workload,
            v.what,
            v.measured,
            v.target
        );
    }
    let results_dir = opts.out.join("results");
    report::write_csvs(&ctx.results, &results_dir)
        .map_err(|e| format!("cannot write {}: {e}", results_dir.display()))?;
    let md =
        workloads::results_markdown(&ctx, &verdicts, &date_start, elapsed, opts.quick, &opts.out);
    let path = opts.out.join("RESULTS.md");
    std::fs::write(&path, md).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!(
        "\nwrote {} and {}/*.csv in {:.0} s",
        path.display(),
        results_dir.display(),
        elapsed.as_secs_f64()
    );
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("failed: {}", failed.join(", ")))
    }
}
