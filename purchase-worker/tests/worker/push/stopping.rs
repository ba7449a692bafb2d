//! A worker stopped (SIGTERM) while it delivers finishes the pushes in
//! flight, exits 0 and leaves the jobs it had not sent pending: another
//! worker sends them, and nobody gets one twice.

use std::collections::HashMap;
use std::time::Duration;

use reservation_core::keys::{PUSH_GROUP, PUSH_JOBS};
use reservation_core::testing::TestEngine;
use reservation_core::{ProductUpdate, VapidKey};
use serde_json::json;

use super::super::{eventually, real_time};
use super::service::PushService;
use super::workers::{PushWorker, SALE_OPENS, interested};

const SUBSCRIBERS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_mid_delivery_leaves_the_rest_to_another() {
    let t = TestEngine::start_with(real_time()).await;
    let key = VapidKey::generate();
    let service = PushService::planned(&key.public_key_base64url(), json!({})).await;
    let far = t.engine.now_ms() + 3_600_000;
    let sku = t
        .product_with("DROP", 5, |p| p.sale_starts_at_ms = Some(far))
        .await;
    // Every push takes the service half a second to answer.
    for i in 0..SUBSCRIBERS {
        let name = format!("s{i}");
        let subscription = service
            .subscribe_planned(&name, json!([{"status": 201, "delay": 0.5}]))
            .await;
        interested(&t, &sku, &name, &subscription, SALE_OPENS).await;
    }
    let first = PushWorker::start(&t, "first", &key, &["--push-concurrency", "2"]);
    let update = ProductUpdate {
        sale_starts_at_ms: Some(Some(t.engine.now_ms() + 300)),
        ..ProductUpdate::default()
    };
    t.engine.update_product(&sku, &update).await.unwrap();
    eventually(
        "the first worker is delivering",
        Duration::from_secs(10),
        async || !service.pushes().is_empty(),
    )
    .await;

    let status = first.terminate().await;
    assert!(status.success(), "exit status {status}");
    let delivered_by_the_first = service.pushes().len();
    assert!(
        delivered_by_the_first < SUBSCRIBERS,
        "it stopped mid-delivery"
    );
    let mut conn = t.raw_connection().await;
    let pending: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
        .arg(PUSH_JOBS)
        .arg(PUSH_GROUP)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(pending.count() > 0, "what it had not sent is left pending");

    let _second = PushWorker::start(&t, "second", &key, &[]);
    eventually(
        "every subscriber has the push",
        Duration::from_secs(20),
        async || service.pushes().len() >= SUBSCRIBERS,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut per_subscriber: HashMap<String, usize> = HashMap::new();
    for push in service.pushes() {
        assert_eq!(push["status"], 201);
        *per_subscriber
            .entry(push["name"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(per_subscriber.len(), SUBSCRIBERS);
    assert!(
        per_subscriber.values().all(|&n| n == 1),
        "{per_subscriber:?}"
    );
}
