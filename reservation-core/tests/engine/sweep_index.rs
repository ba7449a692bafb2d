//! The sweep index lists each product with live holds at its earliest
//! deadline (or at its next expiry notice, when that comes first), so
//! sweepers read only what is due; it is never later than that, whatever
//! races with a sweep. Holds here are no longer than the notice's lead, so
//! they get no notice (`notices.rs` specifies those).

use std::time::Duration;

use reservation_core::testing::{TestEngine, reserve};

#[tokio::test]
async fn a_product_is_listed_at_its_earliest_deadline_until_it_has_no_live_holds() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 10, |p| p.hold_seconds = 20).await;
    let partition = t.engine.config().partitions.of_product(&sku);
    let start = t.engine.now_ms();
    let first = t
        .engine
        .reserve(&reserve(&sku, "ann", 1, "r1"))
        .await
        .unwrap();
    t.advance(Duration::from_secs(5));
    t.engine
        .reserve(&reserve(&sku, "bob", 1, "r2"))
        .await
        .unwrap();
    assert!(
        t.engine
            .due_products(&partition, start + 19_999, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        t.engine
            .due_products(&partition, start + 20_000, 10)
            .await
            .unwrap(),
        [(sku.clone(), first.hold.expires_at_ms)]
    );

    // Swept at the first deadline, it is listed at the second.
    t.advance(Duration::from_secs(15));
    let swept = t.engine.sweep_product(&sku, 10).await.unwrap();
    assert_eq!(swept.expired, [first.hold.id]);
    t.engine
        .relist_swept(&partition, &[(sku.clone(), swept.next_deadline_ms)])
        .await
        .unwrap();
    assert_eq!(swept.next_deadline_ms, Some(start + 25_000));
    assert!(
        t.engine
            .due_products(&partition, start + 24_999, 10)
            .await
            .unwrap()
            .is_empty()
    );

    t.advance(Duration::from_secs(5));
    let swept = t.engine.sweep_product(&sku, 10).await.unwrap();
    t.engine
        .relist_swept(&partition, &[(sku.clone(), swept.next_deadline_ms)])
        .await
        .unwrap();
    assert_eq!(swept.next_deadline_ms, None);
    assert!(t.engine.indexed_products().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_confirmed_hold_lists_its_product_by_its_purchase_deadline() {
    let t = TestEngine::start().await;
    // A hold that lasts longer than a purchase may take.
    let sku = t.product_with("TEE", 10, |p| p.hold_seconds = 3_600).await;
    let partition = t.engine.config().partitions.of_product(&sku);
    let r = t
        .engine
        .reserve(&reserve(&sku, "ann", 1, "r1"))
        .await
        .unwrap();
    let confirmed = t.engine.confirm(&r.hold.id, None).await.unwrap();
    let deadline = confirmed.hold.purchase_deadline_ms.unwrap();
    assert!(deadline < r.hold.expires_at_ms);
    assert_eq!(
        t.engine
            .due_products(&partition, deadline, 10)
            .await
            .unwrap(),
        [(sku.clone(), deadline)]
    );
}

#[tokio::test]
async fn a_reserve_that_races_a_sweep_keeps_its_product_listed() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 10, |p| p.hold_seconds = 20).await;
    let partition = t.engine.config().partitions.of_product(&sku);
    t.engine
        .reserve(&reserve(&sku, "ann", 1, "r1"))
        .await
        .unwrap();
    t.advance(Duration::from_secs(20));
    // The sweep finds nothing left; before it writes that down, a reserve
    // lists the product with a new hold.
    let swept = t.engine.sweep_product(&sku, 10).await.unwrap();
    assert_eq!(swept.next_deadline_ms, None);
    let late = t
        .engine
        .reserve(&reserve(&sku, "bob", 1, "r2"))
        .await
        .unwrap();
    t.engine
        .relist_swept(&partition, &[(sku.clone(), swept.next_deadline_ms)])
        .await
        .unwrap();
    assert_eq!(
        t.engine
            .due_products(&partition, late.hold.expires_at_ms, 10)
            .await
            .unwrap(),
        [(sku, late.hold.expires_at_ms)]
    );
}

#[tokio::test]
async fn the_catalog_check_lists_a_product_whose_listing_was_lost() {
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 10, |p| p.hold_seconds = 20).await;
    let partition = t.engine.config().partitions.of_product(&sku);
    let r = t
        .engine
        .reserve(&reserve(&sku, "ann", 1, "r1"))
        .await
        .unwrap();
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
        t.engine
            .due_products(&partition, r.hold.expires_at_ms, 10)
            .await
            .unwrap(),
        [(sku, r.hold.expires_at_ms)]
    );
    assert_eq!(t.engine.reindex_catalog().await.unwrap(), 0);
}
