//! One product's keys and stock channel, all under its hash tag `{SKU}`:
//! the keys every state-changing script takes, the ended hashes of each
//! retention period, layout 1's request records, and the product's slot.

use super::names::PREFIX;
use super::partitions::cluster_hash;
use crate::types::Sku;

/// The keys and channel of one product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductKeys {
    pub sku: Sku,
    /// Hash: settings, the counters `total`, `available`, `held`, `sold`,
    /// `version`, and the tallies of granted and ended units.
    pub product: String,
    /// Hash: hold key → hold record, for live (HELD and CONFIRMED) holds.
    pub holds: String,
    /// Sorted set: due entry (the keys of the holds one call made) → their
    /// deadline, for HELD holds.
    pub due: String,
    /// Hash: customer id → units in active and purchased holds.
    pub customers: String,
    /// Sorted set: hold key → purchase deadline, for CONFIRMED holds.
    pub purchase_due: String,
    /// Hash: customer id → the tokens of their live holds of the product,
    /// space-separated.
    pub holders: String,
    /// Hash: what the shop was last told of the product's availability
    /// (`in_stock`: 1 or 0, `changes`: how many changes it was told of), for
    /// the `product.sold_out` and `product.back_in_stock` webhooks.
    pub announced: String,
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
            holders: key("holders"),
            announced: key("announced"),
            stock_channel: key("stock"),
        }
    }

    /// Hash: hold key → record of the holds that ended in retention period
    /// `period` (see [`Retention`]); it expires by itself.
    ///
    /// [`Retention`]: super::Retention
    pub fn ended(&self, period: i64) -> String {
        format!("{PREFIX}:ended:{{{}}}:{period}", self.sku)
    }

    /// The nine keys every state-changing script takes, in script order
    /// (see `scripts/lib.lua`), for a call made in retention period `period`.
    pub fn script_keys(&self, period: i64) -> [String; 9] {
        [
            self.product.clone(),
            self.holds.clone(),
            self.due.clone(),
            self.customers.clone(),
            self.purchase_due.clone(),
            self.ended(period),
            self.ended(period - 1),
            self.ended(period - 2),
            self.holders.clone(),
        ]
    }

    /// Layout 1's record of one reserve request, read by the layout upgrade.
    pub fn legacy_request(&self, request_id: &str) -> String {
        format!("{PREFIX}:request:{{{}}}:{request_id}", self.sku)
    }

    /// Layout 1's record of a cart request's line, read by the layout upgrade.
    pub fn legacy_cart_request(&self, request_id: &str) -> String {
        format!("{PREFIX}:cart-request:{{{}}}:{request_id}", self.sku)
    }

    /// The Redis Cluster slot of every key of the product: CRC16 of its hash
    /// tag, the SKU.
    pub fn slot(&self) -> u16 {
        cluster_hash(self.sku.as_str()) % 16384
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_of_a_product_carries_its_hash_tag() {
        let sku = Sku::new("TEE-1").unwrap();
        let keys = ProductKeys::new(&sku);
        for key in keys
            .script_keys(7)
            .iter()
            .map(String::as_str)
            .chain([keys.stock_channel.as_str(), &keys.legacy_request("r-1")])
        {
            assert!(key.contains("{TEE-1}"), "{key}");
            assert_eq!(key.matches('{').count(), 1, "{key}");
        }
        assert_eq!(keys.stock_channel, "fs:stock:{TEE-1}");
    }
}
