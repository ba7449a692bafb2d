//! What a client asks for: a `Quantity` of units, one product's
//! `ReserveRequest`, or a `CartRequest` of several products all or nothing.

use serde::Serialize;

use super::{CustomerId, RequestId, Sku, invalid};
use crate::error::Error;

/// How many units one request asks for: at least one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Quantity(u32);

impl Quantity {
    /// Validates a quantity as it arrives from a client (signed, so that a
    /// negative number is an error here rather than a wrap-around).
    pub fn new(units: i64) -> Result<Self, Error> {
        if units < 1 {
            return Err(invalid(
                "quantity",
                format!("must be at least 1, got {units}"),
            ));
        }
        u32::try_from(units)
            .map(Self)
            .map_err(|_| invalid("quantity", format!("{units} is too large")))
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// One reserve request as a client sends it.
#[derive(Clone, Debug)]
pub struct ReserveRequest {
    pub sku: Sku,
    pub quantity: Quantity,
    pub customer_id: CustomerId,
    pub request_id: RequestId,
}

/// One line of a cart: units of one product.
#[derive(Clone, Debug)]
pub struct CartLine {
    pub sku: Sku,
    pub quantity: Quantity,
}

impl CartLine {
    /// Validates a line as it arrives from a client.
    pub fn new(sku: impl Into<String>, quantity: i64) -> Result<Self, Error> {
        Ok(Self {
            sku: Sku::new(sku)?,
            quantity: Quantity::new(quantity)?,
        })
    }
}

/// A reserve of several products at once, all or nothing (see
/// `Engine::reserve_cart`).
#[derive(Clone, Debug)]
pub struct CartRequest {
    pub customer_id: CustomerId,
    pub request_id: RequestId,
    /// Different products, at most [`CartRequest::MAX_LINES`].
    pub lines: Vec<CartLine>,
}

impl CartRequest {
    /// The most lines one cart may have.
    pub const MAX_LINES: usize = 32;

    /// Units over every line.
    pub fn units(&self) -> u32 {
        self.lines.iter().fold(0u32, |units, line| {
            units.saturating_add(line.quantity.get())
        })
    }

    /// The reserve request of line `i`, as the line is decided.
    pub fn line_request(&self, i: usize) -> ReserveRequest {
        ReserveRequest {
            sku: self.lines[i].sku.clone(),
            quantity: self.lines[i].quantity,
            customer_id: self.customer_id.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantity_is_at_least_one() {
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(-3).is_err());
        assert!(Quantity::new(i64::MAX).is_err());
        assert_eq!(Quantity::new(3).unwrap().get(), 3);
    }
}
