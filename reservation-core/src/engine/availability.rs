//! What each of the shop's endpoints has been told of each product's
//! availability, for the `product.sold_out` and `product.back_in_stock`
//! webhooks. The webhooks are level-triggered, per endpoint: a worker
//! compares a product's stock now with what the endpoint was last told
//! (`fs:announced:{SKU}`), tells the change, and records it only once the
//! endpoint took it. A worker that dies between the two leaves the record
//! as it was, so the change is told again, under the same count.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::keys::ProductKeys;
use crate::scripts::SCRIPTS;
use crate::types::Sku;

use super::Engine;

/// What an endpoint was last told of a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Announced {
    pub in_stock: bool,
    /// How many changes of availability the endpoint was told of.
    pub changes: u64,
}

impl Engine {
    /// What each endpoint was last told of `sku`, by endpoint: one read
    /// for all of them.
    pub async fn announcements(&self, sku: &Sku) -> Result<HashMap<String, Announced>> {
        let keys = ProductKeys::new(sku);
        let fields: HashMap<String, String> = self
            .redis
            .query(redis::cmd("HGETALL").arg(&keys.announced))
            .await?;
        let value = |endpoint: &str, name: &str| {
            fields
                .get(&format!("{endpoint}|{name}"))
                .and_then(|v| v.parse::<u64>().ok())
        };
        Ok(fields
            .keys()
            .filter_map(|field| field.strip_suffix("|changes"))
            .filter_map(|endpoint| {
                let in_stock = value(endpoint, "in_stock")?;
                let changes = value(endpoint, "changes")?;
                Some((
                    endpoint.to_owned(),
                    Announced {
                        in_stock: in_stock == 1,
                        changes,
                    },
                ))
            })
            .collect())
    }

    /// What `endpoint` was last told of `sku`, if anything was recorded.
    pub async fn announced(&self, sku: &Sku, endpoint: &str) -> Result<Option<Announced>> {
        Ok(self.announcements(sku).await?.remove(endpoint))
    }

    /// Records that `endpoint` now knows `sku` as `in_stock`, if the record
    /// is still the one read (`read`, `None` for no record); `told` counts it
    /// as a change the endpoint was told of, rather than the first state
    /// seen. Returns whether it was recorded (another worker may have
    /// recorded first).
    pub async fn record_announced(
        &self,
        sku: &Sku,
        endpoint: &str,
        read: Option<Announced>,
        in_stock: bool,
        told: bool,
    ) -> Result<bool> {
        let keys = ProductKeys::new(sku);
        let mut call = SCRIPTS.announce_availability.prepare_invoke();
        call.key(&keys.announced)
            .arg(endpoint)
            .arg(read.map_or(-1, |announced| announced.changes as i64))
            .arg(u8::from(in_stock))
            .arg(u8::from(told));
        let recorded: i64 = redis::from_redis_value(self.redis.invoke(&call).await?)
            .map_err(|e| Error::Internal(format!("announce_availability answered {e}")))?;
        Ok(recorded == 1)
    }
}
