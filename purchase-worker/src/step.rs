//! The purchase step: what "buying" a confirmed hold means (taking the
//! payment, telling fulfilment). Pluggable, so a shop brings its own: in
//! Rust, or over HTTP with [`crate::WebhookPurchase`].

use std::future::Future;

use reservation_core::{Hold, Product};

/// A confirmed hold to buy, with its product as it is now (its price
/// included) and which try this is.
#[derive(Clone, Debug)]
pub struct Purchase {
    pub hold: Hold,
    pub product: Product,
    /// 1 on the first try.
    pub attempt: u32,
}

/// Why a purchase did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurchaseFailure {
    /// The shop said no (a declined card, say): the hold is released and its
    /// job dead-lettered at once, with this as the reason.
    #[error("declined: {0}")]
    Declined(String),
    /// It could not be done this time (the shop's service failing or away):
    /// tried again with backoff, then released and dead-lettered.
    #[error("{0}")]
    Failed(String),
}

pub trait PurchaseStep: Send + Sync + 'static {
    /// Buys `purchase.hold`. It may be called again for the same hold (after
    /// a crash, or a retry), so it must be idempotent by `hold.id`.
    fn purchase(
        &self,
        purchase: &Purchase,
    ) -> impl Future<Output = Result<(), PurchaseFailure>> + Send;
}

/// Accepts every purchase: for shops that take payment before confirming.
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptAll;

impl PurchaseStep for AcceptAll {
    async fn purchase(&self, _: &Purchase) -> Result<(), PurchaseFailure> {
        Ok(())
    }
}
