//! The `ktail` binary: parse, resolve, run, and turn the result into an exit code.

use std::process::ExitCode;

use clap::Parser;
use ktail::cli::Args;
use ktail::config::{Config, Env};
use ktail::error::{Error, exit};

fn main() -> ExitCode {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_some_and(|a| a == "demo") {
        return finish(ktail::demo::run(&argv[2..]));
    }
    let args = match Args::try_parse_from(&argv) {
        Ok(a) => a,
        Err(e) => {
            // --help and --version print to stdout and succeed; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            });
        }
    };
    let env = Env::from_process();
    let kubeconfig_env = env.vars.get("KUBECONFIG").cloned();
    let result = Config::resolve(&args, &env).and_then(|cfg| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))?
            .block_on(ktail::app::run(cfg, kubeconfig_env))
    });
    finish(result)
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
