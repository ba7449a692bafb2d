//! The purchase streams: confirmed holds waiting to be bought, one stream per
//! partition (see [`Partitions`](crate::keys::Partitions)), each read by
//! purchase workers through its own consumer group (at least once: a job is
//! acknowledged only after its hold is finished); the orders streams that
//! downstream systems read, one per partition too; and the dead-letter
//! stream of purchases that failed for good.
//!
//! A queue serves one partition, reading it through a [`StreamGroup`] on a
//! connection of its own.

use std::time::Duration;

use redis::streams::StreamId;

use crate::error::{Error, Result};
use crate::keys::{DEAD_PURCHASES, PURCHASE_GROUP, PartitionKeys};
use crate::redis_config::RedisConfig;
use crate::stream_group::{GroupStart, StreamGroup};
use crate::types::{Hold, ReservationId};

/// One purchase job as read from the stream.
#[derive(Clone, Debug)]
pub struct PurchaseJob {
    /// The stream entry, to acknowledge.
    pub entry_id: String,
    /// The hold to buy, or why the entry does not name one.
    pub reservation: std::result::Result<ReservationId, String>,
}

impl PurchaseJob {
    pub fn from_entry(entry: &StreamId) -> Self {
        let reservation = match entry.get::<String>("reservation_id") {
            Some(raw) => raw.parse().map_err(|e: Error| format!("{raw:?}: {e}")),
            None => Err("the entry has no reservation_id".to_owned()),
        };
        Self {
            entry_id: entry.id.clone(),
            reservation,
        }
    }
}

/// The purchase jobs and orders of one partition.
pub struct PurchaseQueue {
    jobs: StreamGroup,
    partition: PartitionKeys,
}

impl PurchaseQueue {
    /// Connects and makes sure the partition's consumer group exists. `block`
    /// is the longest a read waits for new jobs.
    pub async fn connect(
        config: &RedisConfig,
        partition: PartitionKeys,
        block: Duration,
    ) -> Result<Self> {
        // From the start of the stream, so jobs enqueued before the first
        // worker ever ran are bought too.
        let jobs = StreamGroup::connect(
            config,
            &partition.purchases,
            PURCHASE_GROUP,
            GroupStart::Beginning,
            block,
        )
        .await?;
        Ok(Self { jobs, partition })
    }

    /// The partition this queue serves.
    pub fn partition(&self) -> &PartitionKeys {
        &self.partition
    }

    /// The next jobs for `consumer`: those abandoned by consumers idle
    /// longer than `claim_idle` first, else new ones, waiting up to `block`
    /// for the first. Returns them with how many were taken over.
    pub async fn next(
        &self,
        consumer: &str,
        claim_idle: Duration,
        count: usize,
        block: Duration,
    ) -> Result<(Vec<PurchaseJob>, usize)> {
        let taken = self.jobs.next(consumer, claim_idle, count, block).await?;
        let jobs: Vec<PurchaseJob> = taken.entries.iter().map(PurchaseJob::from_entry).collect();
        let claimed = if taken.claimed { jobs.len() } else { 0 };
        Ok((jobs, claimed))
    }

    /// Keeps a job `consumer` is still working on from being claimed by
    /// another worker; false when another worker has it now.
    pub async fn keep(&self, consumer: &str, job: &PurchaseJob) -> Result<bool> {
        self.jobs.keep(consumer, &job.entry_id).await
    }

    /// Marks a job done.
    pub async fn ack(&self, job: &PurchaseJob) -> Result<()> {
        self.jobs.ack(&job.entry_id).await
    }

    /// Appends a purchased hold to the partition's orders stream. At least once: a worker
    /// that dies after this and before its ack appends it again, so
    /// downstream readers dedupe by `reservation_id`.
    pub async fn append_order(&self, hold: &Hold) -> Result<()> {
        let purchased_at_ms = hold.purchased_at_ms.unwrap_or(hold.updated_at_ms);
        self.jobs
            .append(
                &self.partition.orders,
                &[
                    ("reservation_id", hold.id.to_string()),
                    ("sku", hold.id.sku().as_str().to_owned()),
                    ("customer_id", hold.customer_id.as_str().to_owned()),
                    ("quantity", hold.quantity.to_string()),
                    ("purchased_at_ms", purchased_at_ms.to_string()),
                ],
            )
            .await
    }

    /// Records a job that failed for good.
    pub async fn dead_letter(&self, job: &PurchaseJob, reason: &str) -> Result<()> {
        let reservation = match &job.reservation {
            Ok(id) => id.to_string(),
            Err(raw) => raw.clone(),
        };
        self.jobs
            .append(
                DEAD_PURCHASES,
                &[
                    ("entry_id", job.entry_id.clone()),
                    ("reservation_id", reservation),
                    ("reason", reason.to_owned()),
                ],
            )
            .await
    }
}

/// One finished order, as downstream systems read it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Order {
    pub reservation_id: String,
    pub sku: String,
    pub customer_id: String,
    pub quantity: u32,
    pub purchased_at_ms: i64,
}

impl crate::engine::Engine {
    /// The newest `limit` orders over every partition, newest first.
    pub async fn recent_orders(&self, limit: usize) -> Result<Vec<Order>> {
        let limit = limit.clamp(1, 1000);
        let mut entries = self
            .order_entries(|stream| {
                redis::cmd("XREVRANGE")
                    .arg(stream)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(limit)
                    .clone()
            })
            .await?;
        // Entry ids are "ms-sequence": across streams, the time orders them.
        entries.sort_by_cached_key(|entry| std::cmp::Reverse(entry_time(&entry.id)));
        entries.truncate(limit);
        Ok(entries.iter().map(Order::from_entry).collect())
    }

    /// Every order in every partition, oldest first: for reconciling the
    /// orders against the holds after the fact. It reads whole streams, so it
    /// does not belong on a request path. Orders are appended at least once;
    /// a reservation may appear twice.
    pub async fn every_order(&self) -> Result<Vec<Order>> {
        let mut entries = self
            .order_entries(|stream| redis::cmd("XRANGE").arg(stream).arg("-").arg("+").clone())
            .await?;
        entries.sort_by_cached_key(|entry| entry_time(&entry.id));
        Ok(entries.iter().map(Order::from_entry).collect())
    }

    /// The entries `read` returns from each partition's orders stream, read
    /// from all partitions at once.
    async fn order_entries(&self, read: impl Fn(&str) -> redis::Cmd) -> Result<Vec<StreamId>> {
        let partitions = self.config().partitions.all().map(|partition| {
            let command = read(&partition.orders);
            async move {
                self.redis()
                    .query::<redis::streams::StreamRangeReply>(&command)
                    .await
            }
        });
        Ok(futures_util::future::try_join_all(partitions)
            .await?
            .into_iter()
            .flat_map(|reply| reply.ids)
            .collect())
    }
}

impl Order {
    /// The order an orders stream's entry records.
    pub fn from_entry(entry: &StreamId) -> Self {
        Self {
            reservation_id: entry.get("reservation_id").unwrap_or_default(),
            sku: entry.get("sku").unwrap_or_default(),
            customer_id: entry.get("customer_id").unwrap_or_default(),
            quantity: entry.get("quantity").unwrap_or_default(),
            purchased_at_ms: entry.get("purchased_at_ms").unwrap_or_default(),
        }
    }
}

/// A stream entry id's (milliseconds, sequence).
fn entry_time(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}
