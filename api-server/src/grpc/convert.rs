//! Between the engine's types and the wire's.

use flashsale_proto::v1 as pb;
use prost_types::Timestamp;
use reservation_core::{AuditReport, Error, Hold, HoldState, Product, StockSnapshot};

pub fn timestamp(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A wire timestamp as ms since the epoch, checked.
pub fn millis(field: &'static str, ts: &Timestamp) -> Result<i64, Error> {
    if !(0..1_000_000_000).contains(&ts.nanos) {
        return Err(Error::InvalidArgument {
            field,
            reason: "nanos must be 0 to 999,999,999".into(),
        });
    }
    ts.seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(i64::from(ts.nanos / 1_000_000)))
        .ok_or_else(|| Error::InvalidArgument {
            field,
            reason: "is out of range".into(),
        })
}

pub fn audit(report: AuditReport) -> pb::ProductAudit {
    pb::ProductAudit {
        problems: report.problems(),
        sku: report.sku.to_string(),
        total: report.total,
        available: report.available,
        held: report.held,
        sold: report.sold,
        units_in_active_holds: report.units_in_active_holds,
        units_in_purchased_holds: report.sold,
        holds: report.holds,
        repeated_request_holds: report.repeated_request_holds,
        reserved: report.reserved,
        cancelled: report.cancelled,
        expired: report.expired,
        released: report.released,
        live_holds: report.live_holds,
        settled: report.settled,
    }
}

pub fn product(p: Product) -> pb::Product {
    pb::Product {
        sku: p.sku.to_string(),
        name: p.name,
        price_cents: p.price_cents,
        total: p.stock.total,
        available: p.stock.available,
        held: p.stock.held,
        sold: p.stock.sold,
        version: p.stock.version,
        per_customer_limit: p.per_customer_limit,
        hold_seconds: p.hold_seconds,
        sale_starts_at: p.sale_starts_at_ms.map(timestamp),
        sale_ends_at: p.sale_ends_at_ms.map(timestamp),
        paused: p.stock.paused,
    }
}

pub fn stock_event(s: StockSnapshot) -> pb::StockEvent {
    pb::StockEvent {
        sku: s.sku.to_string(),
        available: s.available,
        held: s.held,
        sold: s.sold,
        total: s.total,
        version: s.version,
        at_ms: s.at_ms,
        paused: s.paused,
    }
}

/// A hold as the wire shows it, with its state as of `now_ms` (a HELD hold
/// past its deadline reads as EXPIRED).
pub fn reservation(hold: Hold, now_ms: i64) -> pb::Reservation {
    let state = match hold.state_at(now_ms) {
        HoldState::Held => pb::HoldState::Held,
        HoldState::Confirmed => pb::HoldState::Confirmed,
        HoldState::Purchased => pb::HoldState::Purchased,
        HoldState::Cancelled => pb::HoldState::Cancelled,
        HoldState::Expired => pb::HoldState::Expired,
        HoldState::Released => pb::HoldState::Released,
    };
    pb::Reservation {
        id: hold.id.to_string(),
        sku: hold.id.sku().to_string(),
        customer_id: hold.customer_id.to_string(),
        quantity: i64::from(hold.quantity),
        state: state.into(),
        expires_at: Some(timestamp(hold.expires_at_ms)),
        created_at: Some(timestamp(hold.created_at_ms)),
        request_id: hold.request_id.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_milliseconds() {
        for ms in [0, 1, 999, 1_764_050_000_123, -1] {
            assert_eq!(millis("t", &timestamp(ms)).unwrap(), ms);
        }
        let bad = Timestamp {
            seconds: 1,
            nanos: -5,
        };
        assert!(millis("t", &bad).is_err());
        let huge = Timestamp {
            seconds: i64::MAX,
            nanos: 0,
        };
        assert!(millis("t", &huge).is_err());
    }
}
