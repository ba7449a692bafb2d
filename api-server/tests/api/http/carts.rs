//! A cart reserved whole or not at all: a line that does not fit leaves
//! every product as it was, a retry replays, each hold is the shopper's own,
//! and malformed carts are refused.

use api_server::testing::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{error_code, with_product};

#[tokio::test]
async fn a_shopper_reserves_a_cart_whole_or_not_at_all() {
    let s = TestServer::start().await;
    with_product(&s, "TEE", 10).await;
    with_product(&s, "MUG", 1).await;
    let post_cart = async |customer: &str, body: Value| {
        let response = s
            .http
            .post(s.url("/api/carts"))
            .header("x-customer-id", customer)
            .json(&body)
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    let available = async |sku: &str| {
        let sku = sku.parse().unwrap();
        s.t.engine.product(&sku).await.unwrap().stock.available
    };

    let too_many = json!({"request_id": "c1", "lines": [
        {"sku": "TEE", "quantity": 2}, {"sku": "MUG", "quantity": 2}]});
    let (status, body) = post_cart("ann", too_many).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "OUT_OF_STOCK")
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains("MUG"),
        "{body}"
    );
    assert_eq!((available("TEE").await, available("MUG").await), (10, 1));

    let fits = json!({"request_id": "c2", "lines": [
        {"sku": "TEE", "quantity": 2}, {"sku": "MUG", "quantity": 1}]});
    let (status, body) = post_cart("ann", fits.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let lines = body["lines"].as_array().unwrap();
    let skus: Vec<_> = lines
        .iter()
        .map(|l| l["reservation"]["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["TEE", "MUG"]);
    assert!(lines.iter().all(|l| l["reservation"]["state"] == "HELD"));
    assert_eq!((available("TEE").await, available("MUG").await), (8, 0));

    let (status, again) = post_cart("ann", fits).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again["lines"][0]["reservation"]["id"],
        lines[0]["reservation"]["id"]
    );
    assert_eq!(again["lines"][0]["replayed"], true);

    // Each hold is the shopper's own, like any other.
    let id = lines[1]["reservation"]["id"].as_str().unwrap();
    let theirs = s
        .http
        .get(s.url(&format!("/api/reservations/{id}")))
        .header("x-customer-id", "bob")
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);

    for (body, reason) in [
        (json!({"request_id": "c3", "lines": []}), "INVALID_ARGUMENT"),
        (
            json!({"request_id": "c4", "lines": [{"sku": "T{E}", "quantity": 1}]}),
            "INVALID_ARGUMENT",
        ),
        (
            json!({"request_id": "c5", "lines": "TEE"}),
            "INVALID_ARGUMENT",
        ),
    ] {
        let (status, answer) = post_cart("ann", body).await;
        assert_eq!(
            (status, error_code(&answer)),
            (StatusCode::UNPROCESSABLE_ENTITY, reason),
            "{answer}"
        );
    }
    for sku in ["TEE", "MUG"] {
        let sku = sku.parse().unwrap();
        assert!(s.t.engine.audit(&sku).await.unwrap().is_clean());
    }
}
