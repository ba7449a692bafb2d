//! Binds both listeners, runs both servers, and stops them together: on
//! shutdown each stops accepting, lets what is in flight finish, and returns.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use reservation_core::{CoalescerConfig, Engine, ReserveCoalescer, StockFeed};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

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
    /// HTTP JSON, `/metrics`, `/healthz` and the web pages. Port 0 picks one.
    pub http_addr: SocketAddr,
    /// The gRPC API. Port 0 picks one.
    pub grpc_addr: SocketAddr,
    pub merchant_tokens: MerchantTokens,
    pub grpc: GrpcOptions,
    pub http: HttpOptions,
    /// How reserves for one product are grouped into script calls.
    pub reserves: CoalescerConfig,
    /// Rate limits and socket caps against abuse.
    pub limits: LimitOptions,
    /// How shoppers are named on HTTP and Socket.IO.
    pub identity: Identity,
}

/// Both servers, running.
pub struct RunningServer {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    stop: watch::Sender<bool>,
    grpc: JoinHandle<Result<(), tonic::transport::Error>>,
    http: JoinHandle<io::Result<()>>,
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
        let grpc_addr = grpc_listener.local_addr().map_err(ServeError::Http)?;
        let http_addr = http_listener.local_addr().map_err(ServeError::Http)?;

        let app = App {
            reserves: ReserveCoalescer::new(engine.clone(), config.reserves.clone()),
            engine,
            feed,
            metrics: Metrics::new(),
            merchant_tokens: config.merchant_tokens.clone(),
            limits: Arc::new(Limits::new(config.limits.clone())),
            identity: config.identity.clone(),
        };
        let (stop, stopped) = watch::channel(false);
        let until_stopped = |mut stopped: watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|&stop| stop).await;
        };
        tokio::spawn(limits::forget_idle_callers(
            Arc::downgrade(&app.limits),
            until_stopped(stopped.clone()),
        ));
        let grpc = tokio::spawn(grpc::serve(
            grpc_listener,
            app.clone(),
            config.grpc.clone(),
            until_stopped(stopped.clone()),
        ));
        let router = http::router(app, &config.http);
        let http = tokio::spawn(async move {
            // The peer address, for the per-address limits.
            let router = router.into_make_service_with_connect_info::<SocketAddr>();
            // Unlike the gRPC side, Nagle's algorithm stays on here: under a
            // heavy fan-out it merges a socket's live events into fewer TCP
            // segments, and turning it off doubled the fan-out bench's p99.
            axum::serve(http_listener, router)
                .with_graceful_shutdown(until_stopped(stopped))
                .await
        });
        Ok(Self {
            http_addr,
            grpc_addr,
            stop,
            grpc,
            http,
        })
    }

    /// Stops accepting, waits for the requests in flight, and returns.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        let _ = self.stop.send(true);
        self.grpc.await??;
        self.http.await?.map_err(ServeError::Http)?;
        Ok(())
    }
}
