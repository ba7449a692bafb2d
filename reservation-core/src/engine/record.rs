//! Hold records as the scripts store them: one line of space-separated
//! fields (see `scripts/lib.lua`), in the live holds hash or an ended one.

use crate::error::{Error, Result};
use crate::types::{CustomerId, Hold, HoldState, RequestId, ReservationId};

/// Decodes the record of the hold `id`.
pub(super) fn decode_hold(id: &ReservationId, raw: &[u8]) -> Result<Hold> {
    let malformed =
        |what: &str| Error::Internal(format!("hold {id} has a malformed record: {what}"));
    let text = std::str::from_utf8(raw).map_err(|_| malformed("not UTF-8"))?;
    let mut fields = text.split(' ');
    let mut next = |name: &str| fields.next().ok_or_else(|| malformed(name));
    let state = next("state")?;
    let state = HoldState::parse(state).ok_or_else(|| malformed(state))?;
    let customer_id =
        CustomerId::new(next("customer_id")?).map_err(|e| malformed(&e.to_string()))?;
    let quantity = next("quantity")?
        .parse()
        .map_err(|_| malformed("quantity"))?;
    let request_id = RequestId::new(next("request_id")?).map_err(|e| malformed(&e.to_string()))?;
    let mut time = |name: &str| -> Result<i64> { next(name)?.parse().map_err(|_| malformed(name)) };
    let created_at_ms = time("created_at_ms")?;
    let expires_at_ms = time("expires_at_ms")?;
    let updated_at_ms = time("updated_at_ms")?;
    let purchase_deadline_ms = time("purchase_deadline_ms").ok().filter(|&ms| ms > 0);
    let purchased_at_ms = time("purchased_at_ms").ok().filter(|&ms| ms > 0);
    Ok(Hold {
        id: id.clone(),
        customer_id,
        quantity,
        state,
        request_id,
        created_at_ms,
        expires_at_ms,
        purchase_deadline_ms,
        purchased_at_ms,
        updated_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_with_its_optional_times() {
        let id: ReservationId = "TEE~01hf7yat00a3f9c2e7b1d04f6a8c9e".parse().unwrap();
        let held = decode_hold(
            &id,
            b"HELD ann 2 r-1 1700000000000 1700000120000 1700000000000",
        )
        .unwrap();
        assert_eq!(
            (
                held.state,
                held.quantity,
                held.expires_at_ms,
                held.purchase_deadline_ms
            ),
            (HoldState::Held, 2, 1_700_000_120_000, None)
        );
        let bought = decode_hold(
            &id,
            b"PURCHASED ann 2 cart:c-9 1700000000000 1700000120000 1700000005000 1700000300000 1700000005000",
        )
        .unwrap();
        assert_eq!(bought.request_id.as_str(), "cart:c-9");
        assert_eq!(bought.purchase_deadline_ms, Some(1_700_000_300_000));
        assert_eq!(bought.purchased_at_ms, Some(1_700_000_005_000));
        assert!(decode_hold(&id, b"HELD ann two r-1 1 2 3").is_err());
        assert!(decode_hold(&id, b"{\"state\":\"HELD\"}").is_err());
    }
}
