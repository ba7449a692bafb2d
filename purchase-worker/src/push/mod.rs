//! Web push, "Notify me": shoppers are told when a product's sale opens,
//! when it is back in stock, and when one of their holds is about to
//! expire, through their browsers' push services, with the tab closed.
//!
//! Three parts, each on its own task:
//!
//! - the [`PushPlanner`] (in the worker holding sweep partition 0) starts a
//!   product's rounds (its sale's start reached, its units back) and turns
//!   each round, a batch of subscriptions at a time, into push jobs on
//!   `fs:push:jobs`;
//! - the [`HoldExpiringPushes`] hook enqueues a job for each "expiring soon"
//!   notice the sweeper sends to a shopper who asked;
//! - the [`PushDeliverer`] (every worker with a VAPID key) reads the jobs
//!   through a consumer group and sends them ([`send`]: RFC 8291
//!   encryption, RFC 8292 VAPID), each push service origin at its own pace.
//!
//! The stream makes a job outlive the worker that planned or was sending
//! it; `claim_push` just before sending drops the duplicates a resumed round
//! or a crash makes, and keeps "back in stock" to once per quiet period.

pub mod deliverer;
mod delivery;
pub mod expiring;
pub mod origins;
pub mod payload;
pub mod planner;
mod products;
mod queues;
pub mod send;

use std::num::NonZeroU32;
use std::time::Duration;

pub use deliverer::PushDeliverer;
pub use expiring::HoldExpiringPushes;
pub use planner::PushPlanner;
pub use send::{Push, PushError, PushOutcome, PushSender, Urgency};

/// How a worker pushes.
#[derive(Clone, Debug)]
pub struct PushSettings {
    /// The VAPID `sub` claim: a `mailto:` or `https:` URL.
    pub subject: String,
    /// Pushes in flight at once, across origins.
    pub concurrency: usize,
    /// Pushes a second to one push service origin.
    pub per_origin: NonZeroU32,
    /// Tries of one push before it is dead-lettered.
    pub attempts: u32,
    /// "Back in stock" at most once per subscription in this long.
    pub quiet_period: Duration,
    /// How often the planner looks for rounds to start.
    pub interval: Duration,
    /// Longest one push may take.
    pub timeout: Duration,
    /// Subscriptions a round reads per step.
    pub round_batch: u32,
}

impl PushSettings {
    pub fn new(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            concurrency: 64,
            per_origin: NonZeroU32::new(1000).expect("not zero"),
            attempts: 5,
            quiet_period: Duration::from_secs(10 * 60),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            round_batch: 500,
        }
    }
}

/// Checks a VAPID subject: push services want a way to reach the sender,
/// and refuse tokens whose `sub` is neither a `mailto:` nor an `https:` URL.
pub fn check_subject(subject: &str) -> Result<(), String> {
    let valid = match subject.split_once(':') {
        Some(("mailto", address)) => {
            address.contains('@') && !address.contains(char::is_whitespace)
        }
        Some(("https", rest)) => rest.starts_with("//") && rest.len() > 2,
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(format!(
            "the VAPID subject {subject:?} is neither a mailto: address nor an https: URL"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::check_subject;

    #[test]
    fn a_subject_is_a_mailto_address_or_an_https_url() {
        assert!(check_subject("mailto:ops@shop.example").is_ok());
        assert!(check_subject("https://shop.example/contact").is_ok());
        assert!(check_subject("http://shop.example").is_err());
        assert!(check_subject("mailto:nobody").is_err());
        assert!(check_subject("ops@shop.example").is_err());
    }
}
