//! Abuse limits: a customer or an address reserving too fast is told when
//! to come back, sockets are capped per address, and new sessions are
//! admitted at the node's rate.

use std::time::Duration;

use api_server::LimitOptions;
use api_server::testing::{ServerOptions, TestServer};
use flashsale_benches::socket::{SocketClient, SocketError};
use flashsale_proto::v1 as pb;
use reqwest::StatusCode;
use serde_json::json;
use tonic::Code;
use tonic_types::StatusExt;

async fn server(limits: LimitOptions) -> TestServer {
    let s = TestServer::start_with(ServerOptions {
        limits,
        ..ServerOptions::default()
    })
    .await;
    s.t.product("TEE", 1_000).await;
    s.t.product("CAP", 1_000).await;
    s
}

fn reserve(customer: &str, request: &str, quantity: i64) -> pb::ReserveRequest {
    pb::ReserveRequest {
        sku: "TEE".into(),
        quantity,
        customer_id: customer.into(),
        request_id: request.into(),
    }
}

/// Whether `error` is the server refusing the socket with a message that
/// says `why`.
fn refused_for(error: &SocketError, why: &str) -> bool {
    matches!(error, SocketError::Refused(data)
        if data["message"].as_str().is_some_and(|message| message.contains(why)))
}

/// Connects a socket, waiting up to 5 s for `place` to be given back; only
/// the per-address cap may refuse meanwhile.
async fn connect_once_a_place_is_free(s: &TestServer, place: &str) -> SocketClient {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match SocketClient::websocket(s.http_addr(), None).await {
            Ok(socket) => return socket,
            Err(e) if tokio::time::Instant::now() < deadline => {
                assert!(refused_for(&e, "already holds"), "{e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{place} never came back: {e}"),
        }
    }
}

#[tokio::test]
async fn a_customer_reserving_too_fast_is_told_when_to_come_back() {
    let s = server(LimitOptions {
        reserves_per_customer: 3,
        ..LimitOptions::unlimited()
    })
    .await;
    let mut reservations = s.reservations().await;
    for n in 0..3 {
        reservations
            .reserve(reserve("ann", &format!("r{n}"), 1))
            .await
            .unwrap();
    }
    let refused = reservations
        .reserve(reserve("ann", "r3", 1))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    assert_eq!(crate::reason(&refused), "RATE_LIMITED");
    let wait: Duration = refused
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
        .expect("a retry delay");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_millis(400),
        "{wait:?}"
    );

    // Another customer has a bucket of their own; a cart counts its units.
    reservations.reserve(reserve("bob", "b1", 2)).await.unwrap();
    let cart = reservations
        .reserve_cart(crate::cart_request("bob", "b2", &[("TEE", 1), ("CAP", 1)]))
        .await
        .unwrap_err();
    assert_eq!(cart.code(), Code::ResourceExhausted);

    tokio::time::sleep(wait).await;
    reservations.reserve(reserve("ann", "r3", 1)).await.unwrap();
    assert_eq!(
        s.t.stock("TEE").await.held,
        6,
        "the refused calls held nothing"
    );
}

#[tokio::test]
async fn an_address_reserving_too_fast_gets_429_with_retry_after() {
    let s = server(LimitOptions {
        reserves_per_address: 2,
        ..LimitOptions::unlimited()
    })
    .await;
    let post = async |customer: &str, request: &str| {
        s.http
            .post(s.url("/api/products/TEE/reservations"))
            .header("x-customer-id", customer)
            .json(&json!({"quantity": 1, "request_id": request}))
            .send()
            .await
            .unwrap()
    };
    assert_eq!(post("ann", "a1").await.status(), StatusCode::CREATED);
    assert_eq!(post("bob", "b1").await.status(), StatusCode::CREATED);
    let refused = post("cid", "c1").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMITED");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("address"),
        "{body}"
    );
}

#[tokio::test]
async fn sockets_are_capped_per_address_and_a_freed_place_can_be_taken() {
    let s = server(LimitOptions {
        max_sockets_per_address: 2,
        ..LimitOptions::unlimited()
    })
    .await;
    let first = SocketClient::websocket(s.http_addr(), None).await.unwrap();
    let _second = SocketClient::websocket(s.http_addr(), None).await.unwrap();
    let refused = SocketClient::websocket(s.http_addr(), None)
        .await
        .err()
        .unwrap();
    assert!(
        refused_for(&refused, "already holds 2 sockets"),
        "{refused}"
    );

    drop(first);
    connect_once_a_place_is_free(&s, "the freed place").await;
}

#[tokio::test]
async fn a_storm_of_new_sessions_is_admitted_at_the_nodes_rate() {
    let s = server(LimitOptions {
        session_opens_per_second: 2,
        ..LimitOptions::unlimited()
    })
    .await;
    // A burst of five seconds' worth, then 429 with a hint.
    let open = async || {
        s.http
            .get(s.url("/socket.io/?EIO=4&transport=polling"))
            .send()
            .await
            .unwrap()
    };
    let session = s.polling_session().await;
    for n in 1..10 {
        assert_eq!(open().await.status(), StatusCode::OK, "session {n}");
    }
    let refused = open().await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    // A made-up sid, which Socket.IO would take for none, opens nothing either.
    let made_up = s
        .http
        .get(s.url("/socket.io/?EIO=4&transport=polling&sid=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(made_up.status(), StatusCode::TOO_MANY_REQUESTS);
    // A session already open goes on: its requests open nothing.
    let connect = s.http.post(&session).body("40").send().await.unwrap();
    assert_eq!(connect.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_session_cut_off_right_behind_its_connect_gives_its_place_back() {
    let s = server(LimitOptions {
        max_sockets_per_address: 2,
        ..LimitOptions::unlimited()
    })
    .await;
    // The malformed packet ends the session before Socket.IO has connected
    // the socket its connect packet asked for.
    for _ in 0..3 {
        let session = s.polling_session().await;
        let cut_off = s
            .http
            .post(&session)
            .body("40\u{1e}zzz")
            .send()
            .await
            .unwrap();
        assert!(!cut_off.status().is_success());
    }
    // Held while the count is read: a dropped socket leaves the count too.
    let _socket = connect_once_a_place_is_free(&s, "the cut-off sessions' places").await;
    assert_eq!(s.sockets_settled_at(1).await, 1);
}
