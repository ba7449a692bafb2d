//! A private `redis-server` on a free loopback port, in a temporary directory,
//! stopped when dropped. The demo runs on one when no Redis is configured, and
//! every test starts its own, so nothing ever touches a shared instance or the
//! default port.
//!
//! [`LocalCluster`] starts several of them as one Redis Cluster, for the tests
//! that run the engine the way a large deployment does.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use crate::local_cluster::{LocalCluster, LocalClusterOptions};

use tempfile::TempDir;

/// The default Redis port, which a private server never uses.
const SHARED_PORT: u16 = 6379;

/// Settings of a private Redis.
#[derive(Clone, Debug)]
pub struct LocalRedisOptions {
    /// The server binary; `FLASHSALE_REDIS_SERVER` or `redis-server` on the PATH.
    pub binary: PathBuf,
    /// Keep an append-only file, so data survives a restart.
    pub append_only: bool,
    /// With `append_only`, write the file to disk before every reply, so a
    /// killed server loses nothing it acknowledged (otherwise once a second,
    /// Redis's default, which a crash can cut short).
    pub fsync_every_write: bool,
    /// How long to wait for the server to answer PING.
    pub startup_timeout: Duration,
    /// Start as a Cluster node (`--cluster-enabled yes`), on a port whose
    /// Cluster bus port (port + 10000) is free too.
    pub cluster_node: bool,
}

impl Default for LocalRedisOptions {
    fn default() -> Self {
        Self {
            binary: std::env::var_os("FLASHSALE_REDIS_SERVER")
                .map_or_else(|| PathBuf::from("redis-server"), PathBuf::from),
            append_only: false,
            fsync_every_write: false,
            startup_timeout: Duration::from_secs(10),
            cluster_node: false,
        }
    }
}

/// A running private Redis.
pub struct LocalRedis {
    options: LocalRedisOptions,
    port: u16,
    dir: TempDir,
    child: Option<Child>,
}

impl LocalRedis {
    /// Starts a private Redis with default options.
    pub fn start() -> io::Result<Self> {
        Self::start_with(LocalRedisOptions::default())
    }

    pub fn start_with(options: LocalRedisOptions) -> io::Result<Self> {
        let mut last_error = None;
        // Another process may take the free port between our probe and the
        // server's bind; try a few.
        for _ in 0..5 {
            let port = if options.cluster_node {
                free_port_with_bus()?
            } else {
                free_port()?
            };
            let mut redis = Self {
                options: options.clone(),
                port,
                dir: tempfile::Builder::new()
                    .prefix("flashsale-redis-")
                    .tempdir()?,
                child: None,
            };
            match redis.spawn() {
                Ok(()) => return Ok(redis),
                Err(e) => last_error = Some(e),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("could not start redis-server")))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once, as a crash would.
    pub fn kill(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts the server again on the same port and directory (with
    /// `append_only`, its data comes back).
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill()?;
        self.spawn()
    }

    fn spawn(&mut self) -> io::Result<()> {
        let mut child = Command::new(&self.options.binary)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--daemonize", "no", "--protected-mode", "yes"])
            .args([
                "--appendonly",
                if self.options.append_only {
                    "yes"
                } else {
                    "no"
                },
            ])
            .args([
                "--appendfsync",
                if self.options.fsync_every_write {
                    "always"
                } else {
                    "everysec"
                },
            ])
            .args(if self.options.cluster_node {
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    // Failover within a few seconds, as a test can wait for.
                    "--cluster-node-timeout",
                    "1500",
                    // A replica syncs at once instead of waiting 5 s for
                    // others; one that never synced may not take over.
                    "--repl-diskless-sync-delay",
                    "0",
                ][..]
            } else {
                &[]
            })
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot run {}: {e}", self.options.binary.display()),
                )
            })?;
        let deadline = Instant::now() + self.options.startup_timeout;
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!(
                    "redis-server on port {} exited at start: {status}",
                    self.port
                )));
            }
            if answers_ping(self.port) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("redis-server on port {} did not answer PING", self.port),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for LocalRedis {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// A loopback port nobody listens on right now, never the shared default.
pub fn free_port() -> io::Result<u16> {
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        if port != SHARED_PORT {
            return Ok(port);
        }
    }
}

/// A free port whose Cluster bus port (port + 10000) is free as well.
fn free_port_with_bus() -> io::Result<u16> {
    for _ in 0..1000 {
        let port = free_port()?;
        if port <= u16::MAX - 10_000
            && TcpListener::bind((Ipv4Addr::LOCALHOST, port + 10_000)).is_ok()
        {
            return Ok(port);
        }
    }
    Err(io::Error::other(
        "no free port with a free Cluster bus port",
    ))
}

pub(crate) fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let mut answer = [0u8; 7];
    stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && &answer == b"+PONG\r\n"
}
