//! What a call's answer means for a load test: a business outcome the shop
//! would show a shopper, or an infrastructure failure the operator must fix.

use serde::Serialize;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// One answer to a reserve, classified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A new hold.
    Reserved,
    /// The first answer again, for a `request_id` that already made a hold.
    Replayed,
    OutOfStock,
    CustomerLimit,
    SaleClosed,
    /// Refused for a reason a correct client never causes (unknown product,
    /// invalid argument, idempotency mismatch): a bug in the test or the server.
    Rejected,
    /// RESOURCE_EXHAUSTED: the server shed load.
    Shed,
    /// The call's deadline passed.
    Deadline,
    /// UNAVAILABLE: the server or its Redis could not be reached.
    Unavailable,
    /// Anything else.
    Other,
}

impl Outcome {
    pub const ALL: [Outcome; 10] = [
        Outcome::Reserved,
        Outcome::Replayed,
        Outcome::OutOfStock,
        Outcome::CustomerLimit,
        Outcome::SaleClosed,
        Outcome::Rejected,
        Outcome::Shed,
        Outcome::Deadline,
        Outcome::Unavailable,
        Outcome::Other,
    ];

    /// The name in reports and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Reserved => "reserved",
            Outcome::Replayed => "replayed",
            Outcome::OutOfStock => "out_of_stock",
            Outcome::CustomerLimit => "customer_limit",
            Outcome::SaleClosed => "sale_closed",
            Outcome::Rejected => "rejected",
            Outcome::Shed => "shed",
            Outcome::Deadline => "deadline",
            Outcome::Unavailable => "unavailable",
            Outcome::Other => "other",
        }
    }

    /// An answer the engine gives by design, as opposed to a failure.
    pub fn is_business(self) -> bool {
        matches!(
            self,
            Outcome::Reserved
                | Outcome::Replayed
                | Outcome::OutOfStock
                | Outcome::CustomerLimit
                | Outcome::SaleClosed
        )
    }

    /// A failure after which the call may or may not have taken effect (the
    /// server may have acted before the answer was lost).
    pub fn effect_unknown(self) -> bool {
        !self.is_business() && self != Outcome::Rejected
    }

    /// A refused reserve: the reason sits in the status's `ErrorInfo`.
    pub fn of_status(status: &Status) -> Outcome {
        let reason = status
            .get_details_error_info()
            .map(|info| info.reason)
            .unwrap_or_default();
        match (status.code(), reason.as_str()) {
            (Code::FailedPrecondition, "OUT_OF_STOCK") => Outcome::OutOfStock,
            (Code::FailedPrecondition, "CUSTOMER_LIMIT") => Outcome::CustomerLimit,
            (Code::FailedPrecondition, "SALE_CLOSED") => Outcome::SaleClosed,
            (Code::NotFound | Code::InvalidArgument | Code::AlreadyExists, _) => Outcome::Rejected,
            (Code::ResourceExhausted, _) => Outcome::Shed,
            (Code::DeadlineExceeded | Code::Cancelled, _) => Outcome::Deadline,
            (Code::Unavailable, _) => Outcome::Unavailable,
            _ => Outcome::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn refusals_are_told_apart_by_their_reason() {
        let refusal = |code, reason: &str| {
            Status::with_error_details(
                code,
                "refused",
                ErrorDetails::with_error_info(reason, "flashsale.v1", []),
            )
        };
        assert_eq!(
            Outcome::of_status(&refusal(Code::FailedPrecondition, "OUT_OF_STOCK")),
            Outcome::OutOfStock
        );
        assert_eq!(
            Outcome::of_status(&refusal(Code::FailedPrecondition, "CUSTOMER_LIMIT")),
            Outcome::CustomerLimit
        );
        assert_eq!(
            Outcome::of_status(&refusal(Code::FailedPrecondition, "WRONG_STATE")),
            Outcome::Other
        );
        assert_eq!(
            Outcome::of_status(&Status::resource_exhausted("busy")),
            Outcome::Shed
        );
        assert!(!Outcome::Shed.is_business());
        assert!(Outcome::SaleClosed.is_business());
    }
}
