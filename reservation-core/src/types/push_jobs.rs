//! What a shopper asked to be told of a product ([`PushInterest`], its
//! [`PushTopics`]), the occasions ([`PushKind`]) and one push to send
//! ([`PushJob`]), as the push streams carry it.

use std::fmt;
use std::str::FromStr;

use redis::streams::StreamId;
use serde::{Deserialize, Serialize};

use super::invalid;
use super::push::PushSubscription;
use crate::error::{Error, Result};
use crate::types::{CustomerId, ReservationId, Sku};

/// What a shopper wants to be told of one product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct PushTopics {
    pub sale_opens: bool,
    pub back_in_stock: bool,
    /// When one of the shopper's own holds of the product gets its
    /// "expiring soon" notice.
    pub hold_expiring: bool,
}

impl PushTopics {
    pub fn any(self) -> bool {
        self.sale_opens || self.back_in_stock || self.hold_expiring
    }

    pub fn wants(self, kind: PushKind) -> bool {
        match kind {
            PushKind::SaleOpens => self.sale_opens,
            PushKind::BackInStock => self.back_in_stock,
            PushKind::HoldExpiring => self.hold_expiring,
        }
    }

    /// The kinds asked for, in a fixed order.
    pub fn kinds(self) -> Vec<PushKind> {
        PushKind::ALL
            .into_iter()
            .filter(|&kind| self.wants(kind))
            .collect()
    }
}

/// An occasion to push.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PushKind {
    SaleOpens,
    BackInStock,
    HoldExpiring,
}

impl PushKind {
    pub const ALL: [Self; 3] = [Self::SaleOpens, Self::BackInStock, Self::HoldExpiring];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SaleOpens => "sale_opens",
            Self::BackInStock => "back_in_stock",
            Self::HoldExpiring => "hold_expiring",
        }
    }

    /// The suffix of this kind's fields in a product's rounds and sent
    /// marks; hold notices have neither (the sweep sends each once).
    pub(crate) fn round_name(self) -> Option<&'static str> {
        match self {
            Self::SaleOpens => Some("opens"),
            Self::BackInStock => Some("back"),
            Self::HoldExpiring => None,
        }
    }
}

impl FromStr for PushKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| {
                invalid(
                    "notify",
                    format!("{s:?} is none of sale_opens, back_in_stock, hold_expiring"),
                )
            })
    }
}

impl fmt::Display for PushKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// "Notify me" of one product, by one shopper, on one subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushInterest {
    pub customer: CustomerId,
    pub sku: Sku,
    pub subscription: PushSubscription,
    pub topics: PushTopics,
    pub created_at_ms: i64,
}

/// An interest as Redis stores it (`keys::PushProductKeys::interests`).
#[derive(Serialize, Deserialize)]
struct StoredInterest {
    customer: CustomerId,
    sku: Sku,
    endpoint: String,
    p256dh: String,
    auth: String,
    sale_opens: bool,
    back_in_stock: bool,
    hold_expiring: bool,
    created_at_ms: i64,
}

impl PushInterest {
    pub(crate) fn to_json(&self) -> String {
        let stored = StoredInterest {
            customer: self.customer.clone(),
            sku: self.sku.clone(),
            endpoint: self.subscription.endpoint().to_owned(),
            p256dh: self.subscription.p256dh().to_owned(),
            auth: self.subscription.auth().to_owned(),
            sale_opens: self.topics.sale_opens,
            back_in_stock: self.topics.back_in_stock,
            hold_expiring: self.topics.hold_expiring,
            created_at_ms: self.created_at_ms,
        };
        serde_json::to_string(&stored).expect("an interest serializes")
    }

    pub(crate) fn from_json(json: &str) -> Result<Self> {
        let stored: StoredInterest = serde_json::from_str(json).map_err(|e| {
            // Of what is not an interest, enough to recognise it.
            let start: String = json.chars().take(120).collect();
            Error::Internal(format!("stored push interest {start:?}: {e}"))
        })?;
        let subscription = PushSubscription::stored(&stored.endpoint, &stored.p256dh, &stored.auth)
            .map_err(|e| Error::Internal(format!("stored push interest: {e}")))?;
        Ok(Self {
            customer: stored.customer,
            sku: stored.sku,
            subscription,
            topics: PushTopics {
                sale_opens: stored.sale_opens,
                back_in_stock: stored.back_in_stock,
                hold_expiring: stored.hold_expiring,
            },
            created_at_ms: stored.created_at_ms,
        })
    }
}

/// One push to send, as an entry of the push jobs stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushJob {
    pub kind: PushKind,
    pub sku: Sku,
    pub customer: CustomerId,
    pub subscription: PushSubscription,
    /// Which occasion: the sale's start (ms) for `SaleOpens`, the round's
    /// start (ms) for `BackInStock`, the reservation id for `HoldExpiring`.
    pub notice: String,
    /// `HoldExpiring`: the hold's deadline.
    pub expires_at_ms: Option<i64>,
    pub enqueued_at_ms: i64,
}

impl PushJob {
    /// The stream entry's fields.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = vec![
            ("kind", self.kind.as_str().to_owned()),
            ("sku", self.sku.to_string()),
            ("customer", self.customer.to_string()),
            ("endpoint", self.subscription.endpoint().to_owned()),
            ("p256dh", self.subscription.p256dh().to_owned()),
            ("auth", self.subscription.auth().to_owned()),
            ("notice", self.notice.clone()),
            ("enqueued_at_ms", self.enqueued_at_ms.to_string()),
        ];
        if let Some(deadline) = self.expires_at_ms {
            fields.push(("expires_at_ms", deadline.to_string()));
        }
        fields
    }

    /// The job a stream entry holds; `Error::Internal` naming what is wrong
    /// when it holds none, including a notice that is not its kind's (ms
    /// for `SaleOpens` and `BackInStock`, a reservation id for
    /// `HoldExpiring`), which no claim could accept.
    pub fn from_entry(entry: &StreamId) -> Result<Self> {
        let field = |name: &str| {
            entry.get::<String>(name).ok_or_else(|| {
                Error::Internal(format!("push job {} has no field {name}", entry.id))
            })
        };
        let bad = |name: &str, e: Error| {
            Error::Internal(format!("push job {}: field {name}: {e}", entry.id))
        };
        let number = |name: &str, text: String| {
            text.parse::<i64>()
                .map_err(|e| Error::Internal(format!("push job {}: field {name}: {e}", entry.id)))
        };
        let subscription =
            PushSubscription::stored(&field("endpoint")?, &field("p256dh")?, &field("auth")?)
                .map_err(|e| bad("endpoint", e))?;
        let kind: PushKind = field("kind")?.parse().map_err(|e| bad("kind", e))?;
        let notice = field("notice")?;
        match kind {
            PushKind::SaleOpens | PushKind::BackInStock => {
                number("notice", notice.clone())?;
            }
            PushKind::HoldExpiring => {
                notice
                    .parse::<ReservationId>()
                    .map_err(|e| bad("notice", e))?;
            }
        }
        Ok(Self {
            kind,
            sku: Sku::new(field("sku")?).map_err(|e| bad("sku", e))?,
            customer: CustomerId::new(field("customer")?).map_err(|e| bad("customer", e))?,
            subscription,
            notice,
            expires_at_ms: entry
                .get::<String>("expires_at_ms")
                .map(|text| number("expires_at_ms", text))
                .transpose()?,
            enqueued_at_ms: number("enqueued_at_ms", field("enqueued_at_ms")?)?,
        })
    }
}
