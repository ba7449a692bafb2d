//! Streams keep their retention, and never lose an entry a consumer group
//! still needs; a group forgets consumers long gone with nothing pending.

use std::collections::HashSet;
use std::time::Duration;

use reservation_core::testing::TestEngine;
use reservation_core::{GroupStart, StreamGroup};

#[tokio::test]
async fn a_stream_is_trimmed_to_its_retention_but_keeps_what_a_group_still_needs() {
    let t = TestEngine::start_real_time().await;
    let stream = t.engine.config().partitions.all().next().unwrap().orders;
    let mut conn = t.raw_connection().await;
    t.use_small_stream_nodes().await;
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(&stream)
        .arg("downstream")
        .arg("0")
        .arg("MKSTREAM")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for n in 0..1_000 {
        let id: String = redis::cmd("XADD")
            .arg(&stream)
            .arg("*")
            .arg("n")
            .arg(n)
            .query_async(&mut conn)
            .await
            .unwrap();
        ids.push(id);
    }
    // The group reads 600 and acknowledges the first 500: entries 500..600
    // are pending, 600.. not read yet.
    let _: redis::Value = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("downstream")
        .arg("reader")
        .arg("COUNT")
        .arg(600)
        .arg("STREAMS")
        .arg(&stream)
        .arg(">")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut ack = redis::cmd("XACK");
    ack.arg(&stream).arg("downstream");
    for id in &ids[..500] {
        ack.arg(id);
    }
    let _: i64 = ack.query_async(&mut conn).await.unwrap();

    // Within the retention, nothing goes.
    assert_eq!(
        t.engine
            .trim_stream(&stream, Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    // Past it, what the group acknowledged goes, and nothing it still needs.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let trimmed = t.engine.trim_stream(&stream, Duration::ZERO).await.unwrap();
    assert!(
        trimmed >= 400,
        "only {trimmed} of 500 acknowledged entries went"
    );
    let left: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    let left: HashSet<_> = left.into_iter().map(|(id, _)| id).collect();
    for id in &ids[500..] {
        assert!(left.contains(id), "{id}, pending or unread, was trimmed");
    }
    assert_eq!(
        t.engine
            .trim_stream("fs:no-such-stream", Duration::ZERO)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_group_forgets_consumers_long_idle_with_nothing_pending_and_keeps_the_rest() {
    let t = TestEngine::start_real_time().await;
    let stream = t.engine.config().partitions.all().next().unwrap().orders;
    let downstream = StreamGroup::connect(
        &t.redis_config(),
        &stream,
        "downstream",
        GroupStart::Beginning,
        Duration::ZERO,
    )
    .await
    .unwrap();
    t.engine
        .append_to_stream(&stream, &[("n", "1".to_owned())])
        .await
        .unwrap();
    downstream
        .read("holding", 1, Duration::from_millis(10))
        .await
        .unwrap();
    let mut conn = t.raw_connection().await;
    let _: i64 = redis::cmd("XGROUP")
        .arg("CREATECONSUMER")
        .arg(&stream)
        .arg("downstream")
        .arg("idle")
        .query_async(&mut conn)
        .await
        .unwrap();
    let forget = async |idle| {
        t.engine
            .forget_idle_consumers(&stream, "downstream", idle)
            .await
            .unwrap()
    };

    assert!(
        forget(Duration::from_secs(10)).await.is_empty(),
        "both are recent"
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(forget(Duration::from_millis(100)).await, ["idle"]);
    let left: redis::streams::StreamInfoConsumersReply = redis::cmd("XINFO")
        .arg("CONSUMERS")
        .arg(&stream)
        .arg("downstream")
        .query_async(&mut conn)
        .await
        .unwrap();
    let left: Vec<_> = left
        .consumers
        .iter()
        .map(|c| (c.name.as_str(), c.pending))
        .collect();
    assert_eq!(left, [("holding", 1)], "one with an entry pending is kept");

    // Nobody to forget where there is no stream, or no such group.
    let no_stream = t
        .engine
        .forget_idle_consumers("fs:no-such-stream", "downstream", Duration::ZERO)
        .await
        .unwrap();
    assert!(no_stream.is_empty());
    assert!(
        t.engine
            .forget_idle_consumers(&stream, "no-such-group", Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
}
