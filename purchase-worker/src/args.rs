//! The purchase worker's settings: every flag, with the `FLASHSALE_*`
//! variable beside it and its default. `docs/configuration.md` is generated
//! from these (and checked by the binary's tests).

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use clap::{Parser, Subcommand};
use reservation_core::{DeploymentArgs, LogArgs, RedisArgs, VapidArgs};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Turns confirmed holds into sales and gives back expired ones"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Redis to use: redis://[user:password@]host:port (rediss:// for TLS),
    /// or a comma-separated list of Redis Cluster seed nodes.
    #[arg(long, env = "FLASHSALE_REDIS_URL", hide_env_values = true)]
    pub redis_url: String,

    #[command(flatten)]
    pub redis: RedisArgs,

    #[command(flatten)]
    pub deployment: DeploymentArgs,

    /// Where /metrics (Prometheus), /livez and /readyz (probes) are served.
    /// --metrics-addr is its former name, and FLASHSALE_METRICS_ADDR is
    /// still read when FLASHSALE_ADMIN_ADDR is not set.
    #[arg(
        long,
        env = "FLASHSALE_ADMIN_ADDR",
        default_value = "127.0.0.1:9091",
        visible_alias = "metrics-addr"
    )]
    pub admin_addr: SocketAddr,

    /// FLASHSALE_METRICS_ADDR, read for deployments that set it before
    /// --admin-addr served the probes too.
    #[arg(
        long = "former-metrics-addr",
        env = "FLASHSALE_METRICS_ADDR",
        hide = true,
        conflicts_with = "admin_addr"
    )]
    pub former_metrics_addr: Option<SocketAddr>,

    #[command(flatten)]
    pub log: LogArgs,

    /// This worker's name in the consumer group; must differ between
    /// workers. Default: HOSTNAME-ULID, new for every process.
    #[arg(long, env = "FLASHSALE_WORKER_NAME")]
    pub name: Option<String>,

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
    pub purchase_webhook: Option<String>,

    /// The purchase endpoint's signing secret, `whsec_` and base64.
    #[arg(
        long,
        env = "FLASHSALE_PURCHASE_WEBHOOK_SECRET",
        hide_env_values = true,
        requires = "purchase_webhook"
    )]
    pub purchase_webhook_secret: Option<String>,

    /// Longest the purchase endpoint may take to answer, connecting included.
    #[arg(long, env = "FLASHSALE_PURCHASE_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub purchase_webhook_timeout: Duration,

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
    pub event_webhook: Vec<String>,

    /// The event endpoints' signing secrets (`whsec_` and base64),
    /// comma-separated in the same order; one secret serves them all.
    #[arg(
        long,
        env = "FLASHSALE_EVENT_WEBHOOK_SECRET",
        value_delimiter = ',',
        hide_env_values = true,
        requires = "event_webhook"
    )]
    pub event_webhook_secret: Vec<String>,

    /// Longest an event endpoint may take to answer, connecting included.
    #[arg(long, env = "FLASHSALE_EVENT_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub event_webhook_timeout: Duration,

    /// How often the catalog is compared with what the event endpoint was
    /// told of availability, for `product.sold_out` and
    /// `product.back_in_stock` (by the worker holding sweep partition 0).
    #[arg(long, env = "FLASHSALE_AVAILABILITY_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub availability_interval: Duration,

    /// Tries of one event, with doubling backoff, before it goes to
    /// `fs:webhooks:dead`.
    #[arg(long, env = "FLASHSALE_EVENT_WEBHOOK_ATTEMPTS", default_value_t = 8)]
    pub event_webhook_attempts: u32,

    /// Tries of the purchase step before a job is dead-lettered.
    #[arg(long, env = "FLASHSALE_MAX_ATTEMPTS", default_value_t = 5)]
    pub max_attempts: u32,

    /// A job unacknowledged this long (ms) is taken over from its worker.
    #[arg(long, env = "FLASHSALE_CLAIM_IDLE_MS", default_value_t = 30_000)]
    pub claim_idle_ms: u64,

    /// How often (ms) expired holds are swept.
    #[arg(long, env = "FLASHSALE_SWEEP_INTERVAL_MS", default_value_t = 200)]
    pub sweep_interval_ms: u64,

    /// How long a worker's hold on its sweep partitions lasts unless renewed:
    /// how long the partitions of a worker that died wait for another (ms).
    #[arg(long, env = "FLASHSALE_SWEEP_LEASE_MS", default_value_t = 5_000)]
    pub sweep_lease_ms: u64,

    /// How long acknowledged purchase jobs stay in their streams.
    #[arg(long, env = "FLASHSALE_PURCHASE_RETENTION", default_value = "1h", value_parser = humantime::parse_duration)]
    pub purchase_retention: Duration,

    /// How long orders and dead-lettered purchases stay in their streams;
    /// entries a consumer group has not read or acknowledged stay longer.
    #[arg(long, env = "FLASHSALE_ORDER_RETENTION", default_value = "7d", value_parser = humantime::parse_duration)]
    pub order_retention: Duration,

    /// How often the streams are trimmed to their retention (ms).
    #[arg(long, env = "FLASHSALE_TRIM_INTERVAL_MS", default_value_t = 60_000)]
    pub trim_interval_ms: u64,

    /// A consumer of the purchase streams idle this long with nothing
    /// pending (a worker gone for good) is removed from their group when
    /// the streams are trimmed (0s: never). One with pending jobs is kept.
    #[arg(long, env = "FLASHSALE_FORGET_CONSUMERS_AFTER", default_value = "24h", value_parser = humantime::parse_duration)]
    pub forget_consumers_after: Duration,

    #[command(flatten)]
    pub vapid: VapidArgs,

    /// Who push services may contact about this deployment's pushes: a
    /// `mailto:` or `https:` URL, sent in every VAPID token. Required with a
    /// VAPID key (with --demo-vapid, mailto:demo@flash-sale.example).
    #[arg(long, env = "FLASHSALE_VAPID_SUBJECT")]
    pub vapid_subject: Option<String>,

    /// Push with the demo deployment's VAPID key, made up by the first
    /// process that asks and kept in Redis (as `api-server --demo` does).
    /// For demos only: anyone who can read Redis has the private key.
    #[arg(
        long,
        env = "FLASHSALE_DEMO_VAPID",
        conflicts_with_all = ["vapid_private_key_file", "vapid_private_key"]
    )]
    pub demo_vapid: bool,

    /// Web pushes this worker sends at once; one push service origin gets
    /// at most half of them, so a slow one cannot take them all.
    #[arg(long, env = "FLASHSALE_PUSH_CONCURRENCY", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub push_concurrency: u32,

    /// Web pushes a second this worker sends to one push service origin
    /// (`https://fcm.googleapis.com`, …). Most of a sale's subscribers share
    /// two or three such services, so this bounds how fast an opening goes
    /// out; a service that wants less says so with 429 and `Retry-After`.
    #[arg(long, env = "FLASHSALE_PUSH_PER_ORIGIN", default_value = "1000")]
    pub push_per_origin: NonZeroU32,

    /// Tries of one web push (doubling backoff, or the push service's
    /// `Retry-After`) before it goes to `fs:push:dead`.
    #[arg(long, env = "FLASHSALE_PUSH_ATTEMPTS", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub push_attempts: u32,

    /// A subscription is told a product is back in stock at most once in
    /// this long, however often its units come and go.
    #[arg(long, env = "FLASHSALE_PUSH_QUIET_PERIOD", default_value = "10m", value_parser = humantime::parse_duration)]
    pub push_quiet_period: Duration,

    /// How often the worker holding sweep partition 0 looks for sales
    /// opening and products back in stock, to push to their subscribers.
    #[arg(long, env = "FLASHSALE_PUSH_INTERVAL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub push_interval: Duration,

    /// Longest a push service may take to answer one push, connecting
    /// included.
    #[arg(long, env = "FLASHSALE_PUSH_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub push_timeout: Duration,

    /// Subscriptions a push round reads and enqueues per step (tests make
    /// it small to stop a worker mid-round).
    #[arg(
        long,
        env = "FLASHSALE_PUSH_ROUND_BATCH",
        default_value_t = 500,
        hide = true
    )]
    pub push_round_batch: u32,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Converts a Redis written by an older version to this version's layout,
    /// in place, then exits. Stop every api-server and worker first; they
    /// refuse to start until it has finished. Safe to run again.
    Upgrade,
}
