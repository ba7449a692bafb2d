//! The checks of the books after a run: what the run was granted against what
//! the server's audit says.

use super::report::ReserveReport;
use crate::report::Check;

/// The books after the run: what the run was granted against what the server
/// says, product by product.
pub(super) fn checks(report: &ReserveReport) -> Vec<Check> {
    let mut oversold = Vec::new();
    let mut tallies = Vec::new();
    let mut holds = Vec::new();
    let mut audits = Vec::new();
    for p in &report.products {
        let Some(server) = &p.server else { continue };
        if p.oversold_units() > 0 {
            oversold.push(format!(
                "{}: {} units granted beyond the {} that were for sale",
                p.sku,
                p.oversold_units(),
                p.total_at_start - p.sold_at_start
            ));
        }
        if p.created_by_run {
            // Every unit the server granted was granted to this run: those it
            // was answered, and maybe those of calls whose answer never came.
            let (low, high) = (
                p.granted_units,
                p.granted_units + p.unanswered_reserve_units,
            );
            if !(low..=high).contains(&server.reserved) {
                tallies.push(format!(
                    "{}: the server granted {} units, this run was granted {low} (up to {high} with unanswered calls)",
                    p.sku, server.reserved
                ));
            }
            let kept = server.reserved - server.given_back;
            if kept != server.held + server.sold {
                tallies.push(format!(
                    "{}: the server has {} units held or sold, but granted {} and got {} back",
                    p.sku,
                    server.held + server.sold,
                    server.reserved,
                    server.given_back
                ));
            }
            let (low, high) = (p.granted_holds, p.granted_holds + p.unanswered_reserves);
            if !(low..=high).contains(&(server.holds as u64)) {
                holds.push(format!(
                    "{}: the server has {} holds, this run was granted {low} (up to {high} with unanswered calls)",
                    p.sku, server.holds
                ));
            }
        }
        if server.repeated_request_holds > 0 {
            holds.push(format!(
                "{}: {} holds were made by a request_id that already had one",
                p.sku, server.repeated_request_holds
            ));
        }
        audits.extend(
            server
                .problems
                .iter()
                .map(|problem| format!("{}: {problem}", p.sku)),
        );
    }
    if report.replay_mismatches > 0 {
        holds.push(format!(
            "{} retries of a request_id were answered with a different hold",
            report.replay_mismatches
        ));
    }
    let all_created = report.products.iter().all(|p| p.created_by_run);
    vec![
        Check::new(
            "no_oversell",
            oversold,
            "no product granted more units than it had for sale",
        ),
        if all_created {
            Check::new(
                "tallies_match",
                tallies,
                "each product's server granted the units this run was granted, and holds or sold all it did not get back",
            )
        } else {
            Check::skipped(
                "tallies_match",
                "the products were not created by this run, so others may change them",
            )
        },
        Check::new(
            "one_hold_per_request_id",
            holds,
            "every request_id made at most one hold, and retries got the first one back",
        ),
        Check::new("audit_clean", audits, "every product's audit is clean"),
    ]
}
