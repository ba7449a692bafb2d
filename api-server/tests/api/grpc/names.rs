//! Malformed SKUs and customer ids, on every RPC that takes them: refused
//! as `INVALID_ARGUMENT` naming their field, and nothing made or changed.

use api_server::testing::TestServer;
use flashsale_proto::v1 as pb;
use tonic::Code;

use super::{create, reserve};
use crate::bad_fields;

#[tokio::test]
async fn malformed_names_are_refused_naming_their_field_and_change_nothing() {
    let s = TestServer::start().await;
    let (mut inventory, mut reservations) = (s.inventory().await, s.reservations().await);
    inventory.create_product(create("TEE", 10)).await.unwrap();
    let long = "A".repeat(65);
    let bad_skus = [
        "",
        long.as_str(),
        "TÉE",
        "T E",
        "../etc",
        "T{E}",
        "TEE\0",
        "TEE~1",
    ];

    for sku in bad_skus {
        let refusals = [
            inventory.create_product(create(sku, 5)).await.unwrap_err(),
            inventory
                .get_product(pb::GetProductRequest { sku: sku.into() })
                .await
                .unwrap_err(),
            reservations
                .reserve(reserve(sku, "ann", 1, "r1"))
                .await
                .unwrap_err(),
            reservations
                .reserve_cart(crate::cart_request("ann", "c1", &[("TEE", 1), (sku, 1)]))
                .await
                .unwrap_err(),
        ];
        for status in refusals {
            assert_eq!(status.code(), Code::InvalidArgument, "{sku:?}: {status:?}");
            assert_eq!(bad_fields(&status), ["sku"], "{sku:?}");
        }
    }
    for customer in ["", "ann smith", "änn", &"c".repeat(129)] {
        let status = reservations
            .reserve(reserve("TEE", customer, 1, "r2"))
            .await
            .unwrap_err();
        assert_eq!(bad_fields(&status), ["customer_id"], "{customer:?}");
    }

    let product = inventory
        .get_product(pb::GetProductRequest { sku: "TEE".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (product.available, product.version),
        (10, 1),
        "nothing changed"
    );
    let listed = inventory
        .list_products(pb::ListProductsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.products.len(), 1, "no product was made");
}
