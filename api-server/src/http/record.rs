//! Counts every HTTP request and times it, by route template and status, and
//! counts the requests in flight.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::app::App;

pub async fn record(State(app): State<App>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    // The template, not the path, so SKUs and ids do not grow the label set.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "static".to_owned(), |p| p.as_str().to_owned());
    let in_flight = app.metrics.in_flight("http");
    let response = next.run(request).await;
    drop(in_flight);
    tracing::debug!(%route, status = response.status().as_u16(), "http request");
    app.metrics.observe_request(
        "http",
        route,
        response.status().as_u16().to_string(),
        started,
    );
    response
}
