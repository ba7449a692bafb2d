//! The worker binary with web push on, as the delivery specs run it: the
//! test's VAPID key, short timings (planning every 100 ms, a dead worker's
//! jobs claimed after 1 s, its partitions after 1 s), its admin address
//! known for `/metrics`, and killed when dropped. `PUSH_SPEC_LOGS=1` shows
//! the workers' logs. And what such a worker keeps of the senders' group:
//! not the pushers long gone.

use std::process::{Child, Stdio};

use std::time::Duration;

use reservation_core::keys::{DEAD_PUSHES, PUSH_GROUP, PUSH_JOBS, PushProductKeys};
use reservation_core::local_redis::free_port;
use reservation_core::testing::{TestEngine, customer_of};
use reservation_core::{PushSubscription, PushTopics, Sku, VapidKey};

use super::super::{eventually, worker_command};
use super::service::PushService;

/// The VAPID subject the specs' workers sign with.
pub const SUBJECT: &str = "mailto:ops@shop.example";

pub struct PushWorker {
    name: String,
    child: Child,
    admin: String,
    /// Its log, shown when the spec fails.
    log: std::path::PathBuf,
}

impl PushWorker {
    /// Starts the worker `name` pushing with `key`; `extra` flags replace
    /// the spec defaults they name.
    pub fn start(t: &TestEngine, name: &str, key: &VapidKey, extra: &[&str]) -> Self {
        let admin = format!("127.0.0.1:{}", free_port().unwrap());
        let mut command = worker_command(t);
        command.args([
            "--name",
            name,
            // With `=`: a base64url key may start with `-`.
            &format!("--vapid-private-key={}", key.to_base64url()),
            "--admin-addr",
            &admin,
        ]);
        let defaults = [
            ("--claim-idle-ms", "1000"),
            ("--sweep-lease-ms", "1000"),
            ("--push-interval", "100ms"),
            ("--push-per-origin", "1000"),
            ("--vapid-subject", SUBJECT),
        ];
        for (flag, value) in defaults {
            if !extra.contains(&flag) {
                command.args([flag, value]);
            }
        }
        let log = std::env::temp_dir().join(format!(
            "push-spec-{name}-{}-{}.log",
            std::process::id(),
            free_port().unwrap()
        ));
        let stderr = match std::env::var_os("PUSH_SPEC_LOGS") {
            Some(_) => Stdio::inherit(),
            None => std::fs::File::create(&log).unwrap().into(),
        };
        let child = command
            .args(extra)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start the purchase-worker binary");
        Self {
            name: name.to_owned(),
            child,
            admin,
            log,
        }
    }

    /// SIGKILL, and waits for it to be gone.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM, and how it exited.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        tokio::task::spawn_blocking(move || self.child.wait().unwrap())
            .await
            .unwrap()
    }

    /// A counter's value from `/metrics` (`flashsale_worker_NAME_total`),
    /// summed over its labels, or those matching `labels` (`reason="duplicate"`).
    pub async fn counter(&self, name: &str, labels: &str) -> u64 {
        let url = format!("http://{}/metrics", self.admin);
        let text = reqwest::get(url)
            .await
            .expect("the worker serves /metrics")
            .text()
            .await
            .unwrap();
        let series = format!("flashsale_worker_{name}_total");
        text.lines()
            .filter(|line| line.starts_with(&series) && line.contains(labels))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64
    }
}

impl Drop for PushWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            let name = &self.name;
            eprintln!("--- {name}'s log ---\n{log}--- end of {name}'s log ---");
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The name of the worker that plans pushes now (holds sweep partition 0),
/// if any.
pub async fn planner(t: &TestEngine) -> Option<String> {
    let first = t.engine.config().partitions.all().next().unwrap();
    let holder = t.engine.partition_holder(&first).await.unwrap()?;
    Some(holder.split('#').next().unwrap_or_default().to_owned())
}

/// Subscribes the shopper `name` to `sku` with the push service's
/// subscription `name`, for `topics`.
pub async fn subscribe(
    t: &TestEngine,
    service: &PushService,
    sku: &Sku,
    name: &str,
    topics: PushTopics,
) -> PushSubscription {
    let subscription = service.subscribe(name).await;
    interested(t, sku, name, &subscription, topics).await;
    subscription
}

/// Records the shopper `customer`'s interest in `sku` on `subscription`.
pub async fn interested(
    t: &TestEngine,
    sku: &Sku,
    customer: &str,
    subscription: &PushSubscription,
    topics: PushTopics,
) {
    t.engine
        .subscribe_push(&customer_of(customer), sku, subscription, topics, 20)
        .await
        .unwrap();
}

pub const SALE_OPENS: PushTopics = PushTopics {
    sale_opens: true,
    back_in_stock: false,
    hold_expiring: false,
};

pub const BACK_IN_STOCK: PushTopics = PushTopics {
    sale_opens: false,
    back_in_stock: true,
    hold_expiring: false,
};

pub const HOLD_EXPIRING: PushTopics = PushTopics {
    sale_opens: false,
    back_in_stock: false,
    hold_expiring: true,
};

/// Whether the planner last recorded `sku` with units available (`1`),
/// without (`0`), or never.
pub async fn availability_seen(t: &TestEngine, sku: &Sku) -> Option<String> {
    let mut conn = t.raw_connection().await;
    redis::cmd("HGET")
        .arg(PushProductKeys::new(sku).rounds)
        .arg("available_seen")
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// The pushes given up on, oldest first.
pub async fn dead_pushes(t: &TestEngine) -> Vec<redis::streams::StreamId> {
    let mut conn = t.raw_connection().await;
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(DEAD_PUSHES)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    reply.ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pusher_long_gone_with_nothing_pending_is_removed_from_the_senders_group() {
    let t = TestEngine::start_with(super::super::real_time()).await;
    let key = VapidKey::generate();
    let mut conn = t.raw_connection().await;
    let consumers = async |conn: &mut reservation_core::testing::RawConnection| {
        let reply: redis::streams::StreamInfoConsumersReply = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(PUSH_JOBS)
            .arg(PUSH_GROUP)
            .query_async(conn)
            .await
            .unwrap();
        reply
            .consumers
            .into_iter()
            .map(|c| c.name)
            .collect::<Vec<_>>()
    };
    // The group as a worker makes it, and a pusher that went away.
    redis::pipe()
        .cmd("XGROUP")
        .arg("CREATE")
        .arg(PUSH_JOBS)
        .arg(PUSH_GROUP)
        .arg("0")
        .arg("MKSTREAM")
        .cmd("XGROUP")
        .arg("CREATECONSUMER")
        .arg(PUSH_JOBS)
        .arg(PUSH_GROUP)
        .arg("gone-pusher")
        .exec_async(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let _worker = PushWorker::start(
        &t,
        "pusher",
        &key,
        &["--forget-consumers-after", "1s", "--trim-interval-ms", "50"],
    );
    eventually(
        "the gone pusher removed",
        Duration::from_secs(10),
        async || {
            !consumers(&mut conn)
                .await
                .contains(&"gone-pusher".to_owned())
        },
    )
    .await;
}
