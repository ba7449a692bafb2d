//! The `api-server` binary run as its own process, as an operator runs it.

use std::net::SocketAddr;
use std::process::ExitStatus;
use std::time::Duration;

use super::TOKEN;

/// An `api-server` binary running as its own process, stopped when dropped.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    /// Where its `/metrics` and probes listen.
    pub admin_addr: SocketAddr,
    /// What it printed up to and including the line with its gRPC address.
    pub banner: String,
    /// Everything it printed after the banner, logs included, as it comes.
    pub printed: std::sync::Arc<std::sync::Mutex<String>>,
}

impl ServerProcess {
    /// Starts `binary` (the crate's `CARGO_BIN_EXE_api-server`) on free ports
    /// with `args`, and waits until it says where it listens.
    pub fn spawn(binary: &str, args: &[&str]) -> Self {
        Self::start(binary, args, &[], None)
    }

    /// As [`ServerProcess::spawn`], logging at `filter` (`RUST_LOG`).
    pub fn spawn_logging(binary: &str, args: &[&str], filter: &str) -> Self {
        Self::start(binary, args, &[], Some(filter))
    }

    /// As [`ServerProcess::spawn_logging`], with `env` variables set too
    /// (`FLASHSALE_*` settings, as a deployment gives them).
    pub fn spawn_with_env(binary: &str, args: &[&str], env: &[(&str, &str)], filter: &str) -> Self {
        Self::start(binary, args, env, Some(filter))
    }

    /// `binary` on the Redis at `redis_url`, as the in-process test servers
    /// run: merchant calls with [`TOKEN`], shoppers named by the bare header,
    /// logging at info, and `env` set.
    pub fn on_redis(binary: &str, redis_url: &str, env: &[(&str, &str)]) -> Self {
        let args = [
            "--redis-url",
            redis_url,
            "--merchant-tokens",
            TOKEN,
            "--insecure-customer-header",
        ];
        Self::start(binary, &args, env, Some("info"))
    }

    fn start(binary: &str, args: &[&str], env: &[(&str, &str)], log: Option<&str>) -> Self {
        use std::io::{BufRead, BufReader, Read};
        let http_addr = SocketAddr::from((
            [127, 0, 0, 1],
            reservation_core::local_redis::free_port().expect("free port"),
        ));
        let grpc_addr = SocketAddr::from((
            [127, 0, 0, 1],
            reservation_core::local_redis::free_port().expect("free port"),
        ));
        let admin_addr = SocketAddr::from((
            [127, 0, 0, 1],
            reservation_core::local_redis::free_port().expect("free port"),
        ));
        let mut command = std::process::Command::new(binary);
        if let Some(filter) = log {
            command.env("RUST_LOG", filter);
        }
        let mut child = command
            .args(args)
            .args([
                "--http-addr",
                &http_addr.to_string(),
                "--grpc-addr",
                &grpc_addr.to_string(),
                "--admin-addr",
                &admin_addr.to_string(),
            ])
            .env_remove("FLASHSALE_REDIS_URL")
            .env_remove("FLASHSALE_MERCHANT_TOKENS")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the api-server binary");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut banner = String::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        // The banner ends with the merchant token line in demo mode, and with
        // the gRPC line otherwise. Log lines from other tasks may come in
        // between, so lines are read until the last one is there.
        let last_line = if args.contains(&"--demo") {
            "merchant token:"
        } else {
            "merchant gRPC:"
        };
        while !banner.contains(last_line) && std::time::Instant::now() < deadline {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            banner.push_str(&line);
        }
        assert!(
            banner.contains(&format!("http://{http_addr}/"))
                && banner.contains(&format!("http://{admin_addr}/metrics")),
            "the server did not start:\n{banner}"
        );
        // Keep reading: a closed pipe would fail the server's later prints.
        let printed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = printed.clone();
        std::thread::spawn(move || {
            let mut chunk = [0; 4096];
            while let Ok(read @ 1..) = stdout.read(&mut chunk) {
                let text = String::from_utf8_lossy(&chunk[..read]);
                sink.lock().expect("printed lock").push_str(&text);
            }
        });
        Self {
            child,
            http_addr,
            grpc_addr,
            admin_addr,
            banner,
            printed,
        }
    }

    /// Whether the process prints `text` within 5 s (the output is read on a
    /// thread of its own, so the last lines may land after its exit).
    pub async fn printed_within_5s(&self, text: &str) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !self.printed.lock().expect("printed lock").contains(text) {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        self.send_sigterm();
        self.child.wait().expect("wait for the api-server")
    }

    /// Sends SIGTERM, waits for the exit (off the async runtime), and returns
    /// the exit status with everything the process printed, banner first.
    pub async fn terminate_printing(self) -> (ExitStatus, String) {
        let printed = self.printed.clone();
        let banner = self.banner.clone();
        let status = tokio::task::spawn_blocking(move || self.terminate())
            .await
            .expect("the wait for the api-server");
        let printed = printed.lock().expect("printed lock").clone();
        (status, format!("{banner}{printed}"))
    }

    /// Sends SIGTERM, as a service manager or a rolling deploy does, and
    /// returns at once.
    pub fn send_sigterm(&self) {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
    }

    /// The exit status once the process has exited, or `None` if it is
    /// still running after `limit` (it is killed when dropped).
    pub async fn exited_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the api-server") {
                return Some(status);
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
