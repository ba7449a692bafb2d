//! The core's hot operations against a private Redis.
//!
//! One iteration of a `reserve` bench sends `IN_FLIGHT` reserves at once on
//! one hot SKU whose stock never runs out, so criterion's throughput figure is
//! reserves per second at that concurrency.

use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::future::join_all;
use reservation_core::keys::ProductKeys;
use reservation_core::testing::{TestEngine, TestOptions, reserve};
use reservation_core::{ConnectionMode, Sku, StockEvent};

const IN_FLIGHT: usize = 64;
const STOCK: i64 = 1_000_000_000;

fn reserve_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let mut group = c.benchmark_group("reserve");
    group.throughput(Throughput::Elements(IN_FLIGHT as u64));
    let modes = [
        // One connection, calls pipelined on it as they come.
        ("multiplexed", ConnectionMode::Multiplexed),
        ("pooled-16", ConnectionMode::Pooled { size: 16 }),
    ];
    for (name, mode) in modes {
        let t = runtime.block_on(TestEngine::start_with(TestOptions {
            mode,
            manual_clock: false,
            ..TestOptions::default()
        }));
        let sku = runtime.block_on(t.product("HOT", STOCK));
        let next = AtomicU64::new(0);
        group.bench_function(BenchmarkId::new(name, IN_FLIGHT), |b| {
            b.to_async(&runtime).iter(|| {
                join_all((0..IN_FLIGHT).map(|_| {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let request = reserve(&sku, &format!("c{n}"), 1, &format!("r{n}"));
                    let engine = &t.engine;
                    async move { engine.reserve(&request).await.unwrap() }
                }))
            })
        });
    }
    // One call at a time: the round-trip latency the concurrency hides.
    let t = runtime.block_on(TestEngine::start_real_time());
    let sku = runtime.block_on(t.product("HOT", STOCK));
    let next = AtomicU64::new(0);
    group.throughput(Throughput::Elements(1));
    group.bench_function("one-at-a-time", |b| {
        b.to_async(&runtime).iter(|| {
            let n = next.fetch_add(1, Ordering::Relaxed);
            let request = reserve(&sku, &format!("c{n}"), 1, &format!("r{n}"));
            let engine = &t.engine;
            async move { engine.reserve(&request).await.unwrap() }
        })
    });
    group.finish();
}

fn codecs(c: &mut Criterion) {
    let sku = Sku::new("TEE-RED-M").unwrap();
    let event = br#"{"sku":"TEE-RED-M","available":97,"held":2,"sold":1,"total":100,"version":42,"at_ms":1764050000000}"#;
    c.bench_function("stock_event/decode", |b| {
        b.iter(|| StockEvent::from_json(std::hint::black_box(event)).unwrap())
    });
    let decoded = StockEvent::from_json(event).unwrap();
    c.bench_function("stock_event/encode", |b| {
        b.iter(|| std::hint::black_box(&decoded).to_json())
    });
    c.bench_function("keys/product", |b| {
        b.iter(|| ProductKeys::new(std::hint::black_box(&sku)))
    });
}

criterion_group!(benches, reserve_path, codecs);
criterion_main!(benches);
