//! A customer's keys: the index of the products they may hold, under their
//! own hash tag, and the channel of their hold events.

use super::names::{CUSTOMER_CHANNEL_PREFIX, PREFIX};
use crate::types::CustomerId;

/// Sorted set: sku → when a reserve of the customer's last noted it (ms),
/// for every product the customer may hold live holds of; see
/// `Engine::customer_holds`. Under the customer's own hash tag: a
/// customer's holds span products, and so slots.
pub fn shopper_products(customer: &CustomerId) -> String {
    format!("{PREFIX}:shopper:{{{customer}}}")
}

/// The channel of one customer's hold events.
pub fn customer_channel(customer: &CustomerId) -> String {
    format!("{CUSTOMER_CHANNEL_PREFIX}{customer}")
}
