//! # purchase-worker
//!
//! Turns confirmed holds into sales and gives back the ones that are not
//! bought: it consumes the purchase stream with a consumer group, finalizes or
//! releases each hold through `reservation-core`, and sweeps due holds back
//! into stock.
//!
//! The crate is being built up; for now it only links the core, so the
//! workspace has its final shape.
