//! The purchase step over HTTP: each confirmed hold is posted to the shop's
//! endpoint as a `purchase.requested` webhook whose `webhook-id` is the
//! reservation id, the shop's idempotency key (a retry, or a job another
//! worker takes over after a crash, posts the same id again).
//!
//! A 2xx buys the hold. A 4xx that means no (402, 409, 410, 422) declines
//! it: the hold is released at once, with the shop's answer as the reason.
//! Anything else (another status, a timeout, no connection) is tried again
//! with the worker's backoff, then released.

use serde::Serialize;

use super::{Answer, WebhookEndpoint, WebhookSender, WebhookSetupError};
use crate::{Purchase, PurchaseFailure, PurchaseStep};

/// The event type of a purchase request.
pub const PURCHASE_REQUESTED: &str = "purchase.requested";

/// Buys confirmed holds by asking the shop's endpoint.
pub struct WebhookPurchase {
    sender: WebhookSender,
}

/// What the shop is told of a purchase.
#[derive(Debug, Serialize)]
pub struct PurchaseRequest<'a> {
    pub reservation_id: String,
    pub sku: &'a str,
    pub product_name: &'a str,
    pub customer_id: &'a str,
    pub quantity: u32,
    /// The product's price when the purchase is asked for, per unit: a
    /// merchant's change of price between two tries shows in the second.
    pub unit_price_cents: i64,
    pub total_cents: i64,
    pub reserved_at_ms: i64,
    /// When the sweepers will enqueue the purchase again if it is not
    /// finished by then.
    pub purchase_deadline_ms: Option<i64>,
    /// 1 on the first try.
    pub attempt: u32,
}

impl<'a> PurchaseRequest<'a> {
    pub fn of(purchase: &'a Purchase) -> Self {
        let hold = &purchase.hold;
        Self {
            reservation_id: hold.id.to_string(),
            sku: hold.id.sku().as_str(),
            product_name: &purchase.product.name,
            customer_id: hold.customer_id.as_str(),
            quantity: hold.quantity,
            unit_price_cents: purchase.product.price_cents,
            total_cents: purchase.product.price_cents * i64::from(hold.quantity),
            reserved_at_ms: hold.created_at_ms,
            purchase_deadline_ms: hold.purchase_deadline_ms,
            attempt: purchase.attempt,
        }
    }
}

impl WebhookPurchase {
    pub fn new(endpoint: &WebhookEndpoint) -> Result<Self, WebhookSetupError> {
        Ok(Self {
            sender: WebhookSender::new(endpoint)?,
        })
    }
}

impl PurchaseStep for WebhookPurchase {
    async fn purchase(&self, purchase: &Purchase) -> Result<(), PurchaseFailure> {
        let request = PurchaseRequest::of(purchase);
        match self
            .sender
            .send(&request.reservation_id, PURCHASE_REQUESTED, &request)
            .await
        {
            Answer::Accepted => Ok(()),
            Answer::Refused { status, reason } => {
                Err(PurchaseFailure::Declined(format!("{status}: {reason}")))
            }
            Answer::Failed(reason) => Err(PurchaseFailure::Failed(reason)),
        }
    }
}
