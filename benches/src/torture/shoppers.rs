//! The load of a torture run: shoppers reserving over gRPC the way a careful
//! client does while servers die under it, and a merchant restocking.
//!
//! A call whose answer is lost (the server or its Redis went away, the
//! deadline passed, the node shed it) may or may not have taken effect, so a
//! shopper sends it again, with the same `request_id`, until it is answered.
//! Some answered reserves are sent again on purpose, to see the first answer
//! come back. Every answer lands in the [`Books`], which the checks hold
//! against Redis at the end.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flashsale_proto::v1 as pb;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use tonic::{Code, Request, Status};

use crate::merchant::Merchant;

/// How long one call may take before its answer counts as lost.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a shopper keeps sending a call whose answers are lost: longer
/// than any fault of the run lasts.
const GIVE_UP_AFTER: Duration = Duration::from_secs(30);

/// What the shoppers did and were told.
#[derive(Debug, Default, Serialize)]
pub struct Books {
    /// Calls sent, retries included.
    pub calls: u64,
    /// Calls whose answer was lost, by gRPC code; each was sent again.
    pub lost_answers: HashMap<String, u64>,
    /// Reserves refused by the engine's rules (out of stock, sale closed…).
    pub refused: u64,
    /// Reserves refused as malformed: a bug in the run or the server.
    pub rejected: Vec<String>,
    /// Answered reserves sent again on purpose that got the first hold back.
    pub replays: u64,
    /// Retries of a `request_id` answered with anything but its first hold.
    pub replay_mismatches: Vec<String>,
    /// Calls never answered within [`GIVE_UP_AFTER`].
    pub unresolved: u64,
    /// Every hold granted; the report gives their number as `granted`.
    #[serde(rename = "granted", serialize_with = "count")]
    pub holds: Vec<String>,
    /// Holds whose confirm was answered with CONFIRMED (or later).
    #[serde(skip)]
    pub confirmed: Vec<String>,
    /// Holds whose cancel was answered with CANCELLED.
    #[serde(skip)]
    pub cancelled: Vec<String>,
    /// Confirms and cancels refused (the hold had expired first).
    pub follow_ups_refused: u64,
    /// Units restocked and acknowledged, by SKU.
    pub restocked: HashMap<String, i64>,
    /// Units of restocks whose answer was lost (sent without a request id,
    /// so not sent again), by SKU.
    pub restocks_unanswered: HashMap<String, i64>,
}

fn count<S: serde::Serializer>(items: &[String], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(items.len() as u64)
}

impl Books {
    fn lost(&mut self, status: &Status) {
        *self
            .lost_answers
            .entry(format!("{:?}", status.code()))
            .or_default() += 1;
    }
}

/// The shoppers' shared state.
pub struct Shop {
    merchant: Merchant,
    skus: Vec<String>,
    run_id: String,
    seed: u64,
    books: Mutex<Books>,
    pub stop: AtomicBool,
}

impl Shop {
    pub fn new(merchant: Merchant, skus: Vec<String>, run_id: String, seed: u64) -> Arc<Self> {
        Arc::new(Self {
            merchant,
            skus,
            run_id,
            seed,
            books: Mutex::new(Books::default()),
            stop: AtomicBool::new(false),
        })
    }

    pub fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books
            .lock()
            .expect("the books' lock is never poisoned")
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

/// How a call ended after every retry.
enum Answered<T> {
    Yes(T),
    /// The engine refused it: a definite answer.
    Refused(Status),
    /// Never answered.
    Unresolved,
}

/// Whether a failed call may have taken effect unseen, so that only sending
/// it again tells.
fn answer_lost(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Cancelled
            | Code::ResourceExhausted
            | Code::Unknown
            | Code::Internal
            | Code::Aborted
    )
}

/// Sends the call made by `call` until it is answered, or gives up.
async fn until_answered<T, F>(shop: &Shop, mut call: impl FnMut() -> F) -> Answered<T>
where
    F: Future<Output = Result<tonic::Response<T>, Status>>,
{
    let give_up = Instant::now() + GIVE_UP_AFTER;
    let mut pause = Duration::from_millis(50);
    loop {
        shop.books().calls += 1;
        let result = tokio::time::timeout(CALL_TIMEOUT, call())
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded("the run's own deadline")));
        match result {
            Ok(response) => return Answered::Yes(response.into_inner()),
            Err(status) if answer_lost(&status) => {
                shop.books().lost(&status);
                if Instant::now() > give_up {
                    shop.books().unresolved += 1;
                    return Answered::Unresolved;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            Err(status) => return Answered::Refused(status),
        }
    }
}

/// One shopper: reserve, sometimes again, then confirm, cancel or walk away.
pub async fn shopper(shop: Arc<Shop>, n: usize) {
    let mut rng = StdRng::seed_from_u64(shop.seed ^ (n as u64).wrapping_mul(0x9e37_79b9));
    let client = shop.merchant.reservations(n);
    let mut turn = 0u64;
    while !shop.stopped() {
        turn += 1;
        let request = pb::ReserveRequest {
            sku: shop.skus[rng.random_range(0..shop.skus.len())].clone(),
            quantity: rng.random_range(1..=2),
            customer_id: format!("shopper-{}", rng.random_range(0..5_000)),
            request_id: format!("{}-{n}-{turn}", shop.run_id),
        };
        let reservation = match until_answered(&shop, || {
            let (mut client, mut call) = (client.clone(), Request::new(request.clone()));
            call.set_timeout(CALL_TIMEOUT);
            async move { client.reserve(call).await }
        })
        .await
        {
            Answered::Yes(answer) => answer.reservation,
            Answered::Refused(status) => {
                let mut books = shop.books();
                if matches!(
                    status.code(),
                    Code::InvalidArgument | Code::NotFound | Code::AlreadyExists
                ) {
                    books
                        .rejected
                        .push(format!("{}: {}", request.request_id, status.message()));
                } else {
                    books.refused += 1;
                }
                continue;
            }
            Answered::Unresolved => continue,
        };
        let Some(hold) = reservation.map(|r| r.id) else {
            shop.books()
                .rejected
                .push(format!("{}: granted without a hold", request.request_id));
            continue;
        };
        shop.books().holds.push(hold.clone());

        if rng.random_bool(0.2) {
            let again = until_answered(&shop, || {
                let (mut client, call) = (client.clone(), request.clone());
                async move { client.reserve(call).await }
            })
            .await;
            let mut books = shop.books();
            match again {
                Answered::Yes(answer)
                    if answer.replayed
                        && answer.reservation.as_ref().is_some_and(|r| r.id == hold) =>
                {
                    books.replays += 1;
                }
                Answered::Yes(answer) => books.replay_mismatches.push(format!(
                    "{} first made {hold}, then answered {:?}",
                    request.request_id,
                    answer.reservation.map(|r| r.id)
                )),
                Answered::Refused(status) => books.replay_mismatches.push(format!(
                    "{} first made {hold}, then was refused: {}",
                    request.request_id,
                    status.message()
                )),
                Answered::Unresolved => {}
            }
        }

        // Four in ten confirmed, two cancelled, the rest left to expire.
        let follow_up = rng.random_range(0..10);
        let confirming = follow_up < 4;
        let answer = if confirming {
            until_answered(&shop, || {
                let (mut client, id) = (client.clone(), hold.clone());
                async move {
                    client
                        .confirm_reservation(pb::ConfirmReservationRequest { id })
                        .await
                }
            })
            .await
        } else if follow_up < 6 {
            until_answered(&shop, || {
                let (mut client, id) = (client.clone(), hold.clone());
                async move {
                    client
                        .cancel_reservation(pb::CancelReservationRequest { id })
                        .await
                }
            })
            .await
        } else {
            continue;
        };
        let mut books = shop.books();
        match answer {
            Answered::Yes(_) if confirming => books.confirmed.push(hold),
            Answered::Yes(_) => books.cancelled.push(hold),
            Answered::Refused(_) => books.follow_ups_refused += 1,
            Answered::Unresolved => {}
        }
    }
}

/// The merchant: a few units onto a random product every `every`, so sold
/// out products come back and watchers see restocks.
pub async fn restocker(shop: Arc<Shop>, every: Duration) {
    let mut rng = StdRng::seed_from_u64(shop.seed.rotate_left(17));
    let mut inventory = shop.merchant.inventory();
    let mut tick = tokio::time::interval(every);
    while !shop.stopped() {
        tick.tick().await;
        let sku = shop.skus[rng.random_range(0..shop.skus.len())].clone();
        let delta = rng.random_range(5..=25);
        let mut call = Request::new(pb::RestockRequest {
            sku: sku.clone(),
            delta,
            request_id: String::new(),
        });
        call.set_timeout(CALL_TIMEOUT);
        let result = tokio::time::timeout(CALL_TIMEOUT, inventory.restock(call))
            .await
            .unwrap_or_else(|_| Err(Status::deadline_exceeded("the run's own deadline")));
        let mut books = shop.books();
        books.calls += 1;
        match result {
            Ok(_) => *books.restocked.entry(sku).or_default() += delta,
            Err(status) if answer_lost(&status) => {
                books.lost(&status);
                *books.restocks_unanswered.entry(sku).or_default() += delta;
            }
            Err(status) => books
                .rejected
                .push(format!("restock of {sku}: {}", status.message())),
        }
    }
}
