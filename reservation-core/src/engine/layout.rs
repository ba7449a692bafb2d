//! What every process of a deployment must agree on, checked when the engine
//! connects: the partition count, the layout of the keys, and the retention
//! of ended holds (which names the hashes they are kept in). The first
//! process records each; a process that disagrees refuses to start, with a
//! message that says what to do.

use super::Engine;
use crate::error::{Error, Result};
use crate::keys::{CATALOG, LAYOUT, PARTITION_COUNT};

/// The layout of the keys this version reads and writes. Layout 1 kept every
/// hold forever in one hash per product, as JSON, with a request record per
/// reserve; `purchase-worker upgrade` converts it.
pub const LAYOUT_VERSION: u32 = 2;

/// What `fs:layout` says while an upgrade runs (and after one was stopped).
pub(super) const UPGRADING: &str = "upgrading";

/// How a process is told to upgrade.
pub(super) const UPGRADE_COMMAND: &str = "purchase-worker upgrade --redis-url <the same URL>";

impl Engine {
    /// Records the partition count, or checks it against the one recorded:
    /// a process with another count would enqueue purchases on streams no
    /// worker reads, or read none of some.
    pub(super) async fn check_partitions(&self) -> Result<()> {
        let count = self.config.partitions.count();
        let recorded: Option<u16> = self
            .redis
            .query(
                redis::cmd("SET")
                    .arg(PARTITION_COUNT)
                    .arg(count)
                    .arg("NX")
                    .arg("GET"),
            )
            .await?;
        match recorded {
            Some(recorded) if recorded != count => Err(Error::InvalidArgument {
                field: "partitions",
                reason: format!(
                    "this deployment's Redis has {recorded} partitions, not {count}; \
                     start every process with the same count"
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Records this layout and retention on a Redis that has neither, or
    /// checks them. A Redis of layout 1 (products, but no layout recorded)
    /// is refused until it is upgraded.
    pub(super) async fn check_layout(&self) -> Result<()> {
        let retention_ms = self.config.retention.as_millis();
        let (mut version, mut recorded_ms) = self.recorded_layout().await?;
        if version.is_none() {
            let has_products: bool = self.redis.query(redis::cmd("EXISTS").arg(CATALOG)).await?;
            if has_products {
                return Err(layout_error(format!(
                    "this Redis holds products in layout 1, which this version cannot \
                     read; stop every process and run `{UPGRADE_COMMAND}` once"
                )));
            }
            // Two processes starting at once: the first write wins, the
            // other checks against it.
            self.redis
                .query::<()>(
                    redis::cmd("HSETNX")
                        .arg(LAYOUT)
                        .arg("retention_ms")
                        .arg(retention_ms),
                )
                .await?;
            self.redis
                .query::<()>(
                    redis::cmd("HSETNX")
                        .arg(LAYOUT)
                        .arg("version")
                        .arg(LAYOUT_VERSION),
                )
                .await?;
            (version, recorded_ms) = self.recorded_layout().await?;
        }
        match version.as_deref() {
            Some(UPGRADING) => {
                return Err(layout_error(format!(
                    "an upgrade of this Redis from layout 1 is running or was stopped \
                     half-way; run `{UPGRADE_COMMAND}` (again) until it finishes"
                )));
            }
            Some(v) if v == LAYOUT_VERSION.to_string() => {}
            other => {
                return Err(layout_error(format!(
                    "this Redis is in layout {}, and this version reads layout \
                     {LAYOUT_VERSION}: run the version that wrote it",
                    other.unwrap_or("?")
                )));
            }
        }
        match recorded_ms {
            Some(ms) if ms != retention_ms => Err(Error::InvalidArgument {
                field: "retention",
                reason: format!(
                    "this deployment keeps ended holds {} s, not {} s; start every \
                     process with the same retention",
                    ms / 1000,
                    retention_ms / 1000
                ),
            }),
            _ => Ok(()),
        }
    }

    /// The layout version and retention recorded, if any.
    pub(super) async fn recorded_layout(&self) -> Result<(Option<String>, Option<i64>)> {
        self.redis
            .query(
                redis::cmd("HMGET")
                    .arg(LAYOUT)
                    .arg("version")
                    .arg("retention_ms"),
            )
            .await
    }
}

fn layout_error(reason: String) -> Error {
    Error::InvalidArgument {
        field: "layout",
        reason,
    }
}
