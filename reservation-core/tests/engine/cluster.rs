//! On Redis Cluster: products on every shard behave as on one node.
//!
//! These always run on a private Cluster; the rest of the suite runs on one
//! too with `FLASHSALE_TEST_REDIS=cluster`.

use std::collections::HashSet;
use std::time::Duration;

use reservation_core::keys::ProductKeys;
use reservation_core::local_redis::{LocalCluster, LocalClusterOptions};
use reservation_core::testing::{TestEngine, TestOptions, TestRedis, reserve, sku_of};
use reservation_core::{Sku, StockFeed};

fn cluster(t: &TestEngine) -> &LocalCluster {
    match &t.redis {
        TestRedis::Cluster(cluster) => cluster,
        TestRedis::Single(_) => panic!("these tests run on a Cluster"),
    }
}

/// SKUs named `PREFIX-N`, one on each primary.
fn one_per_shard(t: &TestEngine, prefix: &str, shards: usize) -> Vec<Sku> {
    let cluster = cluster(t);
    let mut seen = HashSet::new();
    (0..)
        .map(|n| sku_of(&format!("{prefix}-{n}")))
        .filter(|sku| {
            let port = cluster
                .primary_of(&ProductKeys::new(sku).product)
                .expect("the slot's primary");
            seen.insert(port)
        })
        .take(shards)
        .collect()
}

#[tokio::test]
async fn products_on_every_shard_reserve_expire_and_sell_with_clean_books() {
    let t = TestEngine::start_with(TestOptions {
        cluster: Some(LocalClusterOptions::default()),
        ..TestOptions::default()
    })
    .await;
    let skus = one_per_shard(&t, "SHARD", 3);
    let feed = StockFeed::start(&t.redis.config(), t.engine.clone()).unwrap();
    let mut watches = Vec::new();
    for sku in &skus {
        t.product(sku.as_str(), 10).await;
        watches.push(feed.watch(sku).await.unwrap());
    }

    for (sku, watch) in skus.iter().zip(&mut watches) {
        let bought = t
            .engine
            .reserve(&reserve(sku, "ann", 2, "a"))
            .await
            .unwrap();
        let lapsed = t
            .engine
            .reserve(&reserve(sku, "bob", 3, "b"))
            .await
            .unwrap();
        let event = tokio::time::timeout(Duration::from_secs(5), watch.next())
            .await
            .expect("a stock event from the product's shard")
            .unwrap();
        assert_eq!((&event.sku, event.available), (sku, 8));

        t.engine.confirm(&bought.hold.id, None).await.unwrap();
        t.engine.finalize_purchase(&bought.hold.id).await.unwrap();
        t.advance(Duration::from_secs(3600));
        let expired = t.engine.expire_due(sku, 10).await.unwrap();
        assert_eq!(expired.holds, vec![lapsed.hold.id.clone()]);

        let product = t.engine.product(sku).await.unwrap();
        assert_eq!(
            (
                product.stock.available,
                product.stock.held,
                product.stock.sold
            ),
            (8, 0, 2)
        );
        let audit = t.engine.audit(sku).await.unwrap();
        assert!(audit.is_clean(), "{sku}: {:?}", audit.problems());
    }
    assert_eq!(feed.subscribed_skus(), 3);
}
