//! The push jobs a deliverer holds, queued by push service origin, and which
//! to send next: the origins take turns, each with at most its share of the
//! pushes in flight (the slots split between the origins with work, at most
//! half each), so a few slow origins cannot take every slot. An origin that
//! is paused (it answered `429`/`503` with `Retry-After`) or whose rate
//! allows no more yet gets no slot at all until then; one that is stalled
//! (pushes in flight and no answer for a while) or troubled (its last answer
//! was a throttle, a `5xx` or none) gets one push at a time, a probe, until
//! it answers well again, while the others go on.
//!
//! The stream is one queue for every origin, so a job of a quick origin may
//! sit behind thousands of a stuck one. Reading goes on past a stuck
//! origin's: the jobs it cannot hold beyond its bound are *set aside*, left
//! pending in the group unacknowledged, and taken again (by this worker or
//! another) once idle for `claim_idle`. A busy origin that still drains
//! holds reading back instead, up to its bound: its jobs would only come
//! back later, after everyone else's.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use reservation_core::PushJob;

/// A job held by this worker, from when it is read until it is
/// acknowledged or let go.
#[derive(Debug)]
pub(crate) struct Held {
    pub entry_id: String,
    pub job: PushJob,
    pub origin: String,
    /// Tries made so far.
    pub attempt: u32,
    /// Whether `claim_push` already said to send it: a retry is not
    /// claimed again.
    pub claimed: bool,
    /// When it was last read, claimed or kept in the group: once half of
    /// `claim_idle` ago, it must be kept again before others take it over.
    pub kept_at: Instant,
    /// Not sent before this (a retry's backoff).
    pub not_before: Instant,
}

/// How much a deliverer holds and sends.
#[derive(Clone, Debug)]
pub(crate) struct Limits {
    /// Pushes in flight at once.
    pub in_flight: usize,
    /// Most pushes in flight at once to one origin, whatever its share.
    pub in_flight_per_origin: usize,
    /// Jobs held at once (queued, waiting for a retry, in flight).
    pub window: usize,
    /// Jobs held for one origin that drains.
    pub per_origin: usize,
    /// Jobs held for one paused or stalled origin.
    pub per_stuck_origin: usize,
    /// An origin with pushes in flight and no answer this long is stalled.
    pub stall_after: Duration,
    /// Jobs an origin drains in a second or two (its rate): past that its
    /// jobs wait anyway, and it no longer holds reading back.
    pub backlog: usize,
}

/// What became of a job offered to the queues.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    Queued,
    /// Held already (a claim of its own entry).
    AlreadyHeld,
    /// Its origin holds all it may: left pending in the group.
    SetAside,
}

/// What a push that came back heard from its origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Heard {
    /// It was not sent (a duplicate, too late, the origin paused…).
    Nothing,
    /// An answer of a service that works: delivered, gone, refused.
    Answered,
    /// A throttle, a `5xx`, no answer at all, or a pause: the origin gets
    /// one push at a time until it answers well again.
    Troubled,
}

#[derive(Default)]
struct Origin {
    ready: VecDeque<Held>,
    waiting: Vec<Held>,
    in_flight: usize,
    /// When a push to it last came back, or its first went out.
    last_answer: Option<Instant>,
    /// Its last push heard [`Heard::Troubled`].
    troubled: bool,
}

impl Origin {
    fn held(&self) -> usize {
        self.ready.len() + self.waiting.len() + self.in_flight
    }

    fn stalled(&self, now: Instant, limits: &Limits) -> bool {
        self.in_flight > 0
            && self
                .last_answer
                .is_some_and(|at| now.duration_since(at) >= limits.stall_after)
    }
}

/// Tells whether an origin is paused, and until when.
pub(crate) type Paused<'a> = &'a (dyn Fn(&str) -> Option<Instant> + Sync);

/// Whether a push may go to an origin now (its rate, counted when `Ok`, and
/// its pause); when not, when to ask again.
pub(crate) type Permit<'a> = &'a (dyn Fn(&str) -> Result<(), Instant> + Sync);

pub(crate) struct OriginQueues {
    limits: Limits,
    origins: HashMap<String, Origin>,
    /// The origins' turns, round-robin.
    turns: VecDeque<String>,
    /// Entry ids held, so a claim of one's own entry is not held twice.
    held: HashSet<String>,
    in_flight: usize,
    /// The soonest an origin with jobs ready but refused a permit may be
    /// asked again, as the last [`OriginQueues::next_to_send`] found.
    permit_due: Option<Instant>,
}

impl OriginQueues {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            origins: HashMap::new(),
            turns: VecDeque::new(),
            held: HashSet::new(),
            in_flight: 0,
            permit_due: None,
        }
    }

    /// Queues a job just read, unless it is held already or its origin
    /// holds its bound.
    pub(crate) fn offer(&mut self, job: Held, paused: Paused<'_>, now: Instant) -> Offer {
        if self.held.contains(&job.entry_id) {
            return Offer::AlreadyHeld;
        }
        let limits = &self.limits;
        let origin = self.origins.entry(job.origin.clone()).or_default();
        let stuck = paused(&job.origin).is_some() || origin.stalled(now, limits);
        let bound = if stuck {
            limits.per_stuck_origin
        } else {
            limits.per_origin
        };
        if origin.held() >= bound {
            if origin.held() == 0 {
                self.origins.remove(&job.origin);
            }
            return Offer::SetAside;
        }
        if origin.held() == 0 {
            self.turns.push_back(job.origin.clone());
        }
        self.held.insert(job.entry_id.clone());
        if job.not_before > now {
            origin.waiting.push(job);
        } else {
            origin.ready.push_back(job);
        }
        Offer::Queued
    }

    /// How many entries to read now: room in the window, and no more than
    /// the fullest origin that still drains can take.
    pub(crate) fn read_room(&self, paused: Paused<'_>, now: Instant) -> usize {
        let limits = &self.limits;
        let mut room = limits.window.saturating_sub(self.held.len());
        for (name, origin) in &self.origins {
            let stuck = paused(name).is_some() || origin.stalled(now, limits);
            if !stuck && origin.held() < limits.backlog {
                room = room.min(limits.per_origin.saturating_sub(origin.held()));
            }
        }
        room
    }

    /// The next job to send, if one may go now: the origins take turns;
    /// one is skipped while at its share of the pushes in flight (one, a
    /// probe, while stalled or troubled), and when `permit` refuses it
    /// (paused, or its rate allows no more yet). The permit is asked last,
    /// since it counts a push against the origin's rate.
    pub(crate) fn next_to_send(&mut self, permit: Permit<'_>, now: Instant) -> Option<Held> {
        self.permit_due = None;
        if self.in_flight >= self.limits.in_flight {
            return None;
        }
        let share = self.share(now);
        for _ in 0..self.turns.len() {
            let name = self.turns.pop_front()?;
            self.turns.push_back(name.clone());
            let Some(origin) = self.origins.get_mut(&name) else {
                continue;
            };
            promote(origin, now);
            let probing = origin.troubled || origin.stalled(now, &self.limits);
            let cap = if probing { 1 } else { share };
            if origin.ready.is_empty() || origin.in_flight >= cap {
                continue;
            }
            if let Err(again) = permit(&name) {
                self.permit_due = Some(self.permit_due.map_or(again, |due| due.min(again)));
                continue;
            }
            let job = origin.ready.pop_front()?;
            if origin.in_flight == 0 {
                origin.last_answer = Some(now);
            }
            origin.in_flight += 1;
            self.in_flight += 1;
            return Some(job);
        }
        None
    }

    /// One origin's share of the pushes in flight: the slots split between
    /// the origins that have pushes in flight or ready, at least one, at
    /// most [`Limits::in_flight_per_origin`]. An origin over its share (more
    /// origins came since) sends again once it is back under it.
    fn share(&self, now: Instant) -> usize {
        let active = self
            .origins
            .values()
            .filter(|origin| {
                origin.in_flight > 0
                    || !origin.ready.is_empty()
                    || origin.waiting.iter().any(|job| job.not_before <= now)
            })
            .count()
            .max(1);
        (self.limits.in_flight / active).clamp(1, self.limits.in_flight_per_origin.max(1))
    }

    /// A push came back, having `heard` what it did from its origin.
    /// `retry`: the job, to be tried again at its `not_before`; without, it
    /// is done (acknowledged or let go).
    pub(crate) fn sent(
        &mut self,
        origin: &str,
        entry_id: &str,
        retry: Option<Held>,
        heard: Heard,
        now: Instant,
    ) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if let Some(state) = self.origins.get_mut(origin) {
            state.in_flight = state.in_flight.saturating_sub(1);
            match heard {
                // Not sent: says nothing of the origin.
                Heard::Nothing => {}
                Heard::Answered => {
                    state.last_answer = Some(now);
                    state.troubled = false;
                }
                Heard::Troubled => {
                    state.last_answer = Some(now);
                    state.troubled = true;
                }
            }
            match retry {
                Some(job) => state.waiting.push(job),
                None => {
                    self.held.remove(entry_id);
                }
            }
        } else {
            self.held.remove(entry_id);
        }
        self.forget_if_empty(origin);
    }

    /// Lets go of a job not in flight (another worker took it over). One
    /// in flight meanwhile is left to its delivery, which keeps it (or
    /// finds it taken) itself.
    pub(crate) fn let_go(&mut self, entry_id: &str) {
        if !self.held.contains(entry_id) {
            return;
        }
        let mut emptied = None;
        for (name, origin) in &mut self.origins {
            let before = origin.ready.len() + origin.waiting.len();
            origin.ready.retain(|job| job.entry_id != entry_id);
            origin.waiting.retain(|job| job.entry_id != entry_id);
            if origin.ready.len() + origin.waiting.len() != before {
                emptied = Some(name.clone());
                break;
            }
        }
        if let Some(name) = emptied {
            self.held.remove(entry_id);
            self.forget_if_empty(&name);
        }
    }

    /// The jobs not in flight last kept `every` ago or more, marked kept
    /// now: the caller keeps them in the group (and lets go of those it
    /// finds taken over).
    pub(crate) fn due_for_keeping(&mut self, every: Duration, now: Instant) -> Vec<String> {
        let mut due = Vec::new();
        for origin in self.origins.values_mut() {
            for job in origin.ready.iter_mut().chain(origin.waiting.iter_mut()) {
                if now.duration_since(job.kept_at) >= every {
                    job.kept_at = now;
                    due.push(job.entry_id.clone());
                }
            }
        }
        due
    }

    /// Paused or stalled origins holding more than such an origin may give
    /// back their newest jobs, left pending for later: the window is then
    /// free for the origins that drain. Returns how many were let go.
    pub(crate) fn shed_stuck(&mut self, paused: Paused<'_>, now: Instant) -> usize {
        let limits = &self.limits;
        let mut shed = 0;
        for (name, origin) in &mut self.origins {
            if paused(name).is_none() && !origin.stalled(now, limits) {
                continue;
            }
            while origin.held() > limits.per_stuck_origin {
                let Some(job) = origin.ready.pop_back().or_else(|| origin.waiting.pop()) else {
                    break;
                };
                self.held.remove(&job.entry_id);
                shed += 1;
            }
        }
        shed
    }

    /// When a job next becomes due: a retry's time, a paused origin's end
    /// of pause (its queue is ready then), or when an origin refused a
    /// permit by its rate may be asked again.
    pub(crate) fn next_due(&self, paused: Paused<'_>) -> Option<Instant> {
        self.origins
            .iter()
            .flat_map(|(name, origin)| {
                let retry = origin.waiting.iter().map(|job| job.not_before).min();
                let resume = (!origin.ready.is_empty()).then(|| paused(name)).flatten();
                retry.into_iter().chain(resume)
            })
            .chain(self.permit_due)
            .min()
    }

    /// Lets go of every job not in flight (the worker is stopping): they
    /// stay pending for another worker. Returns how many.
    pub(crate) fn let_go_of_idle(&mut self) -> usize {
        let mut count = 0;
        for origin in self.origins.values_mut() {
            for job in origin.ready.drain(..).chain(origin.waiting.drain(..)) {
                self.held.remove(&job.entry_id);
                count += 1;
            }
        }
        self.origins.retain(|_, origin| origin.in_flight > 0);
        let origins = &self.origins;
        self.turns.retain(|name| origins.contains_key(name));
        count
    }

    fn forget_if_empty(&mut self, name: &str) {
        if self
            .origins
            .get(name)
            .is_some_and(|origin| origin.held() == 0)
        {
            self.origins.remove(name);
            self.turns.retain(|turn| turn != name);
        }
    }
}

/// Moves an origin's retries that are due to the front of its queue: they
/// were read before anything queued behind them.
fn promote(origin: &mut Origin, now: Instant) {
    let mut index = 0;
    while index < origin.waiting.len() {
        if origin.waiting[index].not_before <= now {
            let job = origin.waiting.swap_remove(index);
            origin.ready.push_front(job);
        } else {
            index += 1;
        }
    }
}

#[cfg(test)]
#[path = "queues_tests.rs"]
mod tests;
