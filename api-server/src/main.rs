//! `api-server`: reads its configuration (flags or `FLASHSALE_*` variables),
//! connects the engine, serves gRPC, HTTP and the admin listener (metrics,
//! probes), and on SIGTERM or Ctrl-C shuts down within
//! `--shutdown-grace-ms`: it stops accepting, ends `WatchStock` streams and
//! Socket.IO sessions so their clients go to another node, answers what is
//! in flight, and exits 0, cutting off what is left once the grace is over.

mod args;

use std::time::Duration;

use anyhow::{Context, bail};
use api_server::{
    CustomerTokens, GrpcOptions, HttpOptions, Identity, JwtOptions, LimitOptions, LiveOptions,
    MerchantTokens, PushOptions, RunningServer, ServerConfig, ShopJwts, ShopTokens,
};
use clap::Parser;
use reservation_core::local_redis::LocalRedis;
use reservation_core::{
    CoalescerConfig, EndpointPolicy, Engine, EngineConfig, NewProduct, PushServices, Sku, StockFeed,
};

use args::Args;

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

    // Read before Redis is reached, so that a bad key file fails fast.
    let vapid = args.vapid.load().context("read the VAPID private key")?;

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

    let redis = args.redis.config(&redis_url);
    let engine = Engine::connect_patiently(
        &redis,
        args.deployment.apply(EngineConfig {
            max_quantity_per_reserve: args.max_quantity,
            ..EngineConfig::default()
        }),
        args.redis.wait(),
    )
    .await
    .with_context(|| format!("connect to Redis at {}", redis.redacted_url()))?;
    let feed = StockFeed::start(&redis, engine.clone())?;

    let vapid = match vapid {
        Some(key) => Some(key),
        // Every process of the demo must sign with the key the browsers
        // subscribed with, so it is made up once and shared through Redis.
        None if args.demo => Some(
            engine
                .demo_vapid_key()
                .await
                .context("make up the demo's VAPID key")?,
        ),
        None => {
            tracing::info!("no VAPID key configured: web push (\"Notify me\") is off");
            None
        }
    };

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
                push: PushOptions {
                    vapid_public_key: vapid.as_ref().map(|key| key.public_key_base64url()),
                    max_per_shopper: args.push_subscriptions_per_shopper,
                    endpoints: EndpointPolicy {
                        allow_http_loopback: args.push_allow_http_loopback,
                        push_services: PushServices::leaked(args.push_service_hosts.clone()),
                    },
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
    fn push_service_hosts_default_to_the_browsers_and_a_list_replaces_them() {
        use clap::Parser;
        use reservation_core::{PushServiceHost, PushServices};

        let parse = |flags: &[&str]| {
            let mut argv = vec!["api-server"];
            argv.extend_from_slice(flags);
            super::Args::try_parse_from(argv)
        };
        let default = parse(&[]).unwrap();
        assert_eq!(
            default.push_service_hosts,
            PushServices::BROWSERS.hosts().to_vec()
        );
        let listed = parse(&[
            "--push-service-hosts",
            "ntfy.shop.example:8443,*.UP.example",
        ])
        .unwrap();
        assert_eq!(
            listed.push_service_hosts,
            [
                PushServiceHost::exact("ntfy.shop.example").with_port(8443),
                PushServiceHost::under("up.example"),
            ]
        );
        for bad in [
            "10.0.0.7",
            "[::1]",
            "https://ntfy.example",
            "ntfy.example:0",
            "",
        ] {
            assert!(
                parse(&["--push-service-hosts", bad]).is_err(),
                "{bad:?} was taken"
            );
        }
    }

    #[test]
    fn the_configuration_reference_is_current() {
        let table = settings_table(&super::Args::command());
        check_generated_block(CONFIGURATION_PAGE.as_ref(), "api-server", &table);
    }
}
