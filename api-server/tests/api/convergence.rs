//! Live counts converge: whatever lands while a watch is being set up, the
//! watcher ends on the product's newest state.

use std::time::Duration;

use api_server::LiveOptions;
use api_server::testing::{ServerOptions, TestServer, WatchGate};
use flashsale_benches::socket::{ACK_LIMIT, Received, SocketClient};
use reservation_core::testing::reserve;
use serde_json::{Value, json};

/// The highest `stock` version among what the socket received.
fn newest_version(received: &[Received]) -> u64 {
    received
        .iter()
        .filter_map(|r| match r {
            Received::Event(event) if event.name == "stock" => event.data["version"].as_u64(),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

#[tokio::test]
async fn the_last_unit_sold_while_a_watch_reads_its_snapshot_still_reaches_the_watcher() {
    let (gate, mut stopped) = WatchGate::new();
    let mut s = TestServer::start_with(ServerOptions {
        live: LiveOptions {
            after_snapshot: Some(gate),
            ..LiveOptions::default()
        },
        ..ServerOptions::default()
    })
    .await;
    let sku = s.t.product("LAST-ONE", 1).await;
    let watch = json!({ "sku": "LAST-ONE" });

    // An observer already in the product's room: when it hears a change,
    // the node has emitted it to every socket in the room.
    let mut observer = SocketClient::websocket(s.http_addr(), None).await.unwrap();
    let (ack, ()) = tokio::join!(
        observer.emit_with_ack_within("watch", watch.clone(), ACK_LIMIT),
        async {
            stopped.recv().await.unwrap().go();
        }
    );
    assert_eq!(ack.unwrap()["version"], 1);

    // The shopper's watch has read "1 left"; the last unit sells before it
    // answers.
    let mut shopper = SocketClient::websocket(s.http_addr(), None).await.unwrap();
    let (snapshot, ()) = tokio::join!(
        shopper.emit_with_ack_within("watch", watch.clone(), ACK_LIMIT),
        async {
            let at_gate = stopped.recv().await.unwrap();
            s.t.engine
                .reserve(&reserve(&sku, "ann", 1, "r1"))
                .await
                .unwrap();
            loop {
                match observer.next_within(Duration::from_secs(5)).await {
                    Some(Received::Event(event))
                        if event.name == "stock" && event.data["version"] == 2 =>
                    {
                        break;
                    }
                    Some(_) => {}
                    None => panic!("the observer never heard the sale"),
                }
            }
            at_gate.go();
        }
    );
    let snapshot: Value = snapshot.unwrap();
    assert_eq!(
        (snapshot["available"].clone(), snapshot["version"].clone()),
        (json!(1), json!(1))
    );

    let mut received = Vec::new();
    while let Some(event) = shopper.next_within(Duration::from_millis(500)).await {
        received.push(event);
    }
    assert_eq!(
        newest_version(&received),
        2,
        "the shopper is left on \"1 left\" after the product sold out: {received:?}"
    );
    s.shutdown().await;
}
