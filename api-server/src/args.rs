//! The api-server's settings: every flag, with the `FLASHSALE_*` variable
//! beside it and its default. `docs/configuration.md` is generated from
//! these (and checked by the binary's tests).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use api_server::LimitOptions;
use api_server::LiveOptions;
use api_server::PushOptions;
use clap::Parser;
use reservation_core::{
    DeploymentArgs, Error, LogArgs, PushServiceHost, PushServices, RedisArgs, VapidArgs,
};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "The flash-sale reservation engine's gRPC and HTTP server"
)]
pub struct Args {
    /// Redis to use: redis://[user:password@]host:port (rediss:// for TLS),
    /// or a comma-separated list of Redis Cluster seed nodes. Required unless
    /// --demo.
    #[arg(long, env = "FLASHSALE_REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    #[command(flatten)]
    pub redis: RedisArgs,

    #[command(flatten)]
    pub deployment: DeploymentArgs,

    /// Where shoppers' HTTP API, Socket.IO and the web pages listen.
    #[arg(long, env = "FLASHSALE_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,

    /// Where the merchants' gRPC API listens.
    #[arg(long, env = "FLASHSALE_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,

    /// Where the operator's endpoints listen: /metrics (Prometheus), /livez
    /// and /readyz (probes; /healthz is readyz's deprecated name). Keep it
    /// off the public network.
    #[arg(long, env = "FLASHSALE_ADMIN_ADDR", default_value = "127.0.0.1:9090")]
    pub admin_addr: SocketAddr,

    #[command(flatten)]
    pub log: LogArgs,

    /// Comma-separated bearer tokens accepted for merchant (gRPC) calls.
    /// Without any, every merchant call is refused.
    #[arg(
        long,
        env = "FLASHSALE_MERCHANT_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub merchant_tokens: Vec<String>,

    /// A file with one merchant token per line, added to --merchant-tokens.
    #[arg(long, env = "FLASHSALE_MERCHANT_TOKENS_FILE")]
    pub merchant_tokens_file: Option<PathBuf>,

    /// Requests in flight at once, per API, before new ones are shed
    /// (gRPC RESOURCE_EXHAUSTED, HTTP 429).
    #[arg(long, env = "FLASHSALE_MAX_IN_FLIGHT", default_value_t = 4096)]
    pub max_in_flight: usize,

    /// Longest a gRPC call may run, in milliseconds, whatever deadline the client sets.
    #[arg(long, env = "FLASHSALE_MAX_CALL_MS", default_value_t = 5_000)]
    pub max_call_ms: u64,

    /// Most units one reserve may ask for.
    #[arg(long, env = "FLASHSALE_MAX_QUANTITY", default_value_t = 10)]
    pub max_quantity: u32,

    /// Most reserves of one product sent in one script call; 1 turns
    /// coalescing off.
    #[arg(long, env = "FLASHSALE_RESERVE_BATCH", default_value_t = 64)]
    pub reserve_batch: usize,

    /// Script calls in flight per product while reserves are coalesced.
    #[arg(long, env = "FLASHSALE_RESERVE_CALLS_PER_PRODUCT", default_value_t = 2)]
    pub reserve_calls_per_product: usize,

    /// How long (µs) a busy product's next batch may wait to fill up.
    #[arg(long, env = "FLASHSALE_RESERVE_LINGER_US", default_value_t = 0)]
    pub reserve_linger_us: u64,

    /// Most products one Socket.IO socket may watch at once.
    #[arg(long, env = "FLASHSALE_MAX_WATCHED_SKUS", default_value_t = 32)]
    pub max_watched_skus: usize,

    /// At most one live stock update per product per this many milliseconds.
    #[arg(long, env = "FLASHSALE_STOCK_INTERVAL_MS", default_value_t = 50)]
    pub stock_interval_ms: u64,

    /// Bytes of websocket read buffer each live connection holds.
    #[arg(long, env = "FLASHSALE_WS_READ_BUFFER_BYTES", default_value_t = LiveOptions::default().ws_read_buffer)]
    pub ws_read_buffer_bytes: usize,

    /// Comma-separated origins (https://shop.example) whose pages may use the
    /// HTTP API and Socket.IO; without any, only the server's own pages.
    #[arg(long, env = "FLASHSALE_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<axum::http::HeaderValue>,

    /// Units one customer may reserve per second, over gRPC and HTTP (0: no limit).
    #[arg(long, env = "FLASHSALE_RESERVES_PER_CUSTOMER", default_value_t = LimitOptions::default().reserves_per_customer)]
    pub reserves_per_customer: u32,

    /// Units one client address may reserve per second (0: no limit). Behind
    /// a load balancer every client has the balancer's address.
    #[arg(long, env = "FLASHSALE_RESERVES_PER_ADDRESS", default_value_t = LimitOptions::default().reserves_per_address)]
    pub reserves_per_address: u32,

    /// Socket.IO sockets this node holds at once (0: no cap).
    #[arg(long, env = "FLASHSALE_MAX_SOCKETS", default_value_t = LimitOptions::default().max_sockets)]
    pub max_sockets: usize,

    /// Socket.IO sockets one client address holds at once (0: no cap).
    #[arg(long, env = "FLASHSALE_MAX_SOCKETS_PER_ADDRESS", default_value_t = LimitOptions::default().max_sockets_per_address)]
    pub max_sockets_per_address: usize,

    /// New Socket.IO sessions this node accepts per second, with a burst of
    /// five seconds' worth (0: no limit).
    #[arg(long, env = "FLASHSALE_SESSION_OPENS_PER_SECOND", default_value_t = LimitOptions::default().session_opens_per_second)]
    pub session_opens_per_second: u32,

    /// The secret the shop's back-end signs customer tokens with (HMAC-SHA256;
    /// see docs/api.md). With it, shoppers are named by signed tokens only.
    #[arg(long, env = "FLASHSALE_CUSTOMER_TOKEN_SECRET", hide_env_values = true)]
    pub customer_token_secret: Option<String>,

    /// The secret the shop signs its shoppers' JWTs with, for HS256 tokens
    /// (`sub` names the customer). Alongside --customer-token-secret, either
    /// kind of token names a shopper.
    #[arg(long, env = "FLASHSALE_JWT_HS256_SECRET", hide_env_values = true)]
    pub jwt_hs256_secret: Option<String>,

    /// A JWKS file with the public keys the shop signs its shoppers' JWTs
    /// with (RS256, ES256, …); read again when it changes.
    #[arg(long, env = "FLASHSALE_JWT_JWKS_FILE")]
    pub jwt_jwks_file: Option<PathBuf>,

    /// Comma-separated `aud` values a shopper's JWT must carry one of; none:
    /// `aud` is not checked.
    #[arg(long, env = "FLASHSALE_JWT_AUDIENCE", value_delimiter = ',')]
    pub jwt_audience: Vec<String>,

    /// Comma-separated `iss` values a shopper's JWT must come from; none:
    /// `iss` is not checked.
    #[arg(long, env = "FLASHSALE_JWT_ISSUER", value_delimiter = ',')]
    pub jwt_issuer: Vec<String>,

    /// How far the shop's clock may be off when a JWT's `exp` and `nbf` are
    /// checked.
    #[arg(long, env = "FLASHSALE_JWT_LEEWAY", default_value = "30s", value_parser = humantime::parse_duration)]
    pub jwt_leeway: Duration,

    /// How often the JWKS file is looked at for new keys.
    #[arg(long, env = "FLASHSALE_JWT_JWKS_REFRESH", default_value = "30s", value_parser = nonzero_duration)]
    pub jwt_jwks_refresh: Duration,

    /// Take the bare X-Customer-Id header (or cookie) as the shopper, as in
    /// demo mode: only behind a gateway that sets it and strips clients' own.
    #[arg(long, env = "FLASHSALE_INSECURE_CUSTOMER_HEADER")]
    pub insecure_customer_header: bool,

    /// How long (ms) a shutdown (SIGTERM, Ctrl-C) may take: streams and
    /// sockets are told to go at once, calls in flight are answered, and
    /// whatever is still open after this is cut off, so that the process
    /// always exits within it. Keep it below the deployment's kill timeout.
    #[arg(long, env = "FLASHSALE_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    pub shutdown_grace_ms: u64,

    #[command(flatten)]
    pub vapid: VapidArgs,

    /// Most "Notify me" subscriptions one shopper may hold: one per product
    /// and browser. Subscribing a browser to a product again changes what it
    /// is told and does not count twice.
    #[arg(
        long,
        env = "FLASHSALE_PUSH_SUBSCRIPTIONS_PER_SHOPPER",
        default_value_t = PushOptions::default().max_per_shopper,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub push_subscriptions_per_shopper: u32,

    /// Take push endpoints on plain http to a loopback host (127.0.0.1, ::1,
    /// localhost), such as a mock push service in tests and local
    /// development, whatever --push-service-hosts lists. Real push services
    /// are https only: leave it off in production.
    #[arg(long, env = "FLASHSALE_PUSH_ALLOW_HTTP_LOOPBACK")]
    pub push_allow_http_loopback: bool,

    /// Comma-separated push services whose subscription endpoints are
    /// taken (https only, never an IP address), replacing the browsers' own
    /// (the default): a host name, `*.domain` for every host under it, and
    /// `:port` when not 443. Name a self-hosted one (UnifiedPush, ntfy) here
    /// with the browsers' if shoppers use both. The workers post to every
    /// endpoint taken: list only push services.
    #[arg(
        long,
        env = "FLASHSALE_PUSH_SERVICE_HOSTS",
        value_delimiter = ',',
        value_name = "HOST",
        default_values_t = PushServices::BROWSERS.hosts().to_vec(),
        value_parser = push_service_host
    )]
    pub push_service_hosts: Vec<PushServiceHost>,

    /// The static web pages to serve.
    #[arg(long, env = "FLASHSALE_WEB_DIR", default_value = "web")]
    pub web_dir: PathBuf,

    /// Demo mode: start a private Redis when none is configured, add a few
    /// products, and make up a merchant token and a VAPID key when none is
    /// configured (the key is kept in Redis, shared by the demo's workers).
    #[arg(long, env = "FLASHSALE_DEMO")]
    pub demo: bool,
}

/// One of `--push-service-hosts`; the error says what is wrong with it.
fn push_service_host(text: &str) -> Result<PushServiceHost, String> {
    text.trim().parse().map_err(|e| match e {
        Error::InvalidArgument { reason, .. } => reason,
        e => e.to_string(),
    })
}

/// A duration, as humantime reads it, that is more than zero: a period of
/// zero means nothing sensible for a task that repeats.
fn nonzero_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(period) if period.is_zero() => Err("must be more than zero".to_owned()),
        Ok(period) => Ok(period),
        Err(e) => Err(e.to_string()),
    }
}
