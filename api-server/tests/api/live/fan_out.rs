//! Stock events reach every watcher, on any node, and each ends on its
//! product's newest state: a thousand sockets over fifty products, a node in
//! another process, bursts conflated, a Redis restart.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use api_server::LiveOptions;
use api_server::testing::{ServerOptions, ServerProcess, TestServer, stock_subscriptions_at};
use flashsale_benches::socket::{ACK_LIMIT, Event, Received, SocketClient};
use flashsale_proto::v1 as pb;
use futures_util::StreamExt;
use reservation_core::Sku;
use reservation_core::testing::reserve;
use serde_json::json;

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
            received = client.next_within(Duration::from_secs(1)) => match received {
                Some(Received::Event(Event { name, data: event, .. })) if name == "stock" => {
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
        let mut client = SocketClient::websocket(addr, None).await.expect("connect");
        let snapshot = client
            .emit_with_ack_within("watch", json!({ "sku": sku }), ACK_LIMIT)
            .await
            .unwrap_or_else(|e| panic!("socket {i} got no watch ack: {e}"));
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
    let mut watcher = SocketClient::watching(node_b.http_addr, "TWO-A")
        .await
        .unwrap();

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
    let received = watcher.next_within(Duration::from_secs(2)).await;
    let Some(Received::Event(Event {
        name, data: event, ..
    })) = received
    else {
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
        stock_subscriptions_at(&s.http, node_b.admin_addr).await,
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
    let mut watcher = SocketClient::watching(s.http_addr(), "RESTART")
        .await
        .unwrap();
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
    while let Some(Received::Event(Event { data: event, .. })) =
        watcher.next_within(Duration::from_secs(2)).await
    {
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
    let mut watcher = SocketClient::watching(s.http_addr(), "BURST")
        .await
        .unwrap();
    for i in 0..50 {
        s.t.engine
            .reserve(&reserve(&sku, &format!("c{i}"), 1, &format!("r{i}")))
            .await
            .unwrap();
    }
    let mut versions = Vec::new();
    while let Some(Received::Event(Event { data: event, .. })) =
        watcher.next_within(Duration::from_millis(600)).await
    {
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
