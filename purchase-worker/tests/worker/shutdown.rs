//! SIGTERM: the worker binary finishes the job in hand, leaves nothing
//! unacknowledged and exits 0.

use std::process::Command;
use std::time::Duration;

use reservation_core::HoldState;
use reservation_core::testing::TestEngine;

use super::{all_in_state, confirmed_holds, eventually, real_time, spawn_worker};

#[tokio::test]
async fn sigterm_finishes_the_job_in_hand_and_exits_cleanly() {
    let t = TestEngine::start_with(real_time()).await;
    let sku = t.product("TEE", 10).await;
    let ids = confirmed_holds(&t, &sku, 3).await;
    let mut worker = spawn_worker(&t, "graceful");
    eventually(
        "the worker bought all three",
        Duration::from_secs(10),
        async || all_in_state(&t, &ids, HoldState::Purchased).await,
    )
    .await;
    let sent = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = tokio::task::spawn_blocking(move || worker.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
    let mut conn = t.raw_connection().await;
    for partition in t.engine.config().partitions.all() {
        let pending: redis::streams::StreamPendingReply = redis::cmd("XPENDING")
            .arg(&partition.purchases)
            .arg(reservation_core::keys::PURCHASE_GROUP)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            pending.count(),
            0,
            "every job of {} was acknowledged",
            partition.purchases
        );
    }
}
