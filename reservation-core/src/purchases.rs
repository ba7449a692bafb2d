//! The purchase streams: confirmed holds waiting to be bought, one stream per
//! partition (see [`Partitions`](crate::keys::Partitions)), each read by
//! purchase workers through its own consumer group (at least once: a job is
//! acknowledged only after its hold is finished); the orders streams that
//! downstream systems read, one per partition too; and the dead-letter
//! stream of purchases that failed for good.
//!
//! A queue serves one partition on a connection of its own, because a
//! blocking read would hold up every other command pipelined on a shared one.

use std::time::Duration;

use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::keys::{DEAD_PURCHASES, PURCHASE_GROUP, PartitionKeys};
use crate::redis_config::RedisConfig;
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
    fn from_entry(entry: &StreamId) -> Self {
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
    redis: Connection,
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
        let mut config = config.clone();
        config.response_timeout += block;
        let queue = Self {
            redis: Connection::open(&config).await?,
            partition,
        };
        // From the start of the stream, so jobs enqueued before the first
        // worker ever ran are bought too.
        let created = queue
            .redis
            .query::<()>(
                redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(&queue.partition.purchases)
                    .arg(PURCHASE_GROUP)
                    .arg("0")
                    .arg("MKSTREAM"),
            )
            .await;
        match created {
            Err(Error::Internal(message)) if message.contains("BUSYGROUP") => Ok(queue),
            other => other.map(|()| queue),
        }
    }

    /// The partition this queue serves.
    pub fn partition(&self) -> &PartitionKeys {
        &self.partition
    }

    /// New jobs for `consumer`, waiting up to `block` for the first.
    pub async fn read(
        &self,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<PurchaseJob>> {
        let reply: Option<StreamReadReply> = self
            .redis
            .query(
                redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg(PURCHASE_GROUP)
                    .arg(consumer)
                    .arg("COUNT")
                    .arg(count)
                    .arg("BLOCK")
                    .arg(block.as_millis() as u64)
                    .arg("STREAMS")
                    .arg(&self.partition.purchases)
                    .arg(">"),
            )
            .await?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|entry| PurchaseJob::from_entry(&entry))
            .collect())
    }

    /// Takes over jobs another consumer (dead, or stuck) has held unacknowledged
    /// for at least `min_idle`.
    pub async fn claim_idle(
        &self,
        consumer: &str,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<PurchaseJob>> {
        let reply: StreamAutoClaimReply = self
            .redis
            .query(
                redis::cmd("XAUTOCLAIM")
                    .arg(&self.partition.purchases)
                    .arg(PURCHASE_GROUP)
                    .arg(consumer)
                    .arg(min_idle.as_millis() as u64)
                    .arg("0-0")
                    .arg("COUNT")
                    .arg(count),
            )
            .await?;
        Ok(reply.claimed.iter().map(PurchaseJob::from_entry).collect())
    }

    /// Marks a job done.
    pub async fn ack(&self, job: &PurchaseJob) -> Result<()> {
        self.redis
            .query::<i64>(
                redis::cmd("XACK")
                    .arg(&self.partition.purchases)
                    .arg(PURCHASE_GROUP)
                    .arg(&job.entry_id),
            )
            .await
            .map(drop)
    }

    /// Appends a purchased hold to the partition's orders stream. At least once: a worker
    /// that dies after this and before its ack appends it again, so
    /// downstream readers dedupe by `reservation_id`.
    pub async fn append_order(&self, hold: &Hold) -> Result<()> {
        self.redis
            .query::<String>(
                redis::cmd("XADD")
                    .arg(&self.partition.orders)
                    .arg("*")
                    .arg("reservation_id")
                    .arg(hold.id.to_string())
                    .arg("sku")
                    .arg(hold.id.sku().as_str())
                    .arg("customer_id")
                    .arg(hold.customer_id.as_str())
                    .arg("quantity")
                    .arg(hold.quantity)
                    .arg("purchased_at_ms")
                    .arg(hold.purchased_at_ms.unwrap_or(hold.updated_at_ms)),
            )
            .await
            .map(drop)
    }

    /// Records a job that failed for good.
    pub async fn dead_letter(&self, job: &PurchaseJob, reason: &str) -> Result<()> {
        let reservation = match &job.reservation {
            Ok(id) => id.to_string(),
            Err(raw) => raw.clone(),
        };
        self.redis
            .query::<String>(
                redis::cmd("XADD")
                    .arg(DEAD_PURCHASES)
                    .arg("*")
                    .arg("entry_id")
                    .arg(&job.entry_id)
                    .arg("reservation_id")
                    .arg(reservation)
                    .arg("reason")
                    .arg(reason),
            )
            .await
            .map(drop)
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
        Ok(entries.iter().map(order_of).collect())
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
        Ok(entries.iter().map(order_of).collect())
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

fn order_of(entry: &StreamId) -> Order {
    Order {
        reservation_id: entry.get("reservation_id").unwrap_or_default(),
        sku: entry.get("sku").unwrap_or_default(),
        customer_id: entry.get("customer_id").unwrap_or_default(),
        quantity: entry.get("quantity").unwrap_or_default(),
        purchased_at_ms: entry.get("purchased_at_ms").unwrap_or_default(),
    }
}

/// A stream entry id's (milliseconds, sequence).
fn entry_time(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}
