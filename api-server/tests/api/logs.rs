//! The binary's logs as a collector reads them: `--log-format json` writes a
//! JSON object per line and nothing else; the default text carries no
//! colour codes when stdout is not a terminal.

use std::time::Duration;

use api_server::testing::{ServerProcess, TOKEN, TestServer};
use tokio::io::{AsyncBufReadExt, BufReader};

const BINARY: &str = env!("CARGO_BIN_EXE_api-server");

#[tokio::test]
async fn with_log_format_json_every_line_on_stdout_is_a_json_object() {
    let redis = TestServer::start().await;
    let free = || {
        reservation_core::local_redis::free_port()
            .unwrap()
            .to_string()
    };
    let admin = format!("127.0.0.1:{}", free());
    let mut server = tokio::process::Command::new(BINARY)
        .args([
            "--redis-url",
            &redis.t.redis.url(),
            "--merchant-tokens",
            TOKEN,
        ])
        .arg("--insecure-customer-header")
        .args(["--http-addr", &format!("127.0.0.1:{}", free())])
        .args(["--grpc-addr", &format!("127.0.0.1:{}", free())])
        .args(["--admin-addr", &admin])
        .env("FLASHSALE_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the api-server binary");
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let mut read = Vec::new();
    let serving = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let line = lines.next_line().await.unwrap().expect("a line");
            let event: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
            read.push(event.clone());
            if event["message"] == "serving" {
                return event;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no \"serving\" line; read {read:?}"));
    assert_eq!(serving["level"], "INFO", "{serving}");
    assert_eq!(serving["admin"], admin.as_str(), "{serving}");

    let sent = std::process::Command::new("kill")
        .args(["-TERM", &server.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut after = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        let event: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"));
        after.push(event["message"].as_str().unwrap_or_default().to_owned());
    }
    assert!(after.iter().any(|m| m == "stopped"), "{after:?}");
    assert!(server.wait().await.unwrap().success());
}

#[tokio::test]
async fn text_logs_into_a_pipe_carry_no_colour_codes() {
    let redis = TestServer::start().await;
    // An empty NO_COLOR is no NO_COLOR: colours would be the default, so
    // leaving them out is the server's own decision.
    let server = ServerProcess::on_redis(BINARY, &redis.t.redis.url(), &[("NO_COLOR", "")]);
    let (status, logs) = server.terminate_printing().await;
    assert!(status.success(), "exit status {status}");
    assert!(logs.contains("serving"), "logged at info:\n{logs}");
    assert!(!logs.contains('\u{1b}'), "an escape code:\n{logs:?}");
}
