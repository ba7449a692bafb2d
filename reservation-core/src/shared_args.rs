//! The settings both binaries take alike (flags or `FLASHSALE_*`
//! variables): how to reach Redis (its wait, Cluster and TLS settings), and
//! what every process of a deployment must agree on.

use std::path::PathBuf;
use std::time::Duration;

use crate::engine::EngineConfig;
use crate::keys::{Partitions, Retention};
use crate::redis_config::{RedisConfig, RedisTls};

/// What every api-server and worker of one deployment must agree on.
#[derive(clap::Args, Clone, Debug)]
pub struct DeploymentArgs {
    /// How long (ms) a confirmed hold may wait for its purchase before the
    /// workers' sweep enqueues it again. Give every process the same.
    #[arg(long, env = "FLASHSALE_PURCHASE_TIMEOUT_MS", default_value_t = 300_000)]
    pub purchase_timeout_ms: u64,

    /// How many partitions the purchase streams and the sweep index are split
    /// into; every process of a deployment must use the same count.
    #[arg(long, env = "FLASHSALE_PARTITIONS", default_value_t = Partitions::default())]
    pub partitions: Partitions,

    /// How long an ended hold is kept (and with it its request_id, for
    /// retries): every process of a deployment must use the same. Below 24h
    /// a retry older than it makes a new hold.
    #[arg(long, env = "FLASHSALE_HOLD_RETENTION", default_value = "24h", value_parser = parse_retention)]
    pub hold_retention: Retention,

    /// How long before a HELD hold's deadline its owner gets an "expires
    /// soon" hold event (0s: never); only holds that live longer get one.
    /// Every api-server and worker of a deployment should use the same.
    #[arg(long, env = "FLASHSALE_EXPIRY_NOTICE", default_value = "30s", value_parser = humantime::parse_duration)]
    pub expiry_notice: Duration,
}

impl DeploymentArgs {
    /// `config` with these settings.
    pub fn apply(&self, config: EngineConfig) -> EngineConfig {
        EngineConfig {
            purchase_timeout: Duration::from_millis(self.purchase_timeout_ms),
            partitions: self.partitions,
            retention: self.hold_retention,
            expiry_notice: self.expiry_notice,
            ..config
        }
    }
}

fn parse_retention(text: &str) -> Result<Retention, String> {
    let length = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    Retention::new(length).ok_or_else(|| format!("a retention is at least 1s, not {text}"))
}

/// How to reach Redis, beside its URL (which each binary declares: the
/// api-server's is optional in demo mode).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RedisArgs {
    /// How long (ms) to wait at start for a Redis that cannot answer yet
    /// (still starting, or loading its data after a restart).
    #[arg(long, env = "FLASHSALE_REDIS_WAIT_MS", default_value_t = 30_000)]
    pub redis_wait_ms: u64,

    /// The Redis URL is a Redis Cluster node (implied by a list of nodes).
    #[arg(long, env = "FLASHSALE_REDIS_CLUSTER")]
    pub redis_cluster: bool,

    /// For rediss:// URLs: a PEM file of the CA(s) that sign the Redis
    /// servers' certificates, in place of the system's roots (a private CA).
    #[arg(long, env = "FLASHSALE_REDIS_CA_FILE")]
    pub redis_ca_file: Option<PathBuf>,

    /// For rediss:// URLs: a PEM client certificate, for servers that check
    /// clients' certificates (with --redis-client-key).
    #[arg(
        long,
        env = "FLASHSALE_REDIS_CLIENT_CERT",
        requires = "redis_client_key"
    )]
    pub redis_client_cert: Option<PathBuf>,

    /// The PEM private key of --redis-client-cert.
    #[arg(
        long,
        env = "FLASHSALE_REDIS_CLIENT_KEY",
        requires = "redis_client_cert"
    )]
    pub redis_client_key: Option<PathBuf>,
}

impl RedisArgs {
    /// How to reach the Redis at `url` with these settings.
    pub fn config(&self, url: &str) -> RedisConfig {
        RedisConfig::new(url)
            .with_cluster(self.redis_cluster)
            .with_tls(RedisTls {
                ca_file: self.redis_ca_file.clone(),
                client_cert_file: self.redis_client_cert.clone(),
                client_key_file: self.redis_client_key.clone(),
            })
    }

    /// How long to wait at start for a Redis that cannot answer yet.
    pub fn wait(&self) -> Duration {
        Duration::from_millis(self.redis_wait_ms)
    }
}

/// Where the deployment's VAPID private key comes from (web push): the
/// same for every api-server and worker.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct VapidArgs {
    /// A file holding the VAPID private key: PEM (SEC1 `EC PRIVATE KEY` or
    /// PKCS#8 `PRIVATE KEY`) or the raw 32 bytes as base64url.
    #[arg(long, env = "FLASHSALE_VAPID_PRIVATE_KEY_FILE")]
    pub vapid_private_key_file: Option<PathBuf>,

    /// The VAPID private key itself, the raw 32 bytes as base64url (as
    /// `npx web-push generate-vapid-keys` prints it).
    #[arg(
        long,
        env = "FLASHSALE_VAPID_PRIVATE_KEY",
        hide_env_values = true,
        conflicts_with = "vapid_private_key_file",
        // base64url may start with '-'.
        allow_hyphen_values = true
    )]
    pub vapid_private_key: Option<String>,
}

impl VapidArgs {
    /// The key given, if any.
    pub fn load(&self) -> crate::Result<Option<crate::VapidKey>> {
        match (&self.vapid_private_key_file, &self.vapid_private_key) {
            (Some(path), _) => crate::VapidKey::read_file(path).map(Some),
            (None, Some(text)) => crate::VapidKey::from_base64url(text).map(Some),
            (None, None) => Ok(None),
        }
    }
}
