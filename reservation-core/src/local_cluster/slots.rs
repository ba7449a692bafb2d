//! A private Cluster's slots: which primary serves a key right now, which
//! primaries serve slots, and moving a key's slot to another primary the way
//! `redis-cli --cluster reshard` does.

use std::io;

use super::LocalCluster;
use super::replies::{primary_serving, serving_primaries};
use crate::local_redis::LocalRedis;

impl LocalCluster {
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
}
