//! The worker binary as an operator runs it: `/metrics`, `/livez` and
//! `/readyz` on its admin listener, readiness following Redis; a consumer
//! name of its own when it is given none; logs as JSON lines, or as text
//! without colour codes when stdout is not a terminal.

use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reservation_core::local_redis::free_port;
use reservation_core::testing::TestEngine;
use serde_json::Value;

use crate::{eventually, real_time, worker_command};

/// The worker binary with its stdout read line by line, killed when
/// dropped.
struct Worker {
    child: Child,
    admin: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Worker {
    /// Starts it on `t`'s Redis with no `--name`, its admin address in the
    /// variable `admin_variable`, and `extra` flags.
    fn start(t: &TestEngine, admin_variable: &str, extra: &[&str]) -> Self {
        use std::io::BufRead;
        let admin = SocketAddr::from(([127, 0, 0, 1], free_port().unwrap()));
        let mut child = worker_command(t)
            .args(extra)
            .env_remove("FLASHSALE_ADMIN_ADDR")
            .env_remove("FLASHSALE_METRICS_ADDR")
            .env_remove("FLASHSALE_WORKER_NAME")
            // Colours are the default unless NO_COLOR says otherwise: the
            // text spec is about what the worker decides itself.
            .env_remove("NO_COLOR")
            .env(admin_variable, admin.to_string())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the purchase-worker binary");
        let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            admin,
            lines,
        }
    }

    /// The first line `wanted` accepts, within 20 s.
    async fn line(&self, what: &str, wanted: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let lines = self.lines.lock().unwrap().clone();
            if let Some(line) = lines.iter().find(|line| wanted(line)) {
                return line.clone();
            }
            assert!(Instant::now() < deadline, "no {what} in {lines:#?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The consumer name its banner gives.
    async fn consumer(&self) -> String {
        let banner = self
            .line("banner", |line| line.starts_with("purchase worker "))
            .await;
        banner["purchase worker ".len()..]
            .split_once(' ')
            .expect("a name, then more")
            .0
            .to_owned()
    }

    /// A GET on its admin listener: the status and the body.
    async fn get(&self, path: &str) -> (StatusCode, String) {
        let answer = reqwest::get(format!("http://{}{path}", self.admin))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        (answer.status(), answer.text().await.unwrap())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A JSON probe body.
fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body:?}"))
}

#[tokio::test]
async fn the_admin_listener_serves_metrics_and_probes_and_readiness_follows_redis() {
    let mut t = TestEngine::start_with(real_time()).await;
    let worker = Worker::start(&t, "FLASHSALE_ADMIN_ADDR", &[]);
    worker.consumer().await;

    let (status, metrics) = worker.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(metrics.contains("flashsale_worker_purchases"), "{metrics}");
    for path in ["/livez", "/readyz"] {
        let (status, body) = worker.get(path).await;
        assert_eq!(
            (status, json(&body)["status"].clone()),
            (StatusCode::OK, "ok".into()),
            "{path}"
        );
    }

    t.redis.kill().unwrap();
    let mut unready = None;
    eventually(
        "readyz says Redis is down",
        Duration::from_secs(10),
        async || {
            let (status, body) = worker.get("/readyz").await;
            unready = Some(json(&body));
            status == StatusCode::SERVICE_UNAVAILABLE
        },
    )
    .await;
    assert_eq!(unready.unwrap()["reason"], "REDIS_UNAVAILABLE");
    assert_eq!(
        worker.get("/livez").await.0,
        StatusCode::OK,
        "alive all the same"
    );

    t.redis.restart().unwrap();
    eventually(
        "readyz says ready again",
        Duration::from_secs(10),
        async || worker.get("/readyz").await.0 == StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn the_former_metrics_address_variable_still_places_the_admin_listener() {
    let t = TestEngine::start_with(real_time()).await;
    let worker = Worker::start(&t, "FLASHSALE_METRICS_ADDR", &[]);
    worker.consumer().await;
    assert_eq!(worker.get("/livez").await.0, StatusCode::OK);
}

#[tokio::test]
async fn workers_started_without_a_name_get_names_of_their_own_host() {
    let t = TestEngine::start_with(real_time()).await;
    let first = Worker::start(&t, "FLASHSALE_ADMIN_ADDR", &[]);
    let second = Worker::start(&t, "FLASHSALE_ADMIN_ADDR", &[]);
    let names = [first.consumer().await, second.consumer().await];
    assert_ne!(names[0], names[1]);
    let host = hostname::get().unwrap().into_string().unwrap();
    for name in &names {
        assert!(name.starts_with(&format!("{host}-")), "{name}");
    }
}

#[tokio::test]
async fn logs_are_json_lines_with_log_format_json_and_uncoloured_text_into_a_pipe() {
    let t = TestEngine::start_with(real_time()).await;
    let json_worker = Worker::start(&t, "FLASHSALE_ADMIN_ADDR", &["--log-format", "json"]);
    let text_worker = Worker::start(&t, "FLASHSALE_ADMIN_ADDR", &[]);

    let running = json_worker
        .line("the running line", |line| {
            line.contains("purchase worker running")
        })
        .await;
    let running = json(&running);
    assert_eq!(running["level"], "INFO", "{running}");
    assert!(
        running["consumer"].as_str().is_some_and(|c| !c.is_empty()),
        "{running}"
    );
    assert_eq!(running["admin"], json_worker.admin.to_string(), "{running}");
    for line in json_worker.lines.lock().unwrap().iter() {
        json(line);
    }

    text_worker
        .line("the running line", |line| {
            line.contains("purchase worker running")
        })
        .await;
    let lines = text_worker.lines.lock().unwrap().clone();
    assert!(
        lines.iter().all(|line| !line.contains('\u{1b}')),
        "an escape code: {lines:#?}"
    );
}
