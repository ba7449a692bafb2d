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
//! of changes told), to the endpoints that did not take it yet. A change undone before it is told (the last unit held
//! and given back within the interval) is not told at all; the shop hears
//! of availability as it stands. The first state a product is seen in is
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
    /// Each change not yet told everywhere, by webhook id: the endpoints
    /// it still has to reach and how many tries it had.
    telling: std::sync::Mutex<HashMap<String, Telling>>,
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
            telling: Default::default(),
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
        let mut telling = self.telling(&id);
        let reached = telling.pending.len();
        let failures = self
            .endpoints
            .send(&id, kind, &data, &mut telling.pending)
            .await;
        self.metrics
            .webhooks_delivered
            .inc_by((reached - failures.len()) as u64);
        self.metrics.webhook_failures.inc_by(failures.len() as u64);
        telling.tries += 1;
        if !failures.is_empty() && telling.tries < self.attempts {
            self.keep_telling(id, telling);
            return Ok(());
        }
        for (endpoint, failure) in failures {
            let url = self.endpoints.url(endpoint).to_owned();
            tracing::warn!(event = %id, %url, %failure, "availability change undeliverable; dead-lettered");
            self.engine
                .append_to_stream(
                    DEAD_WEBHOOKS,
                    &[
                        ("webhook_id", id.clone()),
                        ("type", kind.to_owned()),
                        ("endpoint", url),
                        ("reason", failure),
                    ],
                )
                .await?;
            self.metrics.webhooks_dead_lettered.inc();
        }
        self.engine
            .record_announced(&product.sku, announced, in_stock, true)
            .await?;
        Ok(())
    }

    /// Where telling the change `id` stands: a new one goes to every
    /// endpoint.
    fn telling(&self, id: &str) -> Telling {
        self.telling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .unwrap_or_else(|| Telling {
                pending: self.endpoints.all(),
                tries: 0,
            })
    }

    fn keep_telling(&self, id: String, telling: Telling) {
        self.telling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, telling);
    }
}

/// A change being told: the endpoints it has yet to reach, and its tries.
struct Telling {
    pending: Vec<usize>,
    tries: u32,
}
