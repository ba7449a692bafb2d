//! The buyer: reads purchase jobs and turns each confirmed hold into a sale,
//! or, when the purchase step keeps failing, gives its units back. A worker
//! runs one buyer per partition of the purchase streams, so it consumes them
//! all, each through its partition's consumer group.
//!
//! A purchase the shop declines is released at once; one that fails
//! otherwise is tried again with backoff, up to `max_attempts`.
//!
//! A job is acknowledged only once its hold is finished, so a worker that
//! dies mid-job leaves it pending; another worker claims it after
//! `claim_idle`. Finishing twice is harmless: finalize and release are
//! idempotent scripts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reservation_core::{Engine, Error, HoldState, PurchaseJob, PurchaseQueue, RedisConfig, Result};
use tokio::sync::watch;

use crate::{Purchase, PurchaseFailure, PurchaseStep, WorkerConfig, WorkerMetrics};

pub struct Buyer<S> {
    engine: Engine,
    queue: PurchaseQueue,
    step: Arc<S>,
    config: WorkerConfig,
    metrics: Arc<WorkerMetrics>,
}

impl<S: PurchaseStep> Buyer<S> {
    pub fn new(
        engine: Engine,
        queue: PurchaseQueue,
        step: Arc<S>,
        config: WorkerConfig,
        metrics: Arc<WorkerMetrics>,
    ) -> Self {
        Self {
            engine,
            queue,
            step,
            config,
            metrics,
        }
    }

    /// One buyer for each partition of the engine's deployment, each reading
    /// its partition's stream on a connection of its own.
    pub async fn for_every_partition(
        engine: &Engine,
        redis: &RedisConfig,
        step: Arc<S>,
        config: &WorkerConfig,
        metrics: &Arc<WorkerMetrics>,
    ) -> Result<Vec<Self>> {
        let mut buyers = Vec::new();
        // The engine may have connected just before Redis went away again (a
        // restart, with its data still loading): opening the streams waits
        // for it as the engine's connect does, instead of ending the worker.
        let give_up = Instant::now() + config.redis_wait;
        for partition in engine.config().partitions.all() {
            let queue = loop {
                match PurchaseQueue::connect(redis, partition.clone(), config.block).await {
                    Err(Error::Unavailable(e)) if Instant::now() < give_up => {
                        tracing::warn!(error = %e, "Redis cannot answer yet; opening the purchase streams again");
                        tokio::time::sleep(Duration::from_millis(250)).await;
                    }
                    opened => break opened?,
                }
            };
            buyers.push(Self::new(
                engine.clone(),
                queue,
                step.clone(),
                config.clone(),
                metrics.clone(),
            ));
        }
        Ok(buyers)
    }

    /// Buys until `shutdown` turns true; the job in hand is finished and
    /// acknowledged first.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            let jobs = match self.next_jobs().await {
                Ok(jobs) => jobs,
                Err(e) => {
                    tracing::warn!(
                        partition = self.queue.partition().index,
                        error = %e,
                        "cannot read purchase jobs; retrying"
                    );
                    tokio::time::sleep(self.config.backoff).await;
                    continue;
                }
            };
            let taken_at = Instant::now();
            for job in jobs {
                if let Err(e) = self.process(&job, taken_at).await {
                    // Left unacknowledged: claimed again after `claim_idle`.
                    tracing::warn!(entry = %job.entry_id, error = %e, "purchase job left pending");
                    tokio::time::sleep(self.config.backoff).await;
                    break;
                }
                if *shutdown.borrow() {
                    return;
                }
            }
        }
    }

    /// Jobs abandoned by idle consumers first, then new ones.
    async fn next_jobs(&self) -> Result<Vec<PurchaseJob>> {
        let config = &self.config;
        let (jobs, claimed) = self
            .queue
            .next(
                &config.consumer,
                config.claim_idle,
                config.batch,
                config.block,
            )
            .await?;
        self.metrics.claimed.inc_by(claimed as u64);
        Ok(jobs)
    }

    /// Finishes one job. An error means Redis could not be reached and the
    /// job stays pending.
    /// `taken_at` is when it was read or claimed.
    pub async fn process(&self, job: &PurchaseJob, taken_at: Instant) -> Result<()> {
        let id = match &job.reservation {
            Ok(id) => id,
            Err(reason) => return self.give_up(job, reason).await,
        };
        let hold = match self.engine.reservation(id).await {
            Ok(hold) => hold,
            Err(Error::ReservationNotFound(_)) => {
                return self.give_up(job, "no such reservation").await;
            }
            Err(e) => return Err(e),
        };
        match hold.state {
            HoldState::Confirmed => {}
            // Finished by a worker that died before its ack. Its order may not
            // have been appended, so append it (orders are at least once).
            HoldState::Purchased => {
                self.queue.append_order(&hold).await?;
                return self.queue.ack(job).await;
            }
            // Released, or never confirmed: nothing to buy.
            _ => return self.queue.ack(job).await,
        }

        let product = self.engine.product(hold.id.sku()).await?;
        let mut purchase = Purchase {
            hold,
            product,
            attempt: 1,
        };
        let mut kept_at = taken_at;
        loop {
            // A job waiting behind others in its batch, or retried for long,
            // must not look abandoned to the other workers: a try that could
            // come late keeps it first, and leaves it if another worker has
            // it already.
            if self.config.needs_keeping(kept_at) {
                if !self.queue.keep(&self.config.consumer, job).await? {
                    tracing::info!(reservation = %id, "purchase job taken over by another worker");
                    return Ok(());
                }
                kept_at = Instant::now();
            }
            let Err(failure) = self.step.purchase(&purchase).await else {
                break;
            };
            let attempt = purchase.attempt;
            let declined = matches!(failure, PurchaseFailure::Declined(_));
            if declined || attempt >= self.config.max_attempts {
                tracing::warn!(reservation = %id, %failure, attempt, "purchase failed for good; releasing the hold");
                self.engine.release(id).await?;
                if declined {
                    self.metrics.declined.inc();
                } else {
                    self.metrics.dead_lettered.inc();
                }
                return self.give_up(job, &failure.to_string()).await;
            }
            self.metrics.retries.inc();
            tokio::time::sleep(self.config.retry_delay(attempt)).await;
            purchase.attempt += 1;
        }

        let purchased = match self.engine.finalize_purchase(id).await {
            Ok(done) => done.hold,
            // The step bought it, but the hold was released meanwhile (its
            // purchase failed for good elsewhere): the shop took a payment
            // for units back on sale. Operators must hear of it.
            Err(Error::WrongState { state, .. }) => {
                tracing::error!(reservation = %id, ?state, "the shop bought a hold that was released meanwhile; refund it");
                self.metrics.bought_after_release.inc();
                return self
                    .give_up(
                        job,
                        "bought by the purchase step after the hold was released: refund it",
                    )
                    .await;
            }
            Err(e) => return Err(e),
        };
        self.queue.append_order(&purchased).await?;
        self.queue.ack(job).await?;
        self.metrics.jobs_done.inc();
        Ok(())
    }

    async fn give_up(&self, job: &PurchaseJob, reason: &str) -> Result<()> {
        self.queue.dead_letter(job, reason).await?;
        self.queue.ack(job).await
    }
}
