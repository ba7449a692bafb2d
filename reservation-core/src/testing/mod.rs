//! The shared test harness: an engine on a private Redis, plus helpers to
//! build requests and to listen to what the scripts publish. Every test suite
//! of the workspace starts from here instead of copying its own set-up.
//!
//! Compiled only with the `testing` feature.
//!
//! With `FLASHSALE_TEST_REDIS=cluster` in the environment every test engine
//! runs on a private three-primary Redis Cluster instead of a single node, so
//! the same specifications hold on both (`.ci/test` runs the core's suite
//! both ways).

mod behind;
mod certificates;
mod config_docs;
mod engine;
mod fixtures;
mod listen;
mod push;
mod requests;
mod secured;
mod servers;
mod stats;

pub use behind::RawConnection;
pub use certificates::TestCertificates;
pub use config_docs::{CONFIGURATION_PAGE, check_generated_block, settings_table};
pub use engine::{START_MS, TestEngine, TestOptions};
pub use listen::drain;
pub use push::{
    EXAMPLE_PUSH_SERVICES, TEST_ENDPOINTS, product_as_read, push_subscription, push_subscription_n,
};
pub use requests::{cart, customer_of, request_of, reserve, sku_of};
pub use secured::{ENGINE_USER, SecuredAccess, documented_acl_rules};
pub use servers::{TestRedis, on_cluster, on_tls_acl};
pub use stats::CommandCalls;
