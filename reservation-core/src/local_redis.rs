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
    /// Also listen for TLS on a port of its own (the plain port stays, for
    /// the harness): see [`LocalRedis::tls_url`].
    pub tls: Option<LocalTls>,
    /// Keep ACL users in a file in the server's directory: `ACL SAVE`
    /// writes it, and a restart reads it back.
    pub acl_file: bool,
}

/// A private Redis's TLS: its certificate and the CA its clients' certificates
/// must come from, as PEM files. A Cluster's nodes also speak TLS to each other.
#[derive(Clone, Debug)]
pub struct LocalTls {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    pub ca_file: PathBuf,
    /// Refuse clients without a certificate from the CA.
    pub require_client_cert: bool,
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
            tls: None,
            acl_file: false,
        }
    }
}

/// A running private Redis.
pub struct LocalRedis {
    options: LocalRedisOptions,
    port: u16,
    tls_port: Option<u16>,
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
            let tls_port = match options.tls {
                Some(_) => Some(free_port()?),
                None => None,
            };
            let mut redis = Self {
                options: options.clone(),
                port,
                tls_port,
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

    /// The TLS port, when started with TLS.
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    /// `rediss://127.0.0.1:TLS_PORT`, when started with TLS.
    pub fn tls_url(&self) -> Option<String> {
        self.tls_port
            .map(|port| format!("rediss://127.0.0.1:{port}"))
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
        let acl_file = self.dir.path().join("users.acl");
        if self.options.acl_file && !acl_file.exists() {
            // Redis refuses to start on an ACL file that is not there.
            std::fs::write(&acl_file, "")?;
        }
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
            .args(self.tls_args())
            .args(if self.options.acl_file {
                vec!["--aclfile".into(), acl_file.into_os_string()]
            } else {
                Vec::new()
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

impl LocalRedis {
    fn tls_args(&self) -> Vec<std::ffi::OsString> {
        let (Some(tls), Some(tls_port)) = (&self.options.tls, self.tls_port) else {
            return Vec::new();
        };
        let mut args: Vec<std::ffi::OsString> = vec![
            "--tls-port".into(),
            tls_port.to_string().into(),
            "--tls-cert-file".into(),
            tls.cert_file.clone().into(),
            "--tls-key-file".into(),
            tls.key_file.clone().into(),
            "--tls-ca-cert-file".into(),
            tls.ca_file.clone().into(),
            "--tls-auth-clients".into(),
            if tls.require_client_cert { "yes" } else { "no" }.into(),
        ];
        if self.options.cluster_node {
            // The bus stays on port + 10000 (with TLS it would otherwise
            // follow the TLS port), and nodes announce their TLS port to TLS
            // clients and their plain one to the harness.
            args.extend(
                [
                    "--tls-cluster".to_owned(),
                    "yes".to_owned(),
                    "--tls-replication".to_owned(),
                    "yes".to_owned(),
                    "--cluster-port".to_owned(),
                    (self.port + 10_000).to_string(),
                ]
                .map(Into::into),
            );
        }
        args
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
