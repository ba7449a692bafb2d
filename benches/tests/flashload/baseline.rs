//! `flashload baseline`: the reserve script run through `redis-benchmark`,
//! one unit reserved per request and the books clean.

use api_server::testing::TestServer;
use reservation_core::testing::sku_of;

use super::passing;

#[tokio::test(flavor = "multi_thread")]
async fn the_baseline_runs_the_reserve_script_through_redis_benchmark() {
    let server = TestServer::start().await;
    let url = server.t.redis.url();
    let run = passing(
        &server,
        "baseline",
        &["--redis-url", &url, "--requests", "3000", "--clients", "10"],
    )
    .await;
    let r = run.report();
    assert!(r["achieved_rate"].as_f64().unwrap() > 0.0, "{r}");
    assert_eq!(r["units_reserved"], 3000, "every request reserved a unit");
    let sku = sku_of(r["sku"].as_str().unwrap());
    let audit = server.t.engine.audit(&sku).await.unwrap();
    assert!(audit.is_clean(), "{:?}", audit.problems());
    assert_eq!(audit.holds, 3000);
}
