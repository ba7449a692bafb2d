//! `api-server`: reads its configuration (flags or `FLASHSALE_*` variables),
//! connects the engine, serves gRPC, HTTP and the admin listener (metrics,
//! probes), and on SIGTERM or Ctrl-C shuts down within
//! `--shutdown-grace-ms`: it stops accepting, ends `WatchStock` streams and
//! Socket.IO sessions so their clients go to another node, answers what is
//! in flight, and exits 0, cutting off what is left once the grace is over.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use api_server::{
    CustomerTokens, GrpcOptions, HttpOptions, Identity, JwtOptions, LimitOptions, LiveOptions,
    MerchantTokens, RunningServer, ServerConfig, ShopJwts, ShopTokens,
};
use clap::Parser;
use reservation_core::keys::{Partitions, Retention};
use reservation_core::local_redis::LocalRedis;
use reservation_core::{
    CoalescerConfig, Engine, EngineConfig, LogArgs, NewProduct, RedisConfig, RedisTlsArgs, Sku,
    StockFeed,
};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "The flash-sale reservation engine's gRPC and HTTP server"
)]
struct Args {
    /// Redis to use: redis://[user:password@]host:port (rediss:// for TLS),
    /// or a comma-separated list of Redis Cluster seed nodes. Required unless
    /// --demo.
    #[arg(long, env = "FLASHSALE_REDIS_URL", hide_env_values = true)]
    redis_url: Option<String>,

    /// How long (ms) to wait at start for a Redis that cannot answer yet
    /// (still starting, or loading its data after a restart).
    #[arg(long, env = "FLASHSALE_REDIS_WAIT_MS", default_value_t = 30_000)]
    redis_wait_ms: u64,

    /// The Redis URL is a Redis Cluster node (implied by a list of nodes).
    #[arg(long, env = "FLASHSALE_REDIS_CLUSTER")]
    redis_cluster: bool,

    #[command(flatten)]
    redis_tls: RedisTlsArgs,

    /// Where shoppers' HTTP API, Socket.IO and the web pages listen.
    #[arg(long, env = "FLASHSALE_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    http_addr: SocketAddr,

    /// Where the merchants' gRPC API listens.
    #[arg(long, env = "FLASHSALE_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    grpc_addr: SocketAddr,

    /// Where the operator's endpoints listen: /metrics (Prometheus), /livez
    /// and /readyz (probes; /healthz is readyz's deprecated name). Keep it
    /// off the public network.
    #[arg(long, env = "FLASHSALE_ADMIN_ADDR", default_value = "127.0.0.1:9090")]
    admin_addr: SocketAddr,

    #[command(flatten)]
    log: LogArgs,

    /// Comma-separated bearer tokens accepted for merchant (gRPC) calls.
    /// Without any, every merchant call is refused.
    #[arg(
        long,
        env = "FLASHSALE_MERCHANT_TOKENS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    merchant_tokens: Vec<String>,

    /// A file with one merchant token per line, added to --merchant-tokens.
    #[arg(long, env = "FLASHSALE_MERCHANT_TOKENS_FILE")]
    merchant_tokens_file: Option<PathBuf>,

    /// Requests in flight at once, per API, before new ones are shed
    /// (gRPC RESOURCE_EXHAUSTED, HTTP 429).
    #[arg(long, env = "FLASHSALE_MAX_IN_FLIGHT", default_value_t = 4096)]
    max_in_flight: usize,

    /// Longest a gRPC call may run, in milliseconds, whatever deadline the client sets.
    #[arg(long, env = "FLASHSALE_MAX_CALL_MS", default_value_t = 5_000)]
    max_call_ms: u64,

    /// How long (ms) a confirmed hold may wait for its purchase before the
    /// workers' sweep enqueues it again. Use the purchase workers' value.
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

    /// Most units one reserve may ask for.
    #[arg(long, env = "FLASHSALE_MAX_QUANTITY", default_value_t = 10)]
    max_quantity: u32,

    /// Most reserves of one product sent in one script call; 1 turns
    /// coalescing off.
    #[arg(long, env = "FLASHSALE_RESERVE_BATCH", default_value_t = 64)]
    reserve_batch: usize,

    /// Script calls in flight per product while reserves are coalesced.
    #[arg(long, env = "FLASHSALE_RESERVE_CALLS_PER_PRODUCT", default_value_t = 2)]
    reserve_calls_per_product: usize,

    /// How long (µs) a busy product's next batch may wait to fill up.
    #[arg(long, env = "FLASHSALE_RESERVE_LINGER_US", default_value_t = 0)]
    reserve_linger_us: u64,

    /// Most products one Socket.IO socket may watch at once.
    #[arg(long, env = "FLASHSALE_MAX_WATCHED_SKUS", default_value_t = 32)]
    max_watched_skus: usize,

    /// At most one live stock update per product per this many milliseconds.
    #[arg(long, env = "FLASHSALE_STOCK_INTERVAL_MS", default_value_t = 50)]
    stock_interval_ms: u64,

    /// Bytes of websocket read buffer each live connection holds.
    #[arg(long, env = "FLASHSALE_WS_READ_BUFFER_BYTES", default_value_t = LiveOptions::default().ws_read_buffer)]
    ws_read_buffer_bytes: usize,

    /// Comma-separated origins (https://shop.example) whose pages may use the
    /// HTTP API and Socket.IO; without any, only the server's own pages.
    #[arg(long, env = "FLASHSALE_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<axum::http::HeaderValue>,

    /// Units one customer may reserve per second, over gRPC and HTTP (0: no limit).
    #[arg(long, env = "FLASHSALE_RESERVES_PER_CUSTOMER", default_value_t = LimitOptions::default().reserves_per_customer)]
    reserves_per_customer: u32,

    /// Units one client address may reserve per second (0: no limit). Behind
    /// a load balancer every client has the balancer's address.
    #[arg(long, env = "FLASHSALE_RESERVES_PER_ADDRESS", default_value_t = LimitOptions::default().reserves_per_address)]
    reserves_per_address: u32,

    /// Socket.IO sockets this node holds at once (0: no cap).
    #[arg(long, env = "FLASHSALE_MAX_SOCKETS", default_value_t = LimitOptions::default().max_sockets)]
    max_sockets: usize,

    /// Socket.IO sockets one client address holds at once (0: no cap).
    #[arg(long, env = "FLASHSALE_MAX_SOCKETS_PER_ADDRESS", default_value_t = LimitOptions::default().max_sockets_per_address)]
    max_sockets_per_address: usize,

    /// New Socket.IO sessions this node accepts per second, with a burst of
    /// five seconds' worth (0: no limit).
    #[arg(long, env = "FLASHSALE_SESSION_OPENS_PER_SECOND", default_value_t = LimitOptions::default().session_opens_per_second)]
    session_opens_per_second: u32,

    /// The secret the shop's back-end signs customer tokens with (HMAC-SHA256;
    /// see docs/api.md). With it, shoppers are named by signed tokens only.
    #[arg(long, env = "FLASHSALE_CUSTOMER_TOKEN_SECRET", hide_env_values = true)]
    customer_token_secret: Option<String>,

    /// The secret the shop signs its shoppers' JWTs with, for HS256 tokens
    /// (`sub` names the customer). Alongside --customer-token-secret, either
    /// kind of token names a shopper.
    #[arg(long, env = "FLASHSALE_JWT_HS256_SECRET", hide_env_values = true)]
    jwt_hs256_secret: Option<String>,

    /// A JWKS file with the public keys the shop signs its shoppers' JWTs
    /// with (RS256, ES256, …); read again when it changes.
    #[arg(long, env = "FLASHSALE_JWT_JWKS_FILE")]
    jwt_jwks_file: Option<PathBuf>,

    /// Comma-separated `aud` values a shopper's JWT must carry one of; none:
    /// `aud` is not checked.
    #[arg(long, env = "FLASHSALE_JWT_AUDIENCE", value_delimiter = ',')]
    jwt_audience: Vec<String>,

    /// Comma-separated `iss` values a shopper's JWT must come from; none:
    /// `iss` is not checked.
    #[arg(long, env = "FLASHSALE_JWT_ISSUER", value_delimiter = ',')]
    jwt_issuer: Vec<String>,

    /// How far the shop's clock may be off when a JWT's `exp` and `nbf` are
    /// checked.
    #[arg(long, env = "FLASHSALE_JWT_LEEWAY", default_value = "30s", value_parser = humantime::parse_duration)]
    jwt_leeway: Duration,

    /// How often the JWKS file is looked at for new keys.
    #[arg(long, env = "FLASHSALE_JWT_JWKS_REFRESH", default_value = "30s", value_parser = humantime::parse_duration)]
    jwt_jwks_refresh: Duration,

    /// Take the bare X-Customer-Id header (or cookie) as the shopper, as in
    /// demo mode: only behind a gateway that sets it and strips clients' own.
    #[arg(long, env = "FLASHSALE_INSECURE_CUSTOMER_HEADER")]
    insecure_customer_header: bool,

    /// How long (ms) a shutdown (SIGTERM, Ctrl-C) may take: streams and
    /// sockets are told to go at once, calls in flight are answered, and
    /// whatever is still open after this is cut off, so that the process
    /// always exits within it. Keep it below the deployment's kill timeout.
    #[arg(long, env = "FLASHSALE_SHUTDOWN_GRACE_MS", default_value_t = 10_000)]
    shutdown_grace_ms: u64,

    /// The static web pages to serve.
    #[arg(long, env = "FLASHSALE_WEB_DIR", default_value = "web")]
    web_dir: PathBuf,

    /// Demo mode: start a private Redis when none is configured, add a few
    /// products, and make up a merchant token when none is configured.
    #[arg(long, env = "FLASHSALE_DEMO")]
    demo: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    args.log.init();

    let mut merchant_tokens = MerchantTokens::load(
        args.merchant_tokens.clone(),
        args.merchant_tokens_file.as_deref(),
    )
    .context("read the merchant token file")?;

    let jwt_options = JwtOptions {
        hs256_secret: args
            .jwt_hs256_secret
            .as_ref()
            .map(|s| s.as_bytes().to_vec()),
        jwks_file: args.jwt_jwks_file.clone(),
        audiences: args.jwt_audience.clone(),
        issuers: args.jwt_issuer.clone(),
        leeway: args.jwt_leeway,
    };
    let jwts = if jwt_options.is_configured() {
        Some(ShopJwts::load(jwt_options).context("load the shop's JWT keys")?)
    } else {
        None
    };
    let customer_tokens = args
        .customer_token_secret
        .as_ref()
        .map(|secret| CustomerTokens::new(secret.as_bytes()));
    let identity = match (
        ShopTokens::new(customer_tokens, jwts.clone()),
        args.insecure_customer_header || args.demo,
    ) {
        (Some(tokens), _) => Identity::Signed(tokens),
        (None, true) => Identity::Trusted,
        (None, false) => bail!(
            "name shoppers by tokens the shop signs: set FLASHSALE_CUSTOMER_TOKEN_SECRET, or \
             FLASHSALE_JWT_HS256_SECRET or FLASHSALE_JWT_JWKS_FILE for the shop's JWTs; or \
             --insecure-customer-header behind a gateway that sets X-Customer-Id, or --demo"
        ),
    };

    let mut _private_redis = None;
    let redis_url = match (&args.redis_url, args.demo) {
        (Some(url), _) => url.clone(),
        (None, true) => {
            let redis = LocalRedis::start().context("start a private redis-server for the demo")?;
            let url = redis.url();
            _private_redis = Some(redis);
            url
        }
        (None, false) => bail!("set FLASHSALE_REDIS_URL (or --redis-url), or run with --demo"),
    };

    let redis = RedisConfig::new(&redis_url)
        .with_cluster(args.redis_cluster)
        .with_tls(args.redis_tls.tls());
    let engine = Engine::connect_patiently(
        &redis,
        EngineConfig {
            max_quantity_per_reserve: args.max_quantity,
            purchase_timeout: Duration::from_millis(args.purchase_timeout_ms),
            partitions: args.partitions,
            retention: args.hold_retention,
            expiry_notice: args.expiry_notice,
            ..EngineConfig::default()
        },
        Duration::from_millis(args.redis_wait_ms),
    )
    .await
    .with_context(|| format!("connect to Redis at {}", redis.redacted_url()))?;
    let feed = StockFeed::start(&redis, engine.clone())?;

    let mut demo_token = None;
    if args.demo {
        seed_demo_products(&engine).await?;
        if merchant_tokens.is_empty() {
            let token = format!("demo-{}", ulid::Ulid::new());
            merchant_tokens = MerchantTokens::new([token.clone()]);
            demo_token = Some(token);
        }
    }
    if merchant_tokens.is_empty() {
        tracing::warn!("no merchant tokens configured: every gRPC merchant call will be refused");
    }

    let signalled = reservation_core::shutdown::signal();
    let server = RunningServer::start(
        ServerConfig {
            http_addr: args.http_addr,
            grpc_addr: args.grpc_addr,
            admin_addr: args.admin_addr,
            merchant_tokens,
            reserves: CoalescerConfig {
                max_batch: args.reserve_batch,
                calls_per_product: args.reserve_calls_per_product,
                linger: Duration::from_micros(args.reserve_linger_us),
            },
            identity,
            shutdown_grace: Duration::from_millis(args.shutdown_grace_ms),
            limits: LimitOptions {
                reserves_per_customer: args.reserves_per_customer,
                reserves_per_address: args.reserves_per_address,
                max_sockets: args.max_sockets,
                max_sockets_per_address: args.max_sockets_per_address,
                session_opens_per_second: args.session_opens_per_second,
            },
            grpc: GrpcOptions {
                max_in_flight: args.max_in_flight,
                max_call_time: Duration::from_millis(args.max_call_ms),
            },
            http: HttpOptions {
                max_in_flight: args.max_in_flight,
                web_dir: args.web_dir.clone(),
                cors_origins: args.cors_origins.clone(),
                live: LiveOptions {
                    max_watched: args.max_watched_skus,
                    interval: Duration::from_millis(args.stock_interval_ms),
                    ws_read_buffer: args.ws_read_buffer_bytes,
                    ..LiveOptions::default()
                },
            },
        },
        engine,
        feed,
    )
    .await?;
    tracing::info!(
        redis = %redis.redacted_url(),
        http = %server.http_addr,
        grpc = %server.grpc_addr,
        admin = %server.admin_addr,
        "serving"
    );
    if args.log.for_people() {
        println!("shop and JSON API: http://{}/", server.http_addr);
        println!(
            "admin:             http://{}/metrics, /livez, /readyz",
            server.admin_addr
        );
        println!("merchant gRPC:     {} (reflection on)", server.grpc_addr);
    }
    if let Some(token) = demo_token {
        // Printed in either format: nothing else tells the demo's token.
        println!("merchant token:    {token}");
        println!(
            "try:  grpcurl -plaintext -H 'authorization: Bearer {token}' {} flashsale.v1.InventoryService/ListProducts",
            server.grpc_addr
        );
    }

    if let Some(jwts) = jwts {
        // It holds nothing to drain: it ends with the process.
        tokio::spawn(jwts.keep_keys_current(args.jwt_jwks_refresh));
    }
    signalled.await;
    tracing::info!(
        grace_ms = args.shutdown_grace_ms,
        "shutting down: streams and sockets told to go, finishing requests in flight"
    );
    server.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}

fn parse_retention(text: &str) -> Result<Retention, String> {
    let length = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    Retention::new(length).ok_or_else(|| format!("a retention is at least 1s, not {text}"))
}

async fn seed_demo_products(engine: &Engine) -> anyhow::Result<()> {
    let products = [
        ("SNEAKER-RED", "Limited red sneaker", 12_900, 100),
        ("TEE-BLACK-M", "Black tee, M", 2_500, 500),
        ("CAP-NAVY", "Navy cap", 1_900, 50),
    ];
    for (sku, name, price, stock) in products {
        let mut product = NewProduct::new(Sku::new(sku)?, name, price, stock);
        product.per_customer_limit = 2;
        product.hold_seconds = 120;
        match engine.create_product(&product).await {
            Ok(_) | Err(reservation_core::Error::ProductExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
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
        check_generated_block(CONFIGURATION_PAGE.as_ref(), "api-server", &table);
    }
}
