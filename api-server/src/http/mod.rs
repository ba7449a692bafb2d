//! The shopper's HTTP API (JSON under `/api/`), `/healthz`, `/metrics`, and
//! the static pages of `web/`.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /api/products` | products in SKU order (`?after=SKU&limit=N`) |
//! | `GET /api/products/{sku}` | one product |
//! | `POST /api/products/{sku}/reservations` | reserve `{"quantity", "request_id"}` |
//! | `GET /api/reservations/{id}` | one of the shopper's holds |
//! | `POST /api/reservations/{id}/confirm` | buy it |
//! | `DELETE /api/reservations/{id}` | give it back |
//!
//! A product's JSON is its stock event (`sku`, `available`, `held`, `sold`,
//! `total`, `version`, `at_ms`) plus its settings.

mod customer;
mod error;
mod record;
mod routes;

use std::path::PathBuf;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::http::StatusCode;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::ServeDir;

pub use customer::{CUSTOMER_COOKIE, CUSTOMER_HEADER};
pub use error::ApiError;

use crate::app::App;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Requests in flight at once before new ones are answered 429.
    pub max_in_flight: usize,
    /// Where the static pages are.
    pub web_dir: PathBuf,
}

pub fn router(app: App, options: &HttpOptions) -> Router {
    let shed = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RESOURCE_EXHAUSTED",
                "the server is at capacity; retry shortly",
            )
        }))
        .layer(LoadShedLayer::new())
        .layer(GlobalConcurrencyLimitLayer::new(options.max_in_flight));
    routes::api()
        .fallback_service(ServeDir::new(&options.web_dir))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(shed)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            record::record,
        ))
        .with_state(app)
}
