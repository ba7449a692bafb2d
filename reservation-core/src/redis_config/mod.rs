//! Where Redis is and how to reach it: one node or a Cluster's seeds, the
//! connection strategy, timeouts, and TLS.
//!
//! `rediss://` URLs speak TLS (rustls): the server's certificate is checked
//! against the system's roots, or against [`RedisTls::ca_file`] for a
//! private CA, and [`RedisTls::client_cert_file`] adds a client certificate
//! for servers that ask for one. An ACL user and its password ride in the
//! URL (`rediss://user:password@host:port`), on a Cluster in every seed's.
//! Every client the engine makes (single node, pool, Cluster, and the stock
//! feed's subscribers) is built here, so all of them share the same settings.
//!
//! Every connection turns Nagle's algorithm off, which the redis crate leaves
//! on. Calls are small writes, and with it a call written while an earlier
//! one's bytes are still unacknowledged waits for that acknowledgement: on a
//! pipelined connection the second call in flight would wait for the first
//! one's answer.

mod redact;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::io::tcp::TcpSettings;
use redis::{ClientTlsConfig, IntoConnectionInfo, PushInfo, TlsCertificates};
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use redact::{redact_password, starts_with_scheme};

/// Which connection strategy to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionMode {
    /// One connection shared by every call, commands pipelined on it.
    Multiplexed,
    /// A pool of up to `size` connections, one per call in flight.
    Pooled { size: usize },
}

/// Where Redis is and how to reach it. Its `Debug` shows
/// [`RedisConfig::redacted_url`], never the password.
#[derive(Clone)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]` (`rediss://` for TLS), or on
    /// Redis Cluster a comma-separated list of seed nodes
    /// (`redis://a:7000,redis://b:7000`).
    pub url: String,
    /// Talk to a Redis Cluster. Set by [`RedisConfig::new`] when `url` lists
    /// more than one node; a single seed needs [`RedisConfig::with_cluster`].
    pub cluster: bool,
    /// Single node only: Cluster always multiplexes, one connection per shard.
    pub mode: ConnectionMode,
    /// How long to wait for a connection (new, or from the pool).
    pub connect_timeout: Duration,
    /// How long to wait for an answer to one call.
    pub response_timeout: Duration,
    /// Certificates for `rediss://` URLs.
    pub tls: RedisTls,
}

/// Certificates for `rediss://` URLs, as PEM files. Without any, the
/// server's certificate is checked against the system's roots.
#[derive(Clone, Debug, Default)]
pub struct RedisTls {
    /// The CA (or CAs) that sign the servers' certificates, in place of the
    /// system's roots: for a private CA.
    pub ca_file: Option<PathBuf>,
    /// A client certificate, for servers that check clients (with
    /// `client_key_file`).
    pub client_cert_file: Option<PathBuf>,
    /// The client certificate's private key.
    pub client_key_file: Option<PathBuf>,
}

impl RedisTls {
    fn is_set(&self) -> bool {
        self.ca_file.is_some() || self.client_cert_file.is_some() || self.client_key_file.is_some()
    }

    /// The files' contents, as the redis crate takes them.
    fn certificates(&self) -> Result<TlsCertificates> {
        let client_tls = match (&self.client_cert_file, &self.client_key_file) {
            (Some(cert), Some(key)) => Some(ClientTlsConfig {
                client_cert: read_pem("redis_client_cert", cert)?,
                client_key: read_pem("redis_client_key", key)?,
            }),
            (None, None) => None,
            _ => {
                return Err(Error::InvalidArgument {
                    field: "redis_client_cert",
                    reason: "a client certificate needs its key, and a key its certificate"
                        .to_owned(),
                });
            }
        };
        let root_cert = match &self.ca_file {
            Some(ca) => Some(read_pem("redis_ca_file", ca)?),
            None => None,
        };
        Ok(TlsCertificates {
            client_tls,
            root_cert,
        })
    }
}

fn read_pem(field: &'static str, path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::InvalidArgument {
        field,
        reason: format!("cannot read {}: {e}", path.display()),
    })
}

impl RedisConfig {
    pub fn new(url: impl Into<String>) -> Self {
        let url = url.into();
        Self {
            cluster: url.contains(','),
            url,
            mode: ConnectionMode::Multiplexed,
            connect_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
            tls: RedisTls::default(),
        }
    }

    pub fn with_mode(mut self, mode: ConnectionMode) -> Self {
        self.mode = mode;
        self
    }

    /// With `cluster`, the URL is a Redis Cluster node even when it names
    /// only one (a list of nodes is a Cluster either way).
    pub fn with_cluster(mut self, cluster: bool) -> Self {
        self.cluster |= cluster;
        self
    }

    pub fn with_tls(mut self, tls: RedisTls) -> Self {
        self.tls = tls;
        self
    }

    /// The nodes `url` names, one URL each.
    pub fn nodes(&self) -> Vec<&str> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|node| !node.is_empty())
            .collect()
    }

    /// The URL with any password replaced by `***`, for logs and errors:
    /// the one in `user:password@`, and a `pass=` (or other password-like)
    /// query parameter, as `redis+unix:///path?pass=password` carries it.
    ///
    /// A URL that does not parse is redacted too, since that is when it
    /// gets printed: a password with a raw `/`, `?`, `#`, `@` or `,` is
    /// hidden whole, at the cost of hiding a little more than it.
    pub fn redacted_url(&self) -> String {
        // A comma splits nodes only where the next one starts with a scheme:
        // elsewhere it is inside the previous node, maybe in its password.
        let mut nodes: Vec<String> = Vec::new();
        for piece in self.nodes() {
            match nodes.last_mut() {
                Some(node) if !starts_with_scheme(piece) => {
                    node.push(',');
                    node.push_str(piece);
                }
                _ => nodes.push(piece.to_owned()),
            }
        }
        nodes
            .iter()
            .map(|node| redact_password(node))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether the URL asks for TLS.
    pub fn uses_tls(&self) -> bool {
        self.nodes()
            .iter()
            .any(|node| node.starts_with("rediss://"))
    }

    /// A client for the Cluster's seed nodes; `response_timeout` bounds each
    /// call.
    pub(crate) fn cluster_client(&self, response_timeout: Duration) -> Result<ClusterClient> {
        self.cluster_builder(response_timeout)?
            .build()
            .map_err(invalid_url)
    }

    /// A Cluster client whose connections hand pub/sub messages (RESP3
    /// pushes) to `pushes`, and subscribe again by themselves after a
    /// failover or a slot move.
    pub(crate) fn cluster_subscriber(
        &self,
        pushes: mpsc::UnboundedSender<PushInfo>,
    ) -> Result<ClusterClient> {
        self.cluster_builder(self.response_timeout)?
            .use_protocol(redis::ProtocolVersion::RESP3)
            .push_sender(pushes)
            .build()
            .map_err(invalid_url)
    }

    fn cluster_builder(&self, response_timeout: Duration) -> Result<ClusterClientBuilder> {
        let mut builder = ClusterClient::builder(self.nodes())
            .tcp_settings(tcp_settings())
            .connection_timeout(self.connect_timeout)
            .response_timeout(response_timeout)
            .retries(2);
        if self.tls.is_set() {
            self.refuse_tls_settings_without_tls()?;
            builder = builder.certs(self.tls.certificates()?);
        }
        Ok(builder)
    }

    /// A client for one node.
    pub(crate) fn client(&self) -> Result<redis::Client> {
        let info = self.connection_info()?;
        if self.tls.is_set() {
            self.refuse_tls_settings_without_tls()?;
            redis::Client::build_with_tls(info, self.tls.certificates()?).map_err(invalid_url)
        } else {
            redis::Client::open(info).map_err(invalid_url)
        }
    }

    /// Certificates given for a URL that does not use TLS are a mistake the
    /// operator should hear of, not a setting quietly ignored.
    fn refuse_tls_settings_without_tls(&self) -> Result<()> {
        if self.uses_tls() {
            Ok(())
        } else {
            Err(Error::InvalidArgument {
                field: "redis_url",
                reason: "TLS certificates are set, but the URL is not rediss://".to_owned(),
            })
        }
    }

    /// A single node's address and settings.
    fn connection_info(&self) -> Result<redis::ConnectionInfo> {
        Ok(self
            .url
            .as_str()
            .into_connection_info()
            .map_err(invalid_url)?
            .set_tcp_settings(tcp_settings()))
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured so that a new field cannot be left out unseen.
        let Self {
            url: _,
            cluster,
            mode,
            connect_timeout,
            response_timeout,
            tls,
        } = self;
        f.debug_struct("RedisConfig")
            .field("url", &self.redacted_url())
            .field("cluster", cluster)
            .field("mode", mode)
            .field("connect_timeout", connect_timeout)
            .field("response_timeout", response_timeout)
            .field("tls", tls)
            .finish()
    }
}

fn tcp_settings() -> TcpSettings {
    TcpSettings::default().set_nodelay(true)
}

pub(crate) fn invalid_url(e: impl std::fmt::Display) -> Error {
    Error::InvalidArgument {
        field: "redis_url",
        reason: e.to_string(),
    }
}
