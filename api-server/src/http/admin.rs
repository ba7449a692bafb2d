//! The merchant dashboard's HTTP API, under `/api/admin/`: the same merchant
//! bearer tokens as gRPC, for a page in a browser (which cannot speak gRPC).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use reservation_core::{NewProduct, Order, ProductUpdate, Sku};
use serde::Deserialize;

use super::error::ApiError;
use super::routes::ProductJson;
use crate::app::App;

pub fn api() -> Router<App> {
    Router::new()
        .route("/api/admin/session", get(session))
        .route("/api/admin/products", post(create_product))
        .route("/api/admin/products/{sku}/restock", post(restock))
        .route("/api/admin/products/{sku}/pause", post(pause))
        .route("/api/admin/products/{sku}/resume", post(resume))
        .route("/api/admin/orders", get(recent_orders))
}

/// A caller with an accepted merchant token; 401 otherwise.
struct Merchant;

impl FromRequestParts<App> for Merchant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let authorization = parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes());
        if app.merchant_tokens.accepts(authorization) {
            Ok(Self)
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "a valid merchant bearer token is required",
            ))
        }
    }
}

/// 204 when the token is accepted: the dashboard's login check.
async fn session(_: Merchant) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct NewProductBody {
    sku: String,
    name: String,
    price_cents: i64,
    total: i64,
    #[serde(default)]
    per_customer_limit: u32,
    hold_seconds: Option<u32>,
}

async fn create_product(
    _: Merchant,
    State(app): State<App>,
    body: Result<Json<NewProductBody>, JsonRejection>,
) -> Result<(StatusCode, Json<ProductJson>), ApiError> {
    let Json(body) = body?;
    let mut product = NewProduct::new(Sku::new(body.sku)?, body.name, body.price_cents, body.total);
    product.per_customer_limit = body.per_customer_limit;
    if let Some(hold_seconds) = body.hold_seconds {
        product.hold_seconds = hold_seconds;
    }
    let created = app
        .call("create_product", app.engine.create_product(&product))
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

#[derive(Deserialize)]
struct RestockBody {
    delta: i64,
}

async fn restock(
    _: Merchant,
    State(app): State<App>,
    Path(sku): Path<String>,
    body: Result<Json<RestockBody>, JsonRejection>,
) -> Result<Json<ProductJson>, ApiError> {
    let Json(body) = body?;
    let sku = Sku::new(sku)?;
    let product = app
        .call("restock", app.engine.restock(&sku, body.delta))
        .await?;
    Ok(Json(product.into()))
}

/// Closes the sale now: reserves are refused until it is resumed.
async fn pause(
    _: Merchant,
    State(app): State<App>,
    Path(sku): Path<String>,
) -> Result<Json<ProductJson>, ApiError> {
    let sku = Sku::new(sku)?;
    let now = app.engine.now_ms();
    let current = app.engine.product(&sku).await?;
    let update = ProductUpdate {
        sale_ends_at_ms: Some(Some(now)),
        // A start still to come would fall after the new end.
        sale_starts_at_ms: current
            .sale_starts_at_ms
            .filter(|&start| start >= now)
            .map(|_| None),
        ..ProductUpdate::default()
    };
    let product = app
        .call("update_product", app.engine.update_product(&sku, &update))
        .await?;
    Ok(Json(product.into()))
}

/// Opens the sale again, with no end.
async fn resume(
    _: Merchant,
    State(app): State<App>,
    Path(sku): Path<String>,
) -> Result<Json<ProductJson>, ApiError> {
    let sku = Sku::new(sku)?;
    let update = ProductUpdate {
        sale_ends_at_ms: Some(None),
        ..ProductUpdate::default()
    };
    let product = app
        .call("update_product", app.engine.update_product(&sku, &update))
        .await?;
    Ok(Json(product.into()))
}

#[derive(Deserialize)]
struct OrdersQuery {
    limit: Option<usize>,
}

async fn recent_orders(
    _: Merchant,
    State(app): State<App>,
    Query(query): Query<OrdersQuery>,
) -> Result<Json<Vec<Order>>, ApiError> {
    let orders = app
        .call(
            "recent_orders",
            app.engine.recent_orders(query.limit.unwrap_or(20)),
        )
        .await?;
    Ok(Json(orders))
}
