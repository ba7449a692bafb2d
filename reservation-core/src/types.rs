//! Domain types. Each one checks its input when it is built, so a value of the
//! type is always valid: a `Sku` is always a legal hash tag, a `Quantity` is
//! never zero, a `ReservationId` always says which product it belongs to.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

fn invalid(field: &'static str, reason: impl Into<String>) -> Error {
    Error::InvalidArgument {
        field,
        reason: reason.into(),
    }
}

/// Checks that `value` is 1..=`max` characters, all of them allowed by `allowed`.
fn check_token(
    field: &'static str,
    value: &str,
    max: usize,
    allowed: fn(u8) -> bool,
    allowed_text: &str,
) -> Result<(), Error> {
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(invalid(
            field,
            format!("must be at most {max} characters, got {}", value.len()),
        ));
    }
    if !value.bytes().all(allowed) {
        return Err(invalid(field, format!("may only contain {allowed_text}")));
    }
    Ok(())
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, field = $field:literal, max = $max:literal,
     allowed = $allowed:expr, allowed_text = $text:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value, in bytes.
            pub const MAX_LEN: usize = $max;

            /// Validates `value`; the error names the field and what is wrong.
            pub fn new(value: impl Into<String>) -> Result<Self, Error> {
                let value = value.into();
                check_token($field, &value, $max, $allowed, $text)?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::new(raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_newtype!(
    /// A product's stock-keeping unit. It is the Redis hash tag of every key of
    /// the product, so braces (which would break the tag) can never appear.
    Sku, field = "sku", max = 64,
    allowed = |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'),
    allowed_text = "letters, digits, '.', '_' and '-'"
);

string_newtype!(
    /// Who holds units. Part of Redis hash fields and event JSON, so only plain
    /// characters are allowed.
    CustomerId, field = "customer_id", max = 128,
    allowed = |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'@'),
    allowed_text = "letters, digits, '.', '_', '-', ':' and '@'"
);

string_newtype!(
    /// A client's idempotency key for one reserve request.
    RequestId, field = "request_id", max = 128,
    allowed = |b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'),
    allowed_text = "letters, digits, '.', '_', '-' and ':'"
);

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

/// Identifies a hold. It carries its product's SKU, so confirm and cancel can
/// go straight to the product's Redis slot without a lookup, and its token
/// says where the hold is stored (see `keys::HoldKey`).
///
/// Written as `SKU~TOKEN`: `~` can appear in neither part.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReservationId {
    sku: Sku,
    token: String,
}

impl ReservationId {
    const SEPARATOR: char = '~';
    const MAX_TOKEN_LEN: usize = 32;

    /// A fresh id of `sku` that names no hold: a ULID token, as layout 1's
    /// ids were (a hold's id now comes from the script that makes it, from
    /// its creation time and its key).
    pub fn generate(sku: &Sku) -> Self {
        Self {
            sku: sku.clone(),
            token: ulid::Ulid::new().to_string(),
        }
    }

    pub(crate) fn from_parts(sku: &Sku, token: &str) -> Result<Self, Error> {
        check_token(
            "reservation_id",
            token,
            Self::MAX_TOKEN_LEN,
            |b| b.is_ascii_alphanumeric(),
            "a SKU, '~' and a token of letters and digits",
        )?;
        Ok(Self {
            sku: sku.clone(),
            token: token.to_owned(),
        })
    }

    pub fn sku(&self) -> &Sku {
        &self.sku
    }

    /// The hold's key within its product.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl FromStr for ReservationId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let (sku, token) = s
            .split_once(Self::SEPARATOR)
            .ok_or_else(|| invalid("reservation_id", "must look like SKU~TOKEN"))?;
        let sku = Sku::new(sku).map_err(|_| invalid("reservation_id", "has an invalid SKU"))?;
        Self::from_parts(&sku, token)
    }
}

impl fmt::Display for ReservationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.sku, Self::SEPARATOR, self.token)
    }
}

impl Serialize for ReservationId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReservationId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

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
    /// The merchant holds the sale shut (see [`ProductUpdate::paused`]). A
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
    fn sku_accepts_the_documented_alphabet_and_rejects_the_rest() {
        assert!(Sku::new("TSHIRT-red_L.2").is_ok());
        assert!(Sku::new("a".repeat(64)).is_ok());
        for bad in ["", "has space", "{brace}", "a}b", "ümlaut", "a~b", "x:y"] {
            assert!(Sku::new(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(Sku::new("a".repeat(65)).is_err());
    }

    #[test]
    fn quantity_is_at_least_one() {
        assert!(Quantity::new(0).is_err());
        assert!(Quantity::new(-3).is_err());
        assert!(Quantity::new(i64::MAX).is_err());
        assert_eq!(Quantity::new(3).unwrap().get(), 3);
    }

    #[test]
    fn reservation_id_round_trips_and_carries_its_sku() {
        let sku = Sku::new("SHOE-42").unwrap();
        let id = ReservationId::generate(&sku);
        let parsed: ReservationId = id.to_string().parse().unwrap();
        assert_eq!(parsed, id);
        assert_eq!(parsed.sku(), &sku);
        for bad in [
            "",
            "SHOE-42",
            "~ABC",
            "SHOE-42~",
            "{x}~ABC",
            "SHOE~AB-C",
            "S~A~B",
        ] {
            assert!(bad.parse::<ReservationId>().is_err(), "{bad:?}");
        }
    }

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
