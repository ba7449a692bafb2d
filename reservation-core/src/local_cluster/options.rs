//! The shape of a private Cluster: how many primaries and replicas, and
//! what every node is started with.

use std::path::PathBuf;
use std::time::Duration;

use crate::local_redis::LocalTls;

/// The shape of a private Cluster.
#[derive(Clone, Debug)]
pub struct LocalClusterOptions {
    /// Primaries; the 16,384 slots are split evenly among them.
    pub primaries: usize,
    /// Replicas of each primary, for failover.
    pub replicas_per_primary: usize,
    /// Every node keeps an append-only file.
    pub append_only: bool,
    /// `redis-cli`; `FLASHSALE_REDIS_CLI` or `redis-cli` on the PATH.
    pub cli: PathBuf,
    /// How long to wait for every slot to be served.
    pub startup_timeout: Duration,
    /// Every node also listens for TLS, and the nodes speak TLS to each
    /// other: see [`LocalCluster::tls_url`].
    ///
    /// [`LocalCluster::tls_url`]: super::LocalCluster::tls_url
    pub tls: Option<LocalTls>,
    /// Every node keeps its ACL users in a file (see
    /// [`LocalRedisOptions::acl_file`]).
    ///
    /// [`LocalRedisOptions::acl_file`]: crate::local_redis::LocalRedisOptions::acl_file
    pub acl_file: bool,
}

impl Default for LocalClusterOptions {
    fn default() -> Self {
        Self {
            primaries: 3,
            replicas_per_primary: 0,
            append_only: false,
            cli: std::env::var_os("FLASHSALE_REDIS_CLI")
                .map_or_else(|| PathBuf::from("redis-cli"), PathBuf::from),
            startup_timeout: Duration::from_secs(30),
            tls: None,
            acl_file: false,
        }
    }
}
