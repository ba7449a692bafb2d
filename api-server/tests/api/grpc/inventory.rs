//! `InventoryService`: products created, changed, restocked, read, listed
//! and audited, and each of its refusals with its code and reason.

use api_server::testing::TestServer;
use flashsale_proto::v1 as pb;
use tonic::Code;

use super::{create, reserve};
use crate::{bad_fields, reason};

#[tokio::test]
async fn products_are_created_changed_restocked_read_and_listed() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;

    let created = inventory
        .create_product(create("TEE", 10))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            created.sku.as_str(),
            created.total,
            created.available,
            created.version
        ),
        ("TEE", 10, 10, 1)
    );
    assert_eq!(created.hold_seconds, 600, "the default hold");

    let updated = inventory
        .update_product(pb::UpdateProductRequest {
            sku: "TEE".into(),
            name: Some("Blue tee".into()),
            per_customer_limit: Some(2),
            sale_ends_at: Some(prost_types::Timestamp {
                seconds: 4_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (
            updated.name.as_str(),
            updated.per_customer_limit,
            updated.version
        ),
        ("Blue tee", 2, 2)
    );
    assert_eq!(updated.sale_ends_at.unwrap().seconds, 4_000_000_000);

    let restocked = inventory
        .restock(pb::RestockRequest {
            sku: "TEE".into(),
            delta: 5,
            request_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!((restocked.total, restocked.available), (15, 15));

    let read = inventory
        .get_product(pb::GetProductRequest { sku: "TEE".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read, restocked);

    for sku in ["A", "B", "C"] {
        inventory.create_product(create(sku, 1)).await.unwrap();
    }
    let first = inventory
        .list_products(pb::ListProductsRequest {
            page_size: 3,
            page_token: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let skus: Vec<_> = first.products.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(skus, ["A", "B", "C"]);
    let rest = inventory
        .list_products(pb::ListProductsRequest {
            page_size: 3,
            page_token: first.next_page_token,
        })
        .await
        .unwrap()
        .into_inner();
    let skus: Vec<_> = rest.products.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(skus, ["TEE"]);
    assert_eq!(rest.next_page_token, "");
}

#[tokio::test]
async fn inventory_refusals_carry_their_reason() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    inventory.create_product(create("TEE", 3)).await.unwrap();

    let exists = inventory
        .create_product(create("TEE", 3))
        .await
        .unwrap_err();
    assert_eq!(
        (exists.code(), reason(&exists).as_str()),
        (Code::AlreadyExists, "PRODUCT_EXISTS")
    );

    let missing = inventory
        .get_product(pb::GetProductRequest { sku: "NOPE".into() })
        .await
        .unwrap_err();
    assert_eq!(
        (missing.code(), reason(&missing).as_str()),
        (Code::NotFound, "NOT_FOUND")
    );

    let too_many = inventory
        .restock(pb::RestockRequest {
            sku: "TEE".into(),
            delta: -4,
            request_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (too_many.code(), reason(&too_many).as_str()),
        (Code::FailedPrecondition, "OUT_OF_STOCK")
    );

    let braced = inventory
        .create_product(create("{TEE}", 3))
        .await
        .unwrap_err();
    assert_eq!(braced.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&braced), ["sku"]);

    let both = inventory
        .update_product(pb::UpdateProductRequest {
            sku: "TEE".into(),
            sale_ends_at: Some(prost_types::Timestamp {
                seconds: 4_000_000_000,
                nanos: 0,
            }),
            clear_sale_ends_at: true,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(bad_fields(&both), ["sale_ends_at"]);

    let nothing = inventory
        .update_product(pb::UpdateProductRequest {
            sku: "TEE".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(nothing.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn an_audit_recounts_the_books_and_names_any_drift() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    let mut reservations = s.reservations().await;
    inventory.create_product(create("TEE", 10)).await.unwrap();
    reservations
        .reserve(reserve("TEE", "ann", 2, "r1"))
        .await
        .unwrap();
    let audit = |mut inventory: pb::inventory_service_client::InventoryServiceClient<_>| async move {
        inventory
            .audit_product(pb::AuditProductRequest { sku: "TEE".into() })
            .await
            .unwrap()
            .into_inner()
    };

    let clean = audit(inventory.clone()).await;
    assert_eq!(
        (clean.total, clean.available, clean.held, clean.holds),
        (10, 8, 2, 1)
    );
    assert_eq!(clean.units_in_active_holds, 2);
    assert!(clean.problems.is_empty(), "{:?}", clean.problems);

    // Someone writes to the product behind the engine's back.
    let mut conn = s.t.raw_connection().await;
    let keys = reservation_core::keys::ProductKeys::new(&reservation_core::testing::sku_of("TEE"));
    let _: i64 = redis::cmd("HINCRBY")
        .arg(&keys.product)
        .arg("available")
        .arg(5)
        .query_async(&mut conn)
        .await
        .unwrap();
    let drifted = audit(inventory.clone()).await;
    assert_eq!(
        drifted.problems,
        ["available 13 + held 2 + sold 0 != total 10"]
    );

    let missing = inventory
        .audit_product(pb::AuditProductRequest { sku: "NOPE".into() })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}
