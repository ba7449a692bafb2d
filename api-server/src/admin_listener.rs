//! The admin listener (`--admin-addr`): `/metrics` for Prometheus, and
//! `/livez` and `/readyz` for an orchestrator's probes (`/healthz` is
//! readyz's older name, kept for existing probes). It is apart from the
//! shoppers' listener so that the node's figures stay off the public
//! address, and so that probes are answered even while the public API sheds
//! load or drains.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use reservation_core::Readiness;

use crate::app::App;

pub fn router(app: App) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .route("/healthz", get(readyz))
        .with_state(app)
}

/// The process is up and answering: nothing else is asked, so an outage of
/// Redis never gets a node restarted.
async fn livez() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// 200 while Redis answers and the node is not draining; 503 with the
/// reason otherwise, so a load balancer sends its shoppers elsewhere.
async fn readyz(State(app): State<App>) -> impl IntoResponse {
    let readiness = Readiness::check(&app.engine, app.draining.is_cancelled()).await;
    let status = if readiness.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness.body()))
}

async fn metrics(State(app): State<App>) -> impl IntoResponse {
    let m = &app.metrics;
    // Read when scraped: the feed and the coalescer keep their own counts.
    m.stock_subscriptions.set(app.feed.subscribed_skus() as i64);
    let coalesced = app.reserves.stats();
    m.reserve_calls.set(coalesced.calls as i64);
    m.reserve_requests.set(coalesced.requests as i64);
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
}
