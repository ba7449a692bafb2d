//! The test's private Redis: one server, or a Cluster of them (the one a
//! test asks for, or three primaries under `FLASHSALE_TEST_REDIS=cluster`),
//! killed and restarted as a crash would; and which server holds what.

use crate::keys::ProductKeys;
use crate::local_redis::{
    LocalCluster, LocalClusterOptions, LocalRedis, LocalRedisOptions, LocalTls,
};
use crate::redis_config::RedisConfig;
use crate::types::Sku;

use super::{TestEngine, sku_of};

/// Whether tests run on a Redis Cluster (`FLASHSALE_TEST_REDIS=cluster`).
pub fn on_cluster() -> bool {
    std::env::var("FLASHSALE_TEST_REDIS").is_ok_and(|v| v == "cluster")
}

/// Whether every test engine reaches its Redis over TLS as the documented
/// ACL user (`FLASHSALE_TEST_TLS_ACL=1`), single node or Cluster alike.
pub fn on_tls_acl() -> bool {
    std::env::var("FLASHSALE_TEST_TLS_ACL").is_ok_and(|v| v == "1")
}

/// A test's private Redis: one server, or a Cluster of them.
pub enum TestRedis {
    Single(LocalRedis),
    Cluster(LocalCluster),
}

impl TestRedis {
    /// A single node, or a Cluster: the one `cluster` asks for, or three
    /// primaries when [`on_cluster`]; listening for TLS too with `tls`, and
    /// then keeping its ACL users across restarts.
    pub fn start(
        append_only: bool,
        cluster: Option<LocalClusterOptions>,
        tls: Option<LocalTls>,
    ) -> std::io::Result<Self> {
        let cluster = cluster.or_else(|| on_cluster().then(LocalClusterOptions::default));
        if let Some(options) = cluster {
            LocalCluster::start_with(LocalClusterOptions {
                append_only: append_only || options.append_only,
                acl_file: tls.is_some() || options.acl_file,
                tls: tls.or(options.tls.clone()),
                ..options
            })
            .map(Self::Cluster)
        } else {
            LocalRedis::start_with(LocalRedisOptions {
                append_only,
                acl_file: tls.is_some(),
                tls,
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

impl TestEngine {
    /// A connection to each server that answers: the one, or every live node
    /// of the Cluster (a node a test killed has nothing to say).
    pub(super) async fn each_server(&self) -> Vec<redis::aio::MultiplexedConnection> {
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

    /// Makes every server's stream nodes hold 10 entries, so that an
    /// approximate trim (`MAXLEN ~`, `MINID ~`), which drops whole nodes,
    /// can drop a few entries at a time where a spec watches it.
    pub async fn use_small_stream_nodes(&self) {
        for mut server in self.each_server().await {
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg("stream-node-max-entries")
                .arg(10)
                .query_async(&mut server)
                .await
                .expect("CONFIG SET stream-node-max-entries");
        }
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
}
