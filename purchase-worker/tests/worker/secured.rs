//! The worker binary reaches a managed Redis the way an operator configures
//! it: a `rediss://` URL naming the engine's ACL user, the private CA and a
//! client certificate as flags. It buys confirmed holds and gives back
//! expired ones as it does on a plain Redis.

use std::time::Duration;

use reservation_core::HoldState;
use reservation_core::testing::{TestEngine, TestOptions};

use super::{all_in_state, confirmed_holds, eventually, real_time, spawn_worker};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_as_the_engines_acl_user_the_binary_buys_and_sweeps() {
    let t = TestEngine::start_with(TestOptions {
        tls_acl: true,
        ..real_time()
    })
    .await;
    let sku = t.product_with("TEE", 10, |p| p.hold_seconds = 1).await;
    let bought = confirmed_holds(&t, &sku, 3).await;
    let left = t.reserved(&sku, "left", 1, "left-1").await.hold.id;
    let mut worker = spawn_worker(&t, "secured");

    eventually(
        "the confirmed holds are bought",
        Duration::from_secs(15),
        async || all_in_state(&t, &bought, HoldState::Purchased).await,
    )
    .await;
    eventually(
        "the hold left alone expires and its unit comes back",
        Duration::from_secs(15),
        async || t.engine.product(&sku).await.unwrap().stock.held == 0,
    )
    .await;
    assert!(all_in_state(&t, &[left], HoldState::Expired).await);
    let stock = t.engine.product(&sku).await.unwrap().stock;
    assert_eq!((stock.available, stock.sold), (7, 3));
    let audit = t.engine.audit(&sku).await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.problems());
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the worker is still running"
    );
    worker.kill().unwrap();
    worker.wait().unwrap();
}
