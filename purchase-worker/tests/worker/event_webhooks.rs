//! Event webhooks reach the shop at least once, signed the Standard Webhooks
//! way (checked by the reference library): `order.created` for each order,
//! `hold.released` for each purchase that failed for good. An endpoint that
//! fails is tried again with the same `webhook-id`; one that keeps failing
//! has the event dead-lettered; and an event a worker was delivering when it
//! was SIGKILLed is delivered by another.

use std::time::Duration;

use reservation_core::keys::{DEAD_PURCHASES, DEAD_WEBHOOKS, WEBHOOK_GROUP};
use reservation_core::testing::TestEngine;
use reservation_core::{HoldState, ReservationId, Sku};
use serde_json::{Value, json};

use super::shop_endpoint::{SECRET, ShopEndpoint};
use super::{all_in_state, eventually, real_time, spawn_worker_with};

async fn confirmed(t: &TestEngine, sku: &Sku, customer: &str) -> ReservationId {
    let id = t.reserved(sku, customer, 1, customer).await.hold.id;
    t.engine.confirm(&id, None).await.unwrap();
    id
}

/// A worker buying through `/purchases` and telling events to `/events`.
fn webhook_flags(shop: &ShopEndpoint, attempts: &str) -> Vec<String> {
    [
        "--purchase-webhook",
        &shop.url("/purchases"),
        "--purchase-webhook-secret",
        SECRET,
        "--event-webhook",
        &shop.url("/events"),
        "--event-webhook-secret",
        SECRET,
        "--event-webhook-attempts",
        attempts,
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Waits for a worker to make its event groups, which start at the streams'
/// new entries (the dead-letter stream's is made last).
async fn event_groups_made(t: &TestEngine) {
    eventually(
        "the worker made its event groups",
        Duration::from_secs(10),
        async || {
            let mut conn = t.raw_connection().await;
            let groups: redis::RedisResult<redis::streams::StreamInfoGroupsReply> =
                redis::cmd("XINFO")
                    .arg("GROUPS")
                    .arg(DEAD_PURCHASES)
                    .query_async(&mut conn)
                    .await;
            groups.is_ok_and(|groups| groups.groups.iter().any(|g| g.name == WEBHOOK_GROUP))
        },
    )
    .await;
}

/// The events the shop was sent of `kind` for `id`, in order.
fn events(shop: &ShopEndpoint, kind: &str, id: &ReservationId) -> Vec<Value> {
    shop.seen_with_id(&format!("{kind}-{id}"))
        .into_iter()
        .filter(|record| record["path"] == "/events")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_and_released_holds_reach_the_shop_and_failures_are_retried_or_dead_lettered() {
    let shop = ShopEndpoint::start(json!({
        "/purchases bob": [[402, 0, "card declined"]],
        "/events cid": [[503, 0, "busy"], [503, 0, "busy"], [200, 0, "ok"]],
        "/events dan": [[500, 0, "down"]],
    }))
    .await;
    let t = TestEngine::start_with(real_time()).await;
    let sku = t.product("TEE", 10).await;
    let flags = webhook_flags(&shop, "3");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut worker = spawn_worker_with(&t, "events", &flags);
    event_groups_made(&t).await;
    let [ann, bob, cid, dan] = [
        confirmed(&t, &sku, "ann").await,
        confirmed(&t, &sku, "bob").await,
        confirmed(&t, &sku, "cid").await,
        confirmed(&t, &sku, "dan").await,
    ];

    eventually(
        "every order and the release is told, or given up on",
        Duration::from_secs(20),
        async || {
            !events(&shop, "order.created", &ann).is_empty()
                && !events(&shop, "hold.released", &bob).is_empty()
                && events(&shop, "order.created", &cid).len() == 3
                && events(&shop, "order.created", &dan).len() == 3
                && t.engine.product(&sku).await.unwrap().stock.held == 0
        },
    )
    .await;
    // Time for an ack and a dead letter to land after the last answer.
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.kill().unwrap();
    worker.wait().unwrap();

    assert!(
        shop.seen().iter().all(|record| record["verified"] == true),
        "the reference library verified every request"
    );
    let order = &events(&shop, "order.created", &ann)[0];
    assert_eq!(order["type"], "order.created");
    assert_eq!(
        (
            order["data"]["reservation_id"].clone(),
            order["data"]["sku"].clone(),
            order["data"]["customer_id"].clone(),
            order["data"]["quantity"].clone()
        ),
        (json!(ann.to_string()), json!("TEE"), json!("ann"), json!(1))
    );
    assert_eq!(
        events(&shop, "order.created", &ann).len(),
        1,
        "delivered once"
    );
    let released = &events(&shop, "hold.released", &bob)[0];
    assert_eq!(released["data"]["customer_id"], "bob");
    assert!(
        released["data"]["reason"]
            .as_str()
            .unwrap()
            .contains("402: card declined"),
        "{released}"
    );
    assert!(
        events(&shop, "order.created", &bob).is_empty(),
        "a released hold makes no order"
    );
    assert!(all_in_state(&t, std::slice::from_ref(&bob), HoldState::Released).await);

    let mut conn = t.raw_connection().await;
    let dead: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(DEAD_WEBHOOKS)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    let dead_ids: Vec<String> = dead
        .ids
        .iter()
        .filter_map(|entry| entry.get("webhook_id"))
        .collect();
    assert_eq!(
        dead_ids,
        [format!("order.created-{dan}")],
        "only dan's order, after its three tries; cid's went through on its third"
    );
    let reason: String = dead.ids[0].get("reason").unwrap();
    assert!(reason.contains("500"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_a_killed_worker_was_delivering_is_delivered_by_another_with_the_same_id() {
    // The shop takes its time over the first order event only.
    let shop = ShopEndpoint::start(json!({"/events eve": [[200, 3, "ok"], [200, 0, "ok"]]})).await;
    let t = TestEngine::start_with(real_time()).await;
    let sku = t.product("TEE", 10).await;
    let flags = webhook_flags(&shop, "3");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut first = spawn_worker_with(&t, "first", &flags);
    event_groups_made(&t).await;
    let eve = confirmed(&t, &sku, "eve").await;
    eventually(
        "the first worker is telling the shop of eve's order",
        Duration::from_secs(10),
        async || !events(&shop, "order.created", &eve).is_empty(),
    )
    .await;
    first.kill().unwrap();
    first.wait().unwrap();

    let mut second = spawn_worker_with(&t, "second", &flags);
    eventually(
        "the second worker tells it again",
        Duration::from_secs(15),
        async || events(&shop, "order.created", &eve).len() == 2,
    )
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert!(all_in_state(&t, std::slice::from_ref(&eve), HoldState::Purchased).await);
    assert!(
        events(&shop, "order.created", &eve)
            .iter()
            .all(|record| record["verified"] == true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_hears_when_a_product_sells_out_and_when_it_comes_back() {
    let shop = ShopEndpoint::start(json!({})).await;
    let t = TestEngine::start_with(real_time()).await;
    let tee = t.product("TEE", 2).await;
    let cap = t.product("CAP", 5).await;
    let mut flags = webhook_flags(&shop, "3");
    flags.extend(["--availability-interval".to_owned(), "100ms".to_owned()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut worker = spawn_worker_with(&t, "availability", &flags);
    // Endpoints' records are named by scheme, host and path.
    let events_url = shop.url("/events");
    eventually(
        "the worker has seen both products as they start",
        Duration::from_secs(10),
        async || {
            t.engine
                .announced(&tee, &events_url)
                .await
                .unwrap()
                .is_some()
                && t.engine
                    .announced(&cap, &events_url)
                    .await
                    .unwrap()
                    .is_some()
        },
    )
    .await;

    t.reserved(&tee, "ann", 1, "r1").await;
    let last = t.reserved(&tee, "bob", 1, "r2").await;
    let told = |id: &str| {
        shop.seen_with_id(id)
            .into_iter()
            .filter(|record| record["path"] == "/events")
            .collect::<Vec<_>>()
    };
    eventually(
        "the shop hears TEE sold out",
        Duration::from_secs(10),
        async || !told("product.sold_out-TEE-1").is_empty(),
    )
    .await;
    t.engine.cancel(&last.hold.id, None).await.unwrap();
    eventually(
        "the shop hears TEE is back",
        Duration::from_secs(10),
        async || !told("product.back_in_stock-TEE-2").is_empty(),
    )
    .await;
    // A few more passes: nothing is told twice, and CAP never changed.
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.kill().unwrap();
    worker.wait().unwrap();

    let sold_out = told("product.sold_out-TEE-1");
    let back = told("product.back_in_stock-TEE-2");
    assert_eq!(
        (sold_out.len(), back.len()),
        (1, 1),
        "each change told once"
    );
    assert_eq!(sold_out[0]["type"], "product.sold_out");
    assert_eq!(
        (
            sold_out[0]["data"]["sku"].clone(),
            sold_out[0]["data"]["available"].clone()
        ),
        (json!("TEE"), json!(0))
    );
    assert_eq!(back[0]["type"], "product.back_in_stock");
    assert_eq!(back[0]["data"]["available"], 1);
    assert!(
        back[0]["data"]["version"].as_u64() > sold_out[0]["data"]["version"].as_u64(),
        "a later change has a later version"
    );
    let events: Vec<_> = shop
        .seen()
        .into_iter()
        .filter(|record| record["path"] == "/events")
        .collect();
    assert_eq!(events.len(), 2, "nothing of CAP, nothing twice: {events:?}");
    assert!(events.iter().all(|record| record["verified"] == true));
    let announced = t
        .engine
        .announced(&tee, &events_url)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((announced.in_stock, announced.changes), (true, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_reaches_every_endpoint_and_one_failing_is_retried_alone() {
    let erp = ShopEndpoint::start(json!({})).await;
    let analytics =
        ShopEndpoint::start(json!({"/events ann": [[503, 0, "busy"], [200, 0, "ok"]]})).await;
    let t = TestEngine::start_with(real_time()).await;
    let sku = t.product("TEE", 10).await;
    let endpoints = format!("{},{}", erp.url("/events"), analytics.url("/events"));
    let mut worker = spawn_worker_with(
        &t,
        "fan-out",
        &[
            "--event-webhook",
            &endpoints,
            "--event-webhook-secret",
            SECRET,
        ],
    );
    event_groups_made(&t).await;
    let ann = confirmed(&t, &sku, "ann").await;

    eventually(
        "both endpoints have ann's order",
        Duration::from_secs(15),
        async || {
            !events(&erp, "order.created", &ann).is_empty()
                && events(&analytics, "order.created", &ann)
                    .iter()
                    .any(|record| record["status"] == 200)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert_eq!(
        events(&erp, "order.created", &ann).len(),
        1,
        "the endpoint that took it is not asked again"
    );
    assert_eq!(events(&analytics, "order.created", &ann).len(), 2);
    assert!(
        erp.seen()
            .iter()
            .chain(analytics.seen().iter())
            .all(|record| record["verified"] == true)
    );
}
