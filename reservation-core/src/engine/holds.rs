//! Hold calls: reserve, read, confirm, cancel, and the worker-side
//! transitions (finalize a purchase, release a failed one, expire due holds).

use serde::Deserialize;

use super::{Engine, Reply};
use crate::error::{Error, Result};
use crate::keys::ProductKeys;
use crate::scripts::SCRIPTS;
use crate::types::{
    CustomerId, ExpiredHolds, Hold, HoldState, RequestId, Reservation, ReservationId,
    ReserveRequest, Sku, Transition,
};

impl Engine {
    /// Reserves units for a customer: one new HELD hold, or the first answer
    /// again when `request_id` was seen before with the same parameters.
    ///
    /// Only successful reserves are remembered: a refused request changed
    /// nothing, so retrying it is safe and may succeed once stock comes back.
    pub async fn reserve(&self, request: &ReserveRequest) -> Result<Reservation> {
        let mut answers = self.reserve_many(std::slice::from_ref(request)).await?;
        answers.pop().expect("one answer per request")
    }

    /// Reserves for several requests of one product in one script call, in
    /// order. Each request is decided exactly as [`Engine::reserve`] would
    /// decide it after the ones before it, and gets its own answer; the call
    /// bumps the product's version once. The outer error is the call's (Redis
    /// unreachable, requests of different products): then no request ran.
    pub async fn reserve_many(
        &self,
        requests: &[ReserveRequest],
    ) -> Result<Vec<Result<Reservation>>> {
        let Some(sku) = requests.first().map(|r| &r.sku) else {
            return Ok(Vec::new());
        };
        if let Some(other) = requests.iter().find(|r| &r.sku != sku) {
            return Err(Error::InvalidArgument {
                field: "sku",
                reason: format!("one call reserves one product, not {sku} and {}", other.sku),
            });
        }
        let max = self.config.max_quantity_per_reserve;
        let too_many = |request: &ReserveRequest| request.quantity.get() > max;
        let keys = ProductKeys::new(sku);
        let mut call = self.product_call(&SCRIPTS.reserve, &keys);
        call.arg(self.config.request_record_ttl.as_secs())
            .arg(self.config.reclaim_batch);
        let mut sent = 0;
        for request in requests.iter().filter(|r| !too_many(r)) {
            let id = ReservationId::generate(sku);
            call.key(keys.request(&request.request_id))
                .arg(id.token())
                .arg(request.customer_id.as_str())
                .arg(request.quantity.get())
                .arg(request.request_id.as_str());
            sent += 1;
        }
        let mut reply = if sent == 0 {
            None
        } else {
            let reply = self.run(&call).await?;
            if reply.outcome() != "BATCH" {
                return Err(reply.unexpected_outcome());
            }
            if reply.int(1)? == 1 {
                self.mark_active(sku).await?;
            }
            Some(reply)
        };

        let mut answers = Vec::with_capacity(requests.len());
        let mut next = 0;
        for request in requests {
            if too_many(request) {
                answers.push(Err(Error::InvalidArgument {
                    field: "quantity",
                    reason: format!("at most {max} units per reserve"),
                }));
                continue;
            }
            let reply = reply.as_mut().expect("a reply for the requests sent");
            answers.push(reserve_answer(request, reply.take_nested(2 + next)?));
            next += 1;
        }
        Ok(answers)
    }

    /// A hold as stored. Use [`Hold::state_at`] for its state as of now: a HELD
    /// hold past its deadline is already expired, swept or not.
    pub async fn reservation(&self, id: &ReservationId) -> Result<Hold> {
        let keys = ProductKeys::new(id.sku());
        let raw: Option<Vec<u8>> = self
            .redis
            .query(redis::cmd("HGET").arg(&keys.holds).arg(id.token()))
            .await?;
        let raw = raw.ok_or_else(|| Error::ReservationNotFound(id.clone()))?;
        decode_hold(id, &raw)
    }

    /// HELD → CONFIRMED: the hold waits for its purchase and no longer expires
    /// as a hold, and a purchase job is enqueued for it. With `owner`, only
    /// that customer's hold is found.
    ///
    /// The confirmation and the job are two writes (the purchase stream is not
    /// in the product's slot). If this process dies between them, the hold's
    /// purchase deadline passes with no order, and the sweeper's
    /// [`Engine::requeue_stranded`] enqueues it again.
    pub async fn confirm(
        &self,
        id: &ReservationId,
        owner: Option<&CustomerId>,
    ) -> Result<Transition> {
        let transition = self.confirm_hold(id, owner).await?;
        if transition.changed {
            self.enqueue_purchase(id).await?;
        }
        Ok(transition)
    }

    /// Confirms without enqueueing the purchase job, as a process that died
    /// between the two writes would: for tests of the stranded-purchase sweep.
    #[cfg(feature = "testing")]
    pub async fn confirm_without_enqueue(&self, id: &ReservationId) -> Result<Transition> {
        self.confirm_hold(id, None).await
    }

    async fn confirm_hold(
        &self,
        id: &ReservationId,
        owner: Option<&CustomerId>,
    ) -> Result<Transition> {
        let mut call = self.hold_call(&SCRIPTS.confirm, id);
        call.arg(owner.map_or("", CustomerId::as_str))
            .arg(self.config.purchase_timeout.as_millis() as u64);
        self.transition(id, "confirmed", &call).await
    }

    async fn enqueue_purchase(&self, id: &ReservationId) -> Result<()> {
        self.redis
            .query::<String>(
                redis::cmd("XADD")
                    .arg(self.config.partitions.of_reservation(id).purchases)
                    .arg("*")
                    .arg("reservation_id")
                    .arg(id.to_string()),
            )
            .await
            .map(drop)
    }

    /// Enqueues again the confirmed holds of `sku` whose purchase deadline has
    /// passed with no purchase, each with a new deadline. Returns them.
    pub async fn requeue_stranded(&self, sku: &Sku, batch: u32) -> Result<Vec<ReservationId>> {
        let keys = ProductKeys::new(sku);
        let mut call = self.product_call(&SCRIPTS.requeue_stranded, &keys);
        call.arg(self.config.purchase_timeout.as_millis() as u64)
            .arg(batch.max(1));
        let reply = self.run(&call).await?;
        let ids = (1..reply.len())
            .map(|i| ReservationId::from_parts(sku, reply.text(i)?))
            .collect::<Result<Vec<_>>>()?;
        for id in &ids {
            self.enqueue_purchase(id).await?;
        }
        Ok(ids)
    }

    /// HELD → CANCELLED (or EXPIRED, when past its deadline): units back to
    /// available. With `owner`, only that customer's hold is found.
    pub async fn cancel(
        &self,
        id: &ReservationId,
        owner: Option<&CustomerId>,
    ) -> Result<Transition> {
        let mut call = self.hold_call(&SCRIPTS.cancel, id);
        call.arg(owner.map_or("", CustomerId::as_str));
        self.transition(id, "cancelled", &call).await
    }

    /// CONFIRMED → PURCHASED: held units become sold.
    pub async fn finalize_purchase(&self, id: &ReservationId) -> Result<Transition> {
        let call = self.hold_call(&SCRIPTS.finalize_purchase, id);
        self.transition(id, "purchased", &call).await
    }

    /// CONFIRMED → RELEASED, for a purchase that finally failed: units back to
    /// available.
    pub async fn release(&self, id: &ReservationId) -> Result<Transition> {
        let call = self.hold_call(&SCRIPTS.release, id);
        self.transition(id, "released", &call).await
    }

    /// Expires up to `batch` of the product's HELD holds that are past their
    /// deadline and returns their units. Safe to run from many sweepers at once.
    pub async fn expire_due(&self, sku: &Sku, batch: u32) -> Result<ExpiredHolds> {
        let keys = ProductKeys::new(sku);
        let mut call = self.product_call(&SCRIPTS.expire_due, &keys);
        call.arg(batch.max(1));
        let reply = self.run(&call).await?;
        match reply.outcome() {
            "OK" => Ok(ExpiredHolds {
                units: reply.int(1)?,
                next_due_ms: Some(reply.int(2)?).filter(|&ms| ms >= 0),
                confirmed_waiting: reply.int(3)?,
                holds: (4..reply.len())
                    .map(|i| ReservationId::from_parts(sku, reply.text(i)?))
                    .collect::<Result<_>>()?,
            }),
            "NOT_FOUND" => Err(Error::ProductNotFound(sku.clone())),
            _ => Err(reply.unexpected_outcome()),
        }
    }

    fn hold_call<'a>(
        &self,
        script: &'a redis::Script,
        id: &ReservationId,
    ) -> redis::ScriptInvocation<'a> {
        let keys = ProductKeys::new(id.sku());
        let mut call = self.product_call(script, &keys);
        call.arg(id.token());
        call
    }

    async fn transition(
        &self,
        id: &ReservationId,
        action: &'static str,
        call: &redis::ScriptInvocation<'_>,
    ) -> Result<Transition> {
        let reply: Reply = self.run(call).await?;
        match reply.outcome() {
            "OK" => Ok(Transition {
                hold: decode_hold(id, reply.bytes(1)?)?,
                changed: reply.int(2)? == 1,
            }),
            "NOT_FOUND" => Err(Error::ReservationNotFound(id.clone())),
            "WRONG_STATE" => Err(Error::WrongState {
                id: id.clone(),
                state: decode_hold(id, reply.bytes(1)?)?.state,
                action,
            }),
            _ => Err(reply.unexpected_outcome()),
        }
    }
}

/// A hold record as the scripts store it (JSON in the product's holds hash).
#[derive(Deserialize)]
struct HoldRecord {
    state: HoldState,
    customer_id: CustomerId,
    quantity: u32,
    request_id: RequestId,
    created_at_ms: i64,
    expires_at_ms: i64,
    #[serde(default)]
    purchase_deadline_ms: i64,
    purchased_at_ms: Option<i64>,
    updated_at_ms: i64,
}

/// One request's answer within a reserve call.
pub(super) fn reserve_answer(request: &ReserveRequest, reply: Reply) -> Result<Reservation> {
    let sku = &request.sku;
    match reply.outcome() {
        "OK" => {
            // A replay answers the first request's hold, not the id made for this call.
            let id = ReservationId::from_parts(sku, reply.text(4)?)?;
            Ok(Reservation {
                hold: decode_hold(&id, reply.bytes(1)?)?,
                available: reply.int(2)?,
                replayed: reply.int(3)? == 1,
            })
        }
        "NOT_FOUND" => Err(Error::ProductNotFound(sku.clone())),
        "IDEMPOTENCY_MISMATCH" => Err(Error::IdempotencyMismatch {
            request_id: request.request_id.clone(),
        }),
        "SALE_CLOSED" => Err(Error::SaleClosed {
            sku: sku.clone(),
            starts_at_ms: Some(reply.int(1)?).filter(|&ms| ms > 0),
            ends_at_ms: Some(reply.int(2)?).filter(|&ms| ms > 0),
        }),
        "CUSTOMER_LIMIT" => Err(Error::CustomerLimit {
            sku: sku.clone(),
            customer: request.customer_id.clone(),
            limit: reply.int(1)? as u32,
            owned: reply.int(2)?,
        }),
        "OUT_OF_STOCK" => Err(Error::OutOfStock {
            sku: sku.clone(),
            requested: i64::from(request.quantity.get()),
            available: reply.int(1)?,
        }),
        _ => Err(reply.unexpected_outcome()),
    }
}

fn decode_hold(id: &ReservationId, raw: &[u8]) -> Result<Hold> {
    let record: HoldRecord = serde_json::from_slice(raw)
        .map_err(|e| Error::Internal(format!("hold {id} has a malformed record: {e}")))?;
    Ok(Hold {
        id: id.clone(),
        customer_id: record.customer_id,
        quantity: record.quantity,
        state: record.state,
        request_id: record.request_id,
        created_at_ms: record.created_at_ms,
        expires_at_ms: record.expires_at_ms,
        purchase_deadline_ms: Some(record.purchase_deadline_ms).filter(|&ms| ms > 0),
        purchased_at_ms: record.purchased_at_ms,
        updated_at_ms: record.updated_at_ms,
    })
}
