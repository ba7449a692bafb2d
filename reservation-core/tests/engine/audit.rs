//! The audit reads counters in one call and walks only the live holds, in
//! bounded steps: what it costs is set by the live holds, never by history.

use std::time::Duration;

use reservation_core::keys::{HoldKey, ProductKeys};
use reservation_core::testing::{CommandCalls, TestEngine, reserve};
use reservation_core::{AuditReport, Sku};

/// Makes `holds` holds of one unit on `sku`, 200 to a call.
async fn reserve_many(t: &TestEngine, sku: &Sku, holds: usize) {
    for first in (0..holds).step_by(200) {
        let requests: Vec<_> = (first..(first + 200).min(holds))
            .map(|n| reserve(sku, &format!("c{}", n % 5_000), 1, &format!("r{n}")))
            .collect();
        for answer in t.engine.reserve_many(&requests).await.unwrap() {
            answer.unwrap();
        }
    }
}

/// Expires every due hold of `sku`.
async fn sweep_all(t: &TestEngine, sku: &Sku) {
    while t
        .engine
        .sweep_product(sku, 2_000)
        .await
        .unwrap()
        .more_due(t.engine.now_ms())
    {}
}

/// The audit of `sku`, and the commands it took.
async fn audited(t: &TestEngine, sku: &Sku) -> (AuditReport, CommandCalls) {
    t.reset_stats(5_000).await;
    let report = t.engine.audit(sku).await.unwrap();
    (report, t.command_calls().await)
}

#[tokio::test]
async fn an_audit_costs_the_same_after_100000_ended_holds_as_after_ten() {
    let t = TestEngine::start().await;
    let long = t
        .product_with("LONG", 200_000, |p| p.hold_seconds = 1)
        .await;
    let short = t
        .product_with("SHORT", 200_000, |p| p.hold_seconds = 1)
        .await;
    reserve_many(&t, &long, 100_000).await;
    reserve_many(&t, &short, 10).await;
    t.advance(Duration::from_secs(1));
    sweep_all(&t, &long).await;
    sweep_all(&t, &short).await;

    // Once first, so the script is loaded before anything is counted.
    t.engine.audit(&short).await.unwrap();
    let (long_report, long_commands) = audited(&t, &long).await;
    let slow = t.slow_calls().await;
    let (short_report, short_commands) = audited(&t, &short).await;
    assert!(long_report.is_clean(), "{:?}", long_report.problems());
    assert!(short_report.is_clean(), "{:?}", short_report.problems());
    assert_eq!((long_report.expired, long_report.holds), (100_000, 100_000));
    assert_eq!(long_report.live_holds, 0);
    assert_eq!(
        long_commands, short_commands,
        "an audit's commands do not depend on the history"
    );
    assert!(
        slow.is_empty(),
        "calls over 5 ms during the audit: {slow:?}"
    );
}

#[tokio::test]
async fn an_audit_walks_live_holds_a_thousand_at_a_time() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10_000).await;
    reserve_many(&t, &sku, 2_500).await;
    t.reset_stats(5_000).await;
    let report = t.engine.audit(&sku).await.unwrap();
    let calls = t.command_calls().await;
    assert!(report.is_clean(), "{:?}", report.problems());
    assert_eq!(
        (report.live_holds, report.units_in_active_holds),
        (2_500, 2_500)
    );
    // 2,500 holds in steps of about a thousand: a few steps, never one call.
    assert!((3..=8).contains(&calls.of("hscan")), "{calls:?}");
    assert!(t.slow_calls().await.is_empty());
}

#[tokio::test]
async fn the_audit_finds_an_ended_hold_left_live_and_a_held_one_that_would_not_expire() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    let keys = ProductKeys::new(&sku);
    let kept = t.reserved(&sku, "ann", 1, "r1").await;
    let lost = t.reserved(&sku, "bob", 1, "r2").await;
    // Behind the engine's back: one hold marked ended in place, and the
    // other's due entry dropped.
    let record = t.live_record(&kept.hold.id).await;
    let key = HoldKey::of(&kept.hold.id).key;
    t.put_live_record(&sku, key, &record.replacen("HELD", "CANCELLED", 1))
        .await;
    let mut conn = t.raw_connection().await;
    let _: i64 = redis::cmd("ZREM")
        .arg(&keys.due)
        .arg(HoldKey::of(&lost.hold.id).key)
        .query_async(&mut conn)
        .await
        .unwrap();

    let report = t.engine.audit(&sku).await.unwrap();
    assert_eq!(report.ended_holds_in_live_set, 1);
    assert_eq!(report.held_holds_not_due_on_time, 1);
    let problems = report.problems();
    for expected in [
        "1 ended holds are still in the live set",
        "1 HELD holds have no due entry at their deadline",
        "held is 2 but live holds have 1 units",
    ] {
        assert!(
            problems.iter().any(|p| p == expected),
            "{expected:?} in {problems:?}"
        );
    }
}

#[tokio::test]
async fn a_live_hold_missing_from_its_customers_holders_entry_is_reported() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 10).await;
    for (customer, request) in [("ann", "r1"), ("ann", "r2"), ("bob", "r3")] {
        t.reserved(&sku, customer, 1, request).await;
    }
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());

    // As a script that ended a hold without taking it out would leave it:
    // ann's entry names one hold fewer than she has.
    let mut conn = t.raw_connection().await;
    let holders = ProductKeys::new(&sku).holders;
    let listed: String = redis::cmd("HGET")
        .arg(&holders)
        .arg("ann")
        .query_async(&mut conn)
        .await
        .unwrap();
    let first = listed.split(' ').next().unwrap().to_owned();
    let _: i64 = redis::cmd("HSET")
        .arg(&holders)
        .arg("ann")
        .arg(&first)
        .query_async(&mut conn)
        .await
        .unwrap();
    let report = t.engine.audit(&sku).await.unwrap();
    assert_eq!(
        (report.holders_index_drift, report.customers_misindexed),
        (-1, 1)
    );
    assert!(!report.is_clean());
}
