//! The one error type of the engine. Each variant is one reason a caller can
//! act on; [`Error::reason`] gives the machine-readable name the wire APIs use.

use crate::types::{CustomerId, HoldState, RequestId, ReservationId, Sku};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Boxed cause of an infrastructure failure (a Redis or pool error).
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{sku} is out of stock: {requested} asked for, {available} available")]
    OutOfStock {
        sku: Sku,
        requested: i64,
        available: i64,
    },

    #[error("customer {customer} may hold at most {limit} units of {sku} and already has {owned}")]
    CustomerLimit {
        sku: Sku,
        customer: CustomerId,
        limit: u32,
        owned: i64,
    },

    /// Outside the sale's window, or paused by the merchant (whatever the
    /// window says: resuming gives the window back its say).
    #[error("the sale of {sku} is {}", closed_because(*.paused, *.starts_at_ms, *.ends_at_ms))]
    SaleClosed {
        sku: Sku,
        starts_at_ms: Option<i64>,
        ends_at_ms: Option<i64>,
        paused: bool,
    },

    #[error("product {0} does not exist")]
    ProductNotFound(Sku),

    #[error("reservation {0} does not exist")]
    ReservationNotFound(ReservationId),

    /// The hold may have existed: it is older than the retention, for which
    /// an ended hold is kept, so it ended long enough ago to be forgotten.
    #[error(
        "reservation {id} is not kept any more: it was made over {kept} ago, and a hold \
         is kept for {kept} after it ends, so it has aged out (if it ever existed)",
        kept = span(*.retention)
    )]
    ReservationAgedOut {
        id: ReservationId,
        retention: std::time::Duration,
    },

    #[error("invalid {field}: {reason}")]
    InvalidArgument { field: &'static str, reason: String },

    #[error("request_id {request_id} was already used with other parameters")]
    IdempotencyMismatch { request_id: RequestId },

    #[error("product {0} already exists")]
    ProductExists(Sku),

    #[error("reservation {id} is {state} and cannot be {action}")]
    WrongState {
        id: ReservationId,
        state: HoldState,
        action: &'static str,
    },

    /// The shopper already has as many push interests as a deployment
    /// allows (one per product and subscription).
    #[error("customer {customer} already has {max} push subscriptions, the most allowed")]
    PushSubscriptionsFull { customer: CustomerId, max: u32 },

    #[error("Redis is unavailable: {0}")]
    Unavailable(#[source] Cause),

    /// Redis answered something the engine does not understand: a bug or a
    /// foreign writer, never a client's fault.
    #[error("unexpected answer from Redis: {0}")]
    Internal(String),
}

/// A length of time as people say it: "24 h", "90 min", "45 s".
fn span(length: std::time::Duration) -> String {
    let secs = length.as_secs();
    match secs {
        s if s >= 3600 && s % 3600 == 0 => format!("{} h", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

fn closed_because(paused: bool, starts: Option<i64>, ends: Option<i64>) -> String {
    let bound = |b: Option<i64>| b.map_or_else(|| "-".to_owned(), |ms| ms.to_string());
    let window = format!("{}..{} ms", bound(starts), bound(ends));
    if paused {
        format!("paused by the merchant (window {window})")
    } else {
        format!("not open now (window {window})")
    }
}

impl Error {
    /// The machine-readable reason both wire APIs give (gRPC's
    /// `ErrorInfo.reason`, HTTP's `error.code`; see `ARCHITECTURE.md`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::OutOfStock { .. } => "OUT_OF_STOCK",
            Self::CustomerLimit { .. } => "CUSTOMER_LIMIT",
            Self::SaleClosed { .. } => "SALE_CLOSED",
            Self::ProductNotFound(_)
            | Self::ReservationNotFound(_)
            | Self::ReservationAgedOut { .. } => "NOT_FOUND",
            Self::InvalidArgument { .. } => "INVALID_ARGUMENT",
            Self::IdempotencyMismatch { .. } => "IDEMPOTENCY_MISMATCH",
            Self::ProductExists(_) => "PRODUCT_EXISTS",
            Self::WrongState { .. } => "WRONG_STATE",
            Self::PushSubscriptionsFull { .. } => "TOO_MANY_SUBSCRIPTIONS",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// Sorts a Redis error: a server that cannot be reached or cannot serve
    /// right now is `Unavailable` (worth retrying); anything else is a bug.
    /// This error again, for each request of a call that failed as a whole
    /// (the causes of `Unavailable` cannot be cloned, their text can).
    pub(crate) fn for_each_of_many(&self) -> Self {
        match self {
            Self::Unavailable(cause) => Self::Unavailable(cause.to_string().into()),
            Self::InvalidArgument { field, reason } => Self::InvalidArgument {
                field,
                reason: reason.clone(),
            },
            other => Self::Internal(other.to_string()),
        }
    }

    pub(crate) fn from_redis(err: redis::RedisError) -> Self {
        use redis::{ErrorKind, ServerErrorKind};
        let unavailable = err.is_io_error()
            || err.is_timeout()
            || err.is_connection_refusal()
            || err.is_connection_dropped()
            || err.is_cluster_error()
            || matches!(
                err.kind(),
                ErrorKind::AuthenticationFailed
                    | ErrorKind::ClusterConnectionNotFound
                    | ErrorKind::Server(
                        ServerErrorKind::BusyLoading
                            | ServerErrorKind::TryAgain
                            | ServerErrorKind::ClusterDown
                            | ServerErrorKind::MasterDown
                            | ServerErrorKind::ReadOnly
                    )
            );
        if unavailable {
            Self::Unavailable(Box::new(err))
        } else {
            Self::Internal(err.to_string())
        }
    }
}
