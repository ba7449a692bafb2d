//! Failing a private Cluster's primary over to its replica, the way an
//! operator does before maintenance, and waiting until its replicas have all
//! of its writes.

use std::io;

use super::LocalCluster;
use super::replies::{replicas_caught_up, replicas_of};

impl LocalCluster {
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
}
