//! A stream entry a consumer is still working on can be kept from looking
//! abandoned, and one another consumer took over is known as lost.

use std::time::Duration;

use reservation_core::testing::TestEngine;
use reservation_core::{GroupStart, StreamGroup};

#[tokio::test]
async fn an_entry_kept_stays_its_consumers_and_one_taken_over_is_let_go() {
    let t = TestEngine::start_real_time().await;
    let config = t.redis_config();
    let group = |name| {
        StreamGroup::connect(
            &config,
            "fs:test-jobs",
            name,
            GroupStart::Beginning,
            Duration::from_millis(10),
        )
    };
    let jobs = group("workers").await.unwrap();
    t.engine
        .append_to_stream("fs:test-jobs", &[("job", "1".to_owned())])
        .await
        .unwrap();
    let entry = jobs
        .read("ann", 1, Duration::from_millis(10))
        .await
        .unwrap()[0]
        .id
        .clone();

    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(jobs.keep("ann", &entry).await.unwrap(), "still ann's");
    let claimed = jobs
        .claim_idle("bob", Duration::from_millis(100), 10)
        .await
        .unwrap();
    assert!(
        claimed.is_empty(),
        "kept: not idle long enough to be claimed"
    );

    tokio::time::sleep(Duration::from_millis(150)).await;
    let claimed = jobs
        .claim_idle("bob", Duration::from_millis(100), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "left idle, it is taken over");
    assert!(!jobs.keep("ann", &entry).await.unwrap(), "ann lets it go");
    assert!(jobs.keep("bob", &entry).await.unwrap());
    jobs.ack(&entry).await.unwrap();
    assert!(!jobs.keep("bob", &entry).await.unwrap(), "done: nobody's");
}
