//! # api-server
//!
//! The engine's front door: merchants' back-ends over gRPC (`flashsale.v1`,
//! [`grpc`]), shoppers over HTTP JSON and the web pages ([`http`]), and live
//! stock pushed to browsers over Socket.IO ([`live`]). A thin
//! layer over `reservation-core`: handlers turn a request into one engine call
//! and the engine's answer or error into the wire's.
//!
//! [`RunningServer::start`] runs both on their own listeners, and
//! `/metrics` and the probes on a third, the admin listener; the binary in
//! `main.rs` only reads configuration, wires the engine and waits for a
//! signal to shut down.

mod admin_listener;
mod app;
pub mod auth;
pub mod grpc;
pub mod http;
mod http_error;
pub mod identity;
pub mod limits;
pub mod live;
mod metrics;
mod peer;
pub mod server;
#[cfg(feature = "testing")]
pub mod testing;

pub use auth::MerchantTokens;
pub use grpc::GrpcOptions;
pub use http::{HttpOptions, PushOptions};
pub use identity::{CustomerTokens, Identity, JwtOptions, ShopJwts, ShopTokens};
pub use limits::LimitOptions;
pub use live::LiveOptions;
pub use server::{RunningServer, ServeError, ServerConfig};
