//! What the shop was last told of a product's availability is recorded
//! compare-and-set: of two workers that told the shop of the same change,
//! one records it and the other finds the record moved on.

use reservation_core::Announced;
use reservation_core::testing::TestEngine;

#[tokio::test]
async fn a_change_told_is_recorded_once_and_a_stale_record_is_refused() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    assert_eq!(t.engine.announced(&sku).await.unwrap(), None);

    assert!(
        t.engine
            .record_announced(&sku, None, true, false)
            .await
            .unwrap()
    );
    let seen = t.engine.announced(&sku).await.unwrap();
    assert_eq!(
        seen,
        Some(Announced {
            in_stock: true,
            changes: 0
        }),
        "the first state seen is recorded, as no change"
    );

    assert!(
        t.engine
            .record_announced(&sku, seen, false, true)
            .await
            .unwrap()
    );
    assert!(
        !t.engine
            .record_announced(&sku, seen, false, true)
            .await
            .unwrap(),
        "the second worker's record is stale"
    );
    assert_eq!(
        t.engine.announced(&sku).await.unwrap(),
        Some(Announced {
            in_stock: false,
            changes: 1
        })
    );
}
