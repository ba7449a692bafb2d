//! Who the shopper is, on HTTP and Socket.IO.
//!
//! In production a shopper is named by a token that the shop's own back-end
//! issues to the signed-in shopper: the engine's own customer token
//! ([`CustomerTokens`]), or the shop's JWT ([`ShopJwts`]), or either where
//! both are configured. The token comes in the `X-Customer-Token` header,
//! the `flashsale_token` cookie or a socket's connect `auth.token`. A token
//! with a `~` is the engine's own (JWTs never hold one); any other is a JWT.
//!
//! In demo mode, or behind a gateway trusted to set it
//! (`--insecure-customer-header`), the bare `X-Customer-Id` header or
//! `flashsale_customer` cookie names the shopper instead.

mod jwt;
mod tokens;

pub use jwt::{JwtError, JwtOptions, JwtSetupError, ShopJwts};
pub use tokens::CustomerTokens;

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use reservation_core::CustomerId;

pub const CUSTOMER_HEADER: &str = "x-customer-id";
pub const CUSTOMER_COOKIE: &str = "flashsale_customer";
pub const TOKEN_HEADER: &str = "x-customer-token";
pub const TOKEN_COOKIE: &str = "flashsale_token";

/// How a node learns who the shopper is.
#[derive(Clone, Debug)]
pub enum Identity {
    /// The bare header or cookie: demo mode, or a trusted gateway sets it.
    Trusted,
    /// A token the shop signed.
    Signed(ShopTokens),
}

/// The kinds of token a node takes from the shop; at least one is set.
#[derive(Clone, Debug)]
pub struct ShopTokens {
    customer_tokens: Option<CustomerTokens>,
    jwts: Option<ShopJwts>,
}

impl ShopTokens {
    /// The engine's own tokens, the shop's JWTs, or both; `None` when
    /// neither is given.
    pub fn new(customer_tokens: Option<CustomerTokens>, jwts: Option<ShopJwts>) -> Option<Self> {
        (customer_tokens.is_some() || jwts.is_some()).then_some(Self {
            customer_tokens,
            jwts,
        })
    }

    /// The customer `token` names, if a configured kind of token vouches
    /// for it at `now_ms`.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<CustomerId, Unidentified> {
        match (token.contains('~'), &self.customer_tokens, &self.jwts) {
            (true, Some(tokens), _) => tokens.verify(token, now_ms),
            (false, _, Some(jwts)) => jwts.verify(token, now_ms),
            (true, None, _) => Err(Unidentified::UnexpectedKind(
                "this server takes the shop's JWTs, not customer tokens",
            )),
            (false, _, None) => Err(Unidentified::MalformedToken),
        }
    }
}

impl From<CustomerTokens> for ShopTokens {
    fn from(tokens: CustomerTokens) -> Self {
        Self {
            customer_tokens: Some(tokens),
            jwts: None,
        }
    }
}

impl From<ShopJwts> for ShopTokens {
    fn from(jwts: ShopJwts) -> Self {
        Self {
            customer_tokens: None,
            jwts: Some(jwts),
        }
    }
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
    #[error("{0}")]
    UnexpectedKind(&'static str),
    #[error("the shop's token is refused: {0}")]
    Jwt(#[from] JwtError),
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
