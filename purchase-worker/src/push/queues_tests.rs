//! The origin queues' turns and bounds, without Redis or a push service.

use std::time::{Duration, Instant};

use reservation_core::testing::TEST_ENDPOINTS;
use reservation_core::{CustomerId, PushJob, PushKind, PushSubscription, Sku, VapidKey};

use super::*;

fn limits() -> Limits {
    Limits {
        in_flight: 4,
        in_flight_per_origin: 2,
        window: 20,
        per_origin: 10,
        per_stuck_origin: 3,
        stall_after: Duration::from_secs(2),
        backlog: 100,
    }
}

fn job(origin: &str, n: usize, now: Instant) -> Held {
    let p256dh = VapidKey::generate().public_key_base64url();
    let endpoint = format!("{origin}/push/{n}");
    let subscription =
        PushSubscription::new(&endpoint, &p256dh, "AAAAAAAAAAAAAAAAAAAAAA", TEST_ENDPOINTS)
            .unwrap();
    Held {
        entry_id: format!("{origin}-{n}"),
        origin: subscription.origin(),
        job: PushJob {
            kind: PushKind::SaleOpens,
            sku: Sku::new("TEE").unwrap(),
            customer: CustomerId::new("ann").unwrap(),
            subscription,
            notice: "1".into(),
            expires_at_ms: None,
            enqueued_at_ms: 0,
        },
        attempt: 1,
        claimed: false,
        kept_at: now,
        not_before: now,
    }
}

fn never(_: &str) -> Option<Instant> {
    None
}

fn any(_: &str) -> Result<(), Instant> {
    Ok(())
}

const A: &str = "https://a.example";
const B: &str = "https://b.example";

#[test]
fn origins_take_turns_each_with_at_most_its_share_in_flight() {
    let now = Instant::now();
    let mut queues = OriginQueues::new(limits());
    for n in 0..5 {
        assert_eq!(queues.offer(job(A, n, now), &never, now), Offer::Queued);
    }
    assert_eq!(queues.offer(job(B, 0, now), &never, now), Offer::Queued);
    let mut sent = Vec::new();
    while let Some(held) = queues.next_to_send(&any, now) {
        sent.push(held.origin.clone());
    }
    // A's share is two; B's one job goes between them.
    assert_eq!(sent, [A, B, A]);
    queues.sent(A, &format!("{A}-0"), None, Heard::Answered, now);
    assert_eq!(
        queues.next_to_send(&any, now).unwrap().entry_id,
        format!("{A}-2")
    );
}

#[test]
fn a_paused_origin_sends_nothing_and_holds_no_more_than_a_stuck_one_may() {
    let now = Instant::now();
    let until = now + Duration::from_secs(5);
    let paused = move |origin: &str| (origin == A).then_some(until);
    let permit = move |origin: &str| paused(origin).map_or(Ok(()), Err);
    let mut queues = OriginQueues::new(limits());
    let offers: Vec<Offer> = (0..5)
        .map(|n| queues.offer(job(A, n, now), &paused, now))
        .collect();
    assert_eq!(offers.iter().filter(|o| **o == Offer::SetAside).count(), 2);
    queues.offer(job(B, 0, now), &paused, now);
    assert_eq!(queues.next_to_send(&permit, now).unwrap().origin, B);
    assert!(queues.next_to_send(&permit, now).is_none());
    assert_eq!(queues.next_due(&paused), Some(until));
    // Its pause over, A goes again.
    assert_eq!(queues.next_to_send(&any, now).unwrap().origin, A);
}

#[test]
fn an_origin_that_drains_holds_reading_back_and_a_stuck_one_does_not() {
    let now = Instant::now();
    let mut queues = OriginQueues::new(limits());
    for n in 0..8 {
        queues.offer(job(A, n, now), &never, now);
    }
    assert_eq!(queues.read_room(&never, now), 2, "A may take two more");
    let paused = |origin: &str| (origin == A).then(|| Instant::now() + Duration::from_secs(5));
    assert_eq!(queues.read_room(&paused, now), 12, "the window's room");
    assert_eq!(queues.shed_stuck(&paused, now), 5, "A keeps three");
    assert_eq!(queues.held.len(), 3);
}

#[test]
fn a_retry_waits_for_its_time_and_then_goes_first() {
    let now = Instant::now();
    let mut queues = OriginQueues::new(limits());
    queues.offer(job(A, 0, now), &never, now);
    queues.offer(job(A, 1, now), &never, now);
    let mut first = queues.next_to_send(&any, now).unwrap();
    first.not_before = now + Duration::from_secs(1);
    let id = first.entry_id.clone();
    queues.sent(A, &id, Some(first), Heard::Answered, now);
    assert_eq!(
        queues.next_to_send(&any, now).unwrap().entry_id,
        format!("{A}-1")
    );
    assert!(queues.next_to_send(&any, now).is_none());
    assert_eq!(queues.next_due(&never), Some(now + Duration::from_secs(1)));
    // Within `stall_after` of its last answer: A is not stalled.
    let later = now + Duration::from_secs(1);
    assert_eq!(queues.next_to_send(&any, later).unwrap().entry_id, id);
}

#[test]
fn an_entry_held_is_not_held_twice_and_keeping_and_letting_go_find_it() {
    let now = Instant::now();
    let mut queues = OriginQueues::new(limits());
    queues.offer(job(A, 0, now), &never, now);
    assert_eq!(
        queues.offer(job(A, 0, now), &never, now),
        Offer::AlreadyHeld
    );
    let later = now + Duration::from_secs(1);
    assert!(
        queues
            .due_for_keeping(Duration::from_secs(2), later)
            .is_empty()
    );
    let due = queues.due_for_keeping(Duration::from_millis(500), later);
    assert_eq!(due, [format!("{A}-0")]);
    queues.let_go(&due[0]);
    assert!(queues.next_to_send(&any, later).is_none());
    assert!(queues.origins.is_empty() && queues.turns.is_empty());
}

#[test]
fn a_few_origins_cannot_take_every_slot() {
    let now = Instant::now();
    let mut queues = OriginQueues::new(limits());
    const C: &str = "https://c.example";
    for n in 0..5 {
        for origin in [A, B, C] {
            queues.offer(job(origin, n, now), &never, now);
        }
    }
    let mut sent = Vec::new();
    while let Some(held) = queues.next_to_send(&any, now) {
        sent.push(held.origin.clone());
    }
    // Four slots, three origins with work: one each, the fourth spare
    // rather than a second for whichever came first.
    assert_eq!(sent, [A, B, C]);
    // A stuck in flight; B and C come back and go on, one at a time each.
    queues.sent(B, &format!("{B}-0"), None, Heard::Answered, now);
    queues.sent(C, &format!("{C}-0"), None, Heard::Answered, now);
    let next: Vec<String> = std::iter::from_fn(|| queues.next_to_send(&any, now))
        .map(|held| held.origin)
        .collect();
    assert_eq!(next, [B, C]);
}

#[test]
fn a_troubled_or_stalled_origin_sends_one_probe_at_a_time() {
    let now = Instant::now();
    let mut queues = OriginQueues::new(limits());
    for n in 0..6 {
        queues.offer(job(A, n, now), &never, now);
    }
    let first = queues.next_to_send(&any, now).unwrap();
    queues.sent(A, &first.entry_id, None, Heard::Troubled, now);
    let probe = queues.next_to_send(&any, now).unwrap();
    assert!(
        queues.next_to_send(&any, now).is_none(),
        "one probe at a time"
    );
    // It answers well: back to its share (two).
    queues.sent(A, &probe.entry_id, None, Heard::Answered, now);
    let stuck = queues.next_to_send(&any, now).unwrap();
    assert!(queues.next_to_send(&any, now).is_some());
    // No answer for `stall_after`: stalled, and nothing more goes while
    // its pushes hang; one that comes back unsent says nothing of it.
    let later = now + Duration::from_secs(3);
    queues.offer(job(B, 0, later), &never, later);
    assert_eq!(queues.next_to_send(&any, later).unwrap().origin, B);
    assert!(queues.next_to_send(&any, later).is_none());
    queues.sent(A, &stuck.entry_id, None, Heard::Nothing, later);
    assert!(queues.next_to_send(&any, later).is_none(), "still stalled");
}

#[test]
fn an_origin_out_of_rate_takes_no_slot_and_says_when_to_ask_again() {
    let now = Instant::now();
    let again = now + Duration::from_millis(300);
    let permit = move |origin: &str| if origin == A { Err(again) } else { Ok(()) };
    let mut queues = OriginQueues::new(limits());
    queues.offer(job(A, 0, now), &never, now);
    queues.offer(job(B, 0, now), &never, now);
    assert_eq!(queues.next_to_send(&permit, now).unwrap().origin, B);
    assert!(queues.next_to_send(&permit, now).is_none());
    assert_eq!(queues.in_flight, 1);
    assert_eq!(queues.next_due(&never), Some(again));
    assert_eq!(queues.next_to_send(&any, again).unwrap().origin, A);
}
