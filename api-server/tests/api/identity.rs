//! Outside demo mode a shopper is named by a token the shop signs, not by a
//! bare header: forged, expired or missing tokens name nobody.

use api_server::testing::{ServerOptions, TestServer};
use api_server::{CustomerTokens, Identity};
use flashsale_benches::socket::{SocketClient, SocketError};
use reqwest::StatusCode;
use serde_json::json;

use super::reserve_one_tee;

const SHOP_SECRET: &[u8] = b"the shop's secret";

async fn signed_server() -> TestServer {
    let s = TestServer::start_with(ServerOptions {
        identity: Identity::Signed(CustomerTokens::new(SHOP_SECRET).into()),
        ..ServerOptions::default()
    })
    .await;
    s.t.product("TEE", 10).await;
    s
}

fn token_for(customer: &str, expires_at_ms: i64) -> String {
    CustomerTokens::new(SHOP_SECRET).issue(&customer.parse().unwrap(), expires_at_ms)
}

#[tokio::test]
async fn a_signed_token_names_the_shopper_and_nothing_else_does() {
    let s = signed_server().await;
    let later = s.t.engine.now_ms() + 3_600_000;
    let reserve =
        async |header: (&str, String), request: &str| reserve_one_tee(&s, header, request).await;

    let (status, held) = reserve(("x-customer-token", token_for("ann", later)), "r1").await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    let id = held["reservation"]["id"].as_str().unwrap().to_owned();
    let hold = s.t.engine.reservation(&id.parse().unwrap()).await.unwrap();
    assert_eq!(hold.customer_id.as_str(), "ann");

    let cookie = format!("theme=dark; flashsale_token={}", token_for("ann", later));
    let (status, _) = reserve(("cookie", cookie), "r2").await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the cookie carries the token too"
    );

    let forged = token_for("ann", later).replacen("ann", "bob", 1);
    for (header, expected) in [
        (("x-customer-id", "ann".to_owned()), "x-customer-token"),
        (("x-customer-token", token_for("ann", 1)), "expired"),
        (("x-customer-token", forged), "signature"),
        (("x-customer-token", "ann".to_owned()), "malformed"),
    ] {
        let (status, body) = reserve(header.clone(), "r3").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{header:?}");
        assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{header:?}: {body}"
        );
    }
    assert_eq!(
        s.t.stock("TEE").await.held,
        2,
        "only the two signed reserves held anything"
    );

    // Another shopper's token does not reach ann's hold.
    let theirs = s
        .http
        .get(s.url(&format!("/api/reservations/{id}")))
        .header("x-customer-token", token_for("bob", later))
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_socket_is_named_by_its_token_and_refused_for_a_forged_one() {
    let s = signed_server().await;
    let later = s.t.engine.now_ms() + 3_600_000;
    SocketClient::websocket(
        s.http_addr(),
        Some(&json!({"token": token_for("ann", later)})),
    )
    .await
    .expect("a signed token connects");
    let forged = token_for("ann", later).replacen("ann", "bob", 1);
    let refused = SocketClient::websocket(s.http_addr(), Some(&json!({"token": forged})))
        .await
        .err()
        .expect("a forged token is refused");
    assert!(
        matches!(&refused, SocketError::Refused(data)
            if data["message"].as_str().is_some_and(|m| m.contains("signature"))),
        "{refused}"
    );
    // A bare customer id names nobody here; watching stock needs no name.
    SocketClient::websocket(s.http_addr(), Some(&json!({"customer_id": "ann"})))
        .await
        .expect("an anonymous watcher connects");
}
