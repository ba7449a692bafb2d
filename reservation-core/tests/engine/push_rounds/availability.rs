//! The planner's sightings of availability start "back in stock" rounds on
//! the way from none to some only, and no sooner than the quiet period after
//! the last.

use super::*;

#[tokio::test]
async fn stock_coming_back_starts_a_back_in_stock_round_and_nothing_else_does() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    interested(&t, &sku, "fan", 2, wants(PushKind::BackInStock)).await;
    let e = &t.engine;
    let now = e.now_ms();

    assert_eq!(
        seen(e, &sku, 0, now).await,
        None,
        "the first sighting is recorded silently"
    );
    assert_eq!(seen(e, &sku, 0, now + 1).await, None);
    assert_eq!(
        e.push_round_batch(&sku, PushKind::BackInStock, 10)
            .await
            .unwrap(),
        None
    );

    assert_eq!(
        seen(e, &sku, 4, now + 2).await,
        Some(now + 2),
        "none to some"
    );
    assert_eq!(seen(e, &sku, 4, now + 3).await, None, "some to some");
    assert_eq!(seen(e, &sku, 7, now + 4).await, None);
    let batches = walk(e, &sku, PushKind::BackInStock, 10).await;
    assert_eq!(batches[0].notice, now + 2);
    assert_eq!(customers(&batches).len(), 2);

    assert_eq!(seen(e, &sku, 0, now + 5).await, None);
    assert_eq!(
        seen(e, &sku, 1, now + 6).await,
        Some(now + 6),
        "sold out and back again is a new round"
    );
    assert_eq!(seen(e, &sku, 0, now + 7).await, None);
    assert_eq!(
        seen(e, &sku, 1, now + 6).await,
        Some(now + 7),
        "a notice never goes back, even on a clock behind"
    );

    let other = t.product("MUG", 5).await;
    assert_eq!(
        seen(e, &other, 5, now).await,
        None,
        "a product first seen in stock was never seen sold out"
    );
}

#[tokio::test]
async fn a_return_within_the_quiet_period_of_the_last_round_starts_none_and_restarts_none() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    interested(&t, &sku, "fan", 30, wants(PushKind::BackInStock)).await;
    let e = &t.engine;
    let now = e.now_ms();
    let observe = |available, at| e.observe_push_availability(&sku, available, at, QUIET);
    assert_eq!(observe(0, now).await.unwrap(), None);
    assert_eq!(observe(1, now + 1).await.unwrap(), Some(now + 1));
    let first = e
        .push_round_batch(&sku, PushKind::BackInStock, 5)
        .await
        .unwrap()
        .unwrap();
    assert!(e.advance_push_round(&first).await.unwrap());

    // A unit flickers out and back as a hold expires and is taken again:
    // recorded, but no round, and the one in progress is not restarted.
    assert_eq!(observe(0, now + 2).await.unwrap(), None);
    assert_eq!(
        observe(1, now + 3).await.unwrap(),
        None,
        "a second return within the quiet period"
    );
    let mut conn = t.raw_connection().await;
    let rounds = PushProductKeys::new(&sku).rounds;
    let sighting: String = redis::cmd("HGET")
        .arg(&rounds)
        .arg("available_seen")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(sighting, "1", "the return is recorded all the same");
    let rest = walk(e, &sku, PushKind::BackInStock, 5).await;
    assert_eq!(rest[0].from_cursor, first.to_cursor, "the round goes on");
    assert!(rest.iter().all(|b| b.notice == now + 1));
    assert_eq!(observe(1, now + 4).await.unwrap(), None);
    assert_eq!(
        e.push_round_batch(&sku, PushKind::BackInStock, 5)
            .await
            .unwrap(),
        None,
        "one round for the two returns"
    );

    // Past the quiet period, sold out and back is a round again.
    let later = now + 1 + QUIET.as_millis() as i64;
    assert_eq!(observe(0, later).await.unwrap(), None);
    assert_eq!(observe(1, later).await.unwrap(), Some(later));
    assert_eq!(
        customers(&walk(e, &sku, PushKind::BackInStock, 50).await).len(),
        30
    );
}
