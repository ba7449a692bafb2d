//! `flashload reserve` runs that pass: a closed loop with retries, confirms
//! and cancels reporting every figure, an open loop selling out exactly and
//! correcting for waiting, and holds expiring during a run; in each the
//! run's books agree with the server's.

use super::reserve_with_setup;

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_loop_run_reports_every_figure_and_its_books_agree() {
    let run = reserve_with_setup(&[
        "--stock",
        "100000",
        "--skus",
        "2",
        "--warmup",
        "300ms",
        "--duration",
        "2s",
        "--concurrency",
        "8",
        "--quantity",
        "1-2",
        "--retry-fraction",
        "0.1",
        "--confirm-fraction",
        "0.2",
        "--cancel-fraction",
        "0.2",
    ])
    .await;
    let r = run.report();
    assert_eq!(r["command"], "reserve");
    assert_eq!(r["model"], "closed");
    assert_eq!(r["passed"], true);
    let calls = r["calls"].as_u64().unwrap();
    let answered: u64 = r["outcomes"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(answered, calls);
    assert!(run.outcome("reserved") > 50, "{r}");
    assert!(
        run.outcome("replayed") > 0,
        "retries come back as replays: {r}"
    );
    let rate = r["achieved_rate"].as_f64().unwrap();
    let elapsed = r["elapsed_s"].as_f64().unwrap();
    assert!(
        rate > 0.0 && (rate * elapsed - calls as f64).abs() < 2.0,
        "{r}"
    );

    let corrected = &r["latency_ms"]["corrected"];
    let p = |name: &str| corrected[name].as_f64().unwrap();
    assert!(
        0.0 < p("p50") && p("p50") <= p("p99") && p("p99") <= p("max"),
        "{r}"
    );
    assert!(r["latency_ms"]["uncorrected"]["p99"].as_f64().unwrap() > 0.0);
    for flow in ["confirm", "cancel"] {
        assert!(r["follow_ups"][flow]["calls"].as_u64().unwrap() > 0, "{r}");
    }

    run.assert_checks_passed(&[
        "no_oversell",
        "tallies_match",
        "one_hold_per_request_id",
        "audit_clean",
    ]);
    let product = &r["products"][0];
    let server_units =
        product["server"]["held"].as_i64().unwrap() + product["server"]["sold"].as_i64().unwrap();
    let kept =
        product["granted_units"].as_i64().unwrap() - product["cancelled_units"].as_i64().unwrap();
    assert_eq!(server_units, kept, "{product}");
    assert!(run.stdout.contains("PASSED"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_open_loop_run_sells_out_exactly_and_corrects_for_waiting() {
    let run = reserve_with_setup(&[
        "--stock",
        "100",
        "--duration",
        "2s",
        "--rate",
        "300",
        "--slo",
        "oversell==0,errors<1%",
        // As benches/reserve-ratio.sh runs its open loop.
        "--threads",
        "1",
    ])
    .await;
    let r = run.report();
    assert_eq!(r["model"], "open");
    assert_eq!(r["target_rate"], 300.0);
    assert_eq!(run.outcome("reserved"), 100, "{r}");
    assert!(run.outcome("out_of_stock") > 300, "{r}");
    let sent = r["sends"]["sent"].as_u64().unwrap() + r["sends"]["dropped"].as_u64().unwrap();
    assert!((560..=640).contains(&sent), "about 300/s for 2 s: {r}");
    let corrected = r["latency_ms"]["corrected"]["max"].as_f64().unwrap();
    let uncorrected = r["latency_ms"]["uncorrected"]["max"].as_f64().unwrap();
    assert!(corrected >= uncorrected, "{r}");
    assert_eq!(r["slo"][0]["passed"], true);
    assert_eq!(r["oversell"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn holds_that_expire_during_a_run_keep_its_books_exact() {
    // 300 units in one-second holds over three seconds: the stock runs out,
    // and reserves take units back from expired holds to grant them again.
    let run = reserve_with_setup(&[
        "--stock",
        "300",
        "--hold-seconds",
        "1",
        "--duration",
        "3s",
        "--concurrency",
        "8",
        "--confirm-fraction",
        "0.3",
        "--cancel-fraction",
        "0.3",
    ])
    .await;
    let r = run.report();
    let product = &r["products"][0];
    let granted = product["granted_units"].as_i64().unwrap();
    assert!(
        granted > 300,
        "units came back from expired holds and were granted again: {product}"
    );
    run.assert_checks_passed(&["no_oversell", "tallies_match", "audit_clean"]);
    assert_eq!(r["oversell"], 0);
}
