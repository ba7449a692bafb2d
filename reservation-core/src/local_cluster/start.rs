//! Forming a private Cluster: starting its nodes, joining them with
//! `redis-cli --cluster create` (with fresh nodes when that fails), and
//! waiting until every slot is served.

use std::io;

use super::{LocalCluster, LocalClusterOptions};
use crate::local_redis::{LocalRedis, LocalRedisOptions};

impl LocalCluster {
    /// Three primaries, no replicas.
    pub fn start() -> io::Result<Self> {
        Self::start_with(LocalClusterOptions::default())
    }

    pub fn start_with(options: LocalClusterOptions) -> io::Result<Self> {
        let count = options.primaries * (1 + options.replicas_per_primary);
        if options.primaries < 3 {
            return Err(io::Error::other("Redis Cluster needs at least 3 primaries"));
        }
        let node_options = LocalRedisOptions {
            append_only: options.append_only,
            cluster_node: true,
            tls: options.tls.clone(),
            acl_file: options.acl_file,
            ..LocalRedisOptions::default()
        };
        // Joining fresh nodes has failed, rarely, among a loaded machine's
        // parallel tests (a port probed free can be taken before a node binds
        // it); fresh nodes are tried then, and the error carries redis-cli's
        // own words.
        let mut last_error = None;
        for _ in 0..3 {
            let nodes = (0..count)
                .map(|_| LocalRedis::start_with(node_options.clone()))
                .collect::<io::Result<Vec<_>>>()?;
            let cluster = Self {
                options: options.clone(),
                nodes,
            };
            match cluster.create() {
                Ok(()) => {
                    cluster.wait_until_served()?;
                    return Ok(cluster);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the private Cluster did not form");
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.expect("at least one attempt"))
    }

    /// Waits until every slot is served by a primary that answers, as after
    /// a failover. The Cluster's own view, asked of a live node.
    pub fn wait_until_served(&self) -> io::Result<()> {
        self.wait_for("every slot to be served", || {
            let info = self.cli(self.live_port()?, &["CLUSTER", "INFO"])?;
            Ok(info.contains("cluster_state:ok")
                && info.contains("cluster_slots_ok:16384")
                && self.live_nodes().all(|port| {
                    self.cli(port, &["CLUSTER", "INFO"])
                        .is_ok_and(|info| info.contains("cluster_state:ok"))
                        // A replica counts once it has its primary's data.
                        && self.cli(port, &["INFO", "replication"]).is_ok_and(|info| {
                            info.contains("role:master") || info.contains("master_link_status:up")
                        })
                }))
        })
    }

    fn create(&self) -> io::Result<()> {
        let addresses: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port()))
            .collect();
        let mut args = vec!["--cluster", "create"];
        args.extend(addresses.iter().map(String::as_str));
        let replicas = self.options.replicas_per_primary.to_string();
        args.extend(["--cluster-replicas", &replicas, "--cluster-yes"]);
        self.cli(self.nodes[0].port(), &args).map(drop)
    }
}
