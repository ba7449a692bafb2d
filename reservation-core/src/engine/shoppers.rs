//! A customer's live holds, across products: what a shopper's page shows
//! after a reload, and what a merchant reads by customer.
//!
//! Within a product the list is exact: the scripts that make and end holds
//! keep the product's holders index (`scripts/lib.lua`, KEYS[9]) in the same
//! call. Across products a customer's holds span slots, so no script can
//! keep one index of them; instead each customer has an index of the
//! products they hold live holds of ([`keys::shopper_products`]), and a
//! reserve notes its product there right after the script granted (or
//! replayed) a hold; the holds themselves are always read from the products.
//! Only holds pay for the note: a refusal, the common answer of a sold-out
//! sale, writes nothing.
//!
//! A note lost between the script and its write (the process died, Redis
//! went away) hides the hold from lists across products, never from its own
//! product's list, and only until the hold ends or its request is retried
//! (a replay notes it again): the drift is bounded by a hold's life.
//!
//! The index is bounded: a read drops the products that hold none of the
//! customer's live holds and were not noted for
//! [`Engine::SHOPPER_QUIET_BEFORE_DROP`] (guarded, so a product noted again
//! meanwhile stays), and the whole index expires
//! [`Engine::shopper_index_ttl`] after the customer's last hold.

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt, stream};

use super::Engine;
use super::record::decode_hold;
use crate::error::{Error, Result};
use crate::keys::{self, ProductKeys};
use crate::scripts::SCRIPTS;
use crate::types::{CustomerId, Hold, ReservationId, Sku};

/// A product of a shopper's index, with when a reserve last noted it (none
/// when the caller named the product).
type IndexedProduct = (Sku, Option<f64>);

/// Products read at once when a list spans many.
const CONCURRENT_READS: usize = 16;

/// One page of a customer's live holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldPage {
    /// Newest first (by creation time; holds made in the same millisecond by
    /// their ids).
    pub holds: Vec<Hold>,
    /// Where the next page starts, when there may be one.
    pub next_page_token: Option<ReservationId>,
}

impl Engine {
    /// A product noted this recently may have a reserve in flight, whose
    /// hold a read would not see yet; no reserve call lasts anywhere near
    /// this long.
    pub const SHOPPER_QUIET_BEFORE_DROP: Duration = Duration::from_secs(300);

    /// The most holds one page of [`Engine::customer_holds`] has.
    pub const MAX_HOLDS_PER_PAGE: usize = 100;

    /// How long a customer's product index outlives their last hold: at
    /// least a day, and no less than the retention of ended holds.
    pub fn shopper_index_ttl(&self) -> Duration {
        self.config
            .retention
            .duration()
            .max(Duration::from_secs(24 * 3600))
    }

    /// The customer's live (HELD and CONFIRMED) holds, newest first, of one
    /// product or of every product; `after` is a page's
    /// `next_page_token`. A HELD hold past its deadline is expired, swept
    /// or not, and is left out.
    pub async fn customer_holds(
        &self,
        customer: &CustomerId,
        sku: Option<&Sku>,
        after: Option<&ReservationId>,
        limit: usize,
    ) -> Result<HoldPage> {
        if !(1..=Self::MAX_HOLDS_PER_PAGE).contains(&limit) {
            return Err(Error::InvalidArgument {
                field: "page_size",
                reason: format!("must be 1 to {}", Self::MAX_HOLDS_PER_PAGE),
            });
        }
        let products = match sku {
            Some(sku) => vec![(sku.clone(), None)],
            None => self.shopper_products(customer).await?,
        };
        // One more than a page from each product: when all of them together
        // have no more than a page, there is no next one.
        let read: Vec<(IndexedProduct, Vec<Hold>)> = stream::iter(products)
            .map(|(sku, noted)| async move {
                let holds = self
                    .product_holds_of(customer, &sku, after, limit + 1)
                    .await?;
                Ok::<_, Error>(((sku, noted), holds))
            })
            .buffer_unordered(CONCURRENT_READS)
            .try_collect()
            .await?;

        if after.is_none() {
            let now = self.now_ms() as f64;
            let quiet = Self::SHOPPER_QUIET_BEFORE_DROP.as_millis() as f64;
            let idle: Vec<(Sku, f64)> = read
                .iter()
                .filter_map(|((sku, noted), holds)| match noted {
                    Some(noted) if holds.is_empty() && now - noted > quiet => {
                        Some((sku.clone(), *noted))
                    }
                    _ => None,
                })
                .collect();
            self.forget_shopper_products(customer, &idle).await?;
        }

        let mut holds: Vec<Hold> = read.into_iter().flat_map(|(_, holds)| holds).collect();
        holds.sort_by(|a, b| page_order(&b.id).cmp(&page_order(&a.id)));
        let next_page_token = (holds.len() > limit).then(|| holds[limit - 1].id.clone());
        holds.truncate(limit);
        let now = self.now_ms();
        holds.retain(|hold| hold.state_at(now).is_active());
        Ok(HoldPage {
            holds,
            next_page_token,
        })
    }

    /// Notes in each customer's index that they hold live holds of `sku`: in
    /// one pipeline on a single Redis, one per customer on a Cluster (where
    /// their indexes live in different slots, which one pipeline cannot
    /// span). A note that fails is logged and left: see the module's comment.
    pub(super) async fn note_shoppers<'c>(
        &self,
        sku: &Sku,
        customers: impl IntoIterator<Item = &'c CustomerId>,
    ) {
        let mut seen = std::collections::HashSet::new();
        let customers = customers.into_iter().filter(|c| seen.insert(*c));
        let skus = std::slice::from_ref(sku);
        if self.redis.is_cluster() {
            let notes = customers.map(|customer| self.note_shopper(customer, skus));
            futures_util::future::join_all(notes).await;
        } else {
            let mut notes = redis::pipe();
            for customer in customers {
                self.add_note(&mut notes, customer, skus);
            }
            self.send_notes(&notes).await;
        }
    }

    /// Notes in the customer's index that they hold live holds of `skus`.
    pub(super) async fn note_shopper(&self, customer: &CustomerId, skus: &[Sku]) {
        let mut notes = redis::pipe();
        self.add_note(&mut notes, customer, skus);
        self.send_notes(&notes).await;
    }

    fn add_note(&self, notes: &mut redis::Pipeline, customer: &CustomerId, skus: &[Sku]) {
        let key = keys::shopper_products(customer);
        let now = self.now_ms();
        let add = notes.cmd("ZADD").arg(&key);
        for sku in skus {
            add.arg(now).arg(sku.as_str());
        }
        notes
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(self.shopper_index_ttl().as_millis() as u64);
    }

    async fn send_notes(&self, notes: &redis::Pipeline) {
        if notes.is_empty() {
            return;
        }
        if let Err(e) = self.redis.pipeline(notes).await {
            tracing::warn!(
                error = %e,
                "customers' product indexes missed notes: lists across products \
                 miss their new holds until those end or are retried"
            );
        }
    }

    /// The customer's product index: each product and when it was noted.
    async fn shopper_products(&self, customer: &CustomerId) -> Result<Vec<IndexedProduct>> {
        let entries: Vec<(String, f64)> = self
            .redis
            .query(
                redis::cmd("ZRANGE")
                    .arg(keys::shopper_products(customer))
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES"),
            )
            .await?;
        entries
            .into_iter()
            .map(|(sku, noted)| {
                let sku = Sku::new(sku)
                    .map_err(|e| Error::Internal(format!("a shopper index names {e}")))?;
                Ok((sku, Some(noted)))
            })
            .collect()
    }

    async fn forget_shopper_products(
        &self,
        customer: &CustomerId,
        idle: &[(Sku, f64)],
    ) -> Result<()> {
        if idle.is_empty() {
            return Ok(());
        }
        let mut call = SCRIPTS.forget_shopper_products.prepare_invoke();
        call.key(keys::shopper_products(customer));
        for (sku, noted) in idle {
            call.arg(sku.as_str()).arg(*noted);
        }
        self.redis.invoke(&call).await?;
        Ok(())
    }

    /// Up to `limit` of the customer's live holds of `sku` that come after
    /// `after` in page order, newest first.
    async fn product_holds_of(
        &self,
        customer: &CustomerId,
        sku: &Sku,
        after: Option<&ReservationId>,
        limit: usize,
    ) -> Result<Vec<Hold>> {
        let keys = ProductKeys::new(sku);
        let mut call = SCRIPTS.customer_holds.prepare_invoke();
        call.key(&keys.holders)
            .key(&keys.holds)
            .arg(customer.as_str());
        match after {
            // Holds with the cursor's own token come after it only in
            // products that sort after its product.
            Some(after) => call
                .arg(after.token())
                .arg(if sku < after.sku() { "1" } else { "0" }),
            None => call.arg("-").arg("0"),
        };
        call.arg(limit);
        let found: Vec<(String, Vec<u8>)> =
            redis::from_redis_value(self.redis.invoke(&call).await?)
                .map_err(|e| Error::Internal(e.to_string()))?;
        found
            .into_iter()
            .map(|(token, record)| decode_hold(&ReservationId::from_parts(sku, &token)?, &record))
            .collect()
    }
}

/// Pages run newest first: by token (which starts with the creation time),
/// then by product.
fn page_order(id: &ReservationId) -> (&str, &Sku) {
    (id.token(), id.sku())
}
