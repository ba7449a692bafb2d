//! The `api-server` binary as an operator runs it: demo mode starts its own
//! Redis and products, prints where it listens, and exits 0 on SIGTERM after
//! finishing what is in flight; it serves the public half of the VAPID key it
//! is given (or, in demo mode, of the one its deployment made up).

use api_server::testing::ServerProcess;

#[tokio::test]
async fn demo_mode_serves_the_seeded_products_and_sigterm_exits_cleanly() {
    let server = ServerProcess::spawn(env!("CARGO_BIN_EXE_api-server"), &["--demo"]);
    assert!(
        server.banner.contains("merchant token:"),
        "{}",
        server.banner
    );

    let products: serde_json::Value =
        reqwest::get(format!("http://{}/api/products", server.http_addr))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(products["products"].as_array().unwrap().len(), 3);

    let status = tokio::task::spawn_blocking(move || server.terminate())
        .await
        .unwrap();
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn tokens_and_secrets_never_reach_the_logs_even_at_debug() {
    use api_server::testing::{Bearer, TestServer};
    use flashsale_proto::v1 as pb;
    use flashsale_proto::v1::inventory_service_client::InventoryServiceClient;

    const SECRET: &str = "merchant-secret-7f3a9c";
    const WRONG: &str = "guessed-token-51e2d8";
    const SHOP_SECRET: &str = "shop-secret-0c4e61";
    let redis = TestServer::start().await;
    let server = ServerProcess::spawn_logging(
        env!("CARGO_BIN_EXE_api-server"),
        &[
            "--redis-url",
            &redis.t.redis.url(),
            "--merchant-tokens",
            SECRET,
            "--customer-token-secret",
            SHOP_SECRET,
        ],
        "debug",
    );

    let channel = tonic::transport::Channel::from_shared(format!("http://{}", server.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    for (token, accepted) in [(SECRET, true), (WRONG, false)] {
        let mut inventory = InventoryServiceClient::with_interceptor(
            channel.clone(),
            Bearer::new(Some(token)).unwrap(),
        );
        let listed = inventory
            .list_products(pb::ListProductsRequest::default())
            .await;
        assert_eq!(listed.is_ok(), accepted, "{listed:?}");
        let session = reqwest::Client::new()
            .get(format!("http://{}/api/admin/session", server.http_addr))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(session.status().is_success(), accepted);
    }

    // A shopper's signed token names them; the token stays out of the logs too.
    let shopper = api_server::CustomerTokens::new(SHOP_SECRET.as_bytes())
        .issue(&"ann".parse().unwrap(), i64::MAX);
    let reserve = reqwest::Client::new()
        .post(format!(
            "http://{}/api/products/NONE/reservations",
            server.http_addr
        ))
        .header("x-customer-token", &shopper)
        .json(&serde_json::json!({"quantity": 1, "request_id": "r1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        reserve.status(),
        reqwest::StatusCode::NOT_FOUND,
        "named, then no such product"
    );

    let (status, logs) = server.terminate_printing().await;
    assert!(status.success(), "exit status {status}");
    assert!(
        logs.contains("http request"),
        "debug logging was on:\n{logs}"
    );
    for token in [SECRET, WRONG, SHOP_SECRET, shopper.as_str()] {
        assert!(!logs.contains(token), "a token reached the logs:\n{logs}");
    }
}

#[tokio::test]
async fn over_tls_as_the_engines_acl_user_it_serves_shoppers_and_never_logs_the_password() {
    use api_server::testing::{ServerOptions, TOKEN, TestServer};
    use flashsale_benches::socket::{ACK_LIMIT, SocketClient};
    use reservation_core::testing::TestOptions;

    let redis = TestServer::start_with(ServerOptions {
        engine: TestOptions {
            tls_acl: true,
            manual_clock: false,
            ..TestOptions::default()
        },
        ..ServerOptions::default()
    })
    .await;
    redis.t.product("TEE", 10).await;
    let access = redis.t.secured.as_ref().unwrap();
    let tls = access.tls();
    let path = |file: Option<std::path::PathBuf>| file.unwrap().display().to_string();
    let (ca, cert, key) = (
        path(tls.ca_file),
        path(tls.client_cert_file),
        path(tls.client_key_file),
    );
    let server = ServerProcess::spawn_logging(
        env!("CARGO_BIN_EXE_api-server"),
        &[
            "--redis-url",
            access.url(),
            "--redis-ca-file",
            &ca,
            "--redis-client-cert",
            &cert,
            "--redis-client-key",
            &key,
            "--merchant-tokens",
            TOKEN,
            "--insecure-customer-header",
        ],
        "debug",
    );

    let mut watcher = SocketClient::watching(server.http_addr, "TEE")
        .await
        .expect("a watch over the node's TLS subscription");
    let reserve = reqwest::Client::new()
        .post(format!(
            "http://{}/api/products/TEE/reservations",
            server.http_addr
        ))
        .header("x-customer-id", "ann")
        .json(&serde_json::json!({"quantity": 2, "request_id": "r1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reserve.status(), reqwest::StatusCode::CREATED);
    let event = tokio::time::timeout(ACK_LIMIT, async {
        loop {
            let event = watcher.next_event().await.unwrap();
            if event.name == "stock" && event.data["available"] == 8 {
                return event;
            }
        }
    })
    .await
    .expect("the reserve's stock event reaches the watcher");
    assert_eq!(event.data["sku"], "TEE");

    let (status, logs) = server.terminate_printing().await;
    assert!(status.success(), "exit status {status}");
    let password = access
        .url()
        .split_once(':')
        .and_then(|(_, rest)| rest.split_once(':'))
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(password, _)| password)
        .unwrap();
    assert!(
        logs.contains(":***@"),
        "the URL is logged, redacted:\n{logs}"
    );
    assert!(
        !logs.contains(password),
        "the password reached the logs:\n{logs}"
    );
}

/// The public key `server` serves for push subscriptions.
async fn served_vapid_key(server: &ServerProcess) -> String {
    let url = format!("http://{}/api/push/vapid-public-key", server.http_addr);
    let answer: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    answer["public_key"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn it_serves_its_vapid_key_and_demo_processes_share_one() {
    use api_server::testing::TestServer;
    use reservation_core::VapidKey;

    let redis = TestServer::start().await;
    let url = redis.t.redis.url();
    let key = VapidKey::generate();
    let private = key.to_base64url();
    let given = ServerProcess::spawn_with_env(
        env!("CARGO_BIN_EXE_api-server"),
        &["--redis-url", &url, "--insecure-customer-header"],
        &[("FLASHSALE_VAPID_PRIVATE_KEY", &private)],
        "debug",
    );
    assert_eq!(served_vapid_key(&given).await, key.public_key_base64url());
    let (status, logs) = given.terminate_printing().await;
    assert!(status.success(), "exit status {status}");
    assert!(
        !logs.contains(&private),
        "the private key reached the logs:\n{logs}"
    );

    // Every process of a demo deployment signs with the key its browsers
    // subscribed with, whichever made it up.
    let demos = [0, 1].map(|_| {
        ServerProcess::spawn(
            env!("CARGO_BIN_EXE_api-server"),
            &["--demo", "--redis-url", &url],
        )
    });
    let (first, second) = (
        served_vapid_key(&demos[0]).await,
        served_vapid_key(&demos[1]).await,
    );
    assert_eq!(first, second);
    assert_ne!(first, key.public_key_base64url());
}
