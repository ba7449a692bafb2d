//! The shopper's HTTP API (JSON under `/api/`) and the static pages of
//! `web/`. `/metrics` and the probes are not here but on the admin listener
//! (`admin_listener.rs`), off the shoppers' address.
//!
//! | method and path | what |
//! |---|---|
//! | `GET /api/products` | products in SKU order (`?after=SKU&limit=N`) |
//! | `GET /api/products/{sku}` | one product |
//! | `POST /api/products/{sku}/reservations` | reserve `{"quantity", "request_id"}` |
//! | `POST /api/carts` | reserve several products, all or nothing |
//! | `GET /api/reservations` | the shopper's live holds |
//! | `GET /api/reservations/{id}` | one of the shopper's holds |
//! | `POST /api/reservations/{id}/confirm` | buy it |
//! | `DELETE /api/reservations/{id}` | give it back |
//! | `…/push-subscriptions`, `/api/push/…` | "Notify me" (see `push.rs`) |
//!
//! A product's JSON is its stock event (`sku`, `available`, `held`, `sold`,
//! `total`, `version`, `at_ms`) plus its settings.

mod admin;
mod customer;
mod push;
mod record;
mod routes;

use std::path::PathBuf;

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, Method};
use socketioxide::SocketIo;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::services::{ServeDir, ServeFile};

pub use crate::http_error::ApiError;
pub use push::PushOptions;

use crate::app::App;
use crate::identity::{CUSTOMER_HEADER, TOKEN_HEADER};
use crate::live::{self, LiveOptions};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

#[derive(Clone, Debug)]
pub struct HttpOptions {
    /// Requests in flight at once before new ones are answered 429.
    pub max_in_flight: usize,
    /// Where the static pages are.
    pub web_dir: PathBuf,
    /// Origins other than the server's own that browsers may call from
    /// (Socket.IO polling and the JSON API). Empty: same origin only.
    pub cors_origins: Vec<HeaderValue>,
    pub live: LiveOptions,
    /// Web push subscriptions ("Notify me").
    pub push: PushOptions,
}

/// The HTTP API, the pages and Socket.IO, and the handle that closes the
/// Socket.IO sessions at shutdown.
pub fn router(app: App, options: &HttpOptions) -> (Router, SocketIo) {
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
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(options.cors_origins.clone()))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([
            CONTENT_TYPE,
            HeaderName::from_static(CUSTOMER_HEADER),
            HeaderName::from_static(TOKEN_HEADER),
        ]);
    let web = &options.web_dir;
    let (live, io) = live::layer(app.clone(), options.live.clone());
    let router = routes::api()
        .merge(admin::api())
        .merge(push::api(options.push.clone()))
        // The pages: the product page and the dashboard are single files that
        // read what they show from the URL and the APIs.
        .route_service("/p/{sku}", ServeFile::new(web.join("product.html")))
        .route_service("/admin", ServeFile::new(web.join("admin.html")))
        // The official client, as npm installed it in web/node_modules.
        .route_service(
            "/vendor/socket.io.min.js",
            ServeFile::new(web.join("node_modules/socket.io-client/dist/socket.io.min.js")),
        )
        // Only the pages are public, not the packages or tests beside them.
        .route("/node_modules/{*path}", axum::routing::any(not_found))
        .route("/tests/{*path}", axum::routing::any(not_found))
        .fallback_service(ServeDir::new(web))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(shed)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            record::record,
        ))
        // Socket.IO answers /socket.io/ itself, before routing and shedding:
        // its connections are long-lived and limited on their own.
        .layer(live)
        // Runs before Socket.IO, which keeps the requests that open sessions.
        .layer(tower::util::MapRequestLayer::new(live::detach_head))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            live::admit_session,
        ))
        .layer(cors)
        .with_state(app);
    (router, io)
}

async fn not_found() -> StatusCode {
    StatusCode::NOT_FOUND
}
