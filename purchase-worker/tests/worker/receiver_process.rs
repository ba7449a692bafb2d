//! A Python receiver the specs run as a child process on a free loopback
//! port: the shop's webhook endpoint (`tests/webhooks/receiver.py`) or a
//! browser's push service (`tests/push/receiver.py`). Each checks what it
//! gets with libraries that are not the worker's own, prints `listening
//! PORT` first, then one JSON line per request it saw; those are kept here,
//! in order. The process is killed when this is dropped.

use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct ReceiverProcess {
    port: u16,
    seen: Arc<Mutex<Vec<Value>>>,
    _receiver: Child,
}

impl ReceiverProcess {
    /// Runs `python3 tests/SCRIPT ARGS…` (relative to this crate);
    /// `packages` names the Python packages it needs, for the message when
    /// it does not start (`.ci/install-deps` installs them).
    pub async fn start(script: &str, args: &[&str], packages: &str) -> Self {
        let path = format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR"));
        let mut receiver = Command::new("python3")
            .arg(&path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("run python3 tests/{script}: {e}"));
        let mut lines = BufReader::new(receiver.stdout.take().expect("piped")).lines();
        let first = lines.next_line().await.unwrap().unwrap_or_default();
        let port = first
            .strip_prefix("listening ")
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| {
                panic!("tests/{script} did not start ({first:?}); are {packages} installed?")
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

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request so far, in order.
    pub fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }
}
