//! A private Redis Cluster on loopback: several [`LocalRedis`] Cluster nodes
//! joined by `redis-cli --cluster create`, stopped when dropped. Tests use it
//! to run the engine on shards, and to fail a primary over.

use std::io;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::local_redis::{LocalRedis, LocalRedisOptions, LocalTls};

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
    pub tls: Option<LocalTls>,
    /// Every node keeps its ACL users in a file (see
    /// [`LocalRedisOptions::acl_file`]).
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

/// A running private Redis Cluster.
pub struct LocalCluster {
    options: LocalClusterOptions,
    nodes: Vec<LocalRedis>,
}

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

    /// The seed list the engine takes: every node, comma-separated.
    pub fn url(&self) -> String {
        self.nodes
            .iter()
            .map(LocalRedis::url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The seed list over TLS, when started with it.
    pub fn tls_url(&self) -> Option<String> {
        self.nodes
            .iter()
            .map(LocalRedis::tls_url)
            .collect::<Option<Vec<_>>>()
            .map(|urls| urls.join(","))
    }

    pub fn nodes(&self) -> &[LocalRedis] {
        &self.nodes
    }

    pub fn nodes_mut(&mut self) -> &mut [LocalRedis] {
        &mut self.nodes
    }

    /// Runs `redis-cli` against the node on `port` and returns what it printed.
    pub fn cli(&self, port: u16, args: &[&str]) -> io::Result<String> {
        let output = Command::new(&self.options.cli)
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot run {}: {e}", self.options.cli.display()),
                )
            })?;
        if !output.status.success() {
            // `redis-cli --cluster` reports its errors on standard output.
            return Err(io::Error::other(format!(
                "redis-cli {args:?} on port {port}: {}{}",
                String::from_utf8_lossy(&output.stderr),
                String::from_utf8_lossy(&output.stdout)
            )));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// The port of the primary that serves `key` right now.
    pub fn primary_of(&self, key: &str) -> io::Result<u16> {
        self.primary_serving(self.live_port()?, self.slot_of(key)?)
    }

    /// The ports of the primaries serving slots right now.
    pub fn primaries(&self) -> io::Result<Vec<u16>> {
        let nodes = self.cli(self.live_port()?, &["CLUSTER", "NODES"])?;
        Ok(serving_primaries(&nodes).map(|(port, _)| port).collect())
    }

    /// Moves the slot of `key`, with its keys, to the primary on port `to`,
    /// the way `redis-cli --cluster reshard` moves slots; returns once every
    /// primary agrees.
    pub fn move_slot_of(&self, key: &str, to: u16) -> io::Result<()> {
        let slot = self.slot_of(key)?.to_string();
        let from = self.primary_of(key)?;
        let id = |port| {
            self.cli(port, &["CLUSTER", "MYID"])
                .map(|id| id.trim().to_owned())
        };
        let (from_id, to_id) = (id(from)?, id(to)?);
        self.cli(to, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id])?;
        self.cli(from, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id])?;
        // Nodes that speak TLS to each other migrate over TLS too.
        let to_port = self
            .nodes
            .iter()
            .find(|node| node.port() == to)
            .and_then(LocalRedis::tls_port)
            .unwrap_or(to)
            .to_string();
        loop {
            let keys = self.cli(from, &["CLUSTER", "GETKEYSINSLOT", &slot, "100"])?;
            let keys: Vec<&str> = keys.lines().filter(|key| !key.is_empty()).collect();
            if keys.is_empty() {
                break;
            }
            let mut migrate = vec!["MIGRATE", "127.0.0.1", &to_port, "", "0", "5000", "KEYS"];
            migrate.extend(keys);
            self.cli(from, &migrate)?;
        }
        for port in self.primaries()? {
            self.cli(port, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id])?;
        }
        let slot: u16 = slot.parse().expect("a slot number");
        self.wait_for(&format!("slot {slot} to move to {to}"), || {
            Ok(self
                .live_nodes()
                .all(|port| self.primary_serving(port, slot).is_ok_and(|p| p == to)))
        })
    }

    /// Waits until every replica of the primary on `port` has all of its
    /// writes (replication is asynchronous: a test that kills a primary to
    /// see a failover, not lost writes, calls this first).
    pub fn wait_for_replicas_of(&self, port: u16) -> io::Result<()> {
        self.wait_for(&format!("the replicas of {port} to catch up"), || {
            Ok(replicas_caught_up(
                &self.cli(port, &["INFO", "replication"])?,
            ))
        })
    }

    /// Fails the primary on `port` over to one of its replicas, the way an
    /// operator does before maintenance (`CLUSTER FAILOVER` on the replica):
    /// the replica first takes every write of the primary, so nothing the
    /// primary acknowledged is lost. Returns the new primary's port once
    /// every slot is served again.
    pub fn fail_over(&self, port: u16) -> io::Result<u16> {
        let primary = self.cli(port, &["CLUSTER", "MYID"])?;
        let nodes = self.cli(port, &["CLUSTER", "NODES"])?;
        let replica = replicas_of(&nodes, primary.trim())
            .next()
            .ok_or_else(|| io::Error::other(format!("the primary on {port} has no replica")))?;
        self.cli(replica, &["CLUSTER", "FAILOVER"])?;
        self.wait_for(&format!("{replica} to take over from {port}"), || {
            Ok(self
                .cli(replica, &["INFO", "replication"])?
                .contains("role:master"))
        })?;
        self.wait_until_served()?;
        Ok(replica)
    }

    /// Polls `done` until it says yes, or fails after the startup timeout;
    /// a failing poll counts as a no.
    fn wait_for(&self, what: &str, mut done: impl FnMut() -> io::Result<bool>) -> io::Result<()> {
        let deadline = Instant::now() + self.options.startup_timeout;
        while !done().unwrap_or(false) {
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the private Redis Cluster: timed out waiting for {what}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn slot_of(&self, key: &str) -> io::Result<u16> {
        let slot = self.cli(self.live_port()?, &["CLUSTER", "KEYSLOT", key])?;
        slot.trim()
            .parse()
            .map_err(|_| io::Error::other(format!("CLUSTER KEYSLOT answered {slot:?}")))
    }

    /// The primary serving `slot` as the node on `port` sees it.
    fn primary_serving(&self, port: u16, slot: u16) -> io::Result<u16> {
        let nodes = self.cli(port, &["CLUSTER", "NODES"])?;
        primary_serving(&nodes, slot)
            .ok_or_else(|| io::Error::other(format!("no primary serves slot {slot}:\n{nodes}")))
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

    fn live_port(&self) -> io::Result<u16> {
        self.live_nodes()
            .next()
            .ok_or_else(|| io::Error::other("no node of the private Cluster answers"))
    }

    fn live_nodes(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes
            .iter()
            .map(LocalRedis::port)
            .filter(|&port| crate::local_redis::answers_ping(port))
    }
}

/// The port of the connected primary serving `slot`, from `CLUSTER NODES`.
fn primary_serving(nodes: &str, slot: u16) -> Option<u16> {
    serving_primaries(nodes)
        .find(|(_, ranges)| ranges.iter().any(|range| range.contains(&slot)))
        .map(|(port, _)| port)
}

/// The connected primaries in `CLUSTER NODES` that serve slots: each one's
/// port and slot ranges.
fn serving_primaries(nodes: &str) -> impl Iterator<Item = (u16, Vec<RangeInclusive<u16>>)> + '_ {
    nodes.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (address, flags, link) = (fields.get(1)?, fields.get(2)?, fields.get(7)?);
        if !flags.contains("master") || flags.contains("fail") || *link != "connected" {
            return None;
        }
        // "0-5460", "12000"; a slot being migrated ("[5000->-id]") is skipped.
        let ranges: Vec<RangeInclusive<u16>> = fields[8..]
            .iter()
            .filter_map(|range| {
                let mut bounds = range.split('-').map(str::parse::<u16>);
                match (bounds.next(), bounds.next()) {
                    (Some(Ok(first)), Some(Ok(last))) => Some(first..=last),
                    (Some(Ok(only)), None) => Some(only..=only),
                    _ => None,
                }
            })
            .collect();
        (!ranges.is_empty()).then_some((port_of(address)?, ranges))
    })
}

/// The ports of the connected replicas of the node `primary_id`, from
/// `CLUSTER NODES`.
fn replicas_of<'a>(nodes: &'a str, primary_id: &'a str) -> impl Iterator<Item = u16> + 'a {
    nodes.lines().filter_map(move |line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (address, flags, primary, link) = (
            fields.get(1)?,
            fields.get(2)?,
            fields.get(3)?,
            fields.get(7)?,
        );
        (flags.contains("slave")
            && !flags.contains("fail")
            && *primary == primary_id
            && *link == "connected")
            .then(|| port_of(address))?
    })
}

/// The port in a `CLUSTER NODES` address, "127.0.0.1:7000@17000".
fn port_of(address: &str) -> Option<u16> {
    address.split(['@', ':']).nth(1)?.parse().ok()
}

/// Whether a primary's `INFO replication` shows replicas, each online at
/// the primary's own offset.
fn replicas_caught_up(info: &str) -> bool {
    let field = |line: &str, name: &str| {
        line.split(',')
            .find_map(|pair| pair.trim().strip_prefix(name)?.strip_prefix('='))
            .map(str::to_owned)
    };
    let Some(offset) = info
        .lines()
        .find_map(|line| line.trim().strip_prefix("master_repl_offset:"))
    else {
        return false;
    };
    let replicas: Vec<&str> = info
        .lines()
        .filter(|line| line.starts_with("slave") && line.contains(":ip="))
        .collect();
    !replicas.is_empty()
        && replicas.iter().all(|line| {
            field(line, "state").as_deref() == Some("online")
                && field(line, "offset").as_deref() == Some(offset)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_which_primary_serves_a_slot() {
        let nodes = "\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7001@17001 master - 0 0 2 connected 5461-10922 12000
c3 127.0.0.1:7002@17002 master,fail - 0 0 3 disconnected 10923-16383
d4 127.0.0.1:7003@17003 slave a1 0 0 1 connected
";
        assert_eq!(primary_serving(nodes, 0), Some(7000));
        assert_eq!(primary_serving(nodes, 5461), Some(7001));
        assert_eq!(primary_serving(nodes, 12000), Some(7001));
        assert_eq!(primary_serving(nodes, 16000), None, "a failed primary");
        assert_eq!(replicas_of(nodes, "a1").collect::<Vec<_>>(), [7003]);
        assert_eq!(replicas_of(nodes, "b2").count(), 0);
    }

    #[test]
    fn reads_whether_replicas_have_caught_up() {
        let info = |offset: u32| {
            format!(
                "# Replication\nrole:master\nconnected_slaves:1\n\
                 slave0:ip=127.0.0.1,port=7003,state=online,offset={offset},lag=0\n\
                 master_repl_offset:420\n"
            )
        };
        assert!(replicas_caught_up(&info(420)));
        assert!(!replicas_caught_up(&info(400)));
        assert!(!replicas_caught_up(
            "role:master\nconnected_slaves:0\nmaster_repl_offset:420\n"
        ));
    }
}
