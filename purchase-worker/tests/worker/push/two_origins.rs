//! Each push service origin goes at its own pace: one that throttles
//! (`429` with `Retry-After`) or answers slowly holds up its own pushes,
//! never another origin's; two slow ones do not take every send slot.

use std::time::Duration;

use reservation_core::testing::TestEngine;
use reservation_core::{ProductUpdate, Sku, VapidKey};
use serde_json::{Value, json};

use super::super::{eventually, real_time};
use super::service::PushService;
use super::workers::{PushWorker, SALE_OPENS, interested};

const EACH: usize = 20;

/// `EACH` subscribers on each service, `plan` for the first's.
async fn subscribers(
    t: &TestEngine,
    sku: &Sku,
    slow: &PushService,
    quick: &PushService,
    plan: Value,
) {
    for i in 0..EACH {
        let name = format!("a{i}");
        let subscription = slow.subscribe_planned(&name, plan.clone()).await;
        interested(t, sku, &name, &subscription, SALE_OPENS).await;
        let name = format!("b{i}");
        let subscription = quick.subscribe(&name).await;
        interested(t, sku, &name, &subscription, SALE_OPENS).await;
    }
}

async fn open_now(t: &TestEngine, sku: &Sku) {
    let update = ProductUpdate {
        sale_starts_at_ms: Some(Some(t.engine.now_ms() + 300)),
        ..ProductUpdate::default()
    };
    t.engine.update_product(sku, &update).await.unwrap();
}

fn arrivals(service: &PushService, status: u64) -> Vec<i64> {
    service
        .pushes()
        .iter()
        .filter(|push| push["status"] == status)
        .map(|push| push["at_ms"].as_i64().unwrap())
        .collect()
}

async fn started() -> (TestEngine, VapidKey, PushService, PushService, Sku) {
    let t = TestEngine::start_with(real_time()).await;
    let key = VapidKey::generate();
    let slow = PushService::start(&key.public_key_base64url()).await;
    let quick = PushService::start(&key.public_key_base64url()).await;
    let far = t.engine.now_ms() + 3_600_000;
    let sku = t
        .product_with("DROP", 5, |p| p.sale_starts_at_ms = Some(far))
        .await;
    (t, key, slow, quick, sku)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttling_origin_does_not_delay_another_origins_pushes() {
    let (t, key, throttling, quick, sku) = started().await;
    let plan = json!([{"status": 429, "retry_after": "4", "times": 1}, {"status": 201}]);
    subscribers(&t, &sku, &throttling, &quick, plan).await;
    let _worker = PushWorker::start(&t, "pusher", &key, &[]);
    open_now(&t, &sku).await;

    eventually(
        "every subscriber of both has the push",
        Duration::from_secs(30),
        async || arrivals(&throttling, 201).len() == EACH && arrivals(&quick, 201).len() == EACH,
    )
    .await;
    let throttled_at = *arrivals(&throttling, 429).iter().min().unwrap();
    let quick_done = *arrivals(&quick, 201).iter().max().unwrap();
    let retried_from = *arrivals(&throttling, 201).iter().min().unwrap();
    assert!(
        retried_from >= throttled_at + 4_000,
        "the throttling origin's Retry-After was honoured"
    );
    assert!(
        quick_done < retried_from,
        "the other origin's pushes were all delivered while the first waited"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_origin_does_not_delay_another_origins_pushes() {
    let (t, key, slow, quick, sku) = started().await;
    // Two seconds for each answer, and four pushes in flight at most: the
    // slow origin gets two of them, and takes twenty seconds in all.
    let plan = json!([{"status": 201, "delay": 2}]);
    subscribers(&t, &sku, &slow, &quick, plan).await;
    let _worker = PushWorker::start(&t, "pusher", &key, &["--push-concurrency", "4"]);
    open_now(&t, &sku).await;

    eventually(
        "the quick origin's subscribers all have the push",
        Duration::from_secs(30),
        async || arrivals(&quick, 201).len() == EACH,
    )
    .await;
    assert!(
        slow.pushes().len() < EACH,
        "the quick origin was done before the slow one: {} of {EACH} reached it",
        slow.pushes().len()
    );
    eventually(
        "the slow origin's subscribers get theirs too",
        Duration::from_secs(60),
        async || arrivals(&slow, 201).len() == EACH,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_slow_origins_do_not_take_every_send_slot() {
    let (t, key, slow, quick, sku) = started().await;
    let slower = PushService::start(&key.public_key_base64url()).await;
    // Five seconds for each answer of either slow service. With four slots
    // each origin may have half: the two slow ones would take all four,
    // and the quick one would wait for their answers. Split between the
    // three origins with work, one slot each, the quick one keeps one.
    let plan = json!([{"status": 201, "delay": 5}]);
    subscribers(&t, &sku, &slow, &quick, plan.clone()).await;
    for i in 0..4 {
        let name = format!("c{i}");
        let subscription = slower.subscribe_planned(&name, plan.clone()).await;
        interested(&t, &sku, &name, &subscription, SALE_OPENS).await;
    }
    let _worker = PushWorker::start(&t, "pusher", &key, &["--push-concurrency", "4"]);
    open_now(&t, &sku).await;

    eventually(
        "the quick origin's subscribers all have the push",
        Duration::from_secs(30),
        async || arrivals(&quick, 201).len() == EACH,
    )
    .await;
    let quick_done = *arrivals(&quick, 201).iter().max().unwrap();
    let first_slow = arrivals(&slow, 201)
        .into_iter()
        .chain(arrivals(&slower, 201))
        .min()
        .expect("the slow origins were sent to");
    assert!(
        quick_done < first_slow + 5_000,
        "the quick origin waited for a slow one's answer: done {} ms after the first slow push",
        quick_done - first_slow
    );
    // Stalled (no answer for two seconds), each slow origin has had one
    // push at a time in flight.
    assert!(slow.pushes().len() <= 2 && slower.pushes().len() <= 2);
}
