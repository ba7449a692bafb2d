//! Hostile input: malformed, binary and oversized packets over websocket
//! and long-polling, unknown events and rooms, made-up sessions. The sender
//! is cut off or refused; every other socket keeps receiving and nothing
//! changes.

use std::time::Duration;

use api_server::testing::TestServer;
use flashsale_benches::socket::{ACK_LIMIT, Event, Received, SocketClient};
use reservation_core::testing::reserve;
use reservation_core::{Sku, StockSnapshot};
use serde_json::json;

#[tokio::test]
async fn hostile_sockets_are_cut_off_and_everyone_else_keeps_receiving() {
    let s = TestServer::start().await;
    let sku = s.t.product("SAFE", 100).await;
    let addr = s.http_addr();
    let mut bystander = SocketClient::watching(addr, "SAFE").await.unwrap();

    let mut malformed = SocketClient::websocket(addr, None).await.unwrap();
    malformed.send_raw("42[not json").await.unwrap();
    let mut binary = SocketClient::websocket(addr, None).await.unwrap();
    binary.send_binary(vec![0xff; 64]).await.unwrap();
    let mut closed = false;
    for _ in 0..10 {
        if matches!(
            malformed.next_within(Duration::from_millis(500)).await,
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

    // A watch naming a product no SKU could be is answered with an error...
    let mut long = SocketClient::websocket(addr, None).await.unwrap();
    let answer = long
        .emit_with_ack_within("watch", json!({"sku": "A".repeat(10_000)}), ACK_LIMIT)
        .await
        .expect("an answer");
    assert_eq!(answer["error"]["code"], "INVALID_ARGUMENT");
    // ...but an event heavier than a packet may be cuts its sender off over
    // websocket, and is refused outright over polling.
    let mut huge = SocketClient::websocket(addr, None).await.unwrap();
    let watch = json!(["watch", {"sku": "A".repeat(100_000)}]);
    huge.send_raw(&format!("42{watch}")).await.unwrap();
    assert!(cut_off(&mut huge).await, "a 100 KB event over websocket");
    let session = s.polling_session().await;
    let refused = s
        .http
        .post(&session)
        .body(format!("40{}", "x".repeat(100_000)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        reqwest::StatusCode::PAYLOAD_TOO_LARGE,
        "a 100 KB polling payload"
    );

    // Unknown events and attempts to join rooms by name do nothing.
    let mut sneaky = SocketClient::websocket(addr, None).await.unwrap();
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
    let received = bystander.next_within(Duration::from_secs(2)).await;
    assert!(
        matches!(received, Some(Received::Event(Event { ref name, .. })) if name == "stock"),
        "{received:?}"
    );
    assert_eq!(
        sneaky.next_within(Duration::from_millis(500)).await,
        None,
        "the sneaky socket got {sku}'s or ann's events"
    );
    assert_eq!(s.health().await, reqwest::StatusCode::OK);
}

/// Whether the server closes `client`'s connection within a few seconds.
async fn cut_off(client: &mut SocketClient) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if client.next_within(Duration::from_millis(500)).await == Some(Received::Closed) {
            return true;
        }
    }
    false
}

/// A node selling SAFE, a bystander watching it, and SAFE's stock from
/// before anything hostile arrived.
struct Safe {
    s: TestServer,
    sku: Sku,
    before: StockSnapshot,
    bystander: SocketClient,
}

impl Safe {
    async fn start() -> Self {
        let s = TestServer::start().await;
        let sku = s.t.product("SAFE", 100).await;
        let before = s.t.stock("SAFE").await;
        let bystander = SocketClient::watching(s.http_addr(), "SAFE").await.unwrap();
        Self {
            s,
            sku,
            before,
            bystander,
        }
    }

    /// After hostile input: SAFE's stock and the node's one subscription are
    /// as they were, the server is healthy, and the next change reaches the
    /// bystander.
    async fn still_serving(mut self) {
        let s = &self.s;
        assert_eq!(s.stock_subscriptions().await, 1);
        assert_eq!(s.t.stock("SAFE").await, self.before);
        assert_eq!(s.health().await, reqwest::StatusCode::OK);
        s.t.engine
            .reserve(&reserve(&self.sku, "ann", 1, "r1"))
            .await
            .unwrap();
        let received = self.bystander.next_within(Duration::from_secs(2)).await;
        assert!(
            matches!(received, Some(Received::Event(Event { ref name, data: ref event, .. }))
                if name == "stock" && event["version"] == 2),
            "{received:?}"
        );
    }
}

#[tokio::test]
async fn malformed_packets_over_websocket_cut_off_their_sender_and_nobody_else() {
    let safe = Safe::start().await;
    let s = &safe.s;
    let addr = s.http_addr();

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
        let mut hostile = SocketClient::websocket(addr, None).await.unwrap();
        hostile.send_raw(packet).await.unwrap();
        assert!(cut_off(&mut hostile).await, "{packet:?} was let through");
    }

    // Well-formed packets that name nothing that exists are refused or
    // dropped, and the socket stays.
    let mut lost = SocketClient::websocket(addr, None).await.unwrap();
    lost.send_raw("40/admin,").await.unwrap();
    assert_eq!(
        lost.next_within(Duration::from_secs(2)).await,
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
    assert_eq!(lost.next_within(Duration::from_millis(500)).await, None);
    assert_eq!(
        lost.emit_with_ack_within("unwatch", json!({"sku": "SAFE"}), ACK_LIMIT)
            .await
            .ok(),
        Some(json!({"ok": true})),
        "the socket is still served"
    );

    assert_eq!(s.sockets_settled_at(2).await, 2, "the bystander and lost");
    safe.still_serving().await;
    assert_eq!(lost.next_within(Duration::from_millis(500)).await, None);
}

#[tokio::test]
async fn binary_attachments_past_their_bounds_cut_off_their_sender_and_nobody_else() {
    let safe = Safe::start().await;
    let s = &safe.s;
    let addr = s.http_addr();

    // Announcing more attachments than any shopper sends: the node would
    // wait for every one of them, and hold them.
    let mut announcing = SocketClient::websocket(addr, None).await.unwrap();
    announcing
        .send_raw(r#"4510000-["watch",{"_placeholder":true,"num":0}]"#)
        .await
        .unwrap();
    assert!(
        cut_off(&mut announcing).await,
        "10,000 attachments announced"
    );

    // Attachments each within a packet's weight, together heavier than
    // a whole packet may be.
    let mut heavy = SocketClient::websocket(addr, None).await.unwrap();
    heavy
        .send_raw(r#"452-["watch",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)
        .await
        .unwrap();
    heavy.send_binary(vec![0; 12 * 1024]).await.unwrap();
    heavy.send_binary(vec![0; 12 * 1024]).await.unwrap();
    assert!(cut_off(&mut heavy).await, "two 12 KB attachments");

    assert_eq!(s.sockets_settled_at(1).await, 1, "the bystander alone");
    safe.still_serving().await;
}

#[tokio::test]
async fn polling_requests_without_a_session_a_supported_protocol_or_a_packet_are_refused() {
    let safe = Safe::start().await;
    let s = &safe.s;
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
    // ...and one that is no session id at all, as the reference server
    // answers it.
    assert_eq!(
        answer(s.http.post(format!("{polling}&sid=made-up")).body("40")).await,
        unknown_session
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
    safe.still_serving().await;
}
