//! Purchase streams and the sweep index are split into partitions, so on a
//! Cluster they spread over the shards; every process must agree on the count.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reservation_core::keys::Partitions;
use reservation_core::testing::TestEngine;
use reservation_core::{Engine, EngineConfig, Error, PurchaseQueue, ReservationId, Sku};

/// Customer `cN`'s confirmed hold of one unit, made by request `rN`.
async fn confirmed_hold(t: &TestEngine, sku: &Sku, n: usize) -> ReservationId {
    let r = t.reserved(sku, &format!("c{n}"), 1, &format!("r{n}")).await;
    t.engine.confirm(&r.hold.id, None).await.unwrap();
    r.hold.id
}

#[tokio::test]
async fn a_process_started_with_another_partition_count_is_refused() {
    let t = TestEngine::start().await;
    let four = t.engine.config().partitions;
    assert_eq!(four.count(), 4);

    let eight = EngineConfig {
        partitions: Partitions::new(8).unwrap(),
        ..EngineConfig::default()
    };
    match Engine::connect(&t.redis_config(), eight).await {
        Err(Error::InvalidArgument { field, reason }) => {
            assert_eq!(field, "partitions");
            assert!(reason.contains("4 partitions, not 8"), "{reason}");
        }
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    Engine::connect(&t.redis_config(), EngineConfig::default())
        .await
        .expect("the same count connects");
}

#[tokio::test]
async fn a_process_started_before_redis_answers_waits_for_it_but_not_for_a_refusal() {
    let mut t = TestEngine::start().await;
    let config = t.redis_config();
    t.redis.kill().unwrap();
    let waiting = tokio::spawn({
        let config = config.clone();
        async move {
            Engine::connect_patiently(&config, EngineConfig::default(), Duration::from_secs(30))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "it gave up on a Redis that is down");
    t.redis.restart().unwrap();
    waiting
        .await
        .unwrap()
        .expect("connected once Redis answered");

    let started = Instant::now();
    let eight = EngineConfig {
        partitions: Partitions::new(8).unwrap(),
        ..EngineConfig::default()
    };
    let refused = Engine::connect_patiently(&config, eight, Duration::from_secs(30)).await;
    assert!(matches!(refused, Err(Error::InvalidArgument { .. })));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a refusal was waited out"
    );
}

#[tokio::test]
async fn each_purchase_job_is_queued_on_its_reservations_partition_and_all_are_used() {
    let t = TestEngine::start().await;
    let partitions = t.engine.config().partitions;
    let sku = t.product("TEE", 1_000).await;
    let mut confirmed = HashSet::new();
    for n in 0..100 {
        confirmed.insert(confirmed_hold(&t, &sku, n).await);
    }

    let mut conn = t.raw_connection().await;
    let mut queued = HashSet::new();
    for partition in partitions.all() {
        let jobs: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(&partition.purchases)
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .unwrap();
        // One hot product's purchases still spread over every partition.
        assert!(!jobs.ids.is_empty(), "{} is empty", partition.purchases);
        for job in jobs.ids {
            let id = job
                .get::<String>("reservation_id")
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(partitions.of_reservation(&id), partition);
            queued.insert(id);
        }
    }
    assert_eq!(queued, confirmed);
}

#[tokio::test]
async fn products_with_holds_are_listed_in_their_partitions_index_at_their_deadline() {
    let t = TestEngine::start().await;
    let partitions = t.engine.config().partitions;
    let mut skus = Vec::new();
    for n in 0..12 {
        let sku = t.product(&format!("SKU-{n}"), 10).await;
        t.reserved(&sku, "ann", 1, "r").await;
        skus.push(sku);
    }
    let listed: HashSet<_> = t
        .engine
        .indexed_products()
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(listed, skus.iter().cloned().collect());

    let mut conn = t.raw_connection().await;
    let mut used = HashSet::new();
    for sku in &skus {
        let home = partitions.of_product(sku);
        for partition in partitions.all() {
            let deadline: Option<i64> = redis::cmd("ZSCORE")
                .arg(&partition.sweep_index)
                .arg(sku.as_str())
                .query_async(&mut conn)
                .await
                .unwrap();
            // At the holds' expiry notice, which comes before their deadline.
            let notice = t.engine.config().expiry_notice.as_millis() as i64;
            let expected = (partition == home).then(|| t.engine.now_ms() + 600_000 - notice);
            assert_eq!(deadline, expected, "{sku} in {}", partition.sweep_index);
        }
        used.insert(home.index);
    }
    assert!(used.len() > 1, "twelve SKUs all hashed to one partition");
}

#[tokio::test]
async fn every_order_of_every_partition_is_read_back_oldest_first() {
    let t = TestEngine::start().await;
    let sku = t.product("MUG", 100).await;
    let mut bought = Vec::new();
    for n in 0..12 {
        let id = confirmed_hold(&t, &sku, n).await;
        t.engine.finalize_purchase(&id).await.unwrap();
        let hold = t.engine.reservation(&id).await.unwrap();
        let partition = t.engine.config().partitions.of_reservation(&hold.id);
        let queue = PurchaseQueue::connect(&t.redis_config(), partition, Duration::ZERO)
            .await
            .unwrap();
        queue.append_order(&hold).await.unwrap();
        bought.push(hold.id.to_string());
        // Stream ids order orders by the millisecond only across partitions.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }

    let orders = t.engine.every_order().await.unwrap();
    let read: Vec<&str> = orders.iter().map(|o| o.reservation_id.as_str()).collect();
    assert_eq!(read, bought);
    let partitions_used: HashSet<_> = bought
        .iter()
        .map(|id| {
            t.engine
                .config()
                .partitions
                .of_reservation(&id.parse().unwrap())
                .orders
        })
        .collect();
    assert!(
        partitions_used.len() > 1,
        "the orders spread over partitions"
    );
}
