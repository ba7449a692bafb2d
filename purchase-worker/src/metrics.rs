//! The worker's Prometheus metrics.

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

pub struct WorkerMetrics {
    registry: Registry,
    pub jobs_done: Counter,
    pub retries: Counter,
    pub dead_lettered: Counter,
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
}

impl WorkerMetrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("flashsale_worker");
        let metrics = Self {
            jobs_done: Counter::default(),
            retries: Counter::default(),
            dead_lettered: Counter::default(),
            claimed: Counter::default(),
            expired_units: Counter::default(),
            requeued: Counter::default(),
            expiry_notices: Counter::default(),
            // 1 ms to about 16 s.
            sweep_lag: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
            partitions_held: Gauge::default(),
            stream_entries_trimmed: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "purchases",
            "Purchase jobs finished",
            metrics.jobs_done.clone(),
        );
        registry.register(
            "purchase_retries",
            "Purchase step retries",
            metrics.retries.clone(),
        );
        registry.register(
            "dead_lettered",
            "Purchase jobs that failed for good; their holds were released",
            metrics.dead_lettered.clone(),
        );
        registry.register(
            "claimed",
            "Jobs taken over from idle consumers",
            metrics.claimed.clone(),
        );
        registry.register(
            "expired_units",
            "Units returned from expired holds",
            metrics.expired_units.clone(),
        );
        registry.register(
            "requeued",
            "Confirmed holds enqueued again after their purchase deadline",
            metrics.requeued.clone(),
        );
        registry.register(
            "expiry_notices",
            "Hold events telling a shopper their hold expires soon",
            metrics.expiry_notices.clone(),
        );
        registry.register(
            "sweep_partitions_held",
            "Sweep partitions this worker holds",
            metrics.partitions_held.clone(),
        );
        registry.register(
            "stream_entries_trimmed",
            "Stream entries trimmed past their retention",
            metrics.stream_entries_trimmed.clone(),
        );
        registry.register(
            "sweep_lag_seconds",
            "How late sweeps reach a product's earliest deadline",
            metrics.sweep_lag.clone(),
        );
        Arc::new(Self {
            registry,
            ..metrics
        })
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
