//! A hold's life: its `HoldState`s, the `Hold` itself, the `HoldEvent` its
//! owner hears of each change, and the answers that carry a hold back to the
//! caller (a `Reservation`, a `Transition`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{CustomerId, RequestId, ReservationId, Sku};

/// Where a hold is in its life:
/// `HELD → CONFIRMED → PURCHASED`, `HELD → CANCELLED | EXPIRED`, and
/// `CONFIRMED → RELEASED` when a purchase finally fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HoldState {
    Held,
    Confirmed,
    Purchased,
    Cancelled,
    Expired,
    Released,
}

impl HoldState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Held => "HELD",
            Self::Confirmed => "CONFIRMED",
            Self::Purchased => "PURCHASED",
            Self::Cancelled => "CANCELLED",
            Self::Expired => "EXPIRED",
            Self::Released => "RELEASED",
        }
    }

    /// The state named as the scripts store it.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Held,
            Self::Confirmed,
            Self::Purchased,
            Self::Cancelled,
            Self::Expired,
            Self::Released,
        ]
        .into_iter()
        .find(|state| state.as_str() == name)
    }

    /// Whether the hold's units still count against the product's `held`.
    pub fn is_active(self) -> bool {
        matches!(self, Self::Held | Self::Confirmed)
    }
}

impl fmt::Display for HoldState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A customer's hold on units of one product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub id: ReservationId,
    pub customer_id: CustomerId,
    pub quantity: u32,
    pub state: HoldState,
    pub request_id: RequestId,
    pub created_at_ms: i64,
    /// The hold's deadline: from this instant on, a HELD hold counts as expired.
    pub expires_at_ms: i64,
    /// Set once confirmed: by then a purchase worker must have finished it.
    pub purchase_deadline_ms: Option<i64>,
    pub purchased_at_ms: Option<i64>,
    pub updated_at_ms: i64,
}

impl Hold {
    /// The state as of `now_ms`. The stored deadline decides: a HELD hold past it
    /// is expired even before a sweeper has returned its units.
    pub fn state_at(&self, now_ms: i64) -> HoldState {
        if self.state == HoldState::Held && now_ms >= self.expires_at_ms {
            HoldState::Expired
        } else {
            self.state
        }
    }
}

/// Published on a customer's channel when one of their holds changes state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldEvent {
    pub reservation_id: ReservationId,
    pub sku: Sku,
    pub state: HoldState,
    pub quantity: u32,
    pub expires_at_ms: i64,
    pub at_ms: i64,
    /// An "expires soon" notice: the hold is still HELD, and its deadline is
    /// the engine's `expiry_notice` away. Sent once per hold.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expiring: bool,
}

impl HoldEvent {
    pub fn from_json(raw: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(raw)
    }
}

/// The answer to a reserve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reservation {
    pub hold: Hold,
    /// The product's available units right after this reserve.
    pub available: i64,
    /// True when this is the answer to an earlier request with the same `request_id`.
    pub replayed: bool,
}

/// The result of a hold transition. Transitions are idempotent: asking for a
/// state the hold is already in succeeds with `changed == false`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub hold: Hold,
    pub changed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_hold_past_its_deadline_reads_as_expired() {
        let sku = Sku::new("A").unwrap();
        let hold = Hold {
            id: ReservationId::generate(&sku),
            customer_id: CustomerId::new("c").unwrap(),
            quantity: 1,
            state: HoldState::Held,
            request_id: RequestId::new("r").unwrap(),
            created_at_ms: 0,
            expires_at_ms: 1_000,
            purchase_deadline_ms: None,
            purchased_at_ms: None,
            updated_at_ms: 0,
        };
        assert_eq!(hold.state_at(999), HoldState::Held);
        assert_eq!(hold.state_at(1_000), HoldState::Expired);
    }
}
