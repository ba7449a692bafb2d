//! `flashload torture`: load, faults and retries at once against a whole
//! deployment on loopback, then every book checked.
//!
//! It starts its own Redis with an append-only file written before every
//! reply (or a Redis Cluster with a replica per primary), the workspace's
//! api-server and two purchase workers, and a third expiry sweeper of its
//! own. For the length of the run:
//!
//! - shoppers reserve over gRPC, send again every call whose answer was lost
//!   (with the same `request_id`), retry some answered ones on purpose, and
//!   confirm, cancel or abandon their holds ([`shoppers`]); a merchant
//!   restocks;
//! - Socket.IO watchers, half on long-polling, follow every product and
//!   connect again whenever they are cut off ([`watchers`]);
//! - faults land at random moments ([`faults`], done by [`deployment`]): one
//!   worker is SIGKILLed and restarted again and again, the api-server is
//!   SIGKILLed and restarted once, and Redis is SIGKILLed and restarted once
//!   (on a Cluster: a primary is failed over, then killed and restarted).
//!
//! Then it waits for every hold to finish (expire, or be bought) and checks
//! ([`checks`]): no oversell, no leaked unit, every audit clean, one hold per
//! `request_id`, every confirmed hold bought or released exactly once,
//! restocks accounted for, every watcher on its product's final version.
//! The [`report`] holds what comes out.
//!
//! The same `--seed` plans the same faults at the same moments.

mod checks;
pub(crate) mod deployment;
mod faults;
mod report;
mod shoppers;
mod watchers;

pub use faults::FaultDone;
pub use report::TortureReport;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::{StreamExt, TryStreamExt};
use rand::SeedableRng;
use rand::rngs::StdRng;
use reservation_core::{Engine, HoldState, ReservationId, Sku};
use tokio::sync::watch;

use crate::cli::{OutputArgs, TortureArgs};
use crate::merchant::Merchant;
use crate::output::{Results, finish};
use crate::progress::Progress;
use crate::setup::run_id;
use checks::{Ending, ProductEnd};
use deployment::{Binaries, Deployment, MERCHANT_TOKEN};
use faults::{inject_faults, plan_faults};
use report::tables;
use shoppers::Shop;
use watchers::Watchers;

/// How long, after the load stops, every hold gets to finish: its hold
/// time, a purchase deadline and a claim of a killed worker's jobs, with room.
const SETTLE: Duration = Duration::from_secs(40);

pub async fn run(args: TortureArgs) -> Result<bool> {
    let length = args
        .minutes
        .map_or(args.duration, |minutes| Duration::from_secs(minutes * 60));
    if args.skus == 0 || args.shoppers == 0 {
        anyhow::bail!("--skus and --shoppers must be at least 1");
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let binaries = Binaries::find(args.bin_dir.as_deref())?;
    let deployment = Deployment::start(&binaries, args.cluster).await?;
    println!(
        "flashload torture: {} shoppers, {} watchers, {} products on {} for {}, seed {seed}",
        args.shoppers,
        args.watchers,
        args.skus,
        if args.cluster {
            "a Redis Cluster"
        } else {
            "one Redis"
        },
        humantime::format_duration(length)
    );
    let engine = deployment.engine().await?;
    let (deployment, outcome) = torture(deployment, &engine, &args, length, seed).await;
    match outcome {
        Ok(true) => Ok(true),
        failed => {
            let logs = deployment.keep_logs();
            eprintln!("the servers' logs are kept in {}", logs.display());
            failed
        }
    }
}

/// The run proper; hands the deployment back, so its logs can be kept.
async fn torture(
    deployment: Deployment,
    engine: &Engine,
    args: &TortureArgs,
    length: Duration,
    seed: u64,
) -> (Deployment, Result<bool>) {
    let merchant =
        match Merchant::connect(&deployment.grpc_addr.to_string(), Some(MERCHANT_TOKEN), 4).await {
            Ok(merchant) => merchant,
            Err(e) => return (deployment, Err(e)),
        };
    let run = run_id();
    let mut skus = Vec::new();
    let mut totals_at_start = HashMap::new();
    for n in 0..args.skus {
        let sku = format!("torture-{run}-{n}");
        match merchant
            .create(&sku, args.stock, 0, args.hold_seconds)
            .await
        {
            Ok(product) => totals_at_start.insert(sku.clone(), product.total),
            Err(e) => return (deployment, Err(e)),
        };
        skus.push(sku);
    }

    let (stop_sweeper, sweeper_stopped) = watch::channel(false);
    let sweeper = purchase_worker::Sweeper::new(
        engine.clone(),
        purchase_worker::WorkerConfig::new("torture-sweeper"),
        purchase_worker::WorkerMetrics::new(),
    );
    let sweeping = tokio::spawn(async move { sweeper.run(sweeper_stopped).await });
    let watchers = Watchers::start(deployment.http_addr.to_string(), &skus, args.watchers);
    let shop = Shop::new(merchant, skus.clone(), run, seed);
    let shoppers: Vec<_> = (0..args.shoppers)
        .map(|n| tokio::spawn(shoppers::shopper(shop.clone(), n)))
        .collect();
    let restocking = tokio::spawn(shoppers::restocker(shop.clone(), Duration::from_millis(50)));

    let mut rng = StdRng::seed_from_u64(seed);
    let plan = plan_faults(length, &mut rng);
    let planned = plan.len();
    let faults = Arc::new(std::sync::Mutex::new(Vec::new()));
    let start = Instant::now();
    let cluster = deployment.on_cluster();
    let faulting = tokio::spawn(inject_faults(
        deployment,
        plan,
        start,
        skus[0].clone(),
        faults.clone(),
    ));

    let progress = Progress::start(length);
    while start.elapsed() < length {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let line = {
            let books = shop.books();
            format!(
                "{} holds, {} confirmed, {} answers lost, {} faults",
                books.holds.len(),
                books.confirmed.len(),
                books.lost_answers.values().sum::<u64>(),
                faults.lock().expect("never poisoned").len()
            )
        };
        progress.tick(start.elapsed().as_secs(), &line);
    }
    progress.finish();
    shop.stop.store(true, Ordering::Release);
    // A shopper or the merchant that panicked fails the run.
    let mut load_ended = Ok(());
    for task in shoppers.into_iter().chain([restocking]) {
        if let Err(e) = task.await {
            load_ended = Err(e).context("a shopper or the merchant failed");
        }
    }
    let (mut deployment, faulted) = faulting.await.expect("the fault task does not panic");
    let seconds = start.elapsed().as_secs_f64();
    let outcome = async {
        load_ended?;
        faulted?;
        deployment.check_alive()?;
        println!("load stopped after {seconds:.1} s; waiting for every hold to finish");
        let products = settle(engine, &skus).await?;
        let watched = converge(&watchers, &products).await;
        deployment.check_alive()?;

        let books = std::mem::take(&mut *shop.books());
        let orders = engine.every_order().await?;
        let known = books
            .holds
            .iter()
            .cloned()
            .chain(orders.iter().map(|order| order.reservation_id.clone()));
        let holds = hold_states(engine, known).await?;
        let products: Vec<ProductEnd> =
            futures_util::future::try_join_all(products.into_iter().map(|(sku, version)| {
                let total_at_start = totals_at_start[&sku];
                async move {
                    let audit = engine.audit(&Sku::new(sku.clone())?).await?;
                    anyhow::Ok(ProductEnd {
                        sku,
                        total_at_start,
                        audit,
                        version,
                    })
                }
            }))
            .await?;
        let faults = faults.lock().expect("never poisoned").clone();
        let checks = checks::checks(&Ending {
            products: &products,
            books: &books,
            holds: &holds,
            orders: &orders,
            watchers: &watched,
            faults: (planned, faults.len()),
        });
        let report = TortureReport {
            seed,
            seconds,
            cluster,
            books: &books,
            faults: &faults,
            watcher_reconnects: watchers
                .watchers
                .iter()
                .map(|w| w.reconnects.load(Ordering::Acquire))
                .sum(),
            orders: orders.len(),
            checks: &checks,
        };
        finish(
            "torture",
            &deployment.grpc_addr.to_string(),
            &OutputArgs {
                json: args.json.clone(),
                html: None,
                slo: None,
            },
            Results {
                report: &report,
                checks: &checks,
                verdicts: &[],
                tables: tables(&report, &products),
                plots: Vec::new(),
            },
        )
    }
    .await;
    watchers.stop();
    let _ = stop_sweeper.send(true);
    let _ = sweeping.await;
    (deployment, outcome)
}

/// Waits until no product has a unit held (every hold expired, cancelled or
/// bought); returns each product's final version.
async fn settle(engine: &Engine, skus: &[String]) -> Result<Vec<(String, u64)>> {
    let deadline = Instant::now() + SETTLE;
    loop {
        let mut finals = Vec::new();
        let mut held = 0;
        for sku in skus {
            let stock = engine.product(&Sku::new(sku.clone())?).await?.stock;
            held += stock.held;
            finals.push((sku.clone(), stock.version));
        }
        if held == 0 || Instant::now() > deadline {
            // Still held past the deadline: the checks say which.
            return Ok(finals);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Gives the watchers a few seconds to reach their products' final
/// versions; returns each watcher's product and the newest version it saw.
async fn converge(watchers: &Watchers, finals: &[(String, u64)]) -> Vec<(String, u64)> {
    let finals: HashMap<&str, u64> = finals.iter().map(|(s, v)| (s.as_str(), *v)).collect();
    let seen = || {
        watchers
            .watchers
            .iter()
            .map(|w| (w.sku.clone(), w.version.load(Ordering::Acquire)))
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline
        && seen()
            .iter()
            .any(|(sku, version)| finals.get(sku.as_str()) != Some(version))
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen()
}

/// The stored state of each hold, read a few dozen at a time.
async fn hold_states(
    engine: &Engine,
    holds: impl Iterator<Item = String>,
) -> Result<HashMap<String, HoldState>> {
    let mut unique: Vec<String> = holds.collect();
    unique.sort();
    unique.dedup();
    futures_util::stream::iter(unique)
        .map(|id| async move {
            let parsed: ReservationId = id
                .parse()
                .with_context(|| format!("reservation id {id:?}"))?;
            let hold = engine.reservation(&parsed).await?;
            anyhow::Ok((id, hold.state))
        })
        .buffer_unordered(32)
        .try_collect()
        .await
}
