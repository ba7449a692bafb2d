//! A shopper's holds: reserved, replayed, read, confirmed and cancelled by
//! that shopper, and neither seen nor touched by another or by nobody.

use api_server::testing::TestServer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{error_code, reserve, with_product};

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
