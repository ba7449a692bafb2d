//! The catalog: a `Product` as read, a `NewProduct` to create and a
//! `ProductUpdate` to change one, with the checks of their settings.

use serde::Serialize;

use super::{Sku, StockSnapshot, invalid};
use crate::error::Error;

/// A product: what it is, how it sells, and its stock right now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Product {
    pub sku: Sku,
    pub name: String,
    pub price_cents: i64,
    /// Most units one customer may hold and buy; 0 means no limit.
    pub per_customer_limit: u32,
    pub hold_seconds: u32,
    pub sale_starts_at_ms: Option<i64>,
    pub sale_ends_at_ms: Option<i64>,
    /// Its stock, and whether the sale is paused (`stock.paused`).
    pub stock: StockSnapshot,
}

impl Product {
    /// Whether reserves are accepted at `now_ms`.
    pub fn sale_open_at(&self, now_ms: i64) -> bool {
        !self.stock.paused
            && self.sale_starts_at_ms.is_none_or(|start| now_ms >= start)
            && self.sale_ends_at_ms.is_none_or(|end| now_ms < end)
    }
}

/// Everything needed to create a product. Its stock starts all available.
#[derive(Clone, Debug)]
pub struct NewProduct {
    pub sku: Sku,
    pub name: String,
    pub price_cents: i64,
    pub total: i64,
    pub per_customer_limit: u32,
    pub hold_seconds: u32,
    pub sale_starts_at_ms: Option<i64>,
    pub sale_ends_at_ms: Option<i64>,
}

impl NewProduct {
    /// A product on sale from now on, with no customer limit and 10-minute holds.
    pub fn new(sku: Sku, name: impl Into<String>, price_cents: i64, total: i64) -> Self {
        Self {
            sku,
            name: name.into(),
            price_cents,
            total,
            per_customer_limit: 0,
            hold_seconds: 600,
            sale_starts_at_ms: None,
            sale_ends_at_ms: None,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        validate_name(&self.name)?;
        validate_price(self.price_cents)?;
        if self.total < 0 {
            return Err(invalid("total", "must not be negative"));
        }
        validate_hold_seconds(self.hold_seconds)?;
        validate_window(self.sale_starts_at_ms, self.sale_ends_at_ms)
    }
}

/// Changes to a product's settings; `None` leaves a field as it is. For the sale
/// window, `Some(None)` removes that bound.
#[derive(Clone, Debug, Default)]
pub struct ProductUpdate {
    pub name: Option<String>,
    pub price_cents: Option<i64>,
    pub per_customer_limit: Option<u32>,
    pub hold_seconds: Option<u32>,
    pub sale_starts_at_ms: Option<Option<i64>>,
    pub sale_ends_at_ms: Option<Option<i64>>,
    /// `Some(true)` refuses reserves (as a closed sale) until `Some(false)`.
    /// It leaves the window alone: a sale paused before its opening time
    /// and resumed still opens at that time, not at once.
    pub paused: Option<bool>,
}

impl ProductUpdate {
    /// Pauses the sale and changes nothing else.
    pub fn pause() -> Self {
        Self {
            paused: Some(true),
            ..Self::default()
        }
    }

    /// Resumes the sale (its window then decides again) and changes nothing else.
    pub fn resume() -> Self {
        Self {
            paused: Some(false),
            ..Self::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.price_cents.is_none()
            && self.per_customer_limit.is_none()
            && self.hold_seconds.is_none()
            && self.sale_starts_at_ms.is_none()
            && self.sale_ends_at_ms.is_none()
            && self.paused.is_none()
    }

    /// Checks the fields of the update on their own. That the sale window
    /// will still close after it opens depends on the product as the update
    /// finds it, so the script checks that.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        if self.is_empty() {
            return Err(invalid("update", "changes nothing"));
        }
        if let Some(name) = &self.name {
            validate_name(name)?;
        }
        if let Some(price) = self.price_cents {
            validate_price(price)?;
        }
        if let Some(hold_seconds) = self.hold_seconds {
            validate_hold_seconds(hold_seconds)?;
        }
        validate_window(
            self.sale_starts_at_ms.flatten(),
            self.sale_ends_at_ms.flatten(),
        )
    }
}

fn validate_name(name: &str) -> Result<(), Error> {
    let chars = name.chars().count();
    if name.trim().is_empty() || chars > 200 {
        return Err(invalid("name", "must have 1 to 200 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("name", "must not contain control characters"));
    }
    Ok(())
}

fn validate_price(price_cents: i64) -> Result<(), Error> {
    if price_cents < 0 {
        return Err(invalid("price_cents", "must not be negative"));
    }
    Ok(())
}

fn validate_hold_seconds(hold_seconds: u32) -> Result<(), Error> {
    const MAX: u32 = 24 * 3600;
    if !(1..=MAX).contains(&hold_seconds) {
        return Err(invalid("hold_seconds", format!("must be 1 to {MAX}")));
    }
    Ok(())
}

fn validate_window(starts: Option<i64>, ends: Option<i64>) -> Result<(), Error> {
    if starts.is_some_and(|s| s <= 0) {
        return Err(invalid("sale_starts_at", "must be after the epoch"));
    }
    if ends.is_some_and(|e| e <= 0) {
        return Err(invalid("sale_ends_at", "must be after the epoch"));
    }
    if let (Some(s), Some(e)) = (starts, ends)
        && e <= s
    {
        return Err(invalid("sale_ends_at", "must be after sale_starts_at"));
    }
    Ok(())
}
