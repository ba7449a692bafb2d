//! Push rounds: a sale opening or a return to stock starts one round per
//! notice, compare-and-set; a round's batches cover every interest of the
//! product, however many; moving a round on is compare-and-set too. The
//! planner's sightings of availability start "back in stock" rounds on the
//! way from none to some only.

use std::collections::HashSet;

use reservation_core::testing::{TestEngine, customer_of, push_subscription_n};
use reservation_core::{Engine, Error, PushKind, PushRoundBatch, PushTopics, Sku};

const SALE_START: i64 = 1_700_000_600_000;

fn wants(kind: PushKind) -> PushTopics {
    PushTopics {
        sale_opens: kind == PushKind::SaleOpens,
        back_in_stock: kind == PushKind::BackInStock,
        hold_expiring: kind == PushKind::HoldExpiring,
    }
}

/// `count` shoppers `PREFIX-N`, each interested in `sku` for `topics`.
async fn interested(t: &TestEngine, sku: &Sku, prefix: &str, count: usize, topics: PushTopics) {
    for n in 0..count {
        let customer = customer_of(&format!("{prefix}-{n}"));
        t.engine
            .subscribe_push(&customer, sku, &push_subscription_n(n), topics, 20)
            .await
            .unwrap();
    }
}

/// Walks the round of `kind` to its end the way a planner does, a batch
/// at a time; returns the batches.
async fn walk(engine: &Engine, sku: &Sku, kind: PushKind, count: u32) -> Vec<PushRoundBatch> {
    let mut batches = Vec::new();
    while let Some(batch) = engine.push_round_batch(sku, kind, count).await.unwrap() {
        assert!(engine.advance_push_round(&batch).await.unwrap());
        batches.push(batch);
        assert!(batches.len() < 10_000, "the round never ends");
    }
    batches
}

fn customers(batches: &[PushRoundBatch]) -> HashSet<String> {
    batches
        .iter()
        .flat_map(|batch| &batch.interests)
        .map(|interest| interest.customer.to_string())
        .collect()
}

#[tokio::test]
async fn a_round_starts_once_per_notice_and_a_later_notice_starts_a_new_one() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    interested(&t, &sku, "fan", 3, wants(PushKind::SaleOpens)).await;
    let e = &t.engine;
    assert_eq!(
        e.push_round_batch(&sku, PushKind::SaleOpens, 10)
            .await
            .unwrap(),
        None
    );

    assert!(
        e.start_push_round(&sku, PushKind::SaleOpens, SALE_START)
            .await
            .unwrap()
    );
    assert!(
        !e.start_push_round(&sku, PushKind::SaleOpens, SALE_START)
            .await
            .unwrap(),
        "a second planner seeing the same opening starts nothing"
    );
    assert!(
        !e.start_push_round(&sku, PushKind::SaleOpens, SALE_START - 1)
            .await
            .unwrap(),
        "nor does an earlier notice"
    );
    let batches = walk(e, &sku, PushKind::SaleOpens, 10).await;
    assert_eq!(batches[0].notice, SALE_START);
    assert_eq!(batches[0].from_cursor, "0");
    assert!(batches.last().unwrap().is_last());
    assert_eq!(customers(&batches).len(), 3);
    assert!(
        !e.start_push_round(&sku, PushKind::SaleOpens, SALE_START)
            .await
            .unwrap(),
        "a round that is over is not started again"
    );

    // The sale moved later: its new start is a new notice.
    let moved = SALE_START + 3_600_000;
    assert!(
        e.start_push_round(&sku, PushKind::SaleOpens, moved)
            .await
            .unwrap()
    );
    let batches = walk(e, &sku, PushKind::SaleOpens, 10).await;
    assert_eq!(batches[0].notice, moved);
    assert_eq!(customers(&batches).len(), 3);

    // Each kind has a round of its own; hold notices have none.
    assert_eq!(
        e.push_round_batch(&sku, PushKind::BackInStock, 10)
            .await
            .unwrap(),
        None
    );
    let err = e
        .start_push_round(&sku, PushKind::HoldExpiring, SALE_START)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { field: "kind", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_batches_of_a_round_cover_every_interest_of_a_1000_interest_product() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    interested(&t, &sku, "fan", 1_000, wants(PushKind::SaleOpens)).await;
    interested(&t, &sku, "restock-only", 50, wants(PushKind::BackInStock)).await;

    assert!(
        t.engine
            .start_push_round(&sku, PushKind::SaleOpens, SALE_START)
            .await
            .unwrap()
    );
    let batches = walk(&t.engine, &sku, PushKind::SaleOpens, 100).await;
    assert!(batches.len() >= 5, "{} batches: not batched", batches.len());
    let largest = batches.iter().map(|b| b.interests.len()).max().unwrap();
    assert!(largest <= 400, "a batch of {largest} for 100 asked");
    let expected: HashSet<String> = (0..1_000).map(|n| format!("fan-{n}")).collect();
    assert_eq!(
        customers(&batches),
        expected,
        "every interest that asked, and only those"
    );
    for pair in batches.windows(2) {
        assert_eq!(pair[0].to_cursor, pair[1].from_cursor, "batches follow on");
    }
    assert!(
        batches
            .iter()
            .all(|b| b.notice == SALE_START && b.kind == PushKind::SaleOpens)
    );
}

#[tokio::test]
async fn moving_a_round_on_is_compare_and_set() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    interested(&t, &sku, "fan", 300, wants(PushKind::BackInStock)).await;
    let e = &t.engine;
    assert!(
        e.start_push_round(&sku, PushKind::BackInStock, SALE_START)
            .await
            .unwrap()
    );

    // Two planners read the same batch: one moves the round on.
    let first = e
        .push_round_batch(&sku, PushKind::BackInStock, 50)
        .await
        .unwrap()
        .unwrap();
    let again = e
        .push_round_batch(&sku, PushKind::BackInStock, 50)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, again, "reading a batch does not move the round");
    assert!(e.advance_push_round(&first).await.unwrap());
    assert!(
        !e.advance_push_round(&again).await.unwrap(),
        "the round moved on"
    );
    let next = e
        .push_round_batch(&sku, PushKind::BackInStock, 50)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.from_cursor, first.to_cursor);

    // A new round meanwhile: a batch of the old one moves nothing.
    assert!(
        e.start_push_round(&sku, PushKind::BackInStock, SALE_START + 1)
            .await
            .unwrap()
    );
    assert!(!e.advance_push_round(&next).await.unwrap());
    let restarted = e
        .push_round_batch(&sku, PushKind::BackInStock, 50)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (restarted.notice, restarted.from_cursor.as_str()),
        (SALE_START + 1, "0")
    );
    assert_eq!(
        customers(&walk(e, &sku, PushKind::BackInStock, 50).await).len(),
        300
    );
}

#[tokio::test]
async fn stock_coming_back_starts_a_back_in_stock_round_and_nothing_else_does() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    interested(&t, &sku, "fan", 2, wants(PushKind::BackInStock)).await;
    let e = &t.engine;
    let now = e.now_ms();

    assert_eq!(
        e.observe_push_availability(&sku, 0, now).await.unwrap(),
        None,
        "the first sighting is recorded silently"
    );
    assert_eq!(
        e.observe_push_availability(&sku, 0, now + 1).await.unwrap(),
        None
    );
    assert_eq!(
        e.push_round_batch(&sku, PushKind::BackInStock, 10)
            .await
            .unwrap(),
        None
    );

    assert_eq!(
        e.observe_push_availability(&sku, 4, now + 2).await.unwrap(),
        Some(now + 2),
        "none to some"
    );
    assert_eq!(
        e.observe_push_availability(&sku, 4, now + 3).await.unwrap(),
        None,
        "some to some"
    );
    assert_eq!(
        e.observe_push_availability(&sku, 7, now + 4).await.unwrap(),
        None
    );
    let batches = walk(e, &sku, PushKind::BackInStock, 10).await;
    assert_eq!(batches[0].notice, now + 2);
    assert_eq!(customers(&batches).len(), 2);

    assert_eq!(
        e.observe_push_availability(&sku, 0, now + 5).await.unwrap(),
        None
    );
    assert_eq!(
        e.observe_push_availability(&sku, 1, now + 6).await.unwrap(),
        Some(now + 6),
        "sold out and back again is a new round"
    );
    assert_eq!(
        e.observe_push_availability(&sku, 0, now + 7).await.unwrap(),
        None
    );
    assert_eq!(
        e.observe_push_availability(&sku, 1, now + 6).await.unwrap(),
        Some(now + 7),
        "a notice never goes back, even on a clock behind"
    );

    let other = t.product("MUG", 5).await;
    assert_eq!(
        e.observe_push_availability(&other, 5, now).await.unwrap(),
        None,
        "a product first seen in stock was never seen sold out"
    );
}
