//! The handlers: each turns a request into one engine call and its answer
//! into JSON.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use reservation_core::{
    CartLine, CartRequest, Hold, HoldState, Product, Quantity, RequestId, Reservation,
    ReservationId, ReserveRequest, Sku, StockSnapshot,
};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::customer::{Customer, Peer};
use crate::app::App;

pub fn api() -> Router<App> {
    Router::new()
        .route("/api/products", get(list_products))
        .route("/api/products/{sku}", get(get_product))
        .route("/api/products/{sku}/reservations", post(reserve))
        .route("/api/carts", post(reserve_cart))
        .route("/api/reservations", get(list_reservations))
        .route(
            "/api/reservations/{id}",
            get(get_reservation).delete(cancel),
        )
        .route("/api/reservations/{id}/confirm", post(confirm))
}

type Answer<T> = Result<Json<T>, ApiError>;

/// A product: its stock event's fields, then its settings.
#[derive(Serialize)]
pub(super) struct ProductJson {
    #[serde(flatten)]
    stock: StockSnapshot,
    name: String,
    price_cents: i64,
    per_customer_limit: u32,
    hold_seconds: u32,
    sale_starts_at_ms: Option<i64>,
    sale_ends_at_ms: Option<i64>,
}

impl From<Product> for ProductJson {
    fn from(p: Product) -> Self {
        Self {
            stock: p.stock,
            name: p.name,
            price_cents: p.price_cents,
            per_customer_limit: p.per_customer_limit,
            hold_seconds: p.hold_seconds,
            sale_starts_at_ms: p.sale_starts_at_ms,
            sale_ends_at_ms: p.sale_ends_at_ms,
        }
    }
}

#[derive(Serialize)]
struct ReservationJson {
    id: ReservationId,
    sku: Sku,
    quantity: u32,
    /// As of the answer: a HELD hold past its deadline reads EXPIRED.
    state: HoldState,
    expires_at_ms: i64,
    created_at_ms: i64,
    request_id: RequestId,
}

impl ReservationJson {
    fn new(hold: Hold, now_ms: i64) -> Self {
        Self {
            state: hold.state_at(now_ms),
            sku: hold.id.sku().clone(),
            id: hold.id,
            quantity: hold.quantity,
            expires_at_ms: hold.expires_at_ms,
            created_at_ms: hold.created_at_ms,
            request_id: hold.request_id,
        }
    }
}

#[derive(Deserialize)]
struct ListQuery {
    after: Option<String>,
    limit: Option<usize>,
}

#[derive(Serialize)]
struct ProductList {
    products: Vec<ProductJson>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_after: Option<Sku>,
}

async fn list_products(
    State(app): State<App>,
    Query(query): Query<ListQuery>,
) -> Answer<ProductList> {
    let after = query.after.map(Sku::new).transpose()?;
    let page = app
        .call(
            "list_products",
            app.engine
                .list_products(after.as_ref(), query.limit.unwrap_or(100)),
        )
        .await?;
    Ok(Json(ProductList {
        products: page.products.into_iter().map(ProductJson::from).collect(),
        next_after: page.next_after,
    }))
}

async fn get_product(State(app): State<App>, Path(sku): Path<String>) -> Answer<ProductJson> {
    let sku = Sku::new(sku)?;
    let product = app.call("get_product", app.engine.product(&sku)).await?;
    Ok(Json(product.into()))
}

#[derive(Deserialize)]
struct ReserveBody {
    quantity: i64,
    request_id: String,
}

#[derive(Serialize)]
struct ReserveAnswer {
    reservation: ReservationJson,
    available: i64,
    replayed: bool,
}

async fn reserve(
    State(app): State<App>,
    Customer(customer): Customer,
    Peer(address): Peer,
    Path(sku): Path<String>,
    body: Result<Json<ReserveBody>, JsonRejection>,
) -> Result<(StatusCode, Json<ReserveAnswer>), ApiError> {
    let Json(body) = body?;
    let request = ReserveRequest {
        sku: Sku::new(sku)?,
        quantity: Quantity::new(body.quantity)?,
        customer_id: customer,
        request_id: RequestId::new(body.request_id)?,
    };
    app.limits
        .reserve(&request.customer_id, address, request.quantity.get())?;
    let reservation = app.call("reserve", app.reserves.reserve(request)).await?;
    let status = if reservation.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(ReserveAnswer::new(reservation, &app))))
}

impl ReserveAnswer {
    fn new(reservation: Reservation, app: &App) -> Self {
        Self {
            reservation: ReservationJson::new(reservation.hold, app.engine.now_ms()),
            available: reservation.available,
            replayed: reservation.replayed,
        }
    }
}

#[derive(Deserialize)]
struct CartBody {
    lines: Vec<CartLineBody>,
    request_id: String,
}

#[derive(Deserialize)]
struct CartLineBody {
    sku: String,
    quantity: i64,
}

#[derive(Serialize)]
struct CartAnswer {
    /// One per line, in the request's order.
    lines: Vec<ReserveAnswer>,
}

/// Every line held, or none: a refusal names the line's SKU.
async fn reserve_cart(
    State(app): State<App>,
    Customer(customer): Customer,
    Peer(address): Peer,
    body: Result<Json<CartBody>, JsonRejection>,
) -> Result<(StatusCode, Json<CartAnswer>), ApiError> {
    let Json(body) = body?;
    let cart = CartRequest {
        customer_id: customer,
        request_id: RequestId::new(body.request_id)?,
        lines: body
            .lines
            .into_iter()
            .map(|line| CartLine::new(line.sku, line.quantity))
            .collect::<reservation_core::Result<_>>()?,
    };
    app.limits
        .reserve(&cart.customer_id, address, cart.units())?;
    let reservations = app
        .call("reserve_cart", app.engine.reserve_cart(&cart))
        .await?;
    let status = if reservations.iter().all(|r| r.replayed) {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let lines = reservations
        .into_iter()
        .map(|reservation| ReserveAnswer::new(reservation, &app))
        .collect();
    Ok((status, Json(CartAnswer { lines })))
}

async fn get_reservation(
    State(app): State<App>,
    Customer(customer): Customer,
    Path(id): Path<String>,
) -> Answer<ReservationJson> {
    let id: ReservationId = id.parse()?;
    let hold = app
        .call("get_reservation", app.engine.reservation(&id))
        .await?;
    // Someone else's hold is answered exactly like a missing one.
    if hold.customer_id != customer {
        return Err(reservation_core::Error::ReservationNotFound(id).into());
    }
    Ok(Json(ReservationJson::new(hold, app.engine.now_ms())))
}

#[derive(Deserialize)]
struct HoldsQuery {
    sku: Option<String>,
    page_size: Option<usize>,
    page_token: Option<String>,
}

#[derive(Serialize)]
struct HoldList {
    /// The shopper's live holds, newest first.
    reservations: Vec<ReservationJson>,
    /// Pass as `page_token` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<ReservationId>,
}

/// The calling shopper's live holds: of one product (`sku`) or of all.
async fn list_reservations(
    State(app): State<App>,
    Customer(customer): Customer,
    Query(query): Query<HoldsQuery>,
) -> Answer<HoldList> {
    let sku = query.sku.map(Sku::new).transpose()?;
    let after = query
        .page_token
        .map(|token| token.parse::<ReservationId>())
        .transpose()
        .map_err(|_| reservation_core::Error::InvalidArgument {
            field: "page_token",
            reason: "is not a token this server handed out".into(),
        })?;
    let page_size = query.page_size.unwrap_or(crate::grpc::DEFAULT_PAGE_SIZE);
    let page = app
        .call(
            "list_reservations",
            app.engine
                .customer_holds(&customer, sku.as_ref(), after.as_ref(), page_size),
        )
        .await?;
    let now = app.engine.now_ms();
    Ok(Json(HoldList {
        reservations: page
            .holds
            .into_iter()
            .map(|hold| ReservationJson::new(hold, now))
            .collect(),
        next_page_token: page.next_page_token,
    }))
}

async fn confirm(
    State(app): State<App>,
    Customer(customer): Customer,
    Path(id): Path<String>,
) -> Answer<ReservationJson> {
    let id: ReservationId = id.parse()?;
    let transition = app
        .call("confirm", app.engine.confirm(&id, Some(&customer)))
        .await?;
    Ok(Json(ReservationJson::new(
        transition.hold,
        app.engine.now_ms(),
    )))
}

async fn cancel(
    State(app): State<App>,
    Customer(customer): Customer,
    Path(id): Path<String>,
) -> Answer<ReservationJson> {
    let id: ReservationId = id.parse()?;
    let transition = app
        .call("cancel", app.engine.cancel(&id, Some(&customer)))
        .await?;
    Ok(Json(ReservationJson::new(
        transition.hold,
        app.engine.now_ms(),
    )))
}
