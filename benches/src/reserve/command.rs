//! `flashload reserve` end to end: the command line turned into a
//! [`ReserveRun`], then its tables, plots and verdicts.

use std::time::Duration;

use anyhow::{Result, bail};

use super::{LoadModel, ReserveReport, ReserveRun};
use crate::cli::{ReserveArgs, SkewArg};
use crate::merchant::Merchant;
use crate::outcome::Outcome;
use crate::output::{Results, finish, objectives};
use crate::plot;
use crate::profile::RateProfile;
use crate::progress::Progress;
use crate::report::{self, Table};
use crate::setup::{products, run_id};
use crate::slo;
use crate::traffic::{Skew, Traffic, parse_quantity};

/// Runs `flashload reserve`; `Ok(false)` when a check or an objective failed.
pub async fn run(args: ReserveArgs) -> Result<bool> {
    let objectives = objectives(&args.output)?;
    let model = match (args.concurrency, args.rate, &args.profile) {
        (_, None, Some(_)) | (Some(_), Some(_), _) => {
            bail!("--profile needs --rate; --concurrency and --rate exclude each other")
        }
        (concurrency, None, None) => LoadModel::Closed {
            concurrency: concurrency.unwrap_or(64).max(1),
        },
        (None, Some(rate), profile) => LoadModel::Open {
            profile: match profile {
                Some(spec) => RateProfile::parse(spec, Some(rate), args.duration)?,
                None if rate > 0.0 => RateProfile::constant(rate),
                None => bail!("--rate must be above zero"),
            },
            max_in_flight: args.max_in_flight,
        },
    };
    for (name, share) in [
        ("--retry-fraction", args.retry_fraction),
        ("--confirm-fraction", args.confirm_fraction),
        ("--cancel-fraction", args.cancel_fraction),
        ("--hot-share", args.hot_share),
    ] {
        if !(0.0..=1.0).contains(&share) {
            bail!("{name} must be between 0 and 1");
        }
    }
    if args.confirm_fraction + args.cancel_fraction > 1.0 {
        bail!("--confirm-fraction and --cancel-fraction add up to more than 1");
    }

    let merchant = Merchant::connect(
        &args.server.target,
        args.server.token.as_deref(),
        args.server.connections,
    )
    .await?;
    let run_id = run_id();
    let hold_seconds = args
        .hold_seconds
        .unwrap_or_else(|| (args.duration + Duration::from_secs(600)).as_secs() as u32);
    let target = products(
        &merchant,
        &args.products,
        &run_id,
        args.per_customer_limit,
        hold_seconds,
    )
    .await?;
    let skew = match args.skew {
        SkewArg::Hot => Skew::Hot {
            share: args.hot_share,
        },
        SkewArg::Uniform => Skew::Uniform,
        SkewArg::Zipf => {
            Skew::zipf(target.skus.len(), args.zipf_exponent).map_err(anyhow::Error::msg)?
        }
    };
    let mut traffic = Traffic::new(format!("fl-{run_id}"), target.skus.len(), skew);
    traffic.quantity = parse_quantity(&args.quantity).map_err(anyhow::Error::msg)?;
    traffic.customers = args.customers.max(1);
    traffic.retry_fraction = args.retry_fraction;
    traffic.confirm_fraction = args.confirm_fraction;
    traffic.cancel_fraction = args.cancel_fraction;

    let progress = Progress::start(args.duration);
    progress.say(&format!(
        "flashload reserve: {} for {} against {} on {}",
        match &model {
            LoadModel::Closed { concurrency } => format!("closed loop, {concurrency} shoppers"),
            LoadModel::Open { profile, .. } => format!("open loop, up to {}/s", profile.peak()),
        },
        humantime::format_duration(args.duration),
        args.server.target,
        target.skus.join(", "),
    ));
    let report = ReserveRun {
        merchant,
        target,
        traffic,
        model,
        duration: args.duration,
        warmup: args.warmup,
        timeout: args.timeout,
    }
    .execute(&progress)
    .await?;
    progress.finish();

    let verdicts = slo::judge(&objectives, |name| report.figure(name));
    let plots = reserve_plots(&report);
    finish(
        "reserve",
        &args.server.target,
        &args.output,
        Results {
            report: &report,
            checks: &report.checks,
            verdicts: &verdicts,
            tables: reserve_tables(&report),
            plots,
        },
    )
}

fn reserve_tables(r: &ReserveReport) -> Vec<Table> {
    let mut run = Table::new("run", &["", ""]);
    let mut add = |name: &str, value: String| run.row(vec![name.to_owned(), value]);
    add(
        "load",
        match (r.concurrency, r.target_rate) {
            (Some(c), _) => format!("closed loop, {c} shoppers"),
            (_, Some(rate)) => format!("open loop, up to {rate:.0}/s"),
            _ => String::new(),
        },
    );
    add("elapsed", format!("{:.1} s", r.elapsed_s));
    add("calls", r.calls.to_string());
    add("achieved rate", format!("{:.0}/s", r.achieved_rate));
    add("errors", format!("{:.3} %", r.error_rate * 100.0));
    add(
        "sends",
        format!(
            "{} sent, {} late, {} dropped",
            r.sends.sent, r.sends.late, r.sends.dropped
        ),
    );
    add("oversold units", r.oversell.to_string());

    let mut outcomes = Table::new("outcomes", &["", "calls"]);
    for outcome in Outcome::ALL {
        let count = r.outcomes.get(outcome.name()).copied().unwrap_or(0);
        outcomes.row(vec![outcome.name().to_owned(), count.to_string()]);
    }

    let mut rows = vec![
        ("corrected (all)", &r.latency_ms.corrected),
        ("uncorrected (all)", &r.latency_ms.uncorrected),
    ];
    rows.extend(r.latency_ms.by_outcome.iter().map(|(n, s)| (*n, s)));
    rows.extend(r.follow_ups.iter().map(|(n, f)| (*n, &f.latency_ms)));
    let latency = report::latency_table("latency (ms)", &rows);

    let mut products = Table::new(
        "products",
        &[
            "sku",
            "total",
            "available",
            "held",
            "sold",
            "holds",
            "granted",
            "cancelled",
        ],
    );
    for p in &r.products {
        let s = p.server.clone().unwrap_or_default();
        products.row(vec![
            p.sku.clone(),
            s.total.to_string(),
            s.available.to_string(),
            s.held.to_string(),
            s.sold.to_string(),
            s.holds.to_string(),
            p.granted_units.to_string(),
            p.cancelled_units.to_string(),
        ]);
    }
    vec![run, outcomes, latency, products]
}

fn reserve_plots(r: &ReserveReport) -> Vec<String> {
    let mut plots = report::timeline_plots(&r.timeline, ("due", "answered"));
    plots.push(plot::percentiles(
        "latency by percentile",
        &[
            ("corrected", r.latency_ms.corrected_curve.clone()),
            ("uncorrected", r.latency_ms.uncorrected_curve.clone()),
        ],
    ));
    plots
}
