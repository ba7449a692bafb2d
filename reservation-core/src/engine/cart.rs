//! Carts: several products reserved all or nothing.
//!
//! On a single node a cart is one script call, atomic like any reserve. On
//! Redis Cluster a script runs in one slot, so the cart is split into one
//! call per slot, in the order of the cart's lines. When a later call is
//! refused or fails, the earlier ones are undone (their holds given back and
//! their request records deleted), so the caller never holds part of a cart
//! and a retry starts afresh. A call whose outcome is unknown (Redis went
//! away mid-call) is undone too; if even that cannot reach Redis, its holds
//! still expire after the product's hold time, so no unit is lost for good.
//!
//! A retry of the same cart request must wait for the first attempt's answer:
//! a retry racing an attempt that is being undone can be answered with a
//! hold the undo then gives back.

use std::collections::{HashMap, HashSet};

use redis::{Script, ScriptInvocation};

use super::Engine;
use super::holds::reserve_answer;
use crate::error::{Error, Result};
use crate::keys::{ProductKeys, RequestKind};
use crate::scripts::SCRIPTS;
use crate::types::{CartRequest, Reservation};

impl Engine {
    /// Reserves every line of `cart` (one new HELD hold per line, in the
    /// cart's order), or none: the error is then the first refused line's,
    /// or the call's. A cart request seen before answers its first answer.
    ///
    /// The work runs on a task of its own, so a caller that gives up (a
    /// deadline dropping this future) cannot stop it between reserving one
    /// slot and undoing it.
    pub async fn reserve_cart(&self, cart: &CartRequest) -> Result<Vec<Reservation>> {
        self.check_cart(cart)?;
        let (engine, cart) = (self.clone(), cart.clone());
        tokio::spawn(async move { engine.reserve_checked_cart(&cart).await })
            .await
            .map_err(|e| Error::Internal(format!("the cart task failed: {e}")))?
    }

    async fn reserve_checked_cart(&self, cart: &CartRequest) -> Result<Vec<Reservation>> {
        let mut answers: Vec<Option<Reservation>> = vec![None; cart.lines.len()];
        let slots = self.cart_slots(cart);
        for (done, lines) in slots.iter().enumerate() {
            let (error, undo) = match self.reserve_cart_slot(cart, lines).await {
                Ok(Ok(reservations)) => {
                    for (&i, reservation) in lines.iter().zip(reservations) {
                        answers[i] = Some(reservation);
                    }
                    continue;
                }
                // Refused: this slot wrote nothing, the earlier ones are undone.
                Ok(Err(refusal)) => (refusal, done),
                // Unknown: this slot may have written, so it is undone too.
                Err(error) => (error, done + 1),
            };
            self.undo_cart(cart, &slots[..undo]).await;
            return Err(error);
        }
        let skus: Vec<_> = cart.lines.iter().map(|line| line.sku.clone()).collect();
        self.note_shopper(&cart.customer_id, &skus).await;
        Ok(answers
            .into_iter()
            .map(|answer| answer.expect("every line answered"))
            .collect())
    }

    fn check_cart(&self, cart: &CartRequest) -> Result<()> {
        let invalid = |field, reason: String| Err(Error::InvalidArgument { field, reason });
        if cart.lines.is_empty() || cart.lines.len() > CartRequest::MAX_LINES {
            return invalid(
                "lines",
                format!("a cart has 1 to {} lines", CartRequest::MAX_LINES),
            );
        }
        let mut seen = HashSet::new();
        if let Some(line) = cart.lines.iter().find(|line| !seen.insert(&line.sku)) {
            return invalid(
                "lines",
                format!("{} is on two lines; give it one", line.sku),
            );
        }
        let max = self.config.max_quantity_per_reserve;
        if let Some(line) = cart.lines.iter().find(|line| line.quantity.get() > max) {
            return invalid(
                "quantity",
                format!(
                    "at most {max} units per line, not {} of {}",
                    line.quantity.get(),
                    line.sku
                ),
            );
        }
        Ok(())
    }

    /// The cart's line indexes grouped into script calls: all of them on a
    /// single node; on a Cluster, those of each slot, slots in the order of
    /// their first line.
    fn cart_slots(&self, cart: &CartRequest) -> Vec<Vec<usize>> {
        if !self.redis.is_cluster() {
            return vec![(0..cart.lines.len()).collect()];
        }
        let mut slots: Vec<Vec<usize>> = Vec::new();
        let mut group_of_slot = HashMap::new();
        for (i, line) in cart.lines.iter().enumerate() {
            let slot = ProductKeys::new(&line.sku).slot();
            let group = *group_of_slot.entry(slot).or_insert_with(|| {
                slots.push(Vec::new());
                slots.len() - 1
            });
            slots[group].push(i);
        }
        slots
    }

    /// Reserves `lines` of the cart in one script call. The outer error is
    /// the call's (outcome unknown); the inner one a refusal (nothing written).
    async fn reserve_cart_slot(
        &self,
        cart: &CartRequest,
        lines: &[usize],
    ) -> Result<Result<Vec<Reservation>>> {
        let call = self.cart_call(&SCRIPTS.reserve_cart, cart, lines).await?;
        let reply = self.run(&call).await?;
        match reply.outcome() {
            "CART" => {}
            "REFUSED" => {
                let mut refused = reply.named()?;
                let line = refused.int("line")?;
                let line = usize::try_from(line)
                    .ok()
                    .and_then(|line| lines.get(line.checked_sub(1)?))
                    .ok_or_else(|| {
                        Error::Internal(format!("REFUSED reply: no line {line} in this call"))
                    })?;
                let answer = refused.take_reply("answer")?;
                return match reserve_answer(&cart.line_request(*line), answer, 0) {
                    Err(refusal) => Ok(Err(refusal)),
                    Ok(_) => Err(Error::Internal("a refused cart line answered OK".into())),
                };
            }
            _ => return Err(reply.unexpected_outcome()),
        }
        let answers = reply.named()?.take_replies("lines")?;
        if answers.len() != lines.len() {
            return Err(Error::Internal(format!(
                "CART reply: {} answers to {} lines",
                answers.len(),
                lines.len()
            )));
        }
        let mut reservations = Vec::with_capacity(lines.len());
        for (answer, &i) in answers.into_iter().zip(lines) {
            if answer.outcome() != "LINE" {
                return Err(answer.unexpected_outcome());
            }
            let mut answer = answer.named()?;
            let index_deadline = answer.int("index_deadline")?;
            if index_deadline > 0 {
                let look = self.first_look(index_deadline, self.now_ms());
                self.index_product(&cart.lines[i].sku, look).await?;
            }
            // A replay carries its hold's own deadline (and has 0 here).
            let expires_at_ms = answer.int("expires_at")?;
            reservations.push(reserve_answer(
                &cart.line_request(i),
                answer.take_reply("answer")?,
                expires_at_ms,
            )?);
        }
        Ok(Ok(reservations))
    }

    /// Undoes the cart's reserves in `slots`. A slot that cannot be undone is
    /// logged: its holds expire after the product's hold time.
    async fn undo_cart(&self, cart: &CartRequest, slots: &[Vec<usize>]) {
        for lines in slots {
            let undone = async {
                self.run(&self.cart_call(&SCRIPTS.undo_cart, cart, lines).await?)
                    .await
            }
            .await
            .and_then(|reply| match reply.outcome() {
                "UNDONE" => reply.int(1),
                _ => Err(reply.unexpected_outcome()),
            });
            match undone {
                Ok(given_back) => tracing::debug!(
                    request_id = %cart.request_id,
                    given_back,
                    "undid part of a cart"
                ),
                Err(error) => tracing::warn!(
                    request_id = %cart.request_id,
                    skus = ?lines.iter().map(|&i| cart.lines[i].sku.as_str()).collect::<Vec<_>>(),
                    %error,
                    "could not undo part of a failed cart; its holds give their units back when they expire"
                ),
            }
        }
    }

    /// A call of a cart script over `lines` (see `carts.lua`).
    async fn cart_call<'a>(
        &self,
        script: &'a Script,
        cart: &CartRequest,
        lines: &[usize],
    ) -> Result<ScriptInvocation<'a>> {
        let keys: Vec<ProductKeys> = lines
            .iter()
            .map(|&i| ProductKeys::new(&cart.lines[i].sku))
            .collect();
        // Line 1 in lib.lua's layout; the other lines' keys after it, all of
        // the same moment.
        let now = self.now_ms();
        let mut call = self.product_call_at(script, &keys[0], now);
        let period = self.config.retention.period(now);
        for product in &keys[1..] {
            for key in product.script_keys(period) {
                call.key(key);
            }
        }
        call.arg(cart.customer_id.as_str())
            .arg(cart.request_id.as_str())
            .arg(self.config.reclaim_batch);
        for (product, &i) in keys.iter().zip(lines) {
            let key = self
                .request_hold_key(
                    &product.sku,
                    RequestKind::CartLine,
                    cart.request_id.as_str(),
                )
                .await?;
            call.arg(product.sku.as_str())
                .arg(&product.stock_channel)
                .arg(key)
                .arg(cart.lines[i].quantity.get());
        }
        Ok(call)
    }
}
