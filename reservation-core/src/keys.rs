//! The Redis key schema. Every key and channel name the engine uses is built
//! here and nowhere else.
//!
//! All keys of one product carry the hash tag `{SKU}`, so on Redis Cluster
//! they share one slot and each script runs on one shard. The SKU alphabet has
//! no braces, so the tag can never be broken by a product's name.

use crate::types::{CustomerId, RequestId, ReservationId, Sku};

const PREFIX: &str = "fs";

/// Sorted set of every product's SKU (all scores 0, so it pages by name).
/// It lives outside any product's slot; see `Engine::create_product`.
pub const CATALOG: &str = "fs:catalog";

/// The number of partitions every process of a deployment was started with
/// (see [`Partitions`]); the first process records it, the others check it.
pub const PARTITION_COUNT: &str = "fs:partitions";

/// The consumer group of the purchase workers on each partition's
/// [`PartitionKeys::purchases`] stream.
pub const PURCHASE_GROUP: &str = "purchase-workers";

/// Stream of purchase jobs that failed for good (their holds were released).
pub const DEAD_PURCHASES: &str = "fs:purchases:dead";

/// Prefix of the customer channels that carry hold events.
pub const CUSTOMER_CHANNEL_PREFIX: &str = "fs:customer:";

/// How the purchase and order streams and the sweep index are split.
///
/// One stream or one index for the whole deployment would pin all purchase
/// traffic, or every sweeper's reads, to the one Redis Cluster shard that
/// holds it. Each partition has its own keys under its own hash tag
/// (`{part-N}`), so partitions spread over the shards. A purchase job goes to
/// the partition of its reservation (so even one hot product's purchases
/// spread out), a product to the partition of its SKU in the sweep index.
/// The hash is Redis Cluster's own (CRC16), stable across processes and
/// versions: every process of a deployment must use the same count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partitions(u16);

impl Partitions {
    /// The most partitions a deployment may have.
    pub const MAX: u16 = 1024;

    /// `None` unless `1 <= count <= MAX`.
    pub fn new(count: u16) -> Option<Self> {
        (1..=Self::MAX).contains(&count).then_some(Self(count))
    }

    pub fn count(self) -> u16 {
        self.0
    }

    /// Every partition's keys.
    pub fn all(self) -> impl Iterator<Item = PartitionKeys> {
        (0..self.0).map(PartitionKeys::new)
    }

    /// The partition whose stream carries the purchase job of `reservation`.
    pub fn of_reservation(self, reservation: &ReservationId) -> PartitionKeys {
        self.of(&reservation.to_string())
    }

    /// The partition whose sweep index lists `sku`.
    pub fn of_product(self, sku: &Sku) -> PartitionKeys {
        self.of(sku.as_str())
    }

    fn of(self, name: &str) -> PartitionKeys {
        PartitionKeys::new(cluster_hash(name) % self.0)
    }
}

impl std::str::FromStr for Partitions {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse()
            .ok()
            .and_then(Self::new)
            .ok_or_else(|| format!("a partition count is 1 to {}, not {s:?}", Self::MAX))
    }
}

impl std::fmt::Display for Partitions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Default for Partitions {
    /// Four: enough to spread over a three-shard Cluster.
    fn default() -> Self {
        Self(4)
    }
}

/// Redis Cluster's key hash (CRC16/XMODEM), before it is taken modulo the
/// 16384 slots.
fn cluster_hash(text: &str) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(text.as_bytes())
}

/// The keys of one partition (see [`Partitions`]), all under its hash tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionKeys {
    pub index: u16,
    /// Stream of purchase jobs (one per confirmed hold), read by purchase
    /// workers through the [`PURCHASE_GROUP`] consumer group.
    pub purchases: String,
    /// Stream of finished orders, for downstream systems' own consumer groups.
    pub orders: String,
    /// Set of SKUs that may have HELD or CONFIRMED holds: the sweepers' work
    /// list, so they never scan the keyspace. A reserve that gives a product
    /// its first active hold adds it; a sweeper removes products with none left.
    pub active_products: String,
}

impl PartitionKeys {
    pub fn new(index: u16) -> Self {
        let key = |kind: &str| format!("{PREFIX}:{kind}:{{part-{index}}}");
        Self {
            index,
            purchases: key("purchases"),
            orders: key("orders"),
            active_products: key("active-products"),
        }
    }
}

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

    /// The record of a cart request's line of this product. Apart from
    /// [`ProductKeys::request`], so that a cart and a single reserve that
    /// happen to share a request id never answer for each other.
    pub fn cart_request(&self, request_id: &RequestId) -> String {
        format!("{PREFIX}:cart-request:{{{}}}:{request_id}", self.sku)
    }

    /// The Redis Cluster slot of every key of the product: CRC16 of its hash
    /// tag, the SKU.
    pub fn slot(&self) -> u16 {
        cluster_hash(self.sku.as_str()) % 16384
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

    #[test]
    fn partitions_are_stable_and_each_key_of_one_carries_its_tag() {
        let partitions = Partitions::new(4).unwrap();
        let sku = Sku::new("TEE-1").unwrap();
        assert_eq!(partitions.of_product(&sku), partitions.of_product(&sku));
        for keys in partitions.all() {
            let tag = format!("{{part-{}}}", keys.index);
            for key in [&keys.purchases, &keys.orders, &keys.active_products] {
                assert!(key.ends_with(&tag), "{key}");
            }
        }
        // Redis Cluster's CRC16 of "TEE-1", modulo 4.
        assert_eq!(partitions.of_product(&sku).index, 0xEE78 % 4);
        assert_eq!("8".parse(), Ok(Partitions::new(8).unwrap()));
        assert!("0".parse::<Partitions>().is_err());
        assert_eq!(Partitions::new(0), None);
        assert_eq!(Partitions::new(Partitions::MAX + 1), None);
    }
}
