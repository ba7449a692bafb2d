//! The partitions: how the purchase and order streams and the sweep index
//! are split over a Cluster's shards, each partition's keys under its own
//! hash tag, and Redis Cluster's key hash that picks a partition.

use super::names::PREFIX;
use crate::types::{ReservationId, Sku};

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
pub(super) fn cluster_hash(text: &str) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(text.as_bytes())
}

/// The keys of one partition (see [`Partitions`]), all under its hash tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionKeys {
    pub index: u16,
    /// Stream of purchase jobs (one per confirmed hold), read by purchase
    /// workers through the [`PURCHASE_GROUP`] consumer group.
    ///
    /// [`PURCHASE_GROUP`]: super::PURCHASE_GROUP
    pub purchases: String,
    /// Stream of finished orders, for downstream systems' own consumer groups.
    pub orders: String,
    /// Sorted set: SKU → the earliest deadline of the product's live holds,
    /// for the products of this partition that have any. The sweepers' work
    /// list: a pass reads only the products due, never the keyspace.
    pub sweep_index: String,
    /// String: the sweeper that owns this partition, with a lease (PX) that
    /// it renews while it runs; another takes it over when it lapses.
    pub sweep_lease: String,
    /// Set of SKUs with active holds: layout 1's sweep index, read and
    /// removed by the layout upgrade.
    pub legacy_active_products: String,
}

impl PartitionKeys {
    pub fn new(index: u16) -> Self {
        let key = |kind: &str| format!("{PREFIX}:{kind}:{{part-{index}}}");
        Self {
            index,
            purchases: key("purchases"),
            orders: key("orders"),
            sweep_index: key("sweep"),
            sweep_lease: key("sweep-lease"),
            legacy_active_products: key("active-products"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_each_key_of_one_carries_its_tag() {
        let partitions = Partitions::new(4).unwrap();
        let sku = Sku::new("TEE-1").unwrap();
        assert_eq!(partitions.of_product(&sku), partitions.of_product(&sku));
        for keys in partitions.all() {
            let tag = format!("{{part-{}}}", keys.index);
            for key in [
                &keys.purchases,
                &keys.orders,
                &keys.sweep_index,
                &keys.sweep_lease,
            ] {
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
