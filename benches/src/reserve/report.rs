//! What `flashload reserve` reports: per-product tallies against the server's
//! books, latency, sends and the figures `--slo` judges.

use std::collections::BTreeMap;

use flashsale_proto::v1 as pb;
use serde::Serialize;

use crate::latency::LatencySummary;
use crate::report::{Check, Second};

/// What the run saw of one product.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ProductTally {
    pub sku: String,
    pub created_by_run: bool,
    /// Stock when the run started.
    pub total_at_start: i64,
    pub held_at_start: i64,
    pub sold_at_start: i64,
    /// Holds this run was granted, and their units.
    pub granted_holds: u64,
    pub granted_units: i64,
    /// Units given back by this run's cancels.
    pub cancelled_units: i64,
    /// Reserves whose answer never came (the hold may or may not exist), and
    /// their units; likewise cancels.
    pub unanswered_reserves: u64,
    pub unanswered_reserve_units: i64,
    pub unanswered_cancel_units: i64,
    /// The server's view after the run.
    pub server: Option<ServerBooks>,
}

/// A product's books as the server's audit found them after the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ServerBooks {
    pub total: i64,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    /// Units the server ever granted in holds, and those that came back.
    pub reserved: i64,
    pub given_back: i64,
    pub holds: i64,
    pub repeated_request_holds: i64,
    pub problems: Vec<String>,
}

impl From<pb::ProductAudit> for ServerBooks {
    fn from(a: pb::ProductAudit) -> Self {
        Self {
            total: a.total,
            available: a.available,
            held: a.held,
            sold: a.sold,
            reserved: a.reserved,
            given_back: a.cancelled + a.expired + a.released,
            holds: a.holds,
            repeated_request_holds: a.repeated_request_holds,
            problems: a.problems,
        }
    }
}

impl ProductTally {
    /// Units in this run's holds now, as far as the run knows.
    fn live_units(&self) -> i64 {
        self.granted_units - self.cancelled_units
    }

    /// Units this run was granted beyond what could ever have been free for
    /// it. On a product the run made, every hold is the run's, so the units
    /// that came back (cancelled, expired, released) were free again, as the
    /// server's tallies count them; elsewhere only the run's own cancels are
    /// known to have come back.
    pub fn oversold_units(&self) -> i64 {
        let for_sale = self.total_at_start - self.sold_at_start - self.held_at_start;
        let client = match &self.server {
            Some(server) if self.created_by_run => {
                self.granted_units - server.given_back - for_sale
            }
            _ => self.live_units() - (self.total_at_start - self.sold_at_start),
        };
        let server = self
            .server
            .as_ref()
            .map_or(0, |s| s.held + s.sold - s.total);
        client.max(0) + server.max(0)
    }
}

/// Calls of one kind after a hold (confirm or cancel).
#[derive(Clone, Debug, Default, Serialize)]
pub struct FollowUpReport {
    pub calls: u64,
    pub failed: u64,
    pub latency_ms: LatencySummary,
}

#[derive(Clone, Debug, Serialize)]
pub struct LatencyReport {
    /// From when each call was due: what a shopper waited.
    pub corrected: LatencySummary,
    /// From when each call actually left.
    pub uncorrected: LatencySummary,
    pub by_outcome: BTreeMap<&'static str, LatencySummary>,
    /// (quantile, ms) from the median up, for percentile plots.
    pub corrected_curve: Vec<(f64, f64)>,
    pub uncorrected_curve: Vec<(f64, f64)>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Sends {
    pub sent: u64,
    /// Left more than 5 ms after they were due.
    pub late: u64,
    /// Not sent at all: too many calls were unanswered.
    pub dropped: u64,
}

/// Everything `flashload reserve` measured and checked.
#[derive(Clone, Debug, Serialize)]
pub struct ReserveReport {
    pub model: &'static str,
    pub concurrency: Option<usize>,
    /// The open loop's highest scheduled rate.
    pub target_rate: Option<f64>,
    pub duration_s: f64,
    pub elapsed_s: f64,
    /// Reserve calls answered, retries included.
    pub calls: u64,
    /// Business answers (reserved, replayed, refused for stock, limit or
    /// window) per second; failures do not count.
    pub achieved_rate: f64,
    /// Failed calls (shed, deadline, unavailable, rejected, other) over all calls.
    pub error_rate: f64,
    pub outcomes: BTreeMap<&'static str, u64>,
    pub latency_ms: LatencyReport,
    pub sends: Sends,
    pub follow_ups: BTreeMap<&'static str, FollowUpReport>,
    /// Retries of a `request_id` answered with another hold than the first.
    pub replay_mismatches: u64,
    pub oversell: i64,
    pub products: Vec<ProductTally>,
    pub timeline: Vec<Second>,
    pub checks: Vec<Check>,
}

impl ReserveReport {
    /// A figure by the name `--slo` uses.
    pub fn figure(&self, name: &str) -> Option<f64> {
        if let Some(latency) = self.latency_ms.corrected.get(name) {
            return Some(latency);
        }
        Some(match name {
            "errors" => self.error_rate,
            "oversell" => self.oversell as f64,
            "rate" => self.achieved_rate,
            "calls" => self.calls as f64,
            "late" => self.sends.late as f64,
            "dropped" => self.sends.dropped as f64,
            "replay_mismatches" => self.replay_mismatches as f64,
            _ => return None,
        })
    }
}
