//! What the watchers saw: each stock event's publish→receive latency, the
//! versions they skipped or saw go backwards, the counts of every second,
//! and how far each client has got, so the run can tell when every one has
//! converged on its product's final version.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::latency::Latencies;
use crate::report::PerSecond;
use crate::socket::Event;

/// How often the run looks again while it waits on the clients.
pub(super) const POLL: Duration = Duration::from_millis(20);

#[derive(Default)]
pub(super) struct SecondCounts {
    pub(super) changes: u64,
    pub(super) events: u64,
    pub(super) failed: u64,
    pub(super) latencies: Option<Latencies>,
}

/// The run's figures; one lock, held for a few counter bumps.
pub(super) struct Recorder {
    pub(super) latencies: Latencies,
    pub(super) seconds: PerSecond<SecondCounts>,
    pub(super) events: u64,
    pub(super) bytes: u64,
    pub(super) conflated: u64,
    pub(super) out_of_order: u64,
    pub(super) connect_errors: Vec<String>,
    pub(super) connect_failures: usize,
    pub(super) disconnects: usize,
}

impl Recorder {
    fn new(start: Instant) -> Self {
        Self {
            latencies: Latencies::default(),
            seconds: PerSecond::new(start),
            events: 0,
            bytes: 0,
            conflated: 0,
            out_of_order: 0,
            connect_errors: Vec::new(),
            connect_failures: 0,
            disconnects: 0,
        }
    }

    pub(super) fn second(&mut self, at: Instant) -> &mut SecondCounts {
        self.seconds.at(at)
    }
}

/// What every watcher task and the command share.
pub(super) struct Shared {
    recorder: Mutex<Recorder>,
    /// Newest version each client has seen.
    versions: Vec<AtomicU64>,
    connected: AtomicUsize,
    finished_connecting: AtomicUsize,
    stopping: AtomicBool,
}

/// How the clients ended up once the settle was over.
pub(super) struct Convergence {
    /// Seconds from the last change until every client had the final version.
    pub(super) after_s: Option<f64>,
    /// Clients not at their product's final version.
    pub(super) not_converged: usize,
}

impl Shared {
    /// Room for `clients` clients, none connected yet.
    pub(super) fn new(start: Instant, clients: usize) -> Self {
        Self {
            recorder: Mutex::new(Recorder::new(start)),
            versions: (0..clients).map(|_| AtomicU64::new(0)).collect(),
            connected: AtomicUsize::new(0),
            finished_connecting: AtomicUsize::new(0),
            stopping: AtomicBool::new(false),
        }
    }

    pub(super) fn recorder(&self) -> MutexGuard<'_, Recorder> {
        self.recorder
            .lock()
            .expect("the recorder lock is never poisoned")
    }

    /// Client `n` has connected and watches from `version` on.
    pub(super) fn watching(&self, n: usize, version: u64) {
        self.versions[n].store(version, Ordering::Release);
        self.connected.fetch_add(1, Ordering::AcqRel);
    }

    /// A client is done trying to connect, whether or not it got there.
    pub(super) fn finished_connecting(&self) {
        self.finished_connecting.fetch_add(1, Ordering::AcqRel);
    }

    /// Client `n` could not connect or watch; the first few reasons are kept.
    pub(super) fn connect_failed(&self, n: usize, reason: impl std::fmt::Display) {
        let mut recorder = self.recorder();
        recorder.connect_failures += 1;
        if recorder.connect_errors.len() < 5 {
            recorder
                .connect_errors
                .push(format!("client {n}: {reason}"));
        }
    }

    /// A watching client's connection ended; only a drop before the run
    /// stops the clients counts.
    pub(super) fn connection_lost(&self) {
        if !self.stopping.load(Ordering::Acquire) {
            self.recorder().disconnects += 1;
        }
    }

    /// A stock event reached client `n`: its latency from the script that
    /// published it, and whether its version moved forward, skipped some
    /// (conflated by the relay) or went backwards.
    pub(super) fn stock_event(&self, n: usize, event: &Event) {
        let received = Instant::now();
        let latency_us = now_micros().saturating_sub(
            event.data["at_ms"]
                .as_u64()
                .unwrap_or(0)
                .saturating_mul(1000),
        );
        let version = event.data["version"].as_u64().unwrap_or(0);
        let seen = self.versions[n].load(Ordering::Acquire);
        let mut recorder = self.recorder();
        recorder.events += 1;
        recorder.bytes += event.bytes as u64;
        if version <= seen {
            recorder.out_of_order += 1;
        } else {
            recorder.conflated += version - seen - 1;
            self.versions[n].store(version, Ordering::Release);
        }
        let latency = Duration::from_micros(latency_us);
        recorder.latencies.record(latency);
        let second = recorder.second(received);
        second.events += 1;
        second
            .latencies
            .get_or_insert_with(Latencies::coarse)
            .record(latency);
    }

    /// Waits until all of the `clients` clients have connected or given up;
    /// returns how many watch.
    pub(super) async fn all_connected(&self, clients: usize) -> usize {
        while self.finished_connecting.load(Ordering::Acquire) < clients {
            tokio::time::sleep(POLL).await;
        }
        self.connected.load(Ordering::Acquire)
    }

    /// Gives the clients up to `settle` to reach `finals`, the final version
    /// of each product in the order clients were given them.
    pub(super) async fn settle(&self, finals: &[u64], settle: Duration) -> Convergence {
        let settle_start = Instant::now();
        let mut after_s = None;
        while settle_start.elapsed() < settle {
            if self.lagging(finals) == 0 {
                after_s = Some(settle_start.elapsed().as_secs_f64());
                break;
            }
            tokio::time::sleep(POLL).await;
        }
        Convergence {
            after_s,
            not_converged: self.lagging(finals),
        }
    }

    fn lagging(&self, finals: &[u64]) -> usize {
        self.versions
            .iter()
            .enumerate()
            .filter(|(n, version)| {
                let version = version.load(Ordering::Acquire);
                // Clients that never connected are counted as connect failures.
                version != 0 && version < finals[n % finals.len()]
            })
            .count()
    }

    /// From here on a dropped connection is the run ending it, not a fault.
    pub(super) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
    }

    /// The progress line: the last whole second's counts.
    pub(super) fn progress_line(&self, start: Instant) -> String {
        let recorder = self.recorder();
        let second = start.elapsed().as_secs() as usize;
        let last = second.checked_sub(1).and_then(|s| recorder.seconds.get(s));
        format!(
            "changes {}/s  events {}/s  p99 {:.2} ms  out of order {}  disconnects {}",
            last.map_or(0, |c| c.changes),
            last.map_or(0, |c| c.events),
            last.and_then(|c| c.latencies.as_ref())
                .map_or(0.0, |l| l.quantile_ms(0.99)),
            recorder.out_of_order,
            recorder.disconnects,
        )
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
