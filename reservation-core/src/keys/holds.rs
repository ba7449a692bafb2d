//! Where a hold is stored: its key within the product, found from its
//! reservation id (in either token layout) or made from its request, and the
//! creation time a token carries.

use crate::types::ReservationId;

/// Where a hold is stored, from its reservation id: the hold's key within
/// the product, and the creation time its token carries. A token of this
/// layout is ten base-32 digits of its creation time (in ms, as a ULID
/// starts) and its 20-hex-digit key; a token of layout 1 is a 26-character
/// ULID and is its own key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldKey<'a> {
    pub key: &'a str,
    /// `None` for a layout 1 token.
    pub created_at_ms: Option<i64>,
}

impl<'a> HoldKey<'a> {
    pub fn of(id: &'a ReservationId) -> Self {
        let token = id.token();
        match (token.len(), token.get(..10).and_then(decode_time)) {
            (30, Some(created_at_ms)) => Self {
                key: &token[10..],
                created_at_ms: Some(created_at_ms),
            },
            _ => Self {
                key: token,
                created_at_ms: None,
            },
        }
    }
}

/// What kind of request made a record: a reserve's, a cart line's and a
/// restock's request ids live apart, so none answers for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    Reserve,
    CartLine,
    /// Makes no hold: its record is kept in the ended hashes for the
    /// retention, as an ended hold's is (see `scripts/restock.lua`).
    Restock,
}

/// The key of the hold a request makes, within its product (for a restock,
/// the key of its record): the first 20 hex digits of SHA-1 over the
/// product's salt, the request's kind and its id. So a request finds its
/// hold with no index of its own, and nobody without the salt can tell a
/// hold's id from its request id.
pub fn request_hold_key(salt: &str, kind: RequestKind, request_id: &str) -> String {
    let kind = match kind {
        RequestKind::Reserve => 'r',
        RequestKind::CartLine => 'c',
        RequestKind::Restock => 's',
    };
    let mut digest = sha1_smol::Sha1::from(format!("{salt}|{kind}|{request_id}"))
        .digest()
        .to_string();
    digest.truncate(20);
    digest
}

/// When a reservation id's token says its hold was made, for either layout
/// (a ULID starts with its time too); `None` when it carries no time.
pub fn created_at_ms(id: &ReservationId) -> Option<i64> {
    id.token().get(..10).and_then(decode_time)
}

/// Ten digits of Crockford's base 32, either case: a time in ms.
fn decode_time(digits: &str) -> Option<i64> {
    const ALPHABET: &[u8] = b"0123456789abcdefghjkmnpqrstvwxyz";
    digits.bytes().try_fold(0i64, |ms, b| {
        let digit = ALPHABET.iter().position(|&a| a == b.to_ascii_lowercase())?;
        Some(ms * 32 + digit as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Sku;

    #[test]
    fn a_reservation_id_leads_to_its_holds_key_in_either_layout() {
        let sku = Sku::new("TEE-1").unwrap();
        // This layout: ten digits of time, then the key.
        let id: ReservationId = "TEE-1~01hf7yat00a3f9c2e7b1d04f6a8c9e".parse().unwrap();
        let found = HoldKey::of(&id);
        assert_eq!(found.key, "a3f9c2e7b1d04f6a8c9e");
        assert_eq!(found.created_at_ms, Some(1_700_000_000_000));
        assert_eq!(created_at_ms(&id), Some(1_700_000_000_000));
        // Layout 1: a ULID, its own key.
        let legacy = ReservationId::from_parts(&sku, "01HF7YAT00ABCDEFGHJKMNPQRS").unwrap();
        let found = HoldKey::of(&legacy);
        assert_eq!(found.key, "01HF7YAT00ABCDEFGHJKMNPQRS");
        assert_eq!(found.created_at_ms, None);
        assert_eq!(created_at_ms(&legacy), Some(1_700_000_000_000));
    }

    #[test]
    fn a_request_finds_its_hold_by_a_salted_key_of_its_own_kind() {
        let key = request_hold_key("SALT", RequestKind::Reserve, "r-1");
        assert_eq!(key.len(), 20);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(key, request_hold_key("SALT", RequestKind::Reserve, "r-1"));
        assert_ne!(key, request_hold_key("SALT", RequestKind::CartLine, "r-1"));
        assert_ne!(key, request_hold_key("SALT", RequestKind::Restock, "r-1"));
        assert_ne!(key, request_hold_key("PEPPER", RequestKind::Reserve, "r-1"));
    }
}
