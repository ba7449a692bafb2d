//! The Redis key schema. Every key and channel name the engine uses is built
//! here and nowhere else.
//!
//! All keys of one product carry the hash tag `{SKU}`, so on Redis Cluster
//! they share one slot and each script runs on one shard. The SKU alphabet has
//! no braces, so the tag can never be broken by a product's name.
//!
//! One idea per file: `names` holds the fixed names of the deployment,
//! `partitions` splits the purchase and order streams and the sweep index,
//! `retention` is how long ended holds are kept, `product` is one product's
//! keys and channel, `holds` finds a hold's key from its reservation id or
//! its request, `customers` is a customer's index and channel, `push` the
//! keys of web push.

mod customers;
mod holds;
mod names;
mod partitions;
mod product;
mod push;
mod retention;

pub use customers::{customer_channel, shopper_products};
pub use holds::{HoldKey, RequestKind, created_at_ms, request_hold_key};
pub use names::{
    CATALOG, CUSTOMER_CHANNEL_PREFIX, DEAD_PURCHASES, DEAD_WEBHOOKS, LAYOUT, PARTITION_COUNT,
    PURCHASE_GROUP, SWEEPERS, WEBHOOK_GROUP,
};
pub use partitions::{PartitionKeys, Partitions};
pub use product::ProductKeys;
pub use push::{
    DEAD_PUSHES, DEMO_VAPID_KEY, PUSH_GROUP, PUSH_JOBS, PUSH_PRODUCTS, PushProductKeys,
    push_shopper,
};
pub use retention::Retention;
