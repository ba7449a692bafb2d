//! `flashload push-opening`, small, as the specification of what the bench
//! promises: every subscriber of a sale's opening is told exactly once by
//! one purchase worker, and the run reports the rate and the probes beside
//! it. It runs the purchase-worker binary beside flashload's, which `cargo
//! test --workspace` (the README's test command) builds; alone, `cargo
//! build --workspace` first.

mod standalone;

#[test]
fn a_sale_opening_reaches_every_subscriber_once_and_is_measured() {
    let report = standalone::passing_run(&[
        "push-opening",
        "--subscribers",
        "400",
        "--baseline",
        "2s",
        "--timeout",
        "120s",
    ]);
    assert_eq!(report["told"], 400, "{report}");
    assert_eq!(report["pushes"], 400, "each subscriber once: {report}");
    assert!(
        report["pushes_per_second"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    assert!(
        report["worker_cpu_us_per_push"].as_f64().unwrap() > 0.0,
        "{report}"
    );
    for probe in [
        "purchases_before",
        "purchases_during",
        "expiry_lateness_before",
    ] {
        assert!(
            report[probe]["count"].as_u64().unwrap() > 0,
            "{probe}: {report}"
        );
    }
}
