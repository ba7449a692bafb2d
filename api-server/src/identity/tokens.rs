//! The engine's own customer tokens: `CUSTOMER~EXPIRES_MS~SIGNATURE`, where
//! the signature is HMAC-SHA256 over `CUSTOMER~EXPIRES_MS` with the secret
//! the shop and the engine share, in unpadded URL-safe base64. `~` is not in
//! the customer id alphabet, so the parts cannot be confused.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use reservation_core::CustomerId;
use sha2::Sha256;

use super::Unidentified;

/// Issues and checks customer tokens with the shop's secret.
#[derive(Clone)]
pub struct CustomerTokens {
    /// Shared rather than copied: every request clones the node's `App`,
    /// and the keyed state is a few hundred bytes (more still when a
    /// dependency turns on `hmac`'s `reset`).
    key: Arc<Hmac<Sha256>>,
}

/// The secret never shows, in logs or anywhere else.
impl std::fmt::Debug for CustomerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CustomerTokens(..)")
    }
}

impl CustomerTokens {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            key: Arc::new(Hmac::new_from_slice(secret).expect("HMAC takes a key of any length")),
        }
    }

    /// A token naming `customer` until `expires_at_ms`, as the shop's
    /// back-end would issue it.
    pub fn issue(&self, customer: &CustomerId, expires_at_ms: i64) -> String {
        let claim = format!("{customer}~{expires_at_ms}");
        let signature = URL_SAFE_NO_PAD.encode(self.sign(&claim).finalize().into_bytes());
        format!("{claim}~{signature}")
    }

    /// The customer a token names, if its signature holds and it has not
    /// expired. The signature is compared in constant time.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<CustomerId, Unidentified> {
        let (claim, signature) = token.rsplit_once('~').ok_or(Unidentified::MalformedToken)?;
        let (customer, expires) = claim.split_once('~').ok_or(Unidentified::MalformedToken)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Unidentified::MalformedToken)?;
        self.sign(claim)
            .verify_slice(&signature)
            .map_err(|_| Unidentified::BadSignature)?;
        let at_ms: i64 = expires.parse().map_err(|_| Unidentified::MalformedToken)?;
        if at_ms <= now_ms {
            return Err(Unidentified::Expired { at_ms });
        }
        CustomerId::new(customer).map_err(|e| Unidentified::InvalidCustomer(e.to_string()))
    }

    fn sign(&self, claim: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::clone(&self.key);
        mac.update(claim.as_bytes());
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_customer_until_it_expires_and_not_once_touched() {
        let tokens = CustomerTokens::new(b"shop secret");
        let ann = CustomerId::new("ann@shop.example").unwrap();
        let token = tokens.issue(&ann, 2_000);
        assert_eq!(tokens.verify(&token, 1_999), Ok(ann.clone()));
        assert_eq!(
            tokens.verify(&token, 2_000),
            Err(Unidentified::Expired { at_ms: 2_000 })
        );

        let forged = token.replacen("ann@shop.example", "bob@shop.example", 1);
        assert_eq!(tokens.verify(&forged, 0), Err(Unidentified::BadSignature));
        let extended = token.replacen("~2000~", "~9999~", 1);
        assert_eq!(tokens.verify(&extended, 0), Err(Unidentified::BadSignature));
        let other_shop = CustomerTokens::new(b"another secret");
        assert_eq!(
            other_shop.verify(&token, 0),
            Err(Unidentified::BadSignature)
        );
        for malformed in ["", "ann", "ann~2000", "ann~2000~!!", "~~"] {
            assert!(tokens.verify(malformed, 0).is_err(), "{malformed:?}");
        }
    }
}
