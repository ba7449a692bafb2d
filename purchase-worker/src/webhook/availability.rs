//! `product.sold_out` and `product.back_in_stock` webhooks: the shop hears
//! when a product's available units reach zero, and when they come back
//! (a restock, an expiry, a cancel, a released purchase).
//!
//! Level-triggered: every `interval` the worker that holds sweep partition 0
//! (one worker at a time, as for the other chores) walks the catalog and
//! compares each product's availability with what the shop was last told
//! ([`Engine::announced`]). A difference is told, then recorded only once
//! the shop took it: a failure, or a worker that dies in between, leaves it
//! to be told again, with the same `webhook-id` (the product and the count
//! of changes told). A change undone before it is told (the last unit held
//! and given back within the interval) is not told at all; the shop hears
//! of availability as it stands. The first state a product is seen in is
//! recorded without a webhook. A change the shop keeps failing is
//! dead-lettered after `attempts` and recorded, so the next one is told.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reservation_core::keys::DEAD_WEBHOOKS;
use reservation_core::{Announced, Engine, Product, Result, Sku};
use serde::Serialize;
use tokio::sync::watch;

use super::{Answer, WebhookSender};
use crate::WorkerMetrics;

pub const SOLD_OUT: &str = "product.sold_out";
pub const BACK_IN_STOCK: &str = "product.back_in_stock";

/// Products read at once while walking the catalog.
const PAGE: usize = 500;

/// Tells the shop of products selling out and coming back.
pub struct AvailabilityAnnouncer {
    engine: Engine,
    sender: Arc<WebhookSender>,
    /// The sweeper's name in the partition leases: it announces while it
    /// holds partition 0.
    sweeper: String,
    interval: Duration,
    attempts: u32,
    metrics: Arc<WorkerMetrics>,
    /// Failed tries of each change not yet told, by webhook id.
    failures: std::sync::Mutex<HashMap<String, u32>>,
}

/// What a `product.sold_out` or `product.back_in_stock` event tells.
#[derive(Serialize)]
struct Availability<'a> {
    sku: &'a str,
    name: &'a str,
    available: i64,
    total: i64,
    /// The stock version it was seen at: a later event has a higher one.
    version: u64,
    at_ms: i64,
}

impl AvailabilityAnnouncer {
    pub fn new(
        engine: Engine,
        sender: Arc<WebhookSender>,
        sweeper: String,
        interval: Duration,
        attempts: u32,
        metrics: Arc<WorkerMetrics>,
    ) -> Self {
        Self {
            engine,
            sender,
            sweeper,
            interval,
            attempts: attempts.max(1),
            metrics,
            failures: Default::default(),
        }
    }

    /// Announces every `interval` until `shutdown` turns true.
    pub async fn run(&self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            if let Err(e) = self.pass().await {
                tracing::warn!(error = %e, "cannot announce availability; trying again");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// One walk over the catalog, if this worker holds partition 0.
    pub async fn pass(&self) -> Result<()> {
        let first = self.engine.config().partitions.all().next();
        let Some(first) = first else { return Ok(()) };
        if self.engine.partition_holder(&first).await?.as_deref() != Some(&self.sweeper) {
            return Ok(());
        }
        let mut after: Option<Sku> = None;
        loop {
            let page = self.engine.list_products(after.as_ref(), PAGE).await?;
            for product in &page.products {
                self.announce(product).await?;
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Tells the shop of `product`'s availability if it changed since it was
    /// last told, and records it once told.
    async fn announce(&self, product: &Product) -> Result<()> {
        let in_stock = product.stock.available > 0;
        let announced = self.engine.announced(&product.sku).await?;
        let Some(Announced {
            in_stock: told_in_stock,
            changes,
        }) = announced
        else {
            // First seen: nothing to tell, only where changes count from.
            self.engine
                .record_announced(&product.sku, None, in_stock, false)
                .await?;
            return Ok(());
        };
        if told_in_stock == in_stock {
            return Ok(());
        }
        let kind = if in_stock { BACK_IN_STOCK } else { SOLD_OUT };
        let id = format!("{kind}-{}-{}", product.sku, changes + 1);
        let data = Availability {
            sku: product.sku.as_str(),
            name: &product.name,
            available: product.stock.available,
            total: product.stock.total,
            version: product.stock.version,
            at_ms: product.stock.at_ms,
        };
        let failure = match self.sender.send(&id, kind, &data).await {
            Answer::Accepted => {
                self.metrics.webhooks_delivered.inc();
                self.forget_failures(&id);
                self.engine
                    .record_announced(&product.sku, announced, in_stock, true)
                    .await?;
                return Ok(());
            }
            Answer::Refused { status, reason } => format!("answered {status}: {reason}"),
            Answer::Failed(reason) => reason,
        };
        self.metrics.webhook_failures.inc();
        if self.failed_once_more(&id) < self.attempts {
            return Ok(());
        }
        tracing::warn!(event = %id, %failure, "availability change undeliverable; dead-lettered");
        self.engine
            .append_to_stream(
                DEAD_WEBHOOKS,
                &[
                    ("webhook_id", id.clone()),
                    ("type", kind.to_owned()),
                    ("reason", failure),
                ],
            )
            .await?;
        self.metrics.webhooks_dead_lettered.inc();
        self.forget_failures(&id);
        self.engine
            .record_announced(&product.sku, announced, in_stock, true)
            .await?;
        Ok(())
    }

    fn failed_once_more(&self, id: &str) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(id.to_owned()).or_default();
        *count += 1;
        *count
    }

    fn forget_failures(&self, id: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }
}
