//! The recorder every shopper task writes its answers to, and the summary of
//! it into a [`ReserveReport`] once the run ends.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::checks::checks;
use super::report::{FollowUpReport, LatencyReport, ProductTally, ReserveReport, Sends};
use super::{LoadModel, ReserveRun};
use crate::latency::Latencies;
use crate::outcome::Outcome;
use crate::report::{PerSecond, Second};

/// What every shopper task writes to; one lock, held for a few counter bumps.
pub(super) struct Recorder {
    pub(super) corrected: Latencies,
    pub(super) uncorrected: Latencies,
    pub(super) by_outcome: BTreeMap<Outcome, Latencies>,
    pub(super) seconds: PerSecond<SecondCounts>,
    pub(super) follow_ups: BTreeMap<&'static str, (FollowUpReport, Latencies)>,
    pub(super) replay_mismatches: u64,
    pub(super) products: Vec<ProductTally>,
    pub(super) sends: Sends,
    pub(super) last_answer: Instant,
}

#[derive(Default)]
pub(super) struct SecondCounts {
    pub(super) due: u64,
    pub(super) business: u64,
    pub(super) failed: u64,
    pub(super) outcomes: BTreeMap<Outcome, u64>,
    pub(super) latencies: Option<Latencies>,
}

impl Recorder {
    pub(super) fn new(start: Instant, products: Vec<ProductTally>) -> Self {
        Self {
            corrected: Latencies::default(),
            uncorrected: Latencies::default(),
            by_outcome: BTreeMap::new(),
            seconds: PerSecond::new(start),
            follow_ups: BTreeMap::new(),
            replay_mismatches: 0,
            products,
            sends: Sends::default(),
            last_answer: start,
        }
    }

    pub(super) fn second(&mut self, at: Instant) -> &mut SecondCounts {
        self.seconds.at(at)
    }

    pub(super) fn answer(
        &mut self,
        outcome: Outcome,
        due: Instant,
        sent: Instant,
        answered: Instant,
    ) {
        self.corrected.record(answered - due);
        self.uncorrected.record(answered - sent);
        self.by_outcome
            .entry(outcome)
            .or_default()
            .record(answered - due);
        self.last_answer = self.last_answer.max(answered);
        let second = self.second(answered);
        *second.outcomes.entry(outcome).or_default() += 1;
        if outcome.is_business() {
            second.business += 1;
        } else {
            second.failed += 1;
        }
        second
            .latencies
            .get_or_insert_with(Latencies::coarse)
            .record(answered - due);
    }

    pub(super) fn follow_up(&mut self, kind: &'static str, ok: bool, took: Duration) {
        let (report, latencies) = self.follow_ups.entry(kind).or_default();
        report.calls += 1;
        report.failed += u64::from(!ok);
        latencies.record(took);
    }
}

pub(super) fn summarise(run: &ReserveRun, recorder: Recorder) -> ReserveReport {
    let elapsed = recorder
        .last_answer
        .duration_since(recorder.seconds.start())
        .max(run.duration)
        .as_secs_f64();
    let mut outcomes: BTreeMap<&'static str, u64> =
        Outcome::ALL.iter().map(|o| (o.name(), 0)).collect();
    let mut business = 0;
    let mut calls = 0;
    for (outcome, latencies) in &recorder.by_outcome {
        outcomes.insert(outcome.name(), latencies.count());
        calls += latencies.count();
        if outcome.is_business() {
            business += latencies.count();
        }
    }
    let oversell = recorder
        .products
        .iter()
        .map(ProductTally::oversold_units)
        .sum();
    let timeline = recorder
        .seconds
        .iter()
        .enumerate()
        .map(|(n, c)| Second::new(n, c.due, c.business, c.failed, c.latencies.as_ref()))
        .collect();
    let mut report = ReserveReport {
        model: match run.model {
            LoadModel::Closed { .. } => "closed",
            LoadModel::Open { .. } => "open",
        },
        concurrency: match run.model {
            LoadModel::Closed { concurrency } => Some(concurrency),
            LoadModel::Open { .. } => None,
        },
        target_rate: match &run.model {
            LoadModel::Closed { .. } => None,
            LoadModel::Open { profile, .. } => Some(profile.peak()),
        },
        duration_s: run.duration.as_secs_f64(),
        elapsed_s: elapsed,
        calls,
        achieved_rate: business as f64 / elapsed,
        error_rate: if calls == 0 {
            0.0
        } else {
            (calls - business) as f64 / calls as f64
        },
        outcomes,
        latency_ms: LatencyReport {
            corrected: recorder.corrected.summary(),
            uncorrected: recorder.uncorrected.summary(),
            corrected_curve: recorder.corrected.percentile_curve(),
            uncorrected_curve: recorder.uncorrected.percentile_curve(),
            by_outcome: recorder
                .by_outcome
                .iter()
                .map(|(o, l)| (o.name(), l.summary()))
                .collect(),
        },
        sends: recorder.sends,
        follow_ups: recorder
            .follow_ups
            .into_iter()
            .map(|(kind, (mut report, latencies))| {
                report.latency_ms = latencies.summary();
                (kind, report)
            })
            .collect(),
        replay_mismatches: recorder.replay_mismatches,
        oversell,
        products: recorder.products,
        timeline,
        checks: Vec::new(),
    };
    report.checks = checks(&report);
    report
}
