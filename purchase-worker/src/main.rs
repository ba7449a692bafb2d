//! `purchase-worker`: reads its configuration (flags or `FLASHSALE_*`
//! variables), runs a buyer and a sweeper on the engine, serves `/metrics`
//! and the probes, and on SIGTERM or Ctrl-C finishes the job in hand,
//! acknowledges it and exits 0. `purchase-worker upgrade` converts a Redis
//! of an older layout instead, and exits.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use purchase_worker::{
    AcceptAll, AdminListener, AvailabilityAnnouncer, Buyer, EventDeliverer, EventEndpoints,
    PurchaseStep, Sweeper, WebhookEndpoint, WebhookPurchase, WorkerConfig, WorkerMetrics,
};
use reservation_core::keys::{Partitions, Retention};
use reservation_core::{Engine, EngineConfig, LogArgs, RedisConfig, RedisTlsArgs, SystemClock};
use tokio::sync::watch;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Turns confirmed holds into sales and gives back expired ones"
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,

    /// Redis to use: redis://[user:password@]host:port (rediss:// for TLS),
    /// or a comma-separated list of Redis Cluster seed nodes.
    #[arg(long, env = "FLASHSALE_REDIS_URL", hide_env_values = true)]
    redis_url: String,

    /// How long (ms) to wait at start for a Redis that cannot answer yet
    /// (still starting, or loading its data after a restart).
    #[arg(long, env = "FLASHSALE_REDIS_WAIT_MS", default_value_t = 30_000)]
    redis_wait_ms: u64,

    /// The Redis URL is a Redis Cluster node (implied by a list of nodes).
    #[arg(long, env = "FLASHSALE_REDIS_CLUSTER")]
    redis_cluster: bool,

    #[command(flatten)]
    redis_tls: RedisTlsArgs,

    /// Where /metrics (Prometheus), /livez and /readyz (probes) are served.
    /// --metrics-addr is its former name, and FLASHSALE_METRICS_ADDR is
    /// still read when FLASHSALE_ADMIN_ADDR is not set.
    #[arg(
        long,
        env = "FLASHSALE_ADMIN_ADDR",
        default_value = "127.0.0.1:9091",
        visible_alias = "metrics-addr"
    )]
    admin_addr: SocketAddr,

    /// FLASHSALE_METRICS_ADDR, read for deployments that set it before
    /// --admin-addr served the probes too.
    #[arg(
        long = "former-metrics-addr",
        env = "FLASHSALE_METRICS_ADDR",
        hide = true,
        conflicts_with = "admin_addr"
    )]
    former_metrics_addr: Option<SocketAddr>,

    #[command(flatten)]
    log: LogArgs,

    /// This worker's name in the consumer group; must differ between
    /// workers. Default: HOSTNAME-ULID, new for every process.
    #[arg(long, env = "FLASHSALE_WORKER_NAME")]
    name: Option<String>,

    /// The shop's purchase endpoint: each confirmed hold is posted there as a
    /// signed `purchase.requested` webhook (Standard Webhooks; `webhook-id`
    /// is the reservation id). 2xx buys it; 402, 409, 410 or 422 declines it
    /// (released at once); anything else is retried. Without it, every
    /// purchase is accepted.
    #[arg(
        long,
        env = "FLASHSALE_PURCHASE_WEBHOOK",
        requires = "purchase_webhook_secret"
    )]
    purchase_webhook: Option<String>,

    /// The purchase endpoint's signing secret, `whsec_` and base64.
    #[arg(
        long,
        env = "FLASHSALE_PURCHASE_WEBHOOK_SECRET",
        hide_env_values = true
    )]
    purchase_webhook_secret: Option<String>,

    /// Longest the purchase endpoint may take to answer, connecting included.
    #[arg(long, env = "FLASHSALE_PURCHASE_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    purchase_webhook_timeout: Duration,

    /// The shop's event endpoints, comma-separated: `order.created`,
    /// `hold.released`, `product.sold_out` and `product.back_in_stock` are
    /// posted to each as signed webhooks (Standard Webhooks), at least once,
    /// each with an id that stays the same across retries.
    #[arg(
        long,
        env = "FLASHSALE_EVENT_WEBHOOK",
        value_delimiter = ',',
        requires = "event_webhook_secret"
    )]
    event_webhook: Vec<String>,

    /// The event endpoints' signing secrets (`whsec_` and base64),
    /// comma-separated in the same order; one secret serves them all.
    #[arg(
        long,
        env = "FLASHSALE_EVENT_WEBHOOK_SECRET",
        value_delimiter = ',',
        hide_env_values = true
    )]
    event_webhook_secret: Vec<String>,

    /// Longest an event endpoint may take to answer, connecting included.
    #[arg(long, env = "FLASHSALE_EVENT_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    event_webhook_timeout: Duration,

    /// How often the catalog is compared with what the event endpoint was
    /// told of availability, for `product.sold_out` and
    /// `product.back_in_stock` (by the worker holding sweep partition 0).
    #[arg(long, env = "FLASHSALE_AVAILABILITY_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    availability_interval: Duration,

    /// Tries of one event, with doubling backoff, before it goes to
    /// `fs:webhooks:dead`.
    #[arg(long, env = "FLASHSALE_EVENT_WEBHOOK_ATTEMPTS", default_value_t = 8)]
    event_webhook_attempts: u32,

    /// Tries of the purchase step before a job is dead-lettered.
    #[arg(long, env = "FLASHSALE_MAX_ATTEMPTS", default_value_t = 5)]
    max_attempts: u32,

    /// A job unacknowledged this long (ms) is taken over from its worker.
    #[arg(long, env = "FLASHSALE_CLAIM_IDLE_MS", default_value_t = 30_000)]
    claim_idle_ms: u64,

    /// How often (ms) expired holds are swept.
    #[arg(long, env = "FLASHSALE_SWEEP_INTERVAL_MS", default_value_t = 200)]
    sweep_interval_ms: u64,

    /// How long (ms) a confirmed hold may wait for its purchase before it is
    /// enqueued again. Use the api-server's value.
    #[arg(long, env = "FLASHSALE_PURCHASE_TIMEOUT_MS", default_value_t = 300_000)]
    purchase_timeout_ms: u64,

    /// How many partitions the purchase streams and the sweep index are split
    /// into; every process of a deployment must use the same count.
    #[arg(long, env = "FLASHSALE_PARTITIONS", default_value_t = Partitions::default())]
    partitions: Partitions,

    /// How long an ended hold is kept (and with it its request_id, for
    /// retries): every process of a deployment must use the same. Below 24h
    /// a retry older than it makes a new hold.
    #[arg(long, env = "FLASHSALE_HOLD_RETENTION", default_value = "24h", value_parser = parse_retention)]
    hold_retention: Retention,

    /// How long before a HELD hold's deadline its owner gets an "expires
    /// soon" hold event (0s: never); only holds that live longer get one.
    /// Every api-server and worker of a deployment should use the same.
    #[arg(long, env = "FLASHSALE_EXPIRY_NOTICE", default_value = "30s", value_parser = humantime::parse_duration)]
    expiry_notice: Duration,

    /// How long a worker's hold on its sweep partitions lasts unless renewed:
    /// how long the partitions of a worker that died wait for another (ms).
    #[arg(long, env = "FLASHSALE_SWEEP_LEASE_MS", default_value_t = 5_000)]
    sweep_lease_ms: u64,

    /// How long acknowledged purchase jobs stay in their streams.
    #[arg(long, env = "FLASHSALE_PURCHASE_RETENTION", default_value = "1h", value_parser = humantime::parse_duration)]
    purchase_retention: Duration,

    /// How long orders and dead-lettered purchases stay in their streams;
    /// entries a consumer group has not read or acknowledged stay longer.
    #[arg(long, env = "FLASHSALE_ORDER_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    order_retention: Duration,

    /// How often the streams are trimmed to their retention (ms).
    #[arg(long, env = "FLASHSALE_TRIM_INTERVAL_MS", default_value_t = 60_000)]
    trim_interval_ms: u64,

    /// A consumer of the purchase streams idle this long with nothing
    /// pending (a worker gone for good) is removed from their group when
    /// the streams are trimmed (0s: never). One with pending jobs is kept.
    #[arg(long, env = "FLASHSALE_FORGET_CONSUMERS_AFTER", default_value = "24h", value_parser = humantime::parse_duration)]
    forget_consumers_after: Duration,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Converts a Redis written by an older version to this version's layout,
    /// in place, then exits. Stop every api-server and worker first; they
    /// refuse to start until it has finished. Safe to run again.
    Upgrade,
}

fn parse_retention(text: &str) -> Result<Retention, String> {
    let length = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    Retention::new(length).ok_or_else(|| format!("a retention is at least 1s, not {text}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.log.init();
    let redis = RedisConfig::new(&args.redis_url)
        .with_cluster(args.redis_cluster)
        .with_tls(args.redis_tls.tls());
    let engine_config = EngineConfig {
        purchase_timeout: Duration::from_millis(args.purchase_timeout_ms),
        partitions: args.partitions,
        retention: args.hold_retention,
        expiry_notice: args.expiry_notice,
        ..EngineConfig::default()
    };
    if let Some(Command::Upgrade) = args.command {
        return upgrade(&redis, engine_config).await;
    }
    if args.hold_retention < Retention::DEFAULT {
        tracing::warn!(
            retention = ?args.hold_retention.duration(),
            "ended holds are kept less than a day: a retry older than that makes a new hold"
        );
    }
    let engine = Engine::connect_patiently(
        &redis,
        engine_config,
        Duration::from_millis(args.redis_wait_ms),
    )
    .await
    .with_context(|| format!("connect to Redis at {}", redis.redacted_url()))?;

    let mut config = WorkerConfig::new(args.name.unwrap_or_else(WorkerConfig::unique_consumer));
    config.max_attempts = args.max_attempts;
    config.claim_idle = Duration::from_millis(args.claim_idle_ms);
    config.sweep_interval = Duration::from_millis(args.sweep_interval_ms);
    config.sweep_lease = Duration::from_millis(args.sweep_lease_ms);
    config.purchase_retention = args.purchase_retention;
    config.order_retention = args.order_retention;
    config.trim_interval = Duration::from_millis(args.trim_interval_ms);
    config.forget_consumers_after = args.forget_consumers_after;
    config.redis_wait = Duration::from_millis(args.redis_wait_ms);
    let metrics = WorkerMetrics::new();

    let admin_addr = args.former_metrics_addr.unwrap_or(args.admin_addr);
    let admin = AdminListener::start(admin_addr, engine.clone(), metrics.clone())
        .await
        .with_context(|| format!("listen on {admin_addr}"))?;

    let signalled = reservation_core::shutdown::signal();
    let (stop, stopped) = watch::channel(false);
    // The event groups start at the streams' new entries: they are made
    // before this worker's buyers append any order.
    let sweeper = Sweeper::new(engine.clone(), config.clone(), metrics.clone());
    let mut delivering = Vec::new();
    if !args.event_webhook.is_empty() {
        let secrets = &args.event_webhook_secret;
        if secrets.len() != 1 && secrets.len() != args.event_webhook.len() {
            bail!(
                "give one event webhook secret, or one for each of the {} endpoints",
                args.event_webhook.len()
            );
        }
        let endpoints: Vec<WebhookEndpoint> = args
            .event_webhook
            .iter()
            .enumerate()
            .map(|(i, url)| WebhookEndpoint {
                url: url.clone(),
                secret: secrets[i.min(secrets.len() - 1)].clone(),
                timeout: args.event_webhook_timeout,
            })
            .collect();
        let endpoints = Arc::new(EventEndpoints::new(&endpoints).context("the event webhooks")?);
        let deliverers = EventDeliverer::for_every_source(
            &engine,
            &redis,
            &endpoints,
            args.event_webhook_attempts,
            &config,
            &metrics,
        )
        .await
        .context("open the event streams")?;
        for deliverer in deliverers {
            let stopped = stopped.clone();
            delivering.push(tokio::spawn(async move { deliverer.run(stopped).await }));
        }
        let announcer = AvailabilityAnnouncer::new(
            engine.clone(),
            endpoints,
            sweeper.holder().to_owned(),
            args.availability_interval,
            args.event_webhook_attempts,
            metrics.clone(),
        );
        let stopped = stopped.clone();
        delivering.push(tokio::spawn(async move { announcer.run(stopped).await }));
    }
    let buying = match (&args.purchase_webhook, &args.purchase_webhook_secret) {
        (Some(url), Some(secret)) => {
            let endpoint = WebhookEndpoint {
                url: url.clone(),
                secret: secret.clone(),
                timeout: args.purchase_webhook_timeout,
            };
            let step = WebhookPurchase::new(&endpoint).context("the purchase webhook")?;
            start_buyers(&engine, &redis, Arc::new(step), &config, &metrics, &stopped).await?
        }
        _ => {
            start_buyers(
                &engine,
                &redis,
                Arc::new(AcceptAll),
                &config,
                &metrics,
                &stopped,
            )
            .await?
        }
    };
    let sweeping = tokio::spawn(async move { sweeper.run(stopped).await });
    tracing::info!(consumer = %config.consumer, admin = %admin.addr, "purchase worker running");
    if args.log.for_people() {
        println!(
            "purchase worker {} running; admin: http://{}/metrics, /livez, /readyz",
            config.consumer, admin.addr
        );
    }

    signalled.await;
    admin.stopping();
    tracing::info!("shutting down: finishing the job in hand");
    let _ = stop.send(true);
    for task in buying.into_iter().chain(delivering) {
        task.await?;
    }
    sweeping.await?;
    Ok(())
}

/// A buyer for every partition, buying with `step`, each on its own task.
async fn start_buyers<S: PurchaseStep>(
    engine: &Engine,
    redis: &RedisConfig,
    step: Arc<S>,
    config: &WorkerConfig,
    metrics: &Arc<WorkerMetrics>,
    stopped: &watch::Receiver<bool>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let buyers = Buyer::for_every_partition(engine, redis, step, config, metrics)
        .await
        .context("open the purchase streams")?;
    Ok(buyers
        .into_iter()
        .map(|buyer| {
            let stopped = stopped.clone();
            tokio::spawn(async move { buyer.run(stopped).await })
        })
        .collect())
}

/// `purchase-worker upgrade`: converts the Redis in place, printing each
/// product as it is done.
async fn upgrade(redis: &RedisConfig, config: EngineConfig) -> anyhow::Result<()> {
    let engine = Engine::connect_for_upgrade(redis, config, Arc::new(SystemClock))
        .await
        .context("connect to Redis for the upgrade")?;
    let report = engine
        .upgrade_layout(|sku, holds| println!("{sku}: {holds} hold records converted"))
        .await
        .context("upgrade the layout (run it again to go on from where it stopped)")?;
    if report.already_current {
        println!(
            "this Redis is in layout {} already; nothing to do",
            reservation_core::LAYOUT_VERSION
        );
    } else {
        println!(
            "upgraded {} products ({} hold records) to layout {}",
            report.products,
            report.holds,
            reservation_core::LAYOUT_VERSION
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;
    use reservation_core::testing::{CONFIGURATION_PAGE, check_generated_block, settings_table};

    #[test]
    fn the_configuration_reference_is_current() {
        let table = settings_table(&super::Args::command());
        check_generated_block(CONFIGURATION_PAGE.as_ref(), "purchase-worker", &table);
    }
}
