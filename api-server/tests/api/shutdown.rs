//! SIGTERM on the binary while clients hold it open: `WatchStock` streams
//! end with `UNAVAILABLE`, Socket.IO websockets and long-polls are closed so
//! their clients reconnect elsewhere, calls in flight are answered, and the
//! process exits 0 within its drain deadline whatever the clients do.

use std::time::{Duration, Instant};

use api_server::testing::{
    ServerProcess, TOKEN, TestServer, clients_at, gauge_at, held_long_poll, settled_at,
    stalled_reserve,
};
use flashsale_benches::socket::SocketClient;
use flashsale_proto::v1 as pb;
use tonic::Code;

const BINARY: &str = env!("CARGO_BIN_EXE_api-server");

/// Well under the default drain deadline (10 s): nothing here should need it.
const PROMPTLY: Duration = Duration::from_secs(5);

#[tokio::test]
async fn sigterm_ends_streams_and_sockets_and_the_binary_exits_well_within_its_grace() {
    let redis = TestServer::start().await;
    redis.t.product("TEE", 100).await;
    let mut node = ServerProcess::on_redis(BINARY, &redis.t.redis.url(), &[]);

    let (mut inventory, _) = clients_at(node.grpc_addr, Some(TOKEN)).await;
    let mut stream = inventory
        .watch_stock(pb::WatchStockRequest {
            skus: vec!["TEE".into()],
        })
        .await
        .expect("WatchStock opens")
        .into_inner();
    let snapshot = stream.message().await.unwrap().expect("the snapshot");
    assert_eq!(snapshot.available, 100);

    let mut websocket = SocketClient::watching(node.http_addr, "TEE").await.unwrap();

    let http = &redis.http;
    let long_poll = held_long_poll(http, node.http_addr).await;
    let sockets = settled_at(2, async || {
        gauge_at(http, node.admin_addr, "flashsale_sockets").await
    })
    .await;
    assert_eq!(sockets, 2, "the websocket and the polling socket");

    let signalled = Instant::now();
    node.send_sigterm();
    let (exited, stream_end, websocket_closed, poll_answer) = tokio::join!(
        node.exited_within(PROMPTLY),
        tokio::time::timeout(PROMPTLY, stream.message()),
        websocket.closed_within(PROMPTLY),
        tokio::time::timeout(PROMPTLY, long_poll),
    );

    let status = exited.unwrap_or_else(|| {
        panic!(
            "still running {:?} after SIGTERM (stream: {stream_end:?}, websocket closed: \
             {websocket_closed}, poll: {poll_answer:?})",
            signalled.elapsed()
        )
    });
    assert!(status.success(), "exit status {status}");

    let ended = stream_end
        .expect("the stream ended")
        .expect_err("with a status");
    assert_eq!(ended.code(), Code::Unavailable, "{ended:?}");
    assert!(
        ended.message().contains("shutting down"),
        "{:?}",
        ended.message()
    );

    assert!(websocket_closed, "the websocket was closed");
    // Engine.IO's close packet ("1"), which socket.io-client takes for a lost
    // transport and reconnects after, where a Socket.IO disconnect would not.
    let packets = poll_answer.expect("the long-poll was answered").unwrap();
    assert!(
        packets.split('\u{1e}').any(|packet| packet == "1"),
        "{packets:?}"
    );
}

#[tokio::test]
async fn a_reserve_in_flight_at_sigterm_is_answered_before_the_binary_exits() {
    let redis = TestServer::start().await;
    redis.t.product("TEE", 100).await;
    let mut node = ServerProcess::on_redis(BINARY, &redis.t.redis.url(), &[]);
    let (_, mut reservations) = clients_at(node.grpc_addr, Some(TOKEN)).await;

    // Redis holds the call for a while, so SIGTERM finds it in flight.
    redis.t.pause_redis(Duration::from_millis(1_000)).await;
    let in_flight = tokio::spawn(async move {
        reservations
            .reserve(pb::ReserveRequest {
                sku: "TEE".into(),
                customer_id: "ann".into(),
                quantity: 1,
                request_id: "r1".into(),
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(250)).await;
    node.send_sigterm();

    let answer = in_flight
        .await
        .unwrap()
        .expect("the call in flight was answered");
    assert_eq!(answer.into_inner().available, 99);
    let status = node.exited_within(PROMPTLY).await.expect("exited");
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn past_its_grace_the_binary_exits_anyway_and_says_what_it_cut_off() {
    let redis = TestServer::start().await;
    redis.t.product("TEE", 100).await;
    let grace = Duration::from_millis(1_000);
    let mut node = ServerProcess::on_redis(
        BINARY,
        &redis.t.redis.url(),
        &[("FLASHSALE_SHUTDOWN_GRACE_MS", "1000")],
    );

    // A client that sends a request's head and never its body holds the
    // request in flight for as long as it likes.
    let stalled = stalled_reserve(node.http_addr).await;

    let signalled = Instant::now();
    node.send_sigterm();
    let status = node
        .exited_within(grace + PROMPTLY)
        .await
        .unwrap_or_else(|| panic!("still running {:?} after SIGTERM", signalled.elapsed()));
    let took = signalled.elapsed();
    assert!(status.success(), "exit status {status}");
    assert!(took >= grace, "exited after {took:?}, before the grace");

    assert!(
        node.printed_within_5s("cutting off 1 HTTP request").await,
        "{}",
        node.printed.lock().unwrap()
    );
    drop(stalled);
}

#[tokio::test]
async fn the_official_client_takes_a_shutdown_for_a_lost_connection_and_stays_to_reconnect() {
    use tokio::io::AsyncBufReadExt;

    let redis = TestServer::start().await;
    redis.t.product("TEE", 100).await;
    let mut node = ServerProcess::on_redis(BINARY, &redis.t.redis.url(), &[]);
    let web = concat!(env!("CARGO_MANIFEST_DIR"), "/../web");
    let mut client = tokio::process::Command::new("node")
        .arg(format!("{web}/tests/shutdown.mjs"))
        .args([format!("http://{}", node.http_addr).as_str(), "TEE"])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run node (web/node_modules comes from .ci/install-deps)");
    let mut lines = tokio::io::BufReader::new(client.stdout.take().unwrap()).lines();
    let next_line = async |lines: &mut tokio::io::Lines<_>, limit: Duration| {
        tokio::time::timeout(limit, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("no line from the client within {limit:?}"))
            .unwrap()
    };
    let connected = next_line(&mut lines, Duration::from_secs(20)).await;
    assert_eq!(connected.as_deref(), Some("connected"));

    node.send_sigterm();
    // Both cut off promptly, not by the process dying at the end of a drain.
    let summary = next_line(&mut lines, PROMPTLY)
        .await
        .expect("the client's summary");
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    // A polling client between two polls finds the session gone instead of
    // reading the close packet ("transport error"); it reconnects all the same.
    for transport in ["websocket", "polling"] {
        let reason = &summary[transport]["reason"];
        assert!(
            reason == "transport close" || reason == "transport error",
            "{summary}"
        );
        assert_eq!(summary[transport]["active"], true, "{summary}");
    }
    assert!(client.wait().await.unwrap().success());
    let status = node.exited_within(PROMPTLY).await.expect("exited");
    assert!(status.success(), "exit status {status}");
}
