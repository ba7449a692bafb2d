//! One shopper's turn: the reserve, maybe a retry of it, maybe a confirm or a
//! cancel, and the state the shopper tasks of a run share.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::time::Instant;

use flashsale_proto::v1 as pb;
use tonic::{Request, Status};

use super::ReserveRun;
use super::recorder::Recorder;
use crate::merchant::Reservations;
use crate::outcome::Outcome;
use crate::traffic::{FollowUp, Intent};

/// Shared by the shopper tasks of one run.
pub(super) struct Shared {
    pub(super) run: ReserveRun,
    pub(super) recorder: Mutex<Recorder>,
    pub(super) in_flight: AtomicUsize,
    pub(super) next_connection: AtomicUsize,
    pub(super) stop: AtomicBool,
    pub(super) sent: AtomicU64,
}

impl Shared {
    pub(super) fn recorder(&self) -> std::sync::MutexGuard<'_, Recorder> {
        self.recorder
            .lock()
            .expect("the recorder lock is never poisoned")
    }
}

/// A hold the run knows it has, and what it cost.
struct Answer {
    outcome: Outcome,
    /// The hold's id when the answer carried one.
    hold: Option<String>,
    due: Instant,
    sent: Instant,
    answered: Instant,
}

async fn send_reserve(
    shared: &Shared,
    client: &mut Reservations,
    intent: &Intent,
    due: Instant,
) -> Answer {
    let mut request = Request::new(pb::ReserveRequest {
        sku: shared.run.target.skus[intent.product].clone(),
        quantity: intent.quantity,
        customer_id: intent.customer.clone(),
        request_id: intent.request_id.clone(),
    });
    request.set_timeout(shared.run.timeout);
    let sent = Instant::now();
    let result = tokio::time::timeout(shared.run.timeout, client.reserve(request))
        .await
        .unwrap_or_else(|_| Err(Status::deadline_exceeded("flashload's own deadline")));
    let answered = Instant::now();
    let (outcome, hold) = match result {
        Ok(response) => {
            let response = response.into_inner();
            let outcome = if response.replayed {
                Outcome::Replayed
            } else {
                Outcome::Reserved
            };
            (outcome, response.reservation.map(|r| r.id))
        }
        Err(status) => (Outcome::of_status(&status), None),
    };
    Answer {
        outcome,
        hold,
        due,
        sent,
        answered,
    }
}

/// One shopper's turn: the reserve, maybe a retry of it, maybe a follow-up.
pub(super) async fn shopper_turn(
    shared: &Shared,
    client: &mut Reservations,
    intent: Intent,
    due: Instant,
) {
    let first = send_reserve(shared, client, &intent, due).await;
    let mut known_hold = first.hold.clone();
    let mut mismatches = 0;
    let mut unanswered = first.outcome.effect_unknown();
    let retry = if intent.retry {
        let again = send_reserve(shared, client, &intent, Instant::now()).await;
        match (&known_hold, &again.hold) {
            (Some(first_id), Some(id)) if id != first_id || again.outcome != Outcome::Replayed => {
                mismatches += 1;
            }
            (None, Some(_)) => {
                // The first call's hold, or a new one if the first was refused.
                known_hold = again.hold.clone();
                unanswered = false;
            }
            _ => {}
        }
        if again.outcome.is_business() {
            unanswered = false;
        }
        Some(again)
    } else {
        None
    };

    let mut cancelled = false;
    let mut cancel_unanswered = false;
    if let Some(id) = &known_hold {
        match intent.follow_up {
            FollowUp::Keep => {}
            FollowUp::Confirm => {
                let started = Instant::now();
                let result = client
                    .confirm_reservation(pb::ConfirmReservationRequest { id: id.clone() })
                    .await;
                shared
                    .recorder()
                    .follow_up("confirm", result.is_ok(), started.elapsed());
            }
            FollowUp::Cancel => {
                let started = Instant::now();
                let result = client
                    .cancel_reservation(pb::CancelReservationRequest { id: id.clone() })
                    .await;
                cancelled = result
                    .as_ref()
                    .is_ok_and(|r| r.get_ref().state == pb::HoldState::Cancelled as i32);
                cancel_unanswered = result
                    .as_ref()
                    .is_err_and(|s| Outcome::of_status(s).effect_unknown());
                shared
                    .recorder()
                    .follow_up("cancel", result.is_ok(), started.elapsed());
            }
        }
    }

    let mut recorder = shared.recorder();
    for answer in std::iter::once(&first).chain(retry.as_ref()) {
        recorder.answer(answer.outcome, answer.due, answer.sent, answer.answered);
    }
    recorder.replay_mismatches += mismatches;
    let tally = &mut recorder.products[intent.product];
    if known_hold.is_some() {
        tally.granted_holds += 1;
        tally.granted_units += intent.quantity;
    } else if unanswered {
        tally.unanswered_reserves += 1;
        tally.unanswered_reserve_units += intent.quantity;
    }
    if cancelled {
        tally.cancelled_units += intent.quantity;
    } else if cancel_unanswered {
        tally.unanswered_cancel_units += intent.quantity;
    }
}
