//! The planner: decides when pushes go out, and to whom, a batch at a time.
//!
//! Every `interval`, the worker holding sweep partition 0 (one at a time, as
//! for the other chores) reads each product with push interests and:
//!
//! - once its sale's start is reached (and the sale is open: not ended,
//!   not paused), starts its "sale opens" round with the start as notice. A
//!   sale moved later opens at its new start, with a new notice; a start
//!   more than [`LATE_START`] ago starts nothing (push turned on long after
//!   a sale opened would announce it to nobody's use);
//! - while its sale is open, records whether it has units; from none to
//!   some starts a "back in stock" round (`observe_push_availability`),
//!   unless the last one started less than the quiet period before.
//!
//! A product that cannot be read or started is logged and tried again next
//! tick; the others go on.
//!
//! Then it walks every round in progress to its end without waiting for
//! the next tick: a batch of interests read, their jobs enqueued, the round
//! moved on (compare-and-set), until done or the worker stops. A planner
//! that dies mid-round leaves the round's cursor in Redis; the next holder
//! of partition 0 finds the round and goes on from there. A batch enqueued
//! twice (a death between enqueue and advance) sends once: the deliverer's
//! claim drops the second.
//!
//! Script calls are kept to what changed: what this planner started, and
//! the availability it recorded, are remembered, so an idle product costs
//! one read per tick. Rounds started elsewhere (a planner that died) are
//! looked for across every product only when this worker becomes the
//! holder and every [`SURVEY_EVERY`] ticks after, when the memory is also
//! refreshed from Redis.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reservation_core::{Engine, Error, Product, PushJob, PushKind, Result, Sku};
use tokio::sync::watch;

use super::PushSettings;
use crate::WorkerMetrics;

/// A sale that opened longer ago than this is not announced.
pub const LATE_START: Duration = Duration::from_secs(60 * 60);
/// Ticks between two looks for rounds in progress across every product.
const SURVEY_EVERY: u32 = 60;
/// Products read, or rounds walked, at once.
const IN_FLIGHT: usize = 16;

pub struct PushPlanner {
    engine: Engine,
    /// The sweeper's name in the partition leases: it plans while it holds
    /// partition 0.
    sweeper: String,
    settings: PushSettings,
    metrics: Arc<WorkerMetrics>,
    memory: Memory,
}

/// What this planner knows of Redis' rounds without asking; forgotten when
/// it stops holding partition 0 (another planner may change them).
#[derive(Default)]
struct Memory {
    holding: bool,
    /// The sale start each product's "sale opens" round was started with,
    /// here or before.
    opened: HashMap<Sku, i64>,
    /// Whether each product had units when last recorded.
    available: HashMap<Sku, bool>,
    /// Rounds that may be in progress.
    rounds: HashSet<(Sku, PushKind)>,
    ticks_to_survey: u32,
}

impl PushPlanner {
    pub fn new(
        engine: Engine,
        sweeper: String,
        settings: PushSettings,
        metrics: Arc<WorkerMetrics>,
    ) -> Self {
        Self {
            engine,
            sweeper,
            settings,
            metrics,
            memory: Memory::default(),
        }
    }

    /// Plans every `interval` until `shutdown` turns true.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            if let Err(e) = self.tick(&shutdown).await {
                tracing::warn!(error = %e, "cannot plan pushes; trying again");
            }
            tokio::select! {
                () = tokio::time::sleep(self.settings.interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// One look at every product with push interests, then the rounds in
    /// progress walked to their end; nothing unless this worker holds
    /// partition 0.
    pub async fn tick(&mut self, shutdown: &watch::Receiver<bool>) -> Result<()> {
        let first = self.engine.config().partitions.all().next();
        let Some(first) = first else { return Ok(()) };
        let holder = self.engine.partition_holder(&first).await?;
        if holder.as_deref() != Some(&self.sweeper) {
            if self.memory.holding {
                tracing::info!("no longer planning pushes: another worker holds partition 0");
            }
            self.memory = Memory::default();
            return Ok(());
        }
        if !self.memory.holding || self.memory.ticks_to_survey == 0 {
            self.survey().await?;
        }
        self.memory.ticks_to_survey -= 1;
        let now = self.engine.now_ms();
        let skus = self.engine.push_products().await?;
        let listed: HashSet<&Sku> = skus.iter().collect();
        self.memory.opened.retain(|sku, _| listed.contains(sku));
        self.memory.available.retain(|sku, _| listed.contains(sku));
        // Each product on its own: one that cannot be read or started (a
        // Redis error, a hash written behind the engine's back) is tried
        // again next tick, and holds up no other.
        let engine = &self.engine;
        let products: Vec<Product> = futures_util::stream::iter(skus.iter().cloned())
            .map(|sku| async move {
                let read = engine.product(&sku).await;
                (sku, read)
            })
            .buffer_unordered(IN_FLIGHT)
            .filter_map(|(sku, read)| async move {
                match read {
                    Ok(product) => Some(product),
                    Err(Error::ProductNotFound(_)) => None,
                    Err(e) => {
                        tracing::warn!(%sku, error = %e, "cannot read a product to plan its pushes; trying next tick");
                        None
                    }
                }
            })
            .collect()
            .await;
        for product in &products {
            if *shutdown.borrow() {
                return Ok(());
            }
            if let Err(e) = self.start_rounds(product, now).await {
                let sku = &product.sku;
                tracing::warn!(%sku, error = %e, "cannot start a product's push rounds; trying next tick");
            }
        }
        self.walk_rounds(shutdown).await;
        Ok(())
    }

    /// Becoming the holder, and now and then after: every product's rounds
    /// may be in progress (a planner died mid-round), and what is
    /// remembered of them is read again.
    async fn survey(&mut self) -> Result<()> {
        if !self.memory.holding {
            tracing::info!("planning pushes: this worker holds partition 0");
        }
        let skus = self.engine.push_products().await?;
        self.memory = Memory {
            holding: true,
            ticks_to_survey: SURVEY_EVERY,
            ..Memory::default()
        };
        for sku in skus {
            for kind in [PushKind::SaleOpens, PushKind::BackInStock] {
                self.memory.rounds.insert((sku.clone(), kind));
            }
        }
        Ok(())
    }

    /// Starts the rounds `product` is due for at `now_ms`.
    async fn start_rounds(&mut self, product: &Product, now_ms: i64) -> Result<()> {
        if !product.sale_open_at(now_ms) {
            // Closed or paused: nothing opens, and units back in a closed
            // sale are not "back" for shoppers until it opens again.
            return Ok(());
        }
        let sku = &product.sku;
        if let Some(start) = product.sale_starts_at_ms
            && now_ms - start < LATE_START.as_millis() as i64
            && self.memory.opened.get(sku) != Some(&start)
        {
            if self
                .engine
                .start_push_round(sku, PushKind::SaleOpens, start)
                .await?
            {
                tracing::info!(%sku, start, "the sale opens: pushing to its subscribers");
                self.memory
                    .rounds
                    .insert((sku.clone(), PushKind::SaleOpens));
            }
            self.memory.opened.insert(sku.clone(), start);
        }
        let available = product.stock.available > 0;
        if self.memory.available.get(sku) != Some(&available) {
            let back = self
                .engine
                .observe_push_availability(
                    sku,
                    product.stock.available,
                    now_ms,
                    self.settings.quiet_period,
                )
                .await?;
            if let Some(notice) = back {
                tracing::info!(%sku, notice, available = product.stock.available, "back in stock: pushing to its subscribers");
                self.memory
                    .rounds
                    .insert((sku.clone(), PushKind::BackInStock));
            }
            self.memory.available.insert(sku.clone(), available);
        }
        Ok(())
    }

    /// Walks the rounds that may be in progress to their end; those not
    /// finished (an error, or the worker stopping) are tried next tick.
    async fn walk_rounds(&mut self, shutdown: &watch::Receiver<bool>) {
        let rounds: Vec<(Sku, PushKind)> = self.memory.rounds.iter().cloned().collect();
        let this = &*self;
        let finished: Vec<(Sku, PushKind)> = futures_util::stream::iter(rounds)
            .map(|(sku, kind)| async move {
                match this.walk_round(&sku, kind, shutdown).await {
                    Ok(true) => Some((sku, kind)),
                    Ok(false) => None,
                    Err(e) => {
                        tracing::warn!(%sku, %kind, error = %e, "push round interrupted; going on next tick");
                        None
                    }
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .filter_map(|finished| async move { finished })
            .collect()
            .await;
        for round in finished {
            self.memory.rounds.remove(&round);
        }
    }

    /// Enqueues a round's batches until it is done (true) or the worker
    /// stops (false).
    async fn walk_round(
        &self,
        sku: &Sku,
        kind: PushKind,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<bool> {
        loop {
            if *shutdown.borrow() {
                return Ok(false);
            }
            let batch = self
                .engine
                .push_round_batch(sku, kind, self.settings.round_batch)
                .await?;
            let Some(batch) = batch else { return Ok(true) };
            let now_ms = self.engine.now_ms();
            let jobs: Vec<PushJob> = batch
                .interests
                .iter()
                .map(|interest| PushJob {
                    kind,
                    sku: sku.clone(),
                    customer: interest.customer.clone(),
                    subscription: interest.subscription.clone(),
                    notice: batch.notice.to_string(),
                    expires_at_ms: None,
                    enqueued_at_ms: now_ms,
                })
                .collect();
            if batch.skipped > 0 {
                // The engine warned of each, with its field.
                self.metrics
                    .push_not_planned("unreadable_interest", batch.skipped as u64);
            }
            self.engine.enqueue_push_jobs(&jobs).await?;
            self.metrics.push_jobs_enqueued.inc_by(jobs.len() as u64);
            let moved = self.engine.advance_push_round(&batch).await?;
            if !moved {
                // Another planner (the holder before, still finishing) or a
                // newer round moved it: read where it is now.
                tracing::debug!(%sku, %kind, "push round moved elsewhere");
            } else if batch.is_last() {
                tracing::info!(%sku, %kind, notice = batch.notice, "push round enqueued");
                return Ok(true);
            }
        }
    }
}
