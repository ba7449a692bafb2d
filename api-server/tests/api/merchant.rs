//! A merchant's actions over the dashboard's HTTP API and over gRPC: a
//! restock is safe to retry with its request id, a sale can be scheduled and
//! rescheduled, and pausing it keeps its schedule.

use std::time::Duration;

use api_server::testing::{TOKEN, TestServer};
use flashsale_proto::v1 as pb;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tonic::Code;
use tonic_types::StatusExt;

use crate::reason;

/// A dashboard call with the merchant's token: its status and JSON body.
async fn admin(
    s: &TestServer,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = s.http.request(method, s.url(path)).bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn shopper_reserves(s: &TestServer, sku: &str, request: &str) -> (StatusCode, Value) {
    let response = s
        .http
        .post(s.url(&format!("/api/products/{sku}/reservations")))
        .header("x-customer-id", "ann")
        .json(&json!({"quantity": 1, "request_id": request}))
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

/// A product JSON's sale window.
fn window(product: &Value) -> (Option<i64>, Option<i64>) {
    (
        product["sale_starts_at_ms"].as_i64(),
        product["sale_ends_at_ms"].as_i64(),
    )
}

#[tokio::test]
async fn a_restock_retried_with_its_request_id_adds_once_over_http() {
    let s = TestServer::start().await;
    s.t.product("TEE", 10).await;
    let restock = |body: Value| admin(&s, "POST", "/api/admin/products/TEE/restock", Some(body));

    let (status, first) = restock(json!({"delta": 5, "request_id": "s-1"})).await;
    assert_eq!(
        (status, first["total"].as_i64()),
        (StatusCode::OK, Some(15)),
        "{first}"
    );
    let (status, again) = restock(json!({"delta": 5, "request_id": "s-1"})).await;
    assert_eq!(
        (status, again["total"].as_i64()),
        (StatusCode::OK, Some(15)),
        "{again}"
    );
    assert_eq!(
        again["version"], first["version"],
        "a replay changes nothing"
    );

    let (status, other) = restock(json!({"delta": 6, "request_id": "s-1"})).await;
    assert_eq!(
        (status, code(&other)),
        (StatusCode::CONFLICT, "IDEMPOTENCY_MISMATCH"),
        "{other}"
    );
    let (status, bad) = restock(json!({"delta": 1, "request_id": "no spaces"})).await;
    assert_eq!(
        (status, code(&bad)),
        (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_ARGUMENT")
    );

    // Without a request id every restock adds, as before.
    restock(json!({"delta": 1})).await;
    let (_, last) = restock(json!({"delta": 1})).await;
    assert_eq!(last["total"], 17);
}

#[tokio::test]
async fn a_sale_paused_before_its_start_and_resumed_opens_at_its_start_over_http() {
    let s = TestServer::start().await;
    let opens = s.t.engine.now_ms() + 2_000;
    s.t.product_with("TEE", 10, |p| p.sale_starts_at_ms = Some(opens))
        .await;

    let (status, paused) = admin(&s, "POST", "/api/admin/products/TEE/pause", None).await;
    assert_eq!(status, StatusCode::OK, "{paused}");
    assert_eq!(
        (
            paused["paused"].as_bool(),
            paused["sale_starts_at_ms"].as_i64()
        ),
        (Some(true), Some(opens))
    );
    let (status, refused) = shopper_reserves(&s, "TEE", "r1").await;
    assert_eq!(
        (status, code(&refused)),
        (StatusCode::CONFLICT, "SALE_CLOSED")
    );
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("paused"), "{message}");

    let (_, resumed) = admin(&s, "POST", "/api/admin/products/TEE/resume", None).await;
    assert_eq!(
        (
            resumed["paused"].as_bool(),
            resumed["sale_starts_at_ms"].as_i64()
        ),
        (Some(false), Some(opens))
    );
    assert_eq!(
        resumed["sale_ends_at_ms"],
        Value::Null,
        "no end was made up"
    );
    // Resumed before its start, the sale is still closed, and not for a pause.
    let (status, early) = shopper_reserves(&s, "TEE", "r1").await;
    assert_eq!(
        (status, code(&early)),
        (StatusCode::CONFLICT, "SALE_CLOSED")
    );
    assert!(
        !early["error"]["message"]
            .as_str()
            .unwrap()
            .contains("paused"),
        "{early}"
    );

    let wait = opens - s.t.engine.now_ms();
    tokio::time::sleep(Duration::from_millis(wait.max(0) as u64 + 50)).await;
    let (status, held) = shopper_reserves(&s, "TEE", "r1").await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    let (_, product) = admin(&s, "GET", "/api/products/TEE", None).await;
    assert_eq!(product["paused"], false);
}

#[tokio::test]
async fn the_dashboard_schedules_a_sale_and_moves_or_clears_its_bounds() {
    let s = TestServer::start().await;
    let now = s.t.engine.now_ms();
    let (opens, closes) = (now + 3_600_000, now + 7_200_000);
    let (status, created) = admin(
        &s,
        "POST",
        "/api/admin/products",
        Some(json!({
            "sku": "TEE", "name": "Tee", "price_cents": 1500, "total": 10,
            "sale_starts_at_ms": opens, "sale_ends_at_ms": closes,
        })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(window(&created), (Some(opens), Some(closes)));
    assert_eq!(created["paused"], false);

    let update = |body: Value| admin(&s, "PATCH", "/api/admin/products/TEE", Some(body));
    // A bound left out stays; one sent as null goes.
    let (_, moved) = update(json!({"sale_starts_at_ms": opens + 60_000})).await;
    assert_eq!(window(&moved), (Some(opens + 60_000), Some(closes)));
    let (_, endless) = update(json!({"sale_ends_at_ms": null})).await;
    assert_eq!(window(&endless), (Some(opens + 60_000), None));
    let (_, open) = update(json!({"sale_starts_at_ms": null, "name": "Blue tee"})).await;
    assert_eq!(
        (open["sale_starts_at_ms"].as_i64(), open["name"].as_str()),
        (None, Some("Blue tee"))
    );
    let (status, _) = shopper_reserves(&s, "TEE", "r1").await;
    assert_eq!(status, StatusCode::CREATED);

    // The window is checked as the update finds it.
    update(json!({"sale_starts_at_ms": opens})).await;
    let (status, inverted) = update(json!({"sale_ends_at_ms": opens - 1})).await;
    assert_eq!(
        (status, code(&inverted)),
        (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_ARGUMENT"),
        "{inverted}"
    );
    let (status, nothing) = update(json!({})).await;
    assert_eq!(
        (status, code(&nothing)),
        (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_ARGUMENT")
    );
    let (status, _) = admin(
        &s,
        "PATCH",
        "/api/admin/products/NOPE",
        Some(json!({"paused": true})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let anonymous = s
        .http
        .patch(s.url("/api/admin/products/TEE"))
        .json(&json!({"paused": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(
        !s.t.engine
            .product(&"TEE".parse().unwrap())
            .await
            .unwrap()
            .stock
            .paused
    );
}

#[tokio::test]
async fn a_pause_sent_while_another_merchant_moves_the_start_loses_neither() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    // A whole second, as a timestamp carries it.
    let opens = (s.t.engine.now_ms() / 1000 + 3600) * 1000;
    for round in 0..10 {
        let sku = format!("TEE-{round}");
        s.t.product(&sku, 10).await;
        let schedule = pb::UpdateProductRequest {
            sku: sku.clone(),
            sale_starts_at: Some(prost_types::Timestamp {
                seconds: opens / 1000,
                nanos: 0,
            }),
            ..Default::default()
        };
        let pause = format!("/api/admin/products/{sku}/pause");
        let ((paused, _), scheduled) = tokio::join!(
            admin(&s, "POST", &pause, None),
            inventory.update_product(schedule),
        );
        assert_eq!(paused, StatusCode::OK, "round {round}");
        scheduled.unwrap();
        let product = s.t.engine.product(&sku.parse().unwrap()).await.unwrap();
        assert!(product.stock.paused, "round {round}: the pause was lost");
        assert_eq!(
            product.sale_starts_at_ms,
            Some(opens),
            "round {round}: the start was lost"
        );
        assert_eq!(product.sale_ends_at_ms, None, "round {round}");
    }
}

#[tokio::test]
async fn a_restock_retried_with_its_request_id_adds_once_over_grpc() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    s.t.product("TEE", 10).await;
    let restock = |delta, request_id: &str| pb::RestockRequest {
        sku: "TEE".into(),
        delta,
        request_id: request_id.into(),
    };
    let first = inventory
        .restock(restock(5, "s-1"))
        .await
        .unwrap()
        .into_inner();
    let again = inventory
        .restock(restock(5, "s-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (first.total, again.total, again.version),
        (15, 15, first.version)
    );

    let other = inventory.restock(restock(-5, "s-1")).await.unwrap_err();
    assert_eq!(
        (other.code(), reason(&other).as_str()),
        (Code::AlreadyExists, "IDEMPOTENCY_MISMATCH")
    );
    let plain = inventory
        .restock(restock(1, ""))
        .await
        .unwrap()
        .into_inner();
    let plain_again = inventory
        .restock(restock(1, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((plain.total, plain_again.total), (16, 17));
}

#[tokio::test]
async fn a_paused_sale_is_a_state_of_its_own_over_grpc() {
    let s = TestServer::start().await;
    let mut inventory = s.inventory().await;
    let mut reservations = s.reservations().await;
    let opens = s.t.engine.now_ms() + 3_600_000;
    s.t.product_with("TEE", 10, |p| p.sale_starts_at_ms = Some(opens))
        .await;
    let mut watch = inventory
        .watch_stock(pb::WatchStockRequest {
            skus: vec!["TEE".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        !watch.message().await.unwrap().unwrap().paused,
        "the snapshot"
    );

    let pause = pb::UpdateProductRequest {
        sku: "TEE".into(),
        paused: Some(true),
        ..Default::default()
    };
    let paused = inventory.update_product(pause).await.unwrap().into_inner();
    assert!(paused.paused);
    assert_eq!(
        paused.sale_starts_at.map(|ts| ts.seconds),
        Some(opens.div_euclid(1000))
    );
    let event = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((event.version, event.paused), (paused.version, true));

    let refused = reservations
        .reserve(pb::ReserveRequest {
            sku: "TEE".into(),
            quantity: 1,
            customer_id: "ann".into(),
            request_id: "r1".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        (refused.code(), reason(&refused).as_str()),
        (Code::FailedPrecondition, "SALE_CLOSED")
    );
    let metadata = refused.get_details_error_info().unwrap().metadata;
    assert_eq!(metadata.get("paused").map(String::as_str), Some("true"));
    assert_eq!(metadata.get("sale_starts_at_ms"), Some(&opens.to_string()));

    let resume = pb::UpdateProductRequest {
        sku: "TEE".into(),
        paused: Some(false),
        ..Default::default()
    };
    let resumed = inventory.update_product(resume).await.unwrap().into_inner();
    assert!(!resumed.paused);
    assert_eq!(
        resumed.sale_starts_at, paused.sale_starts_at,
        "the start is kept"
    );
}
