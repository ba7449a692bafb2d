//! Scale out: two api-server nodes (one a separate process) and two purchase
//! workers on a private Redis Cluster, products on every shard.

use std::sync::Arc;
use std::time::Duration;

use api_server::testing::{ServerOptions, ServerProcess, TestServer, stock_subscriptions_at};
use flashsale_benches::socket::{ACK_LIMIT, Event, Received, SocketClient};
use flashsale_proto::v1 as pb;
use purchase_worker::AcceptAll;
use purchase_worker::testing::{RunningWorkers, quick_config};
use reservation_core::local_redis::LocalClusterOptions;
use reservation_core::testing::TestOptions;
use serde_json::{Value, json};

/// Waits for a stock event of `sku` that `wanted` accepts (events may be
/// conflated, so earlier states can be skipped, never the last one).
async fn stock_event(watcher: &mut SocketClient, sku: &str, wanted: impl Fn(&Value) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match watcher.next_within(left).await {
            Some(Received::Event(Event { name, data, .. }))
                if name == "stock" && data["sku"] == sku && wanted(&data) =>
            {
                return;
            }
            Some(Received::Event(..) | Received::Ack(..)) => {}
            other => panic!("no such stock event of {sku}; got {other:?}"),
        }
    }
}

async fn watch(watcher: &mut SocketClient, sku: &str) {
    let ack = watcher
        .emit_with_ack_within("watch", json!({ "sku": sku }), ACK_LIMIT)
        .await;
    assert!(ack.is_ok_and(|a| a.get("error").is_none()), "watch {sku}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_and_two_workers_on_a_cluster_serve_one_sale() {
    let s = TestServer::start_with(ServerOptions {
        engine: TestOptions {
            cluster: Some(LocalClusterOptions::default()),
            manual_clock: false,
            ..TestOptions::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let skus: Vec<String> =
        s.t.skus_on_different_shards("SCALE", 3)
            .iter()
            .map(|sku| sku.to_string())
            .collect();
    for sku in &skus {
        s.t.product(sku, 10).await;
    }
    let node_a = s.http_addr();
    let node_b = ServerProcess::spawn(
        env!("CARGO_BIN_EXE_api-server"),
        &[
            "--redis-url",
            &s.t.redis.url(),
            "--merchant-tokens",
            api_server::testing::TOKEN,
            "--insecure-customer-header",
        ],
    );
    let workers =
        RunningWorkers::start(&s.t, Arc::new(AcceptAll), 2, 2, quick_config("scale")).await;

    // Node B watches two products, node A the third.
    let mut on_b = SocketClient::websocket(node_b.http_addr, None)
        .await
        .unwrap();
    watch(&mut on_b, &skus[0]).await;
    watch(&mut on_b, &skus[1]).await;
    let mut on_a = SocketClient::websocket(node_a, None).await.unwrap();
    watch(&mut on_a, &skus[2]).await;

    // Reserved and confirmed through node A's gRPC API: node B's watcher sees
    // the hold, then the workers' sale.
    let mut reservations = s.reservations().await;
    let held = reservations
        .reserve(pb::ReserveRequest {
            sku: skus[0].clone(),
            quantity: 2,
            customer_id: "ann".into(),
            request_id: "a1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .reservation
        .unwrap();
    stock_event(&mut on_b, &skus[0], |e| e["available"] == 8).await;
    reservations
        .confirm_reservation(pb::ConfirmReservationRequest { id: held.id })
        .await
        .unwrap();
    stock_event(&mut on_b, &skus[0], |e| e["sold"] == 2 && e["held"] == 0).await;

    // A cart over all three shards through node B's HTTP API: node A's
    // watcher sees its line, node B's its two.
    let cart = s
        .http
        .post(format!("http://{}/api/carts", node_b.http_addr))
        .header("x-customer-id", "bob")
        .json(&json!({"request_id": "b1", "lines": [
            {"sku": skus[0], "quantity": 1},
            {"sku": skus[1], "quantity": 1},
            {"sku": skus[2], "quantity": 1},
        ]}))
        .send()
        .await
        .unwrap();
    assert_eq!(cart.status(), reqwest::StatusCode::CREATED);
    stock_event(&mut on_a, &skus[2], |e| e["available"] == 9).await;
    stock_event(&mut on_b, &skus[1], |e| e["available"] == 9).await;

    // Each node subscribes to what its own sockets watch, and nothing else:
    // one subscription per watched product over the whole Cluster.
    assert_eq!(s.stock_subscriptions().await, 1);
    assert_eq!(stock_subscriptions_at(&s.http, node_b.admin_addr).await, 2);
    for sku in &skus {
        assert_eq!(
            s.t.stock_subscribers(&sku.parse().unwrap()).await,
            1,
            "{sku}"
        );
    }

    workers.stop().await;
    for sku in &skus {
        let audit = s.t.engine.audit(&sku.parse().unwrap()).await.unwrap();
        assert!(audit.is_clean(), "{sku}: {:?}", audit.problems());
    }
}
