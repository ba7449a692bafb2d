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

/// What the audit found for one product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    pub sku: Sku,
    pub total: i64,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    pub version: u64,
    /// Units ever granted in holds: must equal held + sold + the units given
    /// back (cancelled, expired, released).
    pub reserved: i64,
    pub cancelled: i64,
    pub expired: i64,
    pub released: i64,
    /// Holds ever made.
    pub holds: i64,
    /// Whether the product counts each customer's units (it has had a
    /// per-customer limit from before its first reserve); the customer
    /// checks are made only then.
    pub counts_customers: bool,
    /// Whether the walk below saw the product unchanged from start to end.
    /// When false, the checks that need it were not made.
    pub settled: bool,
    /// Live (HELD and CONFIRMED) holds walked.
    pub live_holds: i64,
    /// Units in the live holds: must equal `held`.
    pub units_in_active_holds: i64,
    /// Holds in the live set that have ended: every ending must move them out.
    pub ended_holds_in_live_set: i64,
    /// Units the customers hash holds, summed: must equal held + sold.
    pub customer_units: i64,
    /// Customers counted fewer units than their live holds have.
    pub customers_miscounted: i64,
    /// HELD holds without a due entry at their deadline: the sweeper would
    /// not expire them on time.
    pub held_holds_not_due_on_time: i64,
    /// CONFIRMED holds the stranded-purchase sweep cannot see.
    pub confirmed_holds_not_in_purchase_index: i64,
    /// Purchase-index entries whose hold is not a live CONFIRMED one.
    pub stray_purchase_entries: i64,
    /// Live holds made by a `request_id` that another live hold has too.
    pub repeated_request_holds: i64,
}

impl AuditReport {
    /// Every drift found, in words; empty when the product is consistent.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, what: String| {
            if !ok {
                problems.push(what);
            }
        };
        check(
            self.available + self.held + self.sold == self.total,
            format!(
                "available {} + held {} + sold {} != total {}",
                self.available, self.held, self.sold, self.total
            ),
        );
        for (name, value) in [
            ("total", self.total),
            ("available", self.available),
            ("held", self.held),
            ("sold", self.sold),
        ] {
            check(value >= 0, format!("{name} is negative: {value}"));
        }
        let accounted = self.held + self.sold + self.cancelled + self.expired + self.released;
        check(
            self.reserved == accounted,
            format!(
                "{} units were granted, but held {} + sold {} + cancelled {} + expired {} \
                 + released {} is {accounted}",
                self.reserved, self.held, self.sold, self.cancelled, self.expired, self.released
            ),
        );
        if !self.settled {
            return problems;
        }
        check(
            self.units_in_active_holds == self.held,
            format!(
                "held is {} but live holds have {} units",
                self.held, self.units_in_active_holds
            ),
        );
        check(
            !self.counts_customers || self.customer_units == self.held + self.sold,
            format!(
                "customers have {} units counted, but held + sold is {}",
                self.customer_units,
                self.held + self.sold
            ),
        );
        for (count, what) in [
            (
                self.ended_holds_in_live_set,
                "ended holds are still in the live set",
            ),
            (
                self.customers_miscounted,
                "customers have fewer units counted than their live holds",
            ),
            (
                self.held_holds_not_due_on_time,
                "HELD holds have no due entry at their deadline",
            ),
            (
                self.confirmed_holds_not_in_purchase_index,
                "CONFIRMED holds are missing from the purchase index",
            ),
            (
                self.stray_purchase_entries,
                "purchase-index entries are not live CONFIRMED holds",
            ),
            (
                self.repeated_request_holds,
                "live holds were made by a request_id another live hold has",
            ),
        ] {
            check(count == 0, format!("{count} {what}"));
        }
        problems
    }

    pub fn is_clean(&self) -> bool {
        self.problems().is_empty()
    }
}

/// The counters read in one call, and what marks a change between two reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counters {
    total: i64,
    available: i64,
    held: i64,
    sold: i64,
    version: i64,
    reserved: i64,
    holds_made: i64,
    cancelled: i64,
    expired: i64,
    released: i64,
    counts_customers: bool,
    live: i64,
    due_entries: i64,
    purchase_entries: i64,
    customers: i64,
}

/// The live structures, as one walk saw them.
#[derive(Default)]
struct Walk {
    /// Hold key → (state, customer, quantity, request id, deadline).
    holds: HashMap<String, (HoldState, String, i64, String, i64)>,
    /// Hold key → the deadline of the due entry that lists it.
    due: HashMap<String, i64>,
    /// Hold key → purchase deadline.
    purchases: HashMap<String, i64>,
    /// Customer → units.
    customers: HashMap<String, i64>,
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
                let n = |i| reply.int(i);
                Ok(Counters {
                    total: n(1)?,
                    available: n(2)?,
                    held: n(3)?,
                    sold: n(4)?,
                    version: n(5)?,
                    reserved: n(6)?,
                    holds_made: n(7)?,
                    cancelled: n(8)?,
                    expired: n(9)?,
                    released: n(10)?,
                    counts_customers: n(11)? == 1,
                    live: n(12)?,
                    due_entries: n(13)?,
                    purchase_entries: n(14)?,
                    customers: n(15)?,
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

fn report(sku: &Sku, c: &Counters, walk: Option<&Walk>) -> AuditReport {
    let mut report = AuditReport {
        sku: sku.clone(),
        total: c.total,
        available: c.available,
        held: c.held,
        sold: c.sold,
        version: c.version as u64,
        reserved: c.reserved,
        cancelled: c.cancelled,
        expired: c.expired,
        released: c.released,
        holds: c.holds_made,
        counts_customers: c.counts_customers,
        settled: walk.is_some(),
        live_holds: 0,
        units_in_active_holds: 0,
        ended_holds_in_live_set: 0,
        customer_units: 0,
        customers_miscounted: 0,
        held_holds_not_due_on_time: 0,
        confirmed_holds_not_in_purchase_index: 0,
        stray_purchase_entries: 0,
        repeated_request_holds: 0,
    };
    let Some(walk) = walk else {
        return report;
    };
    let mut live_units: HashMap<&str, i64> = HashMap::new();
    let mut requests: HashMap<&str, usize> = HashMap::new();
    for (key, (state, customer, quantity, request_id, deadline)) in &walk.holds {
        report.live_holds += 1;
        if !state.is_active() {
            report.ended_holds_in_live_set += 1;
            continue;
        }
        report.units_in_active_holds += quantity;
        *live_units.entry(customer).or_default() += quantity;
        *requests.entry(request_id).or_default() += 1;
        match state {
            HoldState::Held if walk.due.get(key) != Some(deadline) => {
                report.held_holds_not_due_on_time += 1;
            }
            HoldState::Confirmed if !walk.purchases.contains_key(key) => {
                report.confirmed_holds_not_in_purchase_index += 1;
            }
            _ => {}
        }
    }
    report.stray_purchase_entries = walk
        .purchases
        .keys()
        .filter(|key| {
            walk.holds
                .get(*key)
                .is_none_or(|hold| hold.0 != HoldState::Confirmed)
        })
        .count() as i64;
    report.repeated_request_holds = requests.values().map(|&n| n as i64 - 1).sum();
    report.customer_units = walk.customers.values().sum();
    if !c.counts_customers {
        return report;
    }
    report.customers_miscounted = live_units
        .iter()
        .filter(|(customer, units)| walk.customers.get(**customer).copied().unwrap_or(0) < **units)
        .count() as i64;
    report
}
