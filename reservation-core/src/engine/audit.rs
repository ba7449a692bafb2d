//! The audit: checks invariant 1 (`available + held + sold == total`, all ≥ 0)
//! and the bookkeeping behind it, at a cost that does not grow with the
//! product's history.
//!
//! The counters and tallies are read in one script call. The live holds, the
//! due entries, the purchase index and the customers' units are then walked
//! in bounded steps (`HSCAN` and `ZRANGE` of [`STEP`] at a time), so no call
//! holds Redis for more than a few milliseconds however large they are. The
//! walk is one consistent view only if the product did not change meanwhile:
//! the counters are read again after it, and the walk is repeated when they
//! moved. A product that keeps changing is reported unsettled, with the
//! checks the counters alone can make.

use std::collections::HashMap;
use std::time::Duration;

pub use super::audit_report::AuditReport;
use super::audit_report::report;
use super::record::decode_hold;
use super::{Engine, Reply};
use crate::error::{Error, Result};
use crate::keys::ProductKeys;
use crate::scripts::SCRIPTS;
use crate::types::{HoldState, ReservationId, Sku};

/// A hash's field and value.
type Field = (Vec<u8>, Vec<u8>);

/// Entries read per step of the walk.
const STEP: usize = 1000;
/// Walks tried before a changing product is reported unsettled.
const WALKS: usize = 5;

/// The counters read in one call, and what marks a change between two reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Counters {
    pub(super) total: i64,
    pub(super) available: i64,
    pub(super) held: i64,
    pub(super) sold: i64,
    pub(super) version: i64,
    pub(super) reserved: i64,
    pub(super) holds_made: i64,
    pub(super) cancelled: i64,
    pub(super) expired: i64,
    pub(super) released: i64,
    pub(super) counts_customers: bool,
    pub(super) live: i64,
    pub(super) due_entries: i64,
    pub(super) purchase_entries: i64,
    pub(super) customers: i64,
}

/// The live structures, as one walk saw them.
#[derive(Default)]
pub(super) struct Walk {
    /// Hold key → (state, customer, quantity, request id, deadline).
    pub(super) holds: HashMap<String, (HoldState, String, i64, String, i64)>,
    /// Hold key → the deadline of the due entry that lists it.
    pub(super) due: HashMap<String, i64>,
    /// Hold key → purchase deadline.
    pub(super) purchases: HashMap<String, i64>,
    /// Customer → units.
    pub(super) customers: HashMap<String, i64>,
    /// Customer → tokens in the holders index.
    pub(super) holders: HashMap<String, i64>,
}

impl Engine {
    /// Audits `sku`. The report lists any drift; it is an error only when the
    /// product does not exist.
    pub async fn audit(&self, sku: &Sku) -> Result<AuditReport> {
        let keys = ProductKeys::new(sku);
        let mut before = self.audit_counters(&keys).await?;
        for attempt in 0..WALKS {
            let walk = self.walk(&keys).await?;
            let after = self.audit_counters(&keys).await?;
            if after == before {
                return Ok(report(sku, &after, Some(&walk)));
            }
            before = after;
            tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
        }
        Ok(report(sku, &before, None))
    }

    async fn audit_counters(&self, keys: &ProductKeys) -> Result<Counters> {
        let mut call = SCRIPTS.audit_counters.prepare_invoke();
        call.key(&keys.product)
            .key(&keys.holds)
            .key(&keys.due)
            .key(&keys.customers)
            .key(&keys.purchase_due);
        let reply = Reply::parse(self.redis.invoke(&call).await?)?;
        match reply.outcome() {
            "OK" => {
                let fields = reply.named()?;
                let n = |name| fields.int(name);
                Ok(Counters {
                    total: n("total")?,
                    available: n("available")?,
                    held: n("held")?,
                    sold: n("sold")?,
                    version: n("version")?,
                    reserved: n("reserved")?,
                    holds_made: n("holds_made")?,
                    cancelled: n("cancelled")?,
                    expired: n("expired")?,
                    released: n("released")?,
                    counts_customers: n("counts_customers")? == 1,
                    live: n("live_holds")?,
                    due_entries: n("due_entries")?,
                    purchase_entries: n("purchase_entries")?,
                    customers: n("customers")?,
                })
            }
            "NOT_FOUND" => Err(Error::ProductNotFound(keys.sku.clone())),
            _ => Err(reply.unexpected_outcome()),
        }
    }

    /// Reads the live structures in bounded steps.
    async fn walk(&self, keys: &ProductKeys) -> Result<Walk> {
        let mut walk = Walk::default();
        for (key, raw) in self.scan_hash(&keys.holds).await? {
            let key = String::from_utf8_lossy(&key).into_owned();
            // The id only names the hold (by its key) in an error about its record.
            let id = ReservationId::from_parts(&keys.sku, &key)?;
            let hold = decode_hold(&id, &raw)?;
            walk.holds.insert(
                key,
                (
                    hold.state,
                    hold.customer_id.to_string(),
                    i64::from(hold.quantity),
                    hold.request_id.to_string(),
                    hold.expires_at_ms,
                ),
            );
        }
        for (entry, deadline) in self.range_sorted_set(&keys.due).await? {
            for key in entry.split(',') {
                walk.due.insert(key.to_owned(), deadline);
            }
        }
        walk.purchases = self
            .range_sorted_set(&keys.purchase_due)
            .await?
            .into_iter()
            .collect();
        for (customer, tokens) in self.scan_hash(&keys.holders).await? {
            let tokens = String::from_utf8_lossy(&tokens).split(' ').count() as i64;
            walk.holders
                .insert(String::from_utf8_lossy(&customer).into_owned(), tokens);
        }
        for (customer, units) in self.scan_hash(&keys.customers).await? {
            let units = String::from_utf8_lossy(&units).parse().unwrap_or(0);
            walk.customers
                .insert(String::from_utf8_lossy(&customer).into_owned(), units);
        }
        Ok(walk)
    }

    /// Every field and value of a hash, `STEP` at a time (`HSCAN` may return
    /// a field twice; the caller keys by field).
    async fn scan_hash(&self, key: &str) -> Result<Vec<Field>> {
        let mut entries = Vec::new();
        let mut cursor = "0".to_owned();
        loop {
            let (next, page): (String, Vec<Field>) = self
                .redis
                .query(
                    redis::cmd("HSCAN")
                        .arg(key)
                        .arg(&cursor)
                        .arg("COUNT")
                        .arg(STEP),
                )
                .await?;
            entries.extend(page);
            if next == "0" {
                return Ok(entries);
            }
            cursor = next;
        }
    }

    /// Every member and score of a sorted set, `STEP` at a time.
    async fn range_sorted_set(&self, key: &str) -> Result<Vec<(String, i64)>> {
        let mut members = Vec::new();
        loop {
            let start = members.len();
            let page: Vec<(String, f64)> = self
                .redis
                .query(
                    redis::cmd("ZRANGE")
                        .arg(key)
                        .arg(start)
                        .arg(start + STEP - 1)
                        .arg("WITHSCORES"),
                )
                .await?;
            let last = page.len() < STEP;
            members.extend(page.into_iter().map(|(m, s)| (m, s as i64)));
            if last {
                return Ok(members);
            }
        }
    }
}
