//! The worker's Prometheus metrics.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};

pub struct WorkerMetrics {
    registry: Registry,
    pub jobs_done: Counter,
    pub retries: Counter,
    pub dead_lettered: Counter,
    /// Purchases the shop declined; their holds were released.
    pub declined: Counter,
    /// Purchases the step made for holds released meanwhile: to refund.
    pub bought_after_release: Counter,
    pub claimed: Counter,
    pub expired_units: Counter,
    pub requeued: Counter,
    /// "Expires soon" hold events sent.
    pub expiry_notices: Counter,
    /// How late a sweep reached a product's earliest deadline, in seconds.
    pub sweep_lag: Histogram,
    /// Sweep partitions this worker holds.
    pub partitions_held: Gauge,
    /// Stream entries trimmed past their retention.
    pub stream_entries_trimmed: Counter,
    /// Consumers removed from the purchase group, long gone with nothing
    /// pending.
    pub consumers_forgotten: Counter,
    /// Event webhooks the shop accepted.
    pub webhooks_delivered: Counter,
    /// Event webhook attempts the shop refused or that failed.
    pub webhook_failures: Counter,
    /// Event webhooks given up on, recorded in the dead-letter stream.
    pub webhooks_dead_lettered: Counter,
    /// Push jobs enqueued: a round's batches, and hold-expiring notices.
    pub push_jobs_enqueued: Counter,
    /// Web pushes a push service took.
    pub pushes_delivered: Counter,
    /// Web push attempts that did not deliver, by outcome (`gone`,
    /// `retry_after`, `rejected`, `failed`).
    pub push_failures: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// Subscriptions removed because their push service said they are gone.
    pub push_subscriptions_removed: Counter,
    /// Push jobs acknowledged unsent, by reason (`duplicate`,
    /// `unsubscribed`, `expired`).
    pub pushes_skipped: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// Pushes given up on, recorded in `fs:push:dead`.
    pub pushes_dead_lettered: Counter,
    /// Push jobs left pending because their origin held all it may.
    pub push_jobs_set_aside: Counter,
    /// Pushes not planned, by reason: a stored interest a round could not
    /// read (`unreadable_interest`), an expiry notice dropped because the
    /// hold-expiring lookups were behind (`backlog_full`) or whose lookup
    /// failed (`lookup_failed`).
    pub pushes_not_planned: Family<Vec<(&'static str, &'static str)>, Counter>,
}

impl WorkerMetrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("flashsale_worker");
        // Registered in this order, which is the exposition's order.
        let mut counter =
            |name: &str, help: &str| registered(&mut registry, name, help, Counter::default());
        let jobs_done = counter("purchases", "Purchase jobs finished");
        let retries = counter("purchase_retries", "Purchase step retries");
        let dead_lettered = counter(
            "dead_lettered",
            "Purchase jobs that failed for good; their holds were released",
        );
        let declined = counter(
            "declined",
            "Purchases the shop declined; their holds were released",
        );
        let bought_after_release = counter(
            "bought_after_release",
            "Purchases made for holds released meanwhile; to be refunded",
        );
        let claimed = counter("claimed", "Jobs taken over from idle consumers");
        let expired_units = counter("expired_units", "Units returned from expired holds");
        let requeued = counter(
            "requeued",
            "Confirmed holds enqueued again after their purchase deadline",
        );
        let expiry_notices = counter(
            "expiry_notices",
            "Hold events telling a shopper their hold expires soon",
        );
        let partitions_held = registered(
            &mut registry,
            "sweep_partitions_held",
            "Sweep partitions this worker holds",
            Gauge::default(),
        );
        let stream_entries_trimmed = registered(
            &mut registry,
            "stream_entries_trimmed",
            "Stream entries trimmed past their retention",
            Counter::default(),
        );
        let consumers_forgotten = registered(
            &mut registry,
            "consumers_forgotten",
            "Consumers removed from the purchase group, long gone with nothing pending",
            Counter::default(),
        );
        let webhooks_delivered = registered(
            &mut registry,
            "webhooks_delivered",
            "Event webhooks the shop accepted",
            Counter::default(),
        );
        let webhook_failures = registered(
            &mut registry,
            "webhook_failures",
            "Event webhook attempts refused or failed",
            Counter::default(),
        );
        let webhooks_dead_lettered = registered(
            &mut registry,
            "webhooks_dead_lettered",
            "Event webhooks given up on after their last attempt",
            Counter::default(),
        );
        let push_jobs_enqueued = registered(
            &mut registry,
            "push_jobs_enqueued",
            "Push jobs enqueued by push rounds and hold-expiring notices",
            Counter::default(),
        );
        let pushes_delivered = registered(
            &mut registry,
            "pushes_delivered",
            "Web pushes a push service took",
            Counter::default(),
        );
        let push_failures = registered(
            &mut registry,
            "push_failures",
            "Web push attempts that did not deliver, by outcome",
            Family::default(),
        );
        let push_subscriptions_removed = registered(
            &mut registry,
            "push_subscriptions_removed",
            "Push subscriptions removed because their push service said they are gone",
            Counter::default(),
        );
        let pushes_skipped = registered(
            &mut registry,
            "pushes_skipped",
            "Push jobs acknowledged unsent: duplicates, unsubscribed, expired",
            Family::default(),
        );
        let pushes_dead_lettered = registered(
            &mut registry,
            "pushes_dead_lettered",
            "Web pushes given up on, recorded in fs:push:dead",
            Counter::default(),
        );
        let push_jobs_set_aside = registered(
            &mut registry,
            "push_jobs_set_aside",
            "Push jobs left pending for later because their origin held all it may",
            Counter::default(),
        );
        let pushes_not_planned = registered(
            &mut registry,
            "pushes_not_planned",
            "Pushes not planned: unreadable stored interests, hold-expiring notices dropped",
            Family::default(),
        );
        let sweep_lag = registered(
            &mut registry,
            "sweep_lag_seconds",
            "How late sweeps reach a product's earliest deadline",
            // 1 ms to about 16 s.
            Histogram::new(exponential_buckets(0.001, 2.0, 15)),
        );
        Arc::new(Self {
            registry,
            jobs_done,
            retries,
            dead_lettered,
            declined,
            bought_after_release,
            claimed,
            expired_units,
            requeued,
            expiry_notices,
            sweep_lag,
            partitions_held,
            stream_entries_trimmed,
            consumers_forgotten,
            webhooks_delivered,
            webhook_failures,
            webhooks_dead_lettered,
            push_jobs_enqueued,
            pushes_delivered,
            push_failures,
            push_subscriptions_removed,
            pushes_skipped,
            pushes_dead_lettered,
            push_jobs_set_aside,
            pushes_not_planned,
        })
    }

    /// One more push attempt that did not deliver, with its outcome.
    pub fn push_failed(&self, outcome: &'static str) {
        self.push_failures
            .get_or_create(&vec![("outcome", outcome)])
            .inc();
    }

    /// One more push job acknowledged unsent, with why.
    pub fn push_skipped(&self, reason: &'static str) {
        self.pushes_skipped
            .get_or_create(&vec![("reason", reason)])
            .inc();
    }

    /// `count` more pushes not planned, with why.
    pub fn push_not_planned(&self, reason: &'static str, count: u64) {
        self.pushes_not_planned
            .get_or_create(&vec![("reason", reason)])
            .inc_by(count);
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// Registers `metric` under `name` and gives it back: the registry keeps one
/// handle, the worker updates the other.
fn registered<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}
