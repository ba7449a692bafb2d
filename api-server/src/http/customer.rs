//! Who the calling shopper is (see [`crate::identity`]), and where the
//! request came from. A shopper only ever sees, confirms or cancels their own
//! holds.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;
use reservation_core::CustomerId;

use super::ApiError;
use crate::app::App;
use crate::identity::{CUSTOMER_HEADER, Identity, TOKEN_HEADER, Unidentified};
use crate::peer::peer_address;

/// The calling shopper. Rejects the request with 401 when it names nobody,
/// or its claim does not hold.
pub struct Customer(pub CustomerId);

impl FromRequestParts<App> for Customer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let unauthenticated =
            |message: String| ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", message);
        let customer = app
            .identity
            .identify(&parts.headers, None, app.engine.now_ms())
            .ok_or_else(|| {
                unauthenticated(match app.identity {
                    Identity::Trusted => {
                        format!("name the shopper with the {CUSTOMER_HEADER} header")
                    }
                    Identity::Signed(_) => {
                        format!("send the shopper's token in the {TOKEN_HEADER} header")
                    }
                })
            })?;
        customer.map(Self).map_err(|e| match e {
            // A claim that is no customer id at all is an invalid field.
            Unidentified::InvalidCustomer(reason) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_ARGUMENT", reason)
            }
            e => unauthenticated(e.to_string()),
        })
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
