//! Whether a process of the engine should be given work: the answer behind
//! both binaries' `/readyz`. A process is ready while Redis answers a `PING`
//! promptly and it is not shutting down; liveness (`/livez`) asks nothing of
//! Redis, so an orchestrator never restarts a process for Redis's outage,
//! which a restart cannot mend.

use std::time::Duration;

use crate::engine::Engine;

/// Longest Redis may take to answer a readiness `PING`: under the one second
/// orchestrators give a probe by default, so a slow Redis reads as "not
/// ready" rather than as a probe that timed out.
pub const READY_WITHIN: Duration = Duration::from_millis(500);

/// The answer to "may this process be given work now?".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// The process is draining: load balancers should stop sending to it.
    ShuttingDown,
    /// Redis did not answer within [`READY_WITHIN`], or refused; why.
    RedisUnavailable(String),
}

impl Readiness {
    /// Asks Redis, unless the process is `shutting_down` already.
    pub async fn check(engine: &Engine, shutting_down: bool) -> Self {
        if shutting_down {
            return Self::ShuttingDown;
        }
        match tokio::time::timeout(READY_WITHIN, engine.ping()).await {
            Ok(Ok(())) => Self::Ready,
            Ok(Err(e)) => Self::RedisUnavailable(e.to_string()),
            Err(_) => Self::RedisUnavailable(format!(
                "Redis did not answer a PING within {} ms",
                READY_WITHIN.as_millis()
            )),
        }
    }

    pub fn is_ready(&self) -> bool {
        *self == Self::Ready
    }

    /// The probe's JSON body: `{"status": "ok"}`, or `"unavailable"` with a
    /// machine-readable `reason` and, for Redis, its `error`.
    pub fn body(&self) -> serde_json::Value {
        match self {
            Self::Ready => serde_json::json!({ "status": "ok" }),
            Self::ShuttingDown => serde_json::json!({
                "status": "unavailable",
                "reason": "SHUTTING_DOWN",
            }),
            Self::RedisUnavailable(error) => serde_json::json!({
                "status": "unavailable",
                "reason": "REDIS_UNAVAILABLE",
                "error": error,
            }),
        }
    }
}
