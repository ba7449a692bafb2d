//! What a run says at the end: a summary on stdout, `--json` for machines,
//! `--html` for people, and the exit status (checks and `--slo`).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::latency::{Latencies, LatencySummary};
use crate::plot;
use crate::slo::Verdict;

/// One post-run check.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    /// False when the check could not apply to this run (said in `detail`).
    pub applied: bool,
    /// What was checked, or every violation found.
    pub detail: String,
}

impl Check {
    /// Passes when `violations` is empty.
    pub fn new(name: &'static str, violations: Vec<String>, what: &str) -> Self {
        Self {
            name,
            passed: violations.is_empty(),
            applied: true,
            detail: if violations.is_empty() {
                what.to_owned()
            } else {
                violations.join("; ")
            },
        }
    }

    pub fn skipped(name: &'static str, why: &str) -> Self {
        Self {
            name,
            passed: true,
            applied: false,
            detail: format!("not checked: {why}"),
        }
    }
}

/// Counts kept per second of a run, by when they happened.
pub struct PerSecond<T> {
    start: Instant,
    seconds: Vec<T>,
}

impl<T: Default> PerSecond<T> {
    pub fn new(start: Instant) -> Self {
        Self {
            start,
            seconds: Vec::new(),
        }
    }

    pub fn start(&self) -> Instant {
        self.start
    }

    /// The counts of the second `at` falls in.
    pub fn at(&mut self, at: Instant) -> &mut T {
        let n = at.saturating_duration_since(self.start).as_secs() as usize;
        if self.seconds.len() <= n {
            self.seconds.resize_with(n + 1, T::default);
        }
        &mut self.seconds[n]
    }
}

impl<T> std::ops::Deref for PerSecond<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.seconds
    }
}

/// One second of a run.
#[derive(Clone, Debug, Serialize)]
pub struct Second {
    pub second: u64,
    /// Calls (or changes) due in this second.
    pub due: u64,
    /// Business answers (or events received) in this second.
    pub answered: u64,
    pub failed: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Second {
    /// Second `index` (from 0) with its counts and latencies.
    pub fn new(
        index: usize,
        due: u64,
        answered: u64,
        failed: u64,
        latencies: Option<&Latencies>,
    ) -> Self {
        let at = |q| latencies.map_or(0.0, |l| l.quantile_ms(q));
        Self {
            second: index as u64 + 1,
            due,
            answered,
            failed,
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms: at(1.0),
        }
    }
}

/// The JSON document: what ran, against what, everything measured, and the verdicts.
#[derive(Serialize)]
pub struct Document<'a, R: Serialize> {
    pub command: &'static str,
    pub target: &'a str,
    #[serde(flatten)]
    pub report: &'a R,
    pub slo: &'a [Verdict],
    /// Every check and every objective passed.
    pub passed: bool,
}

impl<R: Serialize> Document<'_, R> {
    pub fn write_json(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
    }
}

/// Whether checks and objectives all passed.
pub fn passed(checks: &[Check], slo: &[Verdict]) -> bool {
    checks.iter().all(|c| c.passed) && slo.iter().all(|v| v.passed)
}

/// Text tables for the terminal and the HTML page alike.
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(title: &str, header: &[&str]) -> Self {
        Self {
            title: title.to_owned(),
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn text(&self) -> String {
        let columns = self.header.len();
        let width = |c: usize| {
            std::iter::once(&self.header)
                .chain(&self.rows)
                .map(|row| row.get(c).map_or(0, |cell| cell.chars().count()))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<_> = (0..columns).map(width).collect();
        let has_header = self.header.iter().any(|cell| !cell.is_empty());
        // Columns of figures line up on the right, words on the left.
        let numeric: Vec<_> = (0..columns)
            .map(|c| {
                has_header
                    && self.rows.iter().all(|row| {
                        row.get(c)
                            .is_none_or(|cell| cell.starts_with(|ch: char| ch.is_ascii_digit()))
                    })
            })
            .collect();
        let mut out = format!("{}\n", self.title);
        let header = Some(&self.header).filter(|_| has_header);
        for row in header.into_iter().chain(&self.rows) {
            let cells: Vec<_> = row
                .iter()
                .zip(widths.iter().zip(&numeric))
                .map(|(cell, (&w, &numeric))| {
                    if numeric {
                        format!("{cell:>w$}")
                    } else {
                        format!("{cell:<w$}")
                    }
                })
                .collect();
            let _ = writeln!(out, "  {}", cells.join("  ").trim_end());
        }
        out
    }

    fn html(&self) -> String {
        let mut out = format!("<h2>{}</h2>\n<table>\n<tr>", escape(&self.title));
        for h in &self.header {
            let _ = write!(out, "<th>{}</th>", escape(h));
        }
        out.push_str("</tr>\n");
        for row in &self.rows {
            out.push_str("<tr>");
            for cell in row {
                let class = if cell.starts_with(|c: char| c.is_ascii_digit()) {
                    " class=\"n\""
                } else {
                    ""
                };
                let _ = write!(out, "<td{class}>{}</td>", escape(cell));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        out
    }
}

/// A latency table: one row per histogram.
pub fn latency_table(title: &str, rows: &[(&str, &LatencySummary)]) -> Table {
    let mut table = Table::new(
        title,
        &[
            "", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean",
        ],
    );
    for (name, s) in rows {
        let ms = |v: f64| format!("{v:.3}");
        table.row(vec![
            (*name).to_owned(),
            s.count.to_string(),
            ms(s.p50),
            ms(s.p90),
            ms(s.p99),
            ms(s.p99_9),
            ms(s.p99_99),
            ms(s.max),
            ms(s.mean),
        ]);
    }
    table
}

pub fn checks_table(checks: &[Check], slo: &[Verdict]) -> Table {
    let mut table = Table::new("checks", &["", "check", "detail"]);
    for c in checks {
        let mark = match (c.applied, c.passed) {
            (false, _) => "SKIP",
            (true, true) => "PASS",
            (true, false) => "FAIL",
        };
        table.row(vec![mark.into(), c.name.into(), c.detail.clone()]);
    }
    for v in slo {
        let actual = v.actual.map_or_else(
            || "no such figure".to_owned(),
            |a| format!("measured {a:.4}"),
        );
        let mark = if v.passed { "PASS" } else { "FAIL" };
        table.row(vec![mark.into(), format!("slo {}", v.objective), actual]);
    }
    table
}

/// A self-contained page: no scripts, no fonts, no network.
pub struct Page {
    pub title: String,
    pub tables: Vec<Table>,
    pub plots: Vec<String>,
}

impl Page {
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut html = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\
             body{{font-family:system-ui,sans-serif;margin:2em;max-width:1000px}}\
             table{{border-collapse:collapse;margin-bottom:1em}}\
             td,th{{border:1px solid #ccc;padding:.2em .6em;text-align:left}}\
             td.n{{text-align:right;font-variant-numeric:tabular-nums}}\
             svg{{display:block;margin:1em 0}}</style></head><body>\n<h1>{title}</h1>\n",
            title = escape(&self.title)
        );
        for table in &self.tables {
            html.push_str(&table.html());
        }
        for svg in &self.plots {
            html.push_str(svg);
            html.push('\n');
        }
        html.push_str("</body></html>\n");
        std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Per-second plots shared by both commands: rates, and latency percentiles.
pub fn timeline_plots(timeline: &[Second], rate_names: (&str, &str)) -> Vec<String> {
    let series = |f: fn(&Second) -> f64| -> Vec<(f64, f64)> {
        timeline.iter().map(|s| (s.second as f64, f(s))).collect()
    };
    vec![
        plot::lines(
            "rate per second",
            "second",
            "per second",
            &[
                (rate_names.0, series(|s| s.due as f64)),
                (rate_names.1, series(|s| s.answered as f64)),
                ("failed", series(|s| s.failed as f64)),
            ],
        ),
        plot::lines(
            "latency over time",
            "second",
            "ms",
            &[
                ("p50", series(|s| s.p50_ms)),
                ("p99", series(|s| s.p99_ms)),
                ("max", series(|s| s.max_ms)),
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_line_up_and_escape_for_html() {
        let mut table = Table::new("t", &["name", "n"]);
        table.row(vec!["a<b".into(), "10".into()]);
        table.row(vec!["c".into(), "2".into()]);
        assert_eq!(table.text(), "t\n  name   n\n  a<b   10\n  c      2\n");
        assert!(table.html().contains("<td>a&lt;b</td>"));
    }
}
