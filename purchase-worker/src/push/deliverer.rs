//! The deliverer: reads `fs:push:jobs` through the `pushers` group (the
//! worker's name is its consumer name) and sends the jobs, up to
//! `concurrency` at once, each push service origin in turn ([`queues`]).
//!
//! A job is acknowledged only once it is done ([`delivery`]), so one a
//! worker dies holding is claimed by another after `claim_idle`; one this
//! worker holds a while (queued behind its origin, or waiting for a retry)
//! is kept in the group every half `claim_idle`, so no other worker takes
//! it meanwhile. Keeping is a Redis call per job, thousands when an origin
//! is paused: it runs on a task of its own ([`Keeper`]) and the loop goes
//! on sending meanwhile. On shutdown it stops reading, lets the pushes in
//! flight finish, and leaves every other job pending for the workers still
//! running.
//!
//! [`queues`]: super::queues
//! [`delivery`]: super::delivery

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::streams::StreamId;
use reservation_core::keys::DEAD_PUSHES;
use reservation_core::{Engine, Error, PushJob, Result, StreamGroup, Taken, VapidKey};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use super::PushSettings;
use super::delivery::{Courier, Done};
use super::products::ProductCache;
use super::queues::{Heard, Held, Limits, Offer, OriginQueues, Paused};
use super::send::{PushError, PushSender};
use crate::{WorkerConfig, WorkerMetrics};

/// Most jobs read at once.
const READ_BATCH: usize = 256;
/// An origin with pushes in flight and no answer this long is stalled:
/// push services answer within a second when well.
const STALL_AFTER: Duration = Duration::from_secs(2);
/// Most jobs held for one origin, whatever its rate.
const MAX_PER_ORIGIN: usize = 10_000;
/// How long past one push's timeout a stopping deliverer waits for the
/// pushes in flight.
const GRACE: Duration = Duration::from_secs(1);

/// Why a deliverer cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PushSetupError {
    #[error(transparent)]
    Sender(#[from] PushError),
    #[error("cannot open the push jobs stream: {0}")]
    Redis(#[from] Error),
}

pub struct PushDeliverer {
    courier: Arc<Courier>,
    /// Blocking reads, on a connection of their own.
    reader: StreamGroup,
    limits: Limits,
}

impl PushDeliverer {
    /// A deliverer signing with `key`, on connections of its own. Opening
    /// the stream waits up to `config.redis_wait` for a Redis that cannot
    /// answer yet, as the buyers do.
    pub async fn new(
        engine: &Engine,
        key: &VapidKey,
        settings: PushSettings,
        config: &WorkerConfig,
        metrics: &Arc<WorkerMetrics>,
    ) -> Result<Self, PushSetupError> {
        let sender = PushSender::new(
            key,
            &settings.subject,
            settings.timeout,
            settings.per_origin,
        )?;
        let give_up = Instant::now() + config.redis_wait;
        let (reader, group) = loop {
            let opened = async {
                Ok::<_, Error>((
                    engine.push_job_group(config.block).await?,
                    engine.push_job_group(Duration::ZERO).await?,
                ))
            };
            match opened.await {
                Err(Error::Unavailable(e)) if Instant::now() < give_up => {
                    tracing::warn!(error = %e, "Redis cannot answer yet; opening the push jobs again");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                opened => break opened?,
            }
        };
        let limits = limits(&settings, config);
        Ok(Self {
            courier: Arc::new(Courier {
                engine: engine.clone(),
                group,
                sender,
                products: ProductCache::new(engine.clone()),
                settings,
                config: config.clone(),
                metrics: metrics.clone(),
            }),
            reader,
            limits,
        })
    }

    /// Runs [`Self::run`] on a thread and runtime of its own. A push costs
    /// a few hundred µs of CPU, most of it the two P-256 operations RFC 8291
    /// asks of every message; on the worker's runtime a round's pushes would
    /// queue the buyers' and the sweeper's tasks behind them.
    pub fn spawn_on_own_thread(
        self,
        shutdown: watch::Receiver<bool>,
    ) -> std::io::Result<tokio::task::JoinHandle<()>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("web-push")
            .build()?;
        Ok(tokio::task::spawn_blocking(move || {
            runtime.block_on(self.run(shutdown))
        }))
    }

    /// Delivers until `shutdown` turns true; the pushes in flight finish
    /// first, every other job stays pending.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let courier = self.courier.clone();
        let (ask, mut asks) = mpsc::channel::<usize>(1);
        let (give, mut read) = mpsc::channel::<Result<Taken>>(1);
        let reader = self.reader;
        let consumer = courier.config.consumer.clone();
        let (claim_idle, block) = (courier.config.claim_idle, courier.config.block);
        tokio::spawn(async move {
            while let Some(count) = asks.recv().await {
                let taken = reader.next(&consumer, claim_idle, count, block).await;
                if give.send(taken).await.is_err() {
                    return;
                }
            }
        });

        let mut keeper = Keeper::spawn(courier.clone());
        let mut keeping = false;
        let mut queues = OriginQueues::new(self.limits);
        let mut sends: JoinSet<Done> = JoinSet::new();
        let mut sending: HashMap<tokio::task::Id, (String, String)> = HashMap::new();
        let keep_every = claim_idle / 2;
        let mut next_keep = Instant::now() + keep_every / 2;
        let mut asked = false;
        let mut read_failures = 0u32;
        let mut read_after = Instant::now();
        let paused = |origin: &str| courier.sender.paused_until(origin);
        let permit = |origin: &str| courier.sender.permit(origin);
        let mut give_up_at: Option<Instant> = None;
        loop {
            let stopping = *shutdown.borrow();
            let now = Instant::now();
            if stopping {
                let left = queues.let_go_of_idle();
                if left > 0 {
                    tracing::info!(jobs = left, "push jobs left pending for the other workers");
                }
                if sends.is_empty() && !asked {
                    return;
                }
                // A push gets no answer within its timeout only if something
                // is wrong (a push never waits for a pause): past it, what
                // is still in flight is left pending too.
                let deadline = *give_up_at.get_or_insert(now + courier.settings.timeout + GRACE);
                if now >= deadline && !sends.is_empty() {
                    tracing::warn!(
                        pushes = sends.len(),
                        "pushes still in flight at exit; left pending"
                    );
                    sends.abort_all();
                    sending.clear();
                    while sends.join_next().await.is_some() {}
                }
            } else {
                queues.shed_stuck(&paused, now);
                // The permit (rate and pause) is taken here, before a slot
                // is given: a task never waits for its origin in a slot.
                while let Some(job) = queues.next_to_send(&permit, now) {
                    let courier = courier.clone();
                    let ids = (job.origin.clone(), job.entry_id.clone());
                    let task = sends.spawn(async move { courier.deliver(job).await });
                    sending.insert(task.id(), ids);
                }
                if !asked && now >= read_after {
                    let room = queues.read_room(&paused, now).min(READ_BATCH);
                    if room > 0 && ask.send(room).await.is_ok() {
                        asked = true;
                    }
                }
            }
            // Only times ahead: a job due already waits for a push in
            // flight to come back, which wakes the loop anyway.
            let wake = [
                Some(next_keep),
                give_up_at,
                (!asked).then_some(read_after),
                queues.next_due(&paused),
            ]
            .into_iter()
            .flatten()
            .filter(|at| *at > now)
            .min()
            .unwrap_or(now + keep_every.max(Duration::from_millis(10)));
            tokio::select! {
                Some(taken) = read.recv(), if asked => {
                    asked = false;
                    match taken {
                        Ok(taken) if !*shutdown.borrow() => {
                            read_failures = 0;
                            self.courier.take(taken.entries, &mut queues, &paused).await;
                        }
                        // Read while stopping: left pending, as read.
                        Ok(_) => {}
                        Err(e) => {
                            read_failures += 1;
                            tracing::warn!(error = %e, "cannot read push jobs; retrying");
                            read_after = Instant::now() + courier.config.retry_delay(read_failures);
                        }
                    }
                }
                Some(finished) = sends.join_next_with_id(), if !sends.is_empty() => {
                    let (id, done) = match finished {
                        Ok((id, done)) => (id, done),
                        Err(e) => {
                            tracing::error!(error = %e, "a push delivery failed; its job stays pending");
                            (e.id(), Done { retry: None, heard: Heard::Nothing })
                        }
                    };
                    let Done { retry, heard } = done;
                    if let Some((origin, entry_id)) = sending.remove(&id) {
                        queues.sent(&origin, &entry_id, retry.map(|job| *job), heard, Instant::now());
                    }
                }
                Some(taken_over) = keeper.kept.recv(), if keeping => {
                    keeping = false;
                    for id in taken_over {
                        tracing::info!(entry = %id, "push job taken over by another worker");
                        queues.let_go(&id);
                    }
                }
                () = tokio::time::sleep_until(wake.into()) => {}
                _ = shutdown.changed(), if !stopping => {}
            }
            // One keeping at a time: a slow one is not doubled by the next.
            if !keeping && !*shutdown.borrow() && Instant::now() >= next_keep {
                let due = queues.due_for_keeping(keep_every, Instant::now());
                keeping = !due.is_empty() && keeper.due.send(due).await.is_ok();
                next_keep = Instant::now() + keep_every / 2;
            }
        }
    }
}

impl Courier {
    /// Queues the jobs just read; a job its origin has no room for stays
    /// pending (set aside), and an entry that holds no job is
    /// dead-lettered.
    async fn take(&self, entries: Vec<StreamId>, queues: &mut OriginQueues, paused: Paused<'_>) {
        let now = Instant::now();
        let mut set_aside = 0;
        for entry in entries {
            let job = match PushJob::from_entry(&entry) {
                Ok(job) => job,
                Err(e) => {
                    self.not_a_job(&entry, &e).await;
                    continue;
                }
            };
            let held = Held {
                entry_id: entry.id,
                origin: job.subscription.origin(),
                job,
                attempt: 1,
                claimed: false,
                kept_at: now,
                not_before: now,
            };
            if queues.offer(held, paused, now) == Offer::SetAside {
                set_aside += 1;
            }
        }
        if set_aside > 0 {
            tracing::debug!(jobs = set_aside, "push jobs set aside behind their origin");
            self.metrics.push_jobs_set_aside.inc_by(set_aside);
        }
    }

    /// An entry that holds no push job (written by hand, or by another
    /// version): dead-lettered with why, so it is neither lost nor read
    /// forever.
    async fn not_a_job(&self, entry: &StreamId, error: &Error) {
        tracing::warn!(entry = %entry.id, %error, "not a push job; dead-lettered");
        let fields = [
            ("entry_id", entry.id.clone()),
            ("reason", format!("not a push job: {error}")),
        ];
        let written = async {
            self.group.append(DEAD_PUSHES, &fields).await?;
            self.group.ack(&entry.id).await
        };
        match written.await {
            Ok(()) => {
                self.metrics.pushes_dead_lettered.inc();
            }
            Err(e) => {
                tracing::warn!(entry = %entry.id, error = %e, "cannot dead-letter it; left pending");
            }
        }
    }
}

/// Keeps the jobs a deliverer holds a while in the group, on a task of its
/// own: the loop hands it the ids due ([`OriginQueues::due_for_keeping`])
/// and goes on sending; it hands back those another worker took over
/// meanwhile, which the loop lets go.
struct Keeper {
    due: mpsc::Sender<Vec<String>>,
    kept: mpsc::Receiver<Vec<String>>,
}

impl Keeper {
    fn spawn(courier: Arc<Courier>) -> Self {
        let (due, mut dues) = mpsc::channel::<Vec<String>>(1);
        let (taken, kept) = mpsc::channel(1);
        tokio::spawn(async move {
            while let Some(ids) = dues.recv().await {
                let taken_over = courier.keep_all(ids).await;
                if taken.send(taken_over).await.is_err() {
                    return;
                }
            }
        });
        Self { due, kept }
    }
}

impl Courier {
    /// Keeps `ids` in the group, 16 calls at a time; returns those another
    /// worker took over. One that cannot be kept now is kept next time.
    async fn keep_all(&self, ids: Vec<String>) -> Vec<String> {
        let consumer = &self.config.consumer;
        let kept: Vec<(String, Result<bool>)> = futures_util::stream::iter(ids)
            .map(|id| async move {
                let kept = self.group.keep(consumer, &id).await;
                (id, kept)
            })
            .buffer_unordered(16)
            .collect()
            .await;
        kept.into_iter()
            .filter_map(|(id, kept)| match kept {
                Ok(true) => None,
                Ok(false) => Some(id),
                Err(e) => {
                    tracing::warn!(entry = %id, error = %e, "cannot keep a push job");
                    None
                }
            })
            .collect()
    }
}

/// How much a deliverer holds: each origin up to what its rate drains in
/// `claim_idle` (jobs set aside come back after that long, so it never runs
/// dry meanwhile), and the window twice that, so one full origin leaves as
/// much room for the others.
fn limits(settings: &PushSettings, config: &WorkerConfig) -> Limits {
    let concurrency = settings.concurrency.max(1);
    let rate = settings.per_origin.get() as usize;
    let drained = (rate as f64 * config.claim_idle.as_secs_f64()) as usize;
    let per_origin = drained.clamp(concurrency * 2, MAX_PER_ORIGIN.max(concurrency * 2));
    let in_flight_per_origin = (concurrency / 2).max(1);
    Limits {
        in_flight: concurrency,
        in_flight_per_origin,
        window: per_origin * 2,
        per_origin,
        per_stuck_origin: (in_flight_per_origin * 2).min(per_origin),
        stall_after: STALL_AFTER,
        backlog: rate.saturating_mul(2),
    }
}
