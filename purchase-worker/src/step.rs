//! The purchase step: what "buying" a confirmed hold means (taking the
//! payment, telling fulfilment). Pluggable, so a shop brings its own.

use std::future::Future;

use reservation_core::Hold;

/// Why a purchase failed. The worker retries, then gives up and releases
/// the hold.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct PurchaseFailure(pub String);

pub trait PurchaseStep: Send + Sync + 'static {
    /// Buys `hold`. It may be called again for the same hold (after a crash),
    /// so it must be idempotent by `hold.id`.
    fn purchase(&self, hold: &Hold) -> impl Future<Output = Result<(), PurchaseFailure>> + Send;
}

/// Accepts every purchase: for shops that take payment before confirming.
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptAll;

impl PurchaseStep for AcceptAll {
    async fn purchase(&self, _: &Hold) -> Result<(), PurchaseFailure> {
        Ok(())
    }
}
