//! The merchant dashboard's HTTP API, under `/api/admin/`: the same merchant
//! bearer tokens as gRPC, for a page in a browser (which cannot speak gRPC).

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use reservation_core::{NewProduct, Order, ProductUpdate, RequestId, Sku};
use serde::{Deserialize, Deserializer};

use super::ApiError;
use super::routes::ProductJson;
use crate::app::App;

pub fn api() -> Router<App> {
    Router::new()
        .route("/api/admin/session", get(session))
        .route("/api/admin/products", post(create_product))
        .route("/api/admin/products/{sku}", patch(update_product))
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
    sale_starts_at_ms: Option<i64>,
    sale_ends_at_ms: Option<i64>,
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
    product.sale_starts_at_ms = body.sale_starts_at_ms;
    product.sale_ends_at_ms = body.sale_ends_at_ms;
    let created = app
        .call("create_product", app.engine.create_product(&product))
        .await?;
    Ok((StatusCode::CREATED, Json(created.into())))
}

/// Settings to change; a field left out stays as it is, and a sale bound
/// sent as `null` is removed.
#[derive(Deserialize)]
struct UpdateBody {
    name: Option<String>,
    price_cents: Option<i64>,
    per_customer_limit: Option<u32>,
    hold_seconds: Option<u32>,
    #[serde(default, deserialize_with = "present")]
    sale_starts_at_ms: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    sale_ends_at_ms: Option<Option<i64>>,
    paused: Option<bool>,
}

/// A field that is in the body, `null` or not: serde leaves one that is
/// left out at its default, `None`.
fn present<'de, D: Deserializer<'de>>(value: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::deserialize(value).map(Some)
}

async fn update_product(
    _: Merchant,
    State(app): State<App>,
    Path(sku): Path<String>,
    body: Result<Json<UpdateBody>, JsonRejection>,
) -> Result<Json<ProductJson>, ApiError> {
    let Json(body) = body?;
    let update = ProductUpdate {
        name: body.name,
        price_cents: body.price_cents,
        per_customer_limit: body.per_customer_limit,
        hold_seconds: body.hold_seconds,
        sale_starts_at_ms: body.sale_starts_at_ms,
        sale_ends_at_ms: body.sale_ends_at_ms,
        paused: body.paused,
    };
    apply(app, sku, update).await
}

#[derive(Deserialize)]
struct RestockBody {
    delta: i64,
    /// Send the same one again to retry a restock whose answer was lost.
    request_id: Option<String>,
}

async fn restock(
    _: Merchant,
    State(app): State<App>,
    Path(sku): Path<String>,
    body: Result<Json<RestockBody>, JsonRejection>,
) -> Result<Json<ProductJson>, ApiError> {
    let Json(body) = body?;
    let sku = Sku::new(sku)?;
    let request_id = body.request_id.map(RequestId::new).transpose()?;
    let product = app
        .call(
            "restock",
            app.engine
                .restock_with_id(&sku, body.delta, request_id.as_ref()),
        )
        .await?;
    Ok(Json(product.into()))
}

/// Reserves are refused until the sale is resumed; its window is kept.
async fn pause(
    _: Merchant,
    State(app): State<App>,
    Path(sku): Path<String>,
) -> Result<Json<ProductJson>, ApiError> {
    apply(app, sku, ProductUpdate::pause()).await
}

/// The window decides again: a sale resumed before its start opens then.
async fn resume(
    _: Merchant,
    State(app): State<App>,
    Path(sku): Path<String>,
) -> Result<Json<ProductJson>, ApiError> {
    apply(app, sku, ProductUpdate::resume()).await
}

/// One update, one script: nothing is read first, so a concurrent change
/// of other settings is never written over.
async fn apply(
    app: App,
    sku: String,
    update: ProductUpdate,
) -> Result<Json<ProductJson>, ApiError> {
    let sku = Sku::new(sku)?;
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
