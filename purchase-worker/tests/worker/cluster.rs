//! On a private Redis Cluster: products on every shard bought and swept by
//! two workers through every partition, whose streams live on every shard.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use purchase_worker::AcceptAll;
use purchase_worker::testing::{RunningWorkers, quick_config};
use reservation_core::HoldState;
use reservation_core::testing::{TestEngine, TestOptions};

use super::{all_in_state, eventually, ordered_ids, real_time};

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
            let r = t.reserved(sku, &format!("c{i}"), 1, &format!("r{i}")).await;
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
