//! A Redis written by layout 1 (every hold kept forever as JSON, a request
//! record per reserve, a set per partition as the sweep index) is refused
//! until `purchase-worker upgrade` converts it; after that, everything a
//! client was told before still holds.

use reservation_core::keys::{CATALOG, LAYOUT, ProductKeys};
use reservation_core::testing::{START_MS, TestEngine, cart, reserve, sku_of};
use reservation_core::{Engine, EngineConfig, Error, HoldState, ReservationId, Sku};
use serde_json::json;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// A layout 1 hold: its token (a ULID of its creation time) and record.
struct OldHold {
    token: String,
    state: &'static str,
    customer: &'static str,
    quantity: u32,
    request_id: &'static str,
    created: i64,
    updated: i64,
    purchase_deadline: i64,
}

impl OldHold {
    fn new(
        n: u128,
        state: &'static str,
        customer: &'static str,
        quantity: u32,
        request_id: &'static str,
        created: i64,
        updated: i64,
    ) -> Self {
        Self {
            token: ulid::Ulid::from_parts(created as u64, n).to_string(),
            state,
            customer,
            quantity,
            request_id,
            created,
            updated,
            purchase_deadline: 0,
        }
    }

    fn json(&self) -> String {
        let mut record = json!({
            "state": self.state, "customer_id": self.customer, "quantity": self.quantity,
            "request_id": self.request_id, "created_at_ms": self.created,
            "expires_at_ms": self.created + 600_000, "purchase_deadline_ms": self.purchase_deadline,
            "updated_at_ms": self.updated,
        });
        if self.state == "PURCHASED" {
            record["purchased_at_ms"] = json!(self.updated);
        }
        record.to_string()
    }

    fn id(&self, sku: &Sku) -> ReservationId {
        format!("{sku}~{}", self.token).parse().unwrap()
    }
}

/// Writes product OLD as layout 1 left it: ten units; ann holds 2 (HELD),
/// bob 1 (CONFIRMED), cyd bought 1, dan cancelled 2 two days ago, and eve's
/// cart line of 1 expired a moment ago.
async fn write_layout_1(t: &TestEngine) -> (Sku, Vec<OldHold>) {
    let sku = sku_of("OLD");
    let keys = ProductKeys::new(&sku);
    let now = START_MS;
    let mut bob = OldHold::new(2, "CONFIRMED", "bob", 1, "r2", now - 60_000, now - 30_000);
    bob.purchase_deadline = now + 270_000;
    let holds = vec![
        OldHold::new(1, "HELD", "ann", 2, "r1", now - 60_000, now - 60_000),
        bob,
        OldHold::new(3, "PURCHASED", "cyd", 1, "r3", now - 120_000, now - 1_000),
        OldHold::new(
            4,
            "CANCELLED",
            "dan",
            2,
            "r4",
            now - 2 * DAY_MS - 5_000,
            now - 2 * DAY_MS,
        ),
        OldHold::new(
            5,
            "EXPIRED",
            "eve",
            1,
            "cart:c9",
            now - 610_000,
            now - 10_000,
        ),
    ];
    let mut conn = t.raw_connection().await;
    let write = |cmd: &mut redis::Cmd| cmd.clone();
    let mut commands = vec![
        write(redis::cmd("DEL").arg(LAYOUT)),
        write(
            redis::cmd("HSET")
                .arg(&keys.product)
                .arg(&[
                    ("sku", "OLD"),
                    ("name", "Old tee"),
                    ("price_cents", "900"),
                    ("per_customer_limit", "0"),
                    ("hold_seconds", "600"),
                    ("sale_starts_at", "0"),
                    ("sale_ends_at", "0"),
                    ("version", "9"),
                    ("total", "10"),
                    ("available", "6"),
                    ("held", "3"),
                    ("sold", "1"),
                ])
                .arg("created_at")
                .arg(now - DAY_MS * 3)
                .arg("updated_at")
                .arg(now - 1_000),
        ),
        write(
            redis::cmd("HSET")
                .arg(&keys.customers)
                .arg(&[("ann", 2), ("bob", 1), ("cyd", 1)]),
        ),
        write(redis::cmd("ZADD").arg(CATALOG).arg(0).arg("OLD")),
        write(
            redis::cmd("SADD")
                .arg(
                    t.engine
                        .config()
                        .partitions
                        .of_product(&sku)
                        .legacy_active_products,
                )
                .arg("OLD"),
        ),
        write(
            redis::cmd("ZADD")
                .arg(&keys.due)
                .arg(holds[0].created + 600_000)
                .arg(&holds[0].token),
        ),
        write(
            redis::cmd("ZADD")
                .arg(&keys.purchase_due)
                .arg(holds[1].purchase_deadline)
                .arg(&holds[1].token),
        ),
    ];
    for hold in &holds {
        commands.push(write(
            redis::cmd("HSET")
                .arg(&keys.holds)
                .arg(&hold.token)
                .arg(hold.json()),
        ));
        let remembered = now - hold.created < DAY_MS;
        if remembered {
            let record = match hold.request_id.strip_prefix("cart:") {
                Some(cart) => keys.legacy_cart_request(cart),
                None => keys.legacy_request(hold.request_id),
            };
            let answer = json!({
                "token": hold.token, "customer_id": hold.customer, "quantity": hold.quantity,
                "hold": hold.json(), "available": 6,
            });
            commands.push(write(
                redis::cmd("SET")
                    .arg(record)
                    .arg(answer.to_string())
                    .arg("EX")
                    .arg(86_400),
            ));
        }
    }
    for command in commands {
        let _: redis::Value = command.query_async(&mut conn).await.unwrap();
    }
    (sku, holds)
}

#[tokio::test]
async fn a_layout_1_redis_is_refused_until_upgraded_and_then_keeps_every_promise() {
    let t = TestEngine::start().await;
    let (sku, old) = write_layout_1(&t).await;
    let config = || EngineConfig::default();

    let refused = Engine::connect_with_clock(&t.redis_config(), config(), t.clock.clone().unwrap())
        .await
        .err()
        .expect("a process on a layout 1 Redis is refused");
    assert!(
        matches!(
            refused,
            Error::InvalidArgument {
                field: "layout",
                ..
            }
        ),
        "{refused}"
    );
    assert!(
        refused.to_string().contains("purchase-worker upgrade"),
        "{refused}"
    );

    let upgrader =
        Engine::connect_for_upgrade(&t.redis_config(), config(), t.clock.clone().unwrap())
            .await
            .unwrap();
    let mut done = Vec::new();
    let report = upgrader
        .upgrade_layout(|sku, holds| done.push((sku.to_string(), holds)))
        .await
        .unwrap();
    assert_eq!((report.products, report.holds), (1, 5));
    assert_eq!(done, [("OLD".to_owned(), 5)]);
    let again = upgrader.upgrade_layout(|_, _| {}).await.unwrap();
    assert!(again.already_current, "a second upgrade does nothing");

    let engine = Engine::connect_with_clock(&t.redis_config(), config(), t.clock.clone().unwrap())
        .await
        .unwrap();
    // Every reservation id handed out before names its hold still; the one
    // that ended two days ago has aged out.
    let states = [
        Some(HoldState::Held),
        Some(HoldState::Confirmed),
        Some(HoldState::Purchased),
        None,
        Some(HoldState::Expired),
    ];
    for (hold, state) in old.iter().zip(states) {
        let found = engine.reservation(&hold.id(&sku)).await;
        match state {
            Some(state) => assert_eq!(found.unwrap().state, state, "{}", hold.token),
            None => assert!(
                matches!(found, Err(Error::ReservationAgedOut { .. })),
                "{found:?}"
            ),
        }
    }
    // Retries of requests made before the upgrade get their first holds.
    let retry = engine
        .reserve(&reserve(&sku, "ann", 2, "r1"))
        .await
        .unwrap();
    assert!(retry.replayed);
    assert_eq!(retry.hold.id, old[0].id(&sku));
    let cart_retry = engine
        .reserve_cart(&cart("eve", "c9", &[(&sku, 1)]))
        .await
        .unwrap();
    assert_eq!(cart_retry[0].hold.id, old[4].id(&sku));
    assert!(cart_retry[0].replayed);

    // The old holds move on as any other, and the books balance.
    engine.confirm(&old[0].id(&sku), None).await.unwrap();
    engine.finalize_purchase(&old[1].id(&sku)).await.unwrap();
    let audit = engine.audit(&sku).await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.problems());
    assert_eq!(
        (
            audit.reserved,
            audit.held,
            audit.sold,
            audit.cancelled,
            audit.expired
        ),
        (7, 2, 2, 2, 1)
    );
    assert_eq!(
        engine.indexed_products().await.unwrap(),
        std::slice::from_ref(&sku)
    );
    let mut conn = t.raw_connection().await;
    let old_index: i64 = redis::cmd("SCARD")
        .arg(
            engine
                .config()
                .partitions
                .of_product(&sku)
                .legacy_active_products,
        )
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(old_index, 0, "the old index is gone");
}
