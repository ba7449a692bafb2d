//! The sold-out fast path: reserves of a product known to be sold out are
//! answered without Redis, and never once units may be back.

use std::time::{Duration, Instant};

use reservation_core::testing::{TestEngine, reserve};
use reservation_core::{Error, ReserveRequest, SoldOutProducts};

/// Waits until the node answers `probe` itself (it tracks asynchronously).
async fn until_answered_locally(sold_out: &SoldOutProducts, probe: &ReserveRequest) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while sold_out.answer(probe).is_none() {
        assert!(Instant::now() < deadline, "the fast path never engaged");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn is_sold_out(answer: &Result<reservation_core::Reservation, Error>) -> bool {
    matches!(answer, Err(Error::OutOfStock { available: 0, .. }))
}

#[tokio::test]
async fn a_sold_out_product_is_answered_locally_until_units_come_back() {
    let t = TestEngine::start().await;
    let sku = t.product("HOT", 2).await;
    let (path, sold_out) = t.reserve_path();
    let first = path.reserve(reserve(&sku, "ann", 1, "r1")).await.unwrap();
    path.reserve(reserve(&sku, "bob", 1, "r2")).await.unwrap();
    assert!(is_sold_out(
        &path.reserve(reserve(&sku, "cyd", 1, "r3")).await
    ));
    until_answered_locally(&sold_out, &reserve(&sku, "probe", 1, "probe")).await;

    let before = sold_out.answered();
    assert!(is_sold_out(
        &path.reserve(reserve(&sku, "dan", 1, "r4")).await
    ));
    assert_eq!(sold_out.answered(), before + 1, "answered without Redis");

    // A retry of a request that made a hold still gets its first answer.
    let again = path.reserve(reserve(&sku, "ann", 1, "r1")).await.unwrap();
    assert!(again.replayed);
    assert_eq!(again.hold.id, first.hold.id);

    // Another node gives a unit back: this node hears it and reserves again.
    let other_node = t
        .another_engine(reservation_core::ConnectionMode::Multiplexed)
        .await;
    other_node.cancel(&first.hold.id, None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match path.reserve(reserve(&sku, "eve", 1, "r5")).await {
            Ok(r) => {
                assert!(!r.replayed);
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "still sold out: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}

#[tokio::test]
async fn units_this_node_gives_back_end_the_fast_path_at_once() {
    let t = TestEngine::start().await;
    let sku = t.product("HOT", 1).await;
    let (path, sold_out) = t.reserve_path();
    path.reserve(reserve(&sku, "ann", 1, "r1")).await.unwrap();
    assert!(is_sold_out(
        &path.reserve(reserve(&sku, "bob", 1, "r2")).await
    ));
    until_answered_locally(&sold_out, &reserve(&sku, "probe", 1, "probe")).await;

    t.engine.restock(&sku, 1).await.unwrap();
    sold_out.forget(&sku); // what api-server does before answering the restock
    path.reserve(reserve(&sku, "bob", 1, "r3")).await.unwrap();
}

#[tokio::test]
async fn a_holds_deadline_ends_the_fast_path_without_any_event() {
    let t = TestEngine::start().await;
    let sku = t.product_with("HOT", 1, |p| p.hold_seconds = 10).await;
    let (path, sold_out) = t.reserve_path();
    path.reserve(reserve(&sku, "ann", 1, "r1")).await.unwrap();
    assert!(is_sold_out(
        &path.reserve(reserve(&sku, "bob", 1, "r2")).await
    ));
    let probe = reserve(&sku, "probe", 1, "probe");
    until_answered_locally(&sold_out, &probe).await;

    t.advance(Duration::from_secs(5));
    assert!(
        sold_out.answer(&probe).is_some(),
        "well before the deadline"
    );
    // No sweeper runs and nothing is published: the deadline alone decides.
    t.advance(Duration::from_secs(5));
    assert!(sold_out.answer(&probe).is_none());
    let r = path.reserve(reserve(&sku, "bob", 1, "r3")).await.unwrap();
    assert_eq!(r.hold.quantity, 1, "the expired hold's unit, reclaimed");
}

#[tokio::test]
async fn the_fast_path_answers_exactly_what_the_script_would() {
    let t = TestEngine::start().await;
    let ends = t.engine.now_ms() + 60_000;
    let sku = t
        .product_with("HOT", 2, |p| {
            p.per_customer_limit = 1;
            p.sale_ends_at_ms = Some(ends);
        })
        .await;
    let (path, sold_out) = t.reserve_path();
    path.reserve(reserve(&sku, "ann", 1, "r1")).await.unwrap();
    path.reserve(reserve(&sku, "bob", 1, "r2")).await.unwrap();
    assert!(is_sold_out(
        &path.reserve(reserve(&sku, "cyd", 1, "r3")).await
    ));
    until_answered_locally(&sold_out, &reserve(&sku, "probe", 1, "probe")).await;

    // Over the limit: the limit, as Redis says, not "out of stock".
    let local = sold_out.answer(&reserve(&sku, "ann", 1, "r4")).unwrap();
    let redis = t
        .engine
        .reserve(&reserve(&sku, "ann", 1, "r5"))
        .await
        .unwrap_err();
    assert_eq!(local.to_string(), redis.to_string());
    assert!(matches!(local, Error::CustomerLimit { owned: 1, .. }));
    // Over the per-call maximum: left to the engine, which refuses it.
    assert!(sold_out.answer(&reserve(&sku, "dan", 11, "r6")).is_none());

    // Once the sale has closed: closed, as Redis says.
    t.advance(Duration::from_secs(60));
    let local = sold_out.answer(&reserve(&sku, "eve", 1, "r7")).unwrap();
    let redis = t
        .engine
        .reserve(&reserve(&sku, "eve", 1, "r8"))
        .await
        .unwrap_err();
    assert_eq!(local.to_string(), redis.to_string());
    assert_eq!(local.reason(), "SALE_CLOSED");
}
