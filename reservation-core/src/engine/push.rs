//! Web push ("Notify me"): shoppers' interests in products, the stream of
//! pushes to send, and the demo deployment's VAPID key.
//!
//! An interest lives twice: under the shopper's hash tag (their list, and
//! the bound on how many they hold) and under the product's (what the push
//! rounds read and the claims check). On Cluster the two are in different
//! slots, so a subscribe is two script calls: the shopper's side first,
//! within the bound, then the product's. A process that dies in between
//! leaves an interest listed that sends nothing until the shopper
//! subscribes again (which replaces it); never one that sends and is not
//! counted. An unsubscribe goes the other way round: the product's side
//! first, so nothing is sent once it has begun.
//!
//! The set of products with interests is written after the product's side,
//! and taken out only once the product's side is empty, then read again: a
//! subscribe racing an unsubscribe puts it back (see
//! [`Engine::unsubscribe_push`]).

use std::time::Duration;

use super::Engine;
use crate::error::{Error, Result};
use crate::keys::{
    DEMO_VAPID_KEY, PUSH_GROUP, PUSH_JOBS, PUSH_PRODUCTS, PushProductKeys, push_shopper,
};
use crate::scripts::SCRIPTS;
use crate::stream_group::{GroupStart, StreamGroup};
use crate::types::{
    CustomerId, PushInterest, PushJob, PushSubscription, PushTopics, Sku, SubscriptionId,
};
use crate::vapid::VapidKey;

/// The field of an interest in the product's hash: `CUSTOMER/SUBSCRIPTION_ID`
/// (neither has a `/`).
pub(super) fn product_field(customer: &CustomerId, id: &SubscriptionId) -> String {
    format!("{customer}/{id}")
}

/// The field of an interest in the shopper's hash: `SKU/SUBSCRIPTION_ID`.
fn shopper_field(sku: &Sku, id: &SubscriptionId) -> String {
    format!("{sku}/{id}")
}

impl Engine {
    /// Records that `customer` wants to be told of `sku`'s `topics` on
    /// `subscription`, replacing the topics of an interest of the same
    /// product and endpoint. `Error::ProductNotFound`,
    /// `Error::InvalidArgument { field: "notify" }` when no topic is asked
    /// for, `Error::PushSubscriptionsFull` when the shopper holds
    /// `max_per_shopper` interests already (counted per product and
    /// subscription).
    pub async fn subscribe_push(
        &self,
        customer: &CustomerId,
        sku: &Sku,
        subscription: &PushSubscription,
        topics: PushTopics,
        max_per_shopper: u32,
    ) -> Result<SubscriptionId> {
        if !topics.any() {
            return Err(Error::InvalidArgument {
                field: "notify",
                reason: "must ask for at least one of sale_opens, back_in_stock, hold_expiring"
                    .to_owned(),
            });
        }
        let keys = PushProductKeys::new(sku);
        // Checked before the shopper's side is written, so a mistyped SKU
        // takes none of the shopper's places.
        let total: Option<String> = self
            .redis
            .query(redis::cmd("HGET").arg(&keys.product).arg("total"))
            .await?;
        if total.is_none() {
            return Err(Error::ProductNotFound(sku.clone()));
        }
        let id = subscription.id();
        let json = PushInterest {
            customer: customer.clone(),
            sku: sku.clone(),
            subscription: subscription.clone(),
            topics,
            created_at_ms: self.now_ms(),
        }
        .to_json();

        let mut call = SCRIPTS.push_subscribe_shopper.prepare_invoke();
        call.key(push_shopper(customer))
            .arg(shopper_field(sku, &id))
            .arg(&json)
            .arg(max_per_shopper);
        let reply = self.run(&call).await?;
        match reply.outcome() {
            "OK" => {}
            "FULL" => {
                return Err(Error::PushSubscriptionsFull {
                    customer: customer.clone(),
                    max: max_per_shopper,
                });
            }
            _ => return Err(reply.unexpected_outcome()),
        }

        let mut call = SCRIPTS.push_subscribe_product.prepare_invoke();
        call.key(&keys.product)
            .key(&keys.interests)
            .arg(product_field(customer, &id))
            .arg(&json);
        let reply = self.run(&call).await?;
        match reply.outcome() {
            "OK" => {}
            "NOT_FOUND" => return Err(Error::ProductNotFound(sku.clone())),
            _ => return Err(reply.unexpected_outcome()),
        }
        self.redis
            .query::<i64>(redis::cmd("SADD").arg(PUSH_PRODUCTS).arg(sku.as_str()))
            .await?;
        Ok(id)
    }

    /// Removes `customer`'s interest in `sku` on subscription `id`: the
    /// product's side with its sent marks, then the shopper's. False when
    /// there was none on either side.
    pub async fn unsubscribe_push(
        &self,
        customer: &CustomerId,
        sku: &Sku,
        id: &SubscriptionId,
    ) -> Result<bool> {
        let keys = PushProductKeys::new(sku);
        let mut call = SCRIPTS.push_unsubscribe.prepare_invoke();
        call.key(&keys.interests)
            .key(&keys.sent)
            .arg(product_field(customer, id));
        let reply = self.run(&call).await?;
        if reply.outcome() != "OK" {
            return Err(reply.unexpected_outcome());
        }
        let (from_product, remaining) = (reply.int(1)?, reply.int(2)?);
        let from_shopper: i64 = self
            .redis
            .query(
                redis::cmd("HDEL")
                    .arg(push_shopper(customer))
                    .arg(shopper_field(sku, id)),
            )
            .await?;
        if remaining == 0 {
            self.redis
                .query::<i64>(redis::cmd("SREM").arg(PUSH_PRODUCTS).arg(sku.as_str()))
                .await?;
            // A subscribe may have written the product's side since the
            // script; its own SADD may have come before the SREM.
            let now: i64 = self
                .redis
                .query(redis::cmd("HLEN").arg(&keys.interests))
                .await?;
            if now > 0 {
                self.redis
                    .query::<i64>(redis::cmd("SADD").arg(PUSH_PRODUCTS).arg(sku.as_str()))
                    .await?;
            }
        }
        Ok(from_product + from_shopper > 0)
    }

    /// Removes every interest of `customer` on subscription `id`, in every
    /// product: what a push service's "gone" (`404`/`410`) means, since the
    /// endpoint is dead for all of them. The shopper's side (`SKU/ID`
    /// fields, a hash of at most their bound) says which products; each is
    /// then unsubscribed as [`Engine::unsubscribe_push`] does, the
    /// product's side first. Returns how many interests were removed.
    pub async fn forget_push_subscription(
        &self,
        customer: &CustomerId,
        id: &SubscriptionId,
    ) -> Result<usize> {
        // HGETALL (the ACL allows no HKEYS): a hash of at most the bound.
        let stored: Vec<(Vec<u8>, Vec<u8>)> = self
            .redis
            .query(redis::cmd("HGETALL").arg(push_shopper(customer)))
            .await?;
        let suffix = format!("/{id}");
        let mut removed = 0;
        for (field, _) in stored {
            let Some(sku) = std::str::from_utf8(&field)
                .ok()
                .and_then(|field| field.strip_suffix(&suffix))
            else {
                continue;
            };
            match Sku::new(sku) {
                Ok(sku) => removed += usize::from(self.unsubscribe_push(customer, &sku, id).await?),
                // Not the engine's: nothing on a product's side to remove.
                Err(_) => {
                    let _: i64 = self
                        .redis
                        .query(redis::cmd("HDEL").arg(push_shopper(customer)).arg(&field))
                        .await?;
                }
            }
        }
        Ok(removed)
    }

    /// The shopper's interests in every product, by SKU and then endpoint.
    /// One stored that is not an interest (written behind the engine's
    /// back) is left out, with a warning.
    pub async fn push_interests_of(&self, customer: &CustomerId) -> Result<Vec<PushInterest>> {
        let stored: Vec<(String, String)> = self
            .redis
            .query(redis::cmd("HGETALL").arg(push_shopper(customer)))
            .await?;
        let mut interests: Vec<PushInterest> = stored
            .iter()
            .filter_map(|(field, json)| match PushInterest::from_json(json) {
                Ok(interest) => Some(interest),
                Err(e) => {
                    tracing::warn!(%customer, field, error = %e, "a stored push interest is not one; left out");
                    None
                }
            })
            .collect();
        interests.sort_by(|a, b| {
            (&a.sku, a.subscription.endpoint()).cmp(&(&b.sku, b.subscription.endpoint()))
        });
        Ok(interests)
    }

    /// The products with at least one interest (`SSCAN`, a page at a
    /// time, so a big set never holds Redis up).
    pub async fn push_products(&self) -> Result<Vec<Sku>> {
        let mut skus = Vec::new();
        let mut cursor = "0".to_owned();
        loop {
            let (next, page): (String, Vec<String>) = self
                .redis
                .query(
                    redis::cmd("SSCAN")
                        .arg(PUSH_PRODUCTS)
                        .arg(&cursor)
                        .arg("COUNT")
                        .arg(500),
                )
                .await?;
            // A member that is not a SKU was not written by the engine.
            skus.extend(page.into_iter().filter_map(|sku| Sku::new(sku).ok()));
            if next == "0" {
                break;
            }
            cursor = next;
        }
        skus.sort();
        skus.dedup();
        Ok(skus)
    }

    /// Appends `jobs` to the push jobs stream, pipelined (one key: on
    /// Cluster, one node).
    pub async fn enqueue_push_jobs(&self, jobs: &[PushJob]) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let mut pipeline = redis::pipe();
        for job in jobs {
            let command = pipeline.cmd("XADD").arg(PUSH_JOBS).arg("*");
            for (name, value) in job.to_fields() {
                command.arg(name).arg(value);
            }
        }
        self.redis.pipeline(&pipeline).await
    }

    /// The push jobs stream read through the senders' group (made, from the
    /// stream's first entry, unless it exists). `block` is the longest a
    /// read waits for new jobs.
    pub async fn push_job_group(&self, block: Duration) -> Result<StreamGroup> {
        StreamGroup::connect(
            &self.redis_config,
            PUSH_JOBS,
            PUSH_GROUP,
            GroupStart::Beginning,
            block,
        )
        .await
    }

    /// The demo deployment's VAPID key: made up by whichever process asks
    /// first (`SET NX`), then the same for every process of the demo.
    pub async fn demo_vapid_key(&self) -> Result<VapidKey> {
        let fresh = VapidKey::generate();
        let earlier: Option<String> = self
            .redis
            .query(
                redis::cmd("SET")
                    .arg(DEMO_VAPID_KEY)
                    .arg(fresh.to_base64url())
                    .arg("NX")
                    .arg("GET"),
            )
            .await?;
        match earlier {
            None => Ok(fresh),
            Some(stored) => VapidKey::from_base64url(&stored)
                .map_err(|e| Error::Internal(format!("{DEMO_VAPID_KEY} holds no VAPID key: {e}"))),
        }
    }
}
