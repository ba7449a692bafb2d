//! What the server serves beside the API: health, metrics counting the
//! requests and outcomes, and the pages (with no way out of their folder).

use api_server::testing::TestServer;
use reqwest::StatusCode;
use serde_json::json;

use super::{reserve, with_product};

#[tokio::test]
async fn health_metrics_and_pages_are_served() {
    let s = TestServer::start().await;
    with_product(&s, "TEE", 2).await;
    reserve(&s, "ann", "TEE", json!({"quantity": 1, "request_id": "r1"})).await;
    reserve(&s, "bob", "TEE", json!({"quantity": 2, "request_id": "r2"})).await;

    assert_eq!(s.health().await, StatusCode::OK);

    let metrics = s.metrics().await;
    for expected in [
        r#"flashsale_requests_total{api="http",route="/api/products/{sku}/reservations",status="201"} 1"#,
        r#"flashsale_outcomes_total{operation="reserve",outcome="OUT_OF_STOCK"} 1"#,
        r#"flashsale_outcomes_total{operation="reserve",outcome="OK"} 1"#,
        "flashsale_request_duration_seconds_bucket",
    ] {
        assert!(
            metrics.contains(expected),
            "missing {expected} in\n{metrics}"
        );
    }

    let index = s.http.get(s.url("/")).send().await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    assert!(index.text().await.unwrap().contains("/api/products"));
    let traversal = s
        .http
        .get(s.url("/..%2F..%2FCargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(traversal.status(), StatusCode::NOT_FOUND);
}
