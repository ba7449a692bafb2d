//! The domain's checked values and requests, built from the plain strings
//! and numbers specs are written in; a value a test got wrong panics here,
//! before it reaches the engine.

use crate::types::{CartLine, CartRequest, CustomerId, Quantity, RequestId, ReserveRequest, Sku};

pub fn sku_of(sku: &str) -> Sku {
    Sku::new(sku).expect("valid test SKU")
}

pub fn customer_of(customer: &str) -> CustomerId {
    CustomerId::new(customer).expect("valid test customer")
}

pub fn request_of(request: &str) -> RequestId {
    RequestId::new(request).expect("valid test request id")
}

/// A reserve request; the `request_id` is `request`.
pub fn reserve(sku: &Sku, customer: &str, quantity: i64, request: &str) -> ReserveRequest {
    ReserveRequest {
        sku: sku.clone(),
        quantity: Quantity::new(quantity).expect("valid test quantity"),
        customer_id: customer_of(customer),
        request_id: request_of(request),
    }
}

/// A cart of `(sku, quantity)` lines; the `request_id` is `request`.
pub fn cart(customer: &str, request: &str, lines: &[(&Sku, i64)]) -> CartRequest {
    CartRequest {
        customer_id: customer_of(customer),
        request_id: request_of(request),
        lines: lines
            .iter()
            .map(|&(sku, quantity)| {
                CartLine::new(sku.as_str(), quantity).expect("valid test cart line")
            })
            .collect(),
    }
}
