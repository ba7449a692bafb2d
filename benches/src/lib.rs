//! # flashsale-benches
//!
//! Measurements of the engine, each against a baseline taken in the same run
//! on the same machine (machines are noisy; ratios travel, absolute numbers
//! do not).
//!
//! - `benches/engine.rs` (criterion): the core's reserve path over one
//!   multiplexed connection, a pool, and one call at a time, plus stock-event
//!   decoding and key building. `cargo bench -p flashsale-benches` runs it;
//!   `cargo test -p flashsale-benches --benches` runs each bench once as a
//!   smoke test.
