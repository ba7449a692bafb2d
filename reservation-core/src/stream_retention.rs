//! How long the purchase, orders, push and dead-letter streams keep their
//! entries.
//!
//! A stream is trimmed to the entries of its retention (`XTRIM MINID ~`), but
//! never past an entry some consumer group still needs: one delivered and
//! not yet acknowledged (pending), or one not yet delivered to it. So a
//! worker that is down, or a downstream reader that lags, keeps its entries
//! however old they get, and a group's lag only ever costs memory. Readers
//! without a group (`XRANGE`) get the retention only. The `~` lets Redis
//! drop whole nodes of the stream, never more than asked.
//!
//! A group keeps every consumer that ever read from it, and each worker
//! process reads under a name of its own: consumers long gone with nothing
//! pending are removed, so the group's list stays the workers that run.
//! One with pending entries is kept whatever its age, until another worker
//! claims them.

use std::time::Duration;

use redis::streams::{StreamInfoGroupsReply, StreamPendingReply};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::keys::{DEAD_PUSHES, PUSH_JOBS};
use crate::scripts::SCRIPTS;

/// A stream entry id: (milliseconds, sequence).
type EntryId = (u64, u64);

fn parse_id(id: &str) -> Option<EntryId> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

impl Engine {
    /// Trims `stream` to the entries of the last `retention`, keeping every
    /// entry a consumer group has pending or has not read. Returns how many
    /// entries went; a stream that does not exist has none to lose.
    pub async fn trim_stream(&self, stream: &str, retention: Duration) -> Result<u64> {
        let cutoff_ms = (self.now_ms() - retention.as_millis() as i64).max(0) as u64;
        let mut keep_from: EntryId = (cutoff_ms, 0);
        let groups: StreamInfoGroupsReply = match self
            .redis()
            .query(redis::cmd("XINFO").arg("GROUPS").arg(stream))
            .await
        {
            Ok(groups) => groups,
            Err(Error::Internal(message)) if message.contains("no such key") => return Ok(0),
            Err(other) => return Err(other),
        };
        for group in &groups.groups {
            let last = parse_id(&group.last_delivered_id).ok_or_else(|| {
                Error::Internal(format!(
                    "group {} of {stream} was last delivered {:?}",
                    group.name, group.last_delivered_id
                ))
            })?;
            // The first entry the group has not read yet.
            keep_from = keep_from.min((last.0, last.1.saturating_add(1)));
            if group.pending > 0 {
                let pending: StreamPendingReply = self
                    .redis()
                    .query(redis::cmd("XPENDING").arg(stream).arg(&group.name))
                    .await?;
                if let StreamPendingReply::Data(pending) = pending
                    && let Some(first) = parse_id(&pending.start_id)
                {
                    keep_from = keep_from.min(first);
                }
            }
        }
        self.redis()
            .query(
                redis::cmd("XTRIM")
                    .arg(stream)
                    .arg("MINID")
                    .arg("~")
                    .arg(format!("{}-{}", keep_from.0, keep_from.1)),
            )
            .await
    }

    /// Removes from `stream`'s consumer `group` the consumers idle (as Redis
    /// counts it: since they last read or claimed) longer than `idle` with
    /// no entry pending, checked and removed in one script call. Returns
    /// their names; a stream or group that does not exist has none.
    pub async fn forget_idle_consumers(
        &self,
        stream: &str,
        group: &str,
        idle: Duration,
    ) -> Result<Vec<String>> {
        let mut call = SCRIPTS.forget_idle_consumers.prepare_invoke();
        call.key(stream).arg(group).arg(idle.as_millis() as u64);
        let removed = self.redis().invoke(&call).await?;
        redis::from_redis_value(removed)
            .map_err(|e| Error::Internal(format!("forget_idle_consumers answered {e}")))
    }
}

impl Engine {
    /// Trims the push streams like the others: the jobs to `jobs_retention`
    /// and the pushes given up on to `dead_retention`, never past a job the
    /// senders' group has pending or has not read. Returns how many entries
    /// went.
    pub async fn trim_push_streams(
        &self,
        jobs_retention: Duration,
        dead_retention: Duration,
    ) -> Result<u64> {
        Ok(self.trim_stream(PUSH_JOBS, jobs_retention).await?
            + self.trim_stream(DEAD_PUSHES, dead_retention).await?)
    }
}
