//! "The sale opens": one push per subscription when the sale's start is
//! reached, even when the worker planning the round is SIGKILLed in the
//! middle of it; a sale moved later is announced at its new start only;
//! what was written behind the engine's back (a product that is none, an
//! interest that is none) holds up no other push.

use std::collections::HashMap;
use std::time::Duration;

use reservation_core::keys::{PUSH_JOBS, PUSH_PRODUCTS, PushProductKeys};
use reservation_core::testing::{TestEngine, sku_of};
use reservation_core::{ProductUpdate, PushTopics, VapidKey};

use super::super::{eventually, real_time, stream_len};
use super::service::PushService;
use super::workers::{PushWorker, SALE_OPENS, SUBJECT, planner, subscribe};

const SUBSCRIBERS: usize = 300;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_subscriber_hears_once_that_the_sale_opens_though_the_planner_is_killed_mid_round() {
    let t = TestEngine::start_with(real_time()).await;
    let key = VapidKey::generate();
    let service = PushService::start(&key.public_key_base64url()).await;
    let far = t.engine.now_ms() + 3_600_000;
    let sku = t
        .product_with("DROP", 50, |p| p.sale_starts_at_ms = Some(far))
        .await;
    // Some want to hear of its stock too: the sale opening must not count
    // as coming back.
    let both = PushTopics {
        back_in_stock: true,
        ..SALE_OPENS
    };
    for i in 0..SUBSCRIBERS {
        let topics = if i % 2 == 0 { SALE_OPENS } else { both };
        subscribe(&t, &service, &sku, &format!("s{i}"), topics).await;
    }

    // Small round steps, so the round takes many; the doomed worker sends
    // one push a second, so what it leaves is the round and its pending
    // jobs, not pushes in flight (a push whose answer came back just
    // before the kill, unacknowledged, would go again: at least once is
    // all any sender can promise for those).
    let steps = ["--push-round-batch", "10"];
    let mut doomed = PushWorker::start(
        &t,
        "doomed",
        &key,
        &[
            &steps[..],
            &["--push-per-origin", "1", "--push-concurrency", "1"],
        ]
        .concat(),
    );
    eventually(
        "the doomed worker plans",
        Duration::from_secs(10),
        async || planner(&t).await.as_deref() == Some("doomed"),
    )
    .await;
    let survivor = PushWorker::start(&t, "survivor", &key, &steps);

    let opens_at = t.engine.now_ms() + 1_500;
    let update = ProductUpdate {
        sale_starts_at_ms: Some(Some(opens_at)),
        ..ProductUpdate::default()
    };
    t.engine.update_product(&sku, &update).await.unwrap();
    // Killed as soon as the round has enqueued its first jobs.
    let mut conn = t.raw_connection().await;
    loop {
        let len: usize = redis::cmd("XLEN")
            .arg(PUSH_JOBS)
            .query_async(&mut conn)
            .await
            .unwrap();
        if len > 0 {
            break;
        }
        assert!(
            t.engine.now_ms() < opens_at + 10_000,
            "the sale opened and no push was planned"
        );
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    doomed.kill();
    let enqueued_by_the_doomed = stream_len(&t, PUSH_JOBS).await;
    assert_eq!(
        planner(&t).await.as_deref(),
        Some("doomed"),
        "the doomed worker was planning when it was killed"
    );
    eprintln!("the doomed planner had enqueued {enqueued_by_the_doomed} of {SUBSCRIBERS} jobs");
    assert!(
        enqueued_by_the_doomed < SUBSCRIBERS,
        "killed mid-round, not after it"
    );

    eventually(
        "every subscriber hears of the opening",
        Duration::from_secs(60),
        async || {
            let names: std::collections::HashSet<String> = service
                .pushes()
                .iter()
                .map(|push| push["name"].as_str().unwrap().to_owned())
                .collect();
            names.len() == SUBSCRIBERS
        },
    )
    .await;
    // Time for a push sent twice to show up.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let pushes = service.pushes();
    let mut per_subscriber: HashMap<&str, usize> = HashMap::new();
    for push in &pushes {
        *per_subscriber
            .entry(push["name"].as_str().unwrap())
            .or_default() += 1;
        assert_eq!(push["verified"], true, "{push}");
        assert_eq!(push["status"], 201);
        assert_eq!(push["vapid"]["sub"], SUBJECT);
        assert_eq!(push["notification"]["kind"], "sale_opens", "{push}");
        assert_eq!(
            push["notification"]["title"],
            "Product DROP: the sale is open"
        );
        assert_eq!(push["notification"]["url"], "/p/DROP");
        assert_eq!(push["urgency"], "high");
        assert!(
            push["at_ms"].as_i64().unwrap() >= opens_at,
            "not before the sale opens"
        );
    }
    let twice: Vec<_> = per_subscriber.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "pushed more than once: {twice:?}");
    assert_eq!(per_subscriber.len(), SUBSCRIBERS);
    assert!(
        survivor.counter("pushes_delivered", "").await > 0,
        "the survivor delivered"
    );
    let enqueued = stream_len(&t, PUSH_JOBS).await;
    let duplicates = survivor
        .counter("pushes_skipped", "reason=\"duplicate\"")
        .await;
    eprintln!("{enqueued} jobs enqueued in all; the survivor skipped {duplicates} duplicates");
    assert!(enqueued >= SUBSCRIBERS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_moved_later_is_announced_at_its_new_start_only() {
    let t = TestEngine::start_with(real_time()).await;
    let key = VapidKey::generate();
    let service = PushService::start(&key.public_key_base64url()).await;
    let first_start = t.engine.now_ms() + 2_000;
    let sku = t
        .product_with("LATER", 5, |p| p.sale_starts_at_ms = Some(first_start))
        .await;
    for name in ["ann", "bob"] {
        subscribe(&t, &service, &sku, name, SALE_OPENS).await;
    }
    let _worker = PushWorker::start(&t, "pusher", &key, &[]);
    let moved_to = first_start + 2_000;
    let update = ProductUpdate {
        sale_starts_at_ms: Some(Some(moved_to)),
        ..ProductUpdate::default()
    };
    t.engine.update_product(&sku, &update).await.unwrap();

    eventually(
        "both hear of the opening",
        Duration::from_secs(20),
        async || service.pushes().len() >= 2,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pushes = service.pushes();
    assert_eq!(pushes.len(), 2, "one each: {pushes:?}");
    for push in &pushes {
        assert_eq!(push["notification"]["kind"], "sale_opens");
        assert!(
            push["at_ms"].as_i64().unwrap() >= moved_to,
            "pushed before the new start: {push}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_or_an_interest_that_is_none_holds_up_no_other_push() {
    let t = TestEngine::start_with(real_time()).await;
    let key = VapidKey::generate();
    let service = PushService::start(&key.public_key_base64url()).await;
    let opens_at = t.engine.now_ms() + 1_000;
    let sku = t
        .product_with("OPENS", 5, |p| p.sale_starts_at_ms = Some(opens_at))
        .await;
    for name in ["ann", "bob"] {
        subscribe(&t, &service, &sku, name, SALE_OPENS).await;
    }
    // Behind the engine's back: a product listed for pushes whose hash
    // cannot be read, and an interest of OPENS that is not one.
    let broken = PushProductKeys::new(&sku_of("BROKEN"));
    let mut conn = t.raw_connection().await;
    redis::pipe()
        .cmd("SADD")
        .arg(PUSH_PRODUCTS)
        .arg("BROKEN")
        .cmd("HSET")
        .arg(&broken.product)
        .arg("total")
        .arg("many")
        .cmd("HSET")
        .arg(PushProductKeys::new(&sku).interests)
        .arg("mallory/x")
        .arg("not json")
        .exec_async(&mut conn)
        .await
        .unwrap();
    let worker = PushWorker::start(&t, "pusher", &key, &[]);

    eventually(
        "both hear of the opening",
        Duration::from_secs(20),
        async || service.pushes().len() >= 2,
    )
    .await;
    assert!(
        worker
            .counter("pushes_not_planned", "reason=\"unreadable_interest\"")
            .await
            >= 1,
        "the interest that is none, skipped and counted"
    );
    for push in service.pushes() {
        assert_eq!(push["notification"]["kind"], "sale_opens");
    }
}
