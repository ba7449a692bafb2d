//! The shop's webhook endpoint, for the webhook specs: `tests/webhooks/receiver.py`
//! on a free loopback port, which verifies every request with the Standard
//! Webhooks reference library and answers as the spec's plan says. Each
//! request it saw is kept, in order.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The secret the shop and the worker share (the specification's example).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub struct ShopEndpoint {
    port: u16,
    seen: Arc<Mutex<Vec<Value>>>,
    _receiver: Child,
}

impl ShopEndpoint {
    /// Answers each customer's requests as `plan` lists (see receiver.py).
    pub async fn start(plan: Value) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/webhooks/receiver.py");
        let mut receiver = Command::new("python3")
            .args([script, SECRET, &plan.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("run python3 tests/webhooks/receiver.py");
        let mut lines = BufReader::new(receiver.stdout.take().expect("piped")).lines();
        let first = lines.next_line().await.unwrap().unwrap_or_default();
        let port = first
            .strip_prefix("listening ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| {
                panic!("the receiver did not start ({first:?}); is standardwebhooks installed?")
            });
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let record = serde_json::from_str(&line).expect("a JSON line");
                sink.lock().unwrap().push(record);
            }
        });
        Self {
            port,
            seen,
            _receiver: receiver,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests whose `webhook-id` is `id`.
    pub fn seen_with_id(&self, id: &str) -> Vec<Value> {
        self.seen()
            .into_iter()
            .filter(|record| record["id"] == id)
            .collect()
    }
}
