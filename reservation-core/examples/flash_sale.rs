//! A flash sale in one process: many shoppers storm one product, some buy,
//! some give their hold back, the rest let it expire; the stock events stream
//! by and the audit checks the books at the end.
//!
//! Runs on `FLASHSALE_REDIS_URL`, or on a private local redis-server when none
//! is given:
//!
//! ```text
//! cargo run --release -p reservation-core --example flash_sale -- --shoppers 2000 --stock 100
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::StreamExt;
use reservation_core::keys::ProductKeys;
use reservation_core::local_redis::LocalRedis;
use reservation_core::{
    CustomerId, Engine, EngineConfig, NewProduct, Quantity, RedisConfig, RequestId, ReserveRequest,
    Sku, StockEvent,
};

#[derive(Parser)]
#[command(about = "Run a small flash sale against the reservation engine")]
struct Args {
    /// Redis to use; a private local redis-server is started when unset.
    #[arg(long, env = "FLASHSALE_REDIS_URL")]
    redis_url: Option<String>,
    /// Shoppers who hit "reserve" at the same instant.
    #[arg(long, default_value_t = 2_000)]
    shoppers: usize,
    /// Units on sale.
    #[arg(long, default_value_t = 100)]
    stock: i64,
    /// How long a hold lasts before its units go back.
    #[arg(long, default_value_t = 2)]
    hold_seconds: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _private_redis;
    let url = match args.redis_url {
        Some(url) => url,
        None => {
            let redis = LocalRedis::start().context("start a private redis-server")?;
            println!("started a private redis-server at {}", redis.url());
            let url = redis.url();
            _private_redis = redis;
            url
        }
    };
    let engine = Engine::connect(&RedisConfig::new(&url), EngineConfig::default())
        .await
        .with_context(|| format!("connect to {url}"))?;

    let sku = Sku::new(format!("SNEAKER-{}", engine.now_ms()))?;
    let mut product = NewProduct::new(sku.clone(), "Limited sneaker", 12_900, args.stock);
    product.per_customer_limit = 2;
    product.hold_seconds = args.hold_seconds;
    engine.create_product(&product).await?;
    println!(
        "{sku}: {} units, at most 2 per shopper, holds last {} s",
        args.stock, args.hold_seconds
    );

    let events = watch_stock(&url, &sku).await?;

    // The storm: every shopper at once.
    let started = Instant::now();
    let tasks: Vec<_> = (0..args.shoppers)
        .map(|i| {
            let engine = engine.clone();
            let request = ReserveRequest {
                sku: sku.clone(),
                quantity: Quantity::new(1 + (i % 2) as i64).expect("1 or 2"),
                customer_id: CustomerId::new(format!("shopper-{i}")).expect("valid"),
                request_id: RequestId::new(format!("demo-{i}")).expect("valid"),
            };
            tokio::spawn(async move { engine.reserve(&request).await })
        })
        .collect();
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut holds = Vec::new();
    for task in tasks {
        match task.await? {
            Ok(reservation) => {
                *outcomes.entry("reserved").or_default() += 1;
                holds.push(reservation.hold);
            }
            Err(e) => *outcomes.entry(e.reason()).or_default() += 1,
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{} reserve calls in {:.0} ms ({:.0}/s): {outcomes:?}",
        args.shoppers,
        elapsed.as_secs_f64() * 1e3,
        args.shoppers as f64 / elapsed.as_secs_f64()
    );

    // Half of the winners buy, a quarter change their mind, the rest walk away.
    let (mut bought, mut cancelled) = (0, 0);
    for (i, hold) in holds.iter().enumerate() {
        match i % 4 {
            0 | 1 => {
                engine.confirm(&hold.id, None).await?;
                engine.finalize_purchase(&hold.id).await?;
                bought += hold.quantity;
            }
            2 => {
                engine.cancel(&hold.id, None).await?;
                cancelled += hold.quantity;
            }
            _ => {}
        }
    }
    println!("bought {bought} units, cancelled {cancelled}; waiting for the other holds to expire");
    tokio::time::sleep(
        Duration::from_secs(u64::from(args.hold_seconds)) + Duration::from_millis(100),
    )
    .await;
    loop {
        let swept = engine.sweep_product(&sku, 256).await?;
        if swept.expired_units > 0 {
            println!(
                "sweeper returned {} units from {} holds",
                swept.expired_units,
                swept.expired.len()
            );
        }
        if !swept.more_due(engine.now_ms()) {
            break;
        }
    }

    let stock = engine.product(&sku).await?.stock;
    println!(
        "final stock: available {} + held {} + sold {} = total {} (version {})",
        stock.available, stock.held, stock.sold, stock.total, stock.version
    );
    // Delivery is asynchronous: give the last event a moment to arrive.
    let deadline = Instant::now() + Duration::from_secs(2);
    while events.last_version.load(Ordering::SeqCst) < stock.version && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "stock events received: {} (one per change after the subscription)",
        events.seen.load(Ordering::SeqCst)
    );
    let audit = engine.audit(&sku).await?;
    if !audit.is_clean() {
        bail!("audit found drift: {:?}", audit.problems());
    }
    println!("audit clean");
    Ok(())
}

#[derive(Default)]
struct EventTally {
    seen: AtomicU64,
    last_version: AtomicU64,
}

/// Prints the stock as events arrive (at most every 100 ms, so a storm does
/// not flood the terminal) and counts them.
async fn watch_stock(url: &str, sku: &Sku) -> anyhow::Result<Arc<EventTally>> {
    let client = redis::Client::open(url)?;
    let mut pubsub = client.get_async_pubsub().await?;
    pubsub
        .subscribe(ProductKeys::new(sku).stock_channel)
        .await?;
    let tally = Arc::new(EventTally::default());
    let counts = tally.clone();
    tokio::spawn(async move {
        let mut messages = pubsub.into_on_message();
        let mut last_print = Instant::now();
        while let Some(message) = messages.next().await {
            let event = match StockEvent::from_json(message.get_payload_bytes()) {
                Ok(event) => event,
                Err(e) => {
                    eprintln!("undecodable stock event: {e}");
                    continue;
                }
            };
            counts.seen.fetch_add(1, Ordering::SeqCst);
            counts
                .last_version
                .fetch_max(event.version, Ordering::SeqCst);
            if last_print.elapsed() >= Duration::from_millis(100) {
                last_print = Instant::now();
                println!(
                    "  stock v{:<5} available {:>5}  held {:>5}  sold {:>5}",
                    event.version, event.available, event.held, event.sold
                );
            }
        }
    });
    Ok(tally)
}
