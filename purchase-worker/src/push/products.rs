//! The products pushes speak of, read at most once per [`FRESH`] per SKU:
//! a sale opening to 100,000 subscribers makes 100,000 payloads of one
//! product, and each tells its live count, so the count may be that old
//! but the product is not read 100,000 times. Concurrent sends of a SKU
//! whose copy went stale wait for one read rather than each making one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reservation_core::{Engine, Product, Result, Sku};
use tokio::sync::Mutex as AsyncMutex;

/// How old a product's copy may be when a payload is made from it.
pub const FRESH: Duration = Duration::from_millis(250);

/// SKUs remembered at most; past it, copies not read within [`FRESH`] are
/// dropped (endpoints' products are whatever shoppers subscribed to).
const MAX_PRODUCTS: usize = 4096;

type Slot = Arc<AsyncMutex<Option<(Instant, Arc<Product>)>>>;

pub(crate) struct ProductCache {
    engine: Engine,
    slots: Mutex<HashMap<Sku, Slot>>,
}

impl ProductCache {
    pub(crate) fn new(engine: Engine) -> Self {
        Self {
            engine,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The product, as read less than [`FRESH`] ago.
    pub(crate) async fn get(&self, sku: &Sku) -> Result<Arc<Product>> {
        let slot = self.slot(sku);
        let mut copy = slot.lock().await;
        if let Some((read_at, product)) = copy.as_ref()
            && read_at.elapsed() < FRESH
        {
            return Ok(product.clone());
        }
        let product = Arc::new(self.engine.product(sku).await?);
        *copy = Some((Instant::now(), product.clone()));
        Ok(product)
    }

    fn slot(&self, sku: &Sku) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() >= MAX_PRODUCTS && !slots.contains_key(sku) {
            // A slot in use (locked) or fresh is kept; the rest go.
            slots.retain(|_, slot| {
                slot.try_lock().map_or(true, |copy| {
                    copy.as_ref().is_some_and(|(at, _)| at.elapsed() < FRESH)
                })
            });
        }
        slots.entry(sku.clone()).or_default().clone()
    }
}
