//! Both connection strategies keep the timeouts they are given: a call that
//! Redis stalls for less than the response timeout is waited for, and one
//! stalled longer fails fast with `Unavailable`.

use std::time::{Duration, Instant};

use reservation_core::testing::{TestEngine, reserve};
use reservation_core::{ConnectionMode, Engine, Error};

#[tokio::test]
async fn a_stall_within_the_response_timeout_is_waited_out_and_a_longer_one_is_not() {
    for mode in [
        ConnectionMode::Multiplexed,
        ConnectionMode::Pooled { size: 4 },
    ] {
        let t = TestEngine::start_real_time().await;
        let sku = t.product("TEE", 10).await;
        let engine_with = async |response_timeout| {
            let mut config = t.redis_config().with_mode(mode);
            config.response_timeout = response_timeout;
            let engine = Engine::connect(&config, t.engine.config().clone())
                .await
                .unwrap();
            // The pool's connection exists before the stall.
            engine.product(&sku).await.unwrap();
            engine
        };
        let patient = engine_with(Duration::from_secs(5)).await;
        let impatient = engine_with(Duration::from_millis(300)).await;

        // Writes (every reserve is a script) wait; the pool's health check
        // does not, so the stall falls on the call itself.
        t.pause_redis_writes(Duration::from_millis(1_500)).await;
        let started = Instant::now();
        let failed = impatient
            .reserve(&reserve(&sku, "ann", 1, "r1"))
            .await
            .unwrap_err();
        assert!(
            matches!(failed, Error::Unavailable(_)),
            "{mode:?}: {failed:?}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(1_000),
            "{mode:?}: failed only after {:?}",
            started.elapsed()
        );
        let waited = patient.reserve(&reserve(&sku, "bob", 1, "r2")).await;
        assert!(
            waited.is_ok(),
            "{mode:?}: a 1.5 s stall is within a 5 s response timeout: {waited:?}"
        );
    }
}
