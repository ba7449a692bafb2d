//! `flashload watch`: many Socket.IO watchers while stock changes.
//!
//! Clients connect at `--connect-rate` (client i watches product i mod K),
//! then restocks of ±1 change the products at `--changes` per second over
//! gRPC. Each `stock` event is timed from its `at_ms` (when its script ran,
//! on this machine's clock) to its arrival. Relays conflate, so a client may
//! skip versions (counted, not an error); a version that goes backwards is an
//! error, and so is a client that has not reached its product's final version
//! once `--settle` is over.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use flashsale_proto::v1 as pb;
use serde::Serialize;

use crate::cli::{TransportArg, WatchArgs};
use crate::latency::{Latencies, LatencySummary};
use crate::merchant::Merchant;
use crate::output::{Results, finish, objectives};
use crate::progress::Progress;
use crate::report::{self, Check, PerSecond, Second, Table};
use crate::setup::{products, run_id};
use crate::slo;
use crate::socket::{SocketClient, Transport};

/// Sockets beyond the clients: gRPC connections, stdio, the runtime's own.
const SPARE_FILES: u64 = 256;

#[derive(Clone, Debug, Serialize)]
pub struct WatchReport {
    pub clients: usize,
    pub websocket_clients: usize,
    pub polling_clients: usize,
    pub connected: usize,
    pub connect_failures: usize,
    /// The first few reasons clients could not connect or watch.
    pub connect_errors: Vec<String>,
    /// Clients whose connection dropped during the run.
    pub disconnects: usize,
    pub products: usize,
    pub changes_sent: u64,
    pub change_failures: u64,
    /// Changes per second actually made.
    pub achieved_rate: f64,
    pub events: u64,
    pub events_per_second: f64,
    pub bytes_per_event: f64,
    /// Publish→receive, in ms.
    pub latency_ms: LatencySummary,
    /// Versions a client never saw because its relay conflated them.
    pub versions_conflated: u64,
    /// Events older than one the client had already seen.
    pub out_of_order: u64,
    /// Clients not at their product's final version when the run ended.
    pub not_converged: usize,
    /// Seconds from the last change until every client had the final version.
    pub converged_after_s: Option<f64>,
    /// The server's resident memory growth per connected client, in KB.
    pub server_rss_kb_per_client: Option<f64>,
    pub elapsed_s: f64,
    pub timeline: Vec<Second>,
    pub checks: Vec<Check>,
}

impl WatchReport {
    pub fn figure(&self, name: &str) -> Option<f64> {
        if let Some(latency) = self.latency_ms.get(name) {
            return Some(latency);
        }
        Some(match name {
            "missed" | "not_converged" => self.not_converged as f64,
            "out_of_order" => self.out_of_order as f64,
            "disconnects" => self.disconnects as f64,
            "connect_failures" => self.connect_failures as f64,
            "rate" => self.achieved_rate,
            "events_per_second" => self.events_per_second,
            "bytes_per_event" => self.bytes_per_event,
            "rss_kb_per_client" => self.server_rss_kb_per_client?,
            _ => return None,
        })
    }
}

#[derive(Default)]
struct SecondCounts {
    changes: u64,
    events: u64,
    failed: u64,
    latencies: Option<Latencies>,
}

struct Recorder {
    latencies: Latencies,
    seconds: PerSecond<SecondCounts>,
    events: u64,
    bytes: u64,
    conflated: u64,
    out_of_order: u64,
    connect_errors: Vec<String>,
    connect_failures: usize,
    disconnects: usize,
}

impl Recorder {
    fn second(&mut self, at: Instant) -> &mut SecondCounts {
        self.seconds.at(at)
    }
}

struct Shared {
    recorder: Mutex<Recorder>,
    /// Newest version each client has seen.
    versions: Vec<AtomicU64>,
    connected: AtomicUsize,
    finished_connecting: AtomicUsize,
    stopping: AtomicBool,
}

impl Shared {
    fn recorder(&self) -> std::sync::MutexGuard<'_, Recorder> {
        self.recorder
            .lock()
            .expect("the recorder lock is never poisoned")
    }
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn resident_kb(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading the memory of process {pid}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

/// Raises this process's open-file limit to fit `clients`, or says how.
fn raise_file_limit(clients: usize) -> Result<()> {
    let needed = clients as u64 + SPARE_FILES;
    let got = rlimit::increase_nofile_limit(needed).context("raising the open-file limit")?;
    if got < needed {
        bail!(
            "{clients} clients need {needed} open files but the limit is {got}; \
             raise it (e.g. `ulimit -n {needed}`, or the hard limit in /etc/security/limits.conf) \
             or open fewer clients"
        );
    }
    Ok(())
}

async fn watcher(
    shared: Arc<Shared>,
    n: usize,
    http_addr: String,
    sku: String,
    transport: Transport,
    http: reqwest::Client,
) {
    let connected = async {
        let mut socket = SocketClient::connect(&http_addr, transport, &http).await?;
        let version = socket.watch(&sku).await?;
        Ok::<_, crate::socket::SocketError>((socket, version))
    }
    .await;
    shared.finished_connecting.fetch_add(1, Ordering::AcqRel);
    let (mut socket, version) = match connected {
        Ok(ok) => ok,
        Err(e) => {
            let mut recorder = shared.recorder();
            recorder.connect_failures += 1;
            if recorder.connect_errors.len() < 5 {
                recorder.connect_errors.push(format!("client {n}: {e}"));
            }
            return;
        }
    };
    shared.versions[n].store(version, Ordering::Release);
    shared.connected.fetch_add(1, Ordering::AcqRel);
    loop {
        let event = match socket.next_event().await {
            Ok(event) => event,
            Err(_) => {
                if !shared.stopping.load(Ordering::Acquire) {
                    shared.recorder().disconnects += 1;
                }
                return;
            }
        };
        if event.name != "stock" {
            continue;
        }
        let received = Instant::now();
        let latency_us = now_micros().saturating_sub(
            event.data["at_ms"]
                .as_u64()
                .unwrap_or(0)
                .saturating_mul(1000),
        );
        let version = event.data["version"].as_u64().unwrap_or(0);
        let seen = shared.versions[n].load(Ordering::Acquire);
        let mut recorder = shared.recorder();
        recorder.events += 1;
        recorder.bytes += event.bytes as u64;
        if version <= seen {
            recorder.out_of_order += 1;
        } else {
            recorder.conflated += version - seen - 1;
            shared.versions[n].store(version, Ordering::Release);
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
}

pub async fn run(args: WatchArgs) -> Result<bool> {
    let objectives = objectives(&args.output)?;
    if args.clients == 0 {
        bail!("--clients must be at least 1");
    }
    if !(args.changes > 0.0 && args.connect_rate > 0.0) {
        bail!("--changes and --connect-rate must be above zero");
    }
    raise_file_limit(args.clients)?;
    let merchant = Merchant::connect(
        &args.server.target,
        args.server.token.as_deref(),
        args.server.connections,
    )
    .await?;
    let target = products(&merchant, &args.products, &run_id(), 0, 600).await?;
    let skus = target.skus;
    let rss_before = args.server_pid.map(resident_kb).transpose()?;

    let progress = Progress::start(args.duration);
    let start = Instant::now();
    let shared = Arc::new(Shared {
        recorder: Mutex::new(Recorder {
            latencies: Latencies::default(),
            seconds: PerSecond::new(start),
            events: 0,
            bytes: 0,
            conflated: 0,
            out_of_order: 0,
            connect_errors: Vec::new(),
            connect_failures: 0,
            disconnects: 0,
        }),
        versions: (0..args.clients).map(|_| AtomicU64::new(0)).collect(),
        connected: AtomicUsize::new(0),
        finished_connecting: AtomicUsize::new(0),
        stopping: AtomicBool::new(false),
    });

    // Polling clients spread evenly among the websocket ones.
    let polling_every = match args.transport {
        TransportArg::Websocket => None,
        TransportArg::Polling => Some(1.0),
        TransportArg::Mixed if args.polling_share > 0.0 => Some(1.0 / args.polling_share),
        TransportArg::Mixed => None,
    };
    let transport_of = |n: usize| match polling_every {
        Some(every) if (n as f64 % every) < 1.0 => Transport::Polling,
        _ => Transport::Websocket,
    };
    let polling_clients = (0..args.clients)
        .filter(|&n| transport_of(n) == Transport::Polling)
        .count();
    progress.say(&format!(
        "flashload watch: {} clients ({} polling) on {} products at {}, {} changes/s for {}",
        args.clients,
        polling_clients,
        skus.len(),
        args.http,
        args.changes,
        humantime::format_duration(args.duration)
    ));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .build()?;
    let mut tasks = Vec::with_capacity(args.clients);
    let connect_every = Duration::from_secs_f64(1.0 / args.connect_rate);
    for n in 0..args.clients {
        tokio::time::sleep_until((start + connect_every.mul_f64(n as f64)).into()).await;
        tasks.push(tokio::spawn(watcher(
            shared.clone(),
            n,
            args.http.clone(),
            skus[n % skus.len()].clone(),
            transport_of(n),
            http.clone(),
        )));
    }
    while shared.finished_connecting.load(Ordering::Acquire) < args.clients {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let connected = shared.connected.load(Ordering::Acquire);
    progress.say(&format!(
        "{connected} of {} clients watching after {:.1} s",
        args.clients,
        start.elapsed().as_secs_f64()
    ));
    let rss_per_client = match (args.server_pid, rss_before) {
        (Some(pid), Some(before)) if connected > 0 => {
            Some((resident_kb(pid)?.saturating_sub(before)) as f64 / connected as f64)
        }
        _ => None,
    };

    // The changes, on a schedule (each its own call, so a slow answer does
    // not slow the rate): restocks of +1 then -1, product after product.
    let changes_start = Instant::now();
    let changes_end = changes_start + args.duration;
    let every = Duration::from_secs_f64(1.0 / args.changes);
    let failed = Arc::new(AtomicU64::new(0));
    let mut sent = 0u64;
    let mut changes = Vec::new();
    let mut last_tick = 0;
    while Instant::now() < changes_end {
        let due = changes_start + every.mul_f64(sent as f64);
        tokio::time::sleep_until(due.into()).await;
        let round = sent as usize / skus.len();
        let request = pb::RestockRequest {
            sku: skus[sent as usize % skus.len()].clone(),
            delta: if round.is_multiple_of(2) { 1 } else { -1 },
            request_id: String::new(),
        };
        let mut inventory = merchant.inventory();
        let (recording, failed) = (shared.clone(), failed.clone());
        changes.push(tokio::spawn(async move {
            let result = inventory.restock(request).await;
            let mut recorder = recording.recorder();
            let second = recorder.second(Instant::now());
            second.changes += 1;
            if result.is_err() {
                second.failed += 1;
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }));
        sent += 1;
        let tick = changes_start.elapsed().as_secs();
        if tick > last_tick {
            last_tick = tick;
            progress.tick(tick, &watch_line(&shared, start));
        }
    }
    for change in changes {
        change.await.context("a change task panicked")?;
    }
    let failed = failed.load(Ordering::Acquire);
    let changes_elapsed = changes_start.elapsed();

    // Settle: every client should reach its product's final version.
    let mut finals = Vec::with_capacity(skus.len());
    for sku in &skus {
        finals.push(merchant.product(sku).await?.version);
    }
    let settle_start = Instant::now();
    let lagging = |shared: &Shared| {
        (0..args.clients)
            .filter(|&n| {
                let version = shared.versions[n].load(Ordering::Acquire);
                // Clients that never connected are counted as connect failures.
                version != 0 && version < finals[n % skus.len()]
            })
            .count()
    };
    let mut converged_after = None;
    while settle_start.elapsed() < args.settle {
        if lagging(&shared) == 0 {
            converged_after = Some(settle_start.elapsed().as_secs_f64());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let not_converged = lagging(&shared);
    shared.stopping.store(true, Ordering::Release);
    for task in &tasks {
        task.abort();
    }
    progress.finish();

    let recorder = shared.recorder();
    let elapsed = start.elapsed().as_secs_f64();
    let mut report = WatchReport {
        clients: args.clients,
        websocket_clients: args.clients - polling_clients,
        polling_clients,
        connected,
        connect_failures: recorder.connect_failures,
        connect_errors: recorder.connect_errors.clone(),
        disconnects: recorder.disconnects,
        products: skus.len(),
        changes_sent: sent,
        change_failures: failed,
        achieved_rate: (sent - failed) as f64 / changes_elapsed.as_secs_f64(),
        events: recorder.events,
        events_per_second: recorder.events as f64 / changes_elapsed.as_secs_f64(),
        bytes_per_event: if recorder.events == 0 {
            0.0
        } else {
            recorder.bytes as f64 / recorder.events as f64
        },
        latency_ms: recorder.latencies.summary(),
        versions_conflated: recorder.conflated,
        out_of_order: recorder.out_of_order,
        not_converged,
        converged_after_s: converged_after,
        server_rss_kb_per_client: rss_per_client,
        elapsed_s: elapsed,
        timeline: recorder
            .seconds
            .iter()
            .enumerate()
            .map(|(n, c)| Second::new(n, c.changes, c.events, c.failed, c.latencies.as_ref()))
            .collect(),
        checks: Vec::new(),
    };
    drop(recorder);
    report.checks = watch_checks(&report);
    let verdicts = slo::judge(&objectives, |name| report.figure(name));
    let plots = report::timeline_plots(&report.timeline, ("changes", "events received"));
    let tables = watch_tables(&report);
    finish(
        "watch",
        &args.http,
        &args.output,
        Results {
            report: &report,
            checks: &report.checks,
            verdicts: &verdicts,
            tables,
            plots,
        },
    )
}

fn watch_line(shared: &Shared, start: Instant) -> String {
    let recorder = shared.recorder();
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

fn watch_checks(r: &WatchReport) -> Vec<Check> {
    let some = |n: usize, what: &str| -> Vec<String> {
        if n == 0 {
            vec![]
        } else {
            vec![format!("{n} {what}")]
        }
    };
    let mut connect = some(r.connect_failures, "clients could not connect and watch");
    connect.extend(r.connect_errors.iter().cloned());
    vec![
        Check::new(
            "all_connected",
            connect,
            "every client connected and watched",
        ),
        Check::new(
            "no_disconnects",
            some(r.disconnects, "clients lost their connection"),
            "no client lost its connection",
        ),
        Check::new(
            "versions_only_grow",
            some(
                r.out_of_order as usize,
                "events were older than one already seen",
            ),
            "no client saw a version go backwards",
        ),
        Check::new(
            "every_client_converged",
            some(
                r.not_converged,
                "clients never got their product's final version",
            ),
            "every client ended on its product's final version",
        ),
        Check::new(
            "changes_made",
            some(r.change_failures as usize, "changes failed"),
            "every change was made",
        ),
    ]
}

fn watch_tables(r: &WatchReport) -> Vec<Table> {
    let mut run = Table::new("run", &["", ""]);
    let mut add = |name: &str, value: String| run.row(vec![name.to_owned(), value]);
    add(
        "clients",
        format!(
            "{} connected of {} ({} websocket, {} polling)",
            r.connected, r.clients, r.websocket_clients, r.polling_clients
        ),
    );
    add("products", r.products.to_string());
    add(
        "changes",
        format!(
            "{} sent, {} failed, {:.0}/s",
            r.changes_sent, r.change_failures, r.achieved_rate
        ),
    );
    add(
        "events",
        format!(
            "{} received, {:.0}/s, {:.0} bytes each",
            r.events, r.events_per_second, r.bytes_per_event
        ),
    );
    add("versions conflated", r.versions_conflated.to_string());
    add("out of order", r.out_of_order.to_string());
    add(
        "converged",
        match r.converged_after_s {
            Some(s) => format!("all clients, {s:.2} s after the last change"),
            None => format!("{} clients never did", r.not_converged),
        },
    );
    if let Some(kb) = r.server_rss_kb_per_client {
        add("server memory", format!("{kb:.1} KB per client"));
    }
    let latency = report::latency_table(
        "publish→receive latency (ms)",
        &[("stock events", &r.latency_ms)],
    );
    vec![run, latency]
}
