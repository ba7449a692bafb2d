//! The audit's report: what one audit of a product found, and the checks it
//! makes of it (see `audit.rs` for how the product is read).

use std::collections::HashMap;

use super::audit::{Counters, Walk};
use crate::types::{HoldState, Sku};

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
    /// Tokens in the holders index (a customer's live holds of the product,
    /// read after a reload) beyond the live holds, or fewer when negative.
    pub holders_index_drift: i64,
    /// Customers whose tokens in the holders index are not as many as their
    /// live holds.
    pub customers_misindexed: i64,
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
            self.holders_index_drift == 0,
            format!(
                "the holders index has {} holds more than the live set",
                self.holders_index_drift
            ),
        );
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
            (
                self.customers_misindexed,
                "customers have not as many holds in the holders index as live ones",
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

pub(super) fn report(sku: &Sku, c: &Counters, walk: Option<&Walk>) -> AuditReport {
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
        holders_index_drift: 0,
        customers_misindexed: 0,
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
    let mut live_holds: HashMap<&str, i64> = HashMap::new();
    for (_, customer, _, _, _) in walk.holds.values() {
        *live_holds.entry(customer).or_default() += 1;
    }
    report.holders_index_drift = walk.holders.values().sum::<i64>() - walk.holds.len() as i64;
    report.customers_misindexed = live_holds
        .iter()
        .filter(|(customer, n)| walk.holders.get(**customer) != Some(*n))
        .count() as i64
        + walk
            .holders
            .keys()
            .filter(|customer| !live_holds.contains_key(customer.as_str()))
            .count() as i64;
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
