//! The engine: the typed API over the Lua scripts. Each state change is one
//! script call, so it is atomic and a process dying between two calls leaks
//! nothing. What a method writes beyond its script (a new product's catalog
//! entry, the sweep index, a purchase job, a customer's product index) is
//! written after it and repaired when lost: see each method.

mod audit;
mod audit_report;
mod availability;
mod baseline;
mod cart;
mod holds;
mod layout;
mod leases;
mod products;
mod push;
mod push_rounds;
mod record;
mod reply;
mod salts;
mod shoppers;
mod sweep;
mod upgrade;

use std::sync::Arc;
use std::time::Duration;

use redis::{Script, ScriptInvocation};

use crate::clock::{Clock, SystemClock};
use crate::connection::Connection;
use crate::error::{Error, Result};
use crate::keys::{CUSTOMER_CHANNEL_PREFIX, Partitions, ProductKeys, Retention};
use crate::redis_config::RedisConfig;

pub use audit::AuditReport;
pub use availability::Announced;
pub use baseline::RawReserveCommand;
pub use layout::LAYOUT_VERSION;
pub use leases::SweeperRegistration;
pub use products::ProductPage;
pub use push_rounds::{PushClaim, PushRoundBatch};
use reply::Reply;
pub use shoppers::HoldPage;
pub use sweep::{ExpiryNotice, ProductSweep};
pub use upgrade::UpgradeReport;

/// Limits and timings of the engine.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Most units one reserve may ask for.
    pub max_quantity_per_reserve: u32,
    /// How long an ended hold is kept, and with it its `request_id`: the
    /// same for every process of a deployment (checked when the engine
    /// connects). Below a day, a retry older than it makes a new hold.
    pub retention: Retention,
    /// How long a purchase worker has to finish a confirmed hold before the
    /// hold counts as stranded and its purchase is enqueued again.
    pub purchase_timeout: Duration,
    /// Most due holds one reserve or restock reclaims before it goes on
    /// (up to [`EngineConfig::MAX_BATCH`]).
    pub reclaim_batch: u32,
    /// How purchase streams and the sweep index are split; the same for
    /// every process of a deployment (checked when the engine connects).
    pub partitions: Partitions,
    /// How long before a HELD hold's deadline its owner gets an "expires
    /// soon" hold event (zero: never). Only holds that live longer get one.
    /// Sweepers send it; api-servers list products in the sweep index for
    /// it, so every process of a deployment should have the same.
    pub expiry_notice: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            max_quantity_per_reserve: 10,
            retention: Retention::DEFAULT,
            purchase_timeout: Duration::from_secs(300),
            reclaim_batch: 64,
            partitions: Partitions::default(),
            expiry_notice: Duration::from_secs(30),
        }
    }
}

impl EngineConfig {
    /// The most holds one script call may take in one go (a reclaim, a
    /// sweep step): a script hands them to Redis as one command's
    /// arguments, and Lua can pass only so many.
    pub const MAX_BATCH: u32 = 2000;

    fn validate(&self) -> Result<()> {
        let invalid = |field, reason: &str| Error::InvalidArgument {
            field,
            reason: reason.to_owned(),
        };
        if self.max_quantity_per_reserve == 0 {
            return Err(invalid("max_quantity_per_reserve", "must be at least 1"));
        }
        if self.purchase_timeout.is_zero() {
            return Err(invalid("purchase_timeout", "must not be zero"));
        }
        if !(1..=Self::MAX_BATCH).contains(&self.reclaim_batch) {
            return Err(invalid(
                "reclaim_batch",
                &format!("must be 1 to {}", Self::MAX_BATCH),
            ));
        }
        Ok(())
    }
}

/// The reservation engine. Cheap to clone; clones share one connection.
#[derive(Clone)]
pub struct Engine {
    redis: Connection,
    /// Where `redis` goes, for readers that need a connection of their own
    /// (a stream group's blocking reads).
    redis_config: Arc<RedisConfig>,
    config: Arc<EngineConfig>,
    clock: Arc<dyn Clock>,
    salts: salts::Salts,
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
        let engine = Self::open(redis, config, clock).await?;
        engine.check_partitions().await?;
        engine.check_layout().await?;
        Ok(engine)
    }

    /// An engine on a connection to `redis`, nothing checked yet but its
    /// configuration.
    async fn open(
        redis: &RedisConfig,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            redis: Connection::open(redis).await?,
            redis_config: Arc::new(redis.clone()),
            config: Arc::new(config),
            clock,
            salts: salts::Salts::default(),
        })
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

    /// Starts a call of a state-changing script: the eight product keys and
    /// the six shared arguments every such script expects (see `lib.lua`).
    /// The time decides both the call's "now" and which ended hash is
    /// current, so it is read once.
    fn product_call<'a>(&self, script: &'a Script, keys: &ProductKeys) -> ScriptInvocation<'a> {
        self.product_call_at(script, keys, self.clock.now_ms())
    }

    /// [`Engine::product_call`] at `now`, for a call of several products.
    fn product_call_at<'a>(
        &self,
        script: &'a Script,
        keys: &ProductKeys,
        now: i64,
    ) -> ScriptInvocation<'a> {
        let retention = self.config.retention;
        let mut call = script.prepare_invoke();
        for key in keys.script_keys(retention.period(now)) {
            call.key(key);
        }
        call.arg(keys.sku.as_str())
            .arg(now)
            .arg(self.publish_command())
            .arg(&keys.stock_channel)
            .arg(CUSTOMER_CHANNEL_PREFIX)
            .arg(retention.ended_ttl_ms(now));
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
