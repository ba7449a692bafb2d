//! The merchant gRPC API (`flashsale.v1`), with server reflection (v1 and
//! v1alpha) and `grpc.health.v1`.
//!
//! Every `flashsale.v1` call passes the bearer-token check before its handler
//! runs; a rejected call is answered `UNAUTHENTICATED` and nothing of it is
//! executed or logged. Reflection and health stay open, as load balancers and
//! tools expect. A global in-flight cap sheds excess calls with
//! `RESOURCE_EXHAUSTED` instead of queueing them without bound.
//!
//! At shutdown the listener stops accepting, calls in flight are answered,
//! and `WatchStock` streams end with `UNAVAILABLE` ([`SHUTTING_DOWN`]), which
//! clients retry, on another node.

mod convert;
mod inventory;
mod record;
mod reservation;
mod status;

use std::future::Future;
use std::time::Duration;

use flashsale_proto::v1::inventory_service_server::InventoryServiceServer;
use flashsale_proto::v1::reservation_service_server::ReservationServiceServer;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic::{Request, Status};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;

pub use inventory::{MAX_WATCHED_SKUS, SHUTTING_DOWN};
pub use reservation::DEFAULT_PAGE_SIZE;
pub use status::DOMAIN;

use crate::app::App;
use crate::auth::MerchantTokens;
use inventory::InventoryApi;
use record::RecordLayer;
use reservation::ReservationApi;

/// Largest request message accepted, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// How the gRPC listener behaves.
#[derive(Clone, Debug)]
pub struct GrpcOptions {
    /// Calls in flight at once before new ones are shed.
    pub max_in_flight: usize,
    /// Longest a call may run, whatever deadline the client sets.
    pub max_call_time: Duration,
}

/// Serves the gRPC API on `listener` until `shutdown` resolves, then lets the
/// calls in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: App,
    options: GrpcOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let (health, health_service) = tonic_health::server::health_reporter();
    // The first reading is taken before serving, so a health check never
    // finds the services unregistered.
    let serving = update_health(&app, &health, None).await;
    tokio::spawn(report_health(app.clone(), health, serving));

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(flashsale_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the API's descriptor set is valid");
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(flashsale_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .expect("the API's descriptor set is valid");

    let inventory = InventoryServiceServer::new(InventoryApi::new(app.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let reservations = ReservationServiceServer::new(ReservationApi::new(app.clone()))
        .max_decoding_message_size(MAX_MESSAGE_BYTES);
    let check = merchant_check(app.merchant_tokens.clone());

    Server::builder()
        .timeout(options.max_call_time)
        .layer(
            ServiceBuilder::new()
                .layer(RecordLayer::new(app.metrics.clone()))
                .layer(LoadShedLayer::new())
                .layer(GlobalConcurrencyLimitLayer::new(options.max_in_flight)),
        )
        .add_service(tonic::service::interceptor::InterceptedService::new(
            inventory,
            check.clone(),
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            reservations,
            check,
        ))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        // Answers are small writes: with Nagle's algorithm, one written while
        // the last is unacknowledged waits for the peer's delayed ACK.
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
}

/// The interceptor in front of every merchant call.
fn merchant_check(
    tokens: MerchantTokens,
) -> impl FnMut(Request<()>) -> Result<Request<()>, Status> + Clone {
    move |request: Request<()>| {
        let authorization = request
            .metadata()
            .get("authorization")
            .map(|v| v.as_bytes());
        if tokens.accepts(authorization) {
            Ok(request)
        } else {
            Err(Status::unauthenticated(
                "a valid merchant bearer token is required",
            ))
        }
    }
}

/// Keeps `grpc.health.v1` in step with Redis: NOT_SERVING while it cannot be
/// reached, SERVING again once it answers.
async fn report_health(app: App, reporter: HealthReporter, mut last: ServingStatus) {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        last = update_health(&app, &reporter, Some(last)).await;
    }
}

/// Pings Redis and publishes the resulting status when it changed.
async fn update_health(
    app: &App,
    reporter: &HealthReporter,
    last: Option<ServingStatus>,
) -> ServingStatus {
    const SERVICES: [&str; 3] = [
        "",
        "flashsale.v1.InventoryService",
        "flashsale.v1.ReservationService",
    ];
    let status = match app.engine.ping().await {
        Ok(()) => ServingStatus::Serving,
        Err(_) => ServingStatus::NotServing,
    };
    if last != Some(status) {
        tracing::info!(?status, "gRPC health");
        for service in SERVICES {
            reporter.set_service_status(service, status).await;
        }
    }
    status
}
