//! Runs a self-contained `flashload` command (one that starts its own
//! Redis and servers) as a user would, for the specs of those commands.

use std::process::Command;

use serde_json::Value;

/// Runs `flashload` with `args` and `--json`; returns the JSON report after
/// asserting that the run passed, with its output in the message if not.
pub fn passing_run(args: &[&str]) -> Value {
    let json = tempfile::NamedTempFile::new().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_flashload"))
        .args(args)
        .arg("--json")
        .arg(json.path())
        .output()
        .expect("run flashload");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "flashload {} failed ({}):\n{stdout}\n{stderr}",
        args[0],
        output.status
    );
    serde_json::from_slice(&std::fs::read(json.path()).unwrap()).unwrap()
}
