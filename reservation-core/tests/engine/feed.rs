use std::time::Duration;

use reservation_core::StockFeed;
use reservation_core::testing::{TestEngine, TestOptions, reserve};

async fn next(watch: &mut reservation_core::StockWatch) -> reservation_core::StockEvent {
    tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("an event within 5 s")
        .expect("the feed is running")
}

#[tokio::test]
async fn a_watcher_gets_its_products_changes_and_no_others() {
    let t = TestEngine::start().await;
    let tee = t.product("TEE", 10).await;
    let cap = t.product("CAP", 10).await;
    let feed = StockFeed::start(&t.redis_config(), t.engine.clone()).unwrap();
    let mut watch = feed.watch(&tee).await.unwrap();

    t.reserved(&cap, "ann", 1, "r1").await;
    t.reserved(&tee, "ann", 2, "r2").await;
    let event = next(&mut watch).await;
    assert_eq!(
        (event.sku.as_str(), event.available, event.version),
        ("TEE", 8, 2)
    );
    assert_eq!(feed.subscribed_skus(), 1);
}

#[tokio::test]
async fn the_node_subscribes_on_the_first_watcher_and_leaves_after_the_last() {
    let t = TestEngine::start().await;
    let tee = t.product("TEE", 10).await;
    let feed = StockFeed::start(&t.redis_config(), t.engine.clone()).unwrap();
    assert_eq!(t.stock_subscribers(&tee).await, 0);

    let first = feed.watch(&tee).await.unwrap();
    let second = feed.watch(&tee).await.unwrap();
    assert_eq!(
        t.stock_subscribers(&tee).await,
        1,
        "one subscription per node"
    );
    drop(first);
    assert_eq!(feed.subscribed_skus(), 1);
    drop(second);
    assert_eq!(feed.subscribed_skus(), 0);
    for _ in 0..50 {
        if t.stock_subscribers(&tee).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the node is still subscribed after its last watcher left");
}

#[tokio::test]
async fn after_redis_restarts_watchers_get_a_fresh_snapshot_and_later_changes() {
    let mut t = TestEngine::start_with(TestOptions {
        append_only: true,
        ..TestOptions::default()
    })
    .await;
    let tee = t.product("TEE", 10).await;
    let feed = StockFeed::start(&t.redis_config(), t.engine.clone()).unwrap();
    let mut watch = feed.watch(&tee).await.unwrap();

    // Give the append-only file its once-a-second sync.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    t.redis.restart().unwrap();
    let snapshot = next(&mut watch).await;
    assert_eq!((snapshot.available, snapshot.version), (10, 1));

    let mut reserved = None;
    for _ in 0..50 {
        match t.engine.reserve(&reserve(&tee, "ann", 1, "r1")).await {
            Ok(r) => {
                reserved = Some(r);
                break;
            }
            Err(e) => {
                assert_eq!(e.reason(), "UNAVAILABLE", "{e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert!(reserved.is_some(), "the engine reconnected by itself");
    // Stock is state: the snapshot may come again (on a Cluster, each way of
    // subscribing again brings one) before the change.
    let mut event = next(&mut watch).await;
    while (event.available, event.version) == (10, 1) {
        event = next(&mut watch).await;
    }
    assert_eq!((event.available, event.version), (9, 2));
}

#[tokio::test]
async fn a_customer_watcher_hears_only_their_own_holds() {
    let t = TestEngine::start().await;
    let tee = t.product("TEE", 10).await;
    let feed = StockFeed::start(&t.redis_config(), t.engine.clone()).unwrap();
    let ann = reservation_core::testing::customer_of("ann");
    let mut holds = feed.watch_customer(&ann).await.unwrap();
    assert_eq!(
        (feed.subscribed_customers(), feed.subscribed_skus()),
        (1, 0)
    );

    t.reserved(&tee, "bob", 1, "r1").await;
    let mine = t.reserved(&tee, "ann", 2, "r2").await;
    let event = tokio::time::timeout(Duration::from_secs(5), holds.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.reservation_id, mine.hold.id);
    assert_eq!(event.state, reservation_core::HoldState::Held);
    drop(holds);
    assert_eq!(feed.subscribed_customers(), 0);
}

#[tokio::test]
async fn a_later_watcher_returns_only_once_the_nodes_subscription_is_live() {
    let t = TestEngine::start().await;
    let tee = t.product("TEE", 10).await;
    let feed = StockFeed::start(&t.redis_config(), t.engine.clone()).unwrap();

    // While Redis answers nobody, the first watcher's subscription waits.
    t.pause_redis(Duration::from_millis(800)).await;
    let first = tokio::spawn({
        let (feed, tee) = (feed.clone(), tee.clone());
        async move { feed.watch(&tee).await }
    });
    while feed.subscribed_skus() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let second = tokio::spawn({
        let (feed, tee) = (feed.clone(), tee.clone());
        async move { feed.watch(&tee).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !second.is_finished(),
        "a second watcher returned before Redis confirmed the subscription: \
         a snapshot it reads now may miss an event the node never hears"
    );

    let (_first, _second) = (
        first.await.unwrap().unwrap(),
        second.await.unwrap().unwrap(),
    );
    assert_eq!(t.stock_subscribers(&tee).await, 1);
}
