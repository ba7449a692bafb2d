//! A private Redis Cluster on loopback: several [`LocalRedis`] Cluster nodes
//! joined by `redis-cli --cluster create`, stopped when dropped. Tests use it
//! to run the engine on shards, and to fail a primary over.
//!
//! One idea per file: `options` is the shape of a Cluster, `start` forms one
//! and waits until every slot is served, `nodes` reaches its nodes (seed
//! lists, `redis-cli`, which nodes answer, polling), `slots` finds and moves
//! the primary serving a key, `failover` hands a primary's slots to its
//! replica, `replies` reads what `CLUSTER NODES` and `INFO replication` say.

mod failover;
mod nodes;
mod options;
mod replies;
mod slots;
mod start;

use crate::local_redis::LocalRedis;

pub use options::LocalClusterOptions;

/// A running private Redis Cluster.
pub struct LocalCluster {
    options: LocalClusterOptions,
    nodes: Vec<LocalRedis>,
}
