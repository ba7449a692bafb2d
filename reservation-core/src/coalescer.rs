//! Request coalescing on the reserve path.
//!
//! In a flash sale nearly every reserve hits one product, so one Redis slot,
//! and with one script call per request Redis's cost per call (reading the
//! command, setting up the script, writing the reply) becomes the limit. The
//! coalescer groups the reserves for one product that arrive while that
//! product's calls are in flight and sends them as one
//! [`Engine::reserve_many`] call: one atomic script in which each request is
//! decided as if it came alone, so each still gets its own exact answer and
//! idempotency and per-customer limits hold inside a batch.
//!
//! A reserve for a product with a free call slot is sent at once, from the
//! caller's own task: on a quiet product coalescing adds no wait and no task
//! hop. Requests queue only behind calls already in flight, and `linger`
//! (zero by default) is the most a busy product's next batch waits to fill
//! up.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::types::{Reservation, ReserveRequest, Sku};

/// How reserves are grouped.
#[derive(Clone, Debug)]
pub struct CoalescerConfig {
    /// Most requests in one script call, up to
    /// [`Engine::MAX_RESERVES_PER_CALL`]; 1 turns coalescing off (every
    /// reserve is its own call, as many at once as callers send).
    pub max_batch: usize,
    /// Script calls in flight per product. Two keep Redis busy while the
    /// answers of the last call travel back.
    pub calls_per_product: usize,
    /// How long a busy product's next batch may wait to fill up.
    pub linger: Duration,
}

impl Default for CoalescerConfig {
    fn default() -> Self {
        Self {
            max_batch: 64,
            calls_per_product: 2,
            linger: Duration::ZERO,
        }
    }
}

/// Calls made and requests they carried, since the coalescer started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoalescerStats {
    pub calls: u64,
    pub requests: u64,
}

struct Waiting {
    request: ReserveRequest,
    answer: oneshot::Sender<Result<Reservation>>,
}

/// What a reserve does on reaching its lane.
enum Turn {
    SendNow(ReserveRequest),
    Wait(oneshot::Receiver<Result<Reservation>>),
}

#[derive(Default)]
struct Lane {
    waiting: VecDeque<Waiting>,
    calls_in_flight: usize,
}

/// Groups concurrent reserves per product into single script calls.
pub struct ReserveCoalescer {
    engine: Engine,
    config: CoalescerConfig,
    lanes: Mutex<HashMap<Sku, Lane>>,
    calls: AtomicU64,
    requests: AtomicU64,
}

impl ReserveCoalescer {
    pub fn new(engine: Engine, config: CoalescerConfig) -> Arc<Self> {
        Arc::new(Self {
            engine,
            config: CoalescerConfig {
                max_batch: config.max_batch.clamp(1, Engine::MAX_RESERVES_PER_CALL),
                calls_per_product: config.calls_per_product.max(1),
                ..config
            },
            lanes: Mutex::new(HashMap::new()),
            calls: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        })
    }

    /// Reserves as [`Engine::reserve`] does, possibly in one call with other
    /// reserves for the same product.
    pub async fn reserve(self: &Arc<Self>, request: ReserveRequest) -> Result<Reservation> {
        if self.config.max_batch == 1 {
            return self.call_alone(&request).await;
        }
        let turn = {
            let mut lanes = self.lanes();
            let lane = lanes.entry(request.sku.clone()).or_default();
            if lane.calls_in_flight < self.config.calls_per_product {
                lane.calls_in_flight += 1;
                Turn::SendNow(request)
            } else {
                let (answer, answered) = oneshot::channel();
                lane.waiting.push_back(Waiting { request, answer });
                Turn::Wait(answered)
            }
        };
        match turn {
            Turn::Wait(answered) => answered.await.map_err(|_| {
                Error::Internal("the reserve call ended without an answer".to_owned())
            })?,
            Turn::SendNow(request) => {
                // A lane's slot is given back only once nothing waits, so a
                // free slot means this request is a batch of its own. It is
                // sent from the caller's task, one task hop fewer on the
                // quiet path; the slot passes to the requests queued behind
                // it when the call ends, or when its caller goes away.
                let _slot = CallSlot {
                    coalescer: self,
                    sku: &request.sku,
                };
                self.call_alone(&request).await
            }
        }
    }

    async fn call_alone(&self, request: &ReserveRequest) -> Result<Reservation> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.engine.reserve(request).await
    }

    pub fn stats(&self) -> CoalescerStats {
        CoalescerStats {
            calls: self.calls.load(Ordering::Relaxed),
            requests: self.requests.load(Ordering::Relaxed),
        }
    }

    fn lanes(&self) -> std::sync::MutexGuard<'_, HashMap<Sku, Lane>> {
        self.lanes.lock().expect("the lanes lock is never poisoned")
    }

    fn take(&self, lane: &mut Lane) -> Vec<Waiting> {
        let n = lane.waiting.len().min(self.config.max_batch);
        lane.waiting.drain(..n).collect()
    }

    /// Passes a finished call's slot to the requests queued behind it, sent
    /// from a task of their own so that no caller's going away strands them;
    /// or gives it back when nothing waits.
    fn hand_on(self: &Arc<Self>, sku: &Sku) {
        let mut lanes = self.lanes();
        let lane = lanes.get_mut(sku).expect("a lane lives while it has calls");
        if lane.waiting.is_empty() {
            release(&mut lanes, sku);
        } else if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(self.clone().drive(sku.clone()));
        } else {
            // Only a runtime shutting down drops a call outside of it; the
            // waiters' answers go with it, each seeing the call end unanswered.
            lane.waiting.clear();
            release(&mut lanes, sku);
        }
    }

    /// Sends batches for `sku` until nothing waits, then gives the slot back.
    async fn drive(self: Arc<Self>, sku: Sku) {
        loop {
            if !self.config.linger.is_zero() && self.has_partial_batch(&sku) {
                tokio::time::sleep(self.config.linger).await;
            }
            match self.next_batch(&sku) {
                Some(batch) => self.send(batch).await,
                None => return,
            }
        }
    }

    fn has_partial_batch(&self, sku: &Sku) -> bool {
        self.lanes()
            .get(sku)
            .is_some_and(|lane| (1..self.config.max_batch).contains(&lane.waiting.len()))
    }

    fn next_batch(&self, sku: &Sku) -> Option<Vec<Waiting>> {
        let mut lanes = self.lanes();
        let lane = lanes.get_mut(sku).expect("a lane lives while it has calls");
        if lane.waiting.is_empty() {
            release(&mut lanes, sku);
            return None;
        }
        Some(self.take(lane))
    }

    async fn send(&self, batch: Vec<Waiting>) {
        let (requests, answers): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|w| (w.request, w.answer)).unzip();
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.requests
            .fetch_add(requests.len() as u64, Ordering::Relaxed);
        match self.engine.reserve_many(&requests).await {
            Ok(results) => {
                for (answer, result) in answers.into_iter().zip(results) {
                    // A caller that went away no longer wants its answer.
                    let _ = answer.send(result);
                }
            }
            Err(error) => {
                for answer in answers {
                    let _ = answer.send(Err(error.for_each_of_many()));
                }
            }
        }
    }
}

fn release(lanes: &mut HashMap<Sku, Lane>, sku: &Sku) {
    let lane = lanes.get_mut(sku).expect("a lane lives while it has calls");
    lane.calls_in_flight -= 1;
    if lane.calls_in_flight == 0 {
        lanes.remove(sku);
    }
}

/// A call slot held by a caller sending its own request.
struct CallSlot<'a> {
    coalescer: &'a Arc<ReserveCoalescer>,
    sku: &'a Sku,
}

impl Drop for CallSlot<'_> {
    fn drop(&mut self) {
        self.coalescer.hand_on(self.sku);
    }
}
