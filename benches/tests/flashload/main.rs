//! `flashload` as its users run it: the binary against a real api-server on a
//! private Redis. Runs are short; what is checked is that the numbers are
//! there and plausible, that the books agree, and that a broken server or a
//! missed objective fails the run.
//!
//! One idea a file:
//!
//! - `reserve.rs`: `flashload reserve` runs, closed-loop, open-loop and with
//!   holds expiring, reporting every figure with books that agree;
//! - `failing_runs.rs`: an oversell behind the engine's back and a missed
//!   objective fail the run, a malformed objective is refused;
//! - `watch.rs`: `flashload watch` timing every event to clients that all
//!   converge, on the api-server and on the Node relay baseline, with the
//!   CPU each delivery cost;
//! - `baseline.rs`: the `redis-benchmark` baseline;
//! - `html_report.rs`: the self-contained HTML report.
//!
//! Running the binary and reading its report are here.

mod baseline;
mod failing_runs;
mod html_report;
mod reserve;
mod watch;

use std::path::PathBuf;

use api_server::testing::{TOKEN, TestServer};
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
