//! JWTs as the server takes them: over HTTP beside the engine's own tokens,
//! and on a Socket.IO connect, which hears its shopper's holds.

use super::*;

#[tokio::test]
async fn a_shops_jwt_names_the_shopper_over_http_beside_the_engines_own_tokens() {
    const TOKEN_SECRET: &[u8] = b"the engine's token secret";
    let tokens = ShopTokens::new(
        Some(CustomerTokens::new(TOKEN_SECRET)),
        Some(ShopJwts::load(options()).unwrap()),
    )
    .unwrap();
    let s = TestServer::start_with(ServerOptions {
        identity: Identity::Signed(tokens),
        ..ServerOptions::default()
    })
    .await;
    s.t.product("TEE", 10).await;
    let reserve =
        async |header: (&str, String), request: &str| reserve_one_tee(&s, header, request).await;

    let jwt = signed(Algorithm::ES256, Some("shop-ec-1"), &session("ann"));
    let (status, held) = reserve(("x-customer-token", jwt.clone()), "r1").await;
    assert_eq!(status, StatusCode::CREATED, "{held}");
    let id = held["reservation"]["id"].as_str().unwrap();
    let hold = s.t.engine.reservation(&id.parse().unwrap()).await.unwrap();
    assert_eq!(hold.customer_id.as_str(), "ann");

    let (status, _) = reserve(("cookie", format!("flashsale_token={jwt}")), "r2").await;
    assert_eq!(status, StatusCode::CREATED, "the cookie carries a JWT too");

    let own = CustomerTokens::new(TOKEN_SECRET)
        .issue(&"bob".parse().unwrap(), s.t.engine.now_ms() + 60_000);
    let (status, held) = reserve(("x-customer-token", own), "r3").await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the engine's own tokens still name shoppers"
    );
    let id = held["reservation"]["id"].as_str().unwrap();
    let hold = s.t.engine.reservation(&id.parse().unwrap()).await.unwrap();
    assert_eq!(hold.customer_id.as_str(), "bob");

    let mut expired = session("ann");
    expired["exp"] = json!(now_s() - 3_600);
    let (status, body) = reserve(
        (
            "x-customer-token",
            signed(Algorithm::RS256, Some("shop-rsa-1"), &expired),
        ),
        "r4",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{body}"
    );
    assert_eq!(s.t.stock("TEE").await.held, 3);
}

#[tokio::test]
async fn a_socket_named_by_a_jwt_hears_its_shoppers_holds_and_a_forged_one_is_refused() {
    let s = TestServer::start_with(ServerOptions {
        identity: Identity::Signed(ShopJwts::load(options()).unwrap().into()),
        ..ServerOptions::default()
    })
    .await;
    s.t.product("TEE", 10).await;
    let jwt = signed(Algorithm::RS256, Some("shop-rsa-1"), &session("ann"));
    let mut socket = SocketClient::websocket(s.http_addr(), Some(&json!({"token": jwt})))
        .await
        .expect("the shop's JWT connects");

    let held = s
        .http
        .post(s.url("/api/products/TEE/reservations"))
        .header("x-customer-token", &jwt)
        .json(&json!({"quantity": 1, "request_id": "r1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::CREATED);
    let held: Value = held.json().await.unwrap();
    let hold_event = loop {
        match socket.next_within(ACK_LIMIT).await {
            Some(Received::Event(event)) if event.name == "hold" => break event,
            Some(Received::Event(_)) => continue,
            other => panic!("no hold event for ann's socket: {other:?}"),
        }
    };
    assert_eq!(
        hold_event.data["reservation_id"], held["reservation"]["id"],
        "ann's socket hears ann's hold"
    );

    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        &session("ann"),
        &EncodingKey::from_rsa_pem(&std::fs::read(fixture("unpublished-rsa.pem")).unwrap())
            .unwrap(),
    )
    .unwrap();
    let refused = SocketClient::websocket(s.http_addr(), Some(&json!({"token": forged})))
        .await
        .err()
        .expect("a forged JWT is refused");
    assert!(
        matches!(&refused, SocketError::Refused(data)
            if data["message"].as_str().is_some_and(|m| m.contains("signature"))),
        "{refused}"
    );
}
