//! What every handler shares: the engine, the reserve path, the stock feed,
//! the metrics and the node's shutdown signal.

use std::sync::Arc;

use reservation_core::{Engine, ReserveCoalescer, StockFeed};
use tokio_util::sync::CancellationToken;

use crate::auth::MerchantTokens;
use crate::identity::Identity;
use crate::limits::Limits;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct App {
    pub engine: Engine,
    /// The reserve path: reserves for one product coalesced into shared calls.
    pub reserves: Arc<ReserveCoalescer>,
    pub feed: StockFeed,
    pub metrics: Arc<Metrics>,
    /// Accepted for merchant calls, over gRPC and the dashboard's HTTP API.
    pub merchant_tokens: MerchantTokens,
    /// Rate limits and socket caps against abuse.
    pub limits: Arc<Limits>,
    /// How shoppers are named on HTTP and Socket.IO.
    pub identity: Identity,
    /// Cancelled when the node starts to shut down. Calls that would last as
    /// long as their client (`WatchStock` streams) end themselves on it, so
    /// that the drain can finish.
    pub draining: CancellationToken,
}

impl App {
    /// Runs an engine call and counts its outcome under `operation`.
    pub async fn call<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = reservation_core::Result<T>>,
    ) -> reservation_core::Result<T> {
        let result = call.await;
        self.metrics.outcome(operation, &result);
        result
    }
}
