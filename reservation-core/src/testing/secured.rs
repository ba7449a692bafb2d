//! A private Redis reached the way a managed one is: over TLS, with a CA the
//! test makes and a client certificate required, as the ACL user that
//! `docs/operations.md` tells operators to create. The user's rules are read
//! from that page, so a command the engine starts to use and the page does
//! not allow fails these specs instead of a deployment.
//!
//! The plain port stays open to the harness's own (admin) connections, for
//! looking behind the engine.

use std::path::Path;

use crate::redis_config::{RedisConfig, RedisTls};

use super::TestCertificates;
use super::TestRedis;

/// The ACL user the documented rules create.
pub const ENGINE_USER: &str = "flashsale";
/// What the page writes where the operator chooses the password.
const PASSWORD_PLACEHOLDER: &str = ">CHOOSE-A-PASSWORD";
const PASSWORD: &str = "a-password-for-the-specs";
/// The line before the rules' block on the operations page.
const RULES_MARKER: &str =
    "<!-- the engine's ACL user; the TLS specs create it from this block -->";

/// How a secured private Redis is reached: its certificates and the
/// engine's ACL user.
pub struct SecuredAccess {
    certificates: TestCertificates,
    url: String,
    cluster: bool,
}

impl SecuredAccess {
    /// Creates the documented user on every server of `redis` (ACLs are
    /// per node) and returns how to reach it as that user.
    pub fn grant(redis: &TestRedis, certificates: TestCertificates) -> std::io::Result<Self> {
        let rules = documented_acl_rules();
        for node in redis.config().nodes() {
            let client = redis::Client::open(node).map_err(std::io::Error::other)?;
            let mut admin = client.get_connection().map_err(std::io::Error::other)?;
            for rule in &rules {
                redis::cmd("ACL")
                    .arg("SETUSER")
                    .arg(rule)
                    .query::<()>(&mut admin)
                    .map_err(|e| std::io::Error::other(format!("ACL SETUSER {rule:?}: {e}")))?;
            }
            // A restarted server reads its users back from its ACL file.
            redis::cmd("ACL")
                .arg("SAVE")
                .query::<()>(&mut admin)
                .map_err(|e| std::io::Error::other(format!("ACL SAVE: {e}")))?;
        }
        let tls_url = match redis {
            TestRedis::Single(redis) => redis.tls_url(),
            TestRedis::Cluster(cluster) => cluster.tls_url(),
        }
        .ok_or_else(|| std::io::Error::other("the private Redis was started without TLS"))?;
        let url = tls_url
            .split(',')
            .map(|node| {
                node.replacen(
                    "rediss://",
                    &format!("rediss://{ENGINE_USER}:{PASSWORD}@"),
                    1,
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        Ok(Self {
            certificates,
            url,
            cluster: matches!(redis, TestRedis::Cluster(_)),
        })
    }

    /// `rediss://flashsale:…@127.0.0.1:PORT`, or the Cluster's seeds so.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The client's certificates: the test's CA and a client certificate.
    pub fn tls(&self) -> RedisTls {
        self.certificates.client(true)
    }

    pub fn certificates(&self) -> &TestCertificates {
        &self.certificates
    }

    /// How the engine reaches it. Under the specs' storms of thousands of
    /// calls at once, a debug build's TLS (handshakes as a pool fills up,
    /// and encryption) takes longer than the default timeouts allow.
    pub fn config(&self) -> RedisConfig {
        RedisConfig {
            connect_timeout: std::time::Duration::from_secs(30),
            response_timeout: std::time::Duration::from_secs(30),
            ..RedisConfig::new(&self.url)
                .with_cluster(self.cluster)
                .with_tls(self.tls())
        }
    }
}

/// The `ACL SETUSER` arguments of each line of the operations page's block,
/// with the specs' password in place of the placeholder.
pub fn documented_acl_rules() -> Vec<Vec<String>> {
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/operations.md");
    let text =
        std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("read {}: {e}", page.display()));
    let block = text
        .split_once(RULES_MARKER)
        .and_then(|(_, after)| after.split_once("```"))
        .and_then(|(_, fenced)| fenced.split_once('\n'))
        .and_then(|(_, body)| body.split_once("```"))
        .map(|(body, _)| body)
        .unwrap_or_else(|| panic!("{} has no ACL block after {RULES_MARKER:?}", page.display()));
    block
        .lines()
        .filter_map(|line| line.trim().strip_prefix("ACL SETUSER "))
        .map(|rule| {
            rule.split_whitespace()
                .map(|word| {
                    if word == PASSWORD_PLACEHOLDER {
                        format!(">{PASSWORD}")
                    } else {
                        word.to_owned()
                    }
                })
                .collect()
        })
        .collect()
}
