//! A browser's push service for the push specs: `tests/push/receiver.py` on
//! a free loopback port (one port, one origin). It makes the subscriptions'
//! P-256 keys itself, decrypts every push with http_ece, checks its VAPID
//! JWT with PyJWT against the deployment's public key, answers as a plan
//! says, and reports each push (see receiver.py for the plan and the
//! reports' fields).

use reservation_core::{EndpointPolicy, PushSubscription};
use serde_json::{Value, json};

use super::super::receiver_process::ReceiverProcess;

pub struct PushService {
    receiver: ReceiverProcess,
}

impl PushService {
    /// A service that takes every push (201) signed by the VAPID key whose
    /// public half is `vapid_public_key` (base64url), and no other.
    pub async fn start(vapid_public_key: &str) -> Self {
        Self::planned(vapid_public_key, json!({})).await
    }

    /// One that answers each subscription's pushes as `plan` lists:
    /// `{"NAME": [{"status": 429, "retry_after": "2", "times": 1}, ...]}`.
    pub async fn planned(vapid_public_key: &str, plan: Value) -> Self {
        let receiver = ReceiverProcess::start(
            "push/receiver.py",
            &[vapid_public_key, &plan.to_string()],
            "http_ece, PyJWT and cryptography",
        )
        .await;
        Self { receiver }
    }

    /// `http://127.0.0.1:PORT`: the endpoints' origin, their VAPID audience.
    pub fn origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.receiver.port())
    }

    /// The subscription `name`, as a browser's `PushSubscription.toJSON()`:
    /// `{"endpoint", "expirationTime", "keys": {"p256dh", "auth"}}`. Asking
    /// again gives the same one.
    pub async fn subscription_json(&self, name: &str) -> Value {
        self.post_subscription(name, json!({})).await
    }

    /// The subscription `name`, checked as the engine checks a browser's.
    pub async fn subscribe(&self, name: &str) -> PushSubscription {
        parse(&self.subscription_json(name).await)
    }

    /// The subscription `name`, whose pushes from now on are answered as
    /// `plan` says (a list of answers, as in [`Self::planned`]).
    pub async fn subscribe_planned(&self, name: &str, plan: Value) -> PushSubscription {
        parse(&self.post_subscription(name, json!({ "plan": plan })).await)
    }

    /// Every push received, in order of arrival.
    pub fn pushes(&self) -> Vec<Value> {
        self.receiver.seen()
    }

    /// The pushes to the subscription `name`.
    pub fn pushes_to(&self, name: &str) -> Vec<Value> {
        self.pushes()
            .into_iter()
            .filter(|push| push["name"] == name)
            .collect()
    }

    async fn post_subscription(&self, name: &str, body: Value) -> Value {
        let url = format!("{}/subscriptions/{name}", self.origin());
        let response = reqwest::Client::new()
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("the push service answers");
        assert!(response.status().is_success(), "{}", response.status());
        let body = response.bytes().await.expect("the subscription");
        serde_json::from_slice(&body).expect("a subscription's JSON")
    }
}

/// A subscription's JSON as the engine takes it: plain http is fine, the
/// service is on loopback.
pub fn parse(json: &Value) -> PushSubscription {
    PushSubscription::new(
        json["endpoint"].as_str().unwrap(),
        json["keys"]["p256dh"].as_str().unwrap(),
        json["keys"]["auth"].as_str().unwrap(),
        EndpointPolicy {
            allow_http_loopback: true,
            ..EndpointPolicy::default()
        },
    )
    .expect("the service's subscription is valid")
}
