//! Coalescing: concurrent reserves for one product share script calls, and
//! every request is still decided and answered as if it came alone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reservation_core::testing::{TestEngine, reserve};
use reservation_core::{CoalescerConfig, Error};

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_reserves_share_calls_and_every_rule_still_holds() {
    let t = TestEngine::start().await;
    let sku = t
        .product_with("HOT", 100, |p| p.per_customer_limit = 3)
        .await;
    let coalescer = t.coalescer(CoalescerConfig {
        max_batch: 32,
        ..CoalescerConfig::default()
    });

    // 200 customers send 5 reserves each; every tenth request is sent twice.
    let requests: Vec<_> = (0..1000)
        .flat_map(|n| {
            let request = reserve(&sku, &format!("c{}", n % 200), 1, &format!("r{n}"));
            let copies = if n % 10 == 0 { 2 } else { 1 };
            std::iter::repeat_n(request, copies)
        })
        .collect();
    let answers = join_all(requests.iter().map(|request| {
        let coalescer = Arc::clone(&coalescer);
        let request = request.clone();
        async move { (request.clone(), coalescer.reserve(request).await) }
    }))
    .await;

    let mut holds_by_request = HashMap::new();
    let mut units_by_customer: HashMap<String, i64> = HashMap::new();
    for (request, answer) in &answers {
        match answer {
            Ok(r) => {
                let first = holds_by_request
                    .entry(request.request_id.to_string())
                    .or_insert_with(|| r.hold.id.clone());
                assert_eq!(first, &r.hold.id, "one hold per request_id");
                if !r.replayed {
                    *units_by_customer
                        .entry(request.customer_id.to_string())
                        .or_default() += i64::from(r.hold.quantity);
                }
            }
            Err(Error::OutOfStock { .. } | Error::CustomerLimit { .. }) => {}
            Err(other) => panic!("unexpected answer {other}"),
        }
    }
    let granted: i64 = units_by_customer.values().sum();
    assert_eq!(granted, 100, "every unit, and no more");
    assert!(units_by_customer.values().all(|&units| units <= 3));
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held), (0, 100));
    let audit = t.engine.audit(&sku).await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.problems());
    assert_eq!(audit.holds, 100);

    let stats = coalescer.stats();
    assert_eq!(stats.requests, 1100);
    assert!(stats.calls < stats.requests / 4, "batched: {stats:?}");
}

#[tokio::test]
async fn a_reserve_on_a_quiet_product_is_sent_at_once() {
    let t = TestEngine::start().await;
    let sku = t.product("QUIET", 10).await;
    let coalescer = t.coalescer(CoalescerConfig {
        linger: Duration::from_secs(30),
        ..CoalescerConfig::default()
    });
    let started = Instant::now();
    for n in 0..3 {
        coalescer
            .reserve(reserve(&sku, "ann", 1, &format!("r{n}")))
            .await
            .unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(10), "no linger");
    assert_eq!(coalescer.stats().calls, 3);
}

#[tokio::test]
async fn a_call_that_fails_fails_each_of_its_requests() {
    let mut t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let coalescer = t.coalescer(CoalescerConfig::default());
    t.redis.kill().unwrap();
    let answers = join_all((0..20).map(|n| {
        let coalescer = Arc::clone(&coalescer);
        let request = reserve(&sku, "ann", 1, &format!("r{n}"));
        async move { coalescer.reserve(request).await }
    }))
    .await;
    for answer in answers {
        let error = answer.unwrap_err();
        assert_eq!(error.reason(), "UNAVAILABLE", "{error}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_that_goes_away_mid_call_does_not_strand_the_reserves_queued_behind_it() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let coalescer = t.coalescer(CoalescerConfig {
        calls_per_product: 1,
        ..CoalescerConfig::default()
    });
    t.pause_redis(Duration::from_millis(500)).await;

    // The first reserve takes the product's one call slot; the rest queue
    // behind it. Its caller gives up while Redis is stalled.
    let first = tokio::spawn({
        let coalescer = Arc::clone(&coalescer);
        let request = reserve(&sku, "ann", 1, "first");
        async move { coalescer.reserve(request).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let queued: Vec<_> = (0..5)
        .map(|n| {
            let coalescer = Arc::clone(&coalescer);
            let request = reserve(&sku, &format!("c{n}"), 1, &format!("r{n}"));
            tokio::spawn(async move { coalescer.reserve(request).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    first.abort();

    let answers = tokio::time::timeout(Duration::from_secs(10), join_all(queued))
        .await
        .expect("every queued reserve is answered");
    for answer in answers {
        answer.unwrap().expect("a hold for each queued reserve");
    }
    assert_eq!(
        coalescer.stats().calls,
        2,
        "the queued reserves share one call"
    );
}

/// Every layer of the gRPC stack moves the future of the reserve it awaits,
/// so its size is paid again and again on the hot path: a large future
/// nested in it (the pool's wait for a connection once was 6.5 KB) shows
/// up here before it shows up in a profile.
#[tokio::test]
async fn a_reserve_in_flight_is_a_small_future() {
    let t = TestEngine::start().await;
    let sku = t.product("SMALL", 10).await;
    let coalescer = t.coalescer(CoalescerConfig::default());
    let reserving = coalescer.reserve(reserve(&sku, "c1", 1, "r1"));
    let bytes = std::mem::size_of_val(&reserving);
    assert!(bytes <= 2048, "a reserve's future is {bytes} bytes");
    assert!(reserving.await.is_ok());
}
