//! Who the shopper is, on HTTP and Socket.IO.
//!
//! In production a shopper is named by a signed token that the shop's own
//! back-end issues to the signed-in shopper: `CUSTOMER~EXPIRES_MS~SIGNATURE`,
//! where the signature is HMAC-SHA256 over `CUSTOMER~EXPIRES_MS` with the
//! secret the shop and the engine share, in unpadded URL-safe base64. `~` is
//! not in the customer id alphabet, so the parts cannot be confused. The
//! token comes in the `X-Customer-Token` header, the `flashsale_token` cookie
//! or a socket's connect `auth.token`.
//!
//! In demo mode, or behind a gateway trusted to set it
//! (`--insecure-customer-header`), the bare `X-Customer-Id` header or
//! `flashsale_customer` cookie names the shopper instead.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use reservation_core::CustomerId;
use sha2::Sha256;

pub const CUSTOMER_HEADER: &str = "x-customer-id";
pub const CUSTOMER_COOKIE: &str = "flashsale_customer";
pub const TOKEN_HEADER: &str = "x-customer-token";
pub const TOKEN_COOKIE: &str = "flashsale_token";

/// How a node learns who the shopper is.
#[derive(Clone, Debug)]
pub enum Identity {
    /// The bare header or cookie: demo mode, or a trusted gateway sets it.
    Trusted,
    /// A token signed with the shop's secret.
    Signed(CustomerTokens),
}

/// What a Socket.IO client may send in its connect `auth`.
#[derive(Debug, Default, serde::Deserialize)]
pub struct SocketAuth {
    pub customer_id: Option<String>,
    pub token: Option<String>,
}

/// Why a shopper's claim was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unidentified {
    #[error("{0}")]
    InvalidCustomer(String),
    #[error("the customer token is malformed")]
    MalformedToken,
    #[error("the customer token's signature does not match")]
    BadSignature,
    #[error("the customer token expired at {at_ms} ms")]
    Expired { at_ms: i64 },
}

impl Identity {
    /// The shopper a request names, if it names one. `socket_auth` is what a
    /// socket sent in its connect `auth`, which comes before the headers: its
    /// customer id where the node trusts one, its token where it does not.
    pub fn identify(
        &self,
        headers: &HeaderMap,
        socket_auth: Option<SocketAuth>,
        now_ms: i64,
    ) -> Option<Result<CustomerId, Unidentified>> {
        let socket_auth = socket_auth.unwrap_or_default();
        match self {
            Self::Trusted => {
                let claim = socket_auth
                    .customer_id
                    .or_else(|| header_or_cookie(headers, CUSTOMER_HEADER, CUSTOMER_COOKIE))?;
                Some(
                    CustomerId::new(claim)
                        .map_err(|e| Unidentified::InvalidCustomer(e.to_string())),
                )
            }
            Self::Signed(tokens) => {
                let token = socket_auth
                    .token
                    .or_else(|| header_or_cookie(headers, TOKEN_HEADER, TOKEN_COOKIE))?;
                Some(tokens.verify(&token, now_ms))
            }
        }
    }
}

/// The header's value if it is text, else the named cookie's.
fn header_or_cookie(headers: &HeaderMap, header: &str, cookie: &str) -> Option<String> {
    let from_header = headers
        .get(header)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    from_header.or_else(|| {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == cookie)
            .map(|(_, value)| value.to_owned())
    })
}

/// Issues and checks customer tokens with the shop's secret.
#[derive(Clone)]
pub struct CustomerTokens {
    key: Hmac<Sha256>,
}

/// The secret never shows, in logs or anywhere else.
impl std::fmt::Debug for CustomerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomerTokens(..)")
    }
}

impl CustomerTokens {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: Hmac::new_from_slice(secret).expect("HMAC takes a key of any length"),
        }
    }

    /// A token naming `customer` until `expires_at_ms`, as the shop's
    /// back-end would issue it.
    pub fn issue(&self, customer: &CustomerId, expires_at_ms: i64) -> String {
        let claim = format!("{customer}~{expires_at_ms}");
        let signature = URL_SAFE_NO_PAD.encode(self.sign(&claim).finalize().into_bytes());
        format!("{claim}~{signature}")
    }

    /// The customer a token names, if its signature holds and it has not
    /// expired. The signature is compared in constant time.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<CustomerId, Unidentified> {
        let (claim, signature) = token.rsplit_once('~').ok_or(Unidentified::MalformedToken)?;
        let (customer, expires) = claim.split_once('~').ok_or(Unidentified::MalformedToken)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Unidentified::MalformedToken)?;
        self.sign(claim)
            .verify_slice(&signature)
            .map_err(|_| Unidentified::BadSignature)?;
        let at_ms: i64 = expires.parse().map_err(|_| Unidentified::MalformedToken)?;
        if at_ms <= now_ms {
            return Err(Unidentified::Expired { at_ms });
        }
        CustomerId::new(customer).map_err(|e| Unidentified::InvalidCustomer(e.to_string()))
    }

    fn sign(&self, claim: &str) -> Hmac<Sha256> {
        let mut mac = self.key.clone();
        mac.update(claim.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_customer_until_it_expires_and_not_once_touched() {
        let tokens = CustomerTokens::new(b"shop secret");
        let ann = CustomerId::new("ann@shop.example").unwrap();
        let token = tokens.issue(&ann, 2_000);
        assert_eq!(tokens.verify(&token, 1_999), Ok(ann.clone()));
        assert_eq!(
            tokens.verify(&token, 2_000),
            Err(Unidentified::Expired { at_ms: 2_000 })
        );

        let forged = token.replacen("ann@shop.example", "bob@shop.example", 1);
        assert_eq!(tokens.verify(&forged, 0), Err(Unidentified::BadSignature));
        let extended = token.replacen("~2000~", "~9999~", 1);
        assert_eq!(tokens.verify(&extended, 0), Err(Unidentified::BadSignature));
        let other_shop = CustomerTokens::new(b"another secret");
        assert_eq!(
            other_shop.verify(&token, 0),
            Err(Unidentified::BadSignature)
        );
        for malformed in ["", "ann", "ann~2000", "ann~2000~!!", "~~"] {
            assert!(tokens.verify(malformed, 0).is_err(), "{malformed:?}");
        }
    }
}

#[cfg(test)]
mod trusted_tests {
    use axum::http::header::COOKIE;
    use axum::http::{HeaderMap, HeaderValue};
    use proptest::prelude::*;
    use reservation_core::CustomerId;

    use super::{CUSTOMER_COOKIE, CUSTOMER_HEADER, Identity};

    fn headers(header: Option<&str>, cookie: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in [(CUSTOMER_HEADER, header), (COOKIE.as_str(), cookie)] {
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.insert(name, value);
            }
        }
        headers
    }

    proptest! {
        #[test]
        fn any_header_and_cookie_bytes_are_read_without_panicking(
            header in proptest::collection::vec(any::<u8>(), 0..80),
            cookie in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            let mut map = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_bytes(&header) {
                map.insert(CUSTOMER_HEADER, value);
            }
            if let Ok(value) = HeaderValue::from_bytes(&cookie) {
                map.insert(COOKIE, value);
            }
            let _ = Identity::Trusted.identify(&map, None, 0);
        }

        /// The header names the shopper; without it, the first
        /// `flashsale_customer` cookie among the others does. Either is
        /// checked as any customer id is.
        #[test]
        fn the_shopper_is_the_header_else_the_cookie(
            header in proptest::option::of("[A-Za-z0-9._:@ -]{0,20}"),
            cookies in proptest::collection::vec(
                (prop_oneof![Just(CUSTOMER_COOKIE), Just("theme"), Just("session")],
                 "[A-Za-z0-9._:@-]{0,20}"),
                0..4,
            ),
        ) {
            let cookie = cookies
                .iter()
                .map(|(name, value)| format!("{name}={value}"))
                .collect::<Vec<_>>()
                .join("; ");
            let found = Identity::Trusted.identify(&headers(header.as_deref(), Some(&cookie)), None, 0);
            let expected = header.clone().or_else(|| {
                cookies
                    .iter()
                    .find(|(name, _)| *name == CUSTOMER_COOKIE)
                    .map(|(_, value)| value.clone())
            });
            prop_assert_eq!(
                found.map(|customer| customer.ok()),
                expected.map(|value| CustomerId::new(value).ok())
            );
        }
    }
}
