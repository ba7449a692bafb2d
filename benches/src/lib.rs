//! # flashsale-benches
//!
//! `flashload`, the load generator for the reserve path and the fan-out, and
//! criterion benches of the engine's hot paths. Every figure is meant to be
//! read against a baseline taken in the same run on the same machine
//! (machines are noisy; ratios travel, absolute numbers do not).
//!
//! - `flashload reserve` ([`reserve`]): shoppers reserving over gRPC, in a
//!   closed loop or on an open-loop schedule (coordinated omission
//!   corrected), then a check of the books against the server's audit.
//! - `flashload watch` ([`watch`]): thousands of Socket.IO watchers while
//!   stock changes; publish→receive latency, convergence, memory per client.
//! - `flashload baseline` ([`baseline`]): `redis-benchmark` running the
//!   engine's own reserve script, the physical limit of the reserve path.
//! - `flashload audit` ([`audit`]): a product's books as the server audits
//!   them, as JSON.
//! - `flashload torture` ([`torture`]): a deployment of its own under load
//!   while its processes and Redis are killed and restarted, then every
//!   book checked.
//! - `flashload push-opening` ([`push`]): a sale opening to many "notify
//!   me" subscribers; web pushes per second from one purchase worker, and
//!   purchases and expiries timed beside them.
//! - `benches/engine.rs` (criterion): the core's reserve path one call at a
//!   time, over a pool and over one multiplexed (pipelining) connection;
//!   stock-event encoding and decoding; key building.
//!
//! `README.md` in this folder says how to reproduce every figure.

pub mod alarm;
pub mod audit;
pub mod baseline;
pub mod cli;
mod cpu;
pub mod latency;
pub mod merchant;
pub mod outcome;
pub mod output;
pub mod plot;
pub mod profile;
pub mod progress;
pub mod push;
pub mod report;
pub mod reserve;
pub mod run;
pub mod setup;
pub mod slo;
pub mod socket;
pub mod torture;
pub mod traffic;
pub mod watch;
