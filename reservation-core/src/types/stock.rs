//! A product's stock at one version, as stock events publish it and the
//! HTTP API shows it.

use serde::{Deserialize, Serialize};

use super::Sku;

/// A product's stock at one version. Stock events carry exactly this, and the
/// HTTP API shows a product's stock in the same shape.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockSnapshot {
    pub sku: Sku,
    pub available: i64,
    pub held: i64,
    pub sold: i64,
    pub total: i64,
    /// Grows by one with every change; a client keeps the highest it has seen.
    pub version: u64,
    /// When this version was written, ms since the epoch.
    pub at_ms: i64,
    /// The merchant holds the sale shut (see
    /// [`ProductUpdate::paused`](super::ProductUpdate::paused)). A
    /// setting, not stock, but it says whether the units can be had now, so
    /// live pages and watchers learn of a pause with the version it made.
    #[serde(default)]
    pub paused: bool,
}

/// What the engine publishes on a product's stock channel after every change.
pub type StockEvent = StockSnapshot;

impl StockSnapshot {
    /// Decodes a stock event as published by the scripts.
    pub fn from_json(raw: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(raw)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a snapshot always serializes")
    }
}
