//! A client that stops reading is disconnected once its send buffer is
//! full, instead of being buffered for, and its subscription goes with it.

use std::time::Duration;

use api_server::LiveOptions;
use api_server::testing::{ServerOptions, TestServer};
use reservation_core::testing::reserve;

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
