//! `flashload watch`: websocket and polling clients timing every stock
//! event, and every client converging on the products' final state, against
//! the api-server and against the Node relay baseline (`benches/relay/`),
//! with what each delivery cost the server and Redis in CPU.

use std::process::Stdio;
use std::time::Duration;

use api_server::testing::TestServer;
use reservation_core::testing::{on_cluster, on_tls_acl};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::passing;

/// 40 clients, a quarter polling, on two products changed 40 times a second.
const CROWD: &[&str] = &[
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
];

#[tokio::test(flavor = "multi_thread")]
async fn watch_times_every_event_and_every_client_converges() {
    let server = TestServer::start().await;
    let http = server.http_addr().to_string();
    let redis = server.t.redis.url();
    // The server runs in this process, so this process's CPU is its.
    let pid = std::process::id().to_string();
    let run = passing(
        &server,
        "watch",
        &[
            &["--http", &http, "--server-pid", &pid, "--redis-url", &redis],
            CROWD,
            &["--duration", "2s", "--slo", "p99<2s,missed==0"],
        ]
        .concat(),
    )
    .await;
    let r = run.report();
    assert_eq!(r["command"], "watch");
    assert_every_client_saw_every_change(r);
    let p99 = r["latency_ms"]["p99"].as_f64().unwrap();
    assert!(p99 > 0.0 && p99 < 2000.0, "{r}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_node_relay_serves_the_same_watchers() {
    if on_cluster() || on_tls_acl() {
        eprintln!("skipped: the relay needs one plain Redis node");
        return;
    }
    let server = TestServer::start().await;
    let redis = server.t.redis.url();
    let Some((relay, http)) = node_relay(&redis).await else {
        return;
    };
    let pid = relay.id().expect("the relay runs").to_string();
    let run = passing(
        &server,
        "watch",
        &[
            &["--http", &http, "--server-pid", &pid, "--redis-url", &redis],
            CROWD,
            &["--duration", "1s"],
        ]
        .concat(),
    )
    .await;
    let r = run.report();
    assert_every_client_saw_every_change(r);
    // The relay conflates nothing: every client sees every version.
    assert_eq!(r["versions_conflated"], 0, "{r}");
}

/// Every client connected and ended on its product's final version, with
/// versions that only grew, and the CPU of the server and Redis reported.
fn assert_every_client_saw_every_change(r: &Value) {
    assert_eq!(
        (r["connected"].as_u64(), r["polling_clients"].as_u64()),
        (Some(40), Some(10)),
        "{r}"
    );
    assert_eq!(r["not_converged"], 0, "{r}");
    assert_eq!(r["out_of_order"], 0, "{r}");
    assert!(r["events"].as_u64().unwrap() >= 40, "{r}");
    assert!(r["bytes_per_event"].as_f64().unwrap() > 50.0, "{r}");
    for figure in [
        "server_cpu_us_per_event",
        "redis_cpu_us_per_event",
        "flashload_cpu_us_per_event",
    ] {
        assert!(
            r[figure].as_f64().is_some_and(|us| us > 0.0),
            "{figure}: {r}"
        );
    }
    let user = r["server_user_cpu_us_per_event"].as_f64();
    assert!(
        user.is_some_and(|us| (0.0..=r["server_cpu_us_per_event"].as_f64().unwrap()).contains(&us)),
        "the user-space share of the server's CPU: {r}"
    );
    for check in r["checks"].as_array().unwrap() {
        assert_eq!(check["passed"], true, "{check}");
    }
}

/// `benches/relay/relay.js` on `redis_url` and a free port, and its
/// address; `None`, said on stderr, where there is no Node.
async fn node_relay(redis_url: &str) -> Option<(Child, String)> {
    if Command::new("node")
        .arg("--version")
        .output()
        .await
        .is_err()
    {
        eprintln!("skipped: no node (.ci/install-deps installs it)");
        return None;
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/relay");
    assert!(
        std::path::Path::new(dir)
            .join("node_modules/socket.io")
            .is_dir(),
        "benches/relay's packages are missing: run .ci/install-deps (or `npm ci` in benches/relay)"
    );
    let mut relay = Command::new("node")
        .arg(format!("{dir}/relay.js"))
        .args(["--redis-url", redis_url, "--port", "0"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut lines = BufReader::new(relay.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("the relay listens within 10 s")
        .unwrap()
        .expect("the relay says where it listens");
    let addr = line
        .strip_prefix("relay listening on ")
        .unwrap_or_else(|| panic!("unexpected relay output: {line}"));
    Some((relay, addr.to_owned()))
}
