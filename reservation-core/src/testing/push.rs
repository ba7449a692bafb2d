//! Web push fixtures: subscriptions with real P-256 keys (the engine checks
//! a subscription's key is a point on the curve), at made-up endpoints, and
//! a product as a push is made from it.

use crate::types::{
    EndpointPolicy, Product, PushServiceHost, PushServices, PushSubscription, Sku, StockSnapshot,
};
use crate::vapid::VapidKey;

/// The made-up push services specs subscribe to: every host under
/// `example` (`push.example`, `a.example`, …), on port 443.
pub const EXAMPLE_PUSH_SERVICES: PushServices =
    PushServices::new(&[PushServiceHost::under("example")]);

/// What specs' subscriptions may point at: [`EXAMPLE_PUSH_SERVICES`] over
/// https, and plain http to loopback (a receiver the spec runs).
pub const TEST_ENDPOINTS: EndpointPolicy = EndpointPolicy {
    allow_http_loopback: true,
    push_services: EXAMPLE_PUSH_SERVICES,
};

/// A subscription at `endpoint` (https to a host under `example`, or http
/// to loopback) with a fresh key pair's public key and a fixed auth secret:
/// for specs that store and read subscriptions, not for ones that decrypt
/// what is sent.
pub fn push_subscription(endpoint: &str) -> PushSubscription {
    let auth = "AAECAwQFBgcICQoLDA0ODw";
    PushSubscription::new(
        endpoint,
        &VapidKey::generate().public_key_base64url(),
        auth,
        TEST_ENDPOINTS,
    )
    .unwrap_or_else(|e| panic!("test subscription at {endpoint}: {e}"))
}

/// A subscription at `https://push.example/N`.
pub fn push_subscription_n(n: usize) -> PushSubscription {
    push_subscription(&format!("https://push.example/send/{n}"))
}

/// A product named "Limited tee" as the engine would read it, with
/// `available` units and none held or sold: what a push's notification is
/// made from, without a Redis.
pub fn product_as_read(sku: &Sku, available: i64) -> Product {
    Product {
        sku: sku.clone(),
        name: "Limited tee".to_owned(),
        price_cents: 2500,
        per_customer_limit: 0,
        hold_seconds: 600,
        sale_starts_at_ms: None,
        sale_ends_at_ms: None,
        stock: StockSnapshot {
            sku: sku.clone(),
            available,
            held: 0,
            sold: 0,
            total: available,
            version: 1,
            at_ms: 0,
            paused: false,
        },
    }
}
