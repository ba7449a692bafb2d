//! The push sender against a real push service on loopback: a push arrives
//! encrypted to the subscription's keys and signed by the deployment's VAPID
//! key (both checked by the service with other implementations), with its
//! TTL, Urgency and Topic; each answer of the service is sorted into what
//! the deliverer does next; a throttling service pauses its own origin and
//! no other, and a push to a paused origin comes back at once, unsent; and
//! each origin is held to its rate while another is not.
//!
//! No Redis here: the sender is given pushes directly. Timings assert only
//! lower bounds ("not before") and orderings with seconds to spare, never
//! speed.

use std::num::NonZeroU32;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use purchase_worker::push::payload::{self, Notification};
use purchase_worker::push::{Push, PushOutcome, PushSender};
use reservation_core::local_redis::free_port;
use reservation_core::testing::product_as_read;
use reservation_core::{
    CustomerId, EndpointPolicy, PushJob, PushKind, PushSubscription, Sku, VapidKey,
};
use serde_json::{Value, json};

use super::service::PushService;

const SUBJECT: &str = "mailto:ops@shop.example";

/// A sender of `key` allowing `per_second` pushes a second to each origin.
fn sender(key: &VapidKey, per_second: u32) -> PushSender {
    PushSender::new(
        key,
        SUBJECT,
        Duration::from_secs(20),
        NonZeroU32::new(per_second).unwrap(),
    )
    .unwrap()
}

/// A push of an arbitrary small payload, the other fields as the payload
/// helpers make them for a "back in stock".
async fn send(sender: &PushSender, subscription: &PushSubscription) -> PushOutcome {
    let topic = payload::topic(PushKind::BackInStock, &Sku::new("tee").unwrap());
    sender
        .send(&Push {
            subscription,
            payload: br#"{"hello":"push"}"#,
            ttl: Duration::from_secs(900),
            urgency: payload::urgency(PushKind::BackInStock),
            topic: Some(&topic),
        })
        .await
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn a_push_arrives_encrypted_signed_and_with_its_headers() {
    let key = VapidKey::generate();
    let service = PushService::start(&key.public_key_base64url()).await;
    let sender = sender(&key, 100);
    let subscription = service.subscribe("alice").await;
    let sku = Sku::new("tee").unwrap();
    let now = now_ms();
    let job = PushJob {
        kind: PushKind::SaleOpens,
        sku: sku.clone(),
        customer: CustomerId::new("alice").unwrap(),
        subscription: subscription.clone(),
        // The sale opens now: its push is kept an hour from now.
        notice: now.to_string(),
        expires_at_ms: None,
        enqueued_at_ms: now,
    };
    let notification = Notification::for_job(&job, &product_as_read(&sku, 7), now);
    let body = notification.to_bytes();
    let topic = payload::topic(job.kind, &job.sku);
    let push = Push {
        subscription: &subscription,
        payload: &body,
        ttl: payload::ttl(&job, now).expect("in time"),
        urgency: payload::urgency(job.kind),
        topic: Some(&topic),
    };

    assert_eq!(sender.send(&push).await, PushOutcome::Delivered);
    assert_eq!(sender.send(&push).await, PushOutcome::Delivered);

    let pushes = service.pushes_to("alice");
    assert_eq!(pushes.len(), 2, "{pushes:#?}");
    let first = &pushes[0];
    assert_eq!(first["verified"], true, "{first:#}");
    assert_eq!(
        first["notification"],
        serde_json::to_value(&notification).unwrap()
    );
    assert_eq!(
        first["notification"]["title"],
        "Limited tee: the sale is open"
    );
    assert_eq!(first["notification"]["url"], "/p/tee");
    assert_eq!(first["notification"]["available"], 7);
    assert_eq!(first["notification"]["tag"], "sale_opens:tee");
    assert_eq!(first["content_encoding"], "aes128gcm");
    assert_eq!(first["ttl"], "3600");
    assert_eq!(first["urgency"], "high");
    assert_eq!(first["topic"], topic.as_str());
    let vapid = &first["vapid"];
    assert_eq!(vapid["aud"], service.origin());
    assert_eq!(vapid["sub"], SUBJECT);
    assert_eq!(vapid["k"], key.public_key_base64url());
    assert_eq!(vapid["k"], sender.public_key());
    // 12 hours ahead, well within the 24 the RFC allows.
    let exp_ms = vapid["exp"].as_i64().unwrap() * 1000;
    let twelve_hours = 12 * 3600 * 1000;
    assert!(
        (exp_ms - now - twelve_hours).abs() < 60_000,
        "exp {exp_ms}, now {now}"
    );
    // The second push reuses the origin's JWT rather than sign anew.
    assert_eq!(pushes[1]["verified"], true);
    assert_eq!(pushes[1]["vapid"], first["vapid"]);
}

#[tokio::test]
async fn a_push_signed_by_another_key_is_rejected_by_the_service() {
    let deployment = VapidKey::generate();
    let service = PushService::start(&deployment.public_key_base64url()).await;
    let impostor = sender(&VapidKey::generate(), 100);
    let subscription = service.subscribe("alice").await;

    let outcome = send(&impostor, &subscription).await;

    assert!(
        matches!(&outcome, PushOutcome::Rejected { status: 403, body } if body.contains("deployment's key")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn gone_subscriptions_and_refused_pushes_are_told_apart() {
    let key = VapidKey::generate();
    let service = PushService::planned(
        &key.public_key_base64url(),
        json!({
            "gone": [{"status": 410}],
            "lost": [{"status": 404}],
            "bad": [{"status": 400, "body": "malformed push"}],
            "big": [{"status": 413}],
            "broken": [{"status": 500}],
        }),
    )
    .await;
    let sender = sender(&key, 100);
    let mut outcomes = Vec::new();
    for name in ["gone", "lost", "bad", "big", "broken"] {
        outcomes.push(send(&sender, &service.subscribe(name).await).await);
    }

    assert_eq!(outcomes[0], PushOutcome::Gone(410));
    assert_eq!(outcomes[1], PushOutcome::Gone(404));
    assert_eq!(
        outcomes[2],
        PushOutcome::Rejected {
            status: 400,
            body: "malformed push".to_owned()
        }
    );
    assert!(
        matches!(outcomes[3], PushOutcome::Rejected { status: 413, .. }),
        "{:?}",
        outcomes[3]
    );
    // A 500 without Retry-After: try again, when the caller's backoff says.
    assert_eq!(
        outcomes[4],
        PushOutcome::RetryAfter {
            status: 500,
            after: Duration::ZERO
        }
    );
    assert_eq!(sender.paused_until(&service.origin()), None);
    assert!(service.pushes().iter().all(|push| push["verified"] == true));
}

#[tokio::test]
async fn a_throttling_service_pauses_its_origin_for_its_retry_after_and_no_other() {
    let key = VapidKey::generate();
    let busy = PushService::start(&key.public_key_base64url()).await;
    let calm = PushService::start(&key.public_key_base64url()).await;
    let sender = sender(&key, 100);
    let alice = busy
        .subscribe_planned(
            "alice",
            json!([{"status": 429, "retry_after": "2"}, {"status": 201}]),
        )
        .await;
    let bob = busy.subscribe("bob").await;
    let carol = calm.subscribe("carol").await;

    let before = Instant::now();
    let outcome = send(&sender, &alice).await;
    let answered = Instant::now();

    assert_eq!(
        outcome,
        PushOutcome::RetryAfter {
            status: 429,
            after: Duration::from_secs(2)
        }
    );
    let until = sender
        .paused_until(&busy.origin())
        .expect("the busy origin is paused");
    assert!(until >= before + Duration::from_secs(2) && until <= answered + Duration::from_secs(2));
    assert_eq!(sender.paused_until(&calm.origin()), None);
    // The other origin goes on at once; the paused one sends nothing, for
    // every subscription there, and says so at once rather than wait (a
    // pause may last an hour, and the caller's slot with it).
    assert_eq!(send(&sender, &carol).await, PushOutcome::Delivered);
    assert_eq!(send(&sender, &bob).await, PushOutcome::Paused { until });
    assert!(
        Instant::now() + Duration::from_millis(500) < until,
        "a push to the paused origin waited for its pause"
    );
    assert_eq!(sender.permit(&busy.origin()), Err(until));
    tokio::time::sleep_until(until.into()).await;
    assert_eq!(send(&sender, &bob).await, PushOutcome::Delivered);
    assert_eq!(send(&sender, &alice).await, PushOutcome::Delivered);

    let arrivals = |service: &PushService, name: &str| -> Vec<i64> {
        let pushes = service.pushes_to(name);
        pushes
            .iter()
            .map(|push| push["at_ms"].as_i64().unwrap())
            .collect()
    };
    let (alice_at, bob_at) = (arrivals(&busy, "alice"), arrivals(&busy, "bob"));
    assert_eq!(alice_at.len(), 2);
    assert!(bob_at[0] - alice_at[0] >= 1900, "{alice_at:?} {bob_at:?}");
}

#[tokio::test]
async fn a_429_without_retry_after_pauses_briefly_and_a_503_as_it_says() {
    let key = VapidKey::generate();
    let service = PushService::planned(
        &key.public_key_base64url(),
        json!({
            "throttled": [{"status": 429}],
            "down": [{"status": 503, "retry_after": "1"}],
        }),
    )
    .await;
    let sender = sender(&key, 100);

    let before = Instant::now();
    let throttled = send(&sender, &service.subscribe("throttled").await).await;
    assert_eq!(
        throttled,
        PushOutcome::RetryAfter {
            status: 429,
            after: Duration::ZERO
        }
    );
    let until = sender
        .paused_until(&service.origin())
        .expect("paused by default");
    assert!(until > before, "a default pause");

    let down_subscription = service.subscribe("down").await;
    assert_eq!(
        send(&sender, &down_subscription).await,
        PushOutcome::Paused { until }
    );
    tokio::time::sleep_until(until.into()).await;
    let down = send(&sender, &down_subscription).await;
    assert_eq!(
        down,
        PushOutcome::RetryAfter {
            status: 503,
            after: Duration::from_secs(1)
        }
    );
    // Sent once the first pause was over, and paused again.
    assert!(
        sender
            .paused_until(&service.origin())
            .is_some_and(|again| again > until)
    );
}

#[tokio::test]
async fn an_unreachable_push_service_fails_the_push() {
    let key = VapidKey::generate();
    let service = PushService::start(&key.public_key_base64url()).await;
    let real = service.subscribe("alice").await;
    let port = free_port().unwrap();
    let nowhere = PushSubscription::new(
        &format!("http://127.0.0.1:{port}/push/alice"),
        real.p256dh(),
        real.auth(),
        EndpointPolicy {
            allow_http_loopback: true,
            ..EndpointPolicy::default()
        },
    )
    .unwrap();

    let outcome = send(&sender(&key, 100), &nowhere).await;

    assert!(
        matches!(&outcome, PushOutcome::Failed(why) if why.contains("deliver")),
        "{outcome:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_origin_is_held_to_its_rate_without_holding_up_another() {
    let key = VapidKey::generate();
    let crowded = PushService::start(&key.public_key_base64url()).await;
    let quiet = PushService::start(&key.public_key_base64url()).await;
    // Two a second: a burst of two, then one every half second.
    let sender = sender(&key, 2);
    let many = crowded.subscribe("many").await;
    let few = quiet.subscribe("few").await;

    let timed = |subscription: &PushSubscription| {
        let sender = &sender;
        let subscription = subscription.clone();
        async move {
            let outcome = send(sender, &subscription).await;
            (outcome, Instant::now())
        }
    };
    let crowded_pushes = join_all((0..10).map(|_| timed(&many)));
    let quiet_pushes = join_all((0..2).map(|_| timed(&few)));
    let (crowded_done, quiet_done) = tokio::join!(crowded_pushes, quiet_pushes);

    assert!(
        crowded_done
            .iter()
            .chain(&quiet_done)
            .all(|(outcome, _)| *outcome == PushOutcome::Delivered)
    );
    let crowded_last = crowded_done.iter().map(|(_, at)| *at).max().unwrap();
    let quiet_last = quiet_done.iter().map(|(_, at)| *at).max().unwrap();
    assert!(
        quiet_last < crowded_last,
        "the quiet origin waited for the crowded one"
    );
    // Ten pushes at two a second after a burst of two: four seconds from
    // the first arrival to the last (less a second for a first push slowed
    // by a loaded machine).
    let arrivals: Vec<i64> = crowded
        .pushes_to("many")
        .iter()
        .map(|push: &Value| push["at_ms"].as_i64().unwrap())
        .collect();
    let span = arrivals.iter().max().unwrap() - arrivals.iter().min().unwrap();
    assert!(span >= 3_000, "10 pushes in {span} ms at 2/s");
}
