//! The push service of a `flashload push-opening` run: an HTTP server on
//! loopback that takes every push, answers `201 Created` as a real push
//! service does, and notes when each subscriber's first push arrived and how
//! many came. It neither decrypts nor checks the VAPID token: the worker's
//! specifications do that against an independent implementation; here only
//! the rate and the count matter, and the sink must not be the bottleneck.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use tokio::sync::Notify;

/// What arrived, per subscriber (`/push/{n}`).
pub struct Arrivals {
    started: Instant,
    /// Microseconds after `started` of each subscriber's first push, plus
    /// one (0: none yet).
    first_us: Vec<AtomicU64>,
    counts: Vec<AtomicU32>,
    distinct: AtomicUsize,
    /// Pushes missing one of the headers every push must carry.
    malformed: AtomicUsize,
    all_arrived: Notify,
}

/// A summary of the arrivals.
pub struct Tally {
    pub distinct: usize,
    pub total: u64,
    pub malformed: usize,
    /// When the first and the last subscriber's first push arrived.
    pub first: Option<Instant>,
    pub last: Option<Instant>,
}

impl Arrivals {
    fn new(subscribers: usize) -> Self {
        Self {
            started: Instant::now(),
            first_us: (0..subscribers).map(|_| AtomicU64::new(0)).collect(),
            counts: (0..subscribers).map(|_| AtomicU32::new(0)).collect(),
            distinct: AtomicUsize::new(0),
            malformed: AtomicUsize::new(0),
            all_arrived: Notify::new(),
        }
    }

    fn record(&self, subscriber: usize) -> bool {
        let (Some(first), Some(count)) =
            (self.first_us.get(subscriber), self.counts.get(subscriber))
        else {
            return false;
        };
        if count.fetch_add(1, Ordering::Relaxed) == 0 {
            first.store(
                self.started.elapsed().as_micros() as u64 + 1,
                Ordering::Relaxed,
            );
            if self.distinct.fetch_add(1, Ordering::AcqRel) + 1 == self.first_us.len() {
                self.all_arrived.notify_one();
            }
        }
        true
    }

    /// Waits until every subscriber has had a push.
    pub async fn all_arrived(&self) {
        let notified = self.all_arrived.notified();
        if self.distinct.load(Ordering::Acquire) < self.first_us.len() {
            notified.await;
        }
    }

    pub fn tally(&self) -> Tally {
        let firsts = self
            .first_us
            .iter()
            .map(|f| f.load(Ordering::Relaxed))
            .filter(|&us| us > 0);
        let (min, max) = firsts.fold((u64::MAX, 0), |(lo, hi), us| (lo.min(us), hi.max(us)));
        let at = |us: u64| self.started + std::time::Duration::from_micros(us - 1);
        Tally {
            distinct: self.distinct.load(Ordering::Acquire),
            total: self
                .counts
                .iter()
                .map(|c| u64::from(c.load(Ordering::Relaxed)))
                .sum(),
            malformed: self.malformed.load(Ordering::Relaxed),
            first: (max > 0).then(|| at(min)),
            last: (max > 0).then(|| at(max)),
        }
    }
}

/// Starts the sink for `subscribers` endpoints; returns where it listens and
/// what it records.
pub async fn start(subscribers: usize) -> Result<(SocketAddr, Arc<Arrivals>)> {
    let arrivals = Arc::new(Arrivals::new(subscribers));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .context("bind the push sink")?;
    let addr = listener.local_addr()?;
    let app = Router::new()
        .route("/push/{subscriber}", post(take_push))
        .with_state(arrivals.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("flashload: the push sink stopped: {e}");
        }
    });
    Ok((addr, arrivals))
}

/// Headers RFC 8030, 8291 and 8292 require of every push.
const REQUIRED: [&str; 3] = ["ttl", "content-encoding", "authorization"];

async fn take_push(
    State(arrivals): State<Arc<Arrivals>>,
    Path(subscriber): Path<usize>,
    headers: HeaderMap,
) -> StatusCode {
    if REQUIRED.iter().any(|h| !headers.contains_key(*h)) {
        arrivals.malformed.fetch_add(1, Ordering::Relaxed);
        return StatusCode::BAD_REQUEST;
    }
    if arrivals.record(subscriber) {
        StatusCode::CREATED
    } else {
        StatusCode::NOT_FOUND
    }
}
