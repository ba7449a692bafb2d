//! The load engine: the warm-up and the measured phase, offered in a closed
//! or an open loop, and the live line printed each second.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use rand::rngs::SmallRng;

use super::recorder::{Recorder, SecondCounts, summarise};
use super::report::{ProductTally, ReserveReport};
use super::shopper::{Shared, shopper_turn};
use super::{LoadModel, ReserveRun};
use crate::alarm::Alarm;
use crate::profile::RateProfile;
use crate::progress::Progress;

/// A send that leaves this much after it was due counts as late.
const LATE_AFTER: Duration = Duration::from_millis(5);

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
