//! `flashload watch` end to end: products made, clients connected, stock
//! changed, the clients given time to converge, then the report, its checks
//! and its verdicts.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, bail};

use super::changes;
use super::clients::{TransportMix, Watchers};
use super::host::{raise_file_limit, resident_kb};
use super::recorder::Shared;
use super::report::{Crowd, ServerCost, WatchReport};
use crate::cli::WatchArgs;
use crate::cpu::CpuMeter;
use crate::merchant::Merchant;
use crate::output::{Results, finish, objectives};
use crate::progress::Progress;
use crate::setup::{products, run_id};
use crate::slo::{self, Objective};

/// Runs `flashload watch`; `Ok(false)` when a check or an objective failed.
pub async fn run(args: WatchArgs) -> Result<bool> {
    let objectives = objectives(&args.output)?;
    check(&args)?;
    raise_file_limit(args.clients)?;
    let merchant = Merchant::connect(
        &args.server.target,
        args.server.token.as_deref(),
        args.server.connections,
    )
    .await?;
    let skus = products(&merchant, &args.products, &run_id(), 0, 600)
        .await?
        .skus;
    let rss_before = args.server_pid.map(resident_kb).transpose()?;
    // The measured window: from the first connect to the settled clients.
    let cpu = CpuMeter::start(args.server_pid, args.redis_url.as_deref()).await?;

    let progress = Progress::start(args.duration);
    let start = Instant::now();
    let shared = Arc::new(Shared::new(start, args.clients));
    let mix = TransportMix::new(args.transport, args.polling_share);
    let polling = mix.polling_among(args.clients);
    announce(&progress, &args, polling, skus.len());
    let watchers = Watchers::connect(&args, &skus, mix, &shared, start).await?;
    let connected = watchers.connected;
    progress.say(&format!(
        "{connected} of {} clients watching after {:.1} s",
        args.clients,
        start.elapsed().as_secs_f64()
    ));
    let rss_per_client = memory_per_client(args.server_pid, rss_before, connected)?;

    let changes = changes::publish(
        &merchant,
        &skus,
        args.changes,
        args.duration,
        &shared,
        |second| progress.tick(second, &shared.progress_line(start)),
    )
    .await?;
    let finals = final_versions(&merchant, &skus).await?;
    let convergence = shared.settle(&finals, args.settle).await;
    let cpu = cpu.stop().await;
    watchers.stop(&shared);
    progress.finish();

    let crowd = Crowd {
        clients: args.clients,
        polling,
        connected,
    };
    let report = WatchReport::new(
        crowd,
        skus.len(),
        &shared.recorder(),
        &changes,
        convergence,
        ServerCost {
            rss_kb_per_client: rss_per_client,
            cpu,
        },
        start.elapsed().as_secs_f64(),
    );
    conclude(&args, &objectives, &report)
}

/// Refuses flags no run could be made with, before anything is created.
fn check(args: &WatchArgs) -> Result<()> {
    if args.clients == 0 {
        bail!("--clients must be at least 1");
    }
    if !(args.changes > 0.0 && args.connect_rate > 0.0) {
        bail!("--changes and --connect-rate must be above zero");
    }
    Ok(())
}

fn announce(progress: &Progress, args: &WatchArgs, polling: usize, products: usize) {
    progress.say(&format!(
        "flashload watch: {} clients ({} polling) on {} products at {}, {} changes/s for {}",
        args.clients,
        polling,
        products,
        args.http,
        args.changes,
        humantime::format_duration(args.duration)
    ));
}

/// The server's memory growth per connected client, in KB, when its
/// process was named and anyone connected.
fn memory_per_client(
    server_pid: Option<u32>,
    before: Option<u64>,
    connected: usize,
) -> Result<Option<f64>> {
    Ok(match (server_pid, before) {
        (Some(pid), Some(before)) if connected > 0 => {
            Some((resident_kb(pid)?.saturating_sub(before)) as f64 / connected as f64)
        }
        _ => None,
    })
}

/// Each product's version once the last change was answered: where every
/// client must end up.
async fn final_versions(merchant: &Merchant, skus: &[String]) -> Result<Vec<u64>> {
    let mut finals = Vec::with_capacity(skus.len());
    for sku in skus {
        finals.push(merchant.product(sku).await?.version);
    }
    Ok(finals)
}

/// Judges the objectives, prints the tables and writes the outputs.
fn conclude(args: &WatchArgs, objectives: &[Objective], report: &WatchReport) -> Result<bool> {
    let verdicts = slo::judge(objectives, |name| report.figure(name));
    finish(
        "watch",
        &args.http,
        &args.output,
        Results {
            report,
            checks: &report.checks,
            verdicts: &verdicts,
            tables: report.tables(),
            plots: report.plots(),
        },
    )
}
