//! The purchase worker's behaviour against a real private Redis: in-process
//! workers, and the binary as a child process for crashes and shutdown.
//! One module per concern; the helpers they share (reading the streams,
//! waiting for a state, starting the binary) are here.

mod buying;
mod cluster;
mod consumers;
mod event_webhooks;
mod faults;
mod operating;
mod purchase_webhook;
mod push;
mod receiver_process;
mod secured;
mod shop_endpoint;
mod shutdown;
mod startup;
mod sweeping;

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reservation_core::keys::PartitionKeys;
use reservation_core::local_redis::free_port;
use reservation_core::testing::{TestEngine, TestOptions};
use reservation_core::{HoldState, ReservationId, Sku};

/// Reserves and confirms `count` holds of one unit each.
async fn confirmed_holds(t: &TestEngine, sku: &Sku, count: usize) -> Vec<ReservationId> {
    let mut ids = Vec::new();
    for i in 0..count {
        let r = t.reserved(sku, &format!("c{i}"), 1, &format!("r{i}")).await;
        t.engine.confirm(&r.hold.id, None).await.unwrap();
        ids.push(r.hold.id);
    }
    ids
}

/// How many entries the stream at `key` holds.
async fn stream_len(t: &TestEngine, key: &str) -> usize {
    let mut conn = t.raw_connection().await;
    redis::cmd("XLEN")
        .arg(key)
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// The summed length of one stream of every partition, say its orders.
async fn partitioned_len(t: &TestEngine, stream: fn(PartitionKeys) -> String) -> usize {
    let mut total = 0;
    for partition in t.engine.config().partitions.all() {
        total += stream_len(t, &stream(partition)).await;
    }
    total
}

/// The partition's orders stream, for [`partitioned_len`].
fn orders(partition: PartitionKeys) -> String {
    partition.orders
}

/// The partition's purchase stream, for [`partitioned_len`].
fn purchases(partition: PartitionKeys) -> String {
    partition.purchases
}

/// The reservation ids in the orders streams, with their count.
async fn ordered_ids(t: &TestEngine) -> (HashSet<String>, usize) {
    let mut conn = t.raw_connection().await;
    let mut ids = Vec::new();
    for partition in t.engine.config().partitions.all() {
        let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(partition.orders)
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .unwrap();
        ids.extend(
            reply
                .ids
                .iter()
                .map(|e| e.get::<String>("reservation_id").unwrap()),
        );
    }
    let count = ids.len();
    (ids.into_iter().collect(), count)
}

/// Polls `check` until it holds; fails the test, naming `what`, once
/// `within` has passed. Workers run on their own tasks and processes, so a
/// test can only watch for their effect.
async fn eventually<F: AsyncFnMut() -> bool>(what: &str, within: Duration, mut check: F) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("not within {within:?}: {what}");
}

/// Whether every hold of `ids` is in `state` now.
async fn all_in_state(t: &TestEngine, ids: &[ReservationId], state: HoldState) -> bool {
    for id in ids {
        if t.engine.reservation(id).await.unwrap().state != state {
            return false;
        }
    }
    true
}

/// An engine on the real clock: the workers' sleeps, leases and idle
/// claims run in real time, and deadlines must pass with them.
fn real_time() -> TestOptions {
    TestOptions {
        manual_clock: false,
        ..TestOptions::default()
    }
}

/// The worker binary on `t`'s Redis.
fn spawn_worker(t: &TestEngine, name: &str) -> Child {
    spawn_worker_with(t, name, &[])
}

/// The worker binary on `t`'s Redis, with `extra` flags; over TLS as the
/// engine's ACL user when `t`'s Redis is secured.
fn spawn_worker_with(t: &TestEngine, name: &str, extra: &[&str]) -> Child {
    worker_command(t)
        .args(["--name", name, "--claim-idle-ms", "300"])
        .args(extra)
        .args([
            "--metrics-addr",
            &format!("127.0.0.1:{}", free_port().unwrap()),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the purchase-worker binary")
}

/// The worker binary's command on `t`'s Redis; over TLS as the engine's ACL
/// user when `t`'s Redis is secured.
fn worker_command(t: &TestEngine) -> Command {
    let mut redis_flags = Vec::new();
    match &t.secured {
        Some(access) => {
            let tls = access.tls();
            let path = |file: Option<std::path::PathBuf>| file.unwrap().display().to_string();
            redis_flags.extend([
                "--redis-url".to_owned(),
                access.url().to_owned(),
                "--redis-ca-file".to_owned(),
                path(tls.ca_file),
                "--redis-client-cert".to_owned(),
                path(tls.client_cert_file),
                "--redis-client-key".to_owned(),
                path(tls.client_key_file),
            ]);
        }
        None => redis_flags.extend(["--redis-url".to_owned(), t.redis.url()]),
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_purchase-worker"));
    command.args(&redis_flags);
    command
}
