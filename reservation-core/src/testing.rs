//! The shared test harness: an engine on a private Redis, plus helpers to
//! build requests and to listen to what the scripts publish. Every test suite
//! of the workspace starts from here instead of copying its own set-up.
//!
//! Compiled only with the `testing` feature.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::clock::{Clock, ManualClock, SystemClock};
use crate::connection::{ConnectionMode, RedisConfig};
use crate::engine::{Engine, EngineConfig};
use crate::keys::{self, ProductKeys};
use crate::local_redis::{LocalRedis, LocalRedisOptions};
use crate::types::{CustomerId, NewProduct, Quantity, RequestId, ReserveRequest, Sku};

/// 2023-11-14T22:13:20Z: where manual clocks start.
pub const START_MS: i64 = 1_700_000_000_000;

/// How to start a [`TestEngine`].
#[derive(Clone, Debug)]
pub struct TestOptions {
    pub mode: ConnectionMode,
    pub config: EngineConfig,
    /// Time moves only when the test says so ([`TestEngine::advance`]).
    pub manual_clock: bool,
    /// Redis keeps an append-only file, so data survives [`LocalRedis::restart`].
    pub append_only: bool,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            mode: ConnectionMode::Multiplexed,
            config: EngineConfig::default(),
            manual_clock: true,
            append_only: false,
        }
    }
}

/// An engine on its own private Redis.
pub struct TestEngine {
    pub engine: Engine,
    /// Present when the engine runs on a manual clock.
    pub clock: Option<Arc<ManualClock>>,
    pub redis: LocalRedis,
}

impl TestEngine {
    /// An engine with a manual clock (time moves only when the test says so).
    pub async fn start() -> Self {
        Self::start_with(TestOptions::default()).await
    }

    /// An engine on the system clock, for tests that wait for real deadlines.
    pub async fn start_real_time() -> Self {
        Self::start_with(TestOptions {
            manual_clock: false,
            ..TestOptions::default()
        })
        .await
    }

    pub async fn start_with(options: TestOptions) -> Self {
        let redis = LocalRedis::start_with(LocalRedisOptions {
            append_only: options.append_only,
            ..LocalRedisOptions::default()
        })
        .expect("start a private redis-server");
        let clock = options
            .manual_clock
            .then(|| Arc::new(ManualClock::starting_at(START_MS)));
        let engine_clock: Arc<dyn Clock> = match &clock {
            Some(clock) => clock.clone(),
            None => Arc::new(SystemClock),
        };
        let engine = Engine::connect_with_clock(
            &RedisConfig::new(redis.url()).with_mode(options.mode),
            options.config,
            engine_clock,
        )
        .await
        .expect("connect to the private redis-server");
        Self {
            engine,
            clock,
            redis,
        }
    }

    /// Another engine (own connection, own clock handle) on the same Redis.
    pub async fn another_engine(&self, mode: ConnectionMode) -> Engine {
        let clock: Arc<dyn Clock> = match &self.clock {
            Some(clock) => clock.clone(),
            None => Arc::new(SystemClock),
        };
        Engine::connect_with_clock(
            &RedisConfig::new(self.redis.url()).with_mode(mode),
            self.engine.config().clone(),
            clock,
        )
        .await
        .expect("connect to the private redis-server")
    }

    /// A plain connection to the test's Redis, for looking behind the engine.
    pub async fn raw_connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.redis.url())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the private redis-server")
    }

    /// Makes Redis stop answering every client for `duration` (`CLIENT PAUSE`),
    /// as an overloaded or stalled server would.
    pub async fn pause_redis(&self, duration: Duration) {
        let mut conn = self.raw_connection().await;
        let _: () = redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(duration.as_millis() as u64)
            .query_async(&mut conn)
            .await
            .expect("CLIENT PAUSE");
    }

    /// Moves the manual clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock
            .as_ref()
            .expect("advance() needs an engine on a manual clock")
            .advance(by);
    }

    /// Creates a product with `total` units and returns its SKU.
    pub async fn product(&self, sku: &str, total: i64) -> Sku {
        self.product_with(sku, total, |_| {}).await
    }

    /// Creates a product after `adjust` has changed its defaults.
    pub async fn product_with(
        &self,
        sku: &str,
        total: i64,
        adjust: impl FnOnce(&mut NewProduct),
    ) -> Sku {
        let mut new = NewProduct::new(sku_of(sku), format!("Product {sku}"), 1_000, total);
        adjust(&mut new);
        self.engine
            .create_product(&new)
            .await
            .expect("create product");
        new.sku
    }

    /// Subscribes to a raw channel; each message's payload arrives on the receiver.
    pub async fn listen(&self, channel: String) -> mpsc::UnboundedReceiver<Vec<u8>> {
        let client = redis::Client::open(self.redis.url()).expect("redis url");
        let mut pubsub = client.get_async_pubsub().await.expect("pubsub connection");
        pubsub.subscribe(&channel).await.expect("subscribe");
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut messages = pubsub.into_on_message();
            while let Some(message) = messages.next().await {
                if tx.send(message.get_payload_bytes().to_vec()).is_err() {
                    break;
                }
            }
        });
        rx
    }

    /// Subscribes to a product's stock events.
    pub async fn listen_stock(&self, sku: &Sku) -> mpsc::UnboundedReceiver<Vec<u8>> {
        self.listen(ProductKeys::new(sku).stock_channel).await
    }

    /// Subscribes to a customer's hold events.
    pub async fn listen_holds(&self, customer: &str) -> mpsc::UnboundedReceiver<Vec<u8>> {
        self.listen(keys::customer_channel(&customer_of(customer)))
            .await
    }
}

pub fn sku_of(sku: &str) -> Sku {
    Sku::new(sku).expect("valid test SKU")
}

pub fn customer_of(customer: &str) -> CustomerId {
    CustomerId::new(customer).expect("valid test customer")
}

/// A reserve request; the `request_id` is `request`.
pub fn reserve(sku: &Sku, customer: &str, quantity: i64, request: &str) -> ReserveRequest {
    ReserveRequest {
        sku: sku.clone(),
        quantity: Quantity::new(quantity).expect("valid test quantity"),
        customer_id: customer_of(customer),
        request_id: RequestId::new(request).expect("valid test request id"),
    }
}

/// Everything received so far on a listener, without waiting for more.
pub async fn drain(rx: &mut mpsc::UnboundedReceiver<Vec<u8>>) -> Vec<Vec<u8>> {
    // Publishes happen inside the script, before it answers, but delivery to
    // the subscriber's socket is asynchronous: give it a moment.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut out = Vec::new();
    while let Ok(message) = rx.try_recv() {
        out.push(message);
    }
    out
}
