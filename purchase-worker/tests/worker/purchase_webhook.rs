//! The purchase step over HTTP, as a shop in another language takes part:
//! every confirmed hold is posted to its endpoint, signed the Standard
//! Webhooks way (checked here by the reference library), with the
//! reservation id as `webhook-id`. A 2xx buys, a 402 declines at once, a 5xx
//! or a timeout is tried again and then released; and a worker killed while
//! the endpoint is answering leaves the job to another, which asks again
//! with the same id.

use std::time::Duration;

use reservation_core::keys::DEAD_PURCHASES;
use reservation_core::testing::TestEngine;
use reservation_core::{HoldState, ReservationId};
use serde_json::json;

use super::shop_endpoint::{SECRET, ShopEndpoint};
use super::{all_in_state, eventually, real_time, spawn_worker_with};

async fn confirmed(t: &TestEngine, sku: &reservation_core::Sku, customer: &str) -> ReservationId {
    let id = t.reserved(sku, customer, 1, customer).await.hold.id;
    t.engine.confirm(&id, None).await.unwrap();
    id
}

fn webhook_flags<'a>(shop: &'a str, timeout: &'a str) -> Vec<&'a str> {
    vec![
        "--purchase-webhook",
        shop,
        "--purchase-webhook-secret",
        SECRET,
        "--purchase-webhook-timeout",
        timeout,
    ]
}

/// The dead-lettered reasons, by reservation id.
async fn dead_letter_reason(t: &TestEngine, id: &ReservationId) -> String {
    let mut conn = t.raw_connection().await;
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(DEAD_PURCHASES)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    reply
        .ids
        .iter()
        .find(|entry| entry.get::<String>("reservation_id").as_deref() == Some(&id.to_string()))
        .and_then(|entry| entry.get::<String>("reason"))
        .unwrap_or_else(|| panic!("{id} was not dead-lettered"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shop_buys_declines_or_fails_and_each_answer_is_kept() {
    let shop = ShopEndpoint::start(json!({
        "bob": [[402, 0, "card declined"]],
        "cid": [[503, 0, "busy"], [503, 0, "busy"], [200, 0, "ok"]],
        "dan": [[200, 3, "too late"]],
        "fay": [[302, 0, "/elsewhere"]],
    }))
    .await;
    let t = TestEngine::start_with(real_time()).await;
    let sku = t.product("TEE", 10).await;
    let [ann, bob, cid, dan, fay] = [
        confirmed(&t, &sku, "ann").await,
        confirmed(&t, &sku, "bob").await,
        confirmed(&t, &sku, "cid").await,
        confirmed(&t, &sku, "dan").await,
        confirmed(&t, &sku, "fay").await,
    ];
    let url = shop.url("/purchases");
    let mut flags = webhook_flags(&url, "500ms");
    flags.extend(["--max-attempts", "3"]);
    let mut worker = spawn_worker_with(&t, "webhooks", &flags);

    eventually(
        "ann's and cid's holds are bought, bob's, dan's and fay's released",
        Duration::from_secs(20),
        async || {
            all_in_state(&t, &[ann.clone(), cid.clone()], HoldState::Purchased).await
                && all_in_state(
                    &t,
                    &[bob.clone(), dan.clone(), fay.clone()],
                    HoldState::Released,
                )
                .await
        },
    )
    .await;
    worker.kill().unwrap();
    worker.wait().unwrap();

    let seen = shop.seen();
    assert!(
        seen.iter().all(|record| record["method"] != "GET"),
        "a redirect is not followed: the POST and its signature stay with the endpoint"
    );
    assert!(
        seen.iter().all(|record| record["verified"] == true),
        "the reference library verified every request: {seen:?}"
    );
    let deliveries = |id: &ReservationId| shop.seen_with_id(&id.to_string());
    let first = &deliveries(&ann)[0];
    assert_eq!(first["type"], "purchase.requested");
    assert_eq!(first["data"]["reservation_id"], ann.to_string());
    assert_eq!(first["data"]["sku"], "TEE");
    assert_eq!(first["data"]["customer_id"], "ann");
    assert_eq!(
        (
            first["data"]["quantity"].clone(),
            first["data"]["unit_price_cents"].clone(),
            first["data"]["total_cents"].clone()
        ),
        (json!(1), json!(1000), json!(1000))
    );
    assert_eq!(deliveries(&ann).len(), 1);
    assert_eq!(deliveries(&bob).len(), 1, "a decline is not asked again");
    let attempts: Vec<_> = deliveries(&cid)
        .iter()
        .map(|record| record["data"]["attempt"].clone())
        .collect();
    assert_eq!(
        attempts,
        [json!(1), json!(2), json!(3)],
        "the same id each time"
    );
    assert_eq!(deliveries(&dan).len(), 3, "timeouts are tried again");
    assert_eq!(
        deliveries(&fay).len(),
        3,
        "a redirect is a failure, tried again"
    );
    let redirected = dead_letter_reason(&t, &fay).await;
    assert!(
        redirected.contains("redirecting to /elsewhere"),
        "{redirected}"
    );

    let declined = dead_letter_reason(&t, &bob).await;
    assert!(
        declined.contains("declined: 402: card declined"),
        "{declined}"
    );
    let timed_out = dead_letter_reason(&t, &dan).await;
    assert!(timed_out.contains("no answer"), "{timed_out}");
    let stock = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((stock.available, stock.held, stock.sold), (8, 0, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_while_the_shop_answers_leaves_the_purchase_to_another_with_the_same_id() {
    // The shop takes its time over eve's first request only.
    let shop = ShopEndpoint::start(json!({"eve": [[200, 2, "ok"], [200, 0, "ok"]]})).await;
    let t = TestEngine::start_with(real_time()).await;
    let sku = t.product("TEE", 10).await;
    let eve = confirmed(&t, &sku, "eve").await;
    let url = shop.url("/purchases");
    let flags = webhook_flags(&url, "10s");
    let mut first = spawn_worker_with(&t, "first", &flags);
    eventually(
        "the first worker is asking the shop",
        Duration::from_secs(10),
        async || !shop.seen_with_id(&eve.to_string()).is_empty(),
    )
    .await;
    first.kill().unwrap();
    first.wait().unwrap();

    let mut second = spawn_worker_with(&t, "second", &flags);
    eventually(
        "the second worker buys eve's hold",
        Duration::from_secs(15),
        async || all_in_state(&t, std::slice::from_ref(&eve), HoldState::Purchased).await,
    )
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
    let asked = shop.seen_with_id(&eve.to_string());
    assert_eq!(
        asked.len(),
        2,
        "asked again, with the same webhook-id: {asked:?}"
    );
    assert!(asked.iter().all(|record| record["verified"] == true));
    assert_eq!(t.engine.product(&sku).await.unwrap().stock.sold, 1);
}
