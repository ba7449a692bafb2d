//! Domain types. Each one checks its input when it is built, so a value of the
//! type is always valid: a `Sku` is always a legal hash tag, a `Quantity` is
//! never zero, a `ReservationId` always says which product it belongs to.
//!
//! One idea per file: `ids` names things, `requests` is what a client asks
//! for, `holds` is a hold's life and the answers that carry it, `stock` is a
//! product's stock as published, `products` is the catalog, `push` is a
//! browser's push subscription, `push_jobs` what a shopper asked to be told
//! and the pushes that tell it.

mod holds;
mod ids;
mod products;
mod push;
mod push_jobs;
mod push_services;
mod requests;
mod stock;

use crate::error::Error;

pub use holds::{Hold, HoldEvent, HoldState, Reservation, Transition};
pub use ids::{CustomerId, RequestId, ReservationId, Sku};
pub use products::{NewProduct, Product, ProductUpdate};
pub use push::{PushSubscription, SubscriptionId};
pub use push_jobs::{PushInterest, PushJob, PushKind, PushTopics};
pub use push_services::{EndpointPolicy, PushServiceHost, PushServices};
pub use requests::{CartLine, CartRequest, Quantity, ReserveRequest};
pub use stock::{StockEvent, StockSnapshot};

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        field,
        reason: reason.into(),
    }
}
