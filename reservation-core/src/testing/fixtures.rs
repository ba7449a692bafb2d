//! What a specification starts from: products made with the defaults a test
//! can adjust, holds the test needs granted, and the stock as Redis holds it.

use crate::types::{NewProduct, Reservation, Sku, StockSnapshot};

use super::{TestEngine, reserve, sku_of};

impl TestEngine {
    /// A product's stock as Redis holds it now.
    pub async fn stock(&self, sku: &str) -> StockSnapshot {
        self.engine
            .product(&sku_of(sku))
            .await
            .expect("read the product")
            .stock
    }

    /// Creates a product with `total` units and returns its SKU.
    pub async fn product(&self, sku: &str, total: i64) -> Sku {
        self.product_with(sku, total, |_| {}).await
    }

    /// Creates a product after `adjust` has changed its defaults.
    pub async fn product_with(
        &self,
        sku: &str,
        total: i64,
        adjust: impl FnOnce(&mut NewProduct),
    ) -> Sku {
        let mut new = NewProduct::new(sku_of(sku), format!("Product {sku}"), 1_000, total);
        adjust(&mut new);
        self.engine
            .create_product(&new)
            .await
            .expect("create product");
        new.sku
    }

    /// Reserves `quantity` of `sku` for `customer` with `request` as its
    /// `request_id`, and panics unless the reserve is granted (or replayed):
    /// for the holds a specification needs before what it specifies.
    pub async fn reserved(
        &self,
        sku: &Sku,
        customer: &str,
        quantity: i64,
        request: &str,
    ) -> Reservation {
        self.engine
            .reserve(&reserve(sku, customer, quantity, request))
            .await
            .unwrap_or_else(|e| panic!("{customer}'s reserve {request} of {quantity} {sku}: {e}"))
    }
}
