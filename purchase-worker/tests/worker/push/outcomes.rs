//! What a push service's answer does to a job: `410` removes the
//! subscription, `429` with `Retry-After` is tried again no sooner, a `400`
//! is dead-lettered at once and a `500` once the attempts are spent. And
//! what a job's age does: a push is kept by the service only for what is
//! left of its time, one whose time is over is not sent, and one the claim
//! refuses (a malformed notice) is dead-lettered rather than left pending.

use std::time::Duration;

use reservation_core::keys::{PUSH_GROUP, PUSH_JOBS};
use reservation_core::testing::{TestEngine, customer_of};
use reservation_core::{ProductUpdate, PushJob, PushKind, PushSubscription, Sku, VapidKey};
use serde_json::json;

use super::super::{eventually, real_time};
use super::service::PushService;
use super::workers::{BACK_IN_STOCK, PushWorker, SALE_OPENS, dead_pushes, interested};

/// Opens `sku`'s sale half a second from now.
async fn open_soon(t: &TestEngine, sku: &Sku) {
    let update = ProductUpdate {
        sale_starts_at_ms: Some(Some(t.engine.now_ms() + 500)),
        ..ProductUpdate::default()
    };
    t.engine.update_product(sku, &update).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_gone_is_removed_and_a_throttled_push_waits_for_retry_after() {
    let t = TestEngine::start_with(real_time()).await;
    let key = VapidKey::generate();
    let service = PushService::start(&key.public_key_base64url()).await;
    let far = t.engine.now_ms() + 3_600_000;
    let sku = t
        .product_with("DROP", 5, |p| p.sale_starts_at_ms = Some(far))
        .await;
    let gone = service
        .subscribe_planned("gone", json!([{"status": 410}]))
        .await;
    interested(&t, &sku, "gone", &gone, SALE_OPENS).await;
    let throttled = service
        .subscribe_planned(
            "throttled",
            json!([{"status": 429, "retry_after": "2", "times": 1}, {"status": 201}]),
        )
        .await;
    interested(&t, &sku, "throttled", &throttled, SALE_OPENS).await;
    let worker = PushWorker::start(&t, "pusher", &key, &[]);
    open_soon(&t, &sku).await;

    eventually(
        "the gone subscription is removed",
        Duration::from_secs(15),
        async || {
            t.engine
                .push_interests_of(&customer_of("gone"))
                .await
                .unwrap()
                .is_empty()
        },
    )
    .await;
    assert_eq!(service.pushes_to("gone").len(), 1);
    assert_eq!(worker.counter("push_subscriptions_removed", "").await, 1);
    assert_eq!(worker.counter("push_failures", "outcome=\"gone\"").await, 1);
    let still = t
        .engine
        .push_interests_of(&customer_of("throttled"))
        .await
        .unwrap();
    assert_eq!(still.len(), 1, "only the gone one is removed");

    eventually(
        "the throttled push goes through on its second try",
        Duration::from_secs(15),
        async || service.pushes_to("throttled").len() == 2,
    )
    .await;
    let tries = service.pushes_to("throttled");
    assert_eq!(
        (tries[0]["status"].clone(), tries[1]["status"].clone()),
        (json!(429), json!(201))
    );
    let waited = tries[1]["at_ms"].as_i64().unwrap() - tries[0]["at_ms"].as_i64().unwrap();
    assert!(waited >= 2_000, "tried again after {waited} ms, not 2 s");
    assert_eq!(
        worker
            .counter("push_failures", "outcome=\"retry_after\"")
            .await,
        1
    );
    assert_eq!(worker.counter("pushes_delivered", "").await, 1);
    assert!(dead_pushes(&t).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_push_is_dead_lettered_at_once_and_a_failing_one_after_its_attempts() {
    let t = TestEngine::start_with(real_time()).await;
    let key = VapidKey::generate();
    let service = PushService::start(&key.public_key_base64url()).await;
    let far = t.engine.now_ms() + 3_600_000;
    let sku = t
        .product_with("DROP", 5, |p| p.sale_starts_at_ms = Some(far))
        .await;
    let refused = service
        .subscribe_planned("refused", json!([{"status": 400, "body": "bad payload"}]))
        .await;
    interested(&t, &sku, "refused", &refused, SALE_OPENS).await;
    let failing = service
        .subscribe_planned("failing", json!([{"status": 500}]))
        .await;
    interested(&t, &sku, "failing", &failing, SALE_OPENS).await;
    let worker = PushWorker::start(&t, "pusher", &key, &["--push-attempts", "3"]);
    open_soon(&t, &sku).await;

    eventually(
        "both are given up on",
        Duration::from_secs(20),
        async || dead_pushes(&t).await.len() == 2,
    )
    .await;
    assert_eq!(
        service.pushes_to("refused").len(),
        1,
        "a refusal is not tried again"
    );
    assert_eq!(service.pushes_to("failing").len(), 3, "three attempts");
    let dead = dead_pushes(&t).await;
    let reason_of = |customer: &str| -> String {
        let entry = dead
            .iter()
            .find(|entry| entry.get::<String>("customer").as_deref() == Some(customer))
            .unwrap_or_else(|| panic!("{customer} dead-lettered"));
        entry.get("reason").unwrap()
    };
    let refused_reason = reason_of("refused");
    assert!(
        refused_reason.contains("400") && refused_reason.contains("bad payload"),
        "{refused_reason}"
    );
    let failing_reason = reason_of("failing");
    assert!(
        failing_reason.contains("500") && failing_reason.contains("3 tries"),
        "{failing_reason}"
    );
    assert_eq!(worker.counter("pushes_dead_lettered", "").await, 2);
    assert_eq!(
        worker
            .counter("push_failures", "outcome=\"rejected\"")
            .await,
        1
    );
    assert_eq!(
        worker
            .counter("push_failures", "outcome=\"retry_after\"")
            .await,
        3
    );
    // The subscriptions stay: neither said it was gone.
    for customer in ["refused", "failing"] {
        let interests = t
            .engine
            .push_interests_of(&customer_of(customer))
            .await
            .unwrap();
        assert_eq!(interests.len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_is_kept_for_its_time_left_and_a_job_the_claim_refuses_is_dead_lettered() {
    let t = TestEngine::start_with(real_time()).await;
    let key = VapidKey::generate();
    let service = PushService::start(&key.public_key_base64url()).await;
    let far = t.engine.now_ms() + 3_600_000;
    let sku = t
        .product_with("DROP", 5, |p| p.sale_starts_at_ms = Some(far))
        .await;
    let now = t.engine.now_ms();
    let job = |customer: &str, subscription: PushSubscription, kind, notice: String, at| PushJob {
        kind,
        sku: sku.clone(),
        customer: customer_of(customer),
        subscription,
        notice,
        expires_at_ms: None,
        enqueued_at_ms: at,
    };
    let mut jobs = Vec::new();
    // "Back in stock" is kept 15 minutes: five are gone already.
    let late = service.subscribe("late").await;
    interested(&t, &sku, "late", &late, BACK_IN_STOCK).await;
    let five_ago = now - 5 * 60_000;
    jobs.push(job(
        "late",
        late,
        PushKind::BackInStock,
        five_ago.to_string(),
        five_ago,
    ));
    let stale = service.subscribe("stale").await;
    interested(&t, &sku, "stale", &stale, BACK_IN_STOCK).await;
    let long_ago = now - 20 * 60_000;
    jobs.push(job(
        "stale",
        stale,
        PushKind::BackInStock,
        long_ago.to_string(),
        long_ago,
    ));
    let malformed = service.subscribe("malformed").await;
    interested(&t, &sku, "malformed", &malformed, SALE_OPENS).await;
    jobs.push(job(
        "malformed",
        malformed,
        PushKind::SaleOpens,
        "soon".into(),
        now,
    ));
    t.engine.enqueue_push_jobs(&jobs).await.unwrap();
    let worker = PushWorker::start(&t, "pusher", &key, &[]);

    eventually(
        "the late one is sent, the stale one skipped, the malformed one dead-lettered",
        Duration::from_secs(15),
        async || {
            service.pushes_to("late").len() == 1
                && worker.counter("pushes_skipped", "reason=\"expired\"").await == 1
                && dead_pushes(&t).await.len() == 1
        },
    )
    .await;
    let ttl: u64 = service.pushes_to("late")[0]["ttl"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (580..=600).contains(&ttl),
        "TTL {ttl}, not what is left of 900"
    );
    assert!(service.pushes_to("stale").is_empty(), "too late to send");
    // Refused when read (not a push job) or when claimed, it is the one
    // dead letter, and says why.
    let dead = dead_pushes(&t).await;
    let reason: String = dead[0].get("reason").unwrap();
    assert!(reason.contains("notice"), "{reason}");
    // Nothing is left pending: a refused job is not taken again forever,
    // and trimming can pass it.
    let mut conn = t.raw_connection().await;
    eventually(
        "no job is left pending",
        Duration::from_secs(5),
        async || {
            let pending: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
                .arg(PUSH_JOBS)
                .arg(PUSH_GROUP)
                .query_async(&mut conn)
                .await
                .unwrap();
            pending.count() == 0
        },
    )
    .await;
    assert!(service.pushes_to("malformed").is_empty());
}
