//! Who the shopper is: the `X-Customer-Id` header, or else the
//! `flashsale_customer` cookie the web page sets. A shopper only ever sees,
//! confirms or cancels their own holds.

use axum::extract::FromRequestParts;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use reservation_core::CustomerId;

use super::error::ApiError;

pub const CUSTOMER_HEADER: &str = "x-customer-id";
pub const CUSTOMER_COOKIE: &str = "flashsale_customer";

/// The calling shopper. Rejects the request with 401 when it names nobody.
pub struct Customer(pub CustomerId);

impl<S: Send + Sync> FromRequestParts<S> for Customer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let customer = customer_from_headers(&parts.headers).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                format!("name the shopper with the {CUSTOMER_HEADER} header or the {CUSTOMER_COOKIE} cookie"),
            )
        })?;
        Ok(Self(customer?))
    }
}

/// The address the request came from, when the server knows it (it serves
/// with connect info), for the per-address limits.
pub struct Peer(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(peer_address(&parts.extensions)))
    }
}

/// The peer address axum's connect info recorded in a request's extensions;
/// Socket.IO reads it from the request that opened the session.
pub fn peer_address(extensions: &axum::http::Extensions) -> Option<std::net::IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip())
}

/// The shopper a request names, if it names one: the header first, then the
/// cookie. The Socket.IO handshake reads the same.
pub fn customer_from_headers(headers: &HeaderMap) -> Option<reservation_core::Result<CustomerId>> {
    let from_header = headers
        .get(CUSTOMER_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let from_cookie = || {
        headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == CUSTOMER_COOKIE)
            .map(|(_, value)| value.to_owned())
    };
    from_header.or_else(from_cookie).map(CustomerId::new)
}

#[cfg(test)]
mod tests {
    use axum::http::header::COOKIE;
    use axum::http::{HeaderMap, HeaderValue};
    use proptest::prelude::*;
    use reservation_core::CustomerId;

    use super::{CUSTOMER_COOKIE, CUSTOMER_HEADER, customer_from_headers};

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
            let _ = customer_from_headers(&map);
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
            let found = customer_from_headers(&headers(header.as_deref(), Some(&cookie)));
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
