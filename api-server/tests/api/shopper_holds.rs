//! A shopper's holds are always findable: over HTTP for the shopper (what a
//! product page reads after a reload), over gRPC for a merchant by customer.

use api_server::testing::TestServer;
use flashsale_proto::v1 as pb;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn reserve(s: &TestServer, customer: &str, sku: &str, request: &str) -> String {
    let answer: Value = s
        .http
        .post(s.url(&format!("/api/products/{sku}/reservations")))
        .header("x-customer-id", customer)
        .json(&json!({ "quantity": 1, "request_id": request }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["reservation"]["id"].as_str().unwrap().to_owned()
}

async fn my_holds(s: &TestServer, customer: &str, query: &str) -> (StatusCode, Value) {
    let response = s
        .http
        .get(s.url(&format!("/api/reservations{query}")))
        .header("x-customer-id", customer)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

fn listed(page: &Value) -> Vec<&str> {
    page["reservations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_shopper_finds_their_live_holds_after_a_reload_and_nobody_elses() {
    let mut s = TestServer::start().await;
    s.t.product("CAP-NAVY", 50).await;
    s.t.product("MUG", 50).await;
    let cap = reserve(&s, "ann", "CAP-NAVY", "r1").await;
    let mug = reserve(&s, "ann", "MUG", "r2").await;
    reserve(&s, "bob", "CAP-NAVY", "r3").await;

    let (status, page) = my_holds(&s, "ann", "?sku=CAP-NAVY").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(&page), [cap.as_str()]);
    assert_eq!(page["reservations"][0]["state"], "HELD");
    assert!(page.get("next_page_token").is_none());

    let (_, all) = my_holds(&s, "ann", "").await;
    let mut ids = listed(&all);
    ids.sort();
    let mut expected = [cap.as_str(), mug.as_str()];
    expected.sort();
    assert_eq!(ids, expected);

    // A page at a time.
    let (_, first) = my_holds(&s, "ann", "?page_size=1").await;
    let token = first["next_page_token"].as_str().unwrap().to_owned();
    let (_, second) = my_holds(&s, "ann", &format!("?page_size=1&page_token={token}")).await;
    assert_eq!(listed(&first).len() + listed(&second).len(), 2);
    assert_ne!(listed(&first), listed(&second));

    // Cancelled, the hold leaves the list; and another shopper sees nothing.
    s.http
        .delete(s.url(&format!("/api/reservations/{cap}")))
        .header("x-customer-id", "ann")
        .send()
        .await
        .unwrap();
    let (_, page) = my_holds(&s, "ann", "?sku=CAP-NAVY").await;
    assert!(listed(&page).is_empty());
    let (_, carol) = my_holds(&s, "carol", "").await;
    assert!(listed(&carol).is_empty());

    let (status, refused) = my_holds(&s, "ann", "?page_size=500").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    s.shutdown().await;
}

#[tokio::test]
async fn a_merchant_lists_a_customers_holds_over_grpc() {
    let mut s = TestServer::start().await;
    s.t.product("TEE", 10).await;
    let held = reserve(&s, "ann", "TEE", "r1").await;
    let mut reservations = s.reservations().await;
    let confirmed = reservations
        .confirm_reservation(pb::ConfirmReservationRequest { id: held.clone() })
        .await
        .unwrap()
        .into_inner();
    let page = reservations
        .list_reservations(pb::ListReservationsRequest {
            customer_id: "ann".into(),
            sku: "TEE".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.reservations, [confirmed]);
    assert_eq!(page.next_page_token, "");

    let refused = reservations
        .list_reservations(pb::ListReservationsRequest {
            customer_id: "ann".into(),
            page_token: "not a token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    s.shutdown().await;
}
