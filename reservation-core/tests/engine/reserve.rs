use std::sync::Arc;
use std::time::Duration;

use reservation_core::testing::{TestEngine, reserve, sku_of};
use reservation_core::{Error, HoldState, Quantity};

#[tokio::test]
async fn a_reserve_holds_units_until_the_products_hold_deadline() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 10, |p| p.hold_seconds = 90).await;
    let r = t.reserved(&sku, "ann", 3, "r1").await;
    assert_eq!(r.available, 7);
    assert!(!r.replayed);
    assert_eq!(r.hold.state, HoldState::Held);
    assert_eq!(r.hold.quantity, 3);
    assert_eq!(r.hold.id.sku(), &sku);
    assert_eq!(r.hold.expires_at_ms, t.engine.now_ms() + 90_000);
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held, s.sold, s.version), (7, 3, 0, 2));
    assert_eq!(t.engine.reservation(&r.hold.id).await.unwrap(), r.hold);
}

#[tokio::test]
async fn quantities_must_be_positive_and_within_the_configured_max() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 100).await;
    assert!(Quantity::new(0).is_err());
    assert!(Quantity::new(-1).is_err());
    let max = t.engine.config().max_quantity_per_reserve as i64;
    let err = t
        .engine
        .reserve(&reserve(&sku, "ann", max + 1, "r1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                field: "quantity",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        t.engine
            .reserve(&reserve(&sku, "ann", max, "r2"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn reserving_more_than_is_available_is_out_of_stock_and_changes_nothing() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 2).await;
    let err = t
        .engine
        .reserve(&reserve(&sku, "ann", 3, "r1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::OutOfStock {
                requested: 3,
                available: 2,
                ..
            }
        ),
        "{err}"
    );
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held, s.version), (2, 0, 1));
}

#[tokio::test]
async fn an_unknown_product_is_not_found() {
    let t = TestEngine::start().await;
    let err = t
        .engine
        .reserve(&reserve(&sku_of("NOPE"), "ann", 1, "r1"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ProductNotFound(_)), "{err}");
}

#[tokio::test]
async fn the_customer_limit_counts_active_and_purchased_holds() {
    let t = TestEngine::start().await;
    let sku = t
        .product_with("TEE", 100, |p| p.per_customer_limit = 3)
        .await;
    let first = t.reserved(&sku, "ann", 2, "r1").await;
    t.engine.confirm(&first.hold.id, None).await.unwrap();
    t.engine.finalize_purchase(&first.hold.id).await.unwrap();
    t.reserved(&sku, "ann", 1, "r2").await;

    let err = t
        .engine
        .reserve(&reserve(&sku, "ann", 1, "r3"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::CustomerLimit {
                limit: 3,
                owned: 3,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.reason(), "CUSTOMER_LIMIT");
    // Another customer is not affected.
    assert!(
        t.engine
            .reserve(&reserve(&sku, "bob", 3, "r4"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn units_given_back_no_longer_count_against_the_limit() {
    let t = TestEngine::start().await;
    let sku = t
        .product_with("TEE", 100, |p| p.per_customer_limit = 2)
        .await;
    let r = t.reserved(&sku, "ann", 2, "r1").await;
    t.engine.cancel(&r.hold.id, None).await.unwrap();
    assert!(
        t.engine
            .reserve(&reserve(&sku, "ann", 2, "r2"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_sale_is_closed_before_it_starts_and_after_it_ends() {
    let t = TestEngine::start().await;
    let now = t.engine.now_ms();
    let sku = t
        .product_with("TEE", 10, |p| {
            p.sale_starts_at_ms = Some(now + 1_000);
            p.sale_ends_at_ms = Some(now + 2_000);
        })
        .await;
    let err = t
        .engine
        .reserve(&reserve(&sku, "ann", 1, "r1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SaleClosed {
                starts_at_ms: Some(_),
                ends_at_ms: Some(_),
                ..
            }
        ),
        "{err}"
    );
    t.advance(Duration::from_millis(1_000));
    assert!(
        t.engine
            .reserve(&reserve(&sku, "ann", 1, "r2"))
            .await
            .is_ok()
    );
    t.advance(Duration::from_millis(1_000));
    let err = t
        .engine
        .reserve(&reserve(&sku, "ann", 1, "r3"))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "SALE_CLOSED");
}

#[tokio::test]
async fn a_replayed_request_gets_the_first_answer() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let first = t.reserved(&sku, "ann", 2, "r1").await;
    t.reserved(&sku, "bob", 1, "r2").await;
    let again = t.reserved(&sku, "ann", 2, "r1").await;
    assert!(again.replayed);
    assert_eq!(again.hold, first.hold);
    // What is available now, after bob's reserve too.
    assert_eq!((first.available, again.available), (8, 7));
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held), (7, 3));
}

#[tokio::test]
async fn a_request_id_reused_with_other_parameters_is_refused() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    t.reserved(&sku, "ann", 2, "r1").await;
    for (customer, quantity) in [("ann", 3), ("bob", 2)] {
        let err = t
            .engine
            .reserve(&reserve(&sku, customer, quantity, "r1"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::IdempotencyMismatch { .. }), "{err}");
        assert_eq!(err.reason(), "IDEMPOTENCY_MISMATCH");
    }
    assert_eq!(t.engine.product(&sku).await.unwrap().stock.held, 2);
}

#[tokio::test]
async fn the_same_request_sent_fifty_times_at_once_makes_one_hold() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 100).await;
    let engine = Arc::new(t.engine.clone());
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let engine = engine.clone();
            let request = reserve(&sku, "ann", 2, "same-request");
            tokio::spawn(async move { engine.reserve(&request).await.unwrap() })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let first = answers.iter().find(|a| !a.replayed).expect("one original");
    assert_eq!(answers.iter().filter(|a| !a.replayed).count(), 1);
    assert!(answers.iter().all(|a| a.hold.id == first.hold.id));
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held, s.version), (98, 2, 2));
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}

#[tokio::test]
async fn a_reserve_reclaims_due_holds_instead_of_saying_sold_out() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 2, |p| p.hold_seconds = 60).await;
    let old = t.reserved(&sku, "ann", 2, "r1").await;
    let err = t
        .engine
        .reserve(&reserve(&sku, "bob", 1, "r2"))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "OUT_OF_STOCK");

    t.advance(Duration::from_secs(60));
    // No sweeper has run: the reserve itself returns the expired units.
    let r = t.reserved(&sku, "bob", 1, "r3").await;
    assert_eq!(r.available, 1);
    let old = t.engine.reservation(&old.hold.id).await.unwrap();
    assert_eq!(old.state, HoldState::Expired);
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held), (1, 1));
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}

#[tokio::test]
async fn reclaimed_holds_of_the_same_customer_free_their_limit() {
    let t = TestEngine::start().await;
    let sku = t
        .product_with("TEE", 10, |p| {
            p.hold_seconds = 30;
            p.per_customer_limit = 2;
        })
        .await;
    t.reserved(&sku, "ann", 2, "r1").await;
    t.advance(Duration::from_secs(30));
    let r = t.reserved(&sku, "ann", 2, "r2").await;
    assert_eq!(r.available, 8);
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}

#[tokio::test]
async fn the_raw_reserve_command_reserves_exactly_like_the_engine() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let command = t.engine.raw_reserve_command(&sku);
    let mut conn = t.raw_connection().await;
    let sha: String = redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(command.script)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(command.args[..2], ["EVALSHA".to_owned(), sha]);

    // What redis-benchmark does: a fresh number in place of each placeholder.
    for n in 0..3 {
        let mut call = redis::cmd(&command.args[0]);
        for arg in &command.args[1..] {
            call.arg(arg.replace("__rand_int__", &format!("{n:012}")));
        }
        let reply: redis::Value = call.query_async(&mut conn).await.unwrap();
        assert!(format!("{reply:?}").contains("OK"), "{reply:?}");
    }
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held, s.version), (7, 3, 4));
    let audit = t.engine.audit(&sku).await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.problems());
    assert_eq!(audit.holds, 3);
}

#[tokio::test]
async fn one_call_decides_each_request_as_if_it_came_alone_after_the_ones_before() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 5, |p| p.per_customer_limit = 2).await;
    let mut events = t.listen_stock(&sku).await;
    let answers = t
        .engine
        .reserve_many(&[
            reserve(&sku, "ann", 2, "r1"),
            reserve(&sku, "ann", 1, "r2"), // over ann's limit after r1
            reserve(&sku, "bob", 2, "r3"),
            reserve(&sku, "ann", 2, "r1"), // the same request again: r1's hold
            reserve(&sku, "cyd", 2, "r4"), // one unit left
            reserve(&sku, "dan", 1, "r5"),
            reserve(&sku, "bob", 1, "r3"),  // r3 with another quantity
            reserve(&sku, "eve", 11, "r6"), // over the per-call maximum
        ])
        .await
        .unwrap();
    let ok = |n: usize| answers[n].as_ref().unwrap();
    assert_eq!((ok(0).available, ok(0).replayed), (3, false));
    assert!(matches!(
        answers[1],
        Err(Error::CustomerLimit { owned: 2, .. })
    ));
    assert_eq!(ok(2).available, 1);
    assert_eq!(
        (ok(3).hold.id.clone(), ok(3).replayed),
        (ok(0).hold.id.clone(), true)
    );
    assert!(matches!(
        answers[4],
        Err(Error::OutOfStock { available: 1, .. })
    ));
    assert_eq!(ok(5).available, 0);
    assert!(matches!(answers[6], Err(Error::IdempotencyMismatch { .. })));
    assert!(matches!(
        answers[7],
        Err(Error::InvalidArgument {
            field: "quantity",
            ..
        })
    ));

    // One script call: one version, one stock event with the final state.
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held, s.version), (0, 5, 2));
    let event = tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .unwrap()
        .unwrap();
    let event = reservation_core::StockEvent::from_json(&event).unwrap();
    assert_eq!((event.version, event.available), (2, 0));
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
    assert!(
        t.engine
            .reserve_many(&[
                reserve(&sku, "ann", 1, "x"),
                reserve(&sku_of("OTHER"), "ann", 1, "y")
            ])
            .await
            .is_err(),
        "one call reserves one product"
    );
}
