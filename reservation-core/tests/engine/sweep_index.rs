//! The sweep index lists each product with live holds at its earliest
//! deadline (or at its next expiry notice, when that comes first), so
//! sweepers read only what is due; it is never later than that, whatever
//! races with a sweep. Holds here are no longer than the notice's lead, so
//! they get no notice (`notices.rs` specifies those).

use std::time::Duration;

use reservation_core::Sku;
use reservation_core::keys::PartitionKeys;
use reservation_core::testing::TestEngine;

/// An engine with one product of ten units whose holds last
/// `hold_seconds`, and the sweep partition the product is listed in.
async fn listed_product(hold_seconds: u32) -> (TestEngine, Sku, PartitionKeys) {
    let t = TestEngine::start().await;
    let sku = t
        .product_with("TEE", 10, |p| p.hold_seconds = hold_seconds)
        .await;
    let partition = t.engine.config().partitions.of_product(&sku);
    (t, sku, partition)
}

/// The products a sweeper reading `partition`'s index at `at_ms` finds due,
/// with the deadlines they are listed at.
async fn due_at(t: &TestEngine, partition: &PartitionKeys, at_ms: i64) -> Vec<(Sku, i64)> {
    t.engine.due_products(partition, at_ms, 10).await.unwrap()
}

/// Writes a sweep's next deadline back into the index, as a sweeper does
/// after each step.
async fn relist(
    t: &TestEngine,
    partition: &PartitionKeys,
    sku: &Sku,
    next_deadline_ms: Option<i64>,
) {
    t.engine
        .relist_swept(partition, &[(sku.clone(), next_deadline_ms)])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_product_is_listed_at_its_earliest_deadline_until_it_has_no_live_holds() {
    let (t, sku, partition) = listed_product(20).await;
    let start = t.engine.now_ms();
    let first = t.reserved(&sku, "ann", 1, "r1").await;
    t.advance(Duration::from_secs(5));
    t.reserved(&sku, "bob", 1, "r2").await;
    assert!(due_at(&t, &partition, start + 19_999).await.is_empty());
    assert_eq!(
        due_at(&t, &partition, start + 20_000).await,
        [(sku.clone(), first.hold.expires_at_ms)]
    );

    // Swept at the first deadline, it is listed at the second.
    t.advance(Duration::from_secs(15));
    let swept = t.engine.sweep_product(&sku, 10).await.unwrap();
    assert_eq!(swept.expired, [first.hold.id]);
    relist(&t, &partition, &sku, swept.next_deadline_ms).await;
    assert_eq!(swept.next_deadline_ms, Some(start + 25_000));
    assert!(due_at(&t, &partition, start + 24_999).await.is_empty());

    t.advance(Duration::from_secs(5));
    let swept = t.engine.sweep_product(&sku, 10).await.unwrap();
    relist(&t, &partition, &sku, swept.next_deadline_ms).await;
    assert_eq!(swept.next_deadline_ms, None);
    assert!(t.engine.indexed_products().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_confirmed_hold_lists_its_product_by_its_purchase_deadline() {
    // A hold that lasts longer than a purchase may take.
    let (t, sku, partition) = listed_product(3_600).await;
    let r = t.reserved(&sku, "ann", 1, "r1").await;
    let confirmed = t.engine.confirm(&r.hold.id, None).await.unwrap();
    let deadline = confirmed.hold.purchase_deadline_ms.unwrap();
    assert!(deadline < r.hold.expires_at_ms);
    assert_eq!(
        due_at(&t, &partition, deadline).await,
        [(sku.clone(), deadline)]
    );
}

#[tokio::test]
async fn a_reserve_that_races_a_sweep_keeps_its_product_listed() {
    let (t, sku, partition) = listed_product(20).await;
    t.reserved(&sku, "ann", 1, "r1").await;
    t.advance(Duration::from_secs(20));
    // The sweep finds nothing left; before it writes that down, a reserve
    // lists the product with a new hold.
    let swept = t.engine.sweep_product(&sku, 10).await.unwrap();
    assert_eq!(swept.next_deadline_ms, None);
    let late = t.reserved(&sku, "bob", 1, "r2").await;
    relist(&t, &partition, &sku, swept.next_deadline_ms).await;
    assert_eq!(
        due_at(&t, &partition, late.hold.expires_at_ms).await,
        [(sku, late.hold.expires_at_ms)]
    );
}

#[tokio::test]
async fn the_catalog_check_lists_a_product_whose_listing_was_lost() {
    let (t, sku, partition) = listed_product(20).await;
    let r = t.reserved(&sku, "ann", 1, "r1").await;
    // As a process that died between its reserve and the listing leaves it.
    let mut conn = t.raw_connection().await;
    let _: i64 = redis::cmd("ZREM")
        .arg(&partition.sweep_index)
        .arg(sku.as_str())
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(t.engine.reindex_catalog().await.unwrap(), 1);
    assert_eq!(
        due_at(&t, &partition, r.hold.expires_at_ms).await,
        [(sku, r.hold.expires_at_ms)]
    );
    assert_eq!(t.engine.reindex_catalog().await.unwrap(), 0);
}
