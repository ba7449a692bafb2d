//! `product.sold_out` and `product.back_in_stock` webhooks: the shop hears
//! when a product's available units reach zero, and when they come back
//! (a restock, an expiry, a cancel, a released purchase).
//!
//! Level-triggered, and per endpoint: every `interval` the worker that holds
//! sweep partition 0 (one worker at a time, as for the other chores) walks
//! the catalog and compares each product's availability with what each
//! endpoint was last told ([`Engine::announced`]). A difference is told to
//! that endpoint, then recorded for it only once it took it: a failure, or
//! a worker that dies in between, leaves it to be told again, with the same
//! `webhook-id` (the product and the count of changes that endpoint was
//! told). A change undone before it is told is not told at all, and an
//! endpoint that heard a change hears its undoing: each endpoint hears of
//! availability as it stands. The first state a product is seen in is
//! recorded without a webhook. A change an endpoint keeps failing is
//! dead-lettered for it after `attempts` passes and recorded, so the next
//! one is told.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reservation_core::keys::DEAD_WEBHOOKS;
use reservation_core::{Announced, Engine, Product, Result, Sku};
use serde::Serialize;
use tokio::sync::watch;

use super::EventEndpoints;
use crate::WorkerMetrics;

pub const SOLD_OUT: &str = "product.sold_out";
pub const BACK_IN_STOCK: &str = "product.back_in_stock";

/// Products read at once while walking the catalog.
const PAGE: usize = 500;

/// Tells the shop of products selling out and coming back.
pub struct AvailabilityAnnouncer {
    engine: Engine,
    endpoints: Arc<EventEndpoints>,
    /// The sweeper's name in the partition leases: it announces while it
    /// holds partition 0.
    sweeper: String,
    interval: Duration,
    attempts: u32,
    metrics: Arc<WorkerMetrics>,
    /// Failed tries of each change not yet told, by endpoint and webhook id.
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
        endpoints: Arc<EventEndpoints>,
        sweeper: String,
        interval: Duration,
        attempts: u32,
        metrics: Arc<WorkerMetrics>,
    ) -> Self {
        Self {
            engine,
            endpoints,
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
            if let Err(e) = self.pass(&shutdown).await {
                tracing::warn!(error = %e, "cannot announce availability; trying again");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// One walk over the catalog, if this worker holds partition 0; it stops
    /// early when the worker is stopping.
    pub async fn pass(&self, shutdown: &watch::Receiver<bool>) -> Result<()> {
        let first = self.engine.config().partitions.all().next();
        let Some(first) = first else { return Ok(()) };
        if self.engine.partition_holder(&first).await?.as_deref() != Some(&self.sweeper) {
            return Ok(());
        }
        let mut after: Option<Sku> = None;
        loop {
            let page = self.engine.list_products(after.as_ref(), PAGE).await?;
            for product in &page.products {
                let announcements = self.engine.announcements(&product.sku).await?;
                for endpoint in self.endpoints.all() {
                    if *shutdown.borrow() {
                        return Ok(());
                    }
                    let announced = announcements.get(self.endpoints.url(endpoint)).copied();
                    self.announce(product, endpoint, announced).await?;
                }
            }
            match page.next_after {
                Some(next) => after = Some(next),
                None => return Ok(()),
            }
        }
    }

    /// Tells `endpoint` of `product`'s availability if it changed since the
    /// endpoint was last told (`announced`), and records it once told.
    async fn announce(
        &self,
        product: &Product,
        endpoint: usize,
        announced: Option<Announced>,
    ) -> Result<()> {
        let url = self.endpoints.url(endpoint);
        let in_stock = product.stock.available > 0;
        let Some(Announced {
            in_stock: told_in_stock,
            changes,
        }) = announced
        else {
            // First seen: nothing to tell, only where changes count from.
            self.engine
                .record_announced(&product.sku, url, None, in_stock, false)
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
        let mut pending = vec![endpoint];
        let failure = self
            .endpoints
            .send(&id, kind, &data, &mut pending)
            .await
            .pop();
        let key = format!("{url} {id}");
        let Some((_, failure)) = failure else {
            self.metrics.webhooks_delivered.inc();
            self.forget_failures(&key);
            self.engine
                .record_announced(&product.sku, url, announced, in_stock, true)
                .await?;
            return Ok(());
        };
        self.metrics.webhook_failures.inc();
        if self.failed_once_more(&key) < self.attempts {
            return Ok(());
        }
        tracing::warn!(event = %id, %url, %failure, "availability change undeliverable; dead-lettered");
        self.engine
            .append_to_stream(
                DEAD_WEBHOOKS,
                &[
                    ("webhook_id", id.clone()),
                    ("type", kind.to_owned()),
                    ("endpoint", url.to_owned()),
                    ("reason", failure),
                ],
            )
            .await?;
        self.metrics.webhooks_dead_lettered.inc();
        self.forget_failures(&key);
        self.engine
            .record_announced(&product.sku, url, announced, in_stock, true)
            .await?;
        Ok(())
    }

    /// Counts one more failed try of a change at an endpoint; returns the
    /// tries so far. The counts live only in this process: a worker taking
    /// over starts them again, which only delays a dead letter.
    fn failed_once_more(&self, key: &str) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let count = failures.entry(key.to_owned()).or_default();
        *count += 1;
        *count
    }

    fn forget_failures(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}
