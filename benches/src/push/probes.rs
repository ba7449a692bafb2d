//! What a push round must not slow: while a sale opening's pushes go out,
//! shoppers go on buying and holds go on expiring. Two probes run through
//! the whole bench, one of each every `interval`: a reserve and confirm
//! timed until the worker has bought it, and a one-second hold timed from
//! its deadline until a sweeper has expired it. Each probe counts for the
//! phase it started in, so the figures before the opening are the baseline
//! of the figures during the round, in the same run.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reservation_core::{
    CustomerId, Engine, HoldState, Quantity, RequestId, ReservationId, ReserveRequest, Sku,
};
use tokio::sync::watch;

use crate::latency::Latencies;

/// Phases of a run, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Before,
    During,
    Done,
}

/// One phase's figures.
#[derive(Clone, Debug, Default)]
pub struct PhaseProbes {
    /// Confirm → bought.
    pub purchases: Latencies,
    /// Deadline → expired by a sweeper.
    pub expiry_lateness: Latencies,
}

/// Both phases' figures.
#[derive(Default)]
pub struct ProbeFigures {
    pub before: PhaseProbes,
    pub during: PhaseProbes,
}

/// How often a probe state is looked at: finer than the lateness measured.
const POLL: Duration = Duration::from_millis(5);
/// Longest a probe may take before the run fails.
const PROBE_LIMIT: Duration = Duration::from_secs(60);

/// Runs probes every `interval` on `buy` (bought by the worker) and
/// `expire` (one-second holds) until `phase` turns `Done`.
pub async fn run(
    engine: Engine,
    buy: Sku,
    expire: Sku,
    interval: Duration,
    phase: watch::Receiver<Phase>,
) -> Result<ProbeFigures> {
    let figures = Arc::new(Mutex::new(ProbeFigures::default()));
    let mut probes = tokio::task::JoinSet::new();
    let mut ticks = tokio::time::interval(interval);
    for n in 0u64.. {
        ticks.tick().await;
        let started_in = *phase.borrow();
        if started_in == Phase::Done {
            break;
        }
        let (engine, buy, expire, figures) =
            (engine.clone(), buy.clone(), expire.clone(), figures.clone());
        probes.spawn(async move {
            let (bought, late) =
                tokio::try_join!(purchase(&engine, &buy, n), expiry(&engine, &expire, n))?;
            let mut figures = figures.lock().expect("probe figures");
            let phase = match started_in {
                Phase::Before => &mut figures.before,
                _ => &mut figures.during,
            };
            phase.purchases.record(bought);
            phase.expiry_lateness.record(late);
            anyhow::Ok(())
        });
    }
    while let Some(probe) = probes.join_next().await {
        probe.context("a probe panicked")??;
    }
    Ok(Arc::try_unwrap(figures)
        .map_err(|_| anyhow::anyhow!("probes still running"))?
        .into_inner()
        .expect("probe figures"))
}

async fn reserve(engine: &Engine, sku: &Sku, kind: &str, n: u64) -> Result<ReservationId> {
    let request = ReserveRequest {
        sku: sku.clone(),
        quantity: Quantity::new(1)?,
        customer_id: CustomerId::new(format!("probe-{kind}-{n}"))?,
        request_id: RequestId::new(format!("probe-{kind}-{n}"))?,
    };
    Ok(engine.reserve(&request).await?.hold.id)
}

/// Waits until the hold is in `state`; fails on another final state.
async fn until_state(engine: &Engine, id: &ReservationId, state: HoldState) -> Result<()> {
    let limit = Instant::now() + PROBE_LIMIT;
    loop {
        let hold = engine.reservation(id).await?;
        if hold.state == state {
            return Ok(());
        }
        if Instant::now() > limit {
            bail!(
                "{id} still {:?} after {PROBE_LIMIT:?}, waiting for {state:?}",
                hold.state
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

async fn purchase(engine: &Engine, sku: &Sku, n: u64) -> Result<Duration> {
    let id = reserve(engine, sku, "buy", n).await?;
    let confirmed = Instant::now();
    engine.confirm(&id, None).await?;
    until_state(engine, &id, HoldState::Purchased).await?;
    Ok(confirmed.elapsed())
}

async fn expiry(engine: &Engine, sku: &Sku, n: u64) -> Result<Duration> {
    let id = reserve(engine, sku, "expire", n).await?;
    let deadline = engine.reservation(&id).await?.expires_at_ms;
    until_state(engine, &id, HoldState::Expired).await?;
    let late_ms = (engine.now_ms() - deadline).max(0);
    Ok(Duration::from_millis(late_ms as u64))
}
