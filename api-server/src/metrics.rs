//! The node's Prometheus metrics: requests and their latency per HTTP route and
//! per RPC, requests in flight, open `WatchStock` streams, outcomes by reason,
//! Redis errors, stock subscriptions.
//!
//! Each server owns its registry (no global recorder), so several servers can
//! run in one process, as the tests do.

use std::sync::Arc;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// `http` or `grpc`.
    pub api: &'static str,
    /// The route template (`/api/products/{sku}`) or the RPC path.
    pub route: String,
    /// The HTTP status code, or the gRPC status code name.
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub api: &'static str,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    pub api: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// The engine call: reserve, confirm, cancel, restock, ...
    pub operation: &'static str,
    /// `OK` or the refusal's reason (`OUT_OF_STOCK`, `UNAVAILABLE`, ...).
    pub outcome: &'static str,
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    outcomes: Family<OutcomeLabels, Counter>,
    redis_errors: Counter,
    /// Requests being answered, per API; a gRPC stream counts until its
    /// first answer, and then in `watch_streams`.
    in_flight: Family<ApiLabels, Gauge>,
    watch_streams: Gauge,
    pub stock_subscriptions: Gauge,
    /// Socket.IO sockets connected to this node.
    pub sockets: Gauge,
    /// Sockets disconnected because their send buffer was full.
    pub slow_disconnects: Counter,
    /// Reserve script calls, and the reserves they carried (coalescing).
    pub reserve_calls: Gauge,
    pub reserve_requests: Gauge,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("flashsale");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            // 50 µs to about 3 s.
            Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
        });
        let outcomes = Family::<OutcomeLabels, Counter>::default();
        let redis_errors = Counter::default();
        let in_flight = Family::<ApiLabels, Gauge>::default();
        let watch_streams = Gauge::default();
        let stock_subscriptions = Gauge::default();
        let sockets = Gauge::default();
        let slow_disconnects = Counter::default();
        let reserve_calls = Gauge::default();
        let reserve_requests = Gauge::default();
        registry.register(
            "reserve_calls",
            "Reserve script calls since start (coalesced reserves share one)",
            reserve_calls.clone(),
        );
        registry.register(
            "reserve_requests",
            "Reserves sent to Redis since start, in those calls",
            reserve_requests.clone(),
        );
        registry.register("sockets", "Socket.IO sockets connected", sockets.clone());
        registry.register(
            "slow_socket_disconnects",
            "Sockets disconnected because they could not keep up",
            slow_disconnects.clone(),
        );
        registry.register("requests", "Requests answered", requests.clone());
        registry.register(
            "requests_in_flight",
            "Requests being answered",
            in_flight.clone(),
        );
        registry.register(
            "watch_streams",
            "WatchStock streams open",
            watch_streams.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to answer a request",
            latency.clone(),
        );
        registry.register(
            "outcomes",
            "Engine call outcomes by reason",
            outcomes.clone(),
        );
        registry.register(
            "redis_errors",
            "Engine calls that failed because Redis was unavailable",
            redis_errors.clone(),
        );
        registry.register(
            "stock_subscriptions",
            "Products this node is subscribed to for stock events",
            stock_subscriptions.clone(),
        );
        Arc::new(Self {
            registry,
            requests,
            latency,
            outcomes,
            redis_errors,
            in_flight,
            watch_streams,
            stock_subscriptions,
            reserve_calls,
            reserve_requests,
            sockets,
            slow_disconnects,
        })
    }

    pub fn observe_request(
        &self,
        api: &'static str,
        route: String,
        status: String,
        started: Instant,
    ) {
        self.latency
            .get_or_create(&RouteLabels {
                api,
                route: route.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels { api, route, status })
            .inc();
    }

    /// Counts a request of `api` in flight until the guard is dropped.
    pub fn in_flight(&self, api: &'static str) -> Open {
        Open::on(&self.in_flight.get_or_create(&ApiLabels { api }))
    }

    /// Requests of `api` in flight now.
    pub fn in_flight_now(&self, api: &'static str) -> i64 {
        self.in_flight.get_or_create(&ApiLabels { api }).get()
    }

    /// Counts an open `WatchStock` stream until the guard is dropped.
    pub fn watch_stream(&self) -> Open {
        Open::on(&self.watch_streams)
    }

    pub fn watch_streams_now(&self) -> i64 {
        self.watch_streams.get()
    }

    /// Counts one engine call's outcome.
    pub fn outcome<T>(&self, operation: &'static str, result: &reservation_core::Result<T>) {
        let outcome = match result {
            Ok(_) => "OK",
            Err(e) => e.reason(),
        };
        if matches!(result, Err(reservation_core::Error::Unavailable(_))) {
            self.redis_errors.inc();
        }
        self.outcomes
            .get_or_create(&OutcomeLabels { operation, outcome })
            .inc();
    }

    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

/// One more on a gauge for as long as it lives: a request or stream counts
/// until it ends, however it ends (answered, cancelled, or dropped).
pub struct Open(Gauge);

impl Open {
    fn on(gauge: &Gauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dec();
    }
}
