//! `flashload watch`: many Socket.IO watchers while stock changes.
//!
//! Clients connect at `--connect-rate` (client i watches product i mod K),
//! then restocks of ±1 change the products at `--changes` per second over
//! gRPC. Each `stock` event is timed from its `at_ms` (when its script ran,
//! on this machine's clock) to its arrival. Relays conflate, so a client may
//! skip versions (counted, not an error); a version that goes backwards is an
//! error, and so is a client that has not reached its product's final version
//! once `--settle` is over.
//!
//! `command` tells the run's story step by step; `clients` connects the
//! watchers and receives their events, `changes` publishes the stock
//! changes, `recorder` keeps what the watchers saw and whether they
//! converged, `host` makes room for the sockets and reads the server's
//! memory (the crate's `cpu` reads what the window cost the server and
//! Redis), and `report` holds what comes out.

mod changes;
mod clients;
mod command;
mod host;
mod recorder;
mod report;

pub use command::run;
pub use report::WatchReport;
