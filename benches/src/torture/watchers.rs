//! Shoppers' browsers during a torture run: Socket.IO watchers that connect
//! again whenever the api-server goes away, as the browser client does, and
//! remember the newest stock version they have seen. At the end each must
//! hold its product's final version.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::socket::{SocketClient, SocketError, Transport};

/// One watcher's view.
pub struct Watcher {
    pub sku: String,
    /// The newest version seen, from the watch's snapshot or an event.
    pub version: AtomicU64,
    /// Sessions opened after the first.
    pub reconnects: AtomicU64,
}

pub struct Watchers {
    pub watchers: Vec<Arc<Watcher>>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Watchers {
    /// `count` watchers at `http_addr`, spread over `skus`; every other one
    /// on long-polling.
    pub fn start(http_addr: String, skus: &[String], count: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let http = reqwest::Client::new();
        let mut watchers = Vec::new();
        let mut tasks = Vec::new();
        for n in 0..count {
            let watcher = Arc::new(Watcher {
                sku: skus[n % skus.len()].clone(),
                version: AtomicU64::new(0),
                reconnects: AtomicU64::new(0),
            });
            let transport = if n % 2 == 0 {
                Transport::Websocket
            } else {
                Transport::Polling
            };
            tasks.push(tokio::spawn(watch(
                watcher.clone(),
                http_addr.clone(),
                transport,
                http.clone(),
                stop.clone(),
            )));
            watchers.push(watcher);
        }
        Self {
            watchers,
            stop,
            tasks,
        }
    }

    pub fn stop(self) {
        self.stop.store(true, Ordering::Release);
        for task in self.tasks {
            task.abort();
        }
    }
}

async fn watch(
    watcher: Arc<Watcher>,
    http_addr: String,
    transport: Transport,
    http: reqwest::Client,
    stop: Arc<AtomicBool>,
) {
    let mut sessions = 0u64;
    while !stop.load(Ordering::Acquire) {
        if sessions > 0 {
            watcher.reconnects.fetch_add(1, Ordering::AcqRel);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        sessions += 1;
        // Any error ends the session; the next one starts from a snapshot.
        let _ = session(&watcher, &http_addr, transport, &http).await;
    }
}

async fn session(
    watcher: &Watcher,
    http_addr: &str,
    transport: Transport,
    http: &reqwest::Client,
) -> Result<(), SocketError> {
    let mut socket = SocketClient::connect(http_addr, transport, http).await?;
    let version = socket.watch(&watcher.sku).await?;
    watcher.version.fetch_max(version, Ordering::AcqRel);
    loop {
        let event = socket.next_event().await?;
        if event.name == "stock"
            && let Some(version) = event.data["version"].as_u64()
        {
            watcher.version.fetch_max(version, Ordering::AcqRel);
        }
    }
}
