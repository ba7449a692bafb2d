//! Carts: several products reserved all or nothing, on one node as on a
//! Cluster (where the suite runs too with `FLASHSALE_TEST_REDIS=cluster`).

use std::time::Duration;

use reservation_core::testing::{TestEngine, cart};
use reservation_core::{CartRequest, Error, HoldState, Sku};

async fn stock(t: &TestEngine, sku: &Sku) -> (i64, i64) {
    let s = t.engine.product(sku).await.unwrap().stock;
    (s.available, s.held)
}

async fn assert_clean(t: &TestEngine, skus: &[&Sku]) {
    for sku in skus {
        let audit = t.engine.audit(sku).await.unwrap();
        assert!(audit.is_clean(), "{sku}: {:?}", audit.problems());
    }
}

#[tokio::test]
async fn a_cart_holds_every_line_in_its_order() {
    let t = TestEngine::start().await;
    let tee = t.product("TEE", 10).await;
    let cap = t.product("CAP", 5).await;
    let mug = t.product("MUG", 3).await;

    let holds = t
        .engine
        .reserve_cart(&cart("ann", "c1", &[(&tee, 2), (&cap, 1), (&mug, 3)]))
        .await
        .unwrap();
    let skus: Vec<_> = holds.iter().map(|r| r.hold.id.sku().clone()).collect();
    assert_eq!(skus, [tee.clone(), cap.clone(), mug.clone()]);
    for (reservation, (available, quantity)) in holds.iter().zip([(8, 2), (4, 1), (0, 3)]) {
        assert_eq!(reservation.hold.state, HoldState::Held);
        assert_eq!(reservation.hold.quantity, quantity);
        assert_eq!(reservation.available, available);
        assert!(!reservation.replayed);
    }
    assert_eq!(stock(&t, &mug).await, (0, 3));
    assert_eq!(t.engine.indexed_products().await.unwrap().len(), 3);
    assert_clean(&t, &[&tee, &cap, &mug]).await;
}

/// A cart's lines and what its refusal must be.
type Case<'a> = (&'a [(&'a Sku, i64)], fn(&Error) -> bool);

#[tokio::test]
async fn a_cart_with_one_line_refused_holds_nothing_and_says_which() {
    let t = TestEngine::start().await;
    let tee = t.product("TEE", 10).await;
    let cap = t
        .product_with("CAP", 10, |p| p.per_customer_limit = 2)
        .await;
    let mug = t.product("MUG", 3).await;
    let gone = reservation_core::testing::sku_of("GONE");

    // Each line in turn is the one refused: out of stock, over the
    // customer's limit, no such product.
    let cases: [Case; 3] = [
        (
            &[(&mug, 4), (&tee, 1)],
            |e| matches!(e, Error::OutOfStock { sku, available: 3, .. } if sku.as_str() == "MUG"),
        ),
        (
            &[(&tee, 1), (&cap, 3), (&mug, 1)],
            |e| matches!(e, Error::CustomerLimit { sku, limit: 2, .. } if sku.as_str() == "CAP"),
        ),
        (
            &[(&tee, 1), (&mug, 1), (&gone, 1)],
            |e| matches!(e, Error::ProductNotFound(sku) if sku.as_str() == "GONE"),
        ),
    ];
    for (n, (lines, expected)) in cases.into_iter().enumerate() {
        let refused = t
            .engine
            .reserve_cart(&cart("ann", &format!("c{n}"), lines))
            .await
            .unwrap_err();
        assert!(expected(&refused), "case {n}: {refused:?}");
        assert_eq!(stock(&t, &tee).await, (10, 0), "case {n}");
        assert_eq!(stock(&t, &cap).await, (10, 0), "case {n}");
        assert_eq!(stock(&t, &mug).await, (3, 0), "case {n}");
    }
    assert_clean(&t, &[&tee, &cap, &mug]).await;
}

#[tokio::test]
async fn a_cart_retried_answers_its_first_holds_and_a_refused_one_can_succeed_later() {
    let t = TestEngine::start().await;
    let tee = t.product("TEE", 10).await;
    let mug = t.product("MUG", 1).await;

    let first = t
        .engine
        .reserve_cart(&cart("ann", "c1", &[(&tee, 2), (&mug, 1)]))
        .await
        .unwrap();
    let again = t
        .engine
        .reserve_cart(&cart("ann", "c1", &[(&tee, 2), (&mug, 1)]))
        .await
        .unwrap();
    for (a, b) in first.iter().zip(&again) {
        assert_eq!(a.hold.id, b.hold.id);
        assert!(b.replayed);
    }
    assert_eq!(stock(&t, &tee).await, (8, 2));
    let changed = t
        .engine
        .reserve_cart(&cart("ann", "c1", &[(&tee, 3), (&mug, 1)]))
        .await;
    assert!(matches!(changed, Err(Error::IdempotencyMismatch { .. })));
    // A cart shares no request record with a single reserve of the same id.
    let single = t.reserved(&tee, "ann", 1, "c1").await;
    assert!(!single.replayed);

    let refused = t
        .engine
        .reserve_cart(&cart("bob", "c2", &[(&tee, 1), (&mug, 1)]))
        .await;
    assert!(matches!(refused, Err(Error::OutOfStock { .. })));
    t.engine.restock(&mug, 1).await.unwrap();
    let retried = t
        .engine
        .reserve_cart(&cart("bob", "c2", &[(&tee, 1), (&mug, 1)]))
        .await
        .unwrap();
    assert!(retried.iter().all(|r| !r.replayed));
    assert_clean(&t, &[&tee, &mug]).await;
}

#[tokio::test]
async fn cart_holds_expire_like_any_other() {
    let t = TestEngine::start().await;
    let tee = t.product_with("TEE", 10, |p| p.hold_seconds = 60).await;
    let mug = t.product_with("MUG", 10, |p| p.hold_seconds = 30).await;
    t.engine
        .reserve_cart(&cart("ann", "c1", &[(&tee, 2), (&mug, 3)]))
        .await
        .unwrap();
    // The units one sweep step of a product gives back.
    let expired_units =
        async |sku: &Sku| t.engine.sweep_product(sku, 10).await.unwrap().expired_units;
    t.advance(Duration::from_secs(30));
    assert_eq!(expired_units(&mug).await, 3);
    assert_eq!(expired_units(&tee).await, 0);
    t.advance(Duration::from_secs(30));
    assert_eq!(expired_units(&tee).await, 2);
    assert_eq!(stock(&t, &tee).await, (10, 0));
    assert_clean(&t, &[&tee, &mug]).await;
}

#[tokio::test]
async fn a_malformed_cart_is_refused_before_redis() {
    let t = TestEngine::start().await;
    let tee = t.product("TEE", 100).await;
    let max = t.engine.config().max_quantity_per_reserve as i64;
    let many: Vec<Sku> = (0..=CartRequest::MAX_LINES)
        .map(|n| reservation_core::testing::sku_of(&format!("S{n}")))
        .collect();
    let many: Vec<(&Sku, i64)> = many.iter().map(|sku| (sku, 1)).collect();
    for (lines, field) in [
        (&[][..], "lines"),
        (&[(&tee, 1), (&tee, 2)][..], "lines"),
        (&many[..], "lines"),
        (&[(&tee, max + 1)][..], "quantity"),
    ] {
        match t.engine.reserve_cart(&cart("ann", "c", lines)).await {
            Err(Error::InvalidArgument { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{} lines: {other:?}", lines.len()),
        }
    }
    assert_eq!(stock(&t, &tee).await, (100, 0));
}
