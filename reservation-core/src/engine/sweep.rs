//! The sweepers' side of the engine: one product's sweep step, and the sweep
//! index that tells sweepers which products are due, so a pass costs in
//! proportion to the holds due, never to the products with holds.
//!
//! Each partition's index is a sorted set of SKU → the earliest deadline of
//! the product's live holds. It must never be later than that deadline, or
//! expired units would come back late; it may be earlier (a sweep then finds
//! nothing and lists the product at its real deadline). A reserve or confirm
//! whose script says it moved the product's earliest deadline forward lists
//! it after the script (`ZADD LT`). A sweeper that swept a product writes its
//! new deadline, or takes it out, and then reads the product again: a reserve
//! that listed it meanwhile is not undone (the reserve's own listing always
//! comes after its script, so one of the two sees the other). A process that
//! dies between a script and its listing leaves the product out;
//! [`Engine::reindex_catalog`], run now and then by one sweeper, finds it.

use futures_util::future::try_join_all;

use super::{Engine, Reply};
use crate::error::{Error, Result};
use crate::keys::{PartitionKeys, ProductKeys};
use crate::scripts::SCRIPTS;
use crate::types::{CustomerId, ReservationId, Sku};

/// What one sweep step did to one product.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProductSweep {
    /// Units the expired holds gave back.
    pub expired_units: i64,
    /// The holds expired, oldest first.
    pub expired: Vec<ReservationId>,
    /// Confirmed holds whose purchase deadline had passed, given a new one
    /// and enqueued again.
    pub requeued: Vec<ReservationId>,
    /// The expiry notices sent (see [`EngineConfig::expiry_notice`]), for
    /// the pushes of shoppers who asked to be told.
    ///
    /// [`EngineConfig::expiry_notice`]: super::EngineConfig::expiry_notice
    pub notices: Vec<ExpiryNotice>,
    /// When the product must be looked at next: the earliest deadline of
    /// its live holds afterwards, or its next expiry notice when that comes
    /// first; `None` when it has no live holds.
    pub next_deadline_ms: Option<i64>,
}

/// One hold's "expiring soon" notice, as a sweep step sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpiryNotice {
    pub reservation_id: ReservationId,
    pub customer: CustomerId,
    pub quantity: i64,
    pub expires_at_ms: i64,
}

impl ProductSweep {
    /// Whether more of the product is due at `now_ms` (the step stopped at
    /// its batch).
    pub fn more_due(&self, now_ms: i64) -> bool {
        self.next_deadline_ms.is_some_and(|next| next <= now_ms)
    }
}

impl Engine {
    /// One sweep step on `sku`: expires up to about `batch` of its HELD
    /// holds past their deadline (whole due entries: one call's holds go
    /// together), returns their units, and enqueues again up to `batch`
    /// confirmed holds whose purchase deadline passed with no purchase. Safe
    /// to run from many sweepers at once.
    pub async fn sweep_product(&self, sku: &Sku, batch: u32) -> Result<ProductSweep> {
        let batch = batch.clamp(1, super::EngineConfig::MAX_BATCH);
        let keys = ProductKeys::new(sku);
        let mut call = self.product_call(&SCRIPTS.sweep_product, &keys);
        call.arg(batch)
            .arg(self.config.purchase_timeout.as_millis() as u64)
            .arg(batch)
            .arg(self.notice_lead_ms());
        let reply = self.run(&call).await?;
        let sweep = match reply.outcome() {
            "OK" => product_sweep(sku, reply)?,
            "NOT_FOUND" => return Err(Error::ProductNotFound(sku.clone())),
            _ => return Err(reply.unexpected_outcome()),
        };
        // Enqueued after the script: a process that dies in between leaves
        // the hold's new deadline to pass, and the next sweep enqueues it.
        for id in &sweep.requeued {
            self.enqueue_purchase(id).await?;
        }
        Ok(sweep)
    }

    /// The expiry notice's lead in ms, as scripts take it.
    fn notice_lead_ms(&self) -> i64 {
        self.config.expiry_notice.as_millis() as i64
    }

    /// When the sweepers must look at a product whose first due holds (or
    /// first holds still to get their notice) a call just made, with
    /// `deadline_ms`, at `now_ms`: at their notice when they get one.
    pub(super) fn first_look(&self, deadline_ms: i64, now_ms: i64) -> i64 {
        let lead = self.notice_lead_ms();
        if lead > 0 && deadline_ms - now_ms > lead {
            deadline_ms - lead
        } else {
            deadline_ms
        }
    }

    /// Lists `sku` in its partition's sweep index at `deadline_ms`, unless it
    /// is listed at an earlier one.
    pub(super) async fn index_product(&self, sku: &Sku, deadline_ms: i64) -> Result<()> {
        self.redis
            .query::<i64>(
                redis::cmd("ZADD")
                    .arg(self.index_of(sku))
                    .arg("LT")
                    .arg(deadline_ms)
                    .arg(sku.as_str()),
            )
            .await
            .map(drop)
    }

    /// Up to `limit` products of `partition` due by `now_ms`, earliest first,
    /// each with the deadline it is listed at.
    pub async fn due_products(
        &self,
        partition: &PartitionKeys,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<(Sku, i64)>> {
        let listed: Vec<(String, f64)> = self
            .redis
            .query(
                redis::cmd("ZRANGE")
                    .arg(&partition.sweep_index)
                    .arg("-inf")
                    .arg(now_ms)
                    .arg("BYSCORE")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit)
                    .arg("WITHSCORES"),
            )
            .await?;
        // A member that is not a valid SKU was not written by the engine.
        Ok(listed
            .into_iter()
            .filter_map(|(sku, deadline)| Some((Sku::new(sku).ok()?, deadline as i64)))
            .collect())
    }

    /// Lists swept products of `partition` where they now stand: each at its
    /// next deadline, or out of the index when it has none. Then reads each
    /// again, and lists it earlier where a reserve gave it an earlier
    /// deadline meanwhile.
    pub async fn relist_swept(
        &self,
        partition: &PartitionKeys,
        swept: &[(Sku, Option<i64>)],
    ) -> Result<()> {
        let mut listed = redis::cmd("ZADD");
        listed.arg(&partition.sweep_index);
        let mut removed = redis::cmd("ZREM");
        removed.arg(&partition.sweep_index);
        let (mut lists, mut removes) = (false, false);
        for (sku, next) in swept {
            match next {
                Some(deadline) => {
                    listed.arg(deadline).arg(sku.as_str());
                    lists = true;
                }
                None => {
                    removed.arg(sku.as_str());
                    removes = true;
                }
            }
        }
        if lists {
            self.redis.query::<i64>(&listed).await?;
        }
        if removes {
            self.redis.query::<i64>(&removed).await?;
        }
        let now = try_join_all(swept.iter().map(|(sku, _)| self.earliest_deadline(sku))).await?;
        for ((sku, written), now) in swept.iter().zip(now) {
            if let Some(deadline) = now
                && written.is_none_or(|written| deadline < written)
            {
                self.index_product(sku, deadline).await?;
            }
        }
        Ok(())
    }

    /// Puts back every product of the catalog that has live holds but is
    /// missing from the sweep index (its reserve's process died before
    /// listing it). Returns how many were missing. It walks the catalog, so
    /// it runs rarely, from one sweeper.
    pub async fn reindex_catalog(&self) -> Result<usize> {
        const PAGE: usize = 500;
        let mut missing = 0;
        let mut after = None;
        loop {
            let page = self.list_skus(after.as_ref(), PAGE).await?;
            let listed = try_join_all(page.iter().map(|sku| async move {
                let score: Option<f64> = self
                    .redis
                    .query(
                        redis::cmd("ZSCORE")
                            .arg(self.index_of(sku))
                            .arg(sku.as_str()),
                    )
                    .await?;
                Ok::<_, Error>(score.is_some())
            }))
            .await?;
            for (sku, listed) in page.iter().zip(listed) {
                if listed {
                    continue;
                }
                if let Some(deadline) = self.earliest_deadline(sku).await? {
                    self.index_product(sku, deadline).await?;
                    missing += 1;
                }
            }
            if page.len() < PAGE {
                return Ok(missing);
            }
            after = page.last().cloned();
        }
    }

    /// Every product listed in the sweep index, over every partition.
    pub async fn indexed_products(&self) -> Result<Vec<Sku>> {
        let partitions = self.config.partitions.all().map(|partition| async move {
            self.redis
                .query::<Vec<String>>(
                    redis::cmd("ZRANGE")
                        .arg(&partition.sweep_index)
                        .arg(0)
                        .arg(-1),
                )
                .await
        });
        let members = try_join_all(partitions).await?;
        Ok(members
            .into_iter()
            .flatten()
            .filter_map(|m| Sku::new(m).ok())
            .collect())
    }

    /// The earliest deadline of `sku`'s live holds, if it has any.
    pub async fn earliest_deadline(&self, sku: &Sku) -> Result<Option<i64>> {
        let keys = ProductKeys::new(sku);
        let mut call = SCRIPTS.earliest_deadline.prepare_invoke();
        call.key(&keys.due)
            .key(&keys.purchase_due)
            .key(&keys.product)
            .arg(self.notice_lead_ms());
        let deadline: i64 = redis::from_redis_value(self.redis.invoke(&call).await?)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok((deadline >= 0).then_some(deadline))
    }

    /// The sweep index that lists `sku`.
    fn index_of(&self, sku: &Sku) -> String {
        self.config.partitions.of_product(sku).sweep_index
    }
}

fn product_sweep(sku: &Sku, reply: Reply) -> Result<ProductSweep> {
    let reply = reply.named()?;
    let ids = |name| {
        reply
            .texts(name)?
            .into_iter()
            .map(|token| ReservationId::from_parts(sku, token))
            .collect::<Result<Vec<_>>>()
    };
    Ok(ProductSweep {
        expired_units: reply.int("expired_units")?,
        expired: ids("expired")?,
        requeued: ids("requeued")?,
        notices: expiry_notices(sku, &reply)?,
        next_deadline_ms: Some(reply.int("next_look")?).filter(|&ms| ms >= 0),
    })
}

/// The noticed holds of a sweep's reply, from its parallel lists.
fn expiry_notices(sku: &Sku, reply: &super::reply::Named) -> Result<Vec<ExpiryNotice>> {
    let tokens = reply.texts("noticed")?;
    let customers = reply.texts("noticed_customers")?;
    let quantities = reply.texts("noticed_quantities")?;
    let deadlines = reply.texts("noticed_deadlines")?;
    if [customers.len(), quantities.len(), deadlines.len()] != [tokens.len(); 3] {
        return Err(Error::Internal(format!(
            "OK reply: the noticed lists differ in length ({}, {}, {}, {})",
            tokens.len(),
            customers.len(),
            quantities.len(),
            deadlines.len()
        )));
    }
    let number = |name: &str, text: &str| {
        text.parse::<i64>()
            .map_err(|e| Error::Internal(format!("OK reply: {name} {text:?}: {e}")))
    };
    tokens
        .into_iter()
        .zip(customers)
        .zip(quantities.into_iter().zip(deadlines))
        .map(|((token, customer), (quantity, deadline))| {
            Ok(ExpiryNotice {
                reservation_id: ReservationId::from_parts(sku, token)?,
                customer: CustomerId::new(customer)
                    .map_err(|e| Error::Internal(format!("OK reply: noticed customer: {e}")))?,
                quantity: number("noticed_quantities", quantity)?,
                expires_at_ms: number("noticed_deadlines", deadline)?,
            })
        })
        .collect()
}
