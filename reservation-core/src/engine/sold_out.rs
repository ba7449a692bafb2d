//! Reads behind the sold-out fast path (see `crate::sold_out`): whether a
//! product is sold out, until when that can last, what else a reserve
//! script would check first (the sale window, each customer's units against
//! the limit), and every `request_id` that ever made one of its holds (those
//! must still reach Redis, to be answered with their first result).

use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use super::Engine;
use crate::error::{Error, Result};
use crate::keys::ProductKeys;
use crate::scripts::SCRIPTS;
use crate::types::Sku;

/// Holds read per `HSCAN` step: small steps keep Redis responsive.
const SCAN_STEP: usize = 1000;

/// A product as far as the fast path cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StockView {
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    pub version: u64,
    /// 0: no limit.
    pub per_customer_limit: u32,
    /// 0: open from creation.
    pub sale_starts_at_ms: i64,
    /// 0: never closes.
    pub sale_ends_at_ms: i64,
    /// The earliest deadline of a HELD hold: from then on a reserve may
    /// reclaim units without anything else changing first.
    pub earliest_deadline_ms: Option<i64>,
}

/// A sold-out product, as of `view.version`.
#[derive(Clone, Debug)]
pub struct SoldOut {
    pub view: StockView,
    /// Every `request_id` that made a hold of the product.
    pub request_ids: HashSet<String>,
    /// Units each customer has, for the per-customer limit.
    pub customer_units: HashMap<String, i64>,
}

#[derive(Deserialize)]
struct HoldRequest {
    request_id: String,
}

impl Engine {
    /// The product's stock view, in one read.
    pub async fn stock_view(&self, sku: &Sku) -> Result<StockView> {
        let keys = ProductKeys::new(sku);
        let mut call = SCRIPTS.sold_out.prepare_invoke();
        call.key(&keys.product).key(&keys.due);
        let fields: Vec<i64> =
            self.redis.invoke(&call).await.and_then(|v| {
                redis::from_redis_value(v).map_err(|e| Error::Internal(e.to_string()))
            })?;
        match fields[..] {
            [
                available,
                held,
                sold,
                version,
                limit,
                starts,
                ends,
                earliest,
            ] => Ok(StockView {
                available,
                held,
                sold,
                version: version as u64,
                per_customer_limit: limit as u32,
                sale_starts_at_ms: starts,
                sale_ends_at_ms: ends,
                earliest_deadline_ms: (earliest >= 0).then_some(earliest),
            }),
            [-1] => Err(Error::ProductNotFound(sku.clone())),
            _ => Err(Error::Internal(format!(
                "the sold-out read of {sku} answered {fields:?}"
            ))),
        }
    }

    /// The product as sold out, with the request ids of all its holds; `None`
    /// when units are available, or when it changed while its holds were
    /// read (then the set might be incomplete).
    pub async fn sold_out(&self, sku: &Sku) -> Result<Option<SoldOut>> {
        let before = self.stock_view(sku).await?;
        if before.available > 0 {
            return Ok(None);
        }
        let keys = ProductKeys::new(sku);
        let mut request_ids = HashSet::new();
        let mut cursor = "0".to_owned();
        loop {
            let (next, records): (String, Vec<Vec<u8>>) = self
                .redis
                .query(
                    redis::cmd("HSCAN")
                        .arg(&keys.holds)
                        .arg(&cursor)
                        .arg("COUNT")
                        .arg(SCAN_STEP),
                )
                .await?;
            // Fields and values alternate; the values are the hold records.
            for record in records.iter().skip(1).step_by(2) {
                let hold: HoldRequest = serde_json::from_slice(record)
                    .map_err(|e| Error::Internal(format!("a hold of {sku} is malformed: {e}")))?;
                request_ids.insert(hold.request_id);
            }
            if next == "0" {
                break;
            }
            cursor = next;
        }
        let customer_units: HashMap<String, i64> = self
            .redis
            .query(redis::cmd("HGETALL").arg(&keys.customers))
            .await?;
        let after = self.stock_view(sku).await?;
        if after.version != before.version || after.available > 0 {
            return Ok(None);
        }
        Ok(Some(SoldOut {
            view: after,
            request_ids,
            customer_units,
        }))
    }
}
