//! The shared harness for tests of a whole server: a private Redis, an
//! api-server on free loopback ports, and real clients for both APIs.
//!
//! Compiled only with the `testing` feature.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use flashsale_proto::v1::inventory_service_client::InventoryServiceClient;
use flashsale_proto::v1::reservation_service_client::ReservationServiceClient;
use reservation_core::StockFeed;
use reservation_core::testing::{TestEngine, TestOptions};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::{GrpcOptions, HttpOptions, MerchantTokens, RunningServer, ServerConfig};

/// The merchant token every test server accepts.
pub const TOKEN: &str = "test-merchant-token";

/// Adds a bearer token to every call.
#[derive(Clone)]
pub struct Bearer(Option<String>);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(token) = &self.0 {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| tonic::Status::internal("bad token"))?;
            request.metadata_mut().insert("authorization", value);
        }
        Ok(request)
    }
}

pub type Inventory = InventoryServiceClient<InterceptedService<Channel, Bearer>>;
pub type Reservations = ReservationServiceClient<InterceptedService<Channel, Bearer>>;

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
        }
    }
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(ServerOptions::default()).await
    }

    pub async fn start_with(options: ServerOptions) -> Self {
        let t = TestEngine::start_with(options.engine).await;
        let feed = StockFeed::start(&t.redis.url(), t.engine.clone()).expect("stock feed");
        let loopback = |port| SocketAddr::from(([127, 0, 0, 1], port));
        let server = RunningServer::start(
            ServerConfig {
                http_addr: loopback(0),
                grpc_addr: loopback(0),
                merchant_tokens: MerchantTokens::new([TOKEN.to_owned()]),
                grpc: GrpcOptions {
                    max_in_flight: options.max_in_flight,
                    max_call_time: Duration::from_secs(5),
                },
                http: HttpOptions {
                    max_in_flight: options.max_in_flight,
                    web_dir: options.web_dir,
                },
            },
            t.engine.clone(),
            feed,
        )
        .await
        .expect("start the api-server");
        Self {
            t,
            server: Some(server),
            http: reqwest::Client::new(),
        }
    }

    fn running(&self) -> &RunningServer {
        self.server.as_ref().expect("the server is running")
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.running().grpc_addr
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.running().http_addr)
    }

    /// The Prometheus text `/metrics` serves.
    pub async fn metrics(&self) -> String {
        self.http
            .get(self.url("/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text")
    }

    /// A new gRPC channel (its own connection).
    pub async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.grpc_addr()))
            .expect("valid uri")
            .connect()
            .await
            .expect("connect to the gRPC server")
    }

    pub async fn inventory(&self) -> Inventory {
        InventoryServiceClient::with_interceptor(self.channel().await, Bearer(Some(TOKEN.into())))
    }

    pub async fn reservations(&self) -> Reservations {
        ReservationServiceClient::with_interceptor(self.channel().await, Bearer(Some(TOKEN.into())))
    }

    /// Clients that present `token` (or none).
    pub async fn clients_with_token(&self, token: Option<&str>) -> (Inventory, Reservations) {
        let bearer = Bearer(token.map(str::to_owned));
        let channel = self.channel().await;
        (
            InventoryServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            ReservationServiceClient::with_interceptor(channel, bearer),
        )
    }

    /// Stops the server gracefully.
    pub async fn shutdown(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("clean shutdown");
        }
    }
}
