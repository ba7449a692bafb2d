//! Push rounds: a sale opening or a return to stock starts one round per
//! notice, compare-and-set, and its batches cover every interest of the
//! product (`walking.rs`); the planner's sightings of availability start
//! "back in stock" rounds (`availability.rs`). This file holds what both
//! share.

mod availability;
mod walking;

use std::collections::HashSet;
use std::time::Duration;

use reservation_core::keys::PushProductKeys;
use reservation_core::testing::{TestEngine, customer_of, push_subscription_n};
use reservation_core::{Engine, Error, PushKind, PushRoundBatch, PushTopics, Sku};

pub(super) const SALE_START: i64 = 1_700_000_600_000;
pub(super) const NO_QUIET: Duration = Duration::ZERO;
pub(super) const QUIET: Duration = Duration::from_secs(600);

pub(super) fn wants(kind: PushKind) -> PushTopics {
    PushTopics {
        sale_opens: kind == PushKind::SaleOpens,
        back_in_stock: kind == PushKind::BackInStock,
        hold_expiring: kind == PushKind::HoldExpiring,
    }
}

/// `count` shoppers `PREFIX-N`, each interested in `sku` for `topics`.
pub(super) async fn interested(
    t: &TestEngine,
    sku: &Sku,
    prefix: &str,
    count: usize,
    topics: PushTopics,
) {
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
pub(super) async fn walk(
    engine: &Engine,
    sku: &Sku,
    kind: PushKind,
    count: u32,
) -> Vec<PushRoundBatch> {
    let mut batches = Vec::new();
    while let Some(batch) = engine.push_round_batch(sku, kind, count).await.unwrap() {
        assert!(engine.advance_push_round(&batch).await.unwrap());
        batches.push(batch);
        assert!(batches.len() < 10_000, "the round never ends");
    }
    batches
}

/// A planner's sighting of `sku` with `available` units at `at`, with no
/// quiet period.
pub(super) async fn seen(e: &Engine, sku: &Sku, available: i64, at: i64) -> Option<i64> {
    e.observe_push_availability(sku, available, at, NO_QUIET)
        .await
        .unwrap()
}

/// Writes `pairs` into the hash `key` behind the engine's back.
pub(super) async fn written_behind(t: &TestEngine, key: &str, pairs: &[(&[u8], &[u8])]) {
    let mut conn = t.raw_connection().await;
    let mut hset = redis::cmd("HSET");
    hset.arg(key);
    for (field, value) in pairs {
        hset.arg(*field).arg(*value);
    }
    let _: i64 = hset.query_async(&mut conn).await.unwrap();
}

pub(super) fn customers(batches: &[PushRoundBatch]) -> HashSet<String> {
    batches
        .iter()
        .flat_map(|batch| &batch.interests)
        .map(|interest| interest.customer.to_string())
        .collect()
}
