//! The `ktail` binary: dispatch, parse, resolve, run, and turn the result into an exit
//! code and at most one error line.

use std::process::ExitCode;

use ktail::cli::{Builtin, Command, Env, Parsed, Program};
use ktail::{Error, Io, Settings, Signals, exit};

fn main() -> ExitCode {
    // A shell asking for completion candidates (`COMPLETE=bash ktail -- …`) is answered
    // and the process ends there.
    ktail::complete::answer_if_asked();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let program = Program::from_argv0(argv.first());
    let argv = match Command::from_argv(argv) {
        Command::Builtin(argv) => {
            return match ktail::cli::parse(program, &argv) {
                Ok(Parsed::Builtin(builtin)) => finish(program, run_builtin(program, builtin)),
                Ok(Parsed::Run(_)) => unreachable!("a builtin's command line names it"),
                Err(e) => clap_exit(program, &e),
            };
        }
        Command::Run(argv) => argv,
    };
    let env = Env::from_process();
    // The config file's settings go before the real arguments, which win.
    let argv = match ktail::cli::with_config_file(argv, &env) {
        Ok(argv) => argv,
        Err(e) => return finish(program, Err(e)),
    };
    let args = match ktail::cli::parse(program, &argv) {
        Ok(Parsed::Run(a)) => a,
        // A command is only the first argument of the command line as typed (settings
        // from the config file go before it): `Command::from_argv` saw none.
        Ok(Parsed::Builtin(_)) => {
            let e = Error::usage("a command goes first, before any flag");
            return finish(program, Err(e));
        }
        Err(e) => return clap_exit(program, &e),
    };
    raise_descriptor_limit();
    let result = Settings::resolve(&args, &env).and_then(|settings| {
        // Following, ktail mostly waits: a line now and then on each of many streams.
        // One thread that polls the sockets and runs every tail wakes once per arrival;
        // a pool of workers also wakes its peers to share each arrival (futex and eventfd
        // calls per line): at 10,000 lines/s one thread used 25-35 % less CPU. A
        // --no-follow drain is bound by TLS decryption and keeps every core.
        let mut runtime = match settings.follows() {
            true => tokio::runtime::Builder::new_current_thread(),
            false => tokio::runtime::Builder::new_multi_thread(),
        };
        let runtime = runtime
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
    finish(program, result)
}

fn run_builtin(program: Program, builtin: Builtin) -> Result<u8, Error> {
    match builtin {
        Builtin::Demo { args } => ktail::cli::run_demo(program, &args, |a| {
            Settings::resolve(a, &Env::from_process()).map(drop)
        }),
        Builtin::Completions { shell } => ktail::cli::run_completions(shell),
        Builtin::Man => ktail::cli::run_man(),
    }
}

/// `--help` and `--version` print to stdout and succeed; a usage error is one line.
fn clap_exit(program: Program, e: &clap::Error) -> ExitCode {
    if !e.use_stderr() {
        let _ = e.print();
        return ExitCode::from(exit::OK);
    }
    eprintln!(
        "{}: {}",
        program.name(),
        ktail::cli::clap_error_line(program, e)
    );
    ExitCode::from(exit::USAGE)
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

fn finish(program: Program, result: Result<u8, Error>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{}: {e}", program.name());
            ExitCode::from(e.exit_code())
        }
    }
}
