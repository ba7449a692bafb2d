use api_server::testing::TestServer;
use reqwest::StatusCode;
use reservation_core::NewProduct;
use serde_json::{Value, json};

async fn with_product(s: &TestServer, sku: &str, total: i64) {
    let mut product = NewProduct::new(sku.parse().unwrap(), format!("Product {sku}"), 2_500, total);
    product.per_customer_limit = 3;
    s.t.engine.create_product(&product).await.unwrap();
}

async fn reserve(s: &TestServer, customer: &str, sku: &str, body: Value) -> (StatusCode, Value) {
    let response = s
        .http
        .post(s.url(&format!("/api/products/{sku}/reservations")))
        .header("x-customer-id", customer)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

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

#[tokio::test]
async fn a_shopper_reserves_confirms_and_cancels_their_own_holds() {
    let s = TestServer::start().await;
    with_product(&s, "TEE", 10).await;

    let (status, body) =
        reserve(&s, "ann", "TEE", json!({"quantity": 2, "request_id": "r1"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["available"], 8);
    assert_eq!(body["reservation"]["state"], "HELD");
    let id = body["reservation"]["id"].as_str().unwrap().to_owned();

    let (status, replay) =
        reserve(&s, "ann", "TEE", json!({"quantity": 2, "request_id": "r1"})).await;
    assert_eq!(
        (status, replay["replayed"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    assert_eq!(replay["reservation"]["id"], id.as_str());

    let read: Value = s
        .http
        .get(s.url(&format!("/api/reservations/{id}")))
        .header("cookie", "theme=dark; flashsale_customer=ann")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["state"], "HELD");

    let confirmed = s
        .http
        .post(s.url(&format!("/api/reservations/{id}/confirm")))
        .header("x-customer-id", "ann")
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(
        confirmed.json::<Value>().await.unwrap()["state"],
        "CONFIRMED"
    );

    let (_, other) = reserve(&s, "ann", "TEE", json!({"quantity": 1, "request_id": "r2"})).await;
    let other_id = other["reservation"]["id"].as_str().unwrap();
    let cancelled = s
        .http
        .delete(s.url(&format!("/api/reservations/{other_id}")))
        .header("x-customer-id", "ann")
        .send()
        .await
        .unwrap();
    assert_eq!(
        cancelled.json::<Value>().await.unwrap()["state"],
        "CANCELLED"
    );
}

#[tokio::test]
async fn a_shopper_cannot_see_or_touch_another_shoppers_hold() {
    let s = TestServer::start().await;
    with_product(&s, "TEE", 10).await;
    let (_, body) = reserve(&s, "ann", "TEE", json!({"quantity": 1, "request_id": "r1"})).await;
    let id = body["reservation"]["id"].as_str().unwrap();

    let peek = s
        .http
        .get(s.url(&format!("/api/reservations/{id}")))
        .header("x-customer-id", "bob");
    let confirm = s
        .http
        .post(s.url(&format!("/api/reservations/{id}/confirm")))
        .header("x-customer-id", "bob");
    let cancel = s
        .http
        .delete(s.url(&format!("/api/reservations/{id}")))
        .header("x-customer-id", "bob");
    for request in [peek, confirm, cancel] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let anonymous = s
        .http
        .get(s.url(&format!("/api/reservations/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        error_code(&anonymous.json().await.unwrap()),
        "UNAUTHENTICATED"
    );

    let hold = s.t.engine.reservation(&id.parse().unwrap()).await.unwrap();
    assert_eq!(hold.state, reservation_core::HoldState::Held, "unchanged");
}

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
