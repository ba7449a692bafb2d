use std::time::Duration;

use reservation_core::testing::{TestEngine, drain, reserve};
use reservation_core::{HoldEvent, HoldState, StockEvent};

fn stock_events(raw: Vec<Vec<u8>>) -> Vec<StockEvent> {
    raw.iter()
        .map(|m| StockEvent::from_json(m).unwrap())
        .collect()
}

#[tokio::test]
async fn every_change_publishes_one_stock_event_with_the_next_version() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 10, |p| p.hold_seconds = 30).await;
    let mut events = t.listen_stock(&sku).await;

    let a = t.reserved(&sku, "ann", 2, "r1").await.hold.id;
    let b = t.reserved(&sku, "bob", 1, "r2").await.hold.id;
    t.engine.cancel(&b, None).await.unwrap();
    t.engine.confirm(&a, None).await.unwrap(); // stock unchanged: no event
    t.engine.finalize_purchase(&a).await.unwrap();
    t.engine.restock(&sku, 5).await.unwrap();
    t.reserved(&sku, "cyd", 1, "r3").await;
    t.advance(Duration::from_secs(30));
    t.engine.sweep_product(&sku, 10).await.unwrap();
    // Refused and repeated calls change nothing and publish nothing.
    t.engine.reserve(&reserve(&sku, "dan", 99, "r4")).await.ok();
    t.engine.cancel(&b, None).await.unwrap();

    let events = stock_events(drain(&mut events).await);
    let counts: Vec<_> = events
        .iter()
        .map(|e| (e.version, e.available, e.held, e.sold, e.total))
        .collect();
    assert_eq!(
        counts,
        [
            (2, 8, 2, 0, 10),
            (3, 7, 3, 0, 10),
            (4, 8, 2, 0, 10),
            (5, 8, 0, 2, 10),
            (6, 13, 0, 2, 15),
            (7, 12, 1, 2, 15),
            (8, 13, 0, 2, 15),
        ]
    );
    assert!(events.iter().all(|e| e.sku == sku));
    assert_eq!(events.last().unwrap().at_ms, t.engine.now_ms());
    let stored = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!(
        &stored,
        events.last().unwrap(),
        "the snapshot is the last event"
    );
}

#[tokio::test]
async fn a_customer_hears_of_every_state_their_holds_take() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 10, |p| p.hold_seconds = 30).await;
    let mut ann = t.listen_holds("ann").await;
    let mut bob = t.listen_holds("bob").await;

    let bought = t.reserved(&sku, "ann", 1, "r1").await.hold.id;
    t.engine.confirm(&bought, None).await.unwrap();
    t.engine.finalize_purchase(&bought).await.unwrap();
    let cancelled = t.reserved(&sku, "ann", 1, "r2").await.hold.id;
    t.engine.cancel(&cancelled, None).await.unwrap();
    let released = t.reserved(&sku, "ann", 1, "r3").await.hold.id;
    t.engine.confirm(&released, None).await.unwrap();
    t.engine.release(&released).await.unwrap();
    let expired = t.reserved(&sku, "ann", 1, "r4").await.hold.id;
    t.advance(Duration::from_secs(30));
    t.engine.sweep_product(&sku, 10).await.unwrap();

    let events: Vec<(String, HoldState)> = drain(&mut ann)
        .await
        .iter()
        .map(|m| HoldEvent::from_json(m).unwrap())
        .map(|e| (e.reservation_id.to_string(), e.state))
        .collect();
    use HoldState::*;
    let expected: Vec<(String, HoldState)> = [
        (&bought, Held),
        (&bought, Confirmed),
        (&bought, Purchased),
        (&cancelled, Held),
        (&cancelled, Cancelled),
        (&released, Held),
        (&released, Confirmed),
        (&released, Released),
        (&expired, Held),
        (&expired, Expired),
    ]
    .into_iter()
    .map(|(id, state)| (id.to_string(), state))
    .collect();
    assert_eq!(events, expected);
    assert!(
        drain(&mut bob).await.is_empty(),
        "bob hears nothing of ann's holds"
    );
}
