//! How the engine talks to Redis. One multiplexed connection pipelines every
//! concurrent call over one socket; a pool gives each call a connection of its
//! own. Both reconnect by themselves and fail fast while Redis is away, so a
//! caller gets `Error::Unavailable` instead of waiting without bound.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, ScriptInvocation, Value};

use crate::error::{Error, Result};

/// Which connection strategy to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionMode {
    /// One connection shared by every call, commands pipelined on it.
    Multiplexed,
    /// A pool of up to `size` connections, one per call in flight.
    Pooled { size: usize },
}

/// Where Redis is and how to reach it.
#[derive(Clone, Debug)]
pub struct RedisConfig {
    /// `redis://host:port[/db]`.
    pub url: String,
    pub mode: ConnectionMode,
    /// How long to wait for a connection (new, or from the pool).
    pub connect_timeout: Duration,
    /// How long to wait for an answer to one call.
    pub response_timeout: Duration,
    /// How long to wait for a call that reads a whole product in one script
    /// (the audit): seconds for hundreds of thousands of holds.
    pub long_call_timeout: Duration,
}

impl RedisConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            mode: ConnectionMode::Multiplexed,
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
            long_call_timeout: Duration::from_secs(60),
        }
    }

    pub fn with_mode(mut self, mode: ConnectionMode) -> Self {
        self.mode = mode;
        self
    }
}

#[derive(Clone)]
pub(crate) struct Connection {
    shared: Shared,
    /// For long calls, each on a connection of its own (see `invoke_long`).
    client: redis::Client,
    connect_timeout: Duration,
    long_call_timeout: Duration,
}

#[derive(Clone)]
enum Shared {
    Multiplexed(ConnectionManager),
    Pooled(deadpool_redis::Pool),
}

impl Connection {
    pub(crate) async fn open(config: &RedisConfig) -> Result<Self> {
        let invalid_url = |e: redis::RedisError| Error::InvalidArgument {
            field: "redis_url",
            reason: e.to_string(),
        };
        let client = redis::Client::open(config.url.as_str()).map_err(invalid_url)?;
        let shared = match config.mode {
            ConnectionMode::Multiplexed => {
                let manager_config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(config.connect_timeout))
                    .set_response_timeout(Some(config.response_timeout))
                    .set_number_of_retries(1);
                let manager = ConnectionManager::new_with_config(client.clone(), manager_config)
                    .await
                    .map_err(Error::from_redis)?;
                Shared::Multiplexed(manager)
            }
            ConnectionMode::Pooled { size } => {
                let mut pool_config = deadpool_redis::Config::from_url(config.url.as_str());
                let mut limits = deadpool_redis::PoolConfig::new(size.max(1));
                limits.timeouts.wait = Some(config.connect_timeout);
                limits.timeouts.create = Some(config.connect_timeout);
                limits.timeouts.recycle = Some(config.response_timeout);
                pool_config.pool = Some(limits);
                let pool = pool_config
                    .create_pool(Some(deadpool_redis::Runtime::Tokio1))
                    .map_err(|e| Error::InvalidArgument {
                        field: "redis_url",
                        reason: e.to_string(),
                    })?;
                Shared::Pooled(pool)
            }
        };
        let connection = Self {
            shared,
            client,
            connect_timeout: config.connect_timeout,
            long_call_timeout: config.long_call_timeout,
        };
        // Fail at start-up, not on the first request, when Redis is unreachable.
        connection.query::<()>(&redis::cmd("PING")).await?;
        Ok(connection)
    }

    /// Runs a script that may take seconds on a connection of its own, so
    /// its wait does not count against the shared connection's timeout.
    /// (Redis runs one script at a time: other calls wait meanwhile anyway.)
    pub(crate) async fn invoke_long(&self, invocation: &ScriptInvocation<'_>) -> Result<Value> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(self.long_call_timeout));
        let mut conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(Error::from_redis)?;
        invocation
            .invoke_async(&mut conn)
            .await
            .map_err(Error::from_redis)
    }

    pub(crate) async fn invoke(&self, invocation: &ScriptInvocation<'_>) -> Result<Value> {
        match &self.shared {
            Shared::Multiplexed(manager) => invocation
                .invoke_async(&mut manager.clone())
                .await
                .map_err(Error::from_redis),
            Shared::Pooled(pool) => {
                let mut conn = pool.get().await.map_err(pool_error)?;
                invocation
                    .invoke_async(&mut conn)
                    .await
                    .map_err(Error::from_redis)
            }
        }
    }

    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        let value = match &self.shared {
            Shared::Multiplexed(manager) => manager.clone().req_packed_command(cmd).await,
            Shared::Pooled(pool) => {
                let mut conn = pool.get().await.map_err(pool_error)?;
                conn.req_packed_command(cmd).await
            }
        }
        .map_err(Error::from_redis)?;
        T::from_redis_value(value).map_err(|e| Error::Internal(e.to_string()))
    }
}

fn pool_error(err: deadpool_redis::PoolError) -> Error {
    match err {
        deadpool_redis::PoolError::Backend(e) => Error::from_redis(e),
        other => Error::Unavailable(Box::new(other)),
    }
}
