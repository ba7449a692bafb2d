//! The `api-server` binary as an operator runs it: demo mode starts its own
//! Redis and products, prints where it listens, and exits 0 on SIGTERM after
//! finishing what is in flight.

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
