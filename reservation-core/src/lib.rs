//! # reservation-core
//!
//! The flash-sale reservation engine: stock that is reserved, confirmed,
//! bought or given back atomically on Redis, with Lua scripts.
//!
//! The crate owns the domain types ([`types`]), the Redis key schema
//! ([`keys`]), the scripts (`scripts/*.lua`, one per state change) and the
//! [`Engine`] that runs them, and the reserve path a server node puts in
//! front of it: [`coalescer`] (concurrent reserves of one product share one
//! script call). It knows nothing of gRPC, HTTP or Socket.IO; the servers
//! in the other crates are thin layers over it.
//!
//! Guarantees, for every product at every instant (`ARCHITECTURE.md` says
//! which part keeps each):
//!
//! 1. `available + held + sold == total`, all four ≥ 0.
//! 2. Each state change is exactly one script call that checks first and
//!    writes after, so a process dying between calls leaks nothing.
//! 3. Holds move `HELD → CONFIRMED → PURCHASED`, `HELD → CANCELLED | EXPIRED`,
//!    `CONFIRMED → RELEASED`; every transition is idempotent.
//! 4. Expiry is decided by the stored deadline; a reserve reclaims due holds
//!    before it answers "sold out".
//! 5. A `request_id` replayed with the same parameters gets its first hold,
//!    for at least the retention (a day by default).
//! 6. Every change to a product's stock or settings bumps its `version` and
//!    publishes one stock event from inside its script.
//! 7. No call's cost grows with a product's history: an ended hold leaves the
//!    live set in the script that ends it, and is kept, compact, only for
//!    the retention.
//!
//! ```no_run
//! # async fn demo() -> reservation_core::Result<()> {
//! use reservation_core::*;
//! let engine = Engine::connect(&RedisConfig::new("redis://127.0.0.1:7000"), EngineConfig::default()).await?;
//! let sku = Sku::new("TEE-RED-M")?;
//! engine.create_product(&NewProduct::new(sku.clone(), "Red tee", 1999, 100)).await?;
//! let reservation = engine
//!     .reserve(&ReserveRequest {
//!         sku,
//!         quantity: Quantity::new(1)?,
//!         customer_id: CustomerId::new("alice")?,
//!         request_id: RequestId::new("req-1")?,
//!     })
//!     .await?;
//! engine.confirm(&reservation.hold.id, None).await?;
//! # Ok(()) }
//! ```

pub mod clock;
pub mod coalescer;
mod connection;
mod engine;
pub mod error;
pub mod feed;
pub mod keys;
mod local_cluster;
pub mod local_redis;
#[cfg(feature = "cli")]
mod logs;
pub mod purchases;
pub mod readiness;
mod redis_config;
mod scripts;
#[cfg(feature = "cli")]
mod shared_args;
pub mod shutdown;
mod stream_group;
mod stream_retention;
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;
mod vapid;

pub use clock::{Clock, ManualClock, SystemClock};
pub use coalescer::{CoalescerConfig, CoalescerStats, ReserveCoalescer};
pub use engine::{
    Announced, AuditReport, Engine, EngineConfig, ExpiryNotice, HoldPage, LAYOUT_VERSION,
    ProductPage, ProductSweep, PushClaim, PushRoundBatch, RawReserveCommand, SweeperRegistration,
    UpgradeReport,
};
pub use error::{Error, Result};
pub use feed::{HoldWatch, StockFeed, StockWatch};
#[cfg(feature = "cli")]
pub use logs::{LogArgs, LogFormat};
pub use purchases::{Order, PurchaseJob, PurchaseQueue};
pub use readiness::Readiness;
pub use redis_config::{ConnectionMode, RedisConfig, RedisTls};
pub use scripts::script_hashes;
#[cfg(feature = "cli")]
pub use shared_args::{DeploymentArgs, RedisArgs, VapidArgs};
pub use stream_group::{GroupStart, StreamGroup, Taken};
pub use types::{
    CartLine, CartRequest, CustomerId, EndpointPolicy, Hold, HoldEvent, HoldState, NewProduct,
    Product, ProductUpdate, PushInterest, PushJob, PushKind, PushServiceHost, PushServices,
    PushSubscription, PushTopics, Quantity, RequestId, Reservation, ReservationId, ReserveRequest,
    Sku, StockEvent, StockSnapshot, SubscriptionId, Transition,
};
pub use vapid::VapidKey;
