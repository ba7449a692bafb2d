//! How sweepers share the partitions: each running sweeper registers itself
//! with a lease it keeps renewing, so each can count the others; each
//! partition has a lease of its own, held by one sweeper at a time. A
//! sweeper takes its share of the partitions (see `purchase-worker`'s
//! sweeper for the policy); when it dies, its leases lapse and the others
//! take its partitions over. The Redis side is here: the registration, and
//! taking, renewing and giving up a partition's lease atomically.

use std::time::Duration;

use super::Engine;
use crate::error::{Error, Result};
use crate::keys::{PartitionKeys, SWEEPERS};
use crate::scripts::SCRIPTS;

/// What a sweeper learns when it registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweeperRegistration {
    /// Sweepers whose registration has not lapsed, this one included.
    pub running: usize,
}

impl Engine {
    /// Registers `sweeper` as running for `lease` from now, drops the
    /// registrations that lapsed, and counts the sweepers that run.
    pub async fn register_sweeper(
        &self,
        sweeper: &str,
        lease: Duration,
    ) -> Result<SweeperRegistration> {
        let now = self.now_ms();
        self.redis
            .query::<i64>(
                redis::cmd("ZADD")
                    .arg(SWEEPERS)
                    .arg(now + lease.as_millis() as i64)
                    .arg(sweeper),
            )
            .await?;
        self.redis
            .query::<i64>(
                redis::cmd("ZREMRANGEBYSCORE")
                    .arg(SWEEPERS)
                    .arg("-inf")
                    .arg(now),
            )
            .await?;
        let running: usize = self.redis.query(redis::cmd("ZCARD").arg(SWEEPERS)).await?;
        Ok(SweeperRegistration { running })
    }

    /// Takes `sweeper` off the register (it is stopping).
    pub async fn unregister_sweeper(&self, sweeper: &str) -> Result<()> {
        self.redis
            .query::<i64>(redis::cmd("ZREM").arg(SWEEPERS).arg(sweeper))
            .await
            .map(drop)
    }

    /// Takes `partition`'s lease for `lease` when it is free, or renews it
    /// when `sweeper` holds it. Returns whether `sweeper` holds it now.
    pub async fn hold_partition(
        &self,
        partition: &PartitionKeys,
        sweeper: &str,
        lease: Duration,
    ) -> Result<bool> {
        let mut call = SCRIPTS.take_lease.prepare_invoke();
        call.key(&partition.sweep_lease)
            .arg(sweeper)
            .arg(lease.as_millis() as u64);
        let held: i64 = redis::from_redis_value(self.redis.invoke(&call).await?)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(held == 1)
    }

    /// Gives up `partition`'s lease, if `sweeper` still holds it.
    pub async fn give_up_partition(&self, partition: &PartitionKeys, sweeper: &str) -> Result<()> {
        let mut call = SCRIPTS.give_up_lease.prepare_invoke();
        call.key(&partition.sweep_lease).arg(sweeper);
        self.redis.invoke(&call).await.map(drop)
    }

    /// Who holds `partition`'s lease now, if anyone.
    pub async fn partition_holder(&self, partition: &PartitionKeys) -> Result<Option<String>> {
        self.redis
            .query(redis::cmd("GET").arg(&partition.sweep_lease))
            .await
    }
}
