//! Runs buyers and sweepers in-process against a test's private Redis, and
//! purchase steps that fail on purpose. Compiled only with the `testing`
//! feature.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use reservation_core::testing::TestEngine;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::{Buyer, Purchase, PurchaseFailure, PurchaseStep, Sweeper, WorkerConfig, WorkerMetrics};

/// A purchase step that fails its first `failures` calls (`u32::MAX`: always).
#[derive(Default)]
pub struct FailFirst {
    pub failures: u32,
    pub calls: AtomicU32,
}

impl FailFirst {
    pub fn new(failures: u32) -> Self {
        Self {
            failures,
            calls: AtomicU32::new(0),
        }
    }
}

impl PurchaseStep for FailFirst {
    async fn purchase(&self, _: &Purchase) -> Result<(), PurchaseFailure> {
        if self.calls.fetch_add(1, Ordering::SeqCst) < self.failures {
            Err(PurchaseFailure::Failed(
                "the payment service did not answer".into(),
            ))
        } else {
            Ok(())
        }
    }
}

/// A worker configuration with short timings, for tests.
pub fn quick_config(consumer: &str) -> WorkerConfig {
    WorkerConfig {
        block: Duration::from_millis(100),
        backoff: Duration::from_millis(10),
        claim_idle: Duration::from_millis(300),
        sweep_interval: Duration::from_millis(50),
        sweep_lease: Duration::from_millis(1_000),
        ..WorkerConfig::new(consumer)
    }
}

/// Buyers and sweepers running in this process until stopped.
pub struct RunningWorkers {
    pub metrics: Arc<WorkerMetrics>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningWorkers {
    /// Starts `buyers` buyers (each reading every partition) with `step` and `sweepers` sweepers on `t`'s
    /// Redis, each with its own engine connection, sharing one metrics registry.
    pub async fn start<S: PurchaseStep>(
        t: &TestEngine,
        step: Arc<S>,
        buyers: usize,
        sweepers: usize,
        config: WorkerConfig,
    ) -> Self {
        let metrics = WorkerMetrics::new();
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        for i in 0..buyers {
            let engine = t
                .another_engine(reservation_core::ConnectionMode::Multiplexed)
                .await;
            let config = WorkerConfig {
                consumer: format!("{}-buyer-{i}", config.consumer),
                ..config.clone()
            };
            let partitions = Buyer::for_every_partition(
                &engine,
                &t.redis_config(),
                step.clone(),
                &config,
                &metrics,
            )
            .await
            .expect("purchase queues");
            for buyer in partitions {
                let stopped = stopped.clone();
                tasks.push(tokio::spawn(async move { buyer.run(stopped).await }));
            }
        }
        for _ in 0..sweepers {
            let engine = t
                .another_engine(reservation_core::ConnectionMode::Multiplexed)
                .await;
            let sweeper = Sweeper::new(engine, config.clone(), metrics.clone());
            let stopped = stopped.clone();
            tasks.push(tokio::spawn(async move { sweeper.run(stopped).await }));
        }
        Self {
            metrics,
            stop,
            tasks,
        }
    }

    /// Asks every loop to stop and waits for them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            task.await.expect("worker task");
        }
    }
}
