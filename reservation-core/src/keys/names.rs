//! The fixed names of a deployment: the prefix every key starts with, the
//! keys outside any product's or partition's slot, the consumer groups, and
//! the prefix of the customer channels.

pub(super) const PREFIX: &str = "fs";

/// Sorted set of every product's SKU (all scores 0, so it pages by name).
/// It lives outside any product's slot; see `Engine::create_product`.
pub const CATALOG: &str = "fs:catalog";

/// The number of partitions every process of a deployment was started with
/// (see [`Partitions`]); the first process records it, the others check it.
///
/// [`Partitions`]: super::Partitions
pub const PARTITION_COUNT: &str = "fs:partitions";

/// The consumer group of the purchase workers on each partition's
/// [`PartitionKeys::purchases`] stream.
///
/// [`PartitionKeys::purchases`]: super::PartitionKeys::purchases
pub const PURCHASE_GROUP: &str = "purchase-workers";

/// Stream of purchase jobs that failed for good (their holds were released).
pub const DEAD_PURCHASES: &str = "fs:purchases:dead";

/// Consumer group through which purchase workers deliver the event webhooks
/// of the orders and dead-letter streams.
pub const WEBHOOK_GROUP: &str = "webhooks";

/// Stream of event webhooks that could not be delivered, with why.
pub const DEAD_WEBHOOKS: &str = "fs:webhooks:dead";

/// Hash: the layout of the deployment's keys (`version`) and the settings
/// every process must share (`retention_ms`). See `Engine::connect`.
pub const LAYOUT: &str = "fs:layout";

/// Sorted set: each running sweeper → when its registration lapses (ms), so
/// sweepers can count each other and share the partitions.
pub const SWEEPERS: &str = "fs:sweepers";

/// Prefix of the customer channels that carry hold events.
pub const CUSTOMER_CHANNEL_PREFIX: &str = "fs:customer:";
