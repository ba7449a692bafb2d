//! "Your hold is about to expire" pushes: the sweeper hands over the expiry
//! notices it sent, and a task of its own enqueues a push job for each
//! interest of the hold's owner in that product that asked for
//! `hold_expiring`, kept by the push service until the hold's deadline.
//!
//! The lookups happen off the sweep's path, so a sweep is never slower for
//! them. Like the "expiring soon" hold event it follows, the push is at
//! most once: a worker that dies between the sweep and the enqueue loses
//! it (the hold still expires on time, and the shopper's open tab still
//! gets the event).

use std::sync::Arc;
use std::time::Duration;

use reservation_core::{Engine, ExpiryNotice, PushJob, PushKind, Result, Sku};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::WorkerMetrics;

/// Products' notices waiting for their lookups; past this, sweeps wait.
const BACKLOG: usize = 1024;
/// Tries of one notice's lookup and enqueue.
const TRIES: u32 = 3;

/// The sweeper's side: where it sends the notices.
#[derive(Clone)]
pub struct HoldExpiringPushes {
    notices: mpsc::Sender<(Sku, Vec<ExpiryNotice>)>,
}

impl HoldExpiringPushes {
    /// The hook, and the task that enqueues; the task ends once every
    /// clone of the hook is dropped (the sweeper stopped) and what was
    /// handed over is enqueued.
    pub fn start(engine: Engine, metrics: Arc<WorkerMetrics>) -> (Self, JoinHandle<()>) {
        let (notices, mut handed) = mpsc::channel::<(Sku, Vec<ExpiryNotice>)>(BACKLOG);
        let task = tokio::spawn(async move {
            while let Some((sku, notices)) = handed.recv().await {
                for notice in &notices {
                    enqueue_with_retries(&engine, &metrics, &sku, notice).await;
                }
            }
        });
        (Self { notices }, task)
    }

    /// Hands over the notices a sweep step of `sku` sent.
    pub async fn notices(&self, sku: &Sku, notices: Vec<ExpiryNotice>) {
        if notices.is_empty() {
            return;
        }
        if self.notices.send((sku.clone(), notices)).await.is_err() {
            tracing::warn!(%sku, "hold-expiring pushes stopped; notices not pushed");
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
