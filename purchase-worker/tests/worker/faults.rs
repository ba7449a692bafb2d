//! Crashes and stalls under load: a worker SIGKILLed mid-batch, Redis
//! killed and restarted, Redis paused past its timeout; every hold is still
//! finished exactly once.

use std::sync::Arc;
use std::time::Duration;

use purchase_worker::AcceptAll;
use purchase_worker::testing::{RunningWorkers, quick_config};
use reservation_core::HoldState;
use reservation_core::testing::{TestEngine, TestOptions};

use super::{
    all_in_state, confirmed_holds, eventually, ordered_ids, orders, partitioned_len, real_time,
    spawn_worker,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_batch_leaves_nothing_bought_twice_or_not_at_all() {
    let t = TestEngine::start_with(real_time()).await;
    let sku = t.product("TEE", 1_000).await;
    let ids = confirmed_holds(&t, &sku, 500).await;

    let mut doomed = spawn_worker(&t, "doomed");
    eventually(
        "the doomed worker has bought something",
        Duration::from_secs(10),
        async || partitioned_len(&t, orders).await >= 1,
    )
    .await;
    doomed.kill().unwrap(); // SIGKILL
    doomed.wait().unwrap();
    let bought_before = partitioned_len(&t, orders).await;
    assert!(
        bought_before < 500,
        "the worker finished everything before it was killed"
    );

    let workers =
        RunningWorkers::start(&t, Arc::new(AcceptAll), 1, 0, quick_config("rescuer")).await;
    eventually(
        "every hold is purchased",
        Duration::from_secs(20),
        async || all_in_state(&t, &ids, HoldState::Purchased).await,
    )
    .await;
    assert!(
        workers.metrics.claimed.get() > 0,
        "the rescuer claimed the dead worker's jobs"
    );
    let (orders, _) = ordered_ids(&t).await;
    assert_eq!(orders.len(), 500, "every hold has its order");
    let stock = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!(
        (stock.sold, stock.held, stock.available),
        (500, 0, 500),
        "each sold exactly once"
    );
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
    workers.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_ride_out_a_redis_restart() {
    let mut t = TestEngine::start_with(TestOptions {
        append_only: true,
        ..real_time()
    })
    .await;
    let sku = t.product("TEE", 1_000).await;
    let ids = confirmed_holds(&t, &sku, 300).await;
    // Let the append-only file catch up, then crash Redis under the workers.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let workers = RunningWorkers::start(&t, Arc::new(AcceptAll), 2, 1, quick_config("w")).await;
    t.redis.kill().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    t.redis.restart().unwrap();

    eventually(
        "every hold is purchased after the restart",
        Duration::from_secs(20),
        async || match t.engine.product(&sku).await {
            Ok(product) => product.stock.sold == 300,
            Err(_) => false,
        },
    )
    .await;
    assert!(all_in_state(&t, &ids, HoldState::Purchased).await);
    let (orders, _) = ordered_ids(&t).await;
    assert_eq!(orders.len(), 300);
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
    workers.stop().await;
}

#[tokio::test]
async fn workers_wait_out_a_stalled_redis_and_finish_every_hold_once() {
    let t = TestEngine::start_with(real_time()).await;
    let sku = t.product_with("TEE", 1_000, |p| p.hold_seconds = 1).await;
    let bought = confirmed_holds(&t, &sku, 200).await;
    let mut abandoned = Vec::new();
    for n in 0..100 {
        let r = t
            .reserved(&sku, &format!("a{n}"), 1, &format!("a{n}"))
            .await;
        abandoned.push(r.hold.id);
    }
    let workers = RunningWorkers::start(&t, Arc::new(AcceptAll), 2, 2, quick_config("w")).await;
    // Longer than the engine's response timeout: every buyer's and sweeper's
    // call in flight gives up, and any of them may still run once Redis
    // answers again.
    t.pause_redis(Duration::from_secs(3)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    eventually(
        "every confirmed hold is bought and every abandoned one expired",
        Duration::from_secs(20),
        async || {
            all_in_state(&t, &bought, HoldState::Purchased).await
                && all_in_state(&t, &abandoned, HoldState::Expired).await
        },
    )
    .await;
    let (orders, _) = ordered_ids(&t).await;
    assert_eq!(orders.len(), 200);
    let stock = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((stock.available, stock.held, stock.sold), (800, 0, 200));
    let audit = t.engine.audit(&sku).await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.problems());
    workers.stop().await;
}
