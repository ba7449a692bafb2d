//! `flashload` as its users run it: the binary against a real api-server on a
//! private Redis. Runs are short; what is checked is that the numbers are
//! there and plausible, that the books agree, and that a broken server or a
//! missed objective fails the run.

use std::path::PathBuf;

use api_server::testing::{TOKEN, TestServer};
use reservation_core::NewProduct;
use reservation_core::keys::ProductKeys;
use reservation_core::testing::sku_of;
use serde_json::Value;

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    json: Option<Value>,
}

/// Runs `flashload COMMAND --json FILE ARGS…` against `server`'s gRPC port.
async fn flashload(server: &TestServer, command: &str, args: &[&str]) -> Run {
    let dir = scratch_dir("flashload-test");
    let json = dir.join("run.json");
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_flashload"));
    cmd.arg(command);
    if command != "baseline" {
        cmd.args([
            "--target",
            &server.grpc_addr().to_string(),
            "--token",
            TOKEN,
        ]);
    }
    let output = cmd
        .args(["--json", json.to_str().unwrap()])
        .args(args)
        .env_remove("FLASHSALE_TOKEN")
        .env_remove("FLASHSALE_TARGET")
        .output()
        .await
        .expect("flashload runs");
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        json: std::fs::read_to_string(&json)
            .ok()
            .map(|text| serde_json::from_str(&text).expect("the JSON report parses")),
    };
    let _ = std::fs::remove_dir_all(&dir);
    run
}

/// As `flashload`, for a run that must exit 0.
async fn passing(server: &TestServer, command: &str, args: &[&str]) -> Run {
    let run = flashload(server, command, args).await;
    run.assert_exit(0);
    run
}

/// `flashload reserve --setup ARGS…` on products it makes on a server of
/// its own; the run must exit 0.
async fn reserve_with_setup(args: &[&str]) -> Run {
    let server = TestServer::start().await;
    passing(&server, "reserve", &[&["--setup"], args].concat()).await
}

/// A fresh folder named `prefix-…` in the temporary folder, for one run's files.
fn scratch_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Run {
    fn report(&self) -> &Value {
        self.json.as_ref().unwrap_or_else(|| {
            panic!(
                "no JSON report (exit {:?})\n{}\n{}",
                self.code, self.stdout, self.stderr
            )
        })
    }

    fn check(&self, name: &str) -> &Value {
        self.report()["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no check {name}"))
    }

    fn outcome(&self, name: &str) -> u64 {
        self.report()["outcomes"][name].as_u64().unwrap()
    }

    /// Asserts the exit status, showing what flashload printed when it differs.
    fn assert_exit(&self, code: i32) {
        assert_eq!(self.code, Some(code), "{}\n{}", self.stdout, self.stderr);
    }

    /// Asserts that each of the checks `names` passed.
    fn assert_checks_passed(&self, names: &[&str]) {
        for name in names {
            assert_eq!(
                self.check(name)["passed"],
                true,
                "{name}: {}",
                self.report()
            );
        }
    }
}

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

#[tokio::test(flavor = "multi_thread")]
async fn watch_times_every_event_and_every_client_converges() {
    let server = TestServer::start().await;
    let http = server.http_addr().to_string();
    let run = passing(
        &server,
        "watch",
        &[
            "--http",
            &http,
            "--setup",
            "--skus",
            "2",
            "--clients",
            "40",
            "--transport",
            "mixed",
            "--polling-share",
            "0.25",
            "--changes",
            "40",
            "--duration",
            "2s",
            "--slo",
            "p99<2s,missed==0",
        ],
    )
    .await;
    let r = run.report();
    assert_eq!(r["command"], "watch");
    assert_eq!(
        (r["connected"].as_u64(), r["polling_clients"].as_u64()),
        (Some(40), Some(10))
    );
    assert_eq!(r["not_converged"], 0);
    assert_eq!(r["out_of_order"], 0);
    assert!(r["events"].as_u64().unwrap() >= 40, "{r}");
    assert!(r["bytes_per_event"].as_f64().unwrap() > 50.0, "{r}");
    let p99 = r["latency_ms"]["p99"].as_f64().unwrap();
    assert!(p99 > 0.0 && p99 < 2000.0, "{r}");
    for check in r["checks"].as_array().unwrap() {
        assert_eq!(check["passed"], true, "{check}");
    }
}

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

#[tokio::test(flavor = "multi_thread")]
async fn the_html_report_is_one_self_contained_page_with_plots() {
    let dir = scratch_dir("flashload-html");
    let page: PathBuf = dir.join("report.html");
    reserve_with_setup(&[
        "--duration",
        "1s",
        "--concurrency",
        "2",
        "--html",
        page.to_str().unwrap(),
    ])
    .await;
    let html = std::fs::read_to_string(&page).unwrap();
    for part in [
        "<svg",
        "latency over time",
        "latency by percentile",
        "audit_clean",
    ] {
        assert!(html.contains(part), "{part}");
    }
    assert!(
        !html.contains("<script") && !html.contains("src="),
        "nothing to fetch"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
