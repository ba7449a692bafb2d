//! "Your hold is about to expire" pushes: the sweeper hands over the expiry
//! notices it sent, and a task of its own enqueues a push job for each
//! interest of the hold's owner in that product that asked for
//! `hold_expiring`, kept by the push service until the hold's deadline.
//!
//! The lookups happen off the sweep's path, so a sweep is never slower for
//! them: handing notices over never waits. Those handed over while
//! [`BACKLOG`] sweep steps' worth wait already (Redis slow or failing) are
//! dropped, with a warning and `pushes_not_planned{reason="backlog_full"}`,
//! and the lookups run [`LOOKUPS`] at a time. The push is best effort, at
//! most once, like the "expiring soon" hold event it follows: a notice
//! dropped, or a worker that dies between the sweep and the enqueue, loses
//! it (the hold still expires on time, and the shopper's open tab still
//! gets the event).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use reservation_core::{Engine, ExpiryNotice, PushJob, PushKind, Result, Sku};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::task::JoinHandle;

use crate::WorkerMetrics;

/// Sweep steps' notices waiting for their lookups; past this, notices are
/// dropped rather than the sweep kept waiting.
pub const BACKLOG: usize = 1024;
/// Notices looked up and enqueued at once.
pub const LOOKUPS: usize = 16;
/// Tries of one notice's lookup and enqueue.
const TRIES: u32 = 3;

/// The sweeper's side: where it sends the notices.
#[derive(Clone)]
pub struct HoldExpiringPushes {
    notices: mpsc::Sender<(Sku, Vec<ExpiryNotice>)>,
    metrics: Arc<WorkerMetrics>,
}

impl HoldExpiringPushes {
    /// The hook, and the task that enqueues; the task ends once every
    /// clone of the hook is dropped (the sweeper stopped) and what was
    /// handed over is enqueued.
    pub fn start(engine: Engine, metrics: Arc<WorkerMetrics>) -> (Self, JoinHandle<()>) {
        let (notices, handed) = mpsc::channel::<(Sku, Vec<ExpiryNotice>)>(BACKLOG);
        let hook = Self {
            notices,
            metrics: metrics.clone(),
        };
        let task = tokio::spawn(async move {
            let handed = futures_util::stream::unfold(handed, |mut handed| async move {
                let next = handed.recv().await?;
                Some((next, handed))
            });
            handed
                .flat_map(|(sku, notices)| {
                    futures_util::stream::iter(
                        notices.into_iter().map(move |notice| (sku.clone(), notice)),
                    )
                })
                .for_each_concurrent(LOOKUPS, |(sku, notice)| {
                    let (engine, metrics) = (&engine, &metrics);
                    async move { enqueue_with_retries(engine, metrics, &sku, &notice).await }
                })
                .await;
        });
        (hook, task)
    }

    /// Hands over the notices a sweep step of `sku` sent; never waits.
    pub fn notices(&self, sku: &Sku, notices: Vec<ExpiryNotice>) {
        if notices.is_empty() {
            return;
        }
        match self.notices.try_send((sku.clone(), notices)) {
            Ok(()) => {}
            Err(TrySendError::Full((_, notices))) => {
                tracing::warn!(%sku, notices = notices.len(), "hold-expiring pushes behind; these holds' pushes dropped");
                self.metrics
                    .push_not_planned("backlog_full", notices.len() as u64);
            }
            Err(TrySendError::Closed(_)) => {
                tracing::warn!(%sku, "hold-expiring pushes stopped; notices not pushed");
            }
        }
    }
}

async fn enqueue_with_retries(
    engine: &Engine,
    metrics: &WorkerMetrics,
    sku: &Sku,
    notice: &ExpiryNotice,
) {
    for attempt in 1..=TRIES {
        match enqueue(engine, sku, notice).await {
            Ok(jobs) => {
                metrics.push_jobs_enqueued.inc_by(jobs as u64);
                return;
            }
            Err(e) if attempt < TRIES => {
                tracing::debug!(reservation = %notice.reservation_id, error = %e, "cannot enqueue a hold-expiring push; trying again");
                tokio::time::sleep(Duration::from_millis(100) * 2u32.pow(attempt)).await;
            }
            Err(e) => {
                tracing::warn!(reservation = %notice.reservation_id, error = %e, "hold-expiring push not enqueued");
                metrics.push_not_planned("lookup_failed", 1);
            }
        }
    }
}

/// Enqueues a job for each of the owner's interests in `sku` that asked
/// for `hold_expiring`; returns how many.
async fn enqueue(engine: &Engine, sku: &Sku, notice: &ExpiryNotice) -> Result<usize> {
    let interests = engine.push_interests_of(&notice.customer).await?;
    let now_ms = engine.now_ms();
    let jobs: Vec<PushJob> = interests
        .into_iter()
        .filter(|interest| &interest.sku == sku && interest.topics.hold_expiring)
        .map(|interest| PushJob {
            kind: PushKind::HoldExpiring,
            sku: sku.clone(),
            customer: interest.customer,
            subscription: interest.subscription,
            notice: notice.reservation_id.to_string(),
            expires_at_ms: Some(notice.expires_at_ms),
            enqueued_at_ms: now_ms,
        })
        .collect();
    engine.enqueue_push_jobs(&jobs).await?;
    Ok(jobs.len())
}

#[cfg(test)]
mod tests {
    use reservation_core::{CustomerId, ReservationId};

    use super::*;

    #[test]
    fn notices_past_the_backlog_are_dropped_and_counted_never_waited_for() {
        let metrics = WorkerMetrics::new();
        // A lookup task that never takes anything: Redis stalled.
        let (notices, _stalled) = mpsc::channel(2);
        let hook = HoldExpiringPushes {
            notices,
            metrics: metrics.clone(),
        };
        let sku = Sku::new("TEE").unwrap();
        let notice = ExpiryNotice {
            reservation_id: ReservationId::generate(&sku),
            customer: CustomerId::new("ann").unwrap(),
            quantity: 1,
            expires_at_ms: 1_700_000_000_000,
        };
        for _ in 0..5 {
            hook.notices(&sku, vec![notice.clone(), notice.clone()]);
        }
        let dropped = metrics
            .pushes_not_planned
            .get_or_create(&vec![("reason", "backlog_full")])
            .get();
        assert_eq!(
            dropped, 6,
            "three steps of two notices past a backlog of two"
        );
    }
}
