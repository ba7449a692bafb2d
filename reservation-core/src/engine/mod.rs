//! The engine: the typed API over the Lua scripts. Each public method is one
//! script call (plus, for a new product, its catalog entry), so each state
//! change is atomic and a process dying between two calls leaks nothing.

mod audit;
mod baseline;
mod cart;
mod holds;
mod index;
mod products;
mod reply;
mod sold_out;

use std::sync::Arc;
use std::time::Duration;

use redis::{Script, ScriptInvocation};

use crate::clock::{Clock, SystemClock};
use crate::connection::{Connection, RedisConfig};
use crate::error::{Error, Result};
use crate::keys::{CUSTOMER_CHANNEL_PREFIX, PARTITION_COUNT, Partitions, ProductKeys};

pub use audit::AuditReport;
pub use baseline::RawReserveCommand;
pub use products::ProductPage;
use reply::Reply;
pub use sold_out::{SoldOut, StockView};

/// Limits and timings of the engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Most units one reserve may ask for.
    pub max_quantity_per_reserve: u32,
    /// How long a reserve's `request_id` is remembered. At least 24 h.
    pub request_record_ttl: Duration,
    /// How long a purchase worker has to finish a confirmed hold before the
    /// hold counts as stranded and its purchase is enqueued again.
    pub purchase_timeout: Duration,
    /// Most due holds one reserve or restock reclaims before it goes on.
    pub reclaim_batch: u32,
    /// How purchase streams and the sweep index are split; the same for
    /// every process of a deployment (checked when the engine connects).
    pub partitions: Partitions,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_quantity_per_reserve: 10,
            request_record_ttl: Duration::from_secs(24 * 3600),
            purchase_timeout: Duration::from_secs(300),
            reclaim_batch: 64,
            partitions: Partitions::default(),
        }
    }
}

impl EngineConfig {
    fn validate(&self) -> Result<()> {
        let invalid = |field, reason: &str| Error::InvalidArgument {
            field,
            reason: reason.to_owned(),
        };
        if self.max_quantity_per_reserve == 0 {
            return Err(invalid("max_quantity_per_reserve", "must be at least 1"));
        }
        if self.request_record_ttl < Duration::from_secs(24 * 3600) {
            return Err(invalid("request_record_ttl", "must be at least 24 hours"));
        }
        if self.purchase_timeout.is_zero() {
            return Err(invalid("purchase_timeout", "must not be zero"));
        }
        if self.reclaim_batch == 0 {
            return Err(invalid("reclaim_batch", "must be at least 1"));
        }
        Ok(())
    }
}

/// The reservation engine. Cheap to clone; clones share one connection.
#[derive(Clone)]
pub struct Engine {
    redis: Connection,
    config: Arc<EngineConfig>,
    clock: Arc<dyn Clock>,
}

impl Engine {
    /// Connects to Redis with the system clock.
    pub async fn connect(redis: &RedisConfig, config: EngineConfig) -> Result<Self> {
        Self::connect_with_clock(redis, config, Arc::new(SystemClock)).await
    }

    /// Connects like [`Engine::connect`], but waits up to `patience` while
    /// Redis cannot answer (not up yet, or loading its data after a restart),
    /// so a process started beside it does not die of a race. Any other
    /// error, a wrong partition count say, is returned at once.
    pub async fn connect_patiently(
        redis: &RedisConfig,
        config: EngineConfig,
        patience: Duration,
    ) -> Result<Self> {
        let give_up = std::time::Instant::now() + patience;
        loop {
            match Self::connect(redis, config.clone()).await {
                Err(Error::Unavailable(e)) if std::time::Instant::now() < give_up => {
                    tracing::warn!(error = %e, "Redis cannot answer yet; connecting again");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                connected => return connected,
            }
        }
    }

    /// Connects to Redis, deciding deadlines with `clock`.
    pub async fn connect_with_clock(
        redis: &RedisConfig,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        config.validate()?;
        let engine = Self {
            redis: Connection::open(redis).await?,
            config: Arc::new(config),
            clock,
        };
        engine.check_partitions().await?;
        Ok(engine)
    }

    /// Records the partition count, or checks it against the one recorded:
    /// a process with another count would enqueue purchases on streams no
    /// worker reads, or read none of some.
    async fn check_partitions(&self) -> Result<()> {
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

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(crate) fn redis(&self) -> &Connection {
        &self.redis
    }

    /// Whether Redis answers right now.
    pub async fn ping(&self) -> Result<()> {
        self.redis.query(&redis::cmd("PING")).await
    }

    /// Starts a call of a state-changing script: the five product keys and
    /// the four shared arguments every such script expects (see `lib.lua`).
    fn product_call<'a>(&self, script: &'a Script, keys: &ProductKeys) -> ScriptInvocation<'a> {
        let mut call = script.prepare_invoke();
        for key in keys.script_keys() {
            call.key(key);
        }
        call.arg(keys.sku.as_str())
            .arg(self.clock.now_ms())
            .arg(self.publish_command())
            .arg(&keys.stock_channel)
            .arg(CUSTOMER_CHANNEL_PREFIX);
        call
    }

    /// How scripts publish stock events (`lib.lua`'s ARGV[3]). On Cluster a
    /// product's channel is sharded: it lives on the product's shard, and only
    /// that shard carries its messages.
    fn publish_command(&self) -> &'static str {
        if self.redis.is_cluster() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        }
    }

    async fn run(&self, call: &ScriptInvocation<'_>) -> Result<Reply> {
        Reply::parse(self.redis.invoke(call).await?)
    }
}
