//! The shop's webhook endpoint, for the webhook specs: `tests/webhooks/receiver.py`
//! on a free loopback port, which verifies every request with the Standard
//! Webhooks reference library and answers as the spec's plan says. Each
//! request it saw is kept, in order.

use serde_json::Value;

use super::receiver_process::ReceiverProcess;

/// The secret the shop and the worker share (the specification's example).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub struct ShopEndpoint {
    receiver: ReceiverProcess,
}

impl ShopEndpoint {
    /// Answers each customer's requests as `plan` lists (see receiver.py).
    pub async fn start(plan: Value) -> Self {
        let receiver = ReceiverProcess::start(
            "webhooks/receiver.py",
            &[SECRET, &plan.to_string()],
            "standardwebhooks",
        )
        .await;
        Self { receiver }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.receiver.port())
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Value> {
        self.receiver.seen()
    }

    /// The requests whose `webhook-id` is `id`.
    pub fn seen_with_id(&self, id: &str) -> Vec<Value> {
        self.seen()
            .into_iter()
            .filter(|record| record["id"] == id)
            .collect()
    }
}
