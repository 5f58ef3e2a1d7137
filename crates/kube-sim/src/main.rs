//! `kube-sim`: run the simulated API server by hand (or for `ktail`'s demo) until killed;
//! `kube-sim ctl`: make things go wrong in one that runs.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};
use kube_sim::{Sim, SimOptions};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Scenario {
    /// A deployment that logs and rolls every 20 seconds, plus a statefulset pod.
    Demo,
    /// Only the default namespaces.
    Empty,
}

/// A simulated Kubernetes API server and kubelet.
#[derive(Debug, Parser)]
#[command(name = "kube-sim", version, args_conflicts_with_subcommands = true)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    /// Write a kubeconfig for the server to FILE once it listens.
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// Serve HTTPS with a generated CA (written into the kubeconfig).
    #[arg(long)]
    tls: bool,
    /// What the cluster contains.
    #[arg(long, value_enum, default_value = "empty")]
    scenario: Scenario,
    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed of generated names, uids and container IDs (default: from the clock).
    ///
    /// The ready line shows the seed in use; pass it again to replay a run.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Make things go wrong in a running simulator: crash a container, fail a readiness
    /// probe, refuse an image, write a log line.
    ///
    /// Finds the simulator through the kubeconfig it wrote. Exit status: 0 done, 1 the
    /// simulator refused or could not be reached, 2 bad usage.
    Ctl(kube_sim::ctl::CtlArgs),
}

#[tokio::main]
async fn main() {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return;
        }
        Err(e) => {
            eprintln!("kube-sim: {}", one_line(&e.to_string()));
            std::process::exit(2);
        }
    };
    if let Some(Command::Ctl(ctl)) = args.command {
        std::process::exit(kube_sim::ctl::run(ctl).await);
    }
    if let Err(e) = run(args).await {
        eprintln!("kube-sim: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> std::io::Result<()> {
    let opts = SimOptions {
        tls: args.tls,
        seed: args.seed,
        ..SimOptions::default()
    };
    let sim = Sim::start_on(opts, args.port).await?;
    // The demo's kubeconfig works in the demo's namespace.
    let ns = match args.scenario {
        Scenario::Demo => "demo",
        Scenario::Empty => "default",
    };
    if let Some(path) = &args.kubeconfig {
        sim.write_kubeconfig_in(path, ns).map_err(|e| {
            std::io::Error::new(e.kind(), format!("writing {}: {e}", path.display()))
        })?;
    }
    if let Scenario::Demo = args.scenario {
        tokio::spawn(kube_sim::run_demo(sim.clone()));
    }
    let mut out = std::io::stdout().lock();
    match &args.kubeconfig {
        Some(p) => writeln!(
            out,
            "kube-sim listening on {} (kubeconfig: {}, seed: {})",
            sim.url(),
            p.display(),
            sim.seed()
        )?,
        None => writeln!(
            out,
            "kube-sim listening on {} (seed: {})",
            sim.url(),
            sim.seed()
        )?,
    }
    out.flush()?;
    drop(out);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    sim.shutdown().await;
    Ok(())
}

/// clap's message in one line: the error and the lines that complete it (a list of
/// missing arguments), without the usage and help hints.
fn one_line(msg: &str) -> String {
    let mut lines = msg.lines();
    let mut out = lines
        .next()
        .unwrap_or("invalid arguments")
        .trim_start_matches("error: ")
        .to_string();
    for l in lines.take_while(|l| !l.trim().is_empty()) {
        out.push(' ');
        out.push_str(l.trim());
    }
    out
}
