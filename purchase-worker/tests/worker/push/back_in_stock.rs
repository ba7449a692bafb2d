//! "Back in stock": a product going from no units to some, by a restock or
//! by a hold expiring, is pushed to its subscribers; a second return
//! within the quiet period pushes nothing, and enqueues nothing either.

use std::time::Duration;

use reservation_core::VapidKey;
use reservation_core::keys::PUSH_JOBS;
use reservation_core::testing::TestEngine;

use super::super::{eventually, real_time, stream_len};
use super::service::PushService;
use super::workers::{BACK_IN_STOCK, PushWorker, SALE_OPENS, availability_seen, subscribe};

/// Waits until the planner has recorded `sku` as sold out (`"0"`) or
/// available (`"1"`).
async fn seen_as(t: &TestEngine, sku: &reservation_core::Sku, seen: &str) {
    eventually(
        &format!("the planner records {sku} as {seen}"),
        Duration::from_secs(10),
        async || availability_seen(t, sku).await.as_deref() == Some(seen),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restock_is_pushed_once_and_a_second_bounce_within_the_quiet_period_is_not() {
    let t = TestEngine::start_with(real_time()).await;
    let key = VapidKey::generate();
    let service = PushService::start(&key.public_key_base64url()).await;
    let sku = t.product("TEE", 1).await;
    subscribe(&t, &service, &sku, "ann", BACK_IN_STOCK).await;
    // Bob only wants the opening, which this product never has.
    subscribe(&t, &service, &sku, "bob", SALE_OPENS).await;
    let worker = PushWorker::start(&t, "pusher", &key, &[]);
    seen_as(&t, &sku, "1").await;
    t.reserved(&sku, "zed", 1, "r1").await;
    seen_as(&t, &sku, "0").await;

    t.engine.restock(&sku, 2).await.unwrap();
    eventually(
        "ann hears TEE is back",
        Duration::from_secs(10),
        async || !service.pushes_to("ann").is_empty(),
    )
    .await;
    let push = &service.pushes_to("ann")[0];
    assert_eq!(push["verified"], true, "{push}");
    assert_eq!(push["notification"]["kind"], "back_in_stock");
    assert_eq!(
        push["notification"]["title"],
        "Product TEE is back in stock"
    );
    assert_eq!(push["notification"]["available"], 2);
    assert_eq!(push["notification"]["tag"], "back_in_stock:TEE");
    assert_eq!(push["urgency"], "normal");

    // Sold out and back again, within the quiet period (10 minutes): the
    // planner records it and starts no round, so no subscriber is walked
    // again for pushes their claims would drop.
    let second = t.reserved(&sku, "zed", 2, "r2").await;
    seen_as(&t, &sku, "0").await;
    t.engine.cancel(&second.hold.id, None).await.unwrap();
    seen_as(&t, &sku, "1").await;
    // A few planning ticks.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stream_len(&t, PUSH_JOBS).await,
        1,
        "one job, ann's, for the two returns"
    );
    assert_eq!(worker.counter("push_jobs_enqueued", "").await, 1);
    assert_eq!(
        service.pushes_to("ann").len(),
        1,
        "nothing more within the quiet period"
    );
    assert!(service.pushes_to("bob").is_empty(), "bob did not ask");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_back_from_an_expired_hold_are_pushed() {
    let t = TestEngine::start_with(real_time()).await;
    let key = VapidKey::generate();
    let service = PushService::start(&key.public_key_base64url()).await;
    let sku = t.product_with("CAP", 1, |p| p.hold_seconds = 2).await;
    subscribe(&t, &service, &sku, "ann", BACK_IN_STOCK).await;
    let _worker = PushWorker::start(&t, "pusher", &key, &[]);
    seen_as(&t, &sku, "1").await;
    // Sold out by a hold nobody buys.
    t.reserved(&sku, "zed", 1, "r1").await;
    seen_as(&t, &sku, "0").await;

    eventually(
        "ann hears CAP is back once the hold expired",
        Duration::from_secs(15),
        async || !service.pushes_to("ann").is_empty(),
    )
    .await;
    let push = &service.pushes_to("ann")[0];
    assert_eq!(push["verified"], true, "{push}");
    assert_eq!(push["notification"]["kind"], "back_in_stock");
    assert_eq!(push["notification"]["available"], 1);
    assert_eq!(t.engine.product(&sku).await.unwrap().stock.held, 0);
}
