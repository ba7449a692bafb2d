//! A merchant's actions are safe to retry and to schedule: a restock sent
//! again with its request id adds once, and pausing a sale is a state of its
//! own that keeps the sale's window.

use std::sync::Arc;
use std::time::Duration;

use reservation_core::keys::ProductKeys;
use reservation_core::testing::{TestEngine, cart, drain, request_of, reserve, sku_of};
use reservation_core::{ConnectionMode, Error, Product, ProductUpdate, Result, Sku, StockEvent};

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(24 * 3600);

/// A restock of `delta` units sent with `request` as its request id.
async fn restock_with_id(t: &TestEngine, sku: &Sku, delta: i64, request: &str) -> Result<Product> {
    t.engine
        .restock_with_id(sku, delta, Some(&request_of(request)))
        .await
}

#[tokio::test]
async fn a_restock_retried_with_its_request_id_adds_once() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let first = restock_with_id(&t, &sku, 5, "s1").await.unwrap().stock;
    assert_eq!((first.total, first.available, first.version), (15, 15, 2));
    t.reserved(&sku, "ann", 2, "r1").await;

    let again = restock_with_id(&t, &sku, 5, "s1").await.unwrap().stock;
    // Nothing added, no new version: the product as it is now.
    assert_eq!((again.total, again.available, again.version), (15, 13, 3));

    // Without a request id every restock adds, as before.
    t.engine.restock(&sku, 1).await.unwrap();
    let s = t.engine.restock(&sku, 1).await.unwrap().stock;
    assert_eq!(s.total, 17);
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}

#[tokio::test]
async fn the_same_restock_sent_twenty_times_at_once_adds_once() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let engine = Arc::new(t.engine.clone());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (engine, sku) = (engine.clone(), sku.clone());
            tokio::spawn(async move {
                engine
                    .restock_with_id(&sku, 5, Some(&request_of("s1")))
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.total, s.available, s.version), (15, 15, 2));
}

#[tokio::test]
async fn a_restock_request_id_sent_with_another_delta_is_refused() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    restock_with_id(&t, &sku, 5, "s1").await.unwrap();
    for delta in [6, -5] {
        let err = restock_with_id(&t, &sku, delta, "s1").await.unwrap_err();
        assert!(matches!(err, Error::IdempotencyMismatch { .. }), "{err}");
        assert_eq!(err.reason(), "IDEMPOTENCY_MISMATCH");
    }
    assert_eq!(t.engine.product(&sku).await.unwrap().stock.total, 15);
}

#[tokio::test]
async fn a_refused_restock_is_not_remembered() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let err = restock_with_id(&t, &sku, -20, "s1").await.unwrap_err();
    assert_eq!(err.reason(), "OUT_OF_STOCK");
    t.engine.restock(&sku, 15).await.unwrap();
    // The retry finds no record of the refusal, and goes through now.
    let s = restock_with_id(&t, &sku, -20, "s1").await.unwrap().stock;
    assert_eq!((s.total, s.available), (5, 5));

    let err = restock_with_id(&t, &sku_of("NOPE"), 5, "s2")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ProductNotFound(_)), "{err}");
}

#[tokio::test]
async fn reserve_and_restock_request_ids_never_answer_for_each_other() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    t.reserved(&sku, "ann", 1, "same").await;
    let s = restock_with_id(&t, &sku, 3, "same").await.unwrap().stock;
    assert_eq!((s.total, s.held), (13, 1));
    let replay = t.reserved(&sku, "ann", 1, "same").await;
    assert!(replay.replayed);
}

#[tokio::test]
async fn a_restock_request_id_is_kept_for_the_retention_then_forgotten() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let keys = ProductKeys::new(&sku);
    let restock = async || {
        restock_with_id(&t, &sku, 5, "s1")
            .await
            .unwrap()
            .stock
            .total
    };
    assert_eq!(restock().await, 15);

    // Its record is kept with the holds that ended this period, under the
    // product's tag, and goes with them.
    let period = t.engine.config().retention.period(t.engine.now_ms());
    let mut conn = t.raw_connection().await;
    let records: i64 = redis::cmd("HLEN")
        .arg(keys.ended(period))
        .query_async(&mut conn)
        .await
        .unwrap();
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(keys.ended(period))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(records, 1);
    assert!(ttl_ms > 0, "the record's hash expires by itself");

    assert_eq!(restock().await, 15, "a retry at once");
    t.advance(DAY - Duration::from_secs(1));
    assert_eq!(
        restock().await,
        15,
        "a retry a day later, in the next period"
    );
    t.advance(2 * DAY);
    assert_eq!(
        restock().await,
        20,
        "past the retention the id is free again"
    );
}

#[tokio::test]
async fn a_paused_sale_refuses_every_reserve_until_it_is_resumed() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let paused = t
        .engine
        .update_product(&sku, &ProductUpdate::pause())
        .await
        .unwrap();
    assert!(paused.stock.paused);
    assert!(!paused.sale_open_at(t.engine.now_ms()));

    let err = t
        .engine
        .reserve(&reserve(&sku, "ann", 1, "r1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::SaleClosed { paused: true, .. }),
        "{err}"
    );
    assert_eq!(err.reason(), "SALE_CLOSED");
    assert!(err.to_string().contains("paused"), "{err}");
    let err = t
        .engine
        .reserve_cart(&cart("ann", "c1", &[(&sku, 1)]))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "SALE_CLOSED");

    let resumed = t
        .engine
        .update_product(&sku, &ProductUpdate::resume())
        .await
        .unwrap();
    assert!(!resumed.stock.paused);
    t.reserved(&sku, "ann", 1, "r1").await;
    assert_eq!(t.engine.product(&sku).await.unwrap().stock.held, 1);
}

#[tokio::test]
async fn a_sale_paused_before_it_opens_opens_on_time_once_resumed() {
    let t = TestEngine::start().await;
    let opens = t.engine.now_ms() + HOUR.as_millis() as i64;
    let sku = t
        .product_with("TEE", 10, |p| p.sale_starts_at_ms = Some(opens))
        .await;
    let paused = t
        .engine
        .update_product(&sku, &ProductUpdate::pause())
        .await
        .unwrap();
    assert_eq!(paused.sale_starts_at_ms, Some(opens), "the pause kept it");
    let resumed = t
        .engine
        .update_product(&sku, &ProductUpdate::resume())
        .await
        .unwrap();
    assert_eq!(resumed.sale_starts_at_ms, Some(opens), "so did the resume");

    // Resumed, the sale is still before its start: closed, not paused.
    let err = t
        .engine
        .reserve(&reserve(&sku, "ann", 1, "r1"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::SaleClosed {
                paused: false,
                starts_at_ms: Some(start),
                ..
            } if start == opens
        ),
        "{err}"
    );
    t.advance(HOUR);
    t.reserved(&sku, "ann", 1, "r1").await;

    // A pause that outlasts the start keeps the sale shut past it.
    t.engine
        .update_product(&sku, &ProductUpdate::pause())
        .await
        .unwrap();
    t.advance(HOUR);
    let err = t
        .engine
        .reserve(&reserve(&sku, "bob", 1, "r2"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::SaleClosed { paused: true, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_pause_and_a_schedule_change_sent_at_once_both_hold() {
    let t = TestEngine::start().await;
    let other = t.another_engine(ConnectionMode::Multiplexed).await;
    let opens = t.engine.now_ms() + HOUR.as_millis() as i64;
    let schedule = ProductUpdate {
        sale_starts_at_ms: Some(Some(opens)),
        ..Default::default()
    };
    let pause = ProductUpdate::pause();
    for round in 0..20 {
        let sku = t.product(&format!("TEE-{round}"), 10).await;
        let (paused, scheduled) = tokio::join!(
            t.engine.update_product(&sku, &pause),
            other.update_product(&sku, &schedule),
        );
        paused.unwrap();
        scheduled.unwrap();
        let product = t.engine.product(&sku).await.unwrap();
        assert!(product.stock.paused, "round {round}: the pause was lost");
        assert_eq!(
            product.sale_starts_at_ms,
            Some(opens),
            "round {round}: the start was lost"
        );
        assert_eq!(product.stock.version, 3, "round {round}");
    }
}

#[tokio::test]
async fn two_bounds_changed_at_once_never_leave_the_window_inverted() {
    let t = TestEngine::start().await;
    let other = t.another_engine(ConnectionMode::Multiplexed).await;
    let now = t.engine.now_ms();
    let opens = ProductUpdate {
        sale_starts_at_ms: Some(Some(now + 2 * HOUR.as_millis() as i64)),
        ..Default::default()
    };
    let closes = ProductUpdate {
        sale_ends_at_ms: Some(Some(now + HOUR.as_millis() as i64)),
        ..Default::default()
    };
    for round in 0..20 {
        let sku = t.product(&format!("TEE-{round}"), 10).await;
        let (opened, closed) = tokio::join!(
            t.engine.update_product(&sku, &opens),
            other.update_product(&sku, &closes),
        );
        let refused: Vec<_> = [opened.err(), closed.err()].into_iter().flatten().collect();
        assert!(
            matches!(
                refused.as_slice(),
                [Error::InvalidArgument {
                    field: "sale_ends_at",
                    ..
                }]
            ),
            "round {round}: {refused:?}"
        );
        let product = t.engine.product(&sku).await.unwrap();
        let window = (product.sale_starts_at_ms, product.sale_ends_at_ms);
        assert!(
            matches!(window, (Some(_), None) | (None, Some(_))),
            "round {round}: {window:?}"
        );
    }
}

#[tokio::test]
async fn a_pause_and_a_resume_each_tell_watchers_with_a_stock_event() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let mut events = t.listen_stock(&sku).await;
    t.engine
        .update_product(&sku, &ProductUpdate::pause())
        .await
        .unwrap();
    t.engine
        .update_product(&sku, &ProductUpdate::resume())
        .await
        .unwrap();
    let raw = drain(&mut events).await;
    let seen: Vec<_> = raw
        .iter()
        .map(|m| StockEvent::from_json(m).unwrap())
        .map(|e| (e.version, e.paused))
        .collect();
    assert_eq!(seen, [(2, true), (3, false)]);
    // An open sale's events stay as they were.
    assert!(!String::from_utf8_lossy(&raw[1]).contains("paused"));
}
