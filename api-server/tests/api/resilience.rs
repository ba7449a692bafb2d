use std::time::Duration;

use api_server::testing::{ServerOptions, TestServer};
use flashsale_benches::socket::{ACK_LIMIT, Received, SocketClient};
use flashsale_proto::v1 as pb;
use reservation_core::testing::TestOptions;
use serde_json::json;
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::reason;

async fn grpc_health(s: &TestServer) -> ServingStatus {
    let mut health = HealthClient::new(s.channel().await);
    health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .status()
}

async fn eventually<F: AsyncFnMut() -> bool>(what: &str, mut check: F) {
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within 10 s: {what}");
}

fn reserve(request: &str) -> pb::ReserveRequest {
    pb::ReserveRequest {
        sku: "TEE".into(),
        quantity: 1,
        customer_id: "ann".into(),
        request_id: request.into(),
    }
}

/// Sends `request` until Redis answers again: only `UNAVAILABLE` may come
/// back meanwhile.
async fn reserve_once_redis_answers(
    reservations: &mut api_server::testing::Reservations,
    request: &str,
) -> pb::ReserveResponse {
    for _ in 0..50 {
        match reservations.reserve(reserve(request)).await {
            Ok(answer) => return answer.into_inner(),
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    panic!("reserves did not work again within 5 s");
}

#[tokio::test]
async fn while_redis_is_down_calls_fail_fast_and_the_server_recovers_by_itself() {
    let mut s = TestServer::start_with(ServerOptions {
        engine: TestOptions {
            manual_clock: false,
            append_only: true,
            ..TestOptions::default()
        },
        ..ServerOptions::default()
    })
    .await;
    s.t.product("TEE", 10).await;
    let mut reservations = s.reservations().await;
    reservations.reserve(reserve("r1")).await.unwrap();
    assert_eq!(grpc_health(&s).await, ServingStatus::Serving);
    // Let the append-only file sync before the crash.
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    s.t.redis.kill().unwrap();
    let started = std::time::Instant::now();
    let refused = reservations.reserve(reserve("r2")).await.unwrap_err();
    assert_eq!(
        (refused.code(), reason(&refused).as_str()),
        (Code::Unavailable, "UNAVAILABLE")
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "failed fast: {:?}",
        started.elapsed()
    );
    assert_eq!(s.health().await, reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let product = s.http.get(s.url("/api/products/TEE")).send().await.unwrap();
    assert_eq!(product.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    eventually("gRPC health says NOT_SERVING", async || {
        grpc_health(&s).await == ServingStatus::NotServing
    })
    .await;

    s.t.redis.restart().unwrap();
    eventually("gRPC health says SERVING again", async || {
        grpc_health(&s).await == ServingStatus::Serving
    })
    .await;
    let retried = reserve_once_redis_answers(&mut reservations, "r2").await;
    assert_eq!(retried.available, 8);
    assert_eq!(s.health().await, reqwest::StatusCode::OK);
    // The test's own connection fails once on its dead socket, then reconnects.
    let sku = "TEE".parse().unwrap();
    let audit = match s.t.engine.audit(&sku).await {
        Ok(audit) => audit,
        Err(e) => {
            assert_eq!(e.reason(), "UNAVAILABLE", "{e}");
            s.t.engine.audit(&sku).await.unwrap()
        }
    };
    assert!(audit.is_clean(), "{:?}", audit.problems());
    s.shutdown().await;
}

#[tokio::test]
async fn calls_beyond_the_in_flight_cap_are_shed_not_queued() {
    let s = TestServer::start_with(ServerOptions {
        max_in_flight: 2,
        ..ServerOptions::default()
    })
    .await;
    s.t.product("TEE", 100).await;
    // Redis stops answering for a moment, so the first calls stay in flight.
    s.t.pause_redis(Duration::from_millis(1_000)).await;

    let mut reservations = s.reservations().await;
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let mut client = reservations.clone();
            tokio::spawn(async move { client.reserve(reserve(&format!("r{i}"))).await })
        })
        .collect();
    let mut shed = 0;
    for call in calls {
        if let Err(status) = call.await.unwrap() {
            assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
            shed += 1;
        }
    }
    assert!(
        shed >= 8,
        "only {shed} of 10 calls were shed with a cap of 2"
    );
    reservations
        .reserve(reserve("after"))
        .await
        .expect("served once the load is gone");

    let http_calls: Vec<_> = {
        s.t.pause_redis(Duration::from_millis(1_000)).await;
        (0..10)
            .map(|_| {
                let request = s.http.get(s.url("/api/products/TEE")).send();
                tokio::spawn(request)
            })
            .collect()
    };
    let mut too_many = 0;
    for call in http_calls {
        if call.await.unwrap().unwrap().status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
            too_many += 1;
        }
    }
    assert!(
        too_many >= 8,
        "only {too_many} of 10 HTTP requests were shed"
    );
}

#[tokio::test]
async fn shutdown_finishes_calls_in_flight_then_stops_listening() {
    let mut s = TestServer::start().await;
    s.t.product("TEE", 100).await;
    let grpc_addr = s.grpc_addr();
    s.t.pause_redis(Duration::from_millis(500)).await;

    let mut reservations = s.reservations().await;
    let in_flight = tokio::spawn(async move { reservations.reserve(reserve("r1")).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.shutdown().await;
    let answer = in_flight
        .await
        .unwrap()
        .expect("the call in flight was answered");
    assert_eq!(answer.into_inner().available, 99);
    assert!(
        tokio::net::TcpStream::connect(grpc_addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn a_client_deadline_ends_the_call_while_redis_stalls() {
    let s = TestServer::start().await;
    s.t.product("TEE", 10).await;
    s.t.pause_redis(Duration::from_millis(1_500)).await;

    let mut reservations = s.reservations().await;
    let mut request = tonic::Request::new(reserve("r1"));
    request.set_timeout(Duration::from_millis(200));
    let started = std::time::Instant::now();
    let status = reservations.reserve(request).await.unwrap_err();
    assert!(
        matches!(status.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{status:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );

    // Once Redis answers again the state is consistent, whatever the stalled
    // call ended up doing.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let audit = s.t.engine.audit(&"TEE".parse().unwrap()).await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.problems());
    assert!(audit.held <= 1);
}

#[tokio::test]
async fn oversized_messages_are_refused_and_the_server_stays_up() {
    let s = TestServer::start().await;
    s.t.product("TEE", 10).await;
    let mut reservations = s.reservations().await;
    let huge = pb::ReserveRequest {
        request_id: "x".repeat(api_server::grpc::MAX_MESSAGE_BYTES + 1),
        ..reserve("r1")
    };
    let status = reservations.reserve(huge).await.unwrap_err();
    assert_eq!(status.code(), Code::OutOfRange, "{status:?}");
    let answer = reservations
        .reserve(reserve("r2"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.available, 9, "only the normal call reserved");
}

#[tokio::test]
async fn a_stalled_redis_bounds_every_path_and_a_retry_finds_the_one_hold() {
    let s = TestServer::start().await;
    s.t.product("TEE", 10).await;
    let mut reservations = s.reservations().await;
    let mut watcher = SocketClient::websocket(s.http_addr(), None).await.unwrap();
    s.t.pause_redis(Duration::from_secs(5)).await;

    // No caller sets a deadline: the server's own bound on Redis ends each.
    let watch_tee = json!({"sku": "TEE"});
    let started = std::time::Instant::now();
    let (grpc, http_reserve, http_product, watch) = tokio::join!(
        reservations.reserve(reserve("r1")),
        s.http
            .post(s.url("/api/products/TEE/reservations"))
            .header("x-customer-id", "bob")
            .json(&json!({"quantity": 1, "request_id": "h1"}))
            .send(),
        s.http.get(s.url("/api/products/TEE")).send(),
        watcher.emit_with_ack_within("watch", watch_tee.clone(), ACK_LIMIT),
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "answered after {took:?}");
    let grpc = grpc.unwrap_err();
    assert_eq!(grpc.code(), Code::Unavailable, "{grpc:?}");
    assert_eq!(
        http_reserve.unwrap().status(),
        reqwest::StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        http_product.unwrap().status(),
        reqwest::StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(watch.expect("an ack")["error"]["code"], "UNAVAILABLE");

    // The stalled reserves were queued by Redis and may run once it answers:
    // a retry with the same request_id finds whatever hold they made, and
    // never makes a second.
    tokio::time::sleep(Duration::from_secs(5) - took).await;
    let retried = reserve_once_redis_answers(&mut reservations, "r1").await;
    let audit = s.t.engine.audit(&"TEE".parse().unwrap()).await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.problems());
    assert_eq!(audit.repeated_request_holds, 0);
    assert!(audit.holds <= 2, "r1 and at most the stalled h1: {audit:?}");
    assert_eq!(retried.available, 10 - audit.held);

    // The feed dropped the connection whose subscribe stalled; watching works
    // again, on exactly one subscription.
    let snapshot = watcher
        .emit_with_ack_within("watch", watch_tee, ACK_LIMIT)
        .await
        .unwrap();
    assert_eq!(snapshot["available"], retried.available, "{snapshot}");
    assert_eq!(s.stock_subscriptions().await, 1);
    reservations.reserve(reserve("r2")).await.unwrap();
    let event = watcher.next_within(Duration::from_secs(2)).await;
    assert!(
        matches!(event, Some(Received::Event(ref event)) if event.name == "stock"),
        "{event:?}"
    );
}
