//! The worker's admin listener (`--admin-addr`): `/metrics` for Prometheus,
//! and `/livez` and `/readyz` for an orchestrator's probes. Live means the
//! process answers; ready means Redis answers a `PING` promptly and the
//! worker is not stopping. A worker takes its work from Redis rather than
//! from a load balancer, so readiness is for dashboards and rollouts: a
//! rolling deploy waits for a new worker that can reach Redis.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use reservation_core::{Engine, Readiness};
use tokio::task::JoinHandle;

use crate::WorkerMetrics;

/// What the handlers share.
#[derive(Clone)]
struct Admin {
    engine: Engine,
    metrics: Arc<WorkerMetrics>,
    stopping: Arc<AtomicBool>,
}

/// The admin listener, serving until dropped.
pub struct AdminListener {
    /// Where it listens (the port picked, for port 0).
    pub addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    serving: JoinHandle<io::Result<()>>,
}

impl AdminListener {
    /// Binds `addr` and serves on a task of its own.
    pub async fn start(
        addr: SocketAddr,
        engine: Engine,
        metrics: Arc<WorkerMetrics>,
    ) -> io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let router = Router::new()
            .route("/metrics", get(metrics_text))
            .route("/livez", get(livez))
            .route("/readyz", get(readyz))
            .with_state(Admin {
                engine,
                metrics,
                stopping: stopping.clone(),
            });
        let serving = tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(Self {
            addr,
            stopping,
            serving,
        })
    }

    /// From now on `/readyz` answers 503: the worker is finishing its jobs
    /// in hand and taking no more.
    pub fn stopping(&self) {
        self.stopping.store(true, Ordering::Relaxed);
    }
}

impl Drop for AdminListener {
    fn drop(&mut self) {
        self.serving.abort();
    }
}

async fn metrics_text(State(admin): State<Admin>) -> String {
    admin.metrics.encode()
}

async fn livez() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

async fn readyz(State(admin): State<Admin>) -> impl IntoResponse {
    let readiness = Readiness::check(&admin.engine, admin.stopping.load(Ordering::Relaxed)).await;
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness.body()))
}
