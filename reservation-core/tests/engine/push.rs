//! Web push subscriptions: what is refused before Redis, the bound on a
//! shopper's interests, and unsubscribing, which takes the interest out of
//! the shopper's list, the product's rounds and its sent marks at once.

use std::collections::HashMap;

use reservation_core::keys::{PushProductKeys, push_shopper};
use reservation_core::testing::{TestEngine, customer_of, push_subscription, push_subscription_n};
use reservation_core::{
    EndpointPolicy, Error, PushClaim, PushJob, PushKind, PushSubscription, PushTopics, VapidKey,
};

const AUTH: &str = "AAECAwQFBgcICQoLDA0ODw";
const STRICT: EndpointPolicy = EndpointPolicy {
    allow_http_loopback: false,
    push_services: reservation_core::testing::EXAMPLE_PUSH_SERVICES,
};
const LOOPBACK: EndpointPolicy = EndpointPolicy {
    allow_http_loopback: true,
    push_services: reservation_core::testing::EXAMPLE_PUSH_SERVICES,
};

fn p256dh() -> String {
    VapidKey::generate().public_key_base64url()
}

/// The field a refused subscription names.
fn refused_field(result: reservation_core::Result<PushSubscription>) -> &'static str {
    match result {
        Err(Error::InvalidArgument { field, .. }) => field,
        other => panic!("expected a refusal naming a field, got {other:?}"),
    }
}

fn topics(sale_opens: bool, back_in_stock: bool, hold_expiring: bool) -> PushTopics {
    PushTopics {
        sale_opens,
        back_in_stock,
        hold_expiring,
    }
}

#[test]
fn an_endpoint_must_be_an_https_url_without_userinfo_or_fragment_and_not_too_long() {
    let key = p256dh();
    let endpoint =
        |url: &str, policy| refused_field(PushSubscription::new(url, &key, AUTH, policy));
    assert_eq!(endpoint("not a url", STRICT), "endpoint");
    assert_eq!(endpoint("push.example/send", STRICT), "endpoint");
    assert_eq!(endpoint("", STRICT), "endpoint");
    assert_eq!(endpoint("ftp://push.example/x", STRICT), "endpoint");
    assert_eq!(endpoint("http://push.example/x", STRICT), "endpoint");
    assert_eq!(
        endpoint("https://user:pw@push.example/x", STRICT),
        "endpoint"
    );
    assert_eq!(endpoint("https://push.example/x#frag", STRICT), "endpoint");
    assert_eq!(endpoint(" https://push.example/x", STRICT), "endpoint");
    let long = format!("https://push.example/{}", "a".repeat(1024));
    assert_eq!(endpoint(&long, STRICT), "endpoint");

    let fits = format!("https://push.example/{}", "a".repeat(1024 - 21));
    assert_eq!(fits.len(), PushSubscription::MAX_ENDPOINT_LEN);
    let accepted = PushSubscription::new(&fits, &key, AUTH, STRICT).unwrap();
    assert_eq!(accepted.endpoint(), fits);
    assert_eq!(accepted.origin(), "https://push.example");
}

#[test]
fn plain_http_is_accepted_only_to_a_loopback_host_and_only_when_the_policy_says_so() {
    let key = p256dh();
    for loopback in [
        "http://127.0.0.1:9000/push/1",
        "http://127.8.0.1/push",
        "http://[::1]:9000/push",
        "http://localhost:9000/push",
    ] {
        assert_eq!(
            refused_field(PushSubscription::new(loopback, &key, AUTH, STRICT)),
            "endpoint",
            "{loopback} without the policy"
        );
        let accepted = PushSubscription::new(loopback, &key, AUTH, LOOPBACK)
            .unwrap_or_else(|e| panic!("{loopback}: {e}"));
        assert!(accepted.origin().starts_with("http://"), "{loopback}");
    }
    for elsewhere in ["http://10.0.0.1/push", "http://push.example/push"] {
        assert_eq!(
            refused_field(PushSubscription::new(elsewhere, &key, AUTH, LOOPBACK)),
            "endpoint",
            "{elsewhere} is not loopback"
        );
    }
}

#[test]
fn the_keys_must_be_a_p256_point_and_a_16_byte_secret_in_base64url() {
    let url = "https://push.example/x";
    let b64 = |bytes: &[u8]| {
        use base64ct::{Base64UrlUnpadded, Encoding};
        Base64UrlUnpadded::encode_string(bytes)
    };
    let key = |p256dh: &str| refused_field(PushSubscription::new(url, p256dh, AUTH, STRICT));
    // A point whose base64url differs from standard base64 (about one in
    // four has neither '-' nor '_').
    let point = std::iter::repeat_with(|| VapidKey::generate().public_key_bytes())
        .find(|point| b64(point).contains(['-', '_']))
        .unwrap();
    assert_eq!(key(&b64(&point[..64])), "p256dh", "64 bytes");
    assert_eq!(
        key(&b64(&[point.as_slice(), &[0]].concat())),
        "p256dh",
        "66 bytes"
    );
    let mut compressed_prefix = point.clone();
    compressed_prefix[0] = 0x02;
    assert_eq!(key(&b64(&compressed_prefix)), "p256dh", "not 0x04");
    let mut off_curve = point.clone();
    off_curve[64] ^= 1;
    assert_eq!(key(&b64(&off_curve)), "p256dh", "not on the curve");
    assert_eq!(key("not base64url!"), "p256dh");
    // A key whose base64url has a '-' or '_', so that the standard
    // alphabet's text differs (a random key's lacks both one time in 16).
    let urlsafe = std::iter::repeat_with(|| VapidKey::generate().public_key_base64url())
        .find(|key| key.contains(['-', '_']))
        .expect("keys keep coming");
    assert_eq!(
        key(&urlsafe.replace('-', "+").replace('_', "/")),
        "p256dh",
        "standard base64 alphabet"
    );

    let auth = |auth: &str| refused_field(PushSubscription::new(url, &b64(&point), auth, STRICT));
    assert_eq!(auth(&b64(&[7; 15])), "auth");
    assert_eq!(auth(&b64(&[7; 17])), "auth");
    assert_eq!(auth("%%%"), "auth");

    // Padding is tolerated and dropped.
    let padded = PushSubscription::new(
        url,
        &format!("{}=", b64(&point)),
        "AAECAwQFBgcICQoLDA0ODw==",
        STRICT,
    )
    .unwrap();
    assert_eq!(padded.p256dh(), b64(&point));
    assert_eq!(padded.auth(), AUTH);
    assert_eq!(
        padded.id(),
        reservation_core::SubscriptionId::of_endpoint(url)
    );
    assert_eq!(padded.id().as_str().len(), 22);
}

#[tokio::test]
async fn a_subscribe_needs_a_product_and_a_topic() {
    let t = TestEngine::start().await;
    let ann = customer_of("ann");
    let missing = reservation_core::testing::sku_of("NO-SUCH");
    let sub = push_subscription_n(1);
    let err = t
        .engine
        .subscribe_push(&ann, &missing, &sub, topics(true, false, false), 20)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ProductNotFound(_)), "{err:?}");
    let sku = t.product("TEE", 1).await;
    let err = t
        .engine
        .subscribe_push(&ann, &sku, &sub, PushTopics::default(), 20)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidArgument {
                field: "notify",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(t.engine.push_interests_of(&ann).await.unwrap().is_empty());
    assert!(t.engine.push_products().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_shopper_holds_a_bounded_number_of_interests_and_subscribing_again_replaces_one() {
    let t = TestEngine::start().await;
    let ann = customer_of("ann");
    let (tee, mug) = (t.product("TEE", 1).await, t.product("MUG", 1).await);
    let (phone, laptop) = (push_subscription_n(1), push_subscription_n(2));
    let max = 3;
    let subscribe = |sku, sub, wants| t.engine.subscribe_push(&ann, sku, sub, wants, max);

    let id = subscribe(&tee, &phone, topics(true, false, false))
        .await
        .unwrap();
    assert_eq!(id, phone.id());
    subscribe(&tee, &laptop, topics(true, false, false))
        .await
        .unwrap();
    subscribe(&mug, &phone, topics(false, true, false))
        .await
        .unwrap();
    let err = subscribe(&mug, &laptop, topics(true, false, false))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::PushSubscriptionsFull { customer, max: 3 } if *customer == ann),
        "{err:?}"
    );
    assert_eq!(err.reason(), "TOO_MANY_SUBSCRIPTIONS");

    // The same product on the same endpoint is the same interest: its
    // topics are replaced, and it takes no second place.
    subscribe(&tee, &phone, topics(false, true, true))
        .await
        .unwrap();
    let interests = t.engine.push_interests_of(&ann).await.unwrap();
    let listed: Vec<_> = interests
        .iter()
        .map(|i| (i.sku.as_str(), i.subscription.endpoint(), i.topics))
        .collect();
    assert_eq!(
        listed,
        [
            ("MUG", phone.endpoint(), topics(false, true, false)),
            ("TEE", phone.endpoint(), topics(false, true, true)),
            ("TEE", laptop.endpoint(), topics(true, false, false)),
        ]
    );
    assert_eq!(interests[1].subscription, phone);
    assert_eq!(interests[1].customer, ann);

    // Another shopper has a bound of their own.
    t.engine
        .subscribe_push(
            &customer_of("bob"),
            &mug,
            &laptop,
            topics(true, true, true),
            max,
        )
        .await
        .unwrap();
    let mut products = t.engine.push_products().await.unwrap();
    products.sort();
    assert_eq!(products, [mug.clone(), tee.clone()]);

    // Unsubscribing makes room.
    assert!(
        t.engine
            .unsubscribe_push(&ann, &tee, &laptop.id())
            .await
            .unwrap()
    );
    subscribe(&mug, &laptop, topics(true, false, false))
        .await
        .unwrap();
}

#[tokio::test]
async fn unsubscribing_removes_the_interest_from_both_sides_with_its_sent_marks() {
    let t = TestEngine::start().await;
    let (ann, bob) = (customer_of("ann"), customer_of("bob"));
    let sku = t.product("TEE", 1).await;
    let sub = push_subscription("http://127.0.0.1:9/push/ann");
    let all = topics(true, true, true);
    t.engine
        .subscribe_push(&ann, &sku, &sub, all, 20)
        .await
        .unwrap();
    let job = PushJob {
        kind: PushKind::SaleOpens,
        sku: sku.clone(),
        customer: ann.clone(),
        subscription: sub.clone(),
        notice: "1700000000000".to_owned(),
        expires_at_ms: None,
        enqueued_at_ms: t.engine.now_ms(),
    };
    let quiet = std::time::Duration::from_secs(60);
    assert_eq!(
        t.engine.claim_push(&job, "1-0", quiet).await.unwrap(),
        PushClaim::Send
    );
    let keys = PushProductKeys::new(&sku);
    let mut conn = t.raw_connection().await;
    assert_eq!(
        sent(&mut conn, &keys).await.len(),
        1,
        "the claim left its mark"
    );

    assert!(
        t.engine
            .unsubscribe_push(&ann, &sku, &sub.id())
            .await
            .unwrap()
    );
    assert!(t.engine.push_interests_of(&ann).await.unwrap().is_empty());
    assert!(
        sent(&mut conn, &keys).await.is_empty(),
        "its sent marks went with it"
    );
    let product_side: i64 = redis::cmd("HLEN")
        .arg(&keys.interests)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(product_side, 0);
    assert_eq!(
        t.engine.claim_push(&job, "1-0", quiet).await.unwrap(),
        PushClaim::Unsubscribed,
        "a job enqueued before is not sent"
    );
    assert!(
        t.engine.push_products().await.unwrap().is_empty(),
        "a product with no interest left is no planner's work"
    );
    assert!(
        !t.engine
            .unsubscribe_push(&ann, &sku, &sub.id())
            .await
            .unwrap(),
        "nothing left to remove"
    );

    // Another shopper's interest on the same endpoint stays.
    t.engine
        .subscribe_push(&ann, &sku, &sub, all, 20)
        .await
        .unwrap();
    t.engine
        .subscribe_push(&bob, &sku, &sub, all, 20)
        .await
        .unwrap();
    assert!(
        t.engine
            .unsubscribe_push(&ann, &sku, &sub.id())
            .await
            .unwrap()
    );
    assert_eq!(t.engine.push_interests_of(&bob).await.unwrap().len(), 1);
    assert_eq!(t.engine.push_products().await.unwrap(), [sku]);
    let shopper_side: i64 = redis::cmd("HLEN")
        .arg(push_shopper(&ann))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(shopper_side, 0);
}

/// The product's sent marks, as Redis holds them.
async fn sent(
    conn: &mut reservation_core::testing::RawConnection,
    keys: &PushProductKeys,
) -> HashMap<String, String> {
    redis::cmd("HGETALL")
        .arg(&keys.sent)
        .query_async(conn)
        .await
        .unwrap()
}
