//! The deployment a torture run attacks, all on loopback: a private Redis
//! with an append-only file (or a private Cluster with a replica per
//! primary), one api-server and two purchase-worker processes built from this
//! workspace, and the faults done to them.
//!
//! The servers are the real binaries, so a fault is what it would be in
//! production: SIGKILL ends a process between any two instructions, and a
//! restarted process starts from nothing but Redis.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use reservation_core::local_redis::{
    LocalCluster, LocalClusterOptions, LocalRedis, LocalRedisOptions, free_port,
};
use reservation_core::{Engine, EngineConfig, RedisConfig};
use tempfile::TempDir;

/// The merchant token the run's api-server accepts.
pub const MERCHANT_TOKEN: &str = "torture";

/// How long a confirmed hold may wait for its purchase before a sweeper
/// enqueues it again: short, so a confirm whose enqueue died with the
/// api-server is bought within the run.
const PURCHASE_TIMEOUT_MS: &str = "3000";
/// How long a killed worker's jobs stay pending before another claims them.
const CLAIM_IDLE_MS: &str = "2000";

/// Where Redis runs.
enum Store {
    Single(LocalRedis),
    Cluster(LocalCluster),
}

/// One server process and how to start it again.
struct Process {
    name: String,
    program: PathBuf,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    fn start(name: &str, program: PathBuf, args: Vec<String>, logs: &Path) -> Result<Self> {
        let mut process = Self {
            name: name.to_owned(),
            program,
            args,
            log: logs.join(format!("{name}.log")),
            child: None,
        };
        process.spawn()?;
        Ok(process)
    }

    fn spawn(&mut self) -> Result<()> {
        // Appended to, so a restarted process's log follows its first life.
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("open {}", self.log.display()))?;
        let child = Command::new(&self.program)
            .args(&self.args)
            .env("FLASHSALE_MERCHANT_TOKENS", MERCHANT_TOKEN)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {}", self.program.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL: the process gets no chance to finish anything.
    fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child
                .kill()
                .with_context(|| format!("kill the {}", self.name))?;
            child.wait()?;
        }
        Ok(())
    }

    /// Fails when the process has exited on its own: nothing in a torture
    /// run may crash a server.
    fn check_alive(&mut self) -> Result<()> {
        if let Some(child) = &mut self.child
            && let Some(status) = child.try_wait()?
        {
            bail!(
                "the {} exited on its own ({status}); its log: {}",
                self.name,
                self.log.display()
            );
        }
        Ok(())
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// The binaries a run starts, from this workspace's build.
#[derive(Clone, Debug)]
pub struct Binaries {
    pub api_server: PathBuf,
    pub purchase_worker: PathBuf,
}

impl Binaries {
    /// The binaries in `dir`, or beside flashload's own executable, where
    /// cargo puts every binary of the workspace.
    pub fn find(dir: Option<&Path>) -> Result<Self> {
        let dir = match dir {
            Some(dir) => dir.to_owned(),
            None => std::env::current_exe()?
                .parent()
                .context("flashload's own directory")?
                .to_owned(),
        };
        let binaries = Self {
            api_server: dir.join("api-server"),
            purchase_worker: dir.join("purchase-worker"),
        };
        for binary in [&binaries.api_server, &binaries.purchase_worker] {
            if !binary.is_file() {
                bail!(
                    "{} is missing: build the workspace first (cargo build --workspace, \
                     with --release for a release flashload), or give --bin-dir",
                    binary.display()
                );
            }
        }
        Ok(binaries)
    }
}

/// The running deployment.
pub struct Deployment {
    store: Store,
    redis: RedisConfig,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    api_server: Process,
    workers: Vec<Process>,
    /// The processes' logs; kept when the run fails.
    logs: TempDir,
}

impl Deployment {
    /// Starts Redis, the api-server and two workers, and waits until the
    /// api-server answers.
    pub async fn start(binaries: &Binaries, cluster: bool) -> Result<Self> {
        let (store, url) = if cluster {
            let cluster = LocalCluster::start_with(LocalClusterOptions {
                replicas_per_primary: 1,
                append_only: true,
                ..LocalClusterOptions::default()
            })
            .context("start a private Redis Cluster")?;
            let url = cluster.url();
            (Store::Cluster(cluster), url)
        } else {
            let redis = LocalRedis::start_with(LocalRedisOptions {
                append_only: true,
                fsync_every_write: true,
                ..LocalRedisOptions::default()
            })
            .context("start a private Redis")?;
            let url = redis.url();
            (Store::Single(redis), url)
        };
        let redis = RedisConfig::new(&url).with_cluster(cluster);
        let logs = tempfile::Builder::new()
            .prefix("flashload-torture-")
            .tempdir()?;
        let loopback = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let (grpc_addr, http_addr) = (loopback(free_port()?), loopback(free_port()?));

        // What every server is told: where Redis is, and when a confirmed
        // hold's purchase counts as lost.
        let mut common = vec![
            "--redis-url",
            &url,
            "--purchase-timeout-ms",
            PURCHASE_TIMEOUT_MS,
        ];
        if cluster {
            common.push("--redis-cluster");
        }
        let with_common = |own: &[&str]| -> Vec<String> {
            own.iter()
                .chain(&common)
                .map(|arg| arg.to_string())
                .collect()
        };
        let api_server = Process::start(
            "api-server",
            binaries.api_server.clone(),
            with_common(&[
                "--grpc-addr",
                &grpc_addr.to_string(),
                "--http-addr",
                &http_addr.to_string(),
                // Its own, not the default: two runs may share the machine.
                "--admin-addr",
                &loopback(free_port()?).to_string(),
                "--insecure-customer-header",
            ]),
            logs.path(),
        )?;
        let mut workers = Vec::new();
        for n in 0..2 {
            workers.push(Process::start(
                &format!("purchase-worker-{n}"),
                binaries.purchase_worker.clone(),
                with_common(&[
                    "--name",
                    &format!("torture-worker-{n}"),
                    "--admin-addr",
                    &loopback(free_port()?).to_string(),
                    "--claim-idle-ms",
                    CLAIM_IDLE_MS,
                ]),
                logs.path(),
            )?);
        }
        let deployment = Self {
            store,
            redis,
            grpc_addr,
            http_addr,
            api_server,
            workers,
            logs,
        };
        deployment.wait_for_api_server().await?;
        Ok(deployment)
    }

    /// An engine on the deployment's Redis, for the run's own sweeper and
    /// its checks.
    pub async fn engine(&self) -> Result<Engine> {
        Ok(Engine::connect(&self.redis, EngineConfig::default()).await?)
    }

    pub fn on_cluster(&self) -> bool {
        matches!(self.store, Store::Cluster(_))
    }

    /// SIGKILLs purchase worker `n`; [`Deployment::restart_worker`] brings it
    /// back.
    pub fn kill_worker(&mut self, n: usize) -> Result<()> {
        self.workers[n].kill()
    }

    pub fn restart_worker(&mut self, n: usize) -> Result<()> {
        self.workers[n].spawn()
    }

    /// SIGKILLs the api-server and starts it again on the same ports.
    pub async fn restart_api_server(&mut self) -> Result<()> {
        self.api_server.kill()?;
        self.api_server.spawn()?;
        self.wait_for_api_server().await
    }

    /// A single Redis: SIGKILL, then a start from its append-only file. A
    /// Cluster: the primary serving `key` is failed over to its replica, then
    /// the old primary is SIGKILLed and started again (it comes back as a
    /// replica). Returns what was done, in words.
    pub async fn fault_redis(&mut self, key: &str) -> Result<String> {
        let key = key.to_owned();
        // The harness's own calls block while the server restarts.
        let store = &mut self.store;
        tokio::task::block_in_place(move || match store {
            Store::Single(redis) => {
                redis.restart().context("restart Redis")?;
                Ok(format!(
                    "Redis on port {} killed and restarted from its append-only file",
                    redis.port()
                ))
            }
            Store::Cluster(cluster) => {
                let old = cluster.primary_of(&key)?;
                let new = cluster.fail_over(old)?;
                let node = cluster
                    .nodes_mut()
                    .iter_mut()
                    .find(|node| node.port() == old)
                    .context("the old primary among the Cluster's nodes")?;
                node.restart()?;
                cluster.wait_until_served()?;
                Ok(format!(
                    "primary {old} failed over to {new}, then killed and restarted as a replica"
                ))
            }
        })
    }

    /// Fails when a server process has exited without being told to.
    pub fn check_alive(&mut self) -> Result<()> {
        self.api_server.check_alive()?;
        self.workers.iter_mut().try_for_each(Process::check_alive)
    }

    /// Keeps the processes' logs for a failed run; returns where they are.
    pub fn keep_logs(self) -> PathBuf {
        let Self {
            logs,
            api_server,
            workers,
            ..
        } = self;
        drop((api_server, workers));
        logs.keep()
    }

    async fn wait_for_api_server(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(self.grpc_addr).is_err() {
            if Instant::now() > deadline {
                bail!(
                    "the api-server did not listen on {} within 30 s; its log: {}",
                    self.grpc_addr,
                    self.api_server.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}
