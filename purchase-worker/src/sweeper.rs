//! The sweeper: returns the units of expired holds, enqueues again confirmed
//! holds whose purchase was lost, and keeps the streams to their retention
//! and the purchase group to the consumers that may still come back.
//!
//! It sweeps only the partitions it holds (see [`crate::share`]), and in
//! each only the products the sweep index lists as due, so a pass costs in
//! proportion to the holds that are due, never to the products with holds
//! or to their history. Due products are swept concurrently, each to the
//! end of what is due. Any number of sweepers can run at once: each hold is
//! expired by exactly one script call.
//!
//! Chores that need doing once per deployment (the catalog check for
//! products missing from the index, trimming the dead-letter stream) fall
//! to whoever holds partition 0.
//!
//! With web push on, the expiry notices a sweep sends are handed to the
//! [`HoldExpiringPushes`] hook, which pushes them to the shoppers who
//! asked, off the sweep's path.

use std::sync::Arc;

use futures_util::StreamExt;
use reservation_core::keys::{
    DEAD_PURCHASES, DEAD_WEBHOOKS, PURCHASE_GROUP, PUSH_GROUP, PUSH_JOBS, PartitionKeys,
    WEBHOOK_GROUP,
};
use reservation_core::{Engine, Error, Result, Sku};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::push::HoldExpiringPushes;
use crate::share::PartitionShare;
use crate::{WorkerConfig, WorkerMetrics};

/// Due products read from the index at once.
const DUE_PAGE: usize = 256;
/// Products swept at once.
const IN_FLIGHT: usize = 32;
/// Sweep steps on one product in one pass, at most: the rest waits for the
/// next pass, so one product with a huge backlog cannot hold up the others.
const STEPS_PER_PASS: usize = 16;

pub struct Sweeper {
    engine: Engine,
    config: WorkerConfig,
    metrics: Arc<WorkerMetrics>,
    share: PartitionShare,
    /// Where expiry notices go to be pushed, when web push is on.
    hold_expiring: Option<HoldExpiringPushes>,
}

impl Sweeper {
    pub fn new(engine: Engine, config: WorkerConfig, metrics: Arc<WorkerMetrics>) -> Self {
        let share = PartitionShare::new(engine.clone(), &config.consumer, config.sweep_lease);
        Self {
            engine,
            config,
            metrics,
            share,
            hold_expiring: None,
        }
    }

    /// Hands every expiry notice to `pushes` (web push is on), and trims
    /// the push streams with the other chores.
    pub fn with_hold_expiring_pushes(mut self, pushes: HoldExpiringPushes) -> Self {
        self.hold_expiring = Some(pushes);
        self
    }

    /// Sweeps until `shutdown` turns true, then gives up its partitions.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut next_refresh = Instant::now();
        let mut next_reindex = Instant::now() + self.config.reindex_interval;
        let mut next_trim = Instant::now();
        while !*shutdown.borrow() {
            if Instant::now() >= next_refresh {
                match self.share.refresh().await {
                    Ok(held) => {
                        self.metrics.partitions_held.set(held.len() as i64);
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot renew the sweep partitions"),
                }
                next_refresh = Instant::now() + self.config.sweep_lease / 5;
            }
            for partition in self.share.held().to_vec() {
                if let Err(e) = self.sweep(&partition).await {
                    tracing::warn!(partition = partition.index, error = %e, "sweep failed; retrying");
                }
            }
            let chores = self.share.held().iter().any(|p| p.index == 0);
            if chores && Instant::now() >= next_reindex {
                match self.engine.reindex_catalog().await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(
                        products = n,
                        "put products with holds back in the sweep index"
                    ),
                    Err(e) => tracing::warn!(error = %e, "cannot check the sweep index"),
                }
                next_reindex = Instant::now() + self.config.reindex_interval;
            }
            if Instant::now() >= next_trim {
                if let Err(e) = self.trim(chores).await {
                    tracing::warn!(error = %e, "cannot trim the streams");
                }
                if let Err(e) = self.forget_gone_consumers().await {
                    tracing::warn!(error = %e, "cannot remove gone consumers");
                }
                next_trim = Instant::now() + self.config.trim_interval;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.sweep_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
        if let Err(e) = self.share.leave().await {
            tracing::warn!(error = %e, "cannot give up the sweep partitions; they lapse by themselves");
        }
    }

    /// This sweeper's name in the partition leases.
    pub fn holder(&self) -> &str {
        self.share.holder()
    }

    /// One pass over the due products of `partition`.
    pub async fn sweep(&self, partition: &PartitionKeys) -> Result<()> {
        loop {
            let now = self.engine.now_ms();
            let due = self.engine.due_products(partition, now, DUE_PAGE).await?;
            for (_, listed_at) in &due {
                self.metrics
                    .sweep_lag
                    .observe((now - listed_at).max(0) as f64 / 1000.0);
            }
            let products: Vec<Sku> = due.iter().map(|(sku, _)| sku.clone()).collect();
            let swept: Vec<(Sku, Option<i64>)> = futures_util::stream::iter(products)
                .map(|sku| self.sweep_product(sku))
                .buffer_unordered(IN_FLIGHT)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<_>>()?;
            self.engine.relist_swept(partition, &swept).await?;
            if due.len() < DUE_PAGE {
                return Ok(());
            }
        }
    }

    /// Sweeps one product until nothing of it is due (or for a bounded
    /// number of steps). Returns it with its next deadline, if any.
    async fn sweep_product(&self, sku: Sku) -> Result<(Sku, Option<i64>)> {
        for _ in 0..STEPS_PER_PASS {
            let mut swept = match self
                .engine
                .sweep_product(&sku, self.config.sweep_batch)
                .await
            {
                Ok(swept) => swept,
                Err(Error::ProductNotFound(_)) => return Ok((sku, None)),
                Err(e) => return Err(e),
            };
            self.metrics
                .expired_units
                .inc_by(swept.expired_units as u64);
            self.metrics
                .expiry_notices
                .inc_by(swept.notices.len() as u64);
            if let Some(pushes) = &self.hold_expiring {
                // Never waits: notices past its backlog are dropped.
                pushes.notices(&sku, std::mem::take(&mut swept.notices));
            }
            if !swept.requeued.is_empty() {
                tracing::warn!(%sku, holds = swept.requeued.len(), "enqueued stranded purchases again");
                self.metrics.requeued.inc_by(swept.requeued.len() as u64);
            }
            if !swept.more_due(self.engine.now_ms()) {
                return Ok((sku, swept.next_deadline_ms));
            }
        }
        // More is due: listed as due now, it is swept again next pass.
        Ok((sku, Some(self.engine.now_ms())))
    }

    /// Trims the streams of the partitions held (and the dead letters of
    /// purchases and of event webhooks, with the chores, and with push on
    /// its jobs, as long as acknowledged purchase jobs, and its dead
    /// letters, as long as orders) to their retention.
    async fn trim(&self, chores: bool) -> Result<()> {
        let mut trimmed = 0;
        for partition in self.share.held() {
            trimmed += self
                .engine
                .trim_stream(&partition.purchases, self.config.purchase_retention)
                .await?;
            trimmed += self
                .engine
                .trim_stream(&partition.orders, self.config.order_retention)
                .await?;
        }
        if chores {
            for dead_letters in [DEAD_PURCHASES, DEAD_WEBHOOKS] {
                trimmed += self
                    .engine
                    .trim_stream(dead_letters, self.config.order_retention)
                    .await?;
            }
            if self.hold_expiring.is_some() {
                trimmed += self
                    .engine
                    .trim_push_streams(self.config.purchase_retention, self.config.order_retention)
                    .await?;
            }
        }
        self.metrics.stream_entries_trimmed.inc_by(trimmed);
        Ok(())
    }

    /// Removes from the groups of the partitions' streams held (the buyers'
    /// on the purchase streams, the event deliveries' on the orders streams,
    /// and with partition 0 on the purchases' dead letters and the push
    /// senders' on the push jobs, whether or not this worker pushes) the
    /// consumers gone longer than `forget_consumers_after` with nothing
    /// pending: every worker process reads under a name of its own, and a
    /// group would otherwise list every one that ever ran.
    async fn forget_gone_consumers(&self) -> Result<()> {
        let after = self.config.forget_consumers_after;
        if after.is_zero() {
            return Ok(());
        }
        for partition in self.share.held() {
            let mut groups = vec![
                (partition.purchases.clone(), PURCHASE_GROUP),
                (partition.orders.clone(), WEBHOOK_GROUP),
            ];
            if partition.index == 0 {
                groups.push((DEAD_PURCHASES.to_owned(), WEBHOOK_GROUP));
                groups.push((PUSH_JOBS.to_owned(), PUSH_GROUP));
            }
            for (stream, group) in groups {
                let gone = self
                    .engine
                    .forget_idle_consumers(&stream, group, after)
                    .await?;
                for consumer in &gone {
                    tracing::info!(
                        %consumer,
                        %stream,
                        idle_longer_than = ?after,
                        "removed a consumer long gone with nothing pending"
                    );
                }
                self.metrics.consumers_forgotten.inc_by(gone.len() as u64);
            }
        }
        Ok(())
    }
}
