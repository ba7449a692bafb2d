//! The command line. Flag names are part of the interface: scripts rely on
//! `--target`, `--token`, `--duration`, `--concurrency`, `--rate`, `--setup`,
//! `--stock`, `--skus`, `--json`, `--html` and `--slo`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "flashload",
    version,
    about = "Load generator for the flash-sale engine: hammers the reserve path over gRPC, \
             or fans stock out to many Socket.IO watchers, then checks the books"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Threads that run the load (default: one per core). On a machine the
    /// server shares, a load one thread can carry costs less on one: calls
    /// no longer wake a second thread or move between two.
    #[arg(long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Shoppers reserving over gRPC (closed or open loop); checks for oversell after.
    Reserve(ReserveArgs),
    /// Many Socket.IO watchers while stock changes; measures publish→receive latency.
    Watch(WatchArgs),
    /// Redis's own limit for the reserve path: redis-benchmark running the reserve script.
    Baseline(BaselineArgs),
    /// A product's books as the server audits them; exits 1 unless clean.
    Audit(AuditArgs),
    /// The engine's Lua scripts by SHA1, as `SLOWLOG` names them: `SHA name` lines.
    Scripts,
    /// A whole deployment of its own on loopback under load, faults and
    /// retries (workers, the api-server and Redis killed and restarted),
    /// then every book checked.
    Torture(TortureArgs),
    /// A sale opening to many "notify me" subscribers: web pushes per
    /// second from one purchase worker to a local push service, while
    /// purchases and expiries are timed beside it.
    PushOpening(PushOpeningArgs),
}

/// The api-server to load, and how to talk to it.
#[derive(Clone, Debug, Args)]
pub struct ServerArgs {
    /// The api-server's gRPC address.
    #[arg(long, env = "FLASHSALE_TARGET", default_value = "127.0.0.1:50051")]
    pub target: String,
    /// Merchant bearer token.
    #[arg(long, env = "FLASHSALE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// gRPC connections to spread calls over.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
}

/// Which products to use.
#[derive(Clone, Debug, Args)]
pub struct ProductArgs {
    /// Create fresh products for this run (named PREFIX-RUN-N).
    #[arg(long)]
    pub setup: bool,
    /// Units of each product `--setup` creates.
    #[arg(long, default_value_t = 1_000_000)]
    pub stock: i64,
    /// How many products `--setup` creates.
    #[arg(long, default_value_t = 1)]
    pub skus: usize,
    /// An existing product to use instead of `--setup` (repeatable). The run
    /// changes its stock; nothing else is touched.
    #[arg(long = "sku", conflicts_with = "setup")]
    pub existing: Vec<String>,
    /// Name prefix of the products `--setup` creates.
    #[arg(long, default_value = "load")]
    pub prefix: String,
}

/// Where the results go and what passes.
#[derive(Clone, Debug, Args)]
pub struct OutputArgs {
    /// Write every figure as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report with plots to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Objectives that set the exit status, e.g. 'p99<5ms,errors<0.1%,oversell==0'.
    #[arg(long, value_name = "EXPR")]
    pub slo: Option<String>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum SkewArg {
    /// The first product gets `--hot-share` of the calls.
    Hot,
    Uniform,
    /// Product k gets calls in proportion to 1/k^`--zipf-exponent`.
    Zipf,
}

#[derive(Debug, Args)]
pub struct ReserveArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub products: ProductArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// How long to offer load.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Offer load this long first, unmeasured (its holds still count in the checks).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// Closed loop: this many shoppers, each sending when answered (the
    /// default, with 64, when no rate is given).
    #[arg(long, conflicts_with_all = ["rate", "profile"])]
    pub concurrency: Option<usize>,
    /// Open loop: sends per second on a fixed schedule (the peak, with `--profile`).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Open loop: `sale-open`, `ramp` (both peak at `--rate`), or TIME:RATE,…
    #[arg(long)]
    pub profile: Option<String>,
    /// Open loop: sends are dropped (and counted) beyond this many unanswered calls.
    #[arg(long, default_value_t = 10_000)]
    pub max_in_flight: usize,
    /// A call unanswered after this counts as a deadline failure.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// How traffic spreads over the products.
    #[arg(long, value_enum, default_value = "hot")]
    pub skew: SkewArg,
    /// With `--skew hot`: the hot product's share of calls.
    #[arg(long, default_value_t = 0.9)]
    pub hot_share: f64,
    #[arg(long, default_value_t = 1.0)]
    pub zipf_exponent: f64,
    /// Units per reserve: N or LOW-HIGH.
    #[arg(long, default_value = "1")]
    pub quantity: String,
    /// Distinct shoppers.
    #[arg(long, default_value_t = 100_000)]
    pub customers: u64,
    /// Per-customer limit of the products `--setup` creates (0: none).
    #[arg(long, default_value_t = 0)]
    pub per_customer_limit: u32,
    /// Hold length of the products `--setup` creates [default: the run plus 10 minutes, so no hold expires during it].
    #[arg(long)]
    pub hold_seconds: Option<u32>,
    /// Share of reserves sent again with the same request_id.
    #[arg(long, default_value_t = 0.0)]
    pub retry_fraction: f64,
    /// Share of new holds confirmed right after.
    #[arg(long, default_value_t = 0.0)]
    pub confirm_fraction: f64,
    /// Share of new holds cancelled right after.
    #[arg(long, default_value_t = 0.0)]
    pub cancel_fraction: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    Websocket,
    Polling,
    /// `--polling-share` of the clients on polling, the rest on websocket.
    Mixed,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub products: ProductArgs,
    #[command(flatten)]
    pub output: OutputArgs,
    /// The api-server's HTTP address, where Socket.IO listens.
    #[arg(long, env = "FLASHSALE_HTTP", default_value = "127.0.0.1:8080")]
    pub http: String,
    /// Socket.IO clients to open; client i watches product i mod `--skus`.
    #[arg(long, default_value_t = 1000)]
    pub clients: usize,
    #[arg(long, value_enum, default_value = "websocket")]
    pub transport: TransportArg,
    /// With `--transport mixed`: the share of clients on long-polling.
    #[arg(long, default_value_t = 0.1)]
    pub polling_share: f64,
    /// Clients opened per second while connecting.
    #[arg(long, default_value_t = 1000.0)]
    pub connect_rate: f64,
    /// Stock changes per second, spread over the products (restocks of ±1).
    #[arg(long, default_value_t = 100.0)]
    pub changes: f64,
    /// How long to change stock once every client watches.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// After the last change, how long clients get to reach the final version.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub settle: Duration,
    /// The server's process id (the api-server's, or any other Socket.IO
    /// server's), to report its memory per connected client and its CPU per
    /// delivered event.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// The Redis the server uses (a Cluster's nodes comma-separated), to
    /// report its CPU per delivered event too.
    #[arg(long, value_name = "URL")]
    pub redis_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct BaselineArgs {
    /// The Redis the api-server uses (the baseline product is created there).
    #[arg(long, env = "FLASHSALE_REDIS_URL")]
    pub redis_url: String,
    /// redis-benchmark's clients (`-c`).
    #[arg(long, default_value_t = 50)]
    pub clients: usize,
    /// Reserves to send (`-n`).
    #[arg(long, default_value_t = 200_000)]
    pub requests: u64,
    /// The redis-benchmark program.
    #[arg(long, default_value = "redis-benchmark")]
    pub redis_benchmark: PathBuf,
    /// Write the result as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub server: ServerArgs,
    /// The product to audit.
    #[arg(long)]
    pub sku: String,
}

#[derive(Debug, Args)]
pub struct TortureArgs {
    /// How long load and faults last.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Last this many minutes instead: the long mode.
    #[arg(long, conflicts_with = "duration")]
    pub minutes: Option<u64>,
    /// Run on a private Redis Cluster (three primaries, a replica each) and
    /// fail a primary over, instead of restarting a single Redis.
    #[arg(long)]
    pub cluster: bool,
    /// Shoppers reserving at once.
    #[arg(long, default_value_t = 24)]
    pub shoppers: usize,
    /// Socket.IO watchers, half on long-polling.
    #[arg(long, default_value_t = 16)]
    pub watchers: usize,
    /// Products, each with `--stock` units to start.
    #[arg(long, default_value_t = 4)]
    pub skus: usize,
    #[arg(long, default_value_t = 500)]
    pub stock: i64,
    /// Hold length: short, so holds expire during the run.
    #[arg(long, default_value_t = 2)]
    pub hold_seconds: u32,
    /// Plans the same faults at the same moments [default: random, printed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where the api-server and purchase-worker binaries are [default:
    /// flashload's own directory].
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Write every figure as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// `flashload push-opening`: starts its own Redis, one purchase worker and a
/// push service, all on loopback.
#[derive(Clone, Debug, Args)]
pub struct PushOpeningArgs {
    /// Shoppers subscribed to the sale's opening.
    #[arg(long, default_value_t = 100_000)]
    pub subscribers: usize,
    /// Subscriptions made at once while setting up.
    #[arg(long, default_value_t = 64)]
    pub setup_concurrency: usize,
    /// How long the probes run before the sale opens: their baseline.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub baseline: Duration,
    /// A purchase probe and an expiry probe start this often.
    #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
    pub probe_interval: Duration,
    /// Longest the pushes may take to reach every subscriber.
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// A flag for the purchase worker (repeat it), e.g.
    /// `--worker-flag=--push-concurrency=256`.
    #[arg(long = "worker-flag", value_name = "FLAG", allow_hyphen_values = true)]
    pub worker_flags: Vec<String>,
    /// Where the purchase-worker binary is [default: flashload's own
    /// directory].
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// Write every figure as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}
