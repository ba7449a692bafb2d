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
