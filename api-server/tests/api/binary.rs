//! The `api-server` binary as an operator runs it: demo mode starts its own
//! Redis and products, prints where it listens, and exits 0 on SIGTERM after
//! finishing what is in flight.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reservation_core::local_redis::free_port;

#[tokio::test]
async fn demo_mode_serves_the_seeded_products_and_sigterm_exits_cleanly() {
    let http_port = free_port().unwrap();
    let grpc_port = free_port().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_api-server"))
        .arg("--demo")
        .args(["--http-addr", &format!("127.0.0.1:{http_port}")])
        .args(["--grpc-addr", &format!("127.0.0.1:{grpc_port}")])
        .env_remove("FLASHSALE_REDIS_URL")
        .env_remove("FLASHSALE_MERCHANT_TOKENS")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the api-server binary");

    // The banner ends with the made-up merchant token.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut banner = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !banner.contains("merchant token:") && Instant::now() < deadline {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            break;
        }
        banner.push_str(&line);
    }
    assert!(
        banner.contains(&format!("http://127.0.0.1:{http_port}/")),
        "{banner}"
    );
    assert!(banner.contains("merchant token:"), "{banner}");

    let products: serde_json::Value =
        reqwest::get(format!("http://127.0.0.1:{http_port}/api/products"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    assert_eq!(products["products"].as_array().unwrap().len(), 3);

    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status {status}");
}
