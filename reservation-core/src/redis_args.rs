//! The TLS settings of the Redis connection, as every binary takes them
//! (flags or `FLASHSALE_*` variables), so that the api-server and the
//! workers read them alike.

use std::path::PathBuf;

use crate::redis_config::RedisTls;

/// Certificates for a `rediss://` Redis URL.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct RedisTlsArgs {
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

impl RedisTlsArgs {
    pub fn tls(&self) -> RedisTls {
        RedisTls {
            ca_file: self.redis_ca_file.clone(),
            client_cert_file: self.redis_client_cert.clone(),
            client_key_file: self.redis_client_key.clone(),
        }
    }
}
