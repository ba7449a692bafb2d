//! The index of products that may have active (HELD or CONFIRMED) holds, so
//! sweepers visit those and never scan the keyspace. It is split into the
//! deployment's partitions (one set each, under the partition's hash tag),
//! so on Redis Cluster the sweepers' reads spread over the shards.
//!
//! A product joins when a reserve gives it its first active hold; a sweeper
//! takes it out when none is left. Taking out is race-free without a
//! cross-slot script: remove first, then look again and put it back if a hold
//! appeared meanwhile (a reserve's own add always comes after its script).
//! A process that dies between its reserve and the add leaves a product out;
//! [`Engine::reindex_active`] (run now and then by sweepers) finds it again.

use super::Engine;
use crate::error::Result;
use crate::keys::ProductKeys;
use crate::types::Sku;

impl Engine {
    pub(super) async fn mark_active(&self, sku: &Sku) -> Result<()> {
        self.redis
            .query::<i64>(redis::cmd("SADD").arg(self.index_of(sku)).arg(sku.as_str()))
            .await
            .map(drop)
    }

    /// The products that may have active holds, over every partition.
    pub async fn active_products(&self) -> Result<Vec<Sku>> {
        // The partitions at once: on a Cluster they sit on different shards.
        let partitions = self.config.partitions.all().map(|partition| async move {
            self.redis
                .query::<Vec<String>>(redis::cmd("SMEMBERS").arg(&partition.active_products))
                .await
        });
        let members = futures_util::future::try_join_all(partitions).await?;
        // A member that is not a valid SKU was not written by the engine.
        Ok(members
            .into_iter()
            .flatten()
            .filter_map(|m| Sku::new(m).ok())
            .collect())
    }

    /// Takes `sku` out of the index, unless it has active holds.
    pub async fn deactivate(&self, sku: &Sku) -> Result<()> {
        self.redis
            .query::<i64>(redis::cmd("SREM").arg(self.index_of(sku)).arg(sku.as_str()))
            .await?;
        if self.has_active_holds(sku).await? {
            self.mark_active(sku).await?;
        }
        Ok(())
    }

    /// Puts back every product of the catalog that has active holds but is
    /// missing from the index. Returns how many were missing.
    pub async fn reindex_active(&self) -> Result<usize> {
        let mut missing = 0;
        let mut after = None;
        loop {
            let page = self.list_skus(after.as_ref(), 500).await?;
            for sku in &page {
                let indexed: bool = self
                    .redis
                    .query(
                        redis::cmd("SISMEMBER")
                            .arg(self.index_of(sku))
                            .arg(sku.as_str()),
                    )
                    .await?;
                if !indexed && self.has_active_holds(sku).await? {
                    self.mark_active(sku).await?;
                    missing += 1;
                }
            }
            if page.len() < 500 {
                return Ok(missing);
            }
            after = page.last().cloned();
        }
    }

    /// The index set that lists `sku`.
    fn index_of(&self, sku: &Sku) -> String {
        self.config.partitions.of_product(sku).active_products
    }

    async fn has_active_holds(&self, sku: &Sku) -> Result<bool> {
        let keys = ProductKeys::new(sku);
        let due: i64 = self.redis.query(redis::cmd("ZCARD").arg(&keys.due)).await?;
        let confirmed: i64 = self
            .redis
            .query(redis::cmd("ZCARD").arg(&keys.purchase_due))
            .await?;
        Ok(due + confirmed > 0)
    }
}
