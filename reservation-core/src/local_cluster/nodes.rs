//! Reaching a private Cluster's nodes: the seed lists the engine takes,
//! `redis-cli` run against one node, which nodes answer, and polling the
//! Cluster until a condition holds.

use std::io;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::LocalCluster;
use crate::local_redis::LocalRedis;

impl LocalCluster {
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

    /// Polls `done` until it says yes, or fails after the startup timeout;
    /// a failing poll counts as a no.
    pub(super) fn wait_for(
        &self,
        what: &str,
        mut done: impl FnMut() -> io::Result<bool>,
    ) -> io::Result<()> {
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

    pub(super) fn live_port(&self) -> io::Result<u16> {
        self.live_nodes()
            .next()
            .ok_or_else(|| io::Error::other("no node of the private Cluster answers"))
    }

    pub(super) fn live_nodes(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes
            .iter()
            .map(LocalRedis::port)
            .filter(|&port| crate::local_redis::answers_ping(port))
    }
}
