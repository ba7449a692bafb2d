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
//! Every connection turns Nagle's algorithm off, which the redis crate leaves
//! on. Calls are small writes, and with it a call written while an earlier
//! one's bytes are still unacknowledged waits for that acknowledgement: on a
//! pipelined connection the second call in flight would wait for the first
//! one's answer.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::io::tcp::TcpSettings;
use redis::{Cmd, FromRedisValue, IntoConnectionInfo, PushInfo, ScriptInvocation, Value};
use tokio::sync::mpsc;

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
    /// `redis://host:port[/db]`, or on Redis Cluster a comma-separated list
    /// of seed nodes (`redis://a:7000,redis://b:7000`).
    pub url: String,
    /// Talk to a Redis Cluster. Set by [`RedisConfig::new`] when `url` lists
    /// more than one node; a single seed needs [`RedisConfig::with_cluster`].
    pub cluster: bool,
    /// Single node only: Cluster always multiplexes, one connection per shard.
    pub mode: ConnectionMode,
    /// How long to wait for a connection (new, or from the pool).
    pub connect_timeout: Duration,
    /// How long to wait for an answer to one call.
    pub response_timeout: Duration,
}

impl RedisConfig {
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        Self {
            cluster: url.contains(','),
            url,
            mode: ConnectionMode::Multiplexed,
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
        }
    }

    pub fn with_mode(mut self, mode: ConnectionMode) -> Self {
        self.mode = mode;
        self
    }

    /// With `cluster`, the URL is a Redis Cluster node even when it names
    /// only one (a list of nodes is a Cluster either way).
    pub fn with_cluster(mut self, cluster: bool) -> Self {
        self.cluster |= cluster;
        self
    }

    /// The nodes `url` names, one URL each.
    pub fn nodes(&self) -> Vec<&str> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|node| !node.is_empty())
            .collect()
    }

    /// A client for the Cluster's seed nodes; `response_timeout` bounds each
    /// call.
    pub(crate) fn cluster_client(&self, response_timeout: Duration) -> Result<ClusterClient> {
        self.cluster_builder(response_timeout)
            .build()
            .map_err(invalid_url)
    }

    /// A Cluster client whose connections hand pub/sub messages (RESP3
    /// pushes) to `pushes`, and subscribe again by themselves after a
    /// failover or a slot move.
    pub(crate) fn cluster_subscriber(
        &self,
        pushes: mpsc::UnboundedSender<PushInfo>,
    ) -> Result<ClusterClient> {
        self.cluster_builder(self.response_timeout)
            .use_protocol(redis::ProtocolVersion::RESP3)
            .push_sender(pushes)
            .build()
            .map_err(invalid_url)
    }

    fn cluster_builder(&self, response_timeout: Duration) -> ClusterClientBuilder {
        ClusterClient::builder(self.nodes())
            .tcp_settings(tcp_settings())
            .connection_timeout(self.connect_timeout)
            .response_timeout(response_timeout)
            .retries(2)
    }

    pub(crate) fn client(&self) -> Result<redis::Client> {
        redis::Client::open(self.connection_info()?).map_err(invalid_url)
    }

    /// A single node's address and settings.
    fn connection_info(&self) -> Result<redis::ConnectionInfo> {
        Ok(self
            .url
            .as_str()
            .into_connection_info()
            .map_err(invalid_url)?
            .set_tcp_settings(tcp_settings()))
    }
}

fn tcp_settings() -> TcpSettings {
    TcpSettings::default().set_nodelay(true)
}

fn invalid_url(e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument {
        field: "redis_url",
        reason: e.to_string(),
    }
}

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
                let manager =
                    deadpool_redis::Manager::new(config.connection_info()?).map_err(invalid_url)?;
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
