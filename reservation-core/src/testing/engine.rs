//! Starting a [`TestEngine`]: an engine on its own private Redis, on a manual
//! clock (time moves when the test says so) or on the real one, and more
//! engines or a coalescer beside it.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, ManualClock, SystemClock};
use crate::coalescer::{CoalescerConfig, ReserveCoalescer};
use crate::engine::{Engine, EngineConfig};
use crate::local_redis::LocalClusterOptions;
use crate::redis_config::{ConnectionMode, RedisConfig};

use super::secured::SecuredAccess;
use super::{TestCertificates, TestRedis, on_tls_acl};

/// 2023-11-14T22:13:20Z: where manual clocks start.
pub const START_MS: i64 = 1_700_000_000_000;

/// How to start a [`TestEngine`].
#[derive(Clone, Debug)]
pub struct TestOptions {
    pub mode: ConnectionMode,
    pub config: EngineConfig,
    /// Time moves only when the test says so ([`TestEngine::advance`]).
    pub manual_clock: bool,
    /// Redis keeps an append-only file, so data survives
    /// [`LocalRedis::restart`](crate::local_redis::LocalRedis::restart).
    pub append_only: bool,
    /// Run on a private Redis Cluster of this shape, whatever
    /// `FLASHSALE_TEST_REDIS` says.
    pub cluster: Option<LocalClusterOptions>,
    /// Reach Redis over TLS (client certificates required) as the ACL user
    /// the operations page documents; also set by `FLASHSALE_TEST_TLS_ACL=1`.
    pub tls_acl: bool,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            mode: ConnectionMode::Multiplexed,
            config: EngineConfig::default(),
            manual_clock: true,
            append_only: false,
            cluster: None,
            tls_acl: on_tls_acl(),
        }
    }
}

/// An engine on its own private Redis.
pub struct TestEngine {
    pub engine: Engine,
    /// Present when the engine runs on a manual clock.
    pub clock: Option<Arc<ManualClock>>,
    pub redis: TestRedis,
    /// How the engine reaches a Redis started with `tls_acl`.
    pub secured: Option<SecuredAccess>,
}

impl TestEngine {
    /// An engine with a manual clock (time moves only when the test says so).
    pub async fn start() -> Self {
        Self::start_with(TestOptions::default()).await
    }

    /// An engine on the system clock, for tests that wait for real deadlines.
    pub async fn start_real_time() -> Self {
        Self::start_with(TestOptions {
            manual_clock: false,
            ..TestOptions::default()
        })
        .await
    }

    pub async fn start_with(options: TestOptions) -> Self {
        let certificates = options
            .tls_acl
            .then(|| TestCertificates::make().expect("make the test's certificates"));
        let redis = TestRedis::start(
            options.append_only,
            options.cluster.clone(),
            certificates.as_ref().map(|c| c.server(true)),
        )
        .expect("start a private Redis");
        let secured = certificates.map(|certificates| {
            SecuredAccess::grant(&redis, certificates).expect("create the engine's ACL user")
        });
        let config = match &secured {
            Some(access) => access.config(),
            None => redis.config(),
        };
        let clock = options
            .manual_clock
            .then(|| Arc::new(ManualClock::starting_at(START_MS)));
        let engine_clock: Arc<dyn Clock> = match &clock {
            Some(clock) => clock.clone(),
            None => Arc::new(SystemClock),
        };
        let engine = Engine::connect_with_clock(
            &config.with_mode(options.mode),
            options.config,
            engine_clock,
        )
        .await
        .expect("connect to the private redis-server");
        Self {
            engine,
            clock,
            redis,
            secured,
        }
    }

    /// How the engine reaches the test's Redis: plainly, or over TLS as the
    /// ACL user. Other processes and connections of the engine's take this.
    pub fn redis_config(&self) -> RedisConfig {
        match &self.secured {
            Some(access) => access.config(),
            None => self.redis.config(),
        }
    }

    /// Reserves coalesced as `config` says.
    pub fn coalescer(&self, config: CoalescerConfig) -> Arc<ReserveCoalescer> {
        ReserveCoalescer::new(self.engine.clone(), config)
    }

    /// Another engine (own connection, own clock handle) on the same Redis.
    pub async fn another_engine(&self, mode: ConnectionMode) -> Engine {
        let clock: Arc<dyn Clock> = match &self.clock {
            Some(clock) => clock.clone(),
            None => Arc::new(SystemClock),
        };
        Engine::connect_with_clock(
            &self.redis_config().with_mode(mode),
            self.engine.config().clone(),
            clock,
        )
        .await
        .expect("connect to the private redis-server")
    }

    /// Moves the manual clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock
            .as_ref()
            .expect("advance() needs an engine on a manual clock")
            .advance(by);
    }
}
