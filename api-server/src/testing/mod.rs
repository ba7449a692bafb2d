//! The shared harness for tests of a whole server: a private Redis, an
//! api-server on free loopback ports, and real clients for both APIs.
//!
//! Compiled only with the `testing` feature.

mod gate;
mod process;

pub use gate::{StoppedWatch, WatchGate};
pub use process::ServerProcess;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use flashsale_proto::v1::inventory_service_client::InventoryServiceClient;
use flashsale_proto::v1::reservation_service_client::ReservationServiceClient;
use reservation_core::testing::{TestEngine, TestOptions};
use reservation_core::{CoalescerConfig, StockFeed};
use tonic::transport::Channel;

use crate::{
    GrpcOptions, HttpOptions, Identity, LimitOptions, LiveOptions, MerchantTokens, PushOptions,
    RunningServer, ServerConfig,
};

/// The merchant token every test server accepts.
pub const TOKEN: &str = "test-merchant-token";

pub use flashsale_proto::{Bearer, Inventory, Reservations};

/// A running api-server on its own private Redis.
pub struct TestServer {
    pub t: TestEngine,
    pub server: Option<RunningServer>,
    pub http: reqwest::Client,
}

/// How to start a [`TestServer`].
#[derive(Clone, Debug)]
pub struct ServerOptions {
    pub engine: TestOptions,
    pub max_in_flight: usize,
    pub web_dir: PathBuf,
    pub live: LiveOptions,
    pub reserves: CoalescerConfig,
    /// Off unless a test is about them: tests reserve as one customer at
    /// machine speed.
    pub limits: LimitOptions,
    /// Trusted by default: tests name shoppers with the bare header.
    pub identity: Identity,
    /// Off by default (no VAPID key), as a deployment without one.
    pub push: PushOptions,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            engine: TestOptions {
                manual_clock: false,
                ..TestOptions::default()
            },
            max_in_flight: 4096,
            web_dir: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web")),
            live: LiveOptions::default(),
            reserves: CoalescerConfig::default(),
            limits: LimitOptions::unlimited(),
            identity: Identity::Trusted,
            push: PushOptions::default(),
        }
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(ServerOptions::default()).await
    }

    pub async fn start_with(options: ServerOptions) -> Self {
        let t = TestEngine::start_with(options.engine.clone()).await;
        let server = start_node(&t, &options).await;
        Self {
            t,
            server: Some(server),
            http: reqwest::Client::new(),
        }
    }

    /// Another api-server node on the same Redis, with its own connections
    /// and subscriptions, as a second process would have.
    pub async fn another_node(&self, options: &ServerOptions) -> RunningServer {
        start_node(&self.t, options).await
    }
}

/// The Prometheus text of the node whose admin listener is `addr`.
pub async fn metrics_at(http: &reqwest::Client, addr: SocketAddr) -> String {
    http.get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text")
}

/// The gauge `name` of the node whose admin listener is `addr`.
pub async fn gauge_at(http: &reqwest::Client, addr: SocketAddr, name: &str) -> i64 {
    let text = metrics_at(http, addr).await;
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("{name} is not exported"))
        .trim()
        .parse()
        .expect("a count")
}

/// `read`'s value once it equals `wanted`, or its last one after 5 s.
pub async fn settled_at(wanted: i64, read: impl AsyncFn() -> i64) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let value = read().await;
        if value == wanted || tokio::time::Instant::now() > deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Opens an Engine.IO long-polling session by hand on the node whose HTTP
/// listener is `addr`, and returns its URL.
pub async fn polling_session_at(http: &reqwest::Client, addr: SocketAddr) -> String {
    let open = http
        .get(format!("http://{addr}/socket.io/?EIO=4&transport=polling"))
        .send()
        .await
        .expect("polling handshake")
        .text()
        .await
        .expect("open packet");
    let handshake: serde_json::Value =
        serde_json::from_str(open.trim_start_matches('0')).expect("open packet JSON");
    let sid = handshake["sid"].as_str().expect("a session id");
    format!("http://{addr}/socket.io/?EIO=4&transport=polling&sid={sid}")
}

/// A reserve whose body never comes, to the node whose HTTP listener is
/// `addr`: the request stays in flight for as long as the stream is kept.
pub async fn stalled_reserve(addr: SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stalled = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stalled
        .write_all(
            b"POST /api/products/TEE/reservations HTTP/1.1\r\nhost: shop\r\n\
              x-customer-id: ann\r\ncontent-type: application/json\r\n\
              content-length: 64\r\n\r\n{\"quantity\":",
        )
        .await
        .expect("send the request's head");
    // Time for the server to take the head in.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stalled
}

/// Connects a socket over long-polling to the node whose HTTP listener is
/// `addr`, and returns its next poll, which the server holds open until it
/// has something to send (the poll's packets, `\u{1e}`-separated).
pub async fn held_long_poll(
    http: &reqwest::Client,
    addr: SocketAddr,
) -> tokio::task::JoinHandle<String> {
    let session = polling_session_at(http, addr).await;
    let connect = http
        .post(&session)
        .body("40")
        .send()
        .await
        .expect("connect");
    assert!(connect.status().is_success(), "{connect:?}");
    let poll = |http: reqwest::Client, session: String| async move {
        let answer = http.get(&session).send().await.expect("poll");
        answer.text().await.expect("polled packets")
    };
    // The first polls answer at once, with the connect answer and maybe a
    // ping; a poll still unanswered after a while is held.
    for _ in 0..10 {
        let next = tokio::spawn(poll(http.clone(), session.clone()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        if !next.is_finished() {
            return next;
        }
        let packets = next.await.expect("poll task");
        if packets.split('\u{1e}').any(|packet| packet == "2") {
            http.post(&session).body("3").send().await.expect("pong");
        }
    }
    panic!("no poll was held open");
}

/// A new gRPC channel (its own connection) to the node listening on `addr`.
pub async fn channel_to(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("valid uri")
        .connect()
        .await
        .expect("connect to the gRPC server")
}

/// Clients of the node whose gRPC listener is `addr`, on one new channel,
/// that present `token` (or none).
pub async fn clients_at(addr: SocketAddr, token: Option<&str>) -> (Inventory, Reservations) {
    let bearer = Bearer::new(token).expect("a token that fits in a header");
    let channel = channel_to(addr).await;
    (
        InventoryServiceClient::with_interceptor(channel.clone(), bearer.clone()),
        ReservationServiceClient::with_interceptor(channel, bearer),
    )
}

/// The stock subscriptions of the node whose admin listener is `addr`.
pub async fn stock_subscriptions_at(http: &reqwest::Client, addr: SocketAddr) -> i64 {
    gauge_at(http, addr, "flashsale_stock_subscriptions").await
}

/// An api-server on `t`'s Redis, on free loopback ports.
async fn start_node(t: &TestEngine, options: &ServerOptions) -> RunningServer {
    let engine = t.another_engine(options.engine.mode).await;
    let feed = StockFeed::start(&t.redis_config(), engine.clone()).expect("stock feed");
    let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
    RunningServer::start(
        ServerConfig {
            http_addr: loopback(0),
            grpc_addr: loopback(0),
            admin_addr: loopback(0),
            merchant_tokens: MerchantTokens::new([TOKEN.to_owned()]),
            grpc: GrpcOptions {
                max_in_flight: options.max_in_flight,
                max_call_time: Duration::from_secs(5),
            },
            reserves: options.reserves.clone(),
            limits: options.limits.clone(),
            identity: options.identity.clone(),
            shutdown_grace: Duration::from_secs(10),
            http: HttpOptions {
                max_in_flight: options.max_in_flight,
                web_dir: options.web_dir.clone(),
                cors_origins: Vec::new(),
                live: options.live.clone(),
                push: options.push.clone(),
            },
        },
        engine,
        feed,
    )
    .await
    .expect("start the api-server")
}

impl TestServer {
    fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("the server is running")
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.running().grpc_addr
    }

    /// Where HTTP, the web pages and Socket.IO listen.
    pub fn http_addr(&self) -> SocketAddr {
        self.running().http_addr
    }

    /// Where `/metrics` and the probes listen.
    pub fn admin_addr(&self) -> SocketAddr {
        self.running().admin_addr
    }

    /// `http://127.0.0.1:PORT{path}`, on the shoppers' listener.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running().http_addr)
    }

    /// `http://127.0.0.1:PORT{path}`, on the admin listener.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running().admin_addr)
    }

    /// The Prometheus text `/metrics` serves.
    pub async fn metrics(&self) -> String {
        metrics_at(&self.http, self.admin_addr()).await
    }

    /// The status `/readyz` answers with.
    pub async fn health(&self) -> reqwest::StatusCode {
        self.http
            .get(self.admin_url("/readyz"))
            .send()
            .await
            .expect("/readyz answers")
            .status()
    }

    /// The gauge `name`, as `/metrics` reports it.
    pub async fn gauge(&self, name: &str) -> i64 {
        gauge_at(&self.http, self.admin_addr(), name).await
    }

    /// The node's connected sockets once they are `wanted`, or after 5 s
    /// (each connect and disconnect is handled by a task of its own).
    pub async fn sockets_settled_at(&self, wanted: i64) -> i64 {
        settled_at(wanted, async || self.gauge("flashsale_sockets").await).await
    }

    /// The node's stock subscriptions, as `/metrics` reports them.
    pub async fn stock_subscriptions(&self) -> i64 {
        stock_subscriptions_at(&self.http, self.admin_addr()).await
    }

    /// Opens an Engine.IO long-polling session by hand and returns its URL, for
    /// tests that need a client which stops polling or sends raw payloads.
    pub async fn polling_session(&self) -> String {
        polling_session_at(&self.http, self.running().http_addr).await
    }

    /// A new gRPC channel (its own connection).
    pub async fn channel(&self) -> Channel {
        channel_to(self.grpc_addr()).await
    }

    pub async fn inventory(&self) -> Inventory {
        self.clients_with_token(Some(TOKEN)).await.0
    }

    pub async fn reservations(&self) -> Reservations {
        self.clients_with_token(Some(TOKEN)).await.1
    }

    /// Clients that present `token` (or none).
    pub async fn clients_with_token(&self, token: Option<&str>) -> (Inventory, Reservations) {
        clients_at(self.grpc_addr(), token).await
    }

    /// Stops the server gracefully.
    pub async fn shutdown(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
    }
}
