//! The pages in a real browser (Playwright and Chromium, `web/tests/browser.mjs`)
//! against a real server, purchase worker and Redis.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use api_server::testing::{ServerOptions, TOKEN, TestServer};
use purchase_worker::AcceptAll;
use purchase_worker::testing::{RunningWorkers, quick_config};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shoppers_and_the_merchant_see_stock_live_in_a_browser() {
    let mut options = ServerOptions::default();
    options.engine.config.expiry_notice = Duration::from_secs(3);
    let s = TestServer::start_with(options).await;
    s.t.product_with("BROWSER-A", 20, |p| p.hold_seconds = 2)
        .await;
    s.t.product("BROWSER-B", 20).await;
    s.t.product_with("BROWSER-C", 20, |p| p.hold_seconds = 6)
        .await;
    let workers =
        RunningWorkers::start(&s.t, Arc::new(AcceptAll), 1, 1, quick_config("browser")).await;

    let summary = run_browser_script(
        "browser.mjs",
        vec![
            s.url(""),
            TOKEN.to_owned(),
            "BROWSER-A".to_owned(),
            "BROWSER-B".to_owned(),
            "BROWSER-C".to_owned(),
        ],
    )
    .await;
    println!("browser run: {summary}");
    assert!(
        summary["other_page_ms"].as_u64().unwrap() < 1_000,
        "{summary}"
    );
    for step in [
        "purchased",
        "expired",
        "restock_seen",
        "reload_kept_hold",
        "expiring_notice",
        "server_clock",
        "reconnect_reread",
        "scheduled",
    ] {
        assert_eq!(summary[step], Value::Bool(true), "{step}: {summary}");
    }
    workers.stop().await;
}

/// Runs `web/tests/SCRIPT` with `args` and the folder for its screenshots;
/// returns the JSON summary it prints, after asserting that it passed.
pub(crate) async fn run_browser_script(script: &str, mut args: Vec<String>) -> Value {
    let web = concat!(env!("CARGO_MANIFEST_DIR"), "/../web");
    let script = format!("{web}/tests/{script}");
    args.push(format!("{web}/test-results"));
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args(args)
            .output()
            .expect("run node (Chromium and web/node_modules come from .ci/install-deps)")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "the browser run failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
