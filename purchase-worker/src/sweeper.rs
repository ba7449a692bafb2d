//! The sweeper: returns the units of expired holds, enqueues again confirmed
//! holds whose purchase was lost, and keeps the active-products index tidy.
//!
//! It visits only the indexed products (never the keyspace), runs every
//! `sweep_interval`, and expires in bounded batches. Any number of sweepers
//! can run at once: each hold is expired by exactly one script call.

use std::collections::HashMap;
use std::sync::Arc;

use reservation_core::{Engine, Error, Result, Sku};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::{WorkerConfig, WorkerMetrics};

pub struct Sweeper {
    engine: Engine,
    config: WorkerConfig,
    metrics: Arc<WorkerMetrics>,
}

impl Sweeper {
    pub fn new(engine: Engine, config: WorkerConfig, metrics: Arc<WorkerMetrics>) -> Self {
        Self {
            engine,
            config,
            metrics,
        }
    }

    /// Sweeps until `shutdown` turns true.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        let mut next_due: HashMap<Sku, i64> = HashMap::new();
        let mut next_reindex = Instant::now();
        while !*shutdown.borrow() {
            if Instant::now() >= next_reindex {
                match self.engine.reindex_active().await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(
                        products = n,
                        "put products with holds back in the sweep index"
                    ),
                    Err(e) => tracing::warn!(error = %e, "cannot check the sweep index"),
                }
                next_reindex = Instant::now() + self.config.reindex_interval;
            }
            if let Err(e) = self.sweep(&mut next_due).await {
                tracing::warn!(error = %e, "sweep failed; retrying");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.sweep_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// One pass over the indexed products. `next_due` remembers each product's
    /// earliest deadline between passes, to measure how late the sweep is.
    pub async fn sweep(&self, next_due: &mut HashMap<Sku, i64>) -> Result<()> {
        for sku in self.engine.active_products().await? {
            let now = self.engine.now_ms();
            if let Some(&due) = next_due.get(&sku)
                && due <= now
            {
                self.metrics.sweep_lag.observe((now - due) as f64 / 1000.0);
            }
            let swept = loop {
                let swept = match self.engine.expire_due(&sku, self.config.sweep_batch).await {
                    Ok(swept) => swept,
                    Err(Error::ProductNotFound(_)) => {
                        self.engine.deactivate(&sku).await?;
                        break None;
                    }
                    Err(e) => return Err(e),
                };
                self.metrics.expired_units.inc_by(swept.units as u64);
                if swept.holds.len() < self.config.sweep_batch as usize {
                    break Some(swept);
                }
            };
            let Some(swept) = swept else { continue };
            let requeued = self
                .engine
                .requeue_stranded(&sku, self.config.sweep_batch)
                .await?;
            if !requeued.is_empty() {
                tracing::warn!(%sku, holds = requeued.len(), "enqueued stranded purchases again");
                self.metrics.requeued.inc_by(requeued.len() as u64);
            }
            match swept.next_due_ms {
                Some(due) => next_due.insert(sku.clone(), due),
                None => next_due.remove(&sku),
            };
            if !swept.has_active_holds() {
                self.engine.deactivate(&sku).await?;
            }
        }
        Ok(())
    }
}
