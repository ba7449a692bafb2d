//! A confirmed hold becomes a sale: bought with its order and stock event,
//! retried while its step fails, dead-lettered and released when it keeps
//! failing, and found by the sweep when its enqueue was lost.

use std::sync::Arc;
use std::time::Duration;

use purchase_worker::AcceptAll;
use purchase_worker::testing::{FailFirst, RunningWorkers, quick_config};
use reservation_core::EngineConfig;
use reservation_core::HoldState;
use reservation_core::keys::DEAD_PURCHASES;
use reservation_core::testing::{TestEngine, TestOptions};

use super::{
    all_in_state, confirmed_holds, eventually, ordered_ids, orders, partitioned_len, purchases,
    real_time, stream_len,
};

#[tokio::test]
async fn a_confirmed_hold_is_bought_and_its_order_appended() {
    let t = TestEngine::start_with(real_time()).await;
    let sku = t.product("TEE", 10).await;
    let mut events = t.listen_stock(&sku).await;
    let ids = confirmed_holds(&t, &sku, 1).await;
    let workers = RunningWorkers::start(&t, Arc::new(AcceptAll), 1, 0, quick_config("w")).await;

    eventually(
        "the hold is purchased",
        Duration::from_secs(5),
        async || all_in_state(&t, &ids, HoldState::Purchased).await,
    )
    .await;
    let (orders, count) = ordered_ids(&t).await;
    assert_eq!((count, orders.contains(&ids[0].to_string())), (1, true));
    let stock = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((stock.available, stock.held, stock.sold), (9, 0, 1));
    let sold_event = reservation_core::testing::drain(&mut events)
        .await
        .iter()
        .map(|m| reservation_core::StockEvent::from_json(m).unwrap())
        .any(|e| e.sold == 1 && e.held == 0);
    assert!(sold_event, "a stock event told watchers of the sale");
    assert_eq!(workers.metrics.jobs_done.get(), 1);
    workers.stop().await;
}

#[tokio::test]
async fn a_failing_purchase_is_retried_then_succeeds() {
    let t = TestEngine::start_with(real_time()).await;
    let sku = t.product("TEE", 10).await;
    let ids = confirmed_holds(&t, &sku, 1).await;
    let step = Arc::new(FailFirst::new(2));
    let workers = RunningWorkers::start(&t, step.clone(), 1, 0, quick_config("w")).await;
    eventually(
        "the hold is purchased",
        Duration::from_secs(5),
        async || all_in_state(&t, &ids, HoldState::Purchased).await,
    )
    .await;
    assert_eq!(workers.metrics.retries.get(), 2);
    assert_eq!(stream_len(&t, DEAD_PURCHASES).await, 0);
    workers.stop().await;
}

#[tokio::test]
async fn a_purchase_that_keeps_failing_is_dead_lettered_and_its_units_come_back() {
    let t = TestEngine::start_with(real_time()).await;
    let sku = t.product("TEE", 10).await;
    let ids = confirmed_holds(&t, &sku, 2).await;
    let workers = RunningWorkers::start(
        &t,
        Arc::new(FailFirst::new(u32::MAX)),
        1,
        0,
        quick_config("w"),
    )
    .await;
    eventually(
        "both holds are released",
        Duration::from_secs(5),
        async || all_in_state(&t, &ids, HoldState::Released).await,
    )
    .await;
    assert_eq!(stream_len(&t, DEAD_PURCHASES).await, 2);
    assert_eq!(partitioned_len(&t, orders).await, 0);
    assert_eq!(workers.metrics.dead_lettered.get(), 2);
    let stock = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((stock.available, stock.held, stock.sold), (10, 0, 0));
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
    workers.stop().await;
}

#[tokio::test]
async fn a_confirmation_whose_enqueue_was_lost_is_found_and_bought() {
    let t = TestEngine::start_with(TestOptions {
        config: EngineConfig {
            purchase_timeout: Duration::from_millis(500),
            ..EngineConfig::default()
        },
        ..real_time()
    })
    .await;
    let sku = t.product("TEE", 10).await;
    let r = t.reserved(&sku, "ann", 1, "r1").await;
    // As if the API process died between confirming and enqueueing.
    t.engine.confirm_without_enqueue(&r.hold.id).await.unwrap();
    assert_eq!(partitioned_len(&t, purchases).await, 0);

    let workers = RunningWorkers::start(&t, Arc::new(AcceptAll), 1, 1, quick_config("w")).await;
    eventually(
        "the stranded hold is purchased",
        Duration::from_secs(5),
        async || all_in_state(&t, std::slice::from_ref(&r.hold.id), HoldState::Purchased).await,
    )
    .await;
    assert_eq!(workers.metrics.requeued.get(), 1);
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
    workers.stop().await;
}
