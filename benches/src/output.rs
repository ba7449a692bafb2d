//! What every command does with its results: objectives from `--slo`, the
//! tables printed, `--json` and `--html` written, the verdict.

use anyhow::{Context, Result};

use crate::cli::OutputArgs;
use crate::report::{self, Document, Page, Table};
use crate::slo::{self, Objective};

pub fn objectives(output: &OutputArgs) -> Result<Vec<Objective>> {
    Ok(output
        .slo
        .as_deref()
        .map(slo::parse)
        .transpose()
        .context("--slo")?
        .unwrap_or_default())
}

/// What a command measured, ready to print and save.
pub struct Results<'a, R> {
    pub report: &'a R,
    pub checks: &'a [report::Check],
    pub verdicts: &'a [slo::Verdict],
    pub tables: Vec<Table>,
    pub plots: Vec<String>,
}

/// Prints the tables, writes `--json` and `--html`; returns whether it all passed.
pub fn finish<R: serde::Serialize>(
    command: &'static str,
    target: &str,
    output: &OutputArgs,
    results: Results<'_, R>,
) -> Result<bool> {
    let Results {
        report,
        checks,
        verdicts,
        mut tables,
        plots,
    } = results;
    tables.push(report::checks_table(checks, verdicts));
    for table in &tables {
        println!("{}", table.text());
    }
    let passed = report::passed(checks, verdicts);
    println!("{}", if passed { "PASSED" } else { "FAILED" });
    let document = Document {
        command,
        target,
        report,
        slo: verdicts,
        passed,
    };
    if let Some(path) = &output.json {
        document.write_json(path)?;
    }
    if let Some(path) = &output.html {
        Page {
            title: format!("flashload {command} against {target}"),
            tables,
            plots,
        }
        .write(path)?;
    }
    Ok(passed)
}
