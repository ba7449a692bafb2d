//! A worker starting while Redis goes away (a restart, its data still
//! loading) waits for it, as the engine's own connect does, instead of
//! exiting.

use std::sync::Arc;
use std::time::Duration;

use purchase_worker::testing::quick_config;
use purchase_worker::{AcceptAll, Buyer, WorkerMetrics};
use reservation_core::testing::{TestEngine, TestOptions};

#[tokio::test]
async fn the_purchase_streams_open_once_a_restarting_redis_answers_again() {
    let mut t = TestEngine::start_with(TestOptions {
        append_only: true,
        ..TestOptions::default()
    })
    .await;
    let redis = t.redis_config();
    // The engine connected; then Redis went away.
    t.redis.kill().unwrap();
    let opening = tokio::spawn({
        let engine = t.engine.clone();
        async move {
            let config = quick_config("startup");
            Buyer::for_every_partition(
                &engine,
                &redis,
                Arc::new(AcceptAll),
                &config,
                &WorkerMetrics::new(),
            )
            .await
            .map(|buyers| buyers.len())
        }
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        !opening.is_finished(),
        "the worker gave up on a restarting Redis"
    );
    t.redis.restart().unwrap();
    let opened = tokio::time::timeout(Duration::from_secs(10), opening)
        .await
        .expect("the streams open within 10 s of Redis coming back")
        .unwrap()
        .expect("the streams open");
    assert_eq!(opened, t.engine.config().partitions.count() as usize);
}
