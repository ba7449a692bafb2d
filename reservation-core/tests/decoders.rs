//! Every decoder of outside input the core writes itself, fed arbitrary
//! bytes: none panics, each accepts exactly what its documentation allows,
//! and what it accepts reads back as it came. A brief run (proptest's 256
//! cases) is part of the suite; `PROPTEST_CASES=100000` runs it longer.

use proptest::prelude::*;
use reservation_core::keys::Partitions;
use reservation_core::{
    CartLine, CustomerId, HoldEvent, Quantity, RequestId, ReservationId, Sku, StockEvent,
};

/// Text that is sometimes a valid name and often nearly one: the names'
/// alphabets, the characters that must be refused (braces would break a
/// hash tag), and arbitrary bytes.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._:@~{} -]{0,140}",
        proptest::collection::vec(any::<u8>(), 0..200)
            .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    ]
}

/// What a name's documentation allows: 1 to `max` bytes of `allowed`.
fn allowed(s: &str, max: usize, allowed: impl Fn(u8) -> bool) -> bool {
    (1..=max).contains(&s.len()) && s.bytes().all(allowed)
}

fn plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')
}

proptest! {
    #[test]
    fn names_accept_exactly_their_alphabet_and_read_back(s in text()) {
        let sku = Sku::new(s.as_str());
        prop_assert_eq!(sku.is_ok(), allowed(&s, Sku::MAX_LEN, plain));
        let customer = CustomerId::new(s.as_str());
        prop_assert_eq!(
            customer.is_ok(),
            allowed(&s, CustomerId::MAX_LEN, |b| plain(b) || matches!(b, b':' | b'@'))
        );
        let request = RequestId::new(s.as_str());
        prop_assert_eq!(
            request.is_ok(),
            allowed(&s, RequestId::MAX_LEN, |b| plain(b) || b == b':')
        );
        // JSON bodies decode names through the same checks.
        let json = serde_json::Value::String(s.clone());
        prop_assert_eq!(serde_json::from_value::<Sku>(json.clone()).is_ok(), sku.is_ok());
        prop_assert_eq!(serde_json::from_value::<CustomerId>(json).is_ok(), customer.is_ok());
        if let Ok(sku) = sku {
            prop_assert_eq!(sku.to_string(), s);
        }
    }

    #[test]
    fn a_reservation_id_parses_only_as_it_prints(s in text()) {
        if let Ok(id) = s.parse::<ReservationId>() {
            prop_assert_eq!(id.to_string(), s);
            prop_assert!(Sku::new(id.sku().as_str()).is_ok());
        }
    }

    #[test]
    fn a_quantity_is_one_to_the_largest_u32(units in any::<i64>()) {
        let valid = (1..=i64::from(u32::MAX)).contains(&units);
        prop_assert_eq!(Quantity::new(units).is_ok(), valid);
        if let Ok(quantity) = Quantity::new(units) {
            prop_assert_eq!(i64::from(quantity.get()), units);
        }
    }

    #[test]
    fn a_cart_line_is_a_valid_sku_and_quantity(s in text(), units in -5i64..5) {
        let line = CartLine::new(s.as_str(), units);
        prop_assert_eq!(line.is_ok(), Sku::new(s.as_str()).is_ok() && units >= 1);
    }

    #[test]
    fn a_partition_count_is_one_to_the_most(s in prop_oneof!["[0-9]{1,6}", text()]) {
        let valid = s.parse::<u16>().is_ok_and(|n| (1..=Partitions::MAX).contains(&n));
        prop_assert_eq!(s.parse::<Partitions>().is_ok(), valid);
    }

    #[test]
    fn events_decode_any_bytes_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = StockEvent::from_json(&bytes);
        let _ = HoldEvent::from_json(&bytes);
    }

    #[test]
    fn a_stock_event_reads_back_as_it_was_written(
        sku in "[A-Za-z0-9._-]{1,64}",
        counts in any::<(i64, i64, i64, i64, u64, i64)>(),
        paused in any::<bool>(),
    ) {
        let (available, held, sold, total, version, at_ms) = counts;
        let event = StockEvent {
            sku: Sku::new(sku).unwrap(),
            available, held, sold, total, version, at_ms, paused,
        };
        prop_assert_eq!(StockEvent::from_json(event.to_json().as_bytes()).unwrap(), event);
    }
}
