//! Looking behind the engine: plain connections to the test's Redis, the
//! stored record of a hold, subscriber counts, and stalls (`CLIENT PAUSE`)
//! as an overloaded server would make them.

use std::time::Duration;

use crate::keys::{HoldKey, ProductKeys};
use crate::types::{ReservationId, Sku};

use super::{TestEngine, TestRedis};

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

impl TestEngine {
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

    /// A live hold's record as its product's holds hash stores it, for specs
    /// that tamper with the books behind the engine's back (`HGET`).
    pub async fn live_record(&self, id: &ReservationId) -> String {
        let mut conn = self.raw_connection().await;
        redis::cmd("HGET")
            .arg(ProductKeys::new(id.sku()).holds)
            .arg(HoldKey::of(id).key)
            .query_async(&mut conn)
            .await
            .expect("the live hold's record")
    }

    /// Puts `record` in `sku`'s live holds under `key` (`HSET`), as a broken
    /// script would leave it.
    pub async fn put_live_record(&self, sku: &Sku, key: &str, record: &str) {
        let mut conn = self.raw_connection().await;
        let _: i64 = redis::cmd("HSET")
            .arg(ProductKeys::new(sku).holds)
            .arg(key)
            .arg(record)
            .query_async(&mut conn)
            .await
            .expect("write a live hold's record");
    }

    /// Makes Redis stop answering every client for `duration` (`CLIENT PAUSE`,
    /// on every node of a Cluster), as an overloaded or stalled server would.
    pub async fn pause_redis(&self, duration: Duration) {
        for conn in self.each_server().await {
            client_pause(conn, duration).await;
        }
    }

    /// Makes Redis hold back every write (scripts included) for `duration`
    /// while it still answers reads and `PING`s (`CLIENT PAUSE … WRITE`):
    /// a call is stalled after its connection was found healthy.
    pub async fn pause_redis_writes(&self, duration: Duration) {
        for mut conn in self.each_server().await {
            let _: () = redis::cmd("CLIENT")
                .arg("PAUSE")
                .arg(duration.as_millis() as u64)
                .arg("WRITE")
                .query_async(&mut conn)
                .await
                .expect("CLIENT PAUSE WRITE");
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
