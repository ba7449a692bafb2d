//! HTTP errors: a status code and `{"error": {"code", "message"}}`, where
//! `code` is the same reason the gRPC API gives, and `field` names the
//! invalid field of an `INVALID_ARGUMENT` (as gRPC's `BadRequest` does). Outside [`crate::http`]
//! because the live channel's session admission, HTTP middleware in front
//! of Socket.IO, answers with them too.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use reservation_core::Error;
use serde_json::json;

use crate::limits::{Limited, RATE_LIMITED};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// The request's field at fault, for a page to point at.
    pub field: Option<&'static str>,
    /// Sent as `Retry-After` (whole seconds, rounded up).
    pub retry_after: Option<std::time::Duration>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        let status = match &err {
            Error::OutOfStock { .. }
            | Error::CustomerLimit { .. }
            | Error::SaleClosed { .. }
            | Error::WrongState { .. }
            | Error::IdempotencyMismatch { .. }
            | Error::ProductExists(_)
            | Error::PushSubscriptionsFull { .. } => StatusCode::CONFLICT,
            Error::ProductNotFound(_)
            | Error::ReservationNotFound(_)
            | Error::ReservationAgedOut { .. } => StatusCode::NOT_FOUND,
            Error::InvalidArgument { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let field = match &err {
            Error::InvalidArgument { field, .. } => Some(*field),
            _ => None,
        };
        Self {
            field,
            ..Self::new(status, err.reason(), err.to_string())
        }
    }
}

impl From<Limited> for ApiError {
    fn from(limited: Limited) -> Self {
        let status = match limited {
            Limited::TooManySockets { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Limited::TooFast { .. } | Limited::TooManyOpens { .. } => StatusCode::TOO_MANY_REQUESTS,
        };
        Self {
            retry_after: limited.retry_after(),
            ..Self::new(status, RATE_LIMITED, limited.to_string())
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let status = match &rejection {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::BytesRejection(_) => StatusCode::PAYLOAD_TOO_LARGE,
            // Well-formed JSON with a wrong field is invalid like any bad field.
            JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, "INVALID_ARGUMENT", rejection.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(field) = self.field {
            error["field"] = field.into();
        }
        let body = json!({ "error": error });
        let mut response = (self.status, Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}
