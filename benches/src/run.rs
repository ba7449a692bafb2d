//! Each subcommand end to end: set up, run, report, judge. This is only the
//! dispatcher; each command's glue lives with the command, and what several
//! commands share lives in `setup` and `output`.

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::{audit, baseline, push, reserve, torture, watch};

/// Runs the command; `Ok(false)` when a check or an objective failed.
pub async fn run(cli: Cli) -> Result<bool> {
    match cli.command {
        Command::Reserve(args) => reserve::run(args).await,
        Command::Watch(args) => watch::run(args).await,
        Command::Baseline(args) => baseline::run(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Scripts => {
            for (name, sha) in reservation_core::script_hashes() {
                println!("{sha} {name}");
            }
            Ok(true)
        }
        Command::Torture(args) => torture::run(args).await,
        Command::PushOpening(args) => push::run(args).await,
    }
}
