//! Claims: just before a push is sent, the product's sent marks decide
//! whether it still is. One sale opening is claimed by at most one job per
//! interest (a retry of that job is claimed again); "back in stock" also
//! keeps a quiet period; a job for an interest gone is not sent, nor any
//! of a subscription its push service said is gone, whatever the product.

use std::time::Duration;

use reservation_core::testing::{TestEngine, customer_of, push_subscription_n};
use reservation_core::{PushClaim, PushJob, PushKind, PushSubscription, PushTopics, Sku};

const OPENS: i64 = 1_700_000_600_000;
const QUIET: Duration = Duration::from_secs(60);

fn all_topics() -> PushTopics {
    PushTopics {
        sale_opens: true,
        back_in_stock: true,
        hold_expiring: true,
    }
}

fn job(sku: &Sku, customer: &str, sub: &PushSubscription, kind: PushKind, notice: i64) -> PushJob {
    PushJob {
        kind,
        sku: sku.clone(),
        customer: customer_of(customer),
        subscription: sub.clone(),
        notice: notice.to_string(),
        expires_at_ms: None,
        enqueued_at_ms: notice,
    }
}

/// A product with `ann` interested in everything on subscription 1.
async fn ann_interested(t: &TestEngine) -> (Sku, PushSubscription) {
    let sku = t.product("TEE", 1).await;
    let sub = push_subscription_n(1);
    t.engine
        .subscribe_push(&customer_of("ann"), &sku, &sub, all_topics(), 20)
        .await
        .unwrap();
    (sku, sub)
}

#[tokio::test]
async fn one_sale_opening_is_claimed_by_one_job_per_interest_and_its_retries() {
    let t = TestEngine::start().await;
    let (sku, sub) = ann_interested(&t).await;
    let opens = job(&sku, "ann", &sub, PushKind::SaleOpens, OPENS);
    let claim = |job_id| t.engine.claim_push(&opens, job_id, QUIET);

    assert_eq!(claim("1700000600000-0").await.unwrap(), PushClaim::Send);
    assert_eq!(
        claim("1700000600001-0").await.unwrap(),
        PushClaim::Duplicate,
        "two planners enqueued the same opening: the second job is not sent"
    );
    assert_eq!(
        claim("1700000600000-0").await.unwrap(),
        PushClaim::Send,
        "the first job again (its sender died before sending) is"
    );

    // Another interest in the same opening has a claim of its own.
    let bob_sub = push_subscription_n(2);
    t.engine
        .subscribe_push(&customer_of("bob"), &sku, &bob_sub, all_topics(), 20)
        .await
        .unwrap();
    let bobs = job(&sku, "bob", &bob_sub, PushKind::SaleOpens, OPENS);
    assert_eq!(
        t.engine
            .claim_push(&bobs, "1700000600001-0", QUIET)
            .await
            .unwrap(),
        PushClaim::Send
    );

    // The sale moved later: its opening is another occasion; a job of the
    // earlier one that turns up after it is stale.
    let moved = job(&sku, "ann", &sub, PushKind::SaleOpens, OPENS + 3_600_000);
    assert_eq!(
        t.engine
            .claim_push(&moved, "1700004200000-0", QUIET)
            .await
            .unwrap(),
        PushClaim::Send
    );
    assert_eq!(
        claim("1700004200001-0").await.unwrap(),
        PushClaim::Duplicate
    );
}

#[tokio::test]
async fn back_in_stock_is_claimed_at_most_once_per_quiet_period() {
    let t = TestEngine::start().await;
    let (sku, sub) = ann_interested(&t).await;
    let back = |at: i64| job(&sku, "ann", &sub, PushKind::BackInStock, at);
    let engine = &t.engine;
    let claim = |at: i64, id: &'static str| {
        let job = back(at);
        async move { engine.claim_push(&job, id, QUIET).await.unwrap() }
    };

    assert_eq!(claim(OPENS, "1-0").await, PushClaim::Send);
    assert_eq!(
        claim(OPENS, "2-0").await,
        PushClaim::Duplicate,
        "the same round twice"
    );
    assert_eq!(
        claim(OPENS + 10_000, "3-0").await,
        PushClaim::Duplicate,
        "a unit bouncing back 10 s later is quiet"
    );
    assert_eq!(
        claim(OPENS, "1-0").await,
        PushClaim::Send,
        "a retry is sent"
    );
    assert_eq!(
        claim(OPENS + 60_000, "4-0").await,
        PushClaim::Send,
        "a quiet period after the last push sent, it is told again"
    );
    assert_eq!(claim(OPENS + 70_000, "5-0").await, PushClaim::Duplicate);

    // With no quiet period, each round is told, but still once.
    let job = back(OPENS + 80_000);
    let none = Duration::ZERO;
    assert_eq!(
        t.engine.claim_push(&job, "6-0", none).await.unwrap(),
        PushClaim::Send
    );
    assert_eq!(
        t.engine.claim_push(&job, "7-0", none).await.unwrap(),
        PushClaim::Duplicate
    );
}

#[tokio::test]
async fn a_job_for_an_interest_gone_or_a_topic_dropped_is_not_sent() {
    let t = TestEngine::start().await;
    let (sku, sub) = ann_interested(&t).await;
    let ann = customer_of("ann");
    let mut expiring = job(&sku, "ann", &sub, PushKind::HoldExpiring, 0);
    expiring.notice = format!("{sku}~0000000000abcdef0123456789ab");
    expiring.expires_at_ms = Some(OPENS + 30_000);
    assert_eq!(
        t.engine.claim_push(&expiring, "1-0", QUIET).await.unwrap(),
        PushClaim::Send
    );
    assert_eq!(
        t.engine.claim_push(&expiring, "2-0", QUIET).await.unwrap(),
        PushClaim::Send,
        "a hold's notice is sent once by the sweep, so claims keep no mark"
    );

    // Subscribed again for sale openings only.
    let opens_only = PushTopics {
        sale_opens: true,
        ..PushTopics::default()
    };
    t.engine
        .subscribe_push(&ann, &sku, &sub, opens_only, 20)
        .await
        .unwrap();
    assert_eq!(
        t.engine.claim_push(&expiring, "3-0", QUIET).await.unwrap(),
        PushClaim::Unsubscribed
    );
    let back = job(&sku, "ann", &sub, PushKind::BackInStock, OPENS);
    assert_eq!(
        t.engine.claim_push(&back, "4-0", QUIET).await.unwrap(),
        PushClaim::Unsubscribed
    );

    assert!(
        t.engine
            .unsubscribe_push(&ann, &sku, &sub.id())
            .await
            .unwrap()
    );
    let opens = job(&sku, "ann", &sub, PushKind::SaleOpens, OPENS);
    assert_eq!(
        t.engine.claim_push(&opens, "5-0", QUIET).await.unwrap(),
        PushClaim::Unsubscribed
    );
    let strangers = job(
        &sku,
        "zed",
        &push_subscription_n(9),
        PushKind::SaleOpens,
        OPENS,
    );
    assert_eq!(
        t.engine.claim_push(&strangers, "6-0", QUIET).await.unwrap(),
        PushClaim::Unsubscribed,
        "never subscribed"
    );
}

#[tokio::test]
async fn a_subscription_gone_is_forgotten_in_every_product_and_only_that_one() {
    let t = TestEngine::start().await;
    let (tee, phone) = ann_interested(&t).await;
    let mug = t.product("MUG", 1).await;
    let laptop = push_subscription_n(2);
    let (ann, bob) = (customer_of("ann"), customer_of("bob"));
    for (customer, sku, sub) in [
        (&ann, &mug, &phone),
        (&ann, &tee, &laptop),
        (&bob, &mug, &phone),
    ] {
        t.engine
            .subscribe_push(customer, sku, sub, all_topics(), 20)
            .await
            .unwrap();
    }

    assert_eq!(
        t.engine
            .forget_push_subscription(&ann, &phone.id())
            .await
            .unwrap(),
        2,
        "ann's phone, for TEE and for MUG"
    );
    for sku in [&tee, &mug] {
        let sent = job(sku, "ann", &phone, PushKind::BackInStock, OPENS);
        assert_eq!(
            t.engine.claim_push(&sent, "1-0", QUIET).await.unwrap(),
            PushClaim::Unsubscribed,
            "{sku}"
        );
    }
    let left: Vec<_> = t
        .engine
        .push_interests_of(&ann)
        .await
        .unwrap()
        .into_iter()
        .map(|i| (i.sku, i.subscription))
        .collect();
    assert_eq!(left, [(tee.clone(), laptop)], "her laptop stays");
    assert_eq!(
        t.engine.push_interests_of(&bob).await.unwrap().len(),
        1,
        "bob's interest on the same endpoint is his own"
    );
    let mut products = t.engine.push_products().await.unwrap();
    products.sort();
    assert_eq!(products, [mug, tee]);
    assert_eq!(
        t.engine
            .forget_push_subscription(&ann, &phone.id())
            .await
            .unwrap(),
        0,
        "nothing left to forget"
    );
}
