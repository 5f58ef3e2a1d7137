//! The `ktail` binary: dispatch, parse, resolve, run, and turn the result into an exit
//! code and at most one error line.

use std::process::ExitCode;

use clap::Parser;
use ktail::cli::{Args, Command, Env};
use ktail::{Error, Io, Settings, Signals, exit};

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let argv = match Command::from_argv(argv) {
        Command::Demo(args) => return finish(ktail::cli::run_demo(&args)),
        Command::Completions(args) => return finish(ktail::cli::run_completions(&args)),
        Command::Man(args) => return finish(ktail::cli::run_man(&args)),
        Command::Run(argv) => argv,
    };
    let env = Env::from_process();
    // The config file's settings go before the real arguments, which win.
    let argv = match ktail::cli::with_config_file(argv, &env) {
        Ok(argv) => argv,
        Err(e) => return finish(Err(e)),
    };
    let args = match Args::try_parse_from(&argv) {
        Ok(a) => a,
        // --help and --version print to stdout and succeed.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return ExitCode::from(exit::OK);
        }
        Err(e) => {
            eprintln!("ktail: {}", one_line(&e));
            return ExitCode::from(exit::USAGE);
        }
    };
    raise_descriptor_limit();
    let result = Settings::resolve(&args, &env).and_then(|settings| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))?;
        let result = runtime.block_on(async {
            let mut signals = Signals::new();
            ktail::run(settings, Io::process(), async move { signals.recv().await }).await
        });
        // Tasks still blocked on a dead connection or a stalled reader must not hold
        // the exit: everything that counts has been written.
        runtime.shutdown_background();
        result
    });
    finish(result)
}

/// Every log stream is a connection: raise the soft limit on open descriptors to the
/// hard one, as Go programs (stern, kubectl) do at start, so a shell's default soft limit
/// (often 1024) does not cap the number of streams. Failure leaves the limit as it was.
fn raise_descriptor_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid resource and a pointer to a local.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// clap's error as one line: what was wrong, with which value, and what to do.
fn one_line(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let rendered = e.to_string();
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or_default();
    let mut msg = first.strip_prefix("error: ").unwrap_or(first).to_string();
    // "the following required arguments were not provided:" lists them below.
    if msg.ends_with(':') {
        let listed: Vec<&str> = lines
            .take_while(|l| !l.trim().is_empty())
            .map(str::trim)
            .collect();
        msg = format!("{msg} {}", listed.join(", "));
    }
    if let Some(ContextValue::Strings(valid)) = e.get(ContextKind::ValidValue)
        && !valid.is_empty()
    {
        msg.push_str(&format!(": use one of {}", valid.join(", ")));
    } else if let Some(ContextValue::String(s)) = e.get(ContextKind::SuggestedArg) {
        msg.push_str(&format!(" (did you mean '{s}'?)"));
    }
    format!("{msg}; see ktail --help")
}

fn finish(result: Result<u8, Error>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("ktail: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
