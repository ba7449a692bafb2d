//! Engine errors as gRPC statuses: the code and `google.rpc.ErrorInfo` reason
//! the `.proto` files promise (see `ARCHITECTURE.md`), plus `google.rpc.BadRequest` for invalid fields, so a client
//! can branch on the reason without parsing text.

use std::collections::HashMap;

use reservation_core::Error;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::limits::{Limited, RATE_LIMITED};

/// The `ErrorInfo.domain` of every error this API gives.
pub const DOMAIN: &str = "flashsale.v1";

pub fn to_status(err: Error) -> Status {
    let code = match &err {
        Error::OutOfStock { .. }
        | Error::CustomerLimit { .. }
        | Error::SaleClosed { .. }
        | Error::WrongState { .. }
        | Error::PushSubscriptionsFull { .. } => Code::FailedPrecondition,
        Error::ProductNotFound(_)
        | Error::ReservationNotFound(_)
        | Error::ReservationAgedOut { .. } => Code::NotFound,
        Error::InvalidArgument { .. } => Code::InvalidArgument,
        Error::IdempotencyMismatch { .. } | Error::ProductExists(_) => Code::AlreadyExists,
        Error::Unavailable(_) => Code::Unavailable,
        Error::Internal(_) => Code::Internal,
    };
    let mut details = ErrorDetails::with_error_info(err.reason(), DOMAIN, metadata(&err));
    if let Error::InvalidArgument { field, reason } = &err {
        details.add_bad_request_violation(*field, reason.clone());
    }
    Status::with_error_details(code, err.to_string(), details)
}

/// A refusal by the abuse limits: `RESOURCE_EXHAUSTED`, reason
/// `RATE_LIMITED`, and a `google.rpc.RetryInfo` saying when to come back.
pub fn limited_status(limited: Limited) -> Status {
    let retry_after = limited.retry_after();
    let mut metadata = HashMap::new();
    if let Some(wait) = retry_after {
        metadata.insert("retry_after_ms".to_owned(), wait.as_millis().to_string());
    }
    let mut details = ErrorDetails::with_error_info(RATE_LIMITED, DOMAIN, metadata);
    if retry_after.is_some() {
        details.set_retry_info(retry_after);
    }
    Status::with_error_details(Code::ResourceExhausted, limited.to_string(), details)
}

/// Facts a client may act on, beside the reason.
fn metadata(err: &Error) -> HashMap<String, String> {
    let pairs: Vec<(&str, String)> = match err {
        Error::OutOfStock { sku, available, .. } => {
            vec![
                ("sku", sku.to_string()),
                ("available", available.to_string()),
            ]
        }
        Error::CustomerLimit {
            sku, limit, owned, ..
        } => vec![
            ("sku", sku.to_string()),
            ("limit", limit.to_string()),
            ("owned", owned.to_string()),
        ],
        Error::SaleClosed {
            sku,
            starts_at_ms,
            ends_at_ms,
            paused,
        } => {
            let mut pairs = vec![("sku", sku.to_string())];
            pairs.extend(starts_at_ms.map(|ms| ("sale_starts_at_ms", ms.to_string())));
            pairs.extend(ends_at_ms.map(|ms| ("sale_ends_at_ms", ms.to_string())));
            pairs.extend(paused.then(|| ("paused", "true".to_owned())));
            pairs
        }
        Error::WrongState { id, state, .. } => {
            vec![
                ("reservation_id", id.to_string()),
                ("state", state.to_string()),
            ]
        }
        Error::ProductNotFound(sku) | Error::ProductExists(sku) => vec![("sku", sku.to_string())],
        Error::ReservationNotFound(id) | Error::ReservationAgedOut { id, .. } => {
            vec![("reservation_id", id.to_string())]
        }
        Error::InvalidArgument { field, .. } => vec![("field", (*field).to_owned())],
        Error::IdempotencyMismatch { request_id } => vec![("request_id", request_id.to_string())],
        Error::PushSubscriptionsFull { customer, max } => vec![
            ("customer_id", customer.to_string()),
            ("max", max.to_string()),
        ],
        Error::Unavailable(_) | Error::Internal(_) => vec![],
    };
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}
