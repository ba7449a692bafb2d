//! `flashload push-opening`: a sale opening to many "notify me" subscribers,
//! measured end to end on loopback. It starts a private Redis, one
//! purchase-worker from this workspace and a push service of its own
//! ([`sink`]); subscribes `--subscribers` shoppers to a product's opening;
//! runs the purchase and expiry probes ([`probes`]) for a baseline; opens
//! the sale; and times the pushes until every subscriber has had one. It
//! reports pushes per second from the one worker, the worker's and Redis's
//! CPU per push, and the probes before and during the round, and fails
//! unless every subscriber was told exactly once.

mod probes;
mod sink;

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, TryStreamExt};
use reservation_core::local_redis::{LocalRedis, free_port};
use reservation_core::{
    CustomerId, EndpointPolicy, Engine, EngineConfig, NewProduct, ProductUpdate, PushSubscription,
    PushTopics, RedisConfig, Sku, VapidKey,
};
use serde::Serialize;
use tokio::sync::watch;

use crate::cli::PushOpeningArgs;
use crate::cpu::CpuMeter;
use crate::latency::LatencySummary;
use crate::torture::deployment::Binaries;
use probes::Phase;

/// Distinct browser keys the subscribers use. Real subscribers each have
/// their own; a few suffice, as the worker derives a fresh key per push
/// whatever the subscriber's.
const BROWSER_KEYS: usize = 16;

/// Everything the run measured, as `--json` writes it.
#[derive(Serialize)]
struct Report {
    subscribers: usize,
    told: usize,
    pushes: u64,
    malformed: usize,
    /// From the sale's start to the first and to the last subscriber's push.
    first_push_s: f64,
    last_push_s: f64,
    /// Subscribers told per second, from the first push to the last.
    pushes_per_second: f64,
    worker_cpu_us_per_push: f64,
    redis_cpu_us_per_push: f64,
    purchases_before: LatencySummary,
    purchases_during: LatencySummary,
    expiry_lateness_before: LatencySummary,
    expiry_lateness_during: LatencySummary,
}

pub async fn run(args: PushOpeningArgs) -> Result<bool> {
    let binaries = Binaries::find(args.bin_dir.as_deref())?;
    let redis = LocalRedis::start().context("start a private Redis")?;
    let engine = Engine::connect(&RedisConfig::new(redis.url()), EngineConfig::default()).await?;
    let far = engine.now_ms() + 86_400_000;
    let opening = product(&engine, "PUSH-OPENING", 1_000, 600, Some(far)).await?;
    let buy = product(&engine, "PUSH-PROBE-BUY", 1_000_000, 600, None).await?;
    let expire = product(&engine, "PUSH-PROBE-EXPIRE", 1_000_000, 1, None).await?;

    let (sink_addr, arrivals) = sink::start(args.subscribers).await?;
    subscribe(&engine, &opening, sink_addr, &args).await?;

    let vapid = VapidKey::generate();
    let admin = format!("127.0.0.1:{}", free_port()?);
    let mut worker = tokio::process::Command::new(&binaries.purchase_worker)
        .args(["--redis-url", &redis.url(), "--admin-addr", &admin])
        .arg(format!("--vapid-private-key={}", vapid.to_base64url()))
        .args(["--vapid-subject", "mailto:flashload@example.invalid"])
        // One origin (the sink) takes every push here, where a real sale's
        // subscribers spread over a few push services.
        .args(["--push-per-origin", "1000000"])
        .args(&args.worker_flags)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("start {}", binaries.purchase_worker.display()))?;
    let worker_pid = worker.id().context("the worker's pid")?;

    let (phase_tx, phase) = watch::channel(Phase::Before);
    let probes = tokio::spawn(probes::run(
        engine.clone(),
        buy,
        expire,
        args.probe_interval,
        phase,
    ));
    tokio::time::sleep(args.baseline).await;

    let starts_at = engine.now_ms() + 1_000;
    let opened = Instant::now() + Duration::from_millis(1_000);
    let cpu = CpuMeter::start(Some(worker_pid), Some(&redis.url())).await?;
    engine
        .update_product(
            &opening,
            &ProductUpdate {
                sale_starts_at_ms: Some(Some(starts_at)),
                ..ProductUpdate::default()
            },
        )
        .await?;
    phase_tx.send_replace(Phase::During);
    if tokio::time::timeout(args.timeout, arrivals.all_arrived())
        .await
        .is_err()
    {
        eprintln!(
            "flashload: not every subscriber was told within {:?}",
            args.timeout
        );
    }
    let spent = cpu.stop().await;
    phase_tx.send_replace(Phase::Done);
    let probes = probes.await.context("the probes panicked")??;
    // Late duplicates would arrive now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    if let Some(status) = worker.try_wait()? {
        bail!("the purchase worker exited during the run ({status})");
    }
    worker.kill().await?;

    let tally = arrivals.tally();
    let since_open = |at: Option<Instant>| {
        at.map_or(f64::NAN, |at| {
            at.saturating_duration_since(opened).as_secs_f64()
        })
    };
    let spread = match (tally.first, tally.last) {
        (Some(first), Some(last)) => (last - first).as_secs_f64(),
        _ => f64::NAN,
    };
    let told = tally.distinct.max(1) as f64;
    let report = Report {
        subscribers: args.subscribers,
        told: tally.distinct,
        pushes: tally.total,
        malformed: tally.malformed,
        first_push_s: since_open(tally.first),
        last_push_s: since_open(tally.last),
        pushes_per_second: told / spread,
        worker_cpu_us_per_push: spent.server_s.map_or(f64::NAN, |s| s * 1e6 / told),
        redis_cpu_us_per_push: spent.redis_s.map_or(f64::NAN, |s| s * 1e6 / told),
        purchases_before: probes.before.purchases.summary(),
        purchases_during: probes.during.purchases.summary(),
        expiry_lateness_before: probes.before.expiry_lateness.summary(),
        expiry_lateness_during: probes.during.expiry_lateness.summary(),
    };
    print(&report);
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("write {}", path.display()))?;
    }
    Ok(report.told == report.subscribers
        && report.pushes == report.subscribers as u64
        && report.malformed == 0)
}

async fn product(
    engine: &Engine,
    sku: &str,
    total: i64,
    hold_seconds: u32,
    sale_starts_at_ms: Option<i64>,
) -> Result<Sku> {
    let sku = Sku::new(sku)?;
    let mut new = NewProduct::new(sku.clone(), sku.as_str(), 1_000, total);
    new.hold_seconds = hold_seconds;
    new.sale_starts_at_ms = sale_starts_at_ms;
    engine.create_product(&new).await?;
    Ok(sku)
}

/// One shopper per subscriber, each asking to be told of the opening.
async fn subscribe(
    engine: &Engine,
    sku: &Sku,
    sink: std::net::SocketAddr,
    args: &PushOpeningArgs,
) -> Result<()> {
    let keys: Vec<String> = (0..BROWSER_KEYS)
        .map(|_| VapidKey::generate().public_key_base64url())
        .collect();
    let policy = EndpointPolicy {
        allow_http_loopback: true,
        ..EndpointPolicy::default()
    };
    let topics = PushTopics {
        sale_opens: true,
        ..PushTopics::default()
    };
    let started = Instant::now();
    futures_util::stream::iter(0..args.subscribers)
        .map(|n| {
            let subscription = PushSubscription::new(
                &format!("http://{sink}/push/{n}"),
                &keys[n % BROWSER_KEYS],
                &auth_of(n),
                policy,
            );
            async move {
                let customer = CustomerId::new(format!("subscriber-{n}"))?;
                engine
                    .subscribe_push(&customer, sku, &subscription?, topics, 1)
                    .await?;
                anyhow::Ok(())
            }
        })
        .buffer_unordered(args.setup_concurrency)
        .try_collect::<()>()
        .await?;
    eprintln!(
        "flashload: {} subscribers in {:.1} s",
        args.subscribers,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A 16-byte authentication secret, base64url, distinct per subscriber.
fn auth_of(n: usize) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::encode_string(&(n as u128).to_be_bytes())
}

fn print(r: &Report) {
    let row = |name: &str, before: &LatencySummary, during: &LatencySummary| {
        println!(
            "{name:<28} p50 {:>8.1} ms  p99 {:>8.1} ms   during: p50 {:>8.1} ms  p99 {:>8.1} ms  ({:.2}× p99)",
            before.p50,
            before.p99,
            during.p50,
            during.p99,
            during.p99 / before.p99
        );
    };
    println!(
        "subscribers told            {} of {} ({} pushes, {} malformed)",
        r.told, r.subscribers, r.pushes, r.malformed
    );
    println!(
        "first / last push           {:.2} s / {:.2} s after the sale opened",
        r.first_push_s, r.last_push_s
    );
    println!(
        "pushes per second           {:.0} (one worker)",
        r.pushes_per_second
    );
    println!(
        "CPU per push                worker {:.0} µs, Redis {:.0} µs",
        r.worker_cpu_us_per_push, r.redis_cpu_us_per_push
    );
    row(
        "purchases (confirm→bought)",
        &r.purchases_before,
        &r.purchases_during,
    );
    row(
        "expiry lateness",
        &r.expiry_lateness_before,
        &r.expiry_lateness_during,
    );
}
