//! The shared test harness: an engine on a private Redis, plus helpers to
//! build requests and to listen to what the scripts publish. Every test suite
//! of the workspace starts from here instead of copying its own set-up.
//!
//! Compiled only with the `testing` feature.
//!
//! With `FLASHSALE_TEST_REDIS=cluster` in the environment every test engine
//! runs on a private three-primary Redis Cluster instead of a single node, so
//! the same specifications hold on both (`.ci/test` runs the core's suite
//! both ways).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

mod config_docs;
mod stats;
pub use config_docs::{CONFIGURATION_PAGE, check_generated_block, settings_table};
pub use stats::CommandCalls;

use crate::clock::{Clock, ManualClock, SystemClock};
use crate::coalescer::{CoalescerConfig, ReserveCoalescer};
use crate::connection::{ConnectionMode, RedisConfig};
use crate::engine::{Engine, EngineConfig};
use crate::keys::{self, ProductKeys};
use crate::local_redis::{LocalCluster, LocalClusterOptions, LocalRedis, LocalRedisOptions};
use crate::types::{
    CartLine, CartRequest, CustomerId, NewProduct, Quantity, RequestId, ReserveRequest, Sku,
};

/// 2023-11-14T22:13:20Z: where manual clocks start.
pub const START_MS: i64 = 1_700_000_000_000;

/// How to start a [`TestEngine`].
#[derive(Clone, Debug)]
pub struct TestOptions {
    pub mode: ConnectionMode,
    pub config: EngineConfig,
    /// Time moves only when the test says so ([`TestEngine::advance`]).
    pub manual_clock: bool,
    /// Redis keeps an append-only file, so data survives [`LocalRedis::restart`].
    pub append_only: bool,
    /// Run on a private Redis Cluster of this shape, whatever
    /// `FLASHSALE_TEST_REDIS` says.
    pub cluster: Option<LocalClusterOptions>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            mode: ConnectionMode::Multiplexed,
            config: EngineConfig::default(),
            manual_clock: true,
            append_only: false,
            cluster: None,
        }
    }
}

/// Whether tests run on a Redis Cluster (`FLASHSALE_TEST_REDIS=cluster`).
pub fn on_cluster() -> bool {
    std::env::var("FLASHSALE_TEST_REDIS").is_ok_and(|v| v == "cluster")
}

/// A test's private Redis: one server, or a Cluster of them.
pub enum TestRedis {
    Single(LocalRedis),
    Cluster(LocalCluster),
}

impl TestRedis {
    /// A single node, or a Cluster: the one `cluster` asks for, or three
    /// primaries when [`on_cluster`].
    pub fn start(append_only: bool, cluster: Option<LocalClusterOptions>) -> std::io::Result<Self> {
        let cluster = cluster.or_else(|| on_cluster().then(LocalClusterOptions::default));
        if let Some(options) = cluster {
            LocalCluster::start_with(LocalClusterOptions {
                append_only: append_only || options.append_only,
                ..options
            })
            .map(Self::Cluster)
        } else {
            LocalRedis::start_with(LocalRedisOptions {
                append_only,
                ..LocalRedisOptions::default()
            })
            .map(Self::Single)
        }
    }

    /// The URL, or the Cluster's comma-separated seed list.
    pub fn url(&self) -> String {
        match self {
            Self::Single(redis) => redis.url(),
            Self::Cluster(cluster) => cluster.url(),
        }
    }

    /// How the engine reaches it.
    pub fn config(&self) -> RedisConfig {
        RedisConfig::new(self.url()).with_cluster(matches!(self, Self::Cluster(_)))
    }

    /// Kills every server at once, as a crash would.
    pub fn kill(&mut self) -> std::io::Result<()> {
        self.servers().iter_mut().try_for_each(|redis| redis.kill())
    }

    /// Starts every server again on its port and directory (with
    /// `append_only`, the data comes back; a Cluster node its place too).
    pub fn restart(&mut self) -> std::io::Result<()> {
        self.kill()?;
        for redis in self.servers() {
            redis.restart()?;
        }
        if let Self::Cluster(cluster) = self {
            cluster.wait_until_served()?;
        }
        Ok(())
    }

    fn servers(&mut self) -> Vec<&mut LocalRedis> {
        match self {
            Self::Single(redis) => vec![redis],
            Self::Cluster(cluster) => cluster.nodes_mut().iter_mut().collect(),
        }
    }
}

/// An engine on its own private Redis.
pub struct TestEngine {
    pub engine: Engine,
    /// Present when the engine runs on a manual clock.
    pub clock: Option<Arc<ManualClock>>,
    pub redis: TestRedis,
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
        let redis = TestRedis::start(options.append_only, options.cluster.clone())
            .expect("start a private Redis");
        let clock = options
            .manual_clock
            .then(|| Arc::new(ManualClock::starting_at(START_MS)));
        let engine_clock: Arc<dyn Clock> = match &clock {
            Some(clock) => clock.clone(),
            None => Arc::new(SystemClock),
        };
        let engine = Engine::connect_with_clock(
            &redis.config().with_mode(options.mode),
            options.config,
            engine_clock,
        )
        .await
        .expect("connect to the private redis-server");
        Self {
            engine,
            clock,
            redis,
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
            &self.redis.config().with_mode(mode),
            self.engine.config().clone(),
            clock,
        )
        .await
        .expect("connect to the private redis-server")
    }

    /// A plain connection to the test's Redis, for looking behind the engine
    /// (on a Cluster, one that routes each command by its key).
    pub async fn raw_connection(&self) -> RawConnection {
        match &self.redis {
            TestRedis::Single(redis) => RawConnection::Single(
                redis::Client::open(redis.url())
                    .expect("redis url")
                    .get_multiplexed_async_connection()
                    .await
                    .expect("connect to the private redis-server"),
            ),
            TestRedis::Cluster(_) => RawConnection::Cluster(
                self.redis
                    .config()
                    .cluster_client(Duration::from_secs(10))
                    .expect("cluster seeds")
                    .get_async_connection()
                    .await
                    .expect("connect to the private Redis Cluster"),
            ),
        }
    }

    /// Makes Redis stop answering every client for `duration` (`CLIENT PAUSE`,
    /// on every node of a Cluster), as an overloaded or stalled server would.
    pub async fn pause_redis(&self, duration: Duration) {
        for conn in self.each_server().await {
            client_pause(conn, duration).await;
        }
    }

    /// Makes the server of `sku`'s product (its primary, on a Cluster) stop
    /// answering for `duration`, while every other server goes on.
    pub async fn pause_server_of(&self, sku: &Sku, duration: Duration) {
        let url = match &self.redis {
            TestRedis::Single(redis) => redis.url(),
            TestRedis::Cluster(cluster) => {
                let port = cluster
                    .primary_of(&ProductKeys::new(sku).product)
                    .expect("the slot's primary");
                format!("redis://127.0.0.1:{port}")
            }
        };
        let conn = redis::Client::open(url)
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the product's server");
        client_pause(conn, duration).await;
    }

    /// How many connections subscribe to a product's stock channel, over
    /// every server (`PUBSUB SHARDNUMSUB` on a Cluster, where it is sharded).
    pub async fn stock_subscribers(&self, sku: &Sku) -> i64 {
        let channel = ProductKeys::new(sku).stock_channel;
        let numsub = match self.redis {
            TestRedis::Single(_) => "NUMSUB",
            TestRedis::Cluster(_) => "SHARDNUMSUB",
        };
        let mut total = 0;
        for mut conn in self.each_server().await {
            let (_, count): (String, i64) = redis::cmd("PUBSUB")
                .arg(numsub)
                .arg(&channel)
                .query_async(&mut conn)
                .await
                .expect("PUBSUB NUMSUB");
            total += count;
        }
        total
    }

    /// A connection to each server that answers: the one, or every live node
    /// of the Cluster (a node a test killed has nothing to say).
    async fn each_server(&self) -> Vec<redis::aio::MultiplexedConnection> {
        let mut connections = Vec::new();
        for url in self.redis.config().nodes() {
            let client = redis::Client::open(url).expect("redis url");
            match client.get_multiplexed_async_connection().await {
                Ok(conn) => connections.push(conn),
                Err(e)
                    if matches!(self.redis, TestRedis::Cluster(_)) && e.is_connection_refusal() => {
                }
                Err(e) => panic!("connect to the private redis-server: {e}"),
            }
        }
        connections
    }

    /// The test's Cluster; panics on a single node, for tests that need one.
    pub fn cluster(&self) -> &LocalCluster {
        match &self.redis {
            TestRedis::Cluster(cluster) => cluster,
            TestRedis::Single(_) => panic!("this test runs on a Redis Cluster"),
        }
    }

    /// SKUs named `PREFIX-N` whose products live on `shards` different
    /// primaries of the test's Cluster.
    pub fn skus_on_different_shards(&self, prefix: &str, shards: usize) -> Vec<Sku> {
        let cluster = self.cluster();
        let mut primaries = std::collections::HashSet::new();
        (0..)
            .map(|n| sku_of(&format!("{prefix}-{n}")))
            .filter(|sku| {
                let primary = cluster
                    .primary_of(&ProductKeys::new(sku).product)
                    .expect("the slot's primary");
                primaries.insert(primary)
            })
            .take(shards)
            .collect()
    }

    /// Moves the manual clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock
            .as_ref()
            .expect("advance() needs an engine on a manual clock")
            .advance(by);
    }

    /// A product's stock as Redis holds it now.
    pub async fn stock(&self, sku: &str) -> crate::types::StockSnapshot {
        self.engine
            .product(&sku_of(sku))
            .await
            .expect("read the product")
            .stock
    }

    /// Creates a product with `total` units and returns its SKU.
    pub async fn product(&self, sku: &str, total: i64) -> Sku {
        self.product_with(sku, total, |_| {}).await
    }

    /// Creates a product after `adjust` has changed its defaults.
    pub async fn product_with(
        &self,
        sku: &str,
        total: i64,
        adjust: impl FnOnce(&mut NewProduct),
    ) -> Sku {
        let mut new = NewProduct::new(sku_of(sku), format!("Product {sku}"), 1_000, total);
        adjust(&mut new);
        self.engine
            .create_product(&new)
            .await
            .expect("create product");
        new.sku
    }

    /// Subscribes to a raw channel (`sharded`: with `SSUBSCRIBE` on a
    /// Cluster); each message's payload arrives on the receiver.
    pub async fn listen(&self, channel: String, sharded: bool) -> mpsc::UnboundedReceiver<Vec<u8>> {
        let (tx, rx) = mpsc::unbounded_channel();
        match &self.redis {
            TestRedis::Single(redis) => {
                let client = redis::Client::open(redis.url()).expect("redis url");
                let mut pubsub = client.get_async_pubsub().await.expect("pubsub connection");
                pubsub.subscribe(&channel).await.expect("subscribe");
                tokio::spawn(async move {
                    let mut messages = pubsub.into_on_message();
                    while let Some(message) = messages.next().await {
                        if tx.send(message.get_payload_bytes().to_vec()).is_err() {
                            break;
                        }
                    }
                });
            }
            TestRedis::Cluster(_) => {
                let (pushes, mut pushes_rx) = mpsc::unbounded_channel();
                let client = self
                    .redis
                    .config()
                    .cluster_subscriber(pushes)
                    .expect("cluster seeds");
                let mut conn = client
                    .get_async_connection()
                    .await
                    .expect("cluster connection");
                if sharded {
                    conn.ssubscribe(&channel).await.expect("ssubscribe");
                } else {
                    conn.subscribe(&channel).await.expect("subscribe");
                }
                tokio::spawn(async move {
                    let _subscribed = conn;
                    while let Some(push) = pushes_rx.recv().await {
                        let Some(message) = redis::Msg::from_push_info(push) else {
                            continue;
                        };
                        if tx.send(message.get_payload_bytes().to_vec()).is_err() {
                            break;
                        }
                    }
                });
            }
        }
        rx
    }

    /// Subscribes to a product's stock events.
    pub async fn listen_stock(&self, sku: &Sku) -> mpsc::UnboundedReceiver<Vec<u8>> {
        self.listen(ProductKeys::new(sku).stock_channel, true).await
    }

    /// Subscribes to a customer's hold events.
    pub async fn listen_holds(&self, customer: &str) -> mpsc::UnboundedReceiver<Vec<u8>> {
        self.listen(keys::customer_channel(&customer_of(customer)), false)
            .await
    }
}

/// A connection to the test's Redis outside the engine: a single node's, or
/// a Cluster's (which routes each command to its key's shard).
pub enum RawConnection {
    Single(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

impl redis::aio::ConnectionLike for RawConnection {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        match self {
            Self::Single(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        match self {
            Self::Single(conn) => conn.req_packed_commands(cmd, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

pub fn sku_of(sku: &str) -> Sku {
    Sku::new(sku).expect("valid test SKU")
}

pub fn customer_of(customer: &str) -> CustomerId {
    CustomerId::new(customer).expect("valid test customer")
}

pub fn request_of(request: &str) -> RequestId {
    RequestId::new(request).expect("valid test request id")
}

/// A reserve request; the `request_id` is `request`.
pub fn reserve(sku: &Sku, customer: &str, quantity: i64, request: &str) -> ReserveRequest {
    ReserveRequest {
        sku: sku.clone(),
        quantity: Quantity::new(quantity).expect("valid test quantity"),
        customer_id: customer_of(customer),
        request_id: request_of(request),
    }
}

/// Makes the server on `conn` stop answering every client for `duration`.
async fn client_pause(mut conn: redis::aio::MultiplexedConnection, duration: Duration) {
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(duration.as_millis() as u64)
        .query_async(&mut conn)
        .await
        .expect("CLIENT PAUSE");
}

/// A cart of `(sku, quantity)` lines; the `request_id` is `request`.
pub fn cart(customer: &str, request: &str, lines: &[(&Sku, i64)]) -> CartRequest {
    CartRequest {
        customer_id: customer_of(customer),
        request_id: request_of(request),
        lines: lines
            .iter()
            .map(|&(sku, quantity)| {
                CartLine::new(sku.as_str(), quantity).expect("valid test cart line")
            })
            .collect(),
    }
}

/// Everything received so far on a listener, without waiting for more.
pub async fn drain(rx: &mut mpsc::UnboundedReceiver<Vec<u8>>) -> Vec<Vec<u8>> {
    // Publishes happen inside the script, before it answers, but delivery to
    // the subscriber's socket is asynchronous: give it a moment.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut out = Vec::new();
    while let Ok(message) = rx.try_recv() {
        out.push(message);
    }
    out
}
