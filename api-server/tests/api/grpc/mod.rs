//! The gRPC API as a merchant's back-end calls it with tonic: every RPC and
//! every refusal reason, WatchStock, and input the wire must refuse or carry.
//! Each module specifies one service or concern; the request builders they
//! share are here.

mod buffers;
mod inventory;
mod names;
mod reservations;
mod watch;

use flashsale_proto::v1 as pb;

/// A product of `total` units with the server's defaults: no limit, no
/// window, the default hold.
fn create(sku: &str, total: i64) -> pb::CreateProductRequest {
    pb::CreateProductRequest {
        sku: sku.into(),
        name: format!("Product {sku}"),
        price_cents: 1_500,
        total,
        per_customer_limit: 0,
        hold_seconds: 0,
        sale_starts_at: None,
        sale_ends_at: None,
    }
}

/// A reserve request; the `request_id` is `request`.
fn reserve(sku: &str, customer: &str, quantity: i64, request: &str) -> pb::ReserveRequest {
    pb::ReserveRequest {
        sku: sku.into(),
        quantity,
        customer_id: customer.into(),
        request_id: request.into(),
    }
}
