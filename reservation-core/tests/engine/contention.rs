use std::sync::Arc;

use reservation_core::testing::{TestEngine, reserve};
use reservation_core::{ConnectionMode, Engine, Error};

/// Sends every request at once from its own task, spread over `engines`, and
/// returns how many units were granted.
async fn storm(engines: &[Engine], requests: Vec<reservation_core::ReserveRequest>) -> i64 {
    let tasks: Vec<_> = requests
        .into_iter()
        .enumerate()
        .map(|(i, request)| {
            let engine = engines[i % engines.len()].clone();
            tokio::spawn(async move { (request.quantity.get(), engine.reserve(&request).await) })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        match task.await.unwrap() {
            (quantity, Ok(r)) => {
                assert!(!r.replayed);
                granted += i64::from(quantity);
            }
            (quantity, Err(Error::OutOfStock { available, .. })) => {
                assert!(available < i64::from(quantity), "a false sold out");
            }
            (_, Err(other)) => panic!("unexpected refusal: {other}"),
        }
    }
    granted
}

async fn engines(t: &TestEngine) -> Vec<Engine> {
    let mut engines = vec![t.engine.clone()];
    for i in 0..7 {
        let mode = if i % 2 == 0 {
            ConnectionMode::Multiplexed
        } else {
            ConnectionMode::Pooled { size: 16 }
        };
        engines.push(t.another_engine(mode).await);
    }
    engines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_shoppers_for_a_hundred_units_get_exactly_a_hundred() {
    let t = TestEngine::start_real_time().await;
    let sku = t.product("HOT", 100).await;
    let requests = (0..2_000)
        .map(|i| reserve(&sku, &format!("shopper-{i}"), 1, &format!("req-{i}")))
        .collect();
    let granted = storm(&engines(&t).await, requests).await;
    assert_eq!(granted, 100);
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((s.available, s.held, s.total), (0, 100, 100));
    let audit = t.engine.audit(&sku).await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.problems());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_quantities_never_oversell_and_never_refuse_falsely() {
    let t = TestEngine::start_real_time().await;
    let sku = t.product("HOT", 100).await;
    let requests = (0..2_000)
        .map(|i| {
            reserve(
                &sku,
                &format!("shopper-{i}"),
                1 + i % 3,
                &format!("req-{i}"),
            )
        })
        .collect();
    let granted = storm(&engines(&t).await, requests).await;
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!(s.held, granted);
    assert_eq!(s.available + s.held, 100);
    // Hundreds of single-unit requests arrive after the stock runs low, so
    // none is left over.
    assert_eq!(granted, 100);
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reserves_and_cancels_keep_the_books_balanced() {
    let t = TestEngine::start_real_time().await;
    let sku = t.product("HOT", 50).await;
    let engines = Arc::new(engines(&t).await);
    let tasks: Vec<_> = (0..400)
        .map(|i| {
            let engines = engines.clone();
            let request = reserve(&sku, &format!("s{i}"), 1, &format!("r{i}"));
            tokio::spawn(async move {
                let engine = &engines[i % engines.len()];
                if let Ok(r) = engine.reserve(&request).await
                    && i % 2 == 0
                {
                    engine.cancel(&r.hold.id, None).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let s = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!(s.available + s.held, 50);
    assert!(t.engine.audit(&sku).await.unwrap().is_clean());
}
