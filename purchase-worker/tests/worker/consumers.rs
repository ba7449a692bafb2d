//! The purchase group lists the workers that may still come back: when the
//! streams are trimmed, a consumer idle past `forget_consumers_after` with
//! nothing pending is removed (and counted); one that still has a job
//! pending stays whatever its age.

use std::sync::Arc;
use std::time::Duration;

use purchase_worker::testing::{RunningWorkers, quick_config};
use purchase_worker::{AcceptAll, Buyer, WorkerConfig, WorkerMetrics};
use reservation_core::HoldState;
use reservation_core::keys::PURCHASE_GROUP;
use reservation_core::testing::TestEngine;

use crate::{confirmed_holds, eventually, real_time};

/// The consumers of `stream`'s purchase group: name and pending count.
async fn consumers(t: &TestEngine, stream: &str) -> Vec<(String, usize)> {
    let mut conn = t.raw_connection().await;
    let reply: redis::streams::StreamInfoConsumersReply = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(stream)
        .arg(PURCHASE_GROUP)
        .query_async(&mut conn)
        .await
        .unwrap();
    reply
        .consumers
        .into_iter()
        .map(|c| (c.name, c.pending))
        .collect()
}

/// The purchase groups, as the first worker makes them.
async fn purchase_groups_made(t: &TestEngine) {
    Buyer::for_every_partition(
        &t.engine,
        &t.redis_config(),
        Arc::new(AcceptAll),
        &quick_config("first"),
        &WorkerMetrics::new(),
    )
    .await
    .unwrap();
}

/// A consumer `gone-empty-handed` of `stream`'s purchase group, that read
/// nothing and went away.
async fn gone_empty_handed(t: &TestEngine, stream: &str) {
    let mut conn = t.raw_connection().await;
    let _: i64 = redis::cmd("XGROUP")
        .arg("CREATECONSUMER")
        .arg(stream)
        .arg(PURCHASE_GROUP)
        .arg("gone-empty-handed")
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_consumer_long_gone_with_nothing_pending_is_removed_and_one_with_a_job_stays() {
    let t = TestEngine::start_with(real_time()).await;
    let sku = t.product("TEE", 10).await;
    purchase_groups_made(&t).await;
    let held = confirmed_holds(&t, &sku, 1).await;
    let stream = t
        .engine
        .config()
        .partitions
        .of_reservation(&held[0])
        .purchases;

    // Two workers that went away: one holding the job, one with nothing.
    let mut conn = t.raw_connection().await;
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg(PURCHASE_GROUP)
        .arg("gone-with-a-job")
        .arg("COUNT")
        .arg(10)
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    gone_empty_handed(&t, &stream).await;

    let workers = RunningWorkers::start(
        &t,
        Arc::new(AcceptAll),
        1,
        1,
        WorkerConfig {
            // Nobody takes the gone worker's job over during the test.
            claim_idle: Duration::from_secs(3600),
            trim_interval: Duration::from_millis(50),
            forget_consumers_after: Duration::from_secs(1),
            ..quick_config("running")
        },
    )
    .await;

    eventually(
        "the empty-handed consumer removed",
        Duration::from_secs(10),
        async || {
            !consumers(&t, &stream)
                .await
                .iter()
                .any(|(name, _)| name == "gone-empty-handed")
        },
    )
    .await;
    let left = consumers(&t, &stream).await;
    assert!(
        left.contains(&("gone-with-a-job".to_owned(), 1)),
        "the consumer with a pending job stays: {left:?}"
    );
    assert_eq!(
        t.engine.reservation(&held[0]).await.unwrap().state,
        HoldState::Confirmed,
        "the pending job is still there to be claimed"
    );
    assert!(workers.metrics.consumers_forgotten.get() >= 1);
    workers.stop().await;
}

#[tokio::test]
async fn with_forget_consumers_after_zero_no_consumer_is_removed() {
    let t = TestEngine::start_with(real_time()).await;
    let workers = RunningWorkers::start(
        &t,
        Arc::new(AcceptAll),
        0,
        1,
        WorkerConfig {
            trim_interval: Duration::from_millis(50),
            forget_consumers_after: Duration::ZERO,
            ..quick_config("running")
        },
    )
    .await;
    purchase_groups_made(&t).await;
    let stream = t.engine.config().partitions.all().next().unwrap().purchases;
    gone_empty_handed(&t, &stream).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        consumers(&t, &stream).await,
        vec![("gone-empty-handed".to_owned(), 0)]
    );
    assert_eq!(workers.metrics.consumers_forgotten.get(), 0);
    workers.stop().await;
}
