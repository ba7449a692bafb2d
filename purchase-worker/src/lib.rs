//! # purchase-worker
//!
//! Holds become sales or come back to stock, exactly once, whatever crashes.
//! Several workers can run at once; each runs two loops:
//!
//! - the [`Buyer`] reads purchase jobs from the stream's consumer group, runs
//!   the [`PurchaseStep`] (payment, fulfilment: pluggable), finalizes the hold
//!   (`CONFIRMED → PURCHASED`), appends the order to the orders stream and
//!   acknowledges the job. A step that keeps failing is retried with backoff,
//!   then the job is dead-lettered and the hold released. Jobs a dead worker
//!   left unacknowledged are claimed after an idle timeout.
//! - the [`Sweeper`] returns expired holds' units (within a second of their
//!   deadline), enqueues again confirmed holds whose purchase deadline passed
//!   with no order (a lost enqueue), and keeps the index of products with
//!   active holds, so it never scans the keyspace.
//!
//! Every state change is one script of `reservation-core`, so any number of
//! buyers and sweepers can race without returning or selling a unit twice.

mod buyer;
mod metrics;
mod step;
mod sweeper;
#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

pub use buyer::Buyer;
pub use metrics::WorkerMetrics;
pub use step::{AcceptAll, PurchaseFailure, PurchaseStep};
pub use sweeper::Sweeper;

/// How a worker behaves.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// This worker's name in the consumer group; unique per process.
    pub consumer: String,
    /// Jobs read at once.
    pub batch: usize,
    /// Longest a read waits for new jobs (and so the longest a shutdown waits).
    pub block: Duration,
    /// Tries of the purchase step before the job is dead-lettered.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled for each one after.
    pub backoff: Duration,
    /// A job unacknowledged this long belongs to a dead worker and is claimed.
    pub claim_idle: Duration,
    /// How often the sweeper runs.
    pub sweep_interval: Duration,
    /// Holds expired or requeued per script call.
    pub sweep_batch: u32,
    /// How often the sweeper checks the catalog for products missing from
    /// the active index (a reserve whose process died before indexing).
    pub reindex_interval: Duration,
}

impl WorkerConfig {
    pub fn new(consumer: impl Into<String>) -> Self {
        Self {
            consumer: consumer.into(),
            batch: 32,
            block: Duration::from_millis(500),
            max_attempts: 5,
            backoff: Duration::from_millis(100),
            claim_idle: Duration::from_secs(30),
            sweep_interval: Duration::from_millis(200),
            sweep_batch: 256,
            reindex_interval: Duration::from_secs(30),
        }
    }
}
