//! What each endpoint was last told of a product's availability is recorded
//! compare-and-set: of two workers that told an endpoint of the same change,
//! one records it and the other finds the record moved on; a stale first
//! sighting cannot overwrite a change; and endpoints are recorded apart.

use reservation_core::Announced;
use reservation_core::testing::TestEngine;

const ERP: &str = "https://erp.example/hooks";
const BI: &str = "https://bi.example/hooks";

#[tokio::test]
async fn a_change_told_is_recorded_once_per_endpoint_and_a_stale_record_is_refused() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    assert_eq!(t.engine.announced(&sku, ERP).await.unwrap(), None);

    assert!(
        t.engine
            .record_announced(&sku, ERP, None, true, false)
            .await
            .unwrap()
    );
    let seen = t.engine.announced(&sku, ERP).await.unwrap();
    assert_eq!(
        seen,
        Some(Announced {
            in_stock: true,
            changes: 0
        }),
        "the first state seen is recorded, as no change"
    );
    assert!(
        !t.engine
            .record_announced(&sku, ERP, None, false, false)
            .await
            .unwrap(),
        "a stale first sighting does not overwrite the record"
    );

    assert!(
        t.engine
            .record_announced(&sku, ERP, seen, false, true)
            .await
            .unwrap()
    );
    assert!(
        !t.engine
            .record_announced(&sku, ERP, seen, false, true)
            .await
            .unwrap(),
        "the second worker's record is stale"
    );
    assert_eq!(
        t.engine.announced(&sku, ERP).await.unwrap(),
        Some(Announced {
            in_stock: false,
            changes: 1
        })
    );
    assert_eq!(
        t.engine.announced(&sku, BI).await.unwrap(),
        None,
        "another endpoint has a record of its own"
    );
}
