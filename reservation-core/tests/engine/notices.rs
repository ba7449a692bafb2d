//! "Your hold expires soon": a HELD hold's owner gets one `hold` event,
//! still HELD and marked `expiring`, the engine's notice lead before the
//! deadline; the sweep index brings a sweeper to the product at that moment.

use std::time::Duration;

use reservation_core::testing::{TestEngine, drain, reserve};
use reservation_core::{HoldEvent, HoldState, Sku};

fn events(raw: Vec<Vec<u8>>) -> Vec<HoldEvent> {
    raw.iter()
        .map(|event| HoldEvent::from_json(event).unwrap())
        .collect()
}

/// Sweeps `sku` the way a sweeper does when the index says it is due:
/// step after step while more is due. Returns the notices sent.
async fn sweep(t: &TestEngine, sku: &Sku) -> usize {
    let mut notices = 0;
    loop {
        let swept = t.engine.sweep_product(sku, 64).await.unwrap();
        notices += swept.notices.len();
        if !swept.more_due(t.engine.now_ms()) {
            return notices;
        }
    }
}

fn lead(t: &TestEngine) -> Duration {
    t.engine.config().expiry_notice
}

#[tokio::test]
async fn a_held_hold_gets_one_notice_its_lead_before_the_deadline() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 10, |p| p.hold_seconds = 120).await;
    let partition = t.engine.config().partitions.of_product(&sku);
    let mut ann = t.listen_holds("ann").await;
    let held = t.reserved(&sku, "ann", 2, "r1").await.hold;
    drain(&mut ann).await;
    let notice_at = held.expires_at_ms - lead(&t).as_millis() as i64;
    assert_eq!(
        t.engine
            .due_products(&partition, t.engine.now_ms() + 200_000, 10)
            .await
            .unwrap(),
        [(sku.clone(), notice_at)],
        "listed for its notice, before its deadline"
    );

    t.advance(Duration::from_millis(
        (notice_at - t.engine.now_ms()) as u64 - 1,
    ));
    assert_eq!(sweep(&t, &sku).await, 0, "not yet");
    t.advance(Duration::from_millis(1));
    assert_eq!(sweep(&t, &sku).await, 1);
    let notice = events(drain(&mut ann).await);
    assert_eq!(notice.len(), 1);
    let notice = &notice[0];
    assert!(notice.expiring);
    assert_eq!(
        (
            &notice.reservation_id,
            notice.state,
            notice.quantity,
            notice.expires_at_ms,
            notice.at_ms
        ),
        (
            &held.id,
            HoldState::Held,
            2,
            held.expires_at_ms,
            t.engine.now_ms()
        )
    );
    let swept = t.engine.sweep_product(&sku, 64).await.unwrap();
    assert_eq!(
        (swept.notices.len(), swept.next_deadline_ms),
        (0, Some(held.expires_at_ms)),
        "one notice per hold; next, its deadline"
    );

    t.advance(lead(&t));
    sweep(&t, &sku).await;
    let expired = events(drain(&mut ann).await);
    assert_eq!(
        expired
            .iter()
            .map(|e| (e.state, e.expiring))
            .collect::<Vec<_>>(),
        [(HoldState::Expired, false)]
    );
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}

#[tokio::test]
async fn holds_confirmed_cancelled_or_too_short_for_the_lead_get_no_notice() {
    let t = TestEngine::start().await;
    let long = t.product_with("TEE", 10, |p| p.hold_seconds = 120).await;
    let short = t.product_with("MUG", 10, |p| p.hold_seconds = 20).await;
    let mut ann = t.listen_holds("ann").await;
    let confirmed = t.engine.reserve(&reserve(&long, "ann", 1, "r1")).await;
    let cancelled = t.engine.reserve(&reserve(&long, "ann", 1, "r2")).await;
    t.engine
        .confirm(&confirmed.unwrap().hold.id, None)
        .await
        .unwrap();
    t.engine
        .cancel(&cancelled.unwrap().hold.id, None)
        .await
        .unwrap();
    t.reserved(&short, "ann", 1, "r3").await;
    drain(&mut ann).await;

    t.advance(Duration::from_secs(100));
    assert_eq!(sweep(&t, &long).await + sweep(&t, &short).await, 0);
    let sent = events(drain(&mut ann).await);
    assert!(sent.iter().all(|e| !e.expiring), "{sent:?}");
}

#[tokio::test]
async fn every_hold_of_many_calls_due_at_once_gets_exactly_one_notice() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 100, |p| p.hold_seconds = 120).await;
    let mut ann = t.listen_holds("ann").await;
    // Forty calls, a millisecond apart: more due entries than one step
    // takes, some sharing a deadline.
    for i in 0..40 {
        t.reserved(&sku, "ann", 1, &format!("r{i}")).await;
        if i % 3 != 0 {
            t.advance(Duration::from_millis(1));
        }
    }
    drain(&mut ann).await;
    t.advance(Duration::from_secs(95));

    assert_eq!(sweep(&t, &sku).await, 40);
    let sent = events(drain(&mut ann).await);
    let mut noticed: Vec<_> = sent.iter().map(|e| e.reservation_id.clone()).collect();
    noticed.sort();
    noticed.dedup();
    assert_eq!((sent.len(), noticed.len()), (40, 40));
    assert_eq!(sweep(&t, &sku).await, 0);
}
