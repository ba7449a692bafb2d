//! Live stock over Socket.IO: the official client (run under Node), many
//! sockets, two nodes, hostile input, slow clients.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use api_server::LiveOptions;
use api_server::testing::{
    Received, ServerOptions, ServerProcess, SocketClient, TestServer, settled_at,
    stock_subscriptions_at,
};
use flashsale_proto::v1 as pb;
use futures_util::StreamExt;
use reservation_core::Sku;
use reservation_core::testing::reserve;
use serde_json::{Value, json};

#[tokio::test]
async fn the_official_client_gets_live_stock_over_websocket_and_polling() {
    let s = TestServer::start().await;
    s.t.product("LIVE-A", 100).await;
    s.t.product("LIVE-B", 100).await;
    let web = concat!(env!("CARGO_MANIFEST_DIR"), "/../web");
    let base = s.url("");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(format!("{web}/tests/live.mjs"))
            .args([base.as_str(), "LIVE-A", "LIVE-B"])
            .output()
            .expect("run node (web/node_modules comes from .ci/install-deps)")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the socket.io-client run failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["final_version"], 6, "{summary}");
    assert_eq!(summary["reconnect_version"], 8);
    assert_eq!(summary["events"]["b"], 0);
    assert_eq!(summary["hold_event"], "HELD");
}

/// Follows one socket's events for its SKU until it has seen `final`.
async fn follow(
    mut client: SocketClient,
    sku: String,
    mut finals: tokio::sync::watch::Receiver<Option<Arc<HashMap<String, u64>>>>,
) -> Result<u64, String> {
    let mut newest = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(finals) = finals.borrow().clone()
            && newest >= finals[&sku]
        {
            return Ok(newest);
        }
        tokio::select! {
            received = client.next(Duration::from_secs(1)) => match received {
                Some(Received::Event(name, event)) if name == "stock" => {
                    if event["sku"] != sku.as_str() {
                        return Err(format!("a {sku} watcher got {event}"));
                    }
                    let version = event["version"].as_u64().unwrap();
                    if version <= newest {
                        return Err(format!("{sku}: version {version} after {newest}"));
                    }
                    newest = version;
                }
                Some(Received::Closed) => return Err("closed".into()),
                _ => {}
            },
            _ = finals.changed() => {}
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("{sku}: stuck at version {newest}"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_sockets_over_fifty_products_all_end_on_the_final_version() {
    let s = TestServer::start().await;
    let skus: Vec<Sku> = {
        let mut skus = Vec::new();
        for i in 0..50 {
            skus.push(s.t.product(&format!("MANY-{i:02}"), 1_000_000).await);
        }
        skus
    };
    let addr = s.http_addr();
    let (set_finals, finals) = tokio::sync::watch::channel(None);
    let mut followers = Vec::new();
    for i in 0..1_000 {
        let sku = skus[i % skus.len()].to_string();
        let mut client = SocketClient::connect(addr, None).await.expect("connect");
        let snapshot = client
            .emit_with_ack("watch", &json!({ "sku": sku }))
            .await
            .unwrap_or_else(|| panic!("socket {i} got no watch ack"));
        assert_eq!(snapshot["sku"], sku.as_str());
        followers.push(tokio::spawn(follow(client, sku, finals.clone())));
    }
    assert_eq!(s.stock_subscriptions().await, 50);

    // 64 changes in flight at a time: the subject is delivery, not overload.
    futures_util::stream::iter(0..5_000)
        .for_each_concurrent(64, |i| {
            let request = reserve(&skus[i % skus.len()], &format!("c{i}"), 1, &format!("r{i}"));
            let engine = &s.t.engine;
            async move {
                engine.reserve(&request).await.unwrap();
            }
        })
        .await;
    let mut final_versions = HashMap::new();
    for sku in &skus {
        final_versions.insert(
            sku.to_string(),
            s.t.engine.product(sku).await.unwrap().stock.version,
        );
    }
    assert!(final_versions.values().all(|&v| v == 101));
    set_finals.send(Some(Arc::new(final_versions))).unwrap();
    for follower in followers {
        follower.await.unwrap().expect("the socket converged");
    }
}

#[tokio::test]
async fn a_change_through_one_node_reaches_watchers_on_another_process() {
    let s = TestServer::start().await;
    s.t.product("TWO-A", 10).await;
    s.t.product("TWO-B", 10).await;
    let url = s.t.redis.url();
    let node_b = ServerProcess::spawn(
        env!("CARGO_BIN_EXE_api-server"),
        &["--redis-url", &url, "--insecure-customer-header"],
    );
    let mut watcher = SocketClient::watching(node_b.http_addr, "TWO-A").await;

    // Through node A's gRPC API.
    let mut reservations = s.reservations().await;
    reservations
        .reserve(pb::ReserveRequest {
            sku: "TWO-A".into(),
            quantity: 1,
            customer_id: "ann".into(),
            request_id: "r1".into(),
        })
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let received = watcher.next(Duration::from_secs(2)).await;
    let Some(Received::Event(name, event)) = received else {
        panic!("node B's watcher got {received:?}");
    };
    assert_eq!(
        (name.as_str(), event["available"].as_i64()),
        ("stock", Some(9))
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );

    // Each node subscribes only to what its own sockets watch.
    assert_eq!(s.stock_subscriptions().await, 0, "node A has no watchers");
    assert_eq!(
        stock_subscriptions_at(&s.http, node_b.http_addr).await,
        1,
        "node B watches one product"
    );
}

#[tokio::test]
async fn watchers_keep_receiving_after_redis_restarts() {
    let mut s = TestServer::start_with(ServerOptions {
        engine: reservation_core::testing::TestOptions {
            manual_clock: false,
            append_only: true,
            ..Default::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let sku = s.t.product("RESTART", 10).await;
    let mut watcher = SocketClient::watching(s.http_addr(), "RESTART").await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    s.t.redis.restart().unwrap();

    let mut reserved = false;
    for i in 0..50 {
        if s.t
            .engine
            .reserve(&reserve(&sku, "ann", 1, &format!("r{i}")))
            .await
            .is_ok()
        {
            reserved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reserved);
    let mut newest = 0;
    while let Some(Received::Event(_, event)) = watcher.next(Duration::from_secs(2)).await {
        newest = event["version"].as_u64().unwrap();
        if newest == 2 {
            break;
        }
    }
    assert_eq!(
        newest, 2,
        "the watcher got the change made after the restart"
    );
    s.shutdown().await;
}

#[tokio::test]
async fn stock_updates_are_conflated_but_the_last_state_always_arrives() {
    let s = TestServer::start_with(ServerOptions {
        live: LiveOptions {
            interval: Duration::from_millis(200),
            ..LiveOptions::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let sku = s.t.product("BURST", 1_000).await;
    let mut watcher = SocketClient::watching(s.http_addr(), "BURST").await;
    for i in 0..50 {
        s.t.engine
            .reserve(&reserve(&sku, &format!("c{i}"), 1, &format!("r{i}")))
            .await
            .unwrap();
    }
    let mut versions = Vec::new();
    while let Some(Received::Event(_, event)) = watcher.next(Duration::from_millis(600)).await {
        versions.push(event["version"].as_u64().unwrap());
    }
    assert_eq!(
        versions.last(),
        Some(&51),
        "the final state arrives: {versions:?}"
    );
    assert!(
        versions.len() < 10,
        "50 changes in a burst were conflated into {versions:?}"
    );
    assert!(versions.windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn watch_refusals_and_the_watch_limit_come_back_in_the_ack() {
    let s = watching_at_most(3).await;
    for i in 0..4 {
        s.t.product(&format!("W{i}"), 5).await;
    }
    let mut client = SocketClient::connect(s.http_addr(), None).await.unwrap();
    let code = |answer: Option<Value>| {
        answer.unwrap()["error"]["code"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(
        code(client.emit_with_ack("watch", &json!({"sku": "{W0}"})).await),
        "INVALID_ARGUMENT"
    );
    // Ten times the websocket read buffer: the packet still arrives whole.
    assert_eq!(
        code(
            client
                .emit_with_ack("watch", &json!({"sku": "x".repeat(5_000)}))
                .await
        ),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(client.emit_with_ack("watch", &json!({"sku": ["W0"]})).await),
        "INVALID_ARGUMENT"
    );
    assert_eq!(
        code(client.emit_with_ack("watch", &json!({"sku": "NOPE"})).await),
        "NOT_FOUND"
    );
    for i in 0..3 {
        let snapshot = client
            .emit_with_ack("watch", &json!({"sku": format!("W{i}")}))
            .await
            .unwrap();
        assert_eq!(snapshot["version"], 1);
    }
    assert_eq!(
        code(client.emit_with_ack("watch", &json!({"sku": "W3"})).await),
        "WATCH_LIMIT"
    );
    // Watching one again is not one more.
    assert_eq!(
        client
            .emit_with_ack("watch", &json!({"sku": "W0"}))
            .await
            .unwrap()["sku"],
        "W0"
    );
    assert_eq!(
        client
            .emit_with_ack("unwatch", &json!({"sku": "W0"}))
            .await
            .unwrap(),
        json!({"ok": true})
    );
    assert_eq!(
        client
            .emit_with_ack("watch", &json!({"sku": "W3"}))
            .await
            .unwrap()["sku"],
        "W3"
    );
    assert_eq!(s.stock_subscriptions().await, 3);
}

#[tokio::test]
async fn hostile_sockets_are_cut_off_and_everyone_else_keeps_receiving() {
    let s = TestServer::start().await;
    let sku = s.t.product("SAFE", 100).await;
    let addr = s.http_addr();
    let mut bystander = SocketClient::watching(addr, "SAFE").await;

    let mut malformed = SocketClient::connect(addr, None).await.unwrap();
    malformed.send_raw("42[not json").await.unwrap();
    let mut binary = SocketClient::connect(addr, None).await.unwrap();
    binary.send_binary(vec![0xff; 64]).await.unwrap();
    let mut closed = false;
    for _ in 0..10 {
        if matches!(
            malformed.next(Duration::from_millis(500)).await,
            Some(Received::Closed)
        ) {
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "a socket that sent a malformed packet was not disconnected"
    );

    // An oversized event over websocket is answered with an error...
    let mut huge = SocketClient::connect(addr, None).await.unwrap();
    let answer = huge
        .emit_with_ack("watch", &json!({"sku": "A".repeat(100_000)}))
        .await
        .expect("an answer");
    assert_eq!(answer["error"]["code"], "INVALID_ARGUMENT");
    // ...and an oversized polling payload is refused outright.
    let session = s.polling_session().await;
    let refused = s
        .http
        .post(&session)
        .body(format!("40{}", "x".repeat(100_000)))
        .send()
        .await
        .unwrap();
    assert!(
        !refused.status().is_success(),
        "a 100 KB polling payload was accepted"
    );

    // Unknown events and attempts to join rooms by name do nothing.
    let mut sneaky = SocketClient::connect(addr, None).await.unwrap();
    sneaky
        .send_raw(r#"42["join",{"room":"customer:ann"}]"#)
        .await
        .unwrap();
    sneaky
        .send_raw(r#"42["subscribe","product:SAFE"]"#)
        .await
        .unwrap();

    s.t.engine
        .reserve(&reserve(&sku, "ann", 1, "r1"))
        .await
        .unwrap();
    let received = bystander.next(Duration::from_secs(2)).await;
    assert!(
        matches!(received, Some(Received::Event(ref name, _)) if name == "stock"),
        "{received:?}"
    );
    assert_eq!(
        sneaky.next(Duration::from_millis(500)).await,
        None,
        "the sneaky socket got {sku}'s or ann's events"
    );
    assert_eq!(s.health().await, reqwest::StatusCode::OK);
}

/// Whether the server closes `client`'s connection within a few seconds.
async fn cut_off(client: &mut SocketClient) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if client.next(Duration::from_millis(500)).await == Some(Received::Closed) {
            return true;
        }
    }
    false
}

/// After hostile input: SAFE's stock and the node's one subscription are as
/// they were, the server is healthy, and the next change reaches the
/// bystander watching SAFE.
async fn still_serving_safe(
    s: &TestServer,
    sku: &Sku,
    before: &reservation_core::StockSnapshot,
    bystander: &mut SocketClient,
) {
    assert_eq!(s.stock_subscriptions().await, 1);
    assert_eq!(&s.t.stock("SAFE").await, before);
    assert_eq!(s.health().await, reqwest::StatusCode::OK);
    s.t.engine
        .reserve(&reserve(sku, "ann", 1, "r1"))
        .await
        .unwrap();
    let received = bystander.next(Duration::from_secs(2)).await;
    assert!(
        matches!(received, Some(Received::Event(ref name, ref event))
            if name == "stock" && event["version"] == 2),
        "{received:?}"
    );
}

#[tokio::test]
async fn malformed_packets_over_websocket_cut_off_their_sender_and_nobody_else() {
    let s = TestServer::start().await;
    let sku = s.t.product("SAFE", 100).await;
    let before = s.t.stock("SAFE").await;
    let addr = s.http_addr();
    let mut bystander = SocketClient::watching(addr, "SAFE").await;

    // A packet the server cannot even parse leaves nothing to answer: the
    // connection goes.
    for packet in [
        // No such Engine.IO packet type.
        "9hello",
        // No packet type at all.
        "",
        // Ack ids that are not numbers.
        r#"42abc["watch",{"sku":"SAFE"}]"#,
        r#"42-1["watch",{"sku":"SAFE"}]"#,
    ] {
        let mut hostile = SocketClient::connect(addr, None).await.unwrap();
        hostile.send_raw(packet).await.unwrap();
        assert!(cut_off(&mut hostile).await, "{packet:?} was let through");
    }

    // Well-formed packets that name nothing that exists are refused or
    // dropped, and the socket stays.
    let mut lost = SocketClient::connect(addr, None).await.unwrap();
    lost.send_raw("40/admin,").await.unwrap();
    assert_eq!(
        lost.next(Duration::from_secs(2)).await,
        Some(Received::ConnectError(
            "/admin".into(),
            json!({"message": "Invalid namespace"})
        ))
    );
    // An event in the namespace it was refused: a watch there would make
    // it receive SAFE's events below.
    lost.send_raw(r#"42/admin,["watch",{"sku":"SAFE"}]"#)
        .await
        .unwrap();
    // An ack id too large to be one: the event runs, unacknowledged.
    lost.send_raw(r#"4299999999999999999999["unwatch",{"sku":"SAFE"}]"#)
        .await
        .unwrap();
    // An ack for something the server never asked.
    lost.send_raw(r#"43999[{"ok":true}]"#).await.unwrap();
    assert_eq!(lost.next(Duration::from_millis(500)).await, None);
    assert_eq!(
        lost.emit_with_ack("unwatch", &json!({"sku": "SAFE"})).await,
        Some(json!({"ok": true})),
        "the socket is still served"
    );

    assert_eq!(s.sockets_settled_at(2).await, 2, "the bystander and lost");
    still_serving_safe(&s, &sku, &before, &mut bystander).await;
    assert_eq!(lost.next(Duration::from_millis(500)).await, None);
}

#[tokio::test]
async fn polling_requests_without_a_session_a_supported_protocol_or_a_packet_are_refused() {
    let s = TestServer::start().await;
    let sku = s.t.product("SAFE", 100).await;
    let before = s.t.stock("SAFE").await;
    let mut bystander = SocketClient::watching(s.http_addr(), "SAFE").await;
    let answer = async |request: reqwest::RequestBuilder| {
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    let unknown_session = (
        400,
        r#"{"code":"1","message":"Session ID unknown"}"#.to_owned(),
    );
    let unsupported = (
        400,
        r#"{"code":"5","message":"Unsupported protocol version"}"#.to_owned(),
    );

    let polling = s.url("/socket.io/?EIO=4&transport=polling");
    // A session id of the right shape that was never given out...
    let never_given = format!("{polling}&sid=AAAAAAAAAAAAAAAA");
    assert_eq!(
        answer(s.http.post(&never_given).body("40")).await,
        unknown_session
    );
    assert_eq!(answer(s.http.get(&never_given)).await, unknown_session);
    // ...and one that is no session id at all, which makes the POST a
    // handshake, and a handshake is a GET.
    assert_eq!(
        answer(s.http.post(format!("{polling}&sid=made-up")).body("40")).await,
        (
            400,
            r#"{"code":"2","message":"Bad handshake method"}"#.to_owned()
        )
    );

    // Engine.IO 4 only, to open a session and within one.
    for version in ["3", "5"] {
        let url = s.url(&format!("/socket.io/?EIO={version}&transport=polling"));
        assert_eq!(answer(s.http.get(url)).await, unsupported, "EIO={version}");
    }
    let session = s.polling_session().await;
    assert_eq!(
        answer(s.http.post(session.replace("EIO=4", "EIO=3")).body("40")).await,
        unsupported
    );

    // A connected session whose POST is not Engine.IO is refused and ended,
    // and its socket goes with it.
    assert_eq!(
        answer(s.http.post(&session).body("40")).await,
        (200, "ok".into())
    );
    let (status, connected) = answer(s.http.get(&session)).await;
    assert!(
        status == 200
            && connected
                .split('\x1e')
                .any(|packet| packet.starts_with("40{")),
        "{status} {connected:?}"
    );
    assert_eq!(s.sockets_settled_at(2).await, 2);
    assert_eq!(
        answer(s.http.post(&session).body("hello")).await,
        (400, String::new())
    );
    assert_eq!(answer(s.http.get(&session)).await, unknown_session);

    assert_eq!(s.sockets_settled_at(1).await, 1, "only the bystander");
    still_serving_safe(&s, &sku, &before, &mut bystander).await;
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
    while let Some(packet) = client.next(quiet).await {
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
    let mut bystander = SocketClient::watching(addr, "CALM").await;

    let mut flooder = SocketClient::connect(addr, None).await.unwrap();
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
            let received = bystander.next(Duration::from_secs(2)).await;
            let Some(Received::Event(_, event)) = received else {
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
            .emit_with_ack("watch", &json!({"sku": "CALM"}))
            .await
            .is_some(),
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
        let mut shopper = SocketClient::connect(addr, None).await.unwrap();
        for sku in half {
            shopper
                .emit_with_ack("watch", &json!({"sku": sku.to_string()}))
                .await
                .unwrap();
        }
        shoppers.push(shopper);
    }
    assert_eq!(s.stock_subscriptions().await, 8);

    let mut flooder = SocketClient::connect(addr, None).await.unwrap();
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
                Received::Event(name, event) if name == "stock" => {
                    Some(event["sku"].as_str()?.to_owned())
                }
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

#[tokio::test]
async fn a_socket_that_never_reads_is_disconnected_not_buffered() {
    let s = TestServer::start_with(ServerOptions {
        live: LiveOptions {
            interval: Duration::ZERO,
            max_buffer: 4,
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(300),
            ..LiveOptions::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let sku = s.t.product("FLOOD", 1_000).await;
    // A long-polling session that connects, watches, and then never polls:
    // everything sent to it waits in its buffer.
    let http = &s.http;
    let session = s.polling_session().await;
    http.post(&session).body("40").send().await.unwrap();
    http.get(&session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    http.post(&session)
        .body(r#"420["watch",{"sku":"FLOOD"}]"#)
        .send()
        .await
        .unwrap();
    // Watching once the node subscribed for it (slow machines take a while).
    for _ in 0..100 {
        if s.stock_subscriptions().await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    for i in 0..40 {
        s.t.engine
            .reserve(&reserve(&sku, &format!("c{i}"), 1, &format!("r{i}")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut disconnected = false;
    for _ in 0..50 {
        if s.metrics()
            .await
            .contains("flashsale_slow_socket_disconnects_total 1")
        {
            disconnected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(disconnected, "{}", s.metrics().await);
    // The socket's rooms are left as it closes, and the relay unsubscribes.
    let mut subscriptions = -1;
    for _ in 0..100 {
        subscriptions = s.stock_subscriptions().await;
        if subscriptions == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(subscriptions, 0, "its subscription went with it");
}
