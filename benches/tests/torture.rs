//! The torture run, short, as the suite's specification of what the engine
//! survives: `flashload torture` starts its own Redis (or Redis Cluster), the
//! workspace's api-server and purchase workers, loads them while it kills and
//! restarts them, and fails unless every book checks out afterwards.
//!
//! It runs the api-server and purchase-worker binaries beside flashload's,
//! which `cargo test --workspace` (the README's test command) builds; alone,
//! `cargo build --workspace` first.

mod standalone;

use serde_json::Value;

/// Runs `flashload torture` for `duration` with `args`; returns its JSON
/// report after asserting that it passed.
fn torture(duration: &str, args: &[&str]) -> Value {
    standalone::passing_run(&[&["torture", "--duration", duration], args].concat())
}

fn faults(report: &Value) -> Vec<String> {
    report["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|fault| fault["what"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn one_redis_killed_under_load_loses_nothing() {
    let report = torture("25s", &[]);
    assert_eq!(report["passed"], true);
    let faults = faults(&report);
    assert!(
        faults.iter().any(|f| f.starts_with("Redis on port")),
        "{faults:?}"
    );
    assert!(
        faults.iter().any(|f| f.starts_with("api-server killed")),
        "{faults:?}"
    );
    assert!(
        faults
            .iter()
            .filter(|f| f.starts_with("purchase worker 0 killed"))
            .count()
            >= 2
    );
    assert!(report["books"]["granted"].as_u64().unwrap() > 100);
}

#[test]
fn a_cluster_failing_over_under_load_loses_nothing() {
    let report = torture("25s", &["--cluster"]);
    assert_eq!(report["passed"], true);
    assert!(
        faults(&report).iter().any(|f| f.contains("failed over")),
        "{:?}",
        faults(&report)
    );
}
