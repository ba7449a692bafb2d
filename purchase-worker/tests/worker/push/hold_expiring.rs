//! "Your hold is about to expire": pushed with the hold's "expiring soon"
//! notice, to the shoppers who asked for it for that product, and kept by
//! the push service no longer than the hold lives.

use std::time::Duration;

use reservation_core::testing::{TestEngine, TestOptions};
use reservation_core::{EngineConfig, PushTopics, VapidKey};

use super::super::eventually;
use super::service::PushService;
use super::workers::{HOLD_EXPIRING, PushWorker, SALE_OPENS, subscribe};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_about_to_expire_is_pushed_only_to_shoppers_who_asked() {
    // Notices 2 s ahead of 4 s holds, for the engine that reserves (which
    // lists the product for the notice) and the worker that sweeps.
    let t = TestEngine::start_with(TestOptions {
        manual_clock: false,
        config: EngineConfig {
            expiry_notice: Duration::from_secs(2),
            ..EngineConfig::default()
        },
        ..TestOptions::default()
    })
    .await;
    let key = VapidKey::generate();
    let service = PushService::start(&key.public_key_base64url()).await;
    let tee = t.product_with("TEE", 10, |p| p.hold_seconds = 4).await;
    let cap = t.product("CAP", 10).await;
    // Ann asked for TEE; bob asked for TEE's opening only; cid asked for
    // his holds of CAP, not of TEE.
    subscribe(&t, &service, &tee, "ann", HOLD_EXPIRING).await;
    let every = PushTopics {
        back_in_stock: true,
        ..SALE_OPENS
    };
    subscribe(&t, &service, &tee, "bob", every).await;
    subscribe(&t, &service, &cap, "cid", HOLD_EXPIRING).await;
    let _worker = PushWorker::start(&t, "pusher", &key, &["--expiry-notice", "2s"]);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let ann = t.reserved(&tee, "ann", 1, "ra").await;
    t.reserved(&tee, "bob", 1, "rb").await;
    t.reserved(&tee, "cid", 1, "rc").await;
    eventually(
        "ann hears her hold is about to expire",
        Duration::from_secs(10),
        async || !service.pushes_to("ann").is_empty(),
    )
    .await;
    let push = &service.pushes_to("ann")[0];
    assert_eq!(push["verified"], true, "{push}");
    assert_eq!(push["notification"]["kind"], "hold_expiring");
    assert_eq!(
        push["notification"]["title"],
        "Your hold on Product TEE is about to expire"
    );
    assert_eq!(push["urgency"], "high");
    let ttl: u64 = push["ttl"].as_str().unwrap().parse().unwrap();
    assert!(ttl <= 2, "kept no longer than the hold lives: TTL {ttl}");
    let deadline = ann.hold.expires_at_ms;
    assert!(
        push["at_ms"].as_i64().unwrap() < deadline,
        "before the hold expired"
    );

    // Past every deadline: nobody else was told.
    eventually("the holds expire", Duration::from_secs(10), async || {
        t.engine.product(&tee).await.unwrap().stock.held == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(service.pushes_to("ann").len(), 1);
    assert!(
        service.pushes_to("bob").is_empty(),
        "{:?}",
        service.pushes_to("bob")
    );
    assert!(
        service.pushes_to("cid").is_empty(),
        "{:?}",
        service.pushes_to("cid")
    );
}
