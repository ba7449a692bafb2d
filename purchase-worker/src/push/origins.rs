//! Each push service origin (`https://fcm.googleapis.com`,
//! `https://updates.push.services.mozilla.com`, …) gets its own pace: a rate
//! limit of so many pushes a second, and a pause when it asked for one (a
//! `429` or `503` with `Retry-After`, or a short default after a `429`
//! without). Nothing here waits through a pause: a caller is told until when
//! and keeps its push for then, so a service that throttles or stalls holds
//! up its own pushes and takes nobody else's turn or send slot.
//!
//! Endpoints come from shoppers' browsers, so the origins are not a fixed
//! list: what is kept of an origin is forgotten once it has been idle a
//! while, and a pause never lasts longer than [`MAX_PAUSE`].

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

/// The longest an origin is paused, whatever its `Retry-After` says: a
/// service answering "come back next week" is more likely wrong than
/// meaning it, and the jobs would outlive their use anyway.
pub const MAX_PAUSE: Duration = Duration::from_secs(60 * 60);

/// How long an origin is paused after a `429` that does not say how long.
pub const DEFAULT_THROTTLE_PAUSE: Duration = Duration::from_secs(1);

/// How often the idle origins are forgotten.
const FORGET_EVERY: Duration = Duration::from_secs(60);

/// The clock is named rather than governor's default one, which changes
/// with the features other crates of the workspace turn on: this one's
/// instants are `std::time::Instant`, which tokio sleeps until.
type Limiter =
    RateLimiter<String, DashMapStateStore<String>, MonotonicClock, NoOpMiddleware<Instant>>;

/// The per-origin rate limits and pauses of one sender.
pub struct Origins {
    limiter: Limiter,
    pauses: Mutex<Pauses>,
}

struct Pauses {
    until: HashMap<String, Instant>,
    forgotten_at: Instant,
}

impl Origins {
    /// At most `per_second` pushes a second to each origin, in bursts of
    /// up to a second's worth.
    pub fn new(per_second: NonZeroU32) -> Self {
        Self {
            limiter: RateLimiter::dashmap_with_clock(Quota::per_second(per_second), MonotonicClock),
            pauses: Mutex::new(Pauses {
                until: HashMap::new(),
                forgotten_at: Instant::now(),
            }),
        }
    }

    /// Whether a push may go to `origin` now, without waiting: when it is
    /// paused, `Err(end of the pause)`; when its rate allows no more yet,
    /// `Err(when it will)`; otherwise `Ok`, and the push is counted against
    /// the rate. A caller with pushes for many origins asks this before it
    /// gives a push a slot, so a slot never waits for an origin.
    pub fn permit(&self, origin: &str) -> Result<(), Instant> {
        self.forget_idle();
        if let Some(until) = self.paused_until(origin) {
            return Err(until);
        }
        self.limiter
            .check_key(&origin.to_owned())
            .map_err(|not_until| {
                Instant::now() + not_until.wait_time_from(self.limiter.clock().now())
            })
    }

    /// Waits for `origin`'s rate to allow a push, but never through a
    /// pause: `Err(end of the pause)` as soon as it is paused, before or
    /// while waiting (the caller decides what to do with the time).
    pub async fn rate(&self, origin: &str) -> Result<(), Instant> {
        loop {
            match self.permit(origin) {
                Ok(()) => return Ok(()),
                Err(at) => {
                    if let Some(until) = self.paused_until(origin) {
                        return Err(until);
                    }
                    tokio::time::sleep_until(at.into()).await;
                }
            }
        }
    }

    /// Holds back the pushes to `origin` for `pause` (at most
    /// [`MAX_PAUSE`]). A pause already longer is kept: two answers in a row
    /// must not shorten what the first asked.
    pub fn pause(&self, origin: &str, pause: Duration) {
        let until = Instant::now() + pause.min(MAX_PAUSE);
        let mut pauses = self.pauses.lock().expect("the pauses' lock");
        let entry = pauses.until.entry(origin.to_owned()).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// When `origin`'s pause ends, if it is paused now.
    pub fn paused_until(&self, origin: &str) -> Option<Instant> {
        let pauses = self.pauses.lock().expect("the pauses' lock");
        pauses
            .until
            .get(origin)
            .copied()
            .filter(|&until| until > Instant::now())
    }

    /// How many origins are remembered: rate-limited recently or paused.
    pub fn remembered(&self) -> usize {
        self.limiter.len() + self.pauses.lock().expect("the pauses' lock").until.len()
    }

    /// Forgets, at most once every [`FORGET_EVERY`], the origins whose
    /// rate state is back to fresh and whose pause is over, so the memory
    /// kept is that of the origins pushed to lately.
    fn forget_idle(&self) {
        let now = Instant::now();
        {
            let mut pauses = self.pauses.lock().expect("the pauses' lock");
            if now.duration_since(pauses.forgotten_at) < FORGET_EVERY {
                return;
            }
            pauses.forgotten_at = now;
            pauses.until.retain(|_, until| *until > now);
            pauses.until.shrink_to_fit();
        }
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_pause_is_kept_until_it_ends_and_never_shortened() {
        let origins = Origins::new(NonZeroU32::new(100).unwrap());
        assert_eq!(origins.paused_until("https://a.example"), None);
        origins.pause("https://a.example", Duration::from_secs(30));
        let long = origins.paused_until("https://a.example").unwrap();
        origins.pause("https://a.example", Duration::from_secs(1));
        assert_eq!(origins.paused_until("https://a.example"), Some(long));
        assert_eq!(origins.paused_until("https://b.example"), None);
    }

    #[tokio::test]
    async fn a_pause_is_capped() {
        let origins = Origins::new(NonZeroU32::new(100).unwrap());
        origins.pause("https://a.example", Duration::from_secs(7 * 24 * 3600));
        let until = origins.paused_until("https://a.example").unwrap();
        assert!(until <= Instant::now() + MAX_PAUSE);
    }

    #[tokio::test]
    async fn a_permit_never_waits_and_tells_when_to_ask_again() {
        let origins = Origins::new(NonZeroU32::new(1).unwrap());
        let before = Instant::now();
        assert_eq!(origins.permit("https://a.example"), Ok(()));
        let again = origins.permit("https://a.example").unwrap_err();
        assert!(again > before && again <= Instant::now() + Duration::from_secs(1));
        assert_eq!(origins.permit("https://b.example"), Ok(()));
        origins.pause("https://b.example", Duration::from_secs(30));
        let until = origins.paused_until("https://b.example").unwrap();
        assert_eq!(origins.permit("https://b.example"), Err(until));
        // Waiting for the rate stops at a pause rather than sleep through it.
        origins.pause("https://a.example", Duration::from_secs(30));
        let paused =
            tokio::time::timeout(Duration::from_secs(2), origins.rate("https://a.example"));
        assert!(paused.await.expect("no wait through a pause").is_err());
    }

    #[tokio::test]
    async fn idle_origins_are_forgotten() {
        let origins = Origins::new(NonZeroU32::new(1000).unwrap());
        for i in 0..50 {
            origins.permit(&format!("https://{i}.example")).unwrap();
        }
        origins.pause("https://gone.example", Duration::from_millis(1));
        assert!(origins.remembered() >= 50);
        // A thousand a second: a permit's trace is gone after a millisecond.
        tokio::time::sleep(Duration::from_millis(20)).await;
        origins.pauses.lock().unwrap().forgotten_at -= FORGET_EVERY;
        origins.permit("https://new.example").unwrap();
        assert!(origins.remembered() <= 1, "{}", origins.remembered());
    }
}
