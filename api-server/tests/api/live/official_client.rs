//! The official `socket.io-client`, run under Node (`web/tests/live.mjs`):
//! websocket and polling-only clients on two products, refusals in acks,
//! unwatch, a dropped client converging on re-watch, customer hold events.

use std::process::Command;

use api_server::testing::TestServer;
use serde_json::Value;

#[tokio::test]
async fn the_official_client_gets_live_stock_over_websocket_and_polling() {
    let s = TestServer::start().await;
    s.t.product("LIVE-A", 100).await;
    s.t.product("LIVE-B", 100).await;
    let web = concat!(env!("CARGO_MANIFEST_DIR"), "/../web");
    let base = s.url("");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(format!("{web}/tests/live.mjs"))
            .args([base.as_str(), "LIVE-A", "LIVE-B"])
            .output()
            .expect("run node (web/node_modules comes from .ci/install-deps)")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the socket.io-client run failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["final_version"], 6, "{summary}");
    assert_eq!(summary["reconnect_version"], 8);
    assert_eq!(summary["events"]["b"], 0);
    assert_eq!(summary["hold_event"], "HELD");
}
