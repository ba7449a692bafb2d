//! `purchase-worker`: reads its configuration (flags or `FLASHSALE_*`
//! variables), runs a buyer and a sweeper on the engine (and with a VAPID
//! key the web push planner and deliverer), serves `/metrics` and the
//! probes, and on SIGTERM or Ctrl-C finishes the job in hand, acknowledges
//! it and exits 0. `purchase-worker upgrade` converts a Redis
//! of an older layout instead, and exits.

mod args;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use purchase_worker::push::check_subject;
use purchase_worker::{
    AcceptAll, AdminListener, AvailabilityAnnouncer, Buyer, EventDeliverer, EventEndpoints,
    HoldExpiringPushes, PurchaseStep, PushDeliverer, PushPlanner, PushSettings, Sweeper,
    WebhookEndpoint, WebhookPurchase, WorkerConfig, WorkerMetrics,
};
use reservation_core::keys::Retention;
use reservation_core::{Engine, EngineConfig, RedisConfig, SystemClock};
use tokio::sync::watch;

use args::{Args, Command};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.log.init();
    let redis = args.redis.config(&args.redis_url);
    let engine_config = args.deployment.apply(EngineConfig::default());
    if let Some(Command::Upgrade) = args.command {
        return upgrade(&redis, engine_config).await;
    }
    if args.deployment.hold_retention < Retention::DEFAULT {
        tracing::warn!(
            retention = ?args.deployment.hold_retention.duration(),
            "ended holds are kept less than a day: a retry older than that makes a new hold"
        );
    }
    let engine = Engine::connect_patiently(&redis, engine_config, args.redis.wait())
        .await
        .with_context(|| format!("connect to Redis at {}", redis.redacted_url()))?;

    let mut config = WorkerConfig::new(
        args.name
            .clone()
            .unwrap_or_else(WorkerConfig::unique_consumer),
    );
    config.max_attempts = args.max_attempts;
    config.claim_idle = Duration::from_millis(args.claim_idle_ms);
    config.sweep_interval = Duration::from_millis(args.sweep_interval_ms);
    config.sweep_lease = Duration::from_millis(args.sweep_lease_ms);
    config.purchase_retention = args.purchase_retention;
    config.order_retention = args.order_retention;
    config.trim_interval = Duration::from_millis(args.trim_interval_ms);
    config.forget_consumers_after = args.forget_consumers_after;
    config.redis_wait = args.redis.wait();
    let metrics = WorkerMetrics::new();

    let admin_addr = args.former_metrics_addr.unwrap_or(args.admin_addr);
    let admin = AdminListener::start(admin_addr, engine.clone(), metrics.clone())
        .await
        .with_context(|| format!("listen on {admin_addr}"))?;

    let signalled = reservation_core::shutdown::signal();
    let (stop, stopped) = watch::channel(false);
    // The event groups start at the streams' new entries: they are made
    // before this worker's buyers append any order.
    let mut sweeper = Sweeper::new(engine.clone(), config.clone(), metrics.clone());
    let mut delivering = Vec::new();
    let mut pushing = None;
    match push_settings(&args, &engine).await? {
        None => tracing::info!(
            "no VAPID key (--vapid-private-key-file, --vapid-private-key or --demo-vapid): web push is off"
        ),
        Some((key, settings)) => {
            let deliverer = PushDeliverer::new(&engine, &key, settings.clone(), &config, &metrics)
                .await
                .context("web push")?;
            let stopping = stopped.clone();
            delivering.push(
                deliverer
                    .spawn_on_own_thread(stopping)
                    .context("start web push's thread")?,
            );
            let drain_within = settings.timeout;
            let planner = PushPlanner::new(
                engine.clone(),
                sweeper.holder().to_owned(),
                settings,
                metrics.clone(),
            );
            let stopping = stopped.clone();
            delivering.push(tokio::spawn(async move { planner.run(stopping).await }));
            let (hook, task) = HoldExpiringPushes::start(engine.clone(), metrics.clone());
            sweeper = sweeper.with_hold_expiring_pushes(hook);
            pushing = Some((task, drain_within));
            tracing::info!(public_key = %key.public_key_base64url(), "web push on");
        }
    }
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
        warn_if_claimed_mid_try(&config, args.event_webhook_timeout, "event");
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
            warn_if_claimed_mid_try(&config, endpoint.timeout, "purchase");
            let step = WebhookPurchase::new(&endpoint).context("the purchase webhook")?;
            start_buyers(&engine, &redis, Arc::new(step), &config, &metrics, &stopped).await?
        }
        _ => {
            tracing::warn!(
                "no --purchase-webhook: every confirmed hold is bought as it is, with no payment taken"
            );
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
    // The sweeper's notices handed over so far are enqueued before exit,
    // for at most a push's timeout: with Redis away, their lookups would
    // hold the exit for minutes, for pushes that are best effort anyway.
    if let Some((task, within)) = pushing {
        match tokio::time::timeout(within, task).await {
            Ok(done) => done?,
            Err(_) => tracing::warn!(
                ?within,
                "hold-expiring pushes still being enqueued at exit; the rest are not pushed"
            ),
        }
    }
    Ok(())
}

/// The VAPID key and push settings, when a key is given; `None` turns web
/// push off.
async fn push_settings(
    args: &Args,
    engine: &Engine,
) -> anyhow::Result<Option<(reservation_core::VapidKey, PushSettings)>> {
    let key = if args.demo_vapid {
        Some(
            engine
                .demo_vapid_key()
                .await
                .context("read or make the demo VAPID key")?,
        )
    } else {
        args.vapid.load().context("read the VAPID private key")?
    };
    let Some(key) = key else { return Ok(None) };
    let subject = match (&args.vapid_subject, args.demo_vapid) {
        (Some(subject), _) => subject.clone(),
        (None, true) => DEMO_SUBJECT.to_owned(),
        (None, false) => bail!(
            "a VAPID key needs --vapid-subject (FLASHSALE_VAPID_SUBJECT): a mailto: or https: URL push services may contact"
        ),
    };
    check_subject(&subject).map_err(anyhow::Error::msg)?;
    let settings = PushSettings {
        concurrency: args.push_concurrency as usize,
        per_origin: args.push_per_origin,
        attempts: args.push_attempts,
        quiet_period: args.push_quiet_period,
        interval: args.push_interval,
        timeout: args.push_timeout,
        round_batch: args.push_round_batch.max(1),
        ..PushSettings::new(subject)
    };
    Ok(Some((key, settings)))
}

/// The VAPID subject of a demo deployment that names none.
const DEMO_SUBJECT: &str = "mailto:demo@flash-sale.example";

/// Another worker takes a job over once it has been idle `claim_idle`; a job
/// is kept before each try, so only a single try outlasting it (the
/// endpoint's timeout and the longest wait between tries) lets two workers
/// ask the shop (or a push service) at once.
fn warn_if_claimed_mid_try(config: &WorkerConfig, timeout: Duration, kind: &str) {
    let one_try = timeout + WorkerConfig::MAX_RETRY_DELAY;
    if config.claim_idle <= one_try {
        tracing::warn!(
            claim_idle = ?config.claim_idle,
            ?one_try,
            "--claim-idle-ms is shorter than one {kind} webhook try can take: a slow endpoint may be asked by two workers at once"
        );
    }
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
