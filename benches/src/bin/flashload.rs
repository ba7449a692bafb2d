//! `flashload`: see `flashload --help` and the crate's documentation.

use std::process::ExitCode;

use clap::Parser;
use flashsale_benches::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match flashsale_benches::run::run(cli).await {
        Ok(true) => ExitCode::SUCCESS,
        // Checks or objectives failed: the tables above say which.
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("flashload: {e:#}");
            ExitCode::from(2)
        }
    }
}
