//! The stock changes the watchers are there to see: restocks of +1 then -1,
//! product after product, sent over gRPC on a fixed schedule, each its own
//! call so that a slow answer does not slow the rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use flashsale_proto::v1 as pb;

use super::recorder::Shared;
use crate::merchant::Merchant;

/// What the change schedule did.
pub(super) struct Changes {
    pub(super) sent: u64,
    pub(super) failed: u64,
    /// From the first change due to the last one answered.
    pub(super) elapsed: Duration,
}

impl Changes {
    /// Changes per second actually made.
    pub(super) fn achieved_rate(&self) -> f64 {
        (self.sent - self.failed) as f64 / self.elapsed.as_secs_f64()
    }
}

/// Sends `rate` changes a second to `skus` for `duration`, each counted in
/// the second it was answered; calls `each_second` with every whole second
/// of the schedule that passes, and waits for every answer before it returns.
pub(super) async fn publish(
    merchant: &Merchant,
    skus: &[String],
    rate: f64,
    duration: Duration,
    shared: &Arc<Shared>,
    mut each_second: impl FnMut(u64),
) -> Result<Changes> {
    let changes_start = Instant::now();
    let changes_end = changes_start + duration;
    let every = Duration::from_secs_f64(1.0 / rate);
    let failed = Arc::new(AtomicU64::new(0));
    let mut sent = 0u64;
    let mut changes = Vec::new();
    let mut last_tick = 0;
    while Instant::now() < changes_end {
        let due = changes_start + every.mul_f64(sent as f64);
        tokio::time::sleep_until(due.into()).await;
        let request = restock(skus, sent);
        let mut inventory = merchant.inventory();
        let (recording, failed) = (shared.clone(), failed.clone());
        changes.push(tokio::spawn(async move {
            let result = inventory.restock(request).await;
            let mut recorder = recording.recorder();
            let second = recorder.second(Instant::now());
            second.changes += 1;
            if result.is_err() {
                second.failed += 1;
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }));
        sent += 1;
        let tick = changes_start.elapsed().as_secs();
        if tick > last_tick {
            last_tick = tick;
            each_second(tick);
        }
    }
    for change in changes {
        change.await.context("a change task panicked")?;
    }
    Ok(Changes {
        sent,
        failed: failed.load(Ordering::Acquire),
        elapsed: changes_start.elapsed(),
    })
}

/// Change number `n`: every product in turn goes up by one, then on the next
/// round down by one, so however long the run, no product drifts by more
/// than a unit.
fn restock(skus: &[String], n: u64) -> pb::RestockRequest {
    let round = n as usize / skus.len();
    pb::RestockRequest {
        sku: skus[n as usize % skus.len()].clone(),
        delta: if round.is_multiple_of(2) { 1 } else { -1 },
        request_id: String::new(),
    }
}
