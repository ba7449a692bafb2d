//! What a watch run reports: the figures `--json` writes and `--slo` judges,
//! the checks, and the tables printed.

use serde::Serialize;

use super::changes::Changes;
use super::recorder::{Convergence, Recorder};
use crate::cpu::CpuUse;
use crate::latency::LatencySummary;
use crate::report::{self, Check, Second, Table};

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
    /// The server's CPU (user + system, every thread) from the first
    /// connect until the clients settled, in seconds.
    pub server_cpu_s: Option<f64>,
    /// `server_cpu_s` per stock event delivered, in µs: connects, watches,
    /// pings and the changes' calls counted in.
    pub server_cpu_us_per_event: Option<f64>,
    /// The user-space part of `server_cpu_us_per_event`: what is left when
    /// the kernel's sends (on loopback, with the clients' TCP work in them)
    /// are taken out.
    pub server_user_cpu_us_per_event: Option<f64>,
    /// Redis's CPU (`used_cpu_user` + `used_cpu_sys`) over the same window,
    /// in seconds, when the run was given `--redis-url`.
    pub redis_cpu_s: Option<f64>,
    /// `redis_cpu_s` per stock event delivered, in µs.
    pub redis_cpu_us_per_event: Option<f64>,
    /// flashload's own CPU over the same window per stock event received,
    /// in µs: its clients' share of a machine it shares with the server.
    pub flashload_cpu_us_per_event: Option<f64>,
    pub elapsed_s: f64,
    pub timeline: Vec<Second>,
    pub checks: Vec<Check>,
}

/// What the server and Redis spent on the run, where measured.
pub(super) struct ServerCost {
    pub(super) rss_kb_per_client: Option<f64>,
    pub(super) cpu: CpuUse,
}

/// The clients a run opened: how many, how many of them poll, how many
/// connected and watched.
pub(super) struct Crowd {
    pub(super) clients: usize,
    pub(super) polling: usize,
    pub(super) connected: usize,
}

impl WatchReport {
    /// The report of a run over `products` products, with its checks.
    pub(super) fn new(
        crowd: Crowd,
        products: usize,
        recorder: &Recorder,
        changes: &Changes,
        convergence: Convergence,
        cost: ServerCost,
        elapsed_s: f64,
    ) -> Self {
        let per_event = |cpu_s: Option<f64>| {
            cpu_s
                .filter(|_| recorder.events > 0)
                .map(|s| s * 1e6 / recorder.events as f64)
        };
        let mut report = Self {
            clients: crowd.clients,
            websocket_clients: crowd.clients - crowd.polling,
            polling_clients: crowd.polling,
            connected: crowd.connected,
            connect_failures: recorder.connect_failures,
            connect_errors: recorder.connect_errors.clone(),
            disconnects: recorder.disconnects,
            products,
            changes_sent: changes.sent,
            change_failures: changes.failed,
            achieved_rate: changes.achieved_rate(),
            events: recorder.events,
            events_per_second: recorder.events as f64 / changes.elapsed.as_secs_f64(),
            bytes_per_event: if recorder.events == 0 {
                0.0
            } else {
                recorder.bytes as f64 / recorder.events as f64
            },
            latency_ms: recorder.latencies.summary(),
            versions_conflated: recorder.conflated,
            out_of_order: recorder.out_of_order,
            not_converged: convergence.not_converged,
            converged_after_s: convergence.after_s,
            server_rss_kb_per_client: cost.rss_kb_per_client,
            server_cpu_s: cost.cpu.server_s,
            server_cpu_us_per_event: per_event(cost.cpu.server_s),
            server_user_cpu_us_per_event: per_event(cost.cpu.server_user_s),
            redis_cpu_s: cost.cpu.redis_s,
            redis_cpu_us_per_event: per_event(cost.cpu.redis_s),
            flashload_cpu_us_per_event: per_event(cost.cpu.generator_s),
            elapsed_s,
            timeline: recorder
                .seconds
                .iter()
                .enumerate()
                .map(|(n, c)| Second::new(n, c.changes, c.events, c.failed, c.latencies.as_ref()))
                .collect(),
            checks: Vec::new(),
        };
        report.checks = report.judge();
        report
    }

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
            "server_cpu_us_per_event" => self.server_cpu_us_per_event?,
            "server_user_cpu_us_per_event" => self.server_user_cpu_us_per_event?,
            "redis_cpu_us_per_event" => self.redis_cpu_us_per_event?,
            _ => return None,
        })
    }

    fn judge(&self) -> Vec<Check> {
        let some = |n: usize, what: &str| -> Vec<String> {
            if n == 0 {
                vec![]
            } else {
                vec![format!("{n} {what}")]
            }
        };
        let mut connect = some(self.connect_failures, "clients could not connect and watch");
        connect.extend(self.connect_errors.iter().cloned());
        vec![
            Check::new(
                "all_connected",
                connect,
                "every client connected and watched",
            ),
            Check::new(
                "no_disconnects",
                some(self.disconnects, "clients lost their connection"),
                "no client lost its connection",
            ),
            Check::new(
                "versions_only_grow",
                some(
                    self.out_of_order as usize,
                    "events were older than one already seen",
                ),
                "no client saw a version go backwards",
            ),
            Check::new(
                "every_client_converged",
                some(
                    self.not_converged,
                    "clients never got their product's final version",
                ),
                "every client ended on its product's final version",
            ),
            Check::new(
                "changes_made",
                some(self.change_failures as usize, "changes failed"),
                "every change was made",
            ),
        ]
    }

    pub(super) fn tables(&self) -> Vec<Table> {
        let r = self;
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
        let cpu = |s: f64, per_event: Option<f64>| match per_event {
            Some(us) => format!("{s:.2} s, {us:.1} µs per event delivered"),
            None => format!("{s:.2} s, no event delivered"),
        };
        if let Some(s) = r.server_cpu_s {
            let mut server = cpu(s, r.server_cpu_us_per_event);
            if let Some(us) = r.server_user_cpu_us_per_event {
                server += &format!(" ({us:.1} µs of it in user space)");
            }
            add("server CPU", server);
        }
        if let Some(s) = r.redis_cpu_s {
            add("Redis CPU", cpu(s, r.redis_cpu_us_per_event));
        }
        if let Some(us) = r.flashload_cpu_us_per_event {
            add(
                "flashload's own CPU",
                format!("{us:.1} µs per event received"),
            );
        }
        let latency = report::latency_table(
            "publish→receive latency (ms)",
            &[("stock events", &r.latency_ms)],
        );
        vec![run, latency]
    }

    /// The changes made and events received, second by second, plotted.
    pub(super) fn plots(&self) -> Vec<String> {
        report::timeline_plots(&self.timeline, ("changes", "events received"))
    }
}
