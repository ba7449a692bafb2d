//! The audit: recounts a product from its holds and checks invariant 1
//! (`available + held + sold == total`, all ≥ 0) and the indexes the scripts
//! keep beside the counters.

use super::{Engine, Reply};
use crate::error::{Error, Result};
use crate::keys::ProductKeys;
use crate::scripts::SCRIPTS;
use crate::types::Sku;

/// What the audit found for one product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    pub sku: Sku,
    pub total: i64,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    /// Units in HELD and CONFIRMED holds: must equal `held`.
    pub units_in_active_holds: i64,
    /// Units in PURCHASED holds: must equal `sold`.
    pub units_in_purchased_holds: i64,
    /// Customers whose counted units differ from their holds (limits would drift).
    pub customers_miscounted: i64,
    /// HELD holds the sweeper cannot see.
    pub held_holds_not_in_due_index: i64,
    /// Due-index entries whose hold is not HELD.
    pub stray_due_entries: i64,
    /// CONFIRMED holds the stranded-purchase sweep cannot see.
    pub confirmed_holds_not_in_purchase_index: i64,
    /// Purchase-index entries whose hold is not CONFIRMED.
    pub stray_purchase_entries: i64,
    /// Holds of the product, in any state.
    pub holds: i64,
    /// Holds made by a `request_id` that had already made one (guarantee 5).
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
        check(
            self.units_in_active_holds == self.held,
            format!(
                "held is {} but active holds have {} units",
                self.held, self.units_in_active_holds
            ),
        );
        check(
            self.units_in_purchased_holds == self.sold,
            format!(
                "sold is {} but purchased holds have {} units",
                self.sold, self.units_in_purchased_holds
            ),
        );
        for (count, what) in [
            (
                self.customers_miscounted,
                "customers have a wrong unit count",
            ),
            (
                self.held_holds_not_in_due_index,
                "HELD holds are missing from the due index",
            ),
            (
                self.stray_due_entries,
                "due-index entries are not HELD holds",
            ),
            (
                self.confirmed_holds_not_in_purchase_index,
                "CONFIRMED holds are missing from the purchase index",
            ),
            (
                self.stray_purchase_entries,
                "purchase-index entries are not CONFIRMED holds",
            ),
            (
                self.repeated_request_holds,
                "holds were made by a request_id that already had one",
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

impl Engine {
    /// Recounts `sku` from its holds in one consistent read. The report lists
    /// any drift; it is an error only when the product does not exist.
    pub async fn audit(&self, sku: &Sku) -> Result<AuditReport> {
        let keys = ProductKeys::new(sku);
        let mut call = SCRIPTS.audit.prepare_invoke();
        for key in keys.script_keys() {
            call.key(key);
        }
        let reply = Reply::parse(self.redis.invoke_long(&call).await?)?;
        match reply.outcome() {
            "OK" => Ok(AuditReport {
                sku: sku.clone(),
                total: reply.int(1)?,
                available: reply.int(2)?,
                held: reply.int(3)?,
                sold: reply.int(4)?,
                units_in_active_holds: reply.int(5)?,
                units_in_purchased_holds: reply.int(6)?,
                customers_miscounted: reply.int(7)?,
                held_holds_not_in_due_index: reply.int(8)?,
                stray_due_entries: reply.int(9)?,
                confirmed_holds_not_in_purchase_index: reply.int(10)?,
                stray_purchase_entries: reply.int(11)?,
                holds: reply.int(12)?,
                repeated_request_holds: reply.int(13)?,
            }),
            "NOT_FOUND" => Err(Error::ProductNotFound(sku.clone())),
            _ => Err(reply.unexpected_outcome()),
        }
    }
}
