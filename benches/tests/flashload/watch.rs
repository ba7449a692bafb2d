//! `flashload watch`: websocket and polling clients timing every stock
//! event, and every client converging on the products' final state.

use api_server::testing::TestServer;

use super::passing;

#[tokio::test(flavor = "multi_thread")]
async fn watch_times_every_event_and_every_client_converges() {
    let server = TestServer::start().await;
    let http = server.http_addr().to_string();
    let run = passing(
        &server,
        "watch",
        &[
            "--http",
            &http,
            "--setup",
            "--skus",
            "2",
            "--clients",
            "40",
            "--transport",
            "mixed",
            "--polling-share",
            "0.25",
            "--changes",
            "40",
            "--duration",
            "2s",
            "--slo",
            "p99<2s,missed==0",
        ],
    )
    .await;
    let r = run.report();
    assert_eq!(r["command"], "watch");
    assert_eq!(
        (r["connected"].as_u64(), r["polling_clients"].as_u64()),
        (Some(40), Some(10))
    );
    assert_eq!(r["not_converged"], 0);
    assert_eq!(r["out_of_order"], 0);
    assert!(r["events"].as_u64().unwrap() >= 40, "{r}");
    assert!(r["bytes_per_event"].as_f64().unwrap() > 50.0, "{r}");
    let p99 = r["latency_ms"]["p99"].as_f64().unwrap();
    assert!(p99 > 0.0 && p99 < 2000.0, "{r}");
    for check in r["checks"].as_array().unwrap() {
        assert_eq!(check["passed"], true, "{check}");
    }
}
