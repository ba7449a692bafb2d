//! `flashload`: see `flashload --help` and the crate's documentation.

use std::process::ExitCode;

use clap::Parser;
use flashsale_benches::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = cli.threads {
        runtime.worker_threads(threads.into());
    }
    let runtime = match runtime.enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("flashload: cannot start its runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(flashsale_benches::run::run(cli)) {
        Ok(true) => ExitCode::SUCCESS,
        // Checks or objectives failed: the tables above say which.
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("flashload: {e:#}");
            ExitCode::from(2)
        }
    }
}
