//! The purchase worker's behaviour against a real private Redis: in-process
//! workers, and the binary as a child process for crashes and shutdown.

mod startup;
mod sweeping;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use purchase_worker::AcceptAll;
use purchase_worker::testing::{FailFirst, RunningWorkers, quick_config};
use reservation_core::keys::{DEAD_PURCHASES, PartitionKeys};
use reservation_core::local_redis::free_port;
use reservation_core::testing::{TestEngine, TestOptions, reserve};
use reservation_core::{EngineConfig, HoldState, ReservationId, Sku};

/// Reserves and confirms `count` holds of one unit each.
async fn confirmed_holds(t: &TestEngine, sku: &Sku, count: usize) -> Vec<ReservationId> {
    let mut ids = Vec::new();
    for i in 0..count {
        let r = t
            .engine
            .reserve(&reserve(sku, &format!("c{i}"), 1, &format!("r{i}")))
            .await
            .unwrap();
        t.engine.confirm(&r.hold.id, None).await.unwrap();
        ids.push(r.hold.id);
    }
    ids
}

async fn stream_len(t: &TestEngine, key: &str) -> usize {
    let mut conn = t.raw_connection().await;
    redis::cmd("XLEN")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// The summed length of one stream of every partition, say its orders.
async fn partitioned_len(t: &TestEngine, stream: fn(PartitionKeys) -> String) -> usize {
    let mut total = 0;
    for partition in t.engine.config().partitions.all() {
        total += stream_len(t, &stream(partition)).await;
    }
    total
}

fn orders(partition: PartitionKeys) -> String {
    partition.orders
}

fn purchases(partition: PartitionKeys) -> String {
    partition.purchases
}

/// The reservation ids in the orders streams, with their count.
async fn ordered_ids(t: &TestEngine) -> (HashSet<String>, usize) {
    let mut conn = t.raw_connection().await;
    let mut ids = Vec::new();
    for partition in t.engine.config().partitions.all() {
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(partition.orders)
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .unwrap();
        ids.extend(
            reply
                .ids
                .iter()
                .map(|e| e.get::<String>("reservation_id").unwrap()),
        );
    }
    let count = ids.len();
    (ids.into_iter().collect(), count)
}

async fn eventually<F: AsyncFnMut() -> bool>(what: &str, within: Duration, mut check: F) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("not within {within:?}: {what}");
}

async fn all_in_state(t: &TestEngine, ids: &[ReservationId], state: HoldState) -> bool {
    for id in ids {
        if t.engine.reservation(id).await.unwrap().state != state {
            return false;
        }
    }
    true
}

fn real_time() -> TestOptions {
    TestOptions {
        manual_clock: false,
        ..TestOptions::default()
    }
}

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
    let r = t
        .engine
        .reserve(&reserve(&sku, "ann", 1, "r1"))
        .await
        .unwrap();
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

fn spawn_worker(t: &TestEngine, name: &str) -> Child {
    spawn_worker_with(t, name, &[])
}

/// The worker binary on `t`'s Redis, with `extra` flags.
fn spawn_worker_with(t: &TestEngine, name: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_purchase-worker"))
        .args([
            "--redis-url",
            &t.redis.url(),
            "--name",
            name,
            "--claim-idle-ms",
            "300",
        ])
        .args(extra)
        .args([
            "--metrics-addr",
            &format!("127.0.0.1:{}", free_port().unwrap()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the purchase-worker binary")
}

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
            .engine
            .reserve(&reserve(&sku, &format!("a{n}"), 1, &format!("a{n}")))
            .await
            .unwrap();
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

#[tokio::test]
async fn sigterm_finishes_the_job_in_hand_and_exits_cleanly() {
    let t = TestEngine::start_with(real_time()).await;
    let sku = t.product("TEE", 10).await;
    let ids = confirmed_holds(&t, &sku, 3).await;
    let mut worker = spawn_worker(&t, "graceful");
    eventually(
        "the worker bought all three",
        Duration::from_secs(10),
        async || all_in_state(&t, &ids, HoldState::Purchased).await,
    )
    .await;
    let sent = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::task::spawn_blocking(move || worker.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let mut conn = t.raw_connection().await;
    for partition in t.engine.config().partitions.all() {
        let pending: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
            .arg(&partition.purchases)
            .arg(reservation_core::keys::PURCHASE_GROUP)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            pending.count(),
            0,
            "every job of {} was acknowledged",
            partition.purchases
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_products_on_every_shard_are_bought_and_swept_through_every_partition() {
    let t = TestEngine::start_with(TestOptions {
        cluster: Some(reservation_core::local_redis::LocalClusterOptions::default()),
        ..real_time()
    })
    .await;
    let partitions = t.engine.config().partitions;
    let skus = t.skus_on_different_shards("SHARD", 3);
    let mut bought = Vec::new();
    for sku in &skus {
        t.product_with(sku.as_str(), 20, |p| p.hold_seconds = 1)
            .await;
        for i in 0..20 {
            let r = t
                .engine
                .reserve(&reserve(sku, &format!("c{i}"), 1, &format!("r{i}")))
                .await
                .unwrap();
            // Half are bought, half left to expire.
            if i % 2 == 0 {
                t.engine.confirm(&r.hold.id, None).await.unwrap();
                bought.push(r.hold.id);
            }
        }
    }
    let workers = RunningWorkers::start(&t, Arc::new(AcceptAll), 2, 2, quick_config("w")).await;

    eventually(
        "every confirmed hold is purchased",
        Duration::from_secs(10),
        async || all_in_state(&t, &bought, HoldState::Purchased).await,
    )
    .await;
    eventually(
        "every other hold has expired and the index is empty",
        Duration::from_secs(10),
        async || t.engine.indexed_products().await.unwrap().is_empty(),
    )
    .await;
    for sku in &skus {
        let stock = t.engine.product(sku).await.unwrap().stock;
        assert_eq!(
            (stock.available, stock.held, stock.sold),
            (10, 0, 10),
            "{sku}"
        );
        let audit = t.engine.audit(sku).await.unwrap();
        assert!(audit.is_clean(), "{sku}: {:?}", audit.problems());
    }

    let (orders, count) = ordered_ids(&t).await;
    let expected: HashSet<String> = bought.iter().map(ToString::to_string).collect();
    assert_eq!((orders, count), (expected, bought.len()));
    let mut used = HashSet::new();
    for id in &bought {
        used.insert(partitions.of_reservation(id).index);
    }
    assert!(used.len() >= 3, "thirty orders on partitions {used:?}");
    let shards: HashSet<u16> = partitions
        .all()
        .map(|p| t.cluster().primary_of(&p.purchases).unwrap())
        .collect();
    assert_eq!(
        shards.len(),
        3,
        "the partitions' streams live on every shard"
    );
    workers.stop().await;
}
