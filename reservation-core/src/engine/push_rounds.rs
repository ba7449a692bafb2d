//! When pushes go out: a product's *rounds* and the *claims* of its jobs.
//!
//! A round is one occasion (a sale opening, a return to stock) walked over
//! the product's interests a batch at a time: a planner reads a batch
//! ([`Engine::push_round_batch`]), enqueues its jobs, then moves the round
//! on ([`Engine::advance_push_round`]), compare-and-set. A planner that dies
//! between the two leaves the batch to be read and enqueued again; two that
//! race enqueue it twice. So delivery is at least once up to the stream,
//! and the claim just before sending ([`Engine::claim_push`]) makes it at
//! most one push per interest per occasion: one sale opening → at most one
//! job claimed per interest, whatever the planners did.

use std::time::Duration;

use super::Engine;
use super::push::product_field;
use crate::error::{Error, Result};
use crate::keys::PushProductKeys;
use crate::scripts::SCRIPTS;
use crate::types::{PushInterest, PushJob, PushKind, Sku};

/// One batch of a round in progress: what a planner enqueues jobs for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushRoundBatch {
    pub sku: Sku,
    pub kind: PushKind,
    /// The round's notice: the sale's start, or when stock came back (ms).
    pub notice: i64,
    /// Where the batch starts in the product's interests (an `HSCAN`
    /// cursor).
    pub from_cursor: String,
    /// Where the next batch starts; `done` after the last.
    pub to_cursor: String,
    /// The batch's interests that asked for `kind`.
    pub interests: Vec<PushInterest>,
    /// The batch's stored interests that are not one (not JSON, not a
    /// subscription the checks accept, not UTF-8: written behind the
    /// engine's back), skipped with a warning so the round goes on.
    pub skipped: usize,
}

impl PushRoundBatch {
    /// Whether this is the round's last batch.
    pub fn is_last(&self) -> bool {
        self.to_cursor == "done"
    }
}

/// Whether a push job is still wanted, just before it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushClaim {
    /// Send it (this job holds the occasion now).
    Send,
    /// Another job holds the occasion, or a `BackInStock` went out within
    /// the quiet period: acknowledge it unsent.
    Duplicate,
    /// The interest is gone, or no longer asks for this kind.
    Unsubscribed,
}

/// A round's kind, as the scripts name its fields.
fn round_name(kind: PushKind) -> Result<&'static str> {
    kind.round_name().ok_or_else(|| Error::InvalidArgument {
        field: "kind",
        reason: format!("{kind} has no rounds: the sweep notices each hold"),
    })
}

impl Engine {
    /// Starts a round of `kind` (`SaleOpens` or `BackInStock`) on `sku` with
    /// `notice`, unless one with this notice or a later one was started:
    /// false then. One compare-and-set call, so of any number of planners
    /// one starts it.
    pub async fn start_push_round(&self, sku: &Sku, kind: PushKind, notice: i64) -> Result<bool> {
        let keys = PushProductKeys::new(sku);
        let mut call = SCRIPTS.push_start_round.prepare_invoke();
        call.key(&keys.rounds).arg(round_name(kind)?).arg(notice);
        let reply = self.run(&call).await?;
        match reply.outcome() {
            "STARTED" => Ok(true),
            "KEPT" => Ok(false),
            _ => Err(reply.unexpected_outcome()),
        }
    }

    /// Records whether `sku` has units `available`; when it goes from none
    /// to some, starts a `BackInStock` round with notice `now_ms` (later
    /// than the last round's, whatever the clock) and returns the notice.
    /// The first observation of a product is recorded without a round, and
    /// so is a return less than `quiet` after the last round's notice: a
    /// unit flickering in and out as holds expire and are taken again does
    /// not walk every subscriber each time (their claims would drop the
    /// pushes as within the quiet period anyway).
    pub async fn observe_push_availability(
        &self,
        sku: &Sku,
        available: i64,
        now_ms: i64,
        quiet: Duration,
    ) -> Result<Option<i64>> {
        let keys = PushProductKeys::new(sku);
        let mut call = SCRIPTS.push_observe_availability.prepare_invoke();
        call.key(&keys.rounds)
            .arg(u8::from(available > 0))
            .arg(now_ms)
            .arg(u64::try_from(quiet.as_millis()).unwrap_or(u64::MAX));
        let reply = self.run(&call).await?;
        match reply.outcome() {
            "STARTED" => Ok(Some(reply.int(1)?)),
            "FIRST" | "UNCHANGED" | "SOLD_OUT" | "QUIET" => Ok(None),
            _ => Err(reply.unexpected_outcome()),
        }
    }

    /// The next batch (about `count` interests read, of which those that
    /// asked for `kind` are returned) of the round of `kind` in progress on
    /// `sku`, without moving the round on; `None` when none is in progress
    /// (or the round's notice or cursor is not one the engine wrote). A
    /// stored interest that is not one is skipped, logged and counted in
    /// [`PushRoundBatch::skipped`]: it does not stop the round.
    pub async fn push_round_batch(
        &self,
        sku: &Sku,
        kind: PushKind,
        count: u32,
    ) -> Result<Option<PushRoundBatch>> {
        let keys = PushProductKeys::new(sku);
        let mut call = SCRIPTS.push_round_batch.prepare_invoke();
        call.key(&keys.rounds)
            .key(&keys.interests)
            .arg(round_name(kind)?)
            .arg(count.clamp(1, super::EngineConfig::MAX_BATCH));
        let reply = self.run(&call).await?;
        match reply.outcome() {
            "NONE" => return Ok(None),
            "BATCH" => {}
            _ => return Err(reply.unexpected_outcome()),
        }
        let reply = reply.named()?;
        let stored = reply.texts("interests")?;
        let mut interests = Vec::with_capacity(stored.len() / 2);
        let mut skipped = 0;
        for pair in stored.chunks(2) {
            let [field, json] = pair else {
                return Err(Error::Internal(
                    "push_round_batch: interests are not field, JSON pairs".to_owned(),
                ));
            };
            match PushInterest::from_json(json) {
                Ok(interest) if interest.topics.wants(kind) => interests.push(interest),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(%sku, field, error = %e, "a stored push interest is not one; skipped");
                    skipped += 1;
                }
            }
        }
        Ok(Some(PushRoundBatch {
            sku: sku.clone(),
            kind,
            notice: reply.int("notice")?,
            from_cursor: reply.text("from")?.to_owned(),
            to_cursor: reply.text("to")?.to_owned(),
            interests,
            skipped,
        }))
    }

    /// Moves the round past `batch`, if it is still where the batch was
    /// read (the same notice and cursor). False when another planner moved
    /// it, or a new round of the kind started.
    pub async fn advance_push_round(&self, batch: &PushRoundBatch) -> Result<bool> {
        let keys = PushProductKeys::new(&batch.sku);
        let mut call = SCRIPTS.push_advance_round.prepare_invoke();
        call.key(&keys.rounds)
            .arg(round_name(batch.kind)?)
            .arg(batch.notice)
            .arg(&batch.from_cursor)
            .arg(&batch.to_cursor);
        let reply = self.run(&call).await?;
        match reply.outcome() {
            "ADVANCED" => Ok(true),
            "MOVED" => Ok(false),
            _ => Err(reply.unexpected_outcome()),
        }
    }

    /// Just before sending: whether `job` (stream entry `job_id`) is still
    /// wanted. `SaleOpens`: `Send` unless this sale start (or a later one)
    /// was claimed by another job (`Duplicate`). `BackInStock`: `Duplicate`
    /// also when another job was claimed for a round less than `quiet`
    /// before this one's. A retry of the job that holds the occasion is
    /// `Send`. `HoldExpiring`: `Send` unless unsubscribed. `Unsubscribed`
    /// when the interest is gone or no longer asks for the kind. One call
    /// on the product's slot.
    pub async fn claim_push(
        &self,
        job: &PushJob,
        job_id: &str,
        quiet: Duration,
    ) -> Result<PushClaim> {
        let keys = PushProductKeys::new(&job.sku);
        let field = product_field(&job.customer, &job.subscription.id());
        let (mark, notice) = match job.kind.round_name() {
            Some(name) => {
                let notice: i64 = job.notice.parse().map_err(|_| Error::InvalidArgument {
                    field: "notice",
                    reason: format!("a {} job's notice is ms, not {:?}", job.kind, job.notice),
                })?;
                (format!("{field}/{name}"), notice.to_string())
            }
            None => (String::new(), String::new()),
        };
        let mut call = SCRIPTS.push_claim.prepare_invoke();
        call.key(&keys.interests)
            .key(&keys.sent)
            .arg(job.kind.as_str())
            .arg(&field)
            .arg(mark)
            .arg(notice)
            .arg(job_id)
            .arg(quiet.as_millis() as u64);
        let reply = self.run(&call).await?;
        match reply.outcome() {
            "SEND" => Ok(PushClaim::Send),
            "DUPLICATE" => Ok(PushClaim::Duplicate),
            "UNSUBSCRIBED" => Ok(PushClaim::Unsubscribed),
            _ => Err(reply.unexpected_outcome()),
        }
    }
}
