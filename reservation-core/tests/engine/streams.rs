//! Streams keep their retention, and never lose an entry a consumer group
//! still needs.

use std::collections::HashSet;
use std::time::Duration;

use reservation_core::testing::TestEngine;

#[tokio::test]
async fn a_stream_is_trimmed_to_its_retention_but_keeps_what_a_group_still_needs() {
    let t = TestEngine::start_real_time().await;
    let stream = t.engine.config().partitions.all().next().unwrap().orders;
    let mut conn = t.raw_connection().await;
    // Small nodes, so an approximate trim can drop few entries at a time.
    for mut server in t.raw_servers().await {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("stream-node-max-entries")
            .arg(10)
            .query_async(&mut server)
            .await
            .unwrap();
    }
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
