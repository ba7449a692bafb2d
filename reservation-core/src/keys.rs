//! The Redis key schema. Every key and channel name the engine uses is built
//! here and nowhere else.
//!
//! All keys of one product carry the hash tag `{SKU}`, so on Redis Cluster
//! they share one slot and each script runs on one shard. The SKU alphabet has
//! no braces, so the tag can never be broken by a product's name.

use crate::types::{CustomerId, RequestId, Sku};

const PREFIX: &str = "fs";

/// Sorted set of every product's SKU (all scores 0, so it pages by name).
/// It lives outside any product's slot; see `Engine::create_product`.
pub const CATALOG: &str = "fs:catalog";

/// Set of SKUs that may have HELD or CONFIRMED holds: the sweeper's work
/// list, so it never scans the keyspace. A reserve that gives a product its
/// first active hold adds it; the sweeper removes products with none left.
pub const ACTIVE_PRODUCTS: &str = "fs:active-products";

/// Stream of purchase jobs (one per confirmed hold), read by purchase
/// workers through the [`PURCHASE_GROUP`] consumer group.
pub const PURCHASES: &str = "fs:purchases";

/// The consumer group of the purchase workers on [`PURCHASES`].
pub const PURCHASE_GROUP: &str = "purchase-workers";

/// Stream of finished orders, for downstream systems' own consumer groups.
pub const ORDERS: &str = "fs:orders";

/// Stream of purchase jobs that failed for good (their holds were released).
pub const DEAD_PURCHASES: &str = "fs:purchases:dead";

/// Prefix of the customer channels that carry hold events.
pub const CUSTOMER_CHANNEL_PREFIX: &str = "fs:customer:";

/// The keys and channel of one product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductKeys {
    pub sku: Sku,
    /// Hash: settings and the counters `total`, `available`, `held`, `sold`, `version`.
    pub product: String,
    /// Hash: hold token → hold record (JSON).
    pub holds: String,
    /// Sorted set: token → deadline, for HELD holds. The sweeper's work list.
    pub due: String,
    /// Hash: customer id → units in active and purchased holds.
    pub customers: String,
    /// Sorted set: token → purchase deadline, for CONFIRMED holds.
    pub purchase_due: String,
    /// Pub/sub channel of the product's stock events.
    pub stock_channel: String,
}

impl ProductKeys {
    pub fn new(sku: &Sku) -> Self {
        let key = |kind: &str| format!("{PREFIX}:{kind}:{{{sku}}}");
        Self {
            sku: sku.clone(),
            product: key("product"),
            holds: key("holds"),
            due: key("due"),
            customers: key("customers"),
            purchase_due: key("purchase-due"),
            stock_channel: key("stock"),
        }
    }

    /// The five keys every state-changing script takes, in script order.
    pub fn script_keys(&self) -> [&str; 5] {
        [
            &self.product,
            &self.holds,
            &self.due,
            &self.customers,
            &self.purchase_due,
        ]
    }

    /// The record of one reserve request, kept for idempotency.
    pub fn request(&self, request_id: &RequestId) -> String {
        format!("{PREFIX}:request:{{{}}}:{request_id}", self.sku)
    }
}

/// The channel of one customer's hold events.
pub fn customer_channel(customer: &CustomerId) -> String {
    format!("{CUSTOMER_CHANNEL_PREFIX}{customer}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_product_carries_its_hash_tag() {
        let sku = Sku::new("TEE-1").unwrap();
        let keys = ProductKeys::new(&sku);
        let request = keys.request(&RequestId::new("r-1").unwrap());
        for key in keys
            .script_keys()
            .into_iter()
            .chain([keys.stock_channel.as_str(), request.as_str()])
        {
            assert!(key.contains("{TEE-1}"), "{key}");
            assert_eq!(key.matches('{').count(), 1, "{key}");
        }
        assert_eq!(keys.stock_channel, "fs:stock:{TEE-1}");
    }
}
