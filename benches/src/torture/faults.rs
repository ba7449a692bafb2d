//! The faults of a torture run: where `--seed` places each one within the
//! run, and the task that lands them on the deployment one after another.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Result;
use rand::Rng;
use rand::rngs::StdRng;
use serde::Serialize;

use super::deployment::Deployment;

/// A fault and when it lands, from the start of the run.
#[derive(Clone, Debug)]
pub(super) enum Fault {
    /// SIGKILL purchase worker 0, restart it after `down`.
    KillWorker {
        down: Duration,
    },
    RestartApiServer,
    /// Restart Redis, or fail a primary over on a Cluster.
    Redis,
}

/// A fault as it happened.
#[derive(Clone, Debug, Serialize)]
pub struct FaultDone {
    pub at_seconds: f64,
    pub what: String,
}

/// Where each fault of a run of `length` lands: the worker every ten
/// seconds or so, the api-server in the second quarter, Redis in the third.
pub(super) fn plan_faults(length: Duration, rng: &mut StdRng) -> Vec<(Duration, Fault)> {
    let kills = (length.as_secs() / 10).max(2);
    let mut plan: Vec<(Duration, Fault)> = (0..kills)
        .map(|i| {
            let at = length.mul_f64((i as f64 + rng.random_range(0.1..0.6)) / kills as f64);
            let down = Duration::from_millis(rng.random_range(200..2_000));
            (at, Fault::KillWorker { down })
        })
        .collect();
    plan.push((
        length.mul_f64(rng.random_range(0.25..0.45)),
        Fault::RestartApiServer,
    ));
    plan.push((length.mul_f64(rng.random_range(0.55..0.75)), Fault::Redis));
    plan.sort_by_key(|(at, _)| *at);
    plan
}

/// Does each fault of `plan` at its moment; returns the deployment and what
/// was done. A fault due while an earlier one still runs follows it.
pub(super) async fn inject_faults(
    mut deployment: Deployment,
    plan: Vec<(Duration, Fault)>,
    start: Instant,
    hot_sku: String,
    done: Arc<Mutex<Vec<FaultDone>>>,
) -> (Deployment, Result<()>) {
    let result = async {
        for (at, fault) in plan {
            tokio::time::sleep_until((start + at).into()).await;
            deployment.check_alive()?;
            let at_seconds = start.elapsed().as_secs_f64();
            let what = match fault {
                Fault::KillWorker { down } => {
                    deployment.kill_worker(0)?;
                    tokio::time::sleep(down).await;
                    deployment.restart_worker(0)?;
                    format!(
                        "purchase worker 0 killed (SIGKILL), restarted {} ms later",
                        down.as_millis()
                    )
                }
                Fault::RestartApiServer => {
                    deployment.restart_api_server().await?;
                    "api-server killed (SIGKILL) and restarted".to_owned()
                }
                Fault::Redis => deployment.fault_redis(&hot_sku).await?,
            };
            done.lock()
                .expect("the faults' lock is never poisoned")
                .push(FaultDone { at_seconds, what });
        }
        Ok(())
    }
    .await;
    (deployment, result)
}
