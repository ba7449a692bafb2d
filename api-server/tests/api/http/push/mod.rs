//! "Notify me" over HTTP: the VAPID public key served to anyone (and no
//! subscription taken without one), a shopper's push subscriptions made,
//! replaced, listed and removed by that shopper alone, bad ones refused
//! naming the field (an endpoint anywhere but a push service the shop
//! accepts among them), and a bound per shopper.
//!
//! `subscriptions.rs` holds the subscriptions' life and refusals,
//! `services.rs` the push services a shop takes endpoints at; this file
//! what both share.

mod services;
mod subscriptions;

use api_server::PushOptions;
use api_server::testing::{ServerOptions, TestServer};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use reservation_core::{EndpointPolicy, PushServices, VapidKey};
use serde_json::{Value, json};

use super::{error_code, with_product};

/// A server with push on: a VAPID key, `max` interests per shopper, the
/// browsers' push services.
pub(super) async fn push_server(max: u32, allow_http_loopback: bool) -> TestServer {
    push_server_taking(
        max,
        EndpointPolicy {
            allow_http_loopback,
            ..EndpointPolicy::default()
        },
    )
    .await
}

pub(super) async fn push_server_taking(max: u32, endpoints: EndpointPolicy) -> TestServer {
    TestServer::start_with(ServerOptions {
        push: PushOptions {
            vapid_public_key: Some(VapidKey::generate().public_key_base64url()),
            max_per_shopper: max,
            endpoints,
        },
        ..ServerOptions::default()
    })
    .await
}

/// Subscribes `endpoint`; the refusal's message when refused as
/// `subscription.endpoint`, None when taken (201), a panic otherwise.
pub(super) async fn endpoint_refusal(
    s: &TestServer,
    customer: &str,
    endpoint: &str,
) -> Option<String> {
    let body = json!({"subscription": browser_subscription(endpoint), "notify": ["sale_opens"]});
    let (status, answer) = subscribe(s, customer, "TEE", &body).await;
    match status {
        StatusCode::CREATED => None,
        StatusCode::UNPROCESSABLE_ENTITY => {
            assert_eq!(
                error_code(&answer),
                "INVALID_ARGUMENT",
                "{endpoint}: {answer}"
            );
            assert_eq!(
                answer["error"]["field"], "subscription.endpoint",
                "{endpoint}: {answer}"
            );
            Some(answer["error"]["message"].as_str().unwrap().to_owned())
        }
        other => panic!("{endpoint}: {other} {answer}"),
    }
}

/// What a browser's `PushSubscription.toJSON()` gives for `endpoint`, with
/// keys of the right shape (a real P-256 point, 16 bytes of auth secret).
pub(super) fn browser_subscription(endpoint: &str) -> Value {
    json!({
        "endpoint": endpoint,
        "expirationTime": null,
        "keys": {
            "p256dh": VapidKey::generate().public_key_base64url(),
            "auth": URL_SAFE_NO_PAD.encode([7u8; 16]),
        },
    })
}

pub(super) const CHROME: &str = "https://fcm.googleapis.com/fcm/send/ann-chrome";
pub(super) const FIREFOX: &str = "https://updates.push.services.mozilla.com/wpush/v2/ann-firefox";

pub(super) async fn subscribe(
    s: &TestServer,
    customer: &str,
    sku: &str,
    body: &Value,
) -> (StatusCode, Value) {
    let response = s
        .http
        .post(s.url(&format!("/api/products/{sku}/push-subscriptions")))
        .header("x-customer-id", customer)
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

pub(super) async fn notify(
    s: &TestServer,
    customer: &str,
    sku: &str,
    endpoint: &str,
    topics: &[&str],
) {
    let body = json!({"subscription": browser_subscription(endpoint), "notify": topics});
    let (status, answer) = subscribe(s, customer, sku, &body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
}

pub(super) async fn unsubscribe(
    s: &TestServer,
    customer: &str,
    sku: &str,
    endpoint: &str,
) -> StatusCode {
    s.http
        .delete(s.url(&format!("/api/products/{sku}/push-subscriptions")))
        .header("x-customer-id", customer)
        .json(&json!({"endpoint": endpoint}))
        .send()
        .await
        .unwrap()
        .status()
}

/// `customer`'s interests as `(sku, endpoint, notify)`, sorted.
pub(super) async fn listed(s: &TestServer, customer: &str) -> Vec<(String, String, Value)> {
    let response = s
        .http
        .get(s.url("/api/push/subscriptions"))
        .header("x-customer-id", customer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let list: Vec<Value> = response.json().await.unwrap();
    let mut interests: Vec<_> = list
        .into_iter()
        .map(|i| {
            assert_eq!(i["id"].as_str().map(str::len), Some(22), "{i}");
            let text = |field: &str| i[field].as_str().unwrap().to_owned();
            (text("sku"), text("endpoint"), i["notify"].clone())
        })
        .collect();
    interests.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    interests
}
