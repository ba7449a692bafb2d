//! What the shop has been told of each product's availability, for the
//! `product.sold_out` and `product.back_in_stock` webhooks. The webhooks are
//! level-triggered: a worker compares a product's stock now with what was
//! last told (`fs:announced:{SKU}`), tells the change, and records it only
//! once the shop took it. A worker that dies between the two leaves the
//! record as it was, so the change is told again, under the same count.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::keys::ProductKeys;
use crate::scripts::SCRIPTS;
use crate::types::Sku;

use super::Engine;

/// What the shop was last told of a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announced {
    pub in_stock: bool,
    /// How many changes of availability the shop was told of.
    pub changes: u64,
}

impl Engine {
    /// What the shop was last told of `sku`, if anything was recorded.
    pub async fn announced(&self, sku: &Sku) -> Result<Option<Announced>> {
        let keys = ProductKeys::new(sku);
        let fields: HashMap<String, String> = self
            .redis
            .query(redis::cmd("HGETALL").arg(&keys.announced))
            .await?;
        let field = |name: &str| fields.get(name).and_then(|v| v.parse::<u64>().ok());
        Ok(match (field("in_stock"), field("changes")) {
            (Some(in_stock), Some(changes)) => Some(Announced {
                in_stock: in_stock == 1,
                changes,
            }),
            _ => None,
        })
    }

    /// Records that the shop now knows `sku` as `in_stock`, if the record is
    /// still the one read (`read`); `told` counts it as a change the shop
    /// was told of, rather than the first state seen. Returns whether it was
    /// recorded (another worker may have recorded the same change first).
    pub async fn record_announced(
        &self,
        sku: &Sku,
        read: Option<Announced>,
        in_stock: bool,
        told: bool,
    ) -> Result<bool> {
        let keys = ProductKeys::new(sku);
        let mut call = SCRIPTS.announce_availability.prepare_invoke();
        call.key(&keys.announced)
            .arg(read.map_or(0, |announced| announced.changes))
            .arg(u8::from(in_stock))
            .arg(u8::from(told));
        let recorded: i64 = redis::from_redis_value(self.redis.invoke(&call).await?)
            .map_err(|e| Error::Internal(format!("announce_availability answered {e}")))?;
        Ok(recorded == 1)
    }
}
