//! The keys of web push ("Notify me"): each shopper's interests under the
//! shopper's hash tag, each product's interests, rounds and sent marks under
//! the product's, and the deployment-wide list of products with interests,
//! the push streams and the demo VAPID key.

use super::names::PREFIX;
use crate::types::{CustomerId, Sku};

/// Set: the SKUs with at least one push interest, for the planners (outside
/// any product's slot).
pub const PUSH_PRODUCTS: &str = "fs:push:products";

/// Stream of pushes to send, read through [`PUSH_GROUP`].
pub const PUSH_JOBS: &str = "fs:push:jobs";

/// The consumer group of the workers that send pushes.
pub const PUSH_GROUP: &str = "pushers";

/// Stream of pushes that failed for good, with why.
pub const DEAD_PUSHES: &str = "fs:push:dead";

/// String: the VAPID private key a demo deployment made up (base64url), so
/// every process of the demo signs with the same.
pub const DEMO_VAPID_KEY: &str = "fs:push:vapid-demo";

/// Hash: `SKU/SUBSCRIPTION_ID` → interest JSON, every interest of one
/// shopper (their bound is its length).
pub fn push_shopper(customer: &CustomerId) -> String {
    format!("{PREFIX}:push:shopper:{{{customer}}}")
}

/// One product's push keys, under its hash tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushProductKeys {
    /// Hash: `CUSTOMER/SUBSCRIPTION_ID` → interest JSON.
    pub interests: String,
    /// Hash: `CUSTOMER/SUBSCRIPTION_ID/opens` or `.../back` → `NOTICE|JOB_ID`,
    /// the push last claimed for delivery (dedupe, and the quiet period).
    pub sent: String,
    /// Hash: the product's rounds (`opens_notice`, `opens_cursor`,
    /// `back_notice`, `back_cursor`) and `available_seen`.
    pub rounds: String,
    /// The product's own hash (settings and counters), to check it exists.
    pub product: String,
}

impl PushProductKeys {
    pub fn new(sku: &Sku) -> Self {
        let key = |kind: &str| format!("{PREFIX}:push:{kind}:{{{sku}}}");
        Self {
            interests: key("product"),
            sent: key("sent"),
            rounds: key("round"),
            product: super::ProductKeys::new(sku).product,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_products_push_keys_share_its_slot_and_a_shoppers_carry_their_tag() {
        let keys = PushProductKeys::new(&Sku::new("TEE-1").unwrap());
        for key in [&keys.interests, &keys.sent, &keys.rounds, &keys.product] {
            assert!(key.contains("{TEE-1}"), "{key}");
        }
        assert_eq!(keys.interests, "fs:push:product:{TEE-1}");
        let alice = CustomerId::new("alice@example").unwrap();
        assert_eq!(push_shopper(&alice), "fs:push:shopper:{alice@example}");
    }
}
