//! Runs that must fail: stock corrupted behind the engine's back caught as
//! an oversell (exit 1), a missed or unknown `--slo` objective failing the
//! run, and a malformed one refused (exit 2).

use api_server::testing::TestServer;
use reservation_core::NewProduct;
use reservation_core::keys::ProductKeys;
use reservation_core::testing::sku_of;
use serde_json::Value;

use super::flashload;

#[tokio::test(flavor = "multi_thread")]
async fn an_oversell_behind_the_engines_back_fails_the_run() {
    let server = TestServer::start().await;
    server
        .t
        .engine
        .create_product(&NewProduct::new(sku_of("RIGGED"), "Rigged", 100, 20))
        .await
        .unwrap();
    // The books claim 500 units are free although only 20 exist.
    let mut conn = server.t.raw_connection().await;
    let _: i64 = redis::cmd("HSET")
        .arg(ProductKeys::new(&sku_of("RIGGED")).product)
        .arg("available")
        .arg(500)
        .query_async(&mut conn)
        .await
        .unwrap();

    let run = flashload(
        &server,
        "reserve",
        &["--sku", "RIGGED", "--duration", "1s", "--concurrency", "4"],
    )
    .await;
    run.assert_exit(1);
    let r = run.report();
    assert_eq!(r["passed"], false);
    assert!(r["oversell"].as_i64().unwrap() > 0, "{r}");
    assert_eq!(run.check("no_oversell")["passed"], false);
    assert_eq!(run.check("audit_clean")["passed"], false);
    assert_eq!(
        run.check("tallies_match")["applied"],
        false,
        "others may write to products the run did not create"
    );
    assert!(run.stdout.contains("FAILED"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missed_objective_fails_the_run_and_a_malformed_one_is_refused() {
    let server = TestServer::start().await;
    let base = [
        "--setup",
        "--duration",
        "500ms",
        "--concurrency",
        "2",
        "--slo",
    ];
    let impossible = flashload(
        &server,
        "reserve",
        &[&base[..], &["p99<1us,oversell==0,p42<1ms"]].concat(),
    )
    .await;
    impossible.assert_exit(1);
    let slo = impossible.report()["slo"].as_array().unwrap().clone();
    let passed: Vec<_> = slo.iter().map(|v| v["passed"].as_bool().unwrap()).collect();
    assert_eq!(passed, [false, true, false], "{slo:?}");
    assert_eq!(slo[2]["actual"], Value::Null, "an unknown figure fails");

    let malformed = flashload(&server, "reserve", &[&base[..], &["p99 5ms"]].concat()).await;
    malformed.assert_exit(2);
    assert!(
        malformed.stderr.contains("no comparison"),
        "{}",
        malformed.stderr
    );
}
