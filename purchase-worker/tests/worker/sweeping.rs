//! Sweeping: expired units come back once each, the running workers share
//! the partitions, a pass reads only what is due, and a dead worker's
//! partitions are taken over.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use purchase_worker::testing::{RunningWorkers, quick_config};
use purchase_worker::{AcceptAll, Sweeper, WorkerMetrics};
use reservation_core::testing::TestEngine;

use super::{eventually, real_time, spawn_worker_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_sweepers_return_five_thousand_expired_holds_exactly_once() {
    // A manual clock: making 5,000 holds takes longer than their 1 s, and a
    // reserve reclaims due holds itself, which would leave the sweepers less.
    let t = TestEngine::start().await;
    let sku = t.product_with("TEE", 10_000, |p| p.hold_seconds = 1).await;
    for i in 0..5_000 {
        t.reserved(&sku, &format!("c{i}"), 2, &format!("r{i}"))
            .await;
    }
    t.advance(Duration::from_secs(1));
    let workers = RunningWorkers::start(&t, Arc::new(AcceptAll), 0, 3, quick_config("s")).await;

    // Within one (real) second of the deadline nothing is held any more.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stock = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!(
        (stock.available, stock.held),
        (10_000, 0),
        "units still held 1 s after the deadline"
    );
    assert_eq!(
        workers.metrics.expired_units.get(),
        10_000,
        "every unit returned exactly once"
    );
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
    eventually(
        "the product leaves the sweep index",
        Duration::from_secs(2),
        async || t.engine.indexed_products().await.unwrap().is_empty(),
    )
    .await;
    workers.stop().await;
}

/// Who holds each sweep partition's lease, by worker name.
async fn holders(t: &TestEngine) -> Vec<Option<String>> {
    let mut holders = Vec::new();
    for partition in t.engine.config().partitions.all() {
        let holder = t.engine.partition_holder(&partition).await.unwrap();
        holders.push(holder.map(|h| h.split('#').next().unwrap_or_default().to_owned()));
    }
    holders
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_share_the_partitions_and_the_survivor_takes_over_a_dead_ones() {
    let t = TestEngine::start_with(real_time()).await;
    let flags = ["--sweep-lease-ms", "1000", "--sweep-interval-ms", "50"];
    let mut ann = spawn_worker_with(&t, "ann", &flags);
    let mut bob = spawn_worker_with(&t, "bob", &flags);
    eventually(
        "the two workers hold two partitions each",
        Duration::from_secs(10),
        async || {
            let holders = holders(&t).await;
            let mut count: HashMap<Option<String>, usize> = HashMap::new();
            for holder in holders {
                *count.entry(holder).or_default() += 1;
            }
            count.get(&Some("ann".to_owned())) == Some(&2)
                && count.get(&Some("bob".to_owned())) == Some(&2)
        },
    )
    .await;

    ann.kill().unwrap(); // SIGKILL: its leases lapse, nobody gives them up.
    ann.wait().unwrap();
    // Holds on products of every partition, due in a second.
    let partitions = t.engine.config().partitions;
    let mut skus = Vec::new();
    for n in 0.. {
        let sku = t
            .product_with(&format!("P-{n}"), 10, |p| p.hold_seconds = 1)
            .await;
        t.reserved(&sku, "cyd", 2, "r").await;
        skus.push(sku);
        let covered: std::collections::HashSet<_> = skus
            .iter()
            .map(|s| partitions.of_product(s).index)
            .collect();
        if covered.len() == partitions.count() as usize {
            break;
        }
    }
    eventually(
        "bob sweeps every partition, and every unit is back",
        Duration::from_secs(10),
        async || {
            if holders(&t)
                .await
                .iter()
                .any(|h| h.as_deref() != Some("bob"))
            {
                return false;
            }
            for sku in &skus {
                if t.engine.product(sku).await.unwrap().stock.held != 0 {
                    return false;
                }
            }
            true
        },
    )
    .await;
    bob.kill().unwrap();
    bob.wait().unwrap();
}

#[tokio::test]
async fn a_pass_reads_only_the_products_that_are_due() {
    let t = TestEngine::start().await;
    for n in 0..500 {
        let sku = t
            .product_with(&format!("LATER-{n}"), 10, |p| p.hold_seconds = 3_600)
            .await;
        t.reserved(&sku, "ann", 1, "r").await;
    }
    let due = t.product_with("NOW", 10, |p| p.hold_seconds = 60).await;
    t.reserved(&due, "bob", 3, "r").await;
    t.advance(Duration::from_secs(60));

    let sweeper = Sweeper::new(t.engine.clone(), quick_config("solo"), WorkerMetrics::new());
    t.reset_stats(1_000_000).await;
    for partition in t.engine.config().partitions.all() {
        sweeper.sweep(&partition).await.unwrap();
    }
    let calls = t.command_calls().await;
    assert_eq!(t.engine.product(&due).await.unwrap().stock.held, 0);
    // One sweep step and one read of the product swept (each script's first
    // call here loads it: an EVALSHA refused, SCRIPT LOAD, EVALSHA again);
    // one range read per partition. Nothing of the 500 products not due.
    assert_eq!(
        calls.of("evalsha") - calls.of("script|load"),
        2,
        "{calls:?}"
    );
    assert!(
        calls.total() < 40,
        "a pass over 501 products took {calls:?}"
    );
}
