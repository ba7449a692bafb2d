//! The admin listener: `/metrics` and the probes live there and not on the
//! shoppers' address; `/livez` says the process is up whatever Redis does;
//! `/readyz` (and its old name `/healthz`) says whether to send it work:
//! not while Redis is stalled or down, and not while it drains for a
//! shutdown.

use std::time::{Duration, Instant};

use api_server::testing::{ServerProcess, TestServer, stalled_reserve};
use reqwest::StatusCode;
use serde_json::Value;

/// A probe's status and JSON body.
async fn probe(http: &reqwest::Client, url: &str) -> (StatusCode, Value) {
    let answer = http.get(url).send().await.expect("the probe answers");
    let status = answer.status();
    (status, answer.json().await.expect("a JSON body"))
}

/// `url`'s probe answer once it is `wanted`, or the last one after 10 s.
async fn probe_until(http: &reqwest::Client, url: &str, wanted: StatusCode) -> (StatusCode, Value) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = probe(http, url).await;
        if answer.0 == wanted || Instant::now() > deadline {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn metrics_and_probes_are_served_on_the_admin_address_and_not_to_shoppers() {
    let s = TestServer::start().await;
    assert_ne!(s.admin_addr(), s.http_addr());

    let metrics = s.http.get(s.admin_url("/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(
        metrics
            .text()
            .await
            .unwrap()
            .contains("flashsale_stock_subscriptions")
    );
    for path in ["/livez", "/readyz", "/healthz"] {
        let (status, body) = probe(&s.http, &s.admin_url(path)).await;
        assert_eq!(
            (status, body),
            (StatusCode::OK, serde_json::json!({"status": "ok"})),
            "{path}"
        );
    }

    for path in ["/metrics", "/livez", "/readyz", "/healthz"] {
        let public = s.http.get(s.url(path)).send().await.unwrap();
        assert_eq!(
            public.status(),
            StatusCode::NOT_FOUND,
            "{path} for shoppers"
        );
    }
}

#[tokio::test]
async fn readyz_fails_while_redis_is_stalled_or_down_and_recovers_while_livez_stays_up() {
    let mut s = TestServer::start().await;
    let (readyz, livez) = (s.admin_url("/readyz"), s.admin_url("/livez"));
    assert_eq!(probe(&s.http, &readyz).await.0, StatusCode::OK);

    // A stalled Redis: the probe answers within its bound, not the stall's.
    s.t.pause_redis(Duration::from_secs(3)).await;
    let asked = Instant::now();
    let (status, body) = probe(&s.http, &readyz).await;
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "{:?}",
        asked.elapsed()
    );
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["reason"], "REDIS_UNAVAILABLE", "{body}");
    assert_eq!(probe(&s.http, &livez).await.0, StatusCode::OK);
    let (status, body) = probe_until(&s.http, &readyz, StatusCode::OK).await;
    assert_eq!(status, StatusCode::OK, "after the stall: {body}");

    s.t.redis.kill().unwrap();
    let (status, body) = probe(&s.http, &readyz).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["reason"], "REDIS_UNAVAILABLE", "{body}");
    let (status, _) = probe(&s.http, &s.admin_url("/healthz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "healthz is readyz");
    assert_eq!(probe(&s.http, &livez).await.0, StatusCode::OK);

    s.t.redis.restart().unwrap();
    let (status, body) = probe_until(&s.http, &readyz, StatusCode::OK).await;
    assert_eq!(status, StatusCode::OK, "with Redis back: {body}");
}

#[tokio::test]
async fn while_the_binary_drains_readyz_says_so_and_livez_still_answers() {
    let redis = TestServer::start().await;
    redis.t.product("TEE", 10).await;
    let mut node = ServerProcess::on_redis(
        env!("CARGO_BIN_EXE_api-server"),
        &redis.t.redis.url(),
        &[("FLASHSALE_SHUTDOWN_GRACE_MS", "3000")],
    );
    let http = reqwest::Client::new();
    let readyz = format!("http://{}/readyz", node.admin_addr);
    let livez = format!("http://{}/livez", node.admin_addr);
    assert_eq!(probe(&http, &readyz).await.0, StatusCode::OK);

    // A request whose body never comes keeps the drain going until the
    // grace is over.
    let stalled = stalled_reserve(node.http_addr).await;

    node.send_sigterm();
    let (status, body) = probe_until(&http, &readyz, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["reason"], "SHUTTING_DOWN", "{body}");
    assert_eq!(probe(&http, &livez).await.0, StatusCode::OK);

    let status = node
        .exited_within(Duration::from_secs(10))
        .await
        .expect("exited once the grace was over");
    assert!(status.success(), "exit status {status}");
    drop(stalled);
}

#[tokio::test]
async fn the_admin_listener_stops_with_the_server() {
    let mut s = TestServer::start().await;
    let admin = s.admin_addr();
    assert_eq!(
        probe(&s.http, &s.admin_url("/livez")).await.0,
        StatusCode::OK
    );

    s.shutdown().await;
    let refused = tokio::net::TcpStream::connect(admin).await;
    assert!(refused.is_err(), "still listening on {admin}");
}
