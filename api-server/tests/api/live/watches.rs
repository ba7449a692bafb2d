//! `watch` and `unwatch`: refusals come back in the ack, a socket watches
//! at most the node's limit, and a flood of them from one socket neither
//! holds up other sockets' events nor leaves anything watched but what is.

use std::collections::BTreeSet;
use std::time::Duration;

use api_server::LiveOptions;
use api_server::testing::{ServerOptions, TestServer, settled_at};
use flashsale_benches::socket::{ACK_LIMIT, Event, Received, SocketClient, SocketError};
use reservation_core::Sku;
use reservation_core::testing::reserve;
use serde_json::{Value, json};

/// A node whose sockets may each watch at most `max_watched` products.
async fn watching_at_most(max_watched: usize) -> TestServer {
    TestServer::start_with(ServerOptions {
        live: LiveOptions {
            max_watched,
            ..LiveOptions::default()
        },
        ..ServerOptions::default()
    })
    .await
}

#[tokio::test]
async fn watch_refusals_and_the_watch_limit_come_back_in_the_ack() {
    let s = watching_at_most(3).await;
    for i in 0..4 {
        s.t.product(&format!("W{i}"), 5).await;
    }
    let mut client = SocketClient::websocket(s.http_addr(), None).await.unwrap();
    let code = |answer: Result<Value, SocketError>| {
        answer.unwrap()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(
        code(
            client
                .emit_with_ack_within("watch", json!({"sku": "{W0}"}), ACK_LIMIT)
                .await
        ),
        "INVALID_ARGUMENT"
    );
    // Ten times the websocket read buffer: the packet still arrives whole.
    assert_eq!(
        code(
            client
                .emit_with_ack_within("watch", json!({"sku": "x".repeat(5_000)}), ACK_LIMIT)
                .await
        ),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(
            client
                .emit_with_ack_within("watch", json!({"sku": ["W0"]}), ACK_LIMIT)
                .await
        ),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(
            client
                .emit_with_ack_within("watch", json!({"sku": "NOPE"}), ACK_LIMIT)
                .await
        ),
        "NOT_FOUND"
    );
    for i in 0..3 {
        let snapshot = client
            .emit_with_ack_within("watch", json!({"sku": format!("W{i}")}), ACK_LIMIT)
            .await
            .unwrap();
        assert_eq!(snapshot["version"], 1);
    }
    assert_eq!(
        code(
            client
                .emit_with_ack_within("watch", json!({"sku": "W3"}), ACK_LIMIT)
                .await
        ),
        "WATCH_LIMIT"
    );
    // Watching one again is not one more.
    assert_eq!(
        client
            .emit_with_ack_within("watch", json!({"sku": "W0"}), ACK_LIMIT)
            .await
            .unwrap()["sku"],
        "W0"
    );
    assert_eq!(
        client
            .emit_with_ack_within("unwatch", json!({"sku": "W0"}), ACK_LIMIT)
            .await
            .unwrap(),
        json!({"ok": true})
    );
    assert_eq!(
        client
            .emit_with_ack_within("watch", json!({"sku": "W3"}), ACK_LIMIT)
            .await
            .unwrap()["sku"],
        "W3"
    );
    assert_eq!(s.stock_subscriptions().await, 3);
}

/// Emits `count` `watch` and `unwatch` events for `skus` as fast as the
/// socket takes them, asking for acks and waiting for none. In turns, it
/// watches every SKU (more than a socket may) and then unwatches each, and
/// it watches and at once unwatches each.
async fn flood_watches(flooder: &mut SocketClient, skus: &[Sku], count: usize) {
    let all_then_each = skus
        .iter()
        .map(|sku| ("watch", sku))
        .chain(skus.iter().map(|sku| ("unwatch", sku)));
    let in_pairs = skus
        .iter()
        .flat_map(|sku| [("watch", sku), ("unwatch", sku)]);
    let events = all_then_each.chain(in_pairs).cycle().take(count);
    // Ack ids of their own, far from the ones `emit_with_ack` counts.
    for (id, (event, sku)) in (1_000_000..).zip(events) {
        let packet = json!([event, {"sku": sku.to_string()}]);
        flooder.send_raw(&format!("42{id}{packet}")).await.unwrap();
    }
}

/// A node whose sockets may watch 4 products, and `count` products to flood.
async fn flood_target(count: usize) -> (TestServer, Vec<Sku>) {
    let s = watching_at_most(4).await;
    let mut skus = Vec::new();
    for i in 0..count {
        skus.push(s.t.product(&format!("FLOODED-{i}"), 100).await);
    }
    (s, skus)
}

/// Reads `client` until nothing more comes for `quiet`.
async fn drain_socket(client: &mut SocketClient, quiet: Duration) -> Vec<Received> {
    let mut received = Vec::new();
    while let Some(packet) = client.next_within(quiet).await {
        let closed = packet == Received::Closed;
        received.push(packet);
        if closed {
            break;
        }
    }
    received
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_watch_flood_does_not_hold_up_other_sockets_stock_events() {
    let (s, skus) = flood_target(8).await;
    let calm = s.t.product("CALM", 1_000).await;
    let addr = s.http_addr();
    let mut bystander = SocketClient::watching(addr, "CALM").await.unwrap();

    let mut flooder = SocketClient::websocket(addr, None).await.unwrap();
    let flood = tokio::spawn(async move {
        flood_watches(&mut flooder, &skus, 2_000).await;
        let answers = drain_socket(&mut flooder, Duration::from_secs(1)).await;
        (flooder, answers)
    });
    // Every change reaches the bystander promptly while the flood is sent,
    // handled and answered.
    let mut version = 1;
    while !flood.is_finished() || version < 5 {
        version += 1;
        s.t.engine
            .reserve(&reserve(&calm, "ann", 1, &format!("r{version}")))
            .await
            .unwrap();
        let changed = std::time::Instant::now();
        loop {
            let received = bystander.next_within(Duration::from_secs(2)).await;
            let Some(Received::Event(Event { data: event, .. })) = received else {
                panic!("version {version} did not arrive within 2 s: {received:?}");
            };
            if event["version"] == version {
                break;
            }
        }
        assert!(
            changed.elapsed() < Duration::from_secs(2),
            "version {version} took {:?}",
            changed.elapsed()
        );
    }
    let (mut flooder, answers) = flood.await.unwrap();
    assert!(
        answers.iter().any(|answer| matches!(answer,
            Received::Ack(_, ack) if ack["error"]["code"] == "WATCH_LIMIT")),
        "the flood was handled, and the limit held during it"
    );
    assert!(
        flooder
            .emit_with_ack_within("watch", json!({"sku": "CALM"}), ACK_LIMIT)
            .await
            .is_ok(),
        "the flooder itself is still served"
    );
    assert_eq!(s.health().await, reqwest::StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_watch_flood_stays_within_the_limit_and_leaves_other_watchers_as_they_were() {
    let (s, skus) = flood_target(12).await;
    // Between them, two shoppers keep eight of the flooded products relayed,
    // so the flooder would hear of any of those it were left in; the other
    // four only the flooder ever watches.
    let watched = &skus[..8];
    let addr = s.http_addr();
    let mut shoppers = Vec::new();
    for half in watched.chunks(4) {
        let mut shopper = SocketClient::websocket(addr, None).await.unwrap();
        for sku in half {
            shopper
                .emit_with_ack_within("watch", json!({"sku": sku.to_string()}), ACK_LIMIT)
                .await
                .unwrap();
        }
        shoppers.push(shopper);
    }
    assert_eq!(s.stock_subscriptions().await, 8);

    let mut flooder = SocketClient::websocket(addr, None).await.unwrap();
    flood_watches(&mut flooder, &skus, 2_000).await;
    drain_socket(&mut flooder, Duration::from_secs(1)).await;

    for (i, sku) in skus.iter().enumerate() {
        s.t.engine
            .reserve(&reserve(sku, "ann", 1, &format!("r{i}")))
            .await
            .unwrap();
    }
    let heard = |received: Vec<Received>| -> BTreeSet<String> {
        received
            .into_iter()
            .filter_map(|packet| match packet {
                Received::Event(Event {
                    name, data: event, ..
                }) if name == "stock" => Some(event["sku"].as_str()?.to_owned()),
                _ => None,
            })
            .collect()
    };
    for (shopper, half) in shoppers.iter_mut().zip(watched.chunks(4)) {
        let wanted: BTreeSet<String> = half.iter().map(|sku| sku.to_string()).collect();
        assert_eq!(
            heard(drain_socket(shopper, Duration::from_millis(500)).await),
            wanted,
            "a shopper lost products to the flood"
        );
    }
    let flooder_heard = heard(drain_socket(&mut flooder, Duration::from_millis(500)).await);
    assert!(
        flooder_heard.len() <= 4,
        "the flooder hears {flooder_heard:?}, more than it may watch"
    );

    drop(flooder);
    assert_eq!(
        settled_at(8, async || s.stock_subscriptions().await).await,
        8,
        "the node subscribes to just what the shoppers watch"
    );
}
