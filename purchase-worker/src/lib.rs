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
//!   with no order (a lost enqueue), and trims the streams to their
//!   retention. It visits only the products the sweep index lists as due, in
//!   the partitions it holds: the running workers share the partitions out
//!   ([`share`]), so each due hold is visited by one of them.
//!
//! With a VAPID key, each worker also delivers web pushes ([`push`]): the
//! one holding sweep partition 0 plans them (a sale opening, a product back
//! in stock), the sweeper hands over holds about to expire, and every
//! worker sends the jobs from their stream.
//!
//! Every state change is one script of `reservation-core`, so any number of
//! buyers and sweepers can race without returning or selling a unit twice.

mod admin_listener;
mod buyer;
mod metrics;
pub mod push;
pub mod share;
mod step;
mod sweeper;
#[cfg(feature = "testing")]
pub mod testing;
pub mod webhook;

use std::time::Duration;

pub use admin_listener::AdminListener;
pub use buyer::Buyer;
pub use metrics::WorkerMetrics;
pub use push::{HoldExpiringPushes, PushDeliverer, PushPlanner, PushSettings};
pub use step::{AcceptAll, Purchase, PurchaseFailure, PurchaseStep};
pub use sweeper::Sweeper;
pub use webhook::availability::AvailabilityAnnouncer;
pub use webhook::events::EventDeliverer;
pub use webhook::purchase::WebhookPurchase;
pub use webhook::{EventEndpoints, WebhookEndpoint, WebhookSender, WebhookSetupError};

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
    /// Wait before the first retry; doubled for each one after, up to
    /// [`WorkerConfig::MAX_RETRY_DELAY`].
    pub backoff: Duration,
    /// A job unacknowledged this long belongs to a dead worker and is claimed.
    pub claim_idle: Duration,
    /// How often the sweeper runs.
    pub sweep_interval: Duration,
    /// Holds expired or requeued per script call: small enough that one call
    /// holds Redis well under a millisecond (a sweep takes as many steps as
    /// it needs).
    pub sweep_batch: u32,
    /// How long a sweeper's hold on a partition lasts unless renewed: how
    /// long the partitions of a worker that died wait for another.
    pub sweep_lease: Duration,
    /// How often the sweeper holding partition 0 checks the catalog for
    /// products missing from the sweep index (a reserve whose process died
    /// before listing it).
    pub reindex_interval: Duration,
    /// How long acknowledged purchase jobs stay in their streams.
    pub purchase_retention: Duration,
    /// How long orders and dead-lettered purchases stay in their streams,
    /// unless a consumer group has not read them yet.
    pub order_retention: Duration,
    /// How often the streams are trimmed.
    pub trim_interval: Duration,
    /// A consumer of the purchase streams idle this long with nothing
    /// pending is removed from their group, when the streams are trimmed
    /// (zero: never).
    pub forget_consumers_after: Duration,
    /// How long opening the purchase streams at start waits for a Redis that
    /// cannot answer yet (restarting, or loading its data).
    pub redis_wait: Duration,
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
            sweep_batch: 64,
            sweep_lease: Duration::from_secs(5),
            reindex_interval: Duration::from_secs(60),
            purchase_retention: Duration::from_secs(3600),
            order_retention: Duration::from_secs(7 * 24 * 3600),
            trim_interval: Duration::from_secs(60),
            forget_consumers_after: Duration::from_secs(24 * 3600),
            redis_wait: Duration::from_secs(30),
        }
    }

    /// How long to wait before try `attempt + 1`: the backoff doubled for
    /// each try, up to [`WorkerConfig::MAX_RETRY_DELAY`].
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        self.backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(Self::MAX_RETRY_DELAY)
    }

    /// Whether an entry taken (or last kept) at `since` should be kept
    /// before more work on it: past half of `claim_idle`, another worker
    /// could soon take it for abandoned. A fresh one needs no call to Redis.
    pub fn needs_keeping(&self, since: std::time::Instant) -> bool {
        since.elapsed() >= self.claim_idle / 2
    }

    /// The longest wait between two tries: doubling is for a service that
    /// stumbles, not a reason to wait for hours.
    pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);

    /// A consumer name no other worker process has: `HOSTNAME-ULID`. The
    /// host names the machine or pod in the group's list; the ULID tells
    /// apart the processes of one host, and every restart, where a PID would
    /// not (each container's process is PID 1).
    pub fn unique_consumer() -> String {
        let host = hostname::get()
            .ok()
            .and_then(|name| name.into_string().ok())
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| "worker".to_owned());
        format!("{host}-{}", ulid::Ulid::new())
    }
}
