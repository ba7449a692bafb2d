//! How the engine talks to Redis. One multiplexed connection pipelines every
//! concurrent call over one socket; a pool gives each call a connection of its
//! own. Both reconnect by themselves and fail fast while Redis is away, so a
//! caller gets `Error::Unavailable` instead of waiting without bound.
//!
//! On Redis Cluster the redis crate's cluster connection does the same per
//! shard: one multiplexed connection to each primary, each command routed by
//! its first key's slot (every script's keys share their product's slot),
//! MOVED and ASK followed, the slot map refreshed after a failover. A script
//! that a new primary does not know is loaded again on NOSCRIPT.
//!
//! Where Redis is, and how to reach it (TLS, Nagle), is [`RedisConfig`]'s.

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, Cmd, FromRedisValue, ScriptInvocation, Value};

use crate::error::{Error, Result};
use crate::redis_config::{ConnectionMode, RedisConfig, invalid_url};

#[derive(Clone)]
pub(crate) struct Connection {
    shared: Shared,
}

#[derive(Clone)]
enum Shared {
    Multiplexed(ConnectionManager),
    Pooled(deadpool_redis::Pool),
    Cluster(ClusterConnection),
}

impl Connection {
    pub(crate) async fn open(config: &RedisConfig) -> Result<Self> {
        let shared = match (config.cluster, config.mode) {
            (true, _) => {
                let client = config.cluster_client(config.response_timeout)?;
                let connection = client
                    .get_async_connection()
                    .await
                    .map_err(Error::from_redis)?;
                Shared::Cluster(connection)
            }
            (false, ConnectionMode::Multiplexed) => {
                let manager_config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(config.connect_timeout))
                    .set_response_timeout(Some(config.response_timeout))
                    .set_number_of_retries(1);
                let manager = ConnectionManager::new_with_config(config.client()?, manager_config)
                    .await
                    .map_err(Error::from_redis)?;
                Shared::Multiplexed(manager)
            }
            (false, ConnectionMode::Pooled { size }) => {
                // Each pooled connection keeps the configured timeouts, not
                // the redis crate's own (a 500 ms answer, a 1 s connect).
                let timeouts = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(config.connect_timeout))
                    .set_response_timeout(Some(config.response_timeout));
                let manager = deadpool_redis::Manager::new_with_config(
                    config.client()?.get_connection_info().clone(),
                    timeouts,
                )
                .map_err(invalid_url)?;
                let pool = deadpool_redis::Pool::builder(manager)
                    .max_size(size.max(1))
                    .wait_timeout(Some(config.connect_timeout))
                    .create_timeout(Some(config.connect_timeout))
                    .recycle_timeout(Some(config.response_timeout))
                    .runtime(deadpool_redis::Runtime::Tokio1)
                    .build()
                    .map_err(invalid_url)?;
                Shared::Pooled(pool)
            }
        };
        let connection = Self { shared };
        // Fail at start-up, not on the first request, when Redis is unreachable.
        connection.query::<()>(&redis::cmd("PING")).await?;
        Ok(connection)
    }

    /// Whether this is a Redis Cluster.
    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self.shared, Shared::Cluster(_))
    }

    pub(crate) async fn invoke(&self, invocation: &ScriptInvocation<'_>) -> Result<Value> {
        match &self.shared {
            Shared::Multiplexed(manager) => invocation
                .invoke_async(&mut manager.clone())
                .await
                .map_err(Error::from_redis),
            Shared::Pooled(pool) => {
                let mut conn = checkout(pool).await?;
                invocation
                    .invoke_async(&mut conn)
                    .await
                    .map_err(Error::from_redis)
            }
            Shared::Cluster(cluster) => invocation
                .invoke_async(&mut cluster.clone())
                .await
                .map_err(Error::from_redis),
        }
    }

    /// Sends `pipeline`'s commands together (on a Cluster, each to its key's
    /// node) and fails when any of them fails.
    pub(crate) async fn pipeline(&self, pipeline: &redis::Pipeline) -> Result<()> {
        let values = match &self.shared {
            Shared::Multiplexed(manager) => {
                manager
                    .clone()
                    .req_packed_commands(pipeline, 0, pipeline.len())
                    .await
            }
            Shared::Pooled(pool) => {
                let mut conn = checkout(pool).await?;
                conn.req_packed_commands(pipeline, 0, pipeline.len()).await
            }
            Shared::Cluster(cluster) => {
                cluster
                    .clone()
                    .req_packed_commands(pipeline, 0, pipeline.len())
                    .await
            }
        }
        .map_err(Error::from_redis)?;
        for value in values {
            value.extract_error().map_err(Error::from_redis)?;
        }
        Ok(())
    }

    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T> {
        let value = match &self.shared {
            Shared::Multiplexed(manager) => manager.clone().req_packed_command(cmd).await,
            Shared::Pooled(pool) => {
                let mut conn = checkout(pool).await?;
                conn.req_packed_command(cmd).await
            }
            Shared::Cluster(cluster) => cluster.clone().req_packed_command(cmd).await,
        }
        // An error reply (a loading server's BUSY LOADING, say) is classified
        // as an error, not taken for an answer of the wrong type.
        .and_then(redis::Value::extract_error)
        .map_err(Error::from_redis)?;
        T::from_redis_value(value).map_err(|e| Error::Internal(e.to_string()))
    }
}

/// A connection from the pool. deadpool's wait for one is a future of about
/// 6.5 KB; on the heap, it stays out of the future of every call that goes
/// through here, in every mode. Otherwise each reserve's future, even on the
/// multiplexed connection, would be that large, and copying it as it passes
/// through the layers of the gRPC stack took 4 % of the api-server's CPU.
async fn checkout(pool: &deadpool_redis::Pool) -> Result<deadpool_redis::Connection> {
    Box::pin(pool.get()).await.map_err(pool_error)
}

fn pool_error(err: deadpool_redis::PoolError) -> Error {
    match err {
        deadpool_redis::PoolError::Backend(e) => Error::from_redis(e),
        other => Error::Unavailable(Box::new(other)),
    }
}
