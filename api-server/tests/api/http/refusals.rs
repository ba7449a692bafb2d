//! Bad input and refused reserves: each answered with its status and a
//! reason (malformed JSON, a wrong content type and a huge body included),
//! and none of them changing anything.

use api_server::testing::TestServer;
use reqwest::StatusCode;
use serde_json::json;

use super::{error_code, reserve, with_product};

#[tokio::test]
async fn refusals_have_a_status_and_a_reason() {
    let s = TestServer::start().await;
    with_product(&s, "TEE", 2).await;
    reserve(&s, "ann", "TEE", json!({"quantity": 1, "request_id": "r1"})).await;

    let cases = [
        (
            "bob",
            "TEE",
            json!({"quantity": 2, "request_id": "r2"}),
            StatusCode::CONFLICT,
            "OUT_OF_STOCK",
        ),
        (
            "ann",
            "TEE",
            json!({"quantity": 2, "request_id": "r1"}),
            StatusCode::CONFLICT,
            "IDEMPOTENCY_MISMATCH",
        ),
        (
            "ann",
            "TEE",
            json!({"quantity": 0, "request_id": "r3"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_ARGUMENT",
        ),
        (
            "ann",
            "T{E}",
            json!({"quantity": 1, "request_id": "r4"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_ARGUMENT",
        ),
        (
            "ann",
            "NOPE",
            json!({"quantity": 1, "request_id": "r5"}),
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        ),
        (
            "ann",
            "TEE",
            json!({"quantity": "one", "request_id": "r6"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_ARGUMENT",
        ),
        (
            "a b",
            "TEE",
            json!({"quantity": 1, "request_id": "r7"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_ARGUMENT",
        ),
    ];
    for (customer, sku, body, status, code) in cases {
        let (got_status, got) = reserve(&s, customer, sku, body.clone()).await;
        assert_eq!(
            (got_status, error_code(&got)),
            (status, code),
            "{customer} {sku} {body}"
        );
        assert!(
            got["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }

    let malformed = s
        .http
        .post(s.url("/api/products/TEE/reservations"))
        .header("x-customer-id", "ann")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        error_code(&malformed.json().await.unwrap()),
        "INVALID_ARGUMENT"
    );

    let wrong_type = s
        .http
        .post(s.url("/api/products/TEE/reservations"))
        .header("x-customer-id", "ann")
        .header("content-type", "text/plain")
        .body(r#"{"quantity": 1, "request_id": "r8"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = s
        .http
        .post(s.url("/api/products/TEE/reservations"))
        .header("x-customer-id", "ann")
        .header("content-type", "application/json")
        .body(format!(
            r#"{{"quantity": 1, "request_id": "{}"}}"#,
            "x".repeat(100_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let audit = s.t.engine.audit(&"TEE".parse().unwrap()).await.unwrap();
    assert!(audit.is_clean());
    assert_eq!(audit.held, 1, "no refused request changed anything");
}
