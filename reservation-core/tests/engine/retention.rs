//! A hold that ends leaves the product's live set in the script that ends
//! it; its record is kept, compact, for the retention (which also keeps its
//! request id for retries), and then it ages out.

use std::time::Duration;

use reservation_core::keys::{HoldKey, ProductKeys, Retention};
use reservation_core::testing::{TestEngine, reserve};
use reservation_core::{Error, HoldState, ReservationId};

const DAY: Duration = Duration::from_secs(24 * 3600);

async fn live_holds(t: &TestEngine, keys: &ProductKeys) -> i64 {
    let mut conn = t.raw_connection().await;
    redis::cmd("HLEN")
        .arg(&keys.holds)
        .query_async(&mut conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_way_a_hold_ends_takes_it_out_of_the_live_set_and_keeps_it_readable() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 10, |p| p.hold_seconds = 60).await;
    let keys = ProductKeys::new(&sku);
    let mut ids = Vec::new();
    for n in 0..4 {
        let r = t.reserved(&sku, "ann", 1, &format!("r{n}")).await;
        ids.push(r.hold.id);
    }
    assert_eq!(live_holds(&t, &keys).await, 4);

    t.engine.cancel(&ids[0], None).await.unwrap();
    t.engine.confirm(&ids[1], None).await.unwrap();
    t.engine.finalize_purchase(&ids[1]).await.unwrap();
    t.engine.confirm(&ids[2], None).await.unwrap();
    t.engine.release(&ids[2]).await.unwrap();
    t.advance(Duration::from_secs(60));
    t.engine.sweep_product(&sku, 10).await.unwrap();

    assert_eq!(live_holds(&t, &keys).await, 0, "no ended hold stays live");
    let states = [
        HoldState::Cancelled,
        HoldState::Purchased,
        HoldState::Released,
        HoldState::Expired,
    ];
    for (id, state) in ids.iter().zip(states) {
        assert_eq!(t.engine.reservation(id).await.unwrap().state, state, "{id}");
    }
    let audit = t.engine.audit(&sku).await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.problems());
    assert_eq!(
        (
            audit.reserved,
            audit.cancelled,
            audit.released,
            audit.expired,
            audit.sold
        ),
        (4, 1, 1, 1, 1)
    );
}

#[tokio::test]
async fn an_ended_hold_is_answered_for_the_retention_then_ages_out() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let made = t.reserved(&sku, "ann", 2, "r1").await;
    t.engine.cancel(&made.hold.id, None).await.unwrap();

    // A retry a day later still gets its first hold, as it is now.
    t.advance(DAY - Duration::from_secs(1));
    let retry = t.reserved(&sku, "ann", 2, "r1").await;
    assert!(retry.replayed);
    assert_eq!(retry.hold.id, made.hold.id);
    assert_eq!(retry.hold.state, HoldState::Cancelled);
    assert_eq!(
        t.engine.reservation(&made.hold.id).await.unwrap().state,
        HoldState::Cancelled
    );

    // Two retention periods on, the record is gone: the id has aged out.
    t.advance(2 * DAY);
    let err = t.engine.reservation(&made.hold.id).await.unwrap_err();
    assert!(matches!(err, Error::ReservationAgedOut { .. }), "{err}");
    assert_eq!(err.reason(), "NOT_FOUND");
    assert!(err.to_string().contains("aged out"), "{err}");
    assert!(matches!(
        t.engine.cancel(&made.hold.id, None).await,
        Err(Error::ReservationAgedOut { .. })
    ));
    // And the request id is free: the same request makes a new hold.
    let again = t.reserved(&sku, "ann", 2, "r1").await;
    assert!(!again.replayed);
    assert_ne!(again.hold.id, made.hold.id);
    // An id no hold ever had, made now, is simply not found.
    let unknown = ReservationId::generate(&sku);
    assert!(matches!(
        t.engine.reservation(&unknown).await,
        Err(Error::ReservationNotFound(_))
    ));
}

#[tokio::test]
async fn a_periods_ended_holds_go_with_its_hash_freed_by_the_next_call_after_it_is_read() {
    let second = Retention::new(Duration::from_secs(1)).unwrap();
    let t = TestEngine::start_with(reservation_core::testing::TestOptions {
        manual_clock: false,
        config: reservation_core::EngineConfig {
            retention: second,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let sku = t.product("TEE", 10).await;
    let keys = ProductKeys::new(&sku);
    let made = t.reserved(&sku, "ann", 1, "r1").await;
    t.engine.cancel(&made.hold.id, None).await.unwrap();
    let period = second.period(t.engine.now_ms());
    let mut conn = t.raw_connection().await;
    let ttl_ms: i64 = redis::cmd("PTTL")
        .arg(keys.ended(period))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        (2_000..=3_000).contains(&ttl_ms),
        "the ended hash expires in {ttl_ms} ms"
    );

    // Two periods on, nobody reads it any more: the product's next call
    // unlinks it, before it would have expired.
    while second.period(t.engine.now_ms()) < period + 2 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    t.reserved(&sku, "bob", 1, "r2").await;
    let exists: bool = redis::cmd("EXISTS")
        .arg(keys.ended(period))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!exists, "the period's hash is gone");
}

#[tokio::test]
async fn an_ended_hold_costs_under_300_bytes() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 100_000, |p| p.hold_seconds = 1).await;
    let keys = ProductKeys::new(&sku);
    // As `flashload` names them.
    const HOLDS: usize = 5_000;
    for batch in 0..HOLDS / 100 {
        let requests: Vec<_> = (0..100)
            .map(|i| {
                let n = batch * 100 + i;
                reserve(
                    &sku,
                    &format!("fl-0a1b2c3d-c{n}"),
                    1,
                    &format!("fl-0a1b2c3d-r{n}"),
                )
            })
            .collect();
        for answer in t.engine.reserve_many(&requests).await.unwrap() {
            answer.unwrap();
        }
    }
    t.advance(Duration::from_secs(1));
    while t
        .engine
        .sweep_product(&sku, 2_000)
        .await
        .unwrap()
        .more_due(t.engine.now_ms())
    {}
    assert_eq!(live_holds(&t, &keys).await, 0);

    let period = t.engine.config().retention.period(t.engine.now_ms());
    let mut conn = t.raw_connection().await;
    let bytes: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg(keys.ended(period))
        .arg("SAMPLES")
        .arg(0)
        .query_async(&mut conn)
        .await
        .unwrap();
    let per_hold = bytes / HOLDS as i64;
    assert!(per_hold < 300, "an ended hold takes {per_hold} bytes");
    // One of them, as stored: a line, not a document.
    let seventh = t
        .reserved(&sku, "fl-0a1b2c3d-c7", 1, "fl-0a1b2c3d-r7")
        .await;
    assert!(seventh.replayed);
    let key = HoldKey::of(&seventh.hold.id).key;
    let record: String = redis::cmd("HGET")
        .arg(keys.ended(period))
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        record.starts_with("EXPIRED fl-0a1b2c3d-c7 1 fl-0a1b2c3d-r7 "),
        "{record}"
    );
}
