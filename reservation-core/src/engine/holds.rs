//! Hold calls: reserve, read, confirm, cancel, and the worker-side
//! transitions (finalize a purchase, release a failed one).

use super::record::decode_hold;
use super::{Engine, Reply};
use crate::error::{Error, Result};
use crate::keys::{self, HoldKey, ProductKeys, RequestKind};
use crate::scripts::SCRIPTS;
use crate::types::{
    CustomerId, Hold, HoldState, Reservation, ReservationId, ReserveRequest, Transition,
};

impl Engine {
    /// The most requests [`Engine::reserve_many`] takes in one call: their
    /// holds share one due entry, which a sweep reads whole.
    pub const MAX_RESERVES_PER_CALL: usize = 256;

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
        if requests.len() > Self::MAX_RESERVES_PER_CALL {
            return Err(Error::InvalidArgument {
                field: "requests",
                reason: format!(
                    "one call reserves at most {} requests, not {}",
                    Self::MAX_RESERVES_PER_CALL,
                    requests.len()
                ),
            });
        }
        if let Some(other) = requests.iter().find(|r| &r.sku != sku) {
            return Err(Error::InvalidArgument {
                field: "sku",
                reason: format!("one call reserves one product, not {sku} and {}", other.sku),
            });
        }
        let max = self.config.max_quantity_per_reserve;
        let too_many = |request: &ReserveRequest| request.quantity.get() > max;
        let keys = ProductKeys::new(sku);
        let salt = self.salt(sku).await?;
        let now = self.now_ms();
        let mut call = self.product_call_at(&SCRIPTS.reserve, &keys, now);
        call.arg(self.config.reclaim_batch);
        let mut sent = 0;
        for request in requests.iter().filter(|r| !too_many(r)) {
            // No salt, no product: the script answers each "not found".
            let key = salt.as_deref().map_or_else(String::new, |salt| {
                keys::request_hold_key(salt, RequestKind::Reserve, request.request_id.as_str())
            });
            call.arg(key)
                .arg(request.customer_id.as_str())
                .arg(request.quantity.get())
                .arg(request.request_id.as_str());
            sent += 1;
        }
        let (expires_at_ms, mut replies) = if sent == 0 {
            (0, Vec::new().into_iter())
        } else {
            let reply = self.run(&call).await?;
            if reply.outcome() != "BATCH" {
                return Err(reply.unexpected_outcome());
            }
            let mut batch = reply.named()?;
            // Listed first: the holds stand whatever the rest of the reply says.
            let index_deadline = batch.int("index_deadline")?;
            if index_deadline > 0 {
                self.index_product(sku, self.first_look(index_deadline, now))
                    .await?;
            }
            let replies = batch.take_replies("answers")?;
            if replies.len() != sent {
                return Err(Error::Internal(format!(
                    "BATCH reply: {} answers to {sent} requests",
                    replies.len()
                )));
            }
            (batch.int("expires_at")?, replies.into_iter())
        };

        let mut answers = Vec::with_capacity(requests.len());
        for request in requests {
            if too_many(request) {
                answers.push(Err(Error::InvalidArgument {
                    field: "quantity",
                    reason: format!("at most {max} units per reserve"),
                }));
                continue;
            }
            let reply = replies.next().expect("an answer per request sent");
            answers.push(reserve_answer(request, reply, expires_at_ms));
        }
        let holders = answers
            .iter()
            .filter_map(|answer| answer.as_ref().ok())
            .map(|reservation| &reservation.hold.customer_id);
        self.note_shoppers(sku, holders).await;
        Ok(answers)
    }

    /// A hold as stored, live or ended within the retention. Use
    /// [`Hold::state_at`] for its state as of now: a HELD hold past its
    /// deadline is already expired, swept or not.
    pub async fn reservation(&self, id: &ReservationId) -> Result<Hold> {
        let keys = ProductKeys::new(id.sku());
        let found = HoldKey::of(id);
        let period = self.config.retention.period(self.now_ms());
        let mut call = SCRIPTS.read_hold.prepare_invoke();
        call.key(&keys.holds)
            .key(keys.ended(period))
            .key(keys.ended(period - 1))
            .arg(found.key);
        let raw: Option<Vec<u8>> = redis::from_redis_value(self.redis.invoke(&call).await?)
            .map_err(|e| Error::Internal(e.to_string()))?;
        // What a layout upgrade left under a request's key points to a
        // hold, and a restock's record names none: neither is a hold.
        let hold = raw
            .filter(|raw| !raw.starts_with(b"@") && !raw.starts_with(b"RESTOCK "))
            .map(|raw| decode_hold(id, &raw))
            .transpose()?;
        match hold {
            // A key is its request's: a hold made again under it, after the
            // first aged out, is not the one this id names.
            Some(hold)
                if found
                    .created_at_ms
                    .is_none_or(|ms| ms == hold.created_at_ms) =>
            {
                Ok(hold)
            }
            _ => Err(self.not_found(id)),
        }
    }

    /// Why `id` was not found: it aged out, when it is older than the
    /// retention (an ended hold is kept at least that long), or it never
    /// existed.
    pub(super) fn not_found(&self, id: &ReservationId) -> Error {
        let retention = self.config.retention;
        match keys::created_at_ms(id) {
            Some(created) if self.now_ms() - created > retention.as_millis() => {
                Error::ReservationAgedOut {
                    id: id.clone(),
                    retention: retention.duration(),
                }
            }
            _ => Error::ReservationNotFound(id.clone()),
        }
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
        let (transition, reply) = self.transition(id, "confirmed", &call).await?;
        if transition.changed {
            let index_deadline = reply.int(3)?;
            if index_deadline > 0 {
                self.index_product(id.sku(), index_deadline).await?;
            }
        }
        Ok(transition)
    }

    pub(super) async fn enqueue_purchase(&self, id: &ReservationId) -> Result<()> {
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

    /// HELD → CANCELLED (or EXPIRED, when past its deadline): units back to
    /// available. With `owner`, only that customer's hold is found.
    pub async fn cancel(
        &self,
        id: &ReservationId,
        owner: Option<&CustomerId>,
    ) -> Result<Transition> {
        let mut call = self.hold_call(&SCRIPTS.cancel, id);
        call.arg(owner.map_or("", CustomerId::as_str));
        Ok(self.transition(id, "cancelled", &call).await?.0)
    }

    /// CONFIRMED → PURCHASED: held units become sold.
    pub async fn finalize_purchase(&self, id: &ReservationId) -> Result<Transition> {
        let call = self.hold_call(&SCRIPTS.finalize_purchase, id);
        Ok(self.transition(id, "purchased", &call).await?.0)
    }

    /// CONFIRMED → RELEASED, for a purchase that finally failed: units back to
    /// available.
    pub async fn release(&self, id: &ReservationId) -> Result<Transition> {
        let call = self.hold_call(&SCRIPTS.release, id);
        Ok(self.transition(id, "released", &call).await?.0)
    }

    fn hold_call<'a>(
        &self,
        script: &'a redis::Script,
        id: &ReservationId,
    ) -> redis::ScriptInvocation<'a> {
        let keys = ProductKeys::new(id.sku());
        let found = HoldKey::of(id);
        let mut call = self.product_call(script, &keys);
        call.arg(found.key).arg(
            found
                .created_at_ms
                .map_or_else(String::new, |ms| ms.to_string()),
        );
        call
    }

    /// Runs a script of `holding.lua`'s kind; the reply is the script's own.
    async fn transition(
        &self,
        id: &ReservationId,
        action: &'static str,
        call: &redis::ScriptInvocation<'_>,
    ) -> Result<(Transition, Reply)> {
        let reply: Reply = self.run(call).await?;
        match reply.outcome() {
            "OK" => Ok((
                Transition {
                    hold: decode_hold(id, reply.bytes(1)?)?,
                    changed: reply.int(2)? == 1,
                },
                reply,
            )),
            "NOT_FOUND" => Err(self.not_found(id)),
            "WRONG_STATE" => Err(Error::WrongState {
                id: id.clone(),
                state: decode_hold(id, reply.bytes(1)?)?.state,
                action,
            }),
            _ => Err(reply.unexpected_outcome()),
        }
    }
}

/// One request's answer within a reserve call (or a cart's), whose new holds
/// expire at `expires_at_ms`.
pub(super) fn reserve_answer(
    request: &ReserveRequest,
    reply: Reply,
    expires_at_ms: i64,
) -> Result<Reservation> {
    let sku = &request.sku;
    match reply.outcome() {
        "OK" => {
            let id = ReservationId::from_parts(sku, reply.text(1)?)?;
            let created_at_ms = keys::created_at_ms(&id)
                .ok_or_else(|| Error::Internal(format!("the new hold {id} carries no time")))?;
            Ok(Reservation {
                hold: Hold {
                    id,
                    customer_id: request.customer_id.clone(),
                    quantity: request.quantity.get(),
                    state: HoldState::Held,
                    request_id: request.request_id.clone(),
                    created_at_ms,
                    expires_at_ms,
                    purchase_deadline_ms: None,
                    purchased_at_ms: None,
                    updated_at_ms: created_at_ms,
                },
                available: reply.int(2)?,
                replayed: false,
            })
        }
        // A replay answers the first request's hold, as it is now.
        "REPLAY" => {
            let id = ReservationId::from_parts(sku, reply.text(1)?)?;
            Ok(Reservation {
                hold: decode_hold(&id, reply.bytes(2)?)?,
                available: reply.int(3)?,
                replayed: true,
            })
        }
        "NOT_FOUND" => Err(Error::ProductNotFound(sku.clone())),
        "IDEMPOTENCY_MISMATCH" => Err(Error::IdempotencyMismatch {
            request_id: request.request_id.clone(),
        }),
        "KEY_COLLISION" => Err(Error::Internal(format!(
            "request_id {} of {sku} shares its hold key with another request; \
             send it with another request_id",
            request.request_id
        ))),
        "SALE_CLOSED" => Err(Error::SaleClosed {
            sku: sku.clone(),
            starts_at_ms: Some(reply.int(1)?).filter(|&ms| ms > 0),
            ends_at_ms: Some(reply.int(2)?).filter(|&ms| ms > 0),
            paused: reply.int(3)? == 1,
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
