//! A managed Redis is reached over TLS, as an ACL user: the engine serves a
//! whole sale that way, on one node and on a Cluster, as the user the
//! operations page documents (the harness creates it from that page, so the
//! page lists every command the engine needs). Clients the server would not
//! trust, and that user's administrative commands, are refused.

use std::time::Duration;

use reservation_core::local_redis::LocalClusterOptions;
use reservation_core::testing::{TestCertificates, TestEngine, TestOptions, cart};
use reservation_core::{Engine, EngineConfig, HoldState, RedisConfig, StockFeed};

fn secured(cluster: Option<LocalClusterOptions>) -> TestOptions {
    TestOptions {
        tls_acl: true,
        cluster,
        ..TestOptions::default()
    }
}

/// Reserves, carts, confirms, cancels, expires and sweeps, with the live
/// feeds watching and the books audited: every kind of call the engine makes.
async fn serve_a_sale(t: &TestEngine) {
    let tee = t.product_with("TEE", 10, |p| p.hold_seconds = 60).await;
    let cap = t.product("CAP", 10).await;
    let feed = StockFeed::start(&t.redis_config(), t.engine.clone()).unwrap();
    let mut stock = feed.watch(&tee).await.unwrap();
    let mut holds = feed.watch_customer(&"ann".parse().unwrap()).await.unwrap();

    let held = t.reserved(&tee, "ann", 2, "r1").await;
    let event = tokio::time::timeout(Duration::from_secs(5), stock.next())
        .await
        .expect("a stock event over TLS")
        .unwrap();
    assert_eq!(event.available, 8);
    let hold_event = tokio::time::timeout(Duration::from_secs(5), holds.next())
        .await
        .expect("a hold event over TLS")
        .unwrap();
    assert_eq!(hold_event.reservation_id, held.hold.id);

    t.engine
        .reserve_cart(&cart("bob", "c1", &[(&tee, 1), (&cap, 1)]))
        .await
        .unwrap();
    let kept = t.reserved(&cap, "cid", 1, "r2").await;
    t.engine.confirm(&held.hold.id, None).await.unwrap();
    t.engine.cancel(&kept.hold.id, None).await.unwrap();

    t.advance(Duration::from_secs(61));
    for partition in t.engine.config().partitions.all() {
        for (sku, _) in t
            .engine
            .due_products(&partition, t.engine.now_ms(), 10)
            .await
            .unwrap()
        {
            t.engine.sweep_product(&sku, 64).await.unwrap();
        }
    }
    let page = t
        .engine
        .customer_holds(&"ann".parse().unwrap(), None, None, 10)
        .await
        .unwrap();
    assert_eq!(page.holds.len(), 1, "ann's confirmed hold is listed");
    assert_eq!(page.holds[0].state, HoldState::Confirmed);
    for sku in [&tee, &cap] {
        let audit = t.engine.audit(sku).await.unwrap();
        assert!(audit.is_clean(), "{sku}: {:?}", audit.problems());
    }
    assert_eq!(t.stock("TEE").await.held, 2, "only ann's confirmed units");
}

#[tokio::test]
async fn over_tls_as_the_documented_acl_user_the_engine_serves_a_sale() {
    serve_a_sale(&TestEngine::start_with(secured(None)).await).await;
}

#[tokio::test]
async fn over_tls_as_the_documented_acl_user_a_cluster_serves_a_sale() {
    let cluster = LocalClusterOptions::default();
    serve_a_sale(&TestEngine::start_with(secured(Some(cluster))).await).await;
}

#[tokio::test]
async fn a_client_the_server_does_not_trust_or_that_does_not_trust_it_is_refused() {
    let t = TestEngine::start_with(secured(None)).await;
    let access = t.secured.as_ref().unwrap();
    let connect = async |config: RedisConfig| {
        let config = RedisConfig {
            connect_timeout: Duration::from_secs(2),
            ..config
        };
        Engine::connect(&config, EngineConfig::default()).await
    };

    let another_ca = TestCertificates::make().unwrap();
    let refusals = [
        ("no client certificate", access.certificates().client(false)),
        ("the server's CA unknown", another_ca.client(true)),
    ];
    for (why, tls) in refusals {
        let refused = connect(RedisConfig::new(access.url()).with_tls(tls)).await;
        assert!(refused.is_err(), "{why}: connected");
    }
    let wrong_password = access.url().replace(":a-password", ":not-the-password");
    assert!(
        connect(RedisConfig::new(wrong_password).with_tls(access.tls()))
            .await
            .is_err(),
        "a wrong password"
    );
    let certificates_without_tls = RedisConfig::new(t.redis.url()).with_tls(access.tls());
    let refused = connect(certificates_without_tls).await.err().unwrap();
    assert!(refused.to_string().contains("not rediss://"), "{refused}");
    assert!(connect(access.config()).await.is_ok());
}

#[tokio::test]
async fn the_engines_acl_user_may_run_no_administrative_command() {
    let t = TestEngine::start_with(secured(None)).await;
    let access = t.secured.as_ref().unwrap();
    // One node is enough to ask (and a Cluster's first seed refuses alike).
    let node = access.url().split(',').next().unwrap();
    let client = redis::Client::build_with_tls(
        node,
        redis::TlsCertificates {
            client_tls: Some(redis::ClientTlsConfig {
                client_cert: std::fs::read(access.tls().client_cert_file.unwrap()).unwrap(),
                client_key: std::fs::read(access.tls().client_key_file.unwrap()).unwrap(),
            }),
            root_cert: Some(std::fs::read(access.certificates().ca_file()).unwrap()),
        },
    )
    .unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    for command in [
        vec!["FLUSHALL"],
        vec!["CONFIG", "SET", "maxmemory", "1"],
        vec!["KEYS", "*"],
        vec!["GET", "not-the-engines-key"],
        vec!["SHUTDOWN"],
    ] {
        let refused = redis::cmd(command[0])
            .arg(&command[1..])
            .query_async::<redis::Value>(&mut conn)
            .await;
        let error = refused.expect_err(&format!("{command:?} is refused"));
        assert!(error.code() == Some("NOPERM"), "{command:?}: {error}");
    }
}
