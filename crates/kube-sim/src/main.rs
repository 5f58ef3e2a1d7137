//! `kube-sim`: run the simulated API server by hand (or for `ktail`'s demo) until killed.

use std::io::Write;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};
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
#[command(name = "kube-sim", version)]
struct Args {
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

#[tokio::main]
async fn main() {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return;
        }
        Err(e) => {
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or("invalid arguments");
            eprintln!("kube-sim: {}", first.trim_start_matches("error: "));
            std::process::exit(2);
        }
    };
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
    if let Some(path) = &args.kubeconfig {
        sim.write_kubeconfig(path).map_err(|e| {
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
