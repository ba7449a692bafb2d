//! A shopper's live holds are always findable: of one product, and across
//! every product, newest first, a page at a time.

use std::time::Duration;

use reservation_core::keys;
use reservation_core::testing::{TestEngine, cart, customer_of, reserve};
use reservation_core::{Engine, HoldPage, ReservationId, Sku};

fn ids(page: &HoldPage) -> Vec<String> {
    page.holds.iter().map(|h| h.id.to_string()).collect()
}

async fn make_hold(t: &TestEngine, sku: &Sku, customer: &str, request: &str) -> ReservationId {
    let hold = t.reserved(sku, customer, 1, request).await.hold.id;
    // Tokens start with the creation time: one hold per millisecond keeps the
    // expected order the order of making.
    t.advance(Duration::from_millis(1));
    hold
}

#[tokio::test]
async fn a_shoppers_live_holds_of_a_product_are_listed_newest_first_and_nobody_elses() {
    let t = TestEngine::start().await;
    let tee = t.product("TEE", 10).await;
    let ann = customer_of("ann");
    let first = make_hold(&t, &tee, "ann", "r1").await;
    make_hold(&t, &tee, "bob", "r2").await;
    let second = make_hold(&t, &tee, "ann", "r3").await;

    let page = t
        .engine
        .customer_holds(&ann, Some(&tee), None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&page), [second.to_string(), first.to_string()]);
    assert_eq!(page.next_page_token, None);
    assert!(page.holds.iter().all(|h| h.customer_id == ann));
    assert!(t.engine.audit(&tee).await.unwrap().is_clean());
}

#[tokio::test]
async fn holds_leave_the_list_when_they_end_and_a_confirmed_one_stays() {
    let t = TestEngine::start().await;
    let tee = t.product_with("TEE", 10, |p| p.hold_seconds = 60).await;
    let ann = customer_of("ann");
    let cancelled = make_hold(&t, &tee, "ann", "r1").await;
    let confirmed = make_hold(&t, &tee, "ann", "r2").await;
    let bought = make_hold(&t, &tee, "ann", "r3").await;
    let expiring = make_hold(&t, &tee, "ann", "r4").await;
    t.engine.cancel(&cancelled, None).await.unwrap();
    t.engine.confirm(&confirmed, None).await.unwrap();
    t.engine.confirm(&bought, None).await.unwrap();
    t.engine.finalize_purchase(&bought).await.unwrap();
    let listed = |page: HoldPage| ids(&page);
    let page = t.engine.customer_holds(&ann, None, None, 10).await.unwrap();
    assert_eq!(listed(page), [expiring.to_string(), confirmed.to_string()]);

    // Past its deadline a HELD hold is expired, swept or not.
    t.advance(Duration::from_secs(61));
    let page = t.engine.customer_holds(&ann, None, None, 10).await.unwrap();
    assert_eq!(listed(page), [confirmed.to_string()]);
    t.engine.sweep_product(&tee, 10).await.unwrap();
    let page = t.engine.customer_holds(&ann, None, None, 10).await.unwrap();
    assert_eq!(listed(page), [confirmed.to_string()]);
    assert!(t.engine.audit(&tee).await.unwrap().is_clean());
}

#[tokio::test]
async fn a_list_across_products_pages_newest_first_without_gaps_or_repeats() {
    let t = TestEngine::start().await;
    let skus = [
        t.product("CAP", 10).await,
        t.product("MUG", 10).await,
        t.product("TEE", 10).await,
    ];
    let ann = customer_of("ann");
    let mut made = Vec::new();
    for i in 0..7 {
        made.push(make_hold(&t, &skus[i % 3], "ann", &format!("r{i}")).await);
    }
    let lines = [(&skus[0], 1), (&skus[2], 1)];
    let carted = t
        .engine
        .reserve_cart(&cart("ann", "c1", &lines))
        .await
        .unwrap();
    made.extend(carted.into_iter().map(|r| r.hold.id));

    let mut listed = Vec::new();
    let mut after = None;
    loop {
        let page = t
            .engine
            .customer_holds(&ann, None, after.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.holds.len() <= 2);
        listed.extend(page.holds);
        match page.next_page_token {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    assert!(
        listed
            .windows(2)
            .all(|w| w[0].created_at_ms >= w[1].created_at_ms),
        "newest first"
    );
    let mut listed: Vec<String> = listed.iter().map(|h| h.id.to_string()).collect();
    let mut made: Vec<String> = made.iter().map(ToString::to_string).collect();
    listed.sort();
    made.sort();
    assert_eq!(listed, made, "every live hold once");
}

#[tokio::test]
async fn products_without_live_holds_drop_out_of_a_shoppers_index_once_quiet() {
    let t = TestEngine::start().await;
    let tee = t.product("TEE", 10).await;
    let mug = t.product("MUG", 10).await;
    let ann = customer_of("ann");
    let gone = make_hold(&t, &tee, "ann", "r1").await;
    let kept = make_hold(&t, &mug, "ann", "r2").await;
    t.engine.cancel(&gone, None).await.unwrap();
    let indexed = || async {
        let mut conn = t.raw_connection().await;
        let products: i64 = redis::cmd("ZCARD")
            .arg(keys::shopper_products(&customer_of("ann")))
            .query_async(&mut conn)
            .await
            .unwrap();
        products
    };

    // Noted recently, the product may have a reserve in flight: it stays.
    t.engine.customer_holds(&ann, None, None, 10).await.unwrap();
    assert_eq!(indexed().await, 2);
    t.advance(Engine::SHOPPER_QUIET_BEFORE_DROP + Duration::from_secs(1));
    let page = t.engine.customer_holds(&ann, None, None, 10).await.unwrap();
    assert_eq!(ids(&page), [kept.to_string()]);
    assert_eq!(indexed().await, 1, "the product with a live hold stays");

    // A new reserve notes the product again.
    make_hold(&t, &tee, "ann", "r3").await;
    assert_eq!(indexed().await, 2);
}

#[tokio::test]
async fn a_page_size_out_of_range_is_refused() {
    let t = TestEngine::start().await;
    let ann = customer_of("ann");
    for size in [0, 101] {
        let refused = t.engine.customer_holds(&ann, None, None, size).await;
        assert_eq!(refused.unwrap_err().reason(), "INVALID_ARGUMENT");
    }
}

#[tokio::test]
async fn only_holds_are_noted_and_a_retry_notes_a_lost_note_again() {
    let t = TestEngine::start().await;
    let tee = t.product("TEE", 1).await;
    let ann = customer_of("ann");
    let noted = |customer: &'static str| {
        let t = &t;
        async move {
            let mut conn = t.raw_connection().await;
            let products: i64 = redis::cmd("ZCARD")
                .arg(keys::shopper_products(&customer_of(customer)))
                .query_async(&mut conn)
                .await
                .unwrap();
            products
        }
    };
    let held = make_hold(&t, &tee, "ann", "r1").await;
    let refused = t.engine.reserve(&reserve(&tee, "bob", 1, "r2")).await;
    assert_eq!(refused.unwrap_err().reason(), "OUT_OF_STOCK");
    assert_eq!(
        (noted("ann").await, noted("bob").await),
        (1, 0),
        "a refusal, a sold-out sale's common answer, writes no note"
    );

    // As a process that died between the script and the note leaves it.
    let mut conn = t.raw_connection().await;
    let _: i64 = redis::cmd("DEL")
        .arg(keys::shopper_products(&customer_of("ann")))
        .query_async(&mut conn)
        .await
        .unwrap();
    let page = t.engine.customer_holds(&ann, None, None, 10).await.unwrap();
    assert!(
        page.holds.is_empty(),
        "the lost note hides the hold across products"
    );
    let page = t
        .engine
        .customer_holds(&ann, Some(&tee), None, 10)
        .await
        .unwrap();
    assert_eq!(ids(&page), [held.to_string()], "never from its own product");

    let replay = t.reserved(&tee, "ann", 1, "r1").await;
    assert!(replay.replayed);
    let page = t.engine.customer_holds(&ann, None, None, 10).await.unwrap();
    assert_eq!(ids(&page), [held.to_string()], "the retry noted it again");
}

#[tokio::test]
async fn every_customer_of_one_reserve_call_is_noted() {
    let t = TestEngine::start().await;
    let tee = t.product("TEE", 100).await;
    // One call, many customers: on a Cluster their indexes live on many shards.
    let customers: Vec<String> = (0..20).map(|i| format!("shopper-{i}")).collect();
    let requests: Vec<_> = customers
        .iter()
        .enumerate()
        .map(|(i, customer)| reserve(&tee, customer, 1, &format!("r{i}")))
        .collect();
    let made = t.engine.reserve_many(&requests).await.unwrap();
    for (customer, made) in customers.iter().zip(made) {
        let page = t
            .engine
            .customer_holds(&customer_of(customer), None, None, 10)
            .await
            .unwrap();
        assert_eq!(
            ids(&page),
            [made.unwrap().hold.id.to_string()],
            "{customer}"
        );
    }
}
