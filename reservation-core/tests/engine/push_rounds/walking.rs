//! A round starts once per notice, compare-and-set; its batches cover every
//! interest of the product, however many; moving a round on is
//! compare-and-set too; a round goes on past what was written behind the
//! engine's back: a stored interest that is none, a notice that is no number.

use super::*;

#[tokio::test]
async fn a_round_starts_once_per_notice_and_a_later_notice_starts_a_new_one() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    interested(&t, &sku, "fan", 3, wants(PushKind::SaleOpens)).await;
    let e = &t.engine;
    assert_eq!(
        e.push_round_batch(&sku, PushKind::SaleOpens, 10)
            .await
            .unwrap(),
        None
    );

    assert!(
        e.start_push_round(&sku, PushKind::SaleOpens, SALE_START)
            .await
            .unwrap()
    );
    assert!(
        !e.start_push_round(&sku, PushKind::SaleOpens, SALE_START)
            .await
            .unwrap(),
        "a second planner seeing the same opening starts nothing"
    );
    assert!(
        !e.start_push_round(&sku, PushKind::SaleOpens, SALE_START - 1)
            .await
            .unwrap(),
        "nor does an earlier notice"
    );
    let batches = walk(e, &sku, PushKind::SaleOpens, 10).await;
    assert_eq!(batches[0].notice, SALE_START);
    assert_eq!(batches[0].from_cursor, "0");
    assert!(batches.last().unwrap().is_last());
    assert_eq!(customers(&batches).len(), 3);
    assert!(
        !e.start_push_round(&sku, PushKind::SaleOpens, SALE_START)
            .await
            .unwrap(),
        "a round that is over is not started again"
    );

    // The sale moved later: its new start is a new notice.
    let moved = SALE_START + 3_600_000;
    assert!(
        e.start_push_round(&sku, PushKind::SaleOpens, moved)
            .await
            .unwrap()
    );
    let batches = walk(e, &sku, PushKind::SaleOpens, 10).await;
    assert_eq!(batches[0].notice, moved);
    assert_eq!(customers(&batches).len(), 3);

    // Each kind has a round of its own; hold notices have none.
    assert_eq!(
        e.push_round_batch(&sku, PushKind::BackInStock, 10)
            .await
            .unwrap(),
        None
    );
    let err = e
        .start_push_round(&sku, PushKind::HoldExpiring, SALE_START)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { field: "kind", .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_batches_of_a_round_cover_every_interest_of_a_1000_interest_product() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    interested(&t, &sku, "fan", 1_000, wants(PushKind::SaleOpens)).await;
    interested(&t, &sku, "restock-only", 50, wants(PushKind::BackInStock)).await;

    assert!(
        t.engine
            .start_push_round(&sku, PushKind::SaleOpens, SALE_START)
            .await
            .unwrap()
    );
    let batches = walk(&t.engine, &sku, PushKind::SaleOpens, 100).await;
    assert!(batches.len() >= 5, "{} batches: not batched", batches.len());
    let largest = batches.iter().map(|b| b.interests.len()).max().unwrap();
    assert!(largest <= 400, "a batch of {largest} for 100 asked");
    let expected: HashSet<String> = (0..1_000).map(|n| format!("fan-{n}")).collect();
    assert_eq!(
        customers(&batches),
        expected,
        "every interest that asked, and only those"
    );
    for pair in batches.windows(2) {
        assert_eq!(pair[0].to_cursor, pair[1].from_cursor, "batches follow on");
    }
    assert!(
        batches
            .iter()
            .all(|b| b.notice == SALE_START && b.kind == PushKind::SaleOpens)
    );
}

#[tokio::test]
async fn moving_a_round_on_is_compare_and_set() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    interested(&t, &sku, "fan", 300, wants(PushKind::BackInStock)).await;
    let e = &t.engine;
    assert!(
        e.start_push_round(&sku, PushKind::BackInStock, SALE_START)
            .await
            .unwrap()
    );

    // Two planners read the same batch: one moves the round on.
    let first = e
        .push_round_batch(&sku, PushKind::BackInStock, 50)
        .await
        .unwrap()
        .unwrap();
    let again = e
        .push_round_batch(&sku, PushKind::BackInStock, 50)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, again, "reading a batch does not move the round");
    assert!(e.advance_push_round(&first).await.unwrap());
    assert!(
        !e.advance_push_round(&again).await.unwrap(),
        "the round moved on"
    );
    let next = e
        .push_round_batch(&sku, PushKind::BackInStock, 50)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.from_cursor, first.to_cursor);

    // A new round meanwhile: a batch of the old one moves nothing.
    assert!(
        e.start_push_round(&sku, PushKind::BackInStock, SALE_START + 1)
            .await
            .unwrap()
    );
    assert!(!e.advance_push_round(&next).await.unwrap());
    let restarted = e
        .push_round_batch(&sku, PushKind::BackInStock, 50)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (restarted.notice, restarted.from_cursor.as_str()),
        (SALE_START + 1, "0")
    );
    assert_eq!(
        customers(&walk(e, &sku, PushKind::BackInStock, 50).await).len(),
        300
    );
}

#[tokio::test]
async fn a_stored_interest_that_is_none_is_skipped_and_the_round_goes_on() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    interested(&t, &sku, "fan", 20, wants(PushKind::BackInStock)).await;
    let bad_endpoint = br#"{"customer":"eve","sku":"TEE","endpoint":"ftp://push.example/x",
        "p256dh":"x","auth":"y","sale_opens":true,"back_in_stock":true,
        "hold_expiring":true,"created_at_ms":1}"#;
    let garbage: &[(&[u8], &[u8])] = &[
        (b"mallory/x", b"not json"),
        (b"eve/y", bad_endpoint),
        (b"zed/z", b"{\"customer\":\"\xff\xfe\"}"),
        (b"\xff/w", b"{}"),
    ];
    written_behind(&t, &PushProductKeys::new(&sku).interests, garbage).await;
    assert!(
        t.engine
            .start_push_round(&sku, PushKind::BackInStock, SALE_START)
            .await
            .unwrap()
    );
    let batches = walk(&t.engine, &sku, PushKind::BackInStock, 5).await;
    assert_eq!(customers(&batches).len(), 20, "every readable interest");
    let skipped: usize = batches.iter().map(|b| b.skipped).sum();
    assert_eq!(skipped, 4, "each unreadable one skipped, and counted");
}

#[tokio::test]
async fn a_stored_notice_or_cursor_that_is_no_number_counts_as_none() {
    let t = TestEngine::start().await;
    let sku = t.product("TEE", 1).await;
    let both = PushTopics {
        back_in_stock: true,
        ..wants(PushKind::SaleOpens)
    };
    interested(&t, &sku, "fan", 3, both).await;
    let rounds = PushProductKeys::new(&sku).rounds;
    let garbled: &[(&[u8], &[u8])] = &[
        (b"opens_notice", b"soon"),
        (b"opens_cursor", b"0"),
        (b"back_notice", b"1700000000000"),
        (b"back_cursor", b"nowhere"),
    ];
    written_behind(&t, &rounds, garbled).await;
    let e = &t.engine;
    for kind in [PushKind::SaleOpens, PushKind::BackInStock] {
        assert_eq!(
            e.push_round_batch(&sku, kind, 10).await.unwrap(),
            None,
            "{kind}: no round to walk"
        );
    }
    assert!(
        e.start_push_round(&sku, PushKind::SaleOpens, SALE_START)
            .await
            .unwrap(),
        "a notice that is no number is no round started"
    );
    assert_eq!(
        customers(&walk(e, &sku, PushKind::SaleOpens, 10).await).len(),
        3
    );

    written_behind(&t, &rounds, &[(b"back_notice", b"later")]).await;
    let now = e.now_ms();
    assert_eq!(seen(e, &sku, 0, now).await, None);
    assert_eq!(seen(e, &sku, 1, now + 1).await, Some(now + 1));
    assert_eq!(
        customers(&walk(e, &sku, PushKind::BackInStock, 10).await).len(),
        3
    );
}
