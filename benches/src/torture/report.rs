//! What a torture run reports: the figures `--json` writes and the tables
//! printed.

use serde::Serialize;

use super::checks::ProductEnd;
use super::faults::FaultDone;
use super::shoppers::Books;
use crate::report::{Check, Table};

/// Everything a run reports, as `--json` writes it.
#[derive(Serialize)]
pub struct TortureReport<'a> {
    pub seed: u64,
    pub seconds: f64,
    pub cluster: bool,
    pub books: &'a Books,
    pub faults: &'a [FaultDone],
    pub watcher_reconnects: u64,
    pub orders: usize,
    pub checks: &'a [Check],
}

/// The tables printed: the load the deployment held, the faults as they
/// landed, and each product's books at the end.
pub(super) fn tables(report: &TortureReport<'_>, products: &[ProductEnd]) -> Vec<Table> {
    let books = report.books;
    let mut load = Table::new("load held", &["figure", "value"]);
    for (figure, value) in [
        ("calls sent, retries included", books.calls.to_string()),
        ("holds granted", books.holds.len().to_string()),
        (
            "reserves refused (out of stock…)",
            books.refused.to_string(),
        ),
        (
            "retries answered with the first hold",
            books.replays.to_string(),
        ),
        ("holds confirmed", books.confirmed.len().to_string()),
        ("holds cancelled", books.cancelled.len().to_string()),
        ("orders (at least once)", report.orders.to_string()),
        (
            "answers lost to faults, sent again",
            books.lost_answers.values().sum::<u64>().to_string(),
        ),
        ("calls never answered", books.unresolved.to_string()),
        ("watcher reconnects", report.watcher_reconnects.to_string()),
    ] {
        load.row(vec![figure.to_owned(), value]);
    }
    let mut faults = Table::new("faults injected", &["at", "fault"]);
    for fault in report.faults {
        faults.row(vec![
            format!("{:.1} s", fault.at_seconds),
            fault.what.clone(),
        ]);
    }
    let mut books_table = Table::new(
        "books at the end",
        &["product", "total", "available", "held", "sold", "holds"],
    );
    for p in products {
        let a = &p.audit;
        books_table.row(
            [
                &p.sku as &dyn std::fmt::Display,
                &a.total,
                &a.available,
                &a.held,
                &a.sold,
                &a.holds,
            ]
            .iter()
            .map(|cell| cell.to_string())
            .collect(),
        );
    }
    vec![load, faults, books_table]
}
