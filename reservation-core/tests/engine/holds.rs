use std::time::Duration;

use reservation_core::testing::{TestEngine, customer_of, sku_of};
use reservation_core::{Error, HoldState, ReservationId};

#[tokio::test]
async fn confirm_then_finalize_turns_held_units_into_sold_ones() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let r = t.reserved(&sku, "ann", 3, "r1").await;

    let confirmed = t.engine.confirm(&r.hold.id, None).await.unwrap();
    assert!(confirmed.changed);
    assert_eq!(confirmed.hold.state, HoldState::Confirmed);
    let timeout = t.engine.config().purchase_timeout.as_millis() as i64;
    assert_eq!(
        confirmed.hold.purchase_deadline_ms,
        Some(t.engine.now_ms() + timeout)
    );
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held, s.sold), (7, 3, 0));

    let purchased = t.engine.finalize_purchase(&r.hold.id).await.unwrap();
    assert!(purchased.changed);
    assert_eq!(purchased.hold.state, HoldState::Purchased);
    assert_eq!(purchased.hold.purchased_at_ms, Some(t.engine.now_ms()));
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held, s.sold, s.total), (7, 0, 3, 10));
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}

#[tokio::test]
async fn every_transition_repeated_is_a_no_op() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let bought = t.reserved(&sku, "ann", 1, "r1").await.hold.id;
    let cancelled = t.reserved(&sku, "ann", 1, "r2").await.hold.id;
    let released = t.reserved(&sku, "ann", 1, "r3").await.hold.id;

    assert!(t.engine.confirm(&bought, None).await.unwrap().changed);
    assert!(!t.engine.confirm(&bought, None).await.unwrap().changed);
    assert!(t.engine.finalize_purchase(&bought).await.unwrap().changed);
    assert!(!t.engine.finalize_purchase(&bought).await.unwrap().changed);
    // Confirming a purchased hold is answered with its state, not an error.
    assert_eq!(
        t.engine.confirm(&bought, None).await.unwrap().hold.state,
        HoldState::Purchased
    );

    assert!(t.engine.cancel(&cancelled, None).await.unwrap().changed);
    assert!(!t.engine.cancel(&cancelled, None).await.unwrap().changed);

    t.engine.confirm(&released, None).await.unwrap();
    assert!(t.engine.release(&released).await.unwrap().changed);
    assert!(!t.engine.release(&released).await.unwrap().changed);

    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held, s.sold), (9, 0, 1));
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}

#[tokio::test]
async fn transitions_from_the_wrong_state_are_refused_and_change_nothing() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let held = t.reserved(&sku, "ann", 1, "r1").await.hold.id;
    let confirmed = t.reserved(&sku, "ann", 1, "r2").await.hold.id;
    t.engine.confirm(&confirmed, None).await.unwrap();
    let cancelled = t.reserved(&sku, "ann", 1, "r3").await.hold.id;
    t.engine.cancel(&cancelled, None).await.unwrap();
    let before = t.engine.product(&sku).await.unwrap().stock;

    let refusals = [
        (t.engine.finalize_purchase(&held).await, HoldState::Held),
        (t.engine.release(&held).await, HoldState::Held),
        (
            t.engine.cancel(&confirmed, None).await,
            HoldState::Confirmed,
        ),
        (
            t.engine.confirm(&cancelled, None).await,
            HoldState::Cancelled,
        ),
        (
            t.engine.finalize_purchase(&cancelled).await,
            HoldState::Cancelled,
        ),
    ];
    for (result, expected) in refusals {
        match result {
            Err(Error::WrongState { state, .. }) => assert_eq!(state, expected),
            other => panic!("expected WRONG_STATE from {expected}, got {other:?}"),
        }
    }
    assert_eq!(t.engine.product(&sku).await.unwrap().stock, before);
}

#[tokio::test]
async fn a_customer_only_finds_their_own_holds() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let id = t.reserved(&sku, "ann", 1, "r1").await.hold.id;
    let bob = customer_of("bob");
    let err = t.engine.confirm(&id, Some(&bob)).await.unwrap_err();
    assert!(matches!(err, Error::ReservationNotFound(_)), "{err}");
    let err = t.engine.cancel(&id, Some(&bob)).await.unwrap_err();
    assert!(matches!(err, Error::ReservationNotFound(_)), "{err}");
    let ann = customer_of("ann");
    assert!(t.engine.confirm(&id, Some(&ann)).await.unwrap().changed);
}

#[tokio::test]
async fn unknown_reservations_are_not_found() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let id = ReservationId::generate(&sku);
    assert!(matches!(
        t.engine.reservation(&id).await,
        Err(Error::ReservationNotFound(_))
    ));
    assert!(matches!(
        t.engine.confirm(&id, None).await,
        Err(Error::ReservationNotFound(_))
    ));
    assert!(matches!(
        t.engine.cancel(&id, None).await,
        Err(Error::ReservationNotFound(_))
    ));
    assert!(matches!(
        t.engine.finalize_purchase(&id).await,
        Err(Error::ReservationNotFound(_))
    ));
    assert!(matches!(
        t.engine.release(&id).await,
        Err(Error::ReservationNotFound(_))
    ));
    let other = ReservationId::generate(&sku_of("NOPE"));
    assert!(matches!(
        t.engine.confirm(&other, None).await,
        Err(Error::ReservationNotFound(_))
    ));
}

#[tokio::test]
async fn a_hold_past_its_deadline_cannot_be_confirmed_even_before_any_sweep() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 5, |p| p.hold_seconds = 30).await;
    let r = t.reserved(&sku, "ann", 2, "r1").await;
    t.advance(Duration::from_secs(30));

    let stored = t.engine.reservation(&r.hold.id).await.unwrap();
    assert_eq!(stored.state, HoldState::Held, "nothing has swept it yet");
    assert_eq!(stored.state_at(t.engine.now_ms()), HoldState::Expired);

    let err = t.engine.confirm(&r.hold.id, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::WrongState {
                state: HoldState::Expired,
                ..
            }
        ),
        "{err}"
    );
    // The refused confirm expired the hold and gave its units back.
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held), (5, 0));
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}

#[tokio::test]
async fn a_hold_one_millisecond_before_its_deadline_can_still_be_confirmed() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 5, |p| p.hold_seconds = 30).await;
    let r = t.reserved(&sku, "ann", 2, "r1").await;
    t.advance(Duration::from_millis(29_999));
    assert!(t.engine.confirm(&r.hold.id, None).await.unwrap().changed);
    // A confirmed hold no longer expires as a hold.
    t.advance(Duration::from_secs(60));
    assert_eq!(
        t.engine
            .sweep_product(&sku, 100)
            .await
            .unwrap()
            .expired_units,
        0
    );
    assert!(
        t.engine
            .finalize_purchase(&r.hold.id)
            .await
            .unwrap()
            .changed
    );
}

#[tokio::test]
async fn cancelling_a_hold_past_its_deadline_expires_it() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 5, |p| p.hold_seconds = 30).await;
    let r = t.reserved(&sku, "ann", 2, "r1").await;
    t.advance(Duration::from_secs(31));
    let cancelled = t.engine.cancel(&r.hold.id, None).await.unwrap();
    assert_eq!(cancelled.hold.state, HoldState::Expired);
    assert_eq!(t.engine.product(&sku).await.unwrap().stock.available, 5);
}

#[tokio::test]
async fn expiry_follows_the_real_clock_too() {
    let t = TestEngine::start_real_time().await;
    let sku = t.product_with("TEE", 5, |p| p.hold_seconds = 1).await;
    let r = t.reserved(&sku, "ann", 2, "r1").await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let err = t.engine.confirm(&r.hold.id, None).await.unwrap_err();
    assert_eq!(err.reason(), "WRONG_STATE");
    assert_eq!(t.engine.product(&sku).await.unwrap().stock.available, 5);
}

#[tokio::test]
async fn a_sweep_expires_due_holds_in_bounded_batches() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 100, |p| p.hold_seconds = 10).await;
    for i in 0..25 {
        t.reserved(&sku, &format!("c{i}"), 2, &format!("r{i}"))
            .await;
    }
    t.advance(Duration::from_secs(5));
    let late = t.reserved(&sku, "late", 1, "late").await;

    let nothing_due = t.engine.sweep_product(&sku, 10).await.unwrap();
    assert_eq!(nothing_due.expired_units, 0);
    assert_eq!(
        nothing_due.next_deadline_ms,
        Some(t.engine.now_ms() + 5_000)
    );

    t.advance(Duration::from_secs(5));
    let version_before = t.engine.product(&sku).await.unwrap().stock.version;
    let first = t.engine.sweep_product(&sku, 10).await.unwrap();
    assert_eq!((first.expired_units, first.expired.len()), (20, 10));
    assert_eq!(
        t.engine.product(&sku).await.unwrap().stock.version,
        version_before + 1,
        "one sweep call is one change"
    );
    let second = t.engine.sweep_product(&sku, 10).await.unwrap();
    let third = t.engine.sweep_product(&sku, 10).await.unwrap();
    assert_eq!((second.expired_units, third.expired_units), (20, 10));
    assert_eq!(third.next_deadline_ms, Some(late.hold.expires_at_ms));

    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held), (99, 1));
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}

#[tokio::test]
async fn concurrent_sweepers_never_return_a_unit_twice() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 600, |p| p.hold_seconds = 1).await;
    for i in 0..300 {
        t.reserved(&sku, &format!("c{i}"), 2, &format!("r{i}"))
            .await;
    }
    t.advance(Duration::from_secs(1));
    let sweepers: Vec<_> = (0..3)
        .map(|_| {
            let engine = t.engine.clone();
            let sku = sku.clone();
            tokio::spawn(async move {
                let mut units = 0;
                loop {
                    let swept = engine.sweep_product(&sku, 7).await.unwrap();
                    units += swept.expired_units;
                    if swept.next_deadline_ms.is_none() {
                        return units;
                    }
                }
            })
        })
        .collect();
    let mut returned = 0;
    for sweeper in sweepers {
        returned += sweeper.await.unwrap();
    }
    assert_eq!(returned, 600);
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held), (600, 0));
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}

#[tokio::test]
async fn the_audit_reports_drift_it_did_not_cause() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    t.reserved(&sku, "ann", 2, "r1").await;
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());

    // Someone writes to the product behind the engine's back.
    let mut conn = t.raw_connection().await;
    let keys = reservation_core::keys::ProductKeys::new(&sku);
    let _: i64 = redis::cmd("HINCRBY")
        .arg(&keys.product)
        .arg("available")
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    let report = t.engine.audit(&sku).await.unwrap();
    assert!(!report.is_clean());
    assert_eq!(
        report.problems(),
        ["available 9 + held 2 + sold 0 != total 10"]
    );
}

#[tokio::test]
async fn the_audit_reports_a_request_id_that_made_two_live_holds() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let first = t.reserved(&sku, "ann", 1, "r1").await;
    let report = t.engine.audit(&sku).await.unwrap();
    assert_eq!((report.holds, report.repeated_request_holds), (1, 0));

    // A copy of the hold under another key, as a broken dedupe would leave.
    let record = t.live_record(&first.hold.id).await;
    t.put_live_record(&sku, "COPY", &record).await;
    let report = t.engine.audit(&sku).await.unwrap();
    assert_eq!((report.live_holds, report.repeated_request_holds), (2, 1));
    assert!(
        report
            .problems()
            .contains(&"1 live holds were made by a request_id another live hold has".to_owned()),
        "{:?}",
        report.problems()
    );
}
