//! One push job, from its claim to its acknowledgement: the claim drops
//! duplicates and jobs of subscriptions gone; the payload is made from the
//! product as it is now; the push service's answer decides the rest
//! (delivered: acknowledged; gone: the subscription removed; throttled or
//! failed: tried again later, up to the attempts; rejected: dead-lettered;
//! its origin paused meanwhile: kept for the pause's end, no try counted).
//! A job whose time is over ([`payload::ttl`]) is acknowledged unsent.
//!
//! Redis unavailable leaves the job pending: it is claimed again after
//! `claim_idle`, by this worker or another, and a push already sent may
//! then go twice (push is at least once; the `Topic` header and the
//! notification's tag make a second one replace the first). Any other
//! error (a notice the claim refuses, an answer Redis should not give)
//! would come back every time: the job is dead-lettered with it, or it
//! would stay pending, and unacknowledged jobs are never trimmed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reservation_core::keys::DEAD_PUSHES;
use reservation_core::{Engine, Error, PushClaim, PushJob, Result, StreamGroup};

use super::PushSettings;
use super::payload::{self, Notification};
use super::products::ProductCache;
use super::queues::{Heard, Held};
use super::send::{Push, PushOutcome, PushSender};
use crate::{WorkerConfig, WorkerMetrics};

/// What every delivery of a deliverer shares.
pub(crate) struct Courier {
    pub engine: Engine,
    /// Acknowledgements, keeps and dead letters: a connection no blocking
    /// read holds up.
    pub group: StreamGroup,
    pub sender: PushSender,
    pub products: ProductCache,
    pub settings: PushSettings,
    pub config: WorkerConfig,
    pub metrics: Arc<WorkerMetrics>,
}

/// What became of a job.
#[derive(Debug)]
pub(crate) struct Done {
    /// To be tried again at its `not_before`; None when acknowledged, or
    /// let go (left pending for whoever has it now).
    pub retry: Option<Box<Held>>,
    /// What its push heard from the origin.
    pub heard: Heard,
}

/// What to do with a job after a try.
enum Next {
    Finished,
    Retry,
}

impl Courier {
    /// Delivers one job. Redis unavailable leaves it pending; any other
    /// error dead-letters it.
    pub(crate) async fn deliver(&self, mut held: Held) -> Done {
        let mut heard = Heard::Nothing;
        let retry = match self.try_deliver(&mut held, &mut heard).await {
            Ok(Next::Finished) => None,
            Ok(Next::Retry) => Some(Box::new(held)),
            Err(e @ Error::Unavailable(_)) => {
                tracing::warn!(entry = %held.entry_id, error = %e, "push job left pending");
                None
            }
            Err(e) => {
                let reason = format!("cannot deliver it: {e}");
                if let Err(e) = self.dead_letter(&held, &reason).await {
                    tracing::warn!(entry = %held.entry_id, error = %e, "cannot dead-letter a push job; left pending");
                }
                None
            }
        };
        Done { retry, heard }
    }

    async fn try_deliver(&self, held: &mut Held, heard: &mut Heard) -> Result<Next> {
        if !self.still_ours(held).await? {
            return Ok(Next::Finished);
        }
        if payload::ttl(&held.job, self.engine.now_ms()).is_none() {
            return self.expired(held).await;
        }
        if !held.claimed {
            let quiet = self.settings.quiet_period;
            match self
                .engine
                .claim_push(&held.job, &held.entry_id, quiet)
                .await?
            {
                PushClaim::Send => held.claimed = true,
                PushClaim::Duplicate => {
                    self.metrics.push_skipped("duplicate");
                    return self.ack(held).await;
                }
                PushClaim::Unsubscribed => {
                    self.metrics.push_skipped("unsubscribed");
                    return self.ack(held).await;
                }
            }
        }
        let product = match self.products.get(&held.job.sku).await {
            Ok(product) => product,
            Err(Error::ProductNotFound(_)) => {
                return self.dead_letter(held, "the product is gone").await;
            }
            Err(e) => return Err(e),
        };
        let job = &held.job;
        // The time left is read once more: claiming and reading the product
        // took some, and the TTL sent is what is left now.
        let now_ms = self.engine.now_ms();
        let Some(ttl) = payload::ttl(job, now_ms) else {
            return self.expired(held).await;
        };
        let body = Notification::for_job(job, &product, now_ms).to_bytes();
        let topic = payload::topic(job.kind, &job.sku);
        let push = Push {
            subscription: &job.subscription,
            payload: &body,
            ttl,
            urgency: payload::urgency(job.kind),
            topic: Some(&topic),
        };
        let outcome = self
            .send_kept(&push, &held.entry_id, job, &mut held.kept_at)
            .await;
        *heard = match &outcome {
            PushOutcome::Delivered | PushOutcome::Gone(_) | PushOutcome::Rejected { .. } => {
                Heard::Answered
            }
            PushOutcome::RetryAfter { .. }
            | PushOutcome::Failed(_)
            | PushOutcome::Paused { .. } => Heard::Troubled,
        };
        let job = &held.job;
        match outcome {
            PushOutcome::Delivered => {
                self.metrics.pushes_delivered.inc();
                self.ack(held).await
            }
            PushOutcome::Gone(status) => {
                self.metrics.push_failed("gone");
                // The endpoint is gone for every product the shopper asked
                // about on it, not only this one.
                let id = job.subscription.id();
                let removed = self
                    .engine
                    .forget_push_subscription(&job.customer, &id)
                    .await?;
                if removed > 0 {
                    self.metrics
                        .push_subscriptions_removed
                        .inc_by(removed as u64);
                    tracing::info!(customer = %job.customer, subscription = %id, removed, status, "push subscription gone; its interests removed");
                }
                self.ack(held).await
            }
            PushOutcome::RetryAfter { status, after } => {
                self.metrics.push_failed("retry_after");
                let reason = format!("the push service answered {status}");
                self.again_or_dead(held, reason, after).await
            }
            PushOutcome::Rejected { status, body } => {
                self.metrics.push_failed("rejected");
                let reason = match status {
                    0 => body,
                    _ => format!("the push service refused it with {status}: {body}"),
                };
                self.dead_letter(held, &reason).await
            }
            PushOutcome::Failed(why) => {
                self.metrics.push_failed("failed");
                self.again_or_dead(held, why, Duration::ZERO).await
            }
            // Not sent, so not a try: it waits for the pause's end, unless
            // its time is over by then.
            PushOutcome::Paused { until } => {
                let wait = until.saturating_duration_since(Instant::now());
                let then_ms = self.engine.now_ms() + wait.as_millis() as i64;
                if payload::ttl(job, then_ms).is_none() {
                    return self.expired(held).await;
                }
                held.not_before = until;
                Ok(Next::Retry)
            }
        }
    }

    /// Too late to be of use ("the sale opened an hour ago", a hold already
    /// over): not a failure of anyone's, only late; acknowledged unsent.
    async fn expired(&self, held: &Held) -> Result<Next> {
        self.metrics.push_skipped("expired");
        self.ack(held).await
    }

    /// Keeps the job first if it has waited long enough to look
    /// abandoned; false when another worker has it now.
    async fn still_ours(&self, held: &mut Held) -> Result<bool> {
        if !self.config.needs_keeping(held.kept_at) {
            return Ok(true);
        }
        if !self
            .group
            .keep(&self.config.consumer, &held.entry_id)
            .await?
        {
            tracing::info!(entry = %held.entry_id, "push job taken over by another worker");
            return Ok(false);
        }
        held.kept_at = Instant::now();
        Ok(true)
    }

    /// Sends (its origin's permit taken by the caller), keeping the job
    /// every half `claim_idle` while the push waits for its answer, so no
    /// other worker takes it for abandoned and sends it too. A keep that
    /// fails is only logged: dropping the send halfway would lose a push
    /// the service may already have, and the answer still decides.
    async fn send_kept(
        &self,
        push: &Push<'_>,
        entry_id: &str,
        job: &PushJob,
        kept_at: &mut Instant,
    ) -> PushOutcome {
        let send = self.sender.send_permitted(push);
        tokio::pin!(send);
        let every = (self.config.claim_idle / 2).max(Duration::from_millis(10));
        loop {
            tokio::select! {
                outcome = &mut send => return outcome,
                () = tokio::time::sleep_until((*kept_at + every).into()) => {
                    // Taken over meanwhile: the answer still decides, and
                    // the other worker's claim of the same job sends again
                    // at worst.
                    if let Err(e) = self.group.keep(&self.config.consumer, entry_id).await {
                        tracing::warn!(entry = %entry_id, kind = %job.kind, sku = %job.sku, customer = %job.customer, error = %e, "cannot keep a push job while it is sent; still waiting for the answer");
                    }
                    *kept_at = Instant::now();
                }
            }
        }
    }

    /// Tries again later (no sooner than the push service asked, else
    /// after the backoff), or dead-letters the job once its attempts are
    /// spent or the wait would outlive it.
    async fn again_or_dead(
        &self,
        held: &mut Held,
        reason: String,
        after: Duration,
    ) -> Result<Next> {
        if held.attempt >= self.settings.attempts {
            let reason = format!("{reason} (after {} tries)", held.attempt);
            return self.dead_letter(held, &reason).await;
        }
        let wait = if after.is_zero() {
            self.config.retry_delay(held.attempt)
        } else {
            after
        };
        let retry_at_ms = self.engine.now_ms() + wait.as_millis() as i64;
        if payload::ttl(&held.job, retry_at_ms).is_none() {
            let reason = format!("{reason}; it would be stale by the time it may be sent again");
            return self.dead_letter(held, &reason).await;
        }
        tracing::debug!(entry = %held.entry_id, %reason, ?wait, attempt = held.attempt, "push to be tried again");
        held.attempt += 1;
        held.not_before = Instant::now() + wait;
        Ok(Next::Retry)
    }

    /// Records the job in `fs:push:dead` with why, then acknowledges it.
    async fn dead_letter(&self, held: &Held, reason: &str) -> Result<Next> {
        tracing::warn!(entry = %held.entry_id, kind = %held.job.kind, sku = %held.job.sku, %reason, "push given up on; dead-lettered");
        let mut fields: Vec<(&str, String)> = held.job.to_fields();
        fields.extend([
            ("entry_id", held.entry_id.clone()),
            ("attempts", held.attempt.to_string()),
            ("reason", reason.to_owned()),
        ]);
        self.group.append(DEAD_PUSHES, &fields).await?;
        self.metrics.pushes_dead_lettered.inc();
        self.ack(held).await
    }

    async fn ack(&self, held: &Held) -> Result<Next> {
        self.group.ack(&held.entry_id).await?;
        Ok(Next::Finished)
    }
}
