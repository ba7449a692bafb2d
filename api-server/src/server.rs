//! Binds the listeners, runs both servers and the admin listener, and stops
//! them together.
//!
//! A shutdown ends within its grace, whatever the clients do: both servers
//! stop accepting, `WatchStock` streams end with `UNAVAILABLE`, Socket.IO
//! sessions are closed (their long-polls answered), and the calls and requests
//! in flight are answered. What is still open when the grace is over is
//! logged and cut off. The admin listener serves through the drain, its
//! `/readyz` answering 503, so that load balancers stop sending; it stops
//! once the servers have.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reservation_core::{CoalescerConfig, Engine, ReserveCoalescer, StockFeed};
use socketioxide::SocketIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin_listener;
use crate::app::App;
use crate::auth::MerchantTokens;
use crate::grpc::{self, GrpcOptions};
use crate::http::{self, HttpOptions};
use crate::identity::Identity;
use crate::limits::{self, LimitOptions, Limits};
use crate::metrics::Metrics;

/// Everything the servers need to start.
#[derive(Clone)]
pub struct ServerConfig {
    /// HTTP JSON, Socket.IO and the web pages. Port 0 picks one.
    pub http_addr: SocketAddr,
    /// The gRPC API. Port 0 picks one.
    pub grpc_addr: SocketAddr,
    /// `/metrics`, `/livez` and `/readyz` (and `/healthz`). Port 0 picks one.
    pub admin_addr: SocketAddr,
    pub merchant_tokens: MerchantTokens,
    pub grpc: GrpcOptions,
    pub http: HttpOptions,
    /// How reserves for one product are grouped into script calls.
    pub reserves: CoalescerConfig,
    /// Rate limits and socket caps against abuse.
    pub limits: LimitOptions,
    /// How shoppers are named on HTTP and Socket.IO.
    pub identity: Identity,
    /// Longest a shutdown waits for calls, streams and sockets to finish
    /// before it cuts them off.
    pub shutdown_grace: Duration,
}

/// Both servers and the admin listener, running.
pub struct RunningServer {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub admin_addr: SocketAddr,
    draining: CancellationToken,
    /// Cancelled once the servers have stopped (or the grace is over).
    drained: CancellationToken,
    grace: Duration,
    io: SocketIo,
    metrics: Arc<Metrics>,
    grpc: JoinHandle<Result<(), tonic::transport::Error>>,
    http: JoinHandle<io::Result<()>>,
    admin: JoinHandle<io::Result<()>>,
}

/// Why a server stopped other than by being asked to.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("the gRPC server failed: {0}")]
    Grpc(#[from] tonic::transport::Error),
    #[error("the HTTP server failed: {0}")]
    Http(#[source] io::Error),
    #[error("the admin listener failed: {0}")]
    Admin(#[source] io::Error),
    #[error("a server task panicked: {0}")]
    Panicked(#[from] tokio::task::JoinError),
}

impl RunningServer {
    /// Binds the listeners and starts serving.
    pub async fn start(
        config: ServerConfig,
        engine: Engine,
        feed: StockFeed,
    ) -> Result<Self, ServeError> {
        let bind = |addr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Bind { addr, source })
        };
        let grpc_listener = bind(config.grpc_addr).await?;
        let http_listener = bind(config.http_addr).await?;
        let admin_socket = bind(config.admin_addr).await?;
        let grpc_addr = grpc_listener.local_addr().map_err(ServeError::Http)?;
        let http_addr = http_listener.local_addr().map_err(ServeError::Http)?;
        let admin_addr = admin_socket.local_addr().map_err(ServeError::Admin)?;

        let app = App {
            reserves: ReserveCoalescer::new(engine.clone(), config.reserves.clone()),
            engine,
            feed,
            metrics: Metrics::new(),
            merchant_tokens: config.merchant_tokens.clone(),
            limits: Arc::new(Limits::new(config.limits.clone())),
            identity: config.identity.clone(),
            draining: CancellationToken::new(),
        };
        let draining = app.draining.clone();
        let metrics = app.metrics.clone();
        tokio::spawn(limits::forget_idle_callers(
            Arc::downgrade(&app.limits),
            draining.clone().cancelled_owned(),
        ));
        let grpc = tokio::spawn(grpc::serve(
            grpc_listener,
            app.clone(),
            config.grpc.clone(),
            draining.clone().cancelled_owned(),
        ));
        let drained = CancellationToken::new();
        let admin_router = admin_listener::router(app.clone());
        let admin_stopped = drained.clone().cancelled_owned();
        let admin = tokio::spawn(async move {
            axum::serve(admin_socket, admin_router)
                .with_graceful_shutdown(admin_stopped)
                .await
        });
        let (router, io) = http::router(app, &config.http);
        let stopped = draining.clone().cancelled_owned();
        let http = tokio::spawn(async move {
            // The peer address, for the per-address limits.
            let router = router.into_make_service_with_connect_info::<SocketAddr>();
            // Unlike the gRPC side, Nagle's algorithm stays on here: under a
            // heavy fan-out it merges a socket's live events into fewer TCP
            // segments, and turning it off doubled the fan-out bench's p99.
            axum::serve(http_listener, router)
                .with_graceful_shutdown(stopped)
                .await
        });
        Ok(Self {
            http_addr,
            grpc_addr,
            admin_addr,
            draining,
            drained,
            grace: config.shutdown_grace,
            io,
            metrics,
            grpc,
            http,
            admin,
        })
    }

    /// Stops accepting, tells streams and sockets to go, waits for the calls
    /// in flight, then stops the admin listener, and returns. Once the grace
    /// is over it logs what is still open and returns anyway: the process
    /// exiting then ends it.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let Self {
            draining,
            drained,
            grace,
            io,
            metrics,
            grpc,
            http,
            mut admin,
            ..
        } = self;
        draining.cancel();
        let deadline = tokio::time::Instant::now() + grace;
        let servers = drain(grace, io, &metrics, grpc, http).await;
        drained.cancel();
        // Within what is left of the grace: a scrape or a probe in flight.
        let admin = match tokio::time::timeout_at(deadline, &mut admin).await {
            Ok(stopped) => stopped?.map_err(ServeError::Admin),
            Err(_) => {
                admin.abort();
                Ok(())
            }
        };
        servers.and(admin)
    }
}

/// Waits for both servers to finish what is in flight, within `grace`;
/// past it, says what is still open and cuts it off.
async fn drain(
    grace: Duration,
    io: SocketIo,
    metrics: &Metrics,
    mut grpc: JoinHandle<Result<(), tonic::transport::Error>>,
    mut http: JoinHandle<io::Result<()>>,
) -> Result<(), ServeError> {
    let drained = tokio::time::timeout(grace, async {
        let servers = async {
            let (grpc, http) = tokio::join!(&mut grpc, &mut http);
            grpc??;
            http?.map_err(ServeError::Http)
        };
        tokio::pin!(servers);
        // Engine.IO's close, not a Socket.IO disconnect: socket.io-client
        // reconnects after the one and stays away after the other. Its first
        // poll sends every session the close packet (which answers the
        // long-polls the HTTP server waits for); after that it waits for each
        // websocket's task to let go of its queue, which socketioxide 0.18
        // sometimes cancels before it does, so only the servers decide when
        // the drain is over.
        tokio::select! {
            biased;
            () = io.close() => servers.await,
            result = &mut servers => result,
        }
    })
    .await;
    match drained {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                grace_ms = grace.as_millis(),
                "the shutdown grace is over: cutting off {}",
                still_open(metrics),
            );
            grpc.abort();
            http.abort();
            Ok(())
        }
    }
}

/// What a drain is still waiting for, in words.
fn still_open(metrics: &Metrics) -> String {
    let counts = [
        (metrics.in_flight_now("grpc"), "gRPC call"),
        (metrics.watch_streams_now(), "WatchStock stream"),
        (metrics.in_flight_now("http"), "HTTP request"),
        (metrics.sockets.get(), "Socket.IO socket"),
    ];
    let open: Vec<String> = counts
        .into_iter()
        .filter(|&(count, _)| count > 0)
        .map(|(count, what)| format!("{count} {what}{}", if count == 1 { "" } else { "s" }))
        .collect();
    if open.is_empty() {
        // Connections that are closing but not closed yet, say.
        "connections still closing".to_owned()
    } else {
        open.join(", ")
    }
}
