//! The upgrade from layout 1, where every hold stayed forever in its
//! product's holds hash as JSON, each reserve had a request record of its
//! own, and the sweep index was a set per partition.
//!
//! It runs with every other process stopped (they refuse to start while
//! `fs:layout` says it is under way), product by product, in bounded steps:
//! a step converts one page of a product's holds (`scripts/upgrade_holds.lua`).
//! Live holds keep their tokens, so every reservation id handed out before
//! still works, and so do the purchase jobs queued for them; ended holds
//! leave the live set (kept for the retention, counted in the tallies); a
//! request still remembered gets a pointer from its new key to its hold, so
//! a retry after the upgrade gets its first hold back. Then each product
//! with live holds is listed in the new sweep index, and the old index goes.
//! Stopped half-way, it is run again: converted records are skipped.

use std::sync::Arc;

use futures_util::future::try_join_all;
use serde::Deserialize;

use super::layout::{LAYOUT_VERSION, UPGRADING};
use super::{Engine, EngineConfig, Reply};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::keys::{LAYOUT, ProductKeys, RequestKind, request_hold_key};
use crate::redis_config::RedisConfig;
use crate::scripts::SCRIPTS;
use crate::types::Sku;

/// Hold records read and converted per step.
const STEP: usize = 500;

/// What an upgrade did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpgradeReport {
    /// The Redis was in this layout already; nothing was done.
    pub already_current: bool,
    pub products: usize,
    /// Hold records converted from JSON.
    pub holds: u64,
}

/// A layout 1 hold record, as far as the upgrade needs it.
#[derive(Deserialize)]
struct LegacyHold {
    request_id: String,
    #[serde(default)]
    undone: bool,
}

/// A layout 1 request record, as far as the upgrade needs it.
#[derive(Deserialize)]
struct LegacyRequest {
    token: String,
}

impl Engine {
    /// Connects to a Redis to upgrade it: as [`Engine::connect_with_clock`],
    /// but without refusing an old layout.
    pub async fn connect_for_upgrade(
        redis: &RedisConfig,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let engine = Self::open(redis, config, clock).await?;
        engine.check_partitions().await?;
        Ok(engine)
    }

    /// Upgrades the Redis from layout 1 in place; `progress` hears of each
    /// product done with the holds it converted.
    pub async fn upgrade_layout(
        &self,
        mut progress: impl FnMut(&Sku, u64),
    ) -> Result<UpgradeReport> {
        match self.recorded_layout().await?.0.as_deref() {
            Some(v) if v == LAYOUT_VERSION.to_string() => {
                return Ok(UpgradeReport {
                    already_current: true,
                    ..UpgradeReport::default()
                });
            }
            None | Some(UPGRADING) => {}
            Some(other) => {
                return Err(Error::InvalidArgument {
                    field: "layout",
                    reason: format!(
                        "this Redis is in layout {other}, which this version cannot upgrade"
                    ),
                });
            }
        }
        self.redis
            .query::<()>(
                redis::cmd("HSET")
                    .arg(LAYOUT)
                    .arg("version")
                    .arg(UPGRADING)
                    .arg("retention_ms")
                    .arg(self.config.retention.as_millis()),
            )
            .await?;
        let mut report = UpgradeReport::default();
        let mut after = None;
        loop {
            let page = self.list_skus(after.as_ref(), 500).await?;
            for sku in &page {
                let holds = self.upgrade_product(sku).await?;
                progress(sku, holds);
                report.products += 1;
                report.holds += holds;
            }
            if page.len() < 500 {
                break;
            }
            after = page.last().cloned();
        }
        for partition in self.config.partitions.all() {
            self.redis
                .query::<i64>(redis::cmd("DEL").arg(&partition.legacy_active_products))
                .await?;
        }
        self.redis
            .query::<()>(
                redis::cmd("HSET")
                    .arg(LAYOUT)
                    .arg("version")
                    .arg(LAYOUT_VERSION),
            )
            .await?;
        Ok(report)
    }

    /// Converts one product's holds, a page at a time, and lists it in the
    /// sweep index if it has live holds. Returns the records converted.
    async fn upgrade_product(&self, sku: &Sku) -> Result<u64> {
        let keys = ProductKeys::new(sku);
        // Layout 1 had no salts: the first run gives the product one, a
        // run again after a crash finds it.
        self.redis
            .query::<i64>(
                redis::cmd("HSETNX")
                    .arg(&keys.product)
                    .arg("salt")
                    .arg(super::products::new_salt()),
            )
            .await?;
        let salt = self
            .salt(sku)
            .await?
            .ok_or_else(|| Error::ProductNotFound(sku.clone()))?;
        let mut converted = 0;
        let mut cursor = "0".to_owned();
        loop {
            let (next, page): (String, Vec<(String, String)>) = self
                .redis
                .query(
                    redis::cmd("HSCAN")
                        .arg(&keys.holds)
                        .arg(&cursor)
                        .arg("COUNT")
                        .arg(STEP),
                )
                .await?;
            let legacy: Vec<(String, LegacyHold)> = page
                .into_iter()
                .filter(|(_, raw)| raw.starts_with('{'))
                .map(|(token, raw)| {
                    let hold = serde_json::from_str(&raw).map_err(|e| {
                        Error::Internal(format!("hold {sku}~{token} has a malformed record: {e}"))
                    })?;
                    Ok((token, hold))
                })
                .collect::<Result<_>>()?;
            if !legacy.is_empty() {
                converted += self.upgrade_page(&keys, &salt, &legacy).await?;
            }
            if next == "0" {
                break;
            }
            cursor = next;
        }
        if let Some(deadline) = self.earliest_deadline(sku).await? {
            self.index_product(sku, deadline).await?;
        }
        Ok(converted)
    }

    /// Converts one page of a product's layout 1 holds in one script call,
    /// each with a pointer from its request's new key when the request is
    /// still remembered; then drops the request records so pointed to.
    async fn upgrade_page(
        &self,
        keys: &ProductKeys,
        salt: &str,
        holds: &[(String, LegacyHold)],
    ) -> Result<u64> {
        let remembered = try_join_all(
            holds
                .iter()
                .map(|(token, hold)| self.remembered_request(keys, token, hold)),
        )
        .await?;
        let now = self.now_ms();
        let mut call = self.product_call_at(&SCRIPTS.upgrade_holds, keys, now);
        call.arg(now - self.config.retention.as_millis());
        for ((token, _), remembered) in holds.iter().zip(&remembered) {
            let request_key = match remembered {
                Some((kind, request_id, _)) => request_hold_key(salt, *kind, request_id),
                None => "-".to_owned(),
            };
            call.arg(token).arg(request_key);
        }
        let reply = Reply::parse(self.redis.invoke(&call).await?)?;
        let converted = match reply.outcome() {
            "OK" => reply.int(1)? as u64,
            "NOT_FOUND" => 0,
            _ => return Err(reply.unexpected_outcome()),
        };
        for (_, _, record) in remembered.iter().flatten() {
            self.redis
                .query::<i64>(redis::cmd("DEL").arg(record))
                .await?;
        }
        Ok(converted)
    }

    /// The request a layout 1 hold answered, if its record is still kept:
    /// its kind, the id its new key is made of, and the old record's key. A
    /// record names its hold's token, which settles whose it is when a
    /// reserve's request id looks like a cart's.
    async fn remembered_request(
        &self,
        keys: &ProductKeys,
        token: &str,
        hold: &LegacyHold,
    ) -> Result<Option<(RequestKind, String, String)>> {
        if hold.undone {
            return Ok(None);
        }
        let mut candidates = vec![(
            RequestKind::Reserve,
            hold.request_id.clone(),
            keys.legacy_request(&hold.request_id),
        )];
        if let Some(cart) = hold.request_id.strip_prefix("cart:") {
            candidates.push((
                RequestKind::CartLine,
                cart.to_owned(),
                keys.legacy_cart_request(cart),
            ));
        }
        for (kind, request_id, record) in candidates {
            let raw: Option<String> = self.redis.query(redis::cmd("GET").arg(&record)).await?;
            let points_here = raw
                .and_then(|raw| serde_json::from_str::<LegacyRequest>(&raw).ok())
                .is_some_and(|request| request.token == token);
            if points_here {
                return Ok(Some((kind, request_id, record)));
            }
        }
        Ok(None)
    }
}
