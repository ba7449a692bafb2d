//! Names: a product's `Sku`, a `CustomerId`, a client's `RequestId`, and a
//! hold's `ReservationId`, each checked to the characters Redis keys, hash
//! fields and event JSON can carry as they are.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::invalid;
use crate::error::Error;

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
}
