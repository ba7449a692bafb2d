//! Reading a Redis stream through a consumer group, at least once: entries
//! are read (`XREADGROUP`), taken over from consumers that went idle holding
//! them (`XAUTOCLAIM`), kept while their work goes on (so that slow work is
//! not taken for abandoned), and acknowledged (`XACK`) only once it is
//! done. The purchase queues and the webhook deliveries read their streams
//! through it.
//!
//! A reader uses a connection of its own, because a blocking read would hold
//! up every other command pipelined on a shared one.

use std::sync::Mutex;
use std::time::Duration;

use redis::streams::{StreamAutoClaimReply, StreamId, StreamReadReply};

use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::redis_config::RedisConfig;
use crate::scripts::SCRIPTS;

/// Where a group that does not exist yet starts reading.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupStart {
    /// From the first entry the stream holds.
    Beginning,
    /// From the entries added after the group is made.
    NewEntries,
}

/// Entries taken by [`StreamGroup::next`].
pub struct Taken {
    pub entries: Vec<StreamId>,
    /// Taken over from idle consumers, rather than new.
    pub claimed: bool,
}

/// One stream, read through one consumer group.
pub struct StreamGroup {
    redis: Connection,
    stream: String,
    group: String,
    /// Where the next `XAUTOCLAIM` goes on in the group's pending entries:
    /// each call looks at a bounded number of them, so entries kept at the
    /// front would otherwise hide idle ones further back.
    claim_cursor: Mutex<String>,
}

/// An `XAUTOCLAIM` cursor at the start of the pending entries.
const FIRST_PENDING: &str = "0-0";

impl StreamGroup {
    /// Connects, and makes the group (and the stream) unless they exist.
    /// `block` is the longest a read waits for new entries.
    pub async fn connect(
        config: &RedisConfig,
        stream: &str,
        group: &str,
        start: GroupStart,
        block: Duration,
    ) -> Result<Self> {
        let mut config = config.clone();
        config.response_timeout += block;
        let reader = Self {
            redis: Connection::open(&config).await?,
            stream: stream.to_owned(),
            group: group.to_owned(),
            claim_cursor: Mutex::new(FIRST_PENDING.to_owned()),
        };
        let created = reader
            .redis
            .query::<()>(
                redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(stream)
                    .arg(group)
                    .arg(match start {
                        GroupStart::Beginning => "0",
                        GroupStart::NewEntries => "$",
                    })
                    .arg("MKSTREAM"),
            )
            .await;
        match created {
            Err(Error::Internal(message)) if message.contains("BUSYGROUP") => Ok(reader),
            other => other.map(|()| reader),
        }
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// New entries for `consumer`, waiting up to `block` for the first.
    pub async fn read(
        &self,
        consumer: &str,
        count: usize,
        block: Duration,
    ) -> Result<Vec<StreamId>> {
        let reply: Option<StreamReadReply> = self
            .redis
            .query(
                redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg(&self.group)
                    .arg(consumer)
                    .arg("COUNT")
                    .arg(count)
                    .arg("BLOCK")
                    .arg(block.as_millis() as u64)
                    .arg("STREAMS")
                    .arg(&self.stream)
                    .arg(">"),
            )
            .await?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .collect())
    }

    /// Takes over entries another consumer (dead, or stuck) has held
    /// unacknowledged for at least `min_idle`. Each call looks at a bounded
    /// stretch of the pending entries (`XAUTOCLAIM` scans about ten times
    /// `count`) and goes on where the last one stopped, from the first
    /// again once the end is reached: an idle entry is found within a few
    /// calls however many entries in front of it are still worked on.
    pub async fn claim_idle(
        &self,
        consumer: &str,
        min_idle: Duration,
        count: usize,
    ) -> Result<Vec<StreamId>> {
        let cursor = self.claim_cursor().clone();
        let reply: StreamAutoClaimReply = self
            .redis
            .query(
                redis::cmd("XAUTOCLAIM")
                    .arg(&self.stream)
                    .arg(&self.group)
                    .arg(consumer)
                    .arg(min_idle.as_millis() as u64)
                    .arg(&cursor)
                    .arg("COUNT")
                    .arg(count),
            )
            .await?;
        // "0-0" when the scan reached the end: the next starts again.
        *self.claim_cursor() = reply.next_stream_id;
        Ok(reply.claimed)
    }

    fn claim_cursor(&self) -> std::sync::MutexGuard<'_, String> {
        // A String cannot be left half-written: a poisoned lock is usable.
        self.claim_cursor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next entries for `consumer`: those abandoned by consumers idle
    /// longer than `claim_idle` first, else new ones, waiting up to `block`
    /// for the first.
    pub async fn next(
        &self,
        consumer: &str,
        claim_idle: Duration,
        count: usize,
        block: Duration,
    ) -> Result<Taken> {
        let claimed = self.claim_idle(consumer, claim_idle, count).await?;
        if !claimed.is_empty() {
            return Ok(Taken {
                entries: claimed,
                claimed: true,
            });
        }
        Ok(Taken {
            entries: self.read(consumer, count, block).await?,
            claimed: false,
        })
    }

    /// Keeps an entry `consumer` is still working on from being claimed as
    /// abandoned (its idle time starts again). Returns false when it is no
    /// longer the consumer's: another took it over, or it was acknowledged;
    /// the consumer should then leave it.
    pub async fn keep(&self, consumer: &str, entry_id: &str) -> Result<bool> {
        let mut call = SCRIPTS.keep_pending.prepare_invoke();
        call.key(&self.stream)
            .arg(&self.group)
            .arg(consumer)
            .arg(entry_id);
        let kept: i64 = redis::from_redis_value(self.redis.invoke(&call).await?)
            .map_err(|e| Error::Internal(format!("keep_pending answered {e}")))?;
        Ok(kept == 1)
    }

    /// Marks an entry done.
    pub async fn ack(&self, entry_id: &str) -> Result<()> {
        self.redis
            .query::<i64>(
                redis::cmd("XACK")
                    .arg(&self.stream)
                    .arg(&self.group)
                    .arg(entry_id),
            )
            .await
            .map(drop)
    }

    /// Appends `fields` to `stream` (say, a dead-letter stream) on this
    /// reader's connection.
    pub async fn append(&self, stream: &str, fields: &[(&str, String)]) -> Result<()> {
        self.redis
            .query::<String>(&xadd(stream, fields))
            .await
            .map(drop)
    }
}

impl crate::engine::Engine {
    /// Appends `fields` to `stream` (a dead-letter stream, say) on the
    /// engine's shared connection.
    pub async fn append_to_stream(&self, stream: &str, fields: &[(&str, String)]) -> Result<()> {
        self.redis()
            .query::<String>(&xadd(stream, fields))
            .await
            .map(drop)
    }
}

/// `XADD stream * name value …`.
fn xadd(stream: &str, fields: &[(&str, String)]) -> redis::Cmd {
    let mut command = redis::cmd("XADD");
    command.arg(stream).arg("*");
    for (name, value) in fields {
        command.arg(*name).arg(value);
    }
    command
}
