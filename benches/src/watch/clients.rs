//! The watchers: Socket.IO clients opened one after another at the connect
//! rate, each watching one product on its transport and handing every stock
//! event to the recorder until the run stops them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use tokio::task::JoinHandle;

use super::recorder::Shared;
use crate::cli::{TransportArg, WatchArgs};
use crate::socket::{SocketClient, SocketError, Transport};

/// Which clients poll: spread evenly among the websocket ones, so every
/// stretch of the connect ramp has its share of both.
#[derive(Clone, Copy)]
pub(super) struct TransportMix {
    polling_every: Option<f64>,
}

impl TransportMix {
    pub(super) fn new(transport: TransportArg, polling_share: f64) -> Self {
        let polling_every = match transport {
            TransportArg::Websocket => None,
            TransportArg::Polling => Some(1.0),
            TransportArg::Mixed if polling_share > 0.0 => Some(1.0 / polling_share),
            TransportArg::Mixed => None,
        };
        Self { polling_every }
    }

    /// Client `n`'s transport.
    pub(super) fn of(self, n: usize) -> Transport {
        match self.polling_every {
            Some(every) if (n as f64 % every) < 1.0 => Transport::Polling,
            _ => Transport::Websocket,
        }
    }

    /// How many of `clients` clients poll.
    pub(super) fn polling_among(self, clients: usize) -> usize {
        (0..clients)
            .filter(|&n| self.of(n) == Transport::Polling)
            .count()
    }
}

/// The running watcher tasks.
pub(super) struct Watchers {
    tasks: Vec<JoinHandle<()>>,
    /// Clients that connected and watch.
    pub(super) connected: usize,
}

impl Watchers {
    /// Opens `--clients` clients at `--connect-rate` from `start`, client n
    /// on product n mod `skus` with `mix`'s transport; returns once every
    /// one has connected or given up.
    pub(super) async fn connect(
        args: &WatchArgs,
        skus: &[String],
        mix: TransportMix,
        shared: &Arc<Shared>,
        start: Instant,
    ) -> Result<Self> {
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
                mix.of(n),
                http.clone(),
            )));
        }
        let connected = shared.all_connected(args.clients).await;
        Ok(Self { tasks, connected })
    }

    /// Ends every client; a connection that drops now is not a disconnect.
    pub(super) fn stop(self, shared: &Shared) {
        shared.stop();
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Client `n`: connects, watches `sku`, then records every stock event
/// until its connection ends.
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
        Ok::<_, SocketError>((socket, version))
    }
    .await;
    shared.finished_connecting();
    let (mut socket, version) = match connected {
        Ok(ok) => ok,
        Err(e) => return shared.connect_failed(n, e),
    };
    shared.watching(n, version);
    loop {
        let event = match socket.next_event().await {
            Ok(event) => event,
            Err(_) => return shared.connection_lost(),
        };
        if event.name == "stock" {
            shared.stock_event(n, &event);
        }
    }
}
