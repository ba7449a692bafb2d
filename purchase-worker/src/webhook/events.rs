//! Event webhooks: `order.created` for each order the buyers append, and
//! `hold.released` for each purchase that failed for good, posted to the
//! shop's event endpoint.
//!
//! They are read from the orders streams and the dead-letter stream through
//! the `webhooks` consumer group, one deliverer per stream, so an event
//! outlives the worker that was delivering it: an entry taken but not
//! acknowledged is claimed by another worker after `claim_idle` and
//! delivered again with the same `webhook-id` (at least once; the shop
//! dedupes by the id). Each event goes to every endpoint configured; one an
//! endpoint keeps refusing or failing is tried again there with doubling
//! backoff, then recorded in `fs:webhooks:dead` with the endpoint and why,
//! and acknowledged once every endpoint took it or gave up. The group keeps the streams' entries from
//! being trimmed until they are delivered.

use redis::streams::StreamId;
use reservation_core::keys::{DEAD_PURCHASES, DEAD_WEBHOOKS, WEBHOOK_GROUP};
use reservation_core::{
    Engine, Error, GroupStart, HoldState, Order, RedisConfig, ReservationId, Result, StreamGroup,
};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

use super::EventEndpoints;
use crate::{WorkerConfig, WorkerMetrics};

pub const ORDER_CREATED: &str = "order.created";
pub const HOLD_RELEASED: &str = "hold.released";

/// Which stream a deliverer reads, and so which event its entries make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Orders,
    DeadPurchases,
}

/// Delivers one stream's events.
pub struct EventDeliverer {
    engine: Engine,
    source: Source,
    entries: StreamGroup,
    endpoints: Arc<EventEndpoints>,
    config: WorkerConfig,
    /// Tries of one event before it is dead-lettered.
    attempts: u32,
    metrics: Arc<WorkerMetrics>,
}

/// An event to post: its type, its id (stable across retries and workers)
/// and its data.
struct Event {
    kind: &'static str,
    id: String,
    data: serde_json::Value,
}

/// What a `hold.released` event tells.
#[derive(Serialize)]
struct Released<'a> {
    reservation_id: String,
    sku: &'a str,
    customer_id: &'a str,
    quantity: u32,
    released_at_ms: i64,
    reason: &'a str,
}

impl EventDeliverer {
    /// A deliverer for each orders stream and one for the dead-letter stream,
    /// each on a connection of its own. The group starts at the streams' new
    /// entries: turning webhooks on does not replay history.
    pub async fn for_every_source(
        engine: &Engine,
        redis: &RedisConfig,
        endpoints: &Arc<EventEndpoints>,
        attempts: u32,
        config: &WorkerConfig,
        metrics: &Arc<WorkerMetrics>,
    ) -> Result<Vec<Self>> {
        let streams = engine
            .config()
            .partitions
            .all()
            .map(|partition| (Source::Orders, partition.orders))
            .chain([(Source::DeadPurchases, DEAD_PURCHASES.to_owned())]);
        let mut deliverers = Vec::new();
        for (source, stream) in streams {
            let entries = StreamGroup::connect(
                redis,
                &stream,
                WEBHOOK_GROUP,
                GroupStart::NewEntries,
                config.block,
            )
            .await?;
            deliverers.push(Self {
                engine: engine.clone(),
                source,
                entries,
                endpoints: endpoints.clone(),
                config: config.clone(),
                attempts: attempts.max(1),
                metrics: metrics.clone(),
            });
        }
        Ok(deliverers)
    }

    /// Delivers until `shutdown` turns true; the event in hand is finished
    /// (or left pending for another worker) first.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            let entries = match self.next_entries().await {
                Ok(entries) => entries,
                Err(e) => {
                    tracing::warn!(stream = self.entries.stream(), error = %e, "cannot read events; retrying");
                    tokio::time::sleep(self.config.backoff).await;
                    continue;
                }
            };
            let taken_at = Instant::now();
            for entry in entries {
                if let Err(e) = self.deliver(&entry, taken_at, &shutdown).await {
                    // Left pending: claimed again after `claim_idle`.
                    tracing::warn!(entry = %entry.id, error = %e, "event left pending");
                    tokio::time::sleep(self.config.backoff).await;
                    break;
                }
                if *shutdown.borrow() {
                    return;
                }
            }
        }
    }

    /// Entries abandoned by idle consumers first, then new ones.
    async fn next_entries(&self) -> Result<Vec<StreamId>> {
        let config = &self.config;
        let taken = self
            .entries
            .next(
                &config.consumer,
                config.claim_idle,
                config.batch,
                config.block,
            )
            .await?;
        Ok(taken.entries)
    }

    /// Delivers one entry's event to every endpoint, or dead-letters it for
    /// those that keep failing, and acknowledges it. An error means Redis
    /// could not be reached; the entry stays pending.
    async fn deliver(
        &self,
        entry: &StreamId,
        taken_at: Instant,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<()> {
        let Some(event) = self.event_of(entry).await? else {
            return self.entries.ack(&entry.id).await;
        };
        let mut pending = self.endpoints.all();
        let mut attempt = 1;
        let mut kept_at = taken_at;
        loop {
            // Kept before a try that could come late, so a slow endpoint does
            // not make the entry look abandoned; left if another worker has
            // it already.
            if self.config.needs_keeping(kept_at) {
                if !self.entries.keep(&self.config.consumer, &entry.id).await? {
                    tracing::info!(event = %event.id, "event taken over by another worker");
                    return Ok(());
                }
                kept_at = Instant::now();
            }
            let reached = pending.len();
            let failures = self
                .endpoints
                .send(&event.id, event.kind, &event.data, &mut pending)
                .await;
            self.metrics
                .webhooks_delivered
                .inc_by((reached - failures.len()) as u64);
            self.metrics.webhook_failures.inc_by(failures.len() as u64);
            if failures.is_empty() {
                return self.entries.ack(&entry.id).await;
            }
            if attempt >= self.attempts {
                for (endpoint, failure) in failures {
                    let url = self.endpoints.url(endpoint).to_owned();
                    tracing::warn!(event = %event.id, %url, %failure, attempt, "event undeliverable; dead-lettered");
                    self.entries
                        .append(
                            DEAD_WEBHOOKS,
                            &[
                                ("webhook_id", event.id.clone()),
                                ("type", event.kind.to_owned()),
                                ("endpoint", url),
                                ("stream", self.entries.stream().to_owned()),
                                ("entry_id", entry.id.clone()),
                                ("reason", failure),
                            ],
                        )
                        .await?;
                    self.metrics.webhooks_dead_lettered.inc();
                }
                return self.entries.ack(&entry.id).await;
            }
            // Stopping mid-retry leaves the entry to a running worker.
            let mut shutdown = shutdown.clone();
            tokio::select! {
                () = tokio::time::sleep(self.config.retry_delay(attempt)) => {}
                _ = shutdown.wait_for(|stop| *stop) => return Ok(()),
            }
            attempt += 1;
        }
    }

    /// The event an entry makes, if any: a dead-lettered purchase whose hold
    /// was never released (it named no hold) makes none.
    async fn event_of(&self, entry: &StreamId) -> Result<Option<Event>> {
        match self.source {
            Source::Orders => {
                let order = Order::from_entry(entry);
                Ok(Some(Event {
                    kind: ORDER_CREATED,
                    id: format!("{ORDER_CREATED}-{}", order.reservation_id),
                    data: to_json(&order),
                }))
            }
            Source::DeadPurchases => {
                let Some(id) = entry
                    .get::<String>("reservation_id")
                    .and_then(|raw| raw.parse::<ReservationId>().ok())
                else {
                    return Ok(None);
                };
                let hold = match self.engine.reservation(&id).await {
                    Ok(hold) if hold.state == HoldState::Released => hold,
                    Ok(_) | Err(Error::ReservationNotFound(_)) => return Ok(None),
                    Err(e) => return Err(e),
                };
                let reason = entry.get::<String>("reason").unwrap_or_default();
                let released = Released {
                    reservation_id: id.to_string(),
                    sku: id.sku().as_str(),
                    customer_id: hold.customer_id.as_str(),
                    quantity: hold.quantity,
                    released_at_ms: hold.updated_at_ms,
                    reason: &reason,
                };
                Ok(Some(Event {
                    kind: HOLD_RELEASED,
                    id: format!("{HOLD_RELEASED}-{id}"),
                    data: to_json(&released),
                }))
            }
        }
    }
}

fn to_json(data: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(data).unwrap_or(serde_json::Value::Null)
}
