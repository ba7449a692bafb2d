//! `flashload reserve`: shoppers hammering the reserve path over gRPC, then a
//! check of the books.
//!
//! Two load models. Closed loop: `concurrency` shoppers, each sending its
//! next reserve when the last is answered; the server's speed sets the rate.
//! Open loop: sends leave on a schedule whatever the server does, as real
//! shoppers would, and latency is measured from when each send was *due*, so
//! a stall is charged to every call it delayed (coordinated omission
//! corrected); the figure from the actual send is reported beside it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use flashsale_proto::v1 as pb;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::Serialize;
use tonic::{Request, Status};

use crate::alarm::Alarm;
use crate::latency::{Latencies, LatencySummary};
use crate::merchant::{Merchant, Reservations};
use crate::outcome::Outcome;
use crate::profile::RateProfile;
use crate::progress::Progress;
use crate::report::{Check, PerSecond, Second};
use crate::traffic::{FollowUp, Intent, Traffic};

/// A send that leaves this much after it was due counts as late.
const LATE_AFTER: Duration = Duration::from_millis(5);

/// How the load is offered.
#[derive(Clone, Debug)]
pub enum LoadModel {
    Closed {
        concurrency: usize,
    },
    Open {
        profile: RateProfile,
        /// Sends beyond this many unanswered calls are dropped (and counted).
        max_in_flight: usize,
    },
}

/// The products a run reserves, and whether it made them.
#[derive(Clone, Debug)]
pub struct Target {
    pub skus: Vec<String>,
    /// True when this run created them, so nobody else writes to them and
    /// the server's counters must match the run's own tally exactly.
    pub created: bool,
    /// Each product as the run found (or made) it.
    pub at_start: Vec<pb::Product>,
}

impl Target {
    pub fn new(at_start: Vec<pb::Product>, created: bool) -> Self {
        Self {
            skus: at_start.iter().map(|p| p.sku.clone()).collect(),
            created,
            at_start,
        }
    }
}

pub struct ReserveRun {
    pub merchant: Merchant,
    pub target: Target,
    pub traffic: Traffic,
    pub model: LoadModel,
    pub duration: Duration,
    /// Load offered before `duration`, the same way, but not measured: the
    /// first calls pay for new connections and script loading.
    pub warmup: Duration,
    /// Longest a call may take before it counts as a deadline failure.
    pub timeout: Duration,
}

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

/// What every shopper task writes to; one lock, held for a few counter bumps.
struct Recorder {
    corrected: Latencies,
    uncorrected: Latencies,
    by_outcome: BTreeMap<Outcome, Latencies>,
    seconds: PerSecond<SecondCounts>,
    follow_ups: BTreeMap<&'static str, (FollowUpReport, Latencies)>,
    replay_mismatches: u64,
    products: Vec<ProductTally>,
    sends: Sends,
    last_answer: Instant,
}

#[derive(Default)]
struct SecondCounts {
    due: u64,
    business: u64,
    failed: u64,
    outcomes: BTreeMap<Outcome, u64>,
    latencies: Option<Latencies>,
}

impl Recorder {
    fn new(start: Instant, products: Vec<ProductTally>) -> Self {
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

    fn second(&mut self, at: Instant) -> &mut SecondCounts {
        self.seconds.at(at)
    }

    fn answer(&mut self, outcome: Outcome, due: Instant, sent: Instant, answered: Instant) {
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

    fn follow_up(&mut self, kind: &'static str, ok: bool, took: Duration) {
        let (report, latencies) = self.follow_ups.entry(kind).or_default();
        report.calls += 1;
        report.failed += u64::from(!ok);
        latencies.record(took);
    }
}

/// Shared by the shopper tasks of one run.
struct Shared {
    run: ReserveRun,
    recorder: Mutex<Recorder>,
    in_flight: AtomicUsize,
    next_connection: AtomicUsize,
    stop: AtomicBool,
    sent: AtomicU64,
}

impl Shared {
    fn recorder(&self) -> std::sync::MutexGuard<'_, Recorder> {
        self.recorder
            .lock()
            .expect("the recorder lock is never poisoned")
    }
}

/// A hold the run knows it has, and what it cost.
struct Answer {
    outcome: Outcome,
    /// The hold's id when the answer carried one.
    hold: Option<String>,
    due: Instant,
    sent: Instant,
    answered: Instant,
}

async fn send_reserve(
    shared: &Shared,
    client: &mut Reservations,
    intent: &Intent,
    due: Instant,
) -> Answer {
    let mut request = Request::new(pb::ReserveRequest {
        sku: shared.run.target.skus[intent.product].clone(),
        quantity: intent.quantity,
        customer_id: intent.customer.clone(),
        request_id: intent.request_id.clone(),
    });
    request.set_timeout(shared.run.timeout);
    let sent = Instant::now();
    let result = tokio::time::timeout(shared.run.timeout, client.reserve(request))
        .await
        .unwrap_or_else(|_| Err(Status::deadline_exceeded("flashload's own deadline")));
    let answered = Instant::now();
    let (outcome, hold) = match result {
        Ok(response) => {
            let response = response.into_inner();
            let outcome = if response.replayed {
                Outcome::Replayed
            } else {
                Outcome::Reserved
            };
            (outcome, response.reservation.map(|r| r.id))
        }
        Err(status) => (Outcome::of_status(&status), None),
    };
    Answer {
        outcome,
        hold,
        due,
        sent,
        answered,
    }
}

/// One shopper's turn: the reserve, maybe a retry of it, maybe a follow-up.
async fn shopper_turn(shared: &Shared, client: &mut Reservations, intent: Intent, due: Instant) {
    let first = send_reserve(shared, client, &intent, due).await;
    let mut known_hold = first.hold.clone();
    let mut mismatches = 0;
    let mut unanswered = first.outcome.effect_unknown();
    let retry = if intent.retry {
        let again = send_reserve(shared, client, &intent, Instant::now()).await;
        match (&known_hold, &again.hold) {
            (Some(first_id), Some(id)) if id != first_id || again.outcome != Outcome::Replayed => {
                mismatches += 1;
            }
            (None, Some(_)) => {
                // The first call's hold, or a new one if the first was refused.
                known_hold = again.hold.clone();
                unanswered = false;
            }
            _ => {}
        }
        if again.outcome.is_business() {
            unanswered = false;
        }
        Some(again)
    } else {
        None
    };

    let mut cancelled = false;
    let mut cancel_unanswered = false;
    if let Some(id) = &known_hold {
        match intent.follow_up {
            FollowUp::Keep => {}
            FollowUp::Confirm => {
                let started = Instant::now();
                let result = client
                    .confirm_reservation(pb::ConfirmReservationRequest { id: id.clone() })
                    .await;
                shared
                    .recorder()
                    .follow_up("confirm", result.is_ok(), started.elapsed());
            }
            FollowUp::Cancel => {
                let started = Instant::now();
                let result = client
                    .cancel_reservation(pb::CancelReservationRequest { id: id.clone() })
                    .await;
                cancelled = result
                    .as_ref()
                    .is_ok_and(|r| r.get_ref().state == pb::HoldState::Cancelled as i32);
                cancel_unanswered = result
                    .as_ref()
                    .is_err_and(|s| Outcome::of_status(s).effect_unknown());
                shared
                    .recorder()
                    .follow_up("cancel", result.is_ok(), started.elapsed());
            }
        }
    }

    let mut recorder = shared.recorder();
    for answer in std::iter::once(&first).chain(retry.as_ref()) {
        recorder.answer(answer.outcome, answer.due, answer.sent, answer.answered);
    }
    recorder.replay_mismatches += mismatches;
    let tally = &mut recorder.products[intent.product];
    if known_hold.is_some() {
        tally.granted_holds += 1;
        tally.granted_units += intent.quantity;
    } else if unanswered {
        tally.unanswered_reserves += 1;
        tally.unanswered_reserve_units += intent.quantity;
    }
    if cancelled {
        tally.cancelled_units += intent.quantity;
    } else if cancel_unanswered {
        tally.unanswered_cancel_units += intent.quantity;
    }
}

impl ReserveRun {
    /// Runs the load, waits for every call to end, checks the books.
    pub async fn execute(self, progress: &Progress) -> Result<ReserveReport> {
        let products = self
            .target
            .at_start
            .iter()
            .map(|p| ProductTally {
                sku: p.sku.clone(),
                created_by_run: self.target.created,
                total_at_start: p.total,
                held_at_start: p.held,
                sold_at_start: p.sold,
                ..ProductTally::default()
            })
            .collect();
        let shared = Arc::new(Shared {
            recorder: Mutex::new(Recorder::new(Instant::now(), products)),
            run: self,
            in_flight: AtomicUsize::new(0),
            next_connection: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            sent: AtomicU64::new(0),
        });
        if !shared.run.warmup.is_zero() {
            progress.say(&format!(
                "warming up for {} (not measured; its holds count in the checks)",
                humantime::format_duration(shared.run.warmup)
            ));
            load_phase(&shared, Instant::now(), shared.run.warmup).await?;
        }

        let start = Instant::now();
        {
            let mut recorder = shared.recorder();
            let products = std::mem::take(&mut recorder.products);
            *recorder = Recorder::new(start, products);
            shared.sent.store(0, Ordering::Release);
        }
        let ticker = tokio::spawn(report_each_second(shared.clone(), progress.clone()));
        load_phase(&shared, start, shared.run.duration).await?;
        shared.stop.store(true, Ordering::Release);
        ticker.abort();

        // Tasks that have answered may still hold their handle for a moment.
        let mut recorder =
            std::mem::replace(&mut *shared.recorder(), Recorder::new(start, Vec::new()));
        recorder.sends.sent = shared.sent.load(Ordering::Acquire);
        for tally in &mut recorder.products {
            tally.server = Some(shared.run.merchant.audit(&tally.sku).await?.into());
        }
        Ok(summarise(&shared.run, recorder))
    }
}

/// Offers load for `length` from `start`, then waits for every call to end.
async fn load_phase(shared: &Arc<Shared>, start: Instant, length: Duration) -> Result<()> {
    let end = start + length;
    match shared.run.model.clone() {
        LoadModel::Closed { concurrency } => closed_loop(shared, concurrency, end).await,
        LoadModel::Open {
            profile,
            max_in_flight,
        } => open_loop(shared, &profile, max_in_flight, start, end).await?,
    }
    // Every call has a deadline, so the stragglers end soon.
    let drain_until = Instant::now() + shared.run.timeout * 3 + Duration::from_secs(1);
    while shared.in_flight.load(Ordering::Acquire) > 0 {
        if Instant::now() > drain_until {
            bail!("calls still unanswered well past their deadline");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn closed_loop(shared: &Arc<Shared>, concurrency: usize, end: Instant) {
    let shoppers: Vec<_> = (0..concurrency)
        .map(|_| {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut rng = SmallRng::from_rng(&mut rand::rng());
                let n = shared.next_connection.fetch_add(1, Ordering::Relaxed);
                let mut client = shared.run.merchant.reservations(n);
                while Instant::now() < end {
                    let intent = shared.run.traffic.draw(&mut rng);
                    shared.in_flight.fetch_add(1, Ordering::AcqRel);
                    shared.sent.fetch_add(1, Ordering::Relaxed);
                    let due = Instant::now();
                    shared.recorder().second(due).due += 1;
                    shopper_turn(&shared, &mut client, intent, due).await;
                    shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                }
            })
        })
        .collect();
    for shopper in shoppers {
        shopper.await.expect("a shopper task panicked");
    }
}

/// Sends each reserve when it is due, timed by an [`Alarm`], which is
/// precise to microseconds where the runtime's timer fires on whole
/// milliseconds.
async fn open_loop(
    shared: &Arc<Shared>,
    profile: &RateProfile,
    max_in_flight: usize,
    start: Instant,
    end: Instant,
) -> Result<()> {
    let mut alarm = Alarm::new().context("creating the open loop's timer")?;
    let mut rng = SmallRng::from_rng(&mut rand::rng());
    let mut due = start;
    while due < end {
        alarm
            .sleep_until(due)
            .await
            .context("waiting for the next send")?;
        // Everything due by now leaves now: a late dispatcher catches up
        // instead of silently lowering the rate.
        let now = Instant::now();
        while due <= now && due < end {
            let mut recorder = shared.recorder();
            recorder.second(due).due += 1;
            if now - due > LATE_AFTER {
                recorder.sends.late += 1;
            }
            if shared.in_flight.load(Ordering::Acquire) >= max_in_flight {
                recorder.sends.dropped += 1;
            } else {
                drop(recorder);
                let intent = shared.run.traffic.draw(&mut rng);
                let n = shared.next_connection.fetch_add(1, Ordering::Relaxed);
                let mut client = shared.run.merchant.reservations(n);
                shared.in_flight.fetch_add(1, Ordering::AcqRel);
                shared.sent.fetch_add(1, Ordering::Relaxed);
                let shared = shared.clone();
                let due_at = due;
                tokio::spawn(async move {
                    shopper_turn(&shared, &mut client, intent, due_at).await;
                    shared.in_flight.fetch_sub(1, Ordering::AcqRel);
                });
            }
            due = start + profile.next_send(due - start);
        }
    }
    Ok(())
}

/// The live line: due versus answered per second, this second's p99.
async fn report_each_second(shared: Arc<Shared>, progress: Progress) {
    let start = shared.recorder().seconds.start();
    let mut second = 1u64;
    loop {
        tokio::time::sleep_until((start + Duration::from_secs(second)).into()).await;
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        let line = {
            let recorder = shared.recorder();
            let counts = recorder.seconds.get(second as usize - 1);
            let count = |f: fn(&SecondCounts) -> u64| counts.map_or(0, f);
            let p99 = counts
                .and_then(|c| c.latencies.as_ref())
                .map_or(0.0, |l| l.quantile_ms(0.99));
            let outcomes = counts
                .map(|c| {
                    c.outcomes
                        .iter()
                        .map(|(o, n)| format!("{} {n}", o.name()))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            format!(
                "due {}/s  answered {}/s  in flight {}  p99 {p99:.2} ms  {outcomes}",
                count(|c| c.due),
                count(|c| c.business + c.failed),
                shared.in_flight.load(Ordering::Relaxed),
            )
        };
        progress.tick(second, &line);
        second += 1;
    }
}

fn summarise(run: &ReserveRun, recorder: Recorder) -> ReserveReport {
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

/// The books after the run: what the run was granted against what the server
/// says, product by product.
fn checks(report: &ReserveReport) -> Vec<Check> {
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
