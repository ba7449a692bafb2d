//! Products listed and read in the stock event's shape; an unknown SKU is
//! `NOT_FOUND`.

use api_server::testing::TestServer;
use reqwest::StatusCode;
use serde_json::Value;

use super::{error_code, with_product};

#[tokio::test]
async fn products_are_listed_and_read_in_the_stock_event_shape() {
    let s = TestServer::start().await;
    with_product(&s, "TEE", 10).await;
    with_product(&s, "CAP", 4).await;

    let list: Value = s
        .http
        .get(s.url("/api/products"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let skus: Vec<_> = list["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["CAP", "TEE"]);

    let product: Value = s
        .http
        .get(s.url("/api/products/TEE"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for field in [
        "sku",
        "available",
        "held",
        "sold",
        "total",
        "version",
        "at_ms",
    ] {
        assert!(product.get(field).is_some(), "missing {field}: {product}");
    }
    assert_eq!(
        (product["available"].as_i64(), product["name"].as_str()),
        (Some(10), Some("Product TEE"))
    );

    let missing = s
        .http
        .get(s.url("/api/products/NOPE"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(&missing.json().await.unwrap()), "NOT_FOUND");
}
