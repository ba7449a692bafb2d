//! Abuse limits: how fast one customer, or one address, may reserve; how many
//! Socket.IO sockets the node, and one address, may hold; and how fast new
//! Socket.IO sessions may open, so that a reconnect storm is turned away at
//! a steady rate instead of taking the node down.
//!
//! Rates are token buckets (the `governor` crate): a burst of the configured
//! size, refilled at the configured rate. A refused call is told when to come
//! back. Behind a load balancer every client shares the balancer's address,
//! so the per-address limits are off unless configured.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use reservation_core::CustomerId;

/// The reason a refusal by these limits carries, over gRPC and HTTP.
pub const RATE_LIMITED: &str = "RATE_LIMITED";

/// The limits a node enforces. A zero turns that limit off.
#[derive(Clone, Debug)]
pub struct LimitOptions {
    /// Units one customer may reserve per second (a burst of as many).
    pub reserves_per_customer: u32,
    /// Units one client address may reserve per second (a burst of as many).
    pub reserves_per_address: u32,
    /// Sockets the node holds at once.
    pub max_sockets: usize,
    /// Sockets one client address holds at once.
    pub max_sockets_per_address: usize,
    /// New Socket.IO sessions the node accepts per second, with a burst of
    /// five seconds' worth.
    pub session_opens_per_second: u32,
}

impl LimitOptions {
    /// Every limit off, for tests that measure something else.
    pub fn unlimited() -> Self {
        Self {
            reserves_per_customer: 0,
            reserves_per_address: 0,
            max_sockets: 0,
            max_sockets_per_address: 0,
            session_opens_per_second: 0,
        }
    }
}

impl Default for LimitOptions {
    fn default() -> Self {
        Self {
            reserves_per_customer: 20,
            reserves_per_address: 0,
            max_sockets: 100_000,
            max_sockets_per_address: 0,
            session_opens_per_second: 2_000,
        }
    }
}

/// Why a call or a socket was turned away.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Limited {
    #[error("too many reserves from this {who}; retry in {} ms", retry_after.as_millis())]
    TooFast {
        who: &'static str,
        retry_after: Duration,
    },
    #[error("too many new sessions on this node; retry in {} ms", retry_after.as_millis())]
    TooManyOpens { retry_after: Duration },
    #[error("this {who} already holds {max} sockets")]
    TooManySockets { who: &'static str, max: usize },
}

impl Limited {
    /// When the caller may try again, if waiting helps.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::TooFast { retry_after, .. } | Self::TooManyOpens { retry_after } => {
                Some(*retry_after)
            }
            Self::TooManySockets { .. } => None,
        }
    }
}

/// The node's limits and the state they keep.
pub struct Limits {
    per_customer: Option<DefaultKeyedRateLimiter<CustomerId>>,
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    opens: Option<DefaultDirectRateLimiter>,
    sockets: Arc<Mutex<SocketCount>>,
    options: LimitOptions,
}

#[derive(Default)]
struct SocketCount {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl Limits {
    pub fn new(options: LimitOptions) -> Self {
        let per_second = |rate: u32| NonZeroU32::new(rate).map(Quota::per_second);
        Self {
            per_customer: per_second(options.reserves_per_customer).map(RateLimiter::keyed),
            per_address: per_second(options.reserves_per_address).map(RateLimiter::keyed),
            opens: NonZeroU32::new(options.session_opens_per_second).map(|rate| {
                let burst = rate.saturating_mul(NonZeroU32::new(5).expect("five"));
                RateLimiter::direct(Quota::per_second(rate).allow_burst(burst))
            }),
            sockets: Arc::default(),
            options,
        }
    }

    /// Takes `units` from the customer's and the address's buckets, or says
    /// when there will be enough.
    pub fn reserve(
        &self,
        customer: &CustomerId,
        address: Option<IpAddr>,
        units: u32,
    ) -> Result<(), Limited> {
        let units = NonZeroU32::new(units.max(1)).expect("at least one");
        if let Some(limiter) = &self.per_customer {
            take(limiter, customer, units, "customer")?;
        }
        if let (Some(limiter), Some(address)) = (&self.per_address, address) {
            take(limiter, &address, units, "address")?;
        }
        Ok(())
    }

    /// Admits a new Socket.IO session, or turns it away for a while.
    pub fn open_session(&self) -> Result<(), Limited> {
        match &self.opens {
            Some(limiter) => limiter.check().map_err(|not_until| Limited::TooManyOpens {
                retry_after: not_until.wait_time_from(limiter.clock().now()),
            }),
            None => Ok(()),
        }
    }

    /// Counts a socket against the node's and its address's caps; the count
    /// drops when the permit does.
    pub fn hold_socket(&self, address: Option<IpAddr>) -> Result<SocketPermit, Limited> {
        let mut count = self.sockets.lock().expect("socket count lock");
        let (max, per_address) = (
            self.options.max_sockets,
            self.options.max_sockets_per_address,
        );
        if max > 0 && count.total >= max {
            return Err(Limited::TooManySockets { who: "node", max });
        }
        let address = address.filter(|_| per_address > 0);
        if let Some(address) = address {
            if count.by_address.get(&address).copied().unwrap_or(0) >= per_address {
                return Err(Limited::TooManySockets {
                    who: "address",
                    max: per_address,
                });
            }
            *count.by_address.entry(address).or_default() += 1;
        }
        count.total += 1;
        Ok(SocketPermit {
            count: self.sockets.clone(),
            address,
        })
    }

    /// Forgets buckets that are full again, so the per-key state stays as
    /// small as the set of recent callers.
    pub fn forget_idle(&self) {
        forget_idle(&self.per_customer);
        forget_idle(&self.per_address);
    }
}

/// Every minute until `stopped`, lets the limits forget idle callers.
pub async fn forget_idle_callers(
    limits: std::sync::Weak<Limits>,
    stopped: impl Future<Output = ()>,
) {
    let mut every_minute = tokio::time::interval(Duration::from_secs(60));
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = every_minute.tick() => match limits.upgrade() {
                Some(limits) => limits.forget_idle(),
                None => return,
            },
            () = &mut stopped => return,
        }
    }
}

fn forget_idle<K: std::hash::Hash + Eq + Clone>(limiter: &Option<DefaultKeyedRateLimiter<K>>) {
    if let Some(limiter) = limiter {
        limiter.retain_recent();
        limiter.shrink_to_fit();
    }
}

fn take<K: std::hash::Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
    units: NonZeroU32,
    who: &'static str,
) -> Result<(), Limited> {
    // The wait is read off the limiter's own clock, and only on a refusal:
    // a new clock calibrates itself first, which cost more than the reserve.
    match limiter.check_key_n(key, units) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(not_until)) => Err(Limited::TooFast {
            who,
            retry_after: not_until.wait_time_from(limiter.clock().now()),
        }),
        // More units at once than a whole burst: never, at this rate.
        Err(_) => Err(Limited::TooFast {
            who,
            retry_after: Duration::from_secs(1),
        }),
    }
}

/// One socket counted against the caps, until dropped.
pub struct SocketPermit {
    count: Arc<Mutex<SocketCount>>,
    address: Option<IpAddr>,
}

impl Drop for SocketPermit {
    fn drop(&mut self) {
        let mut count = self.count.lock().expect("socket count lock");
        count.total -= 1;
        if let Some(address) = self.address
            && let Some(held) = count.by_address.get_mut(&address)
        {
            *held -= 1;
            if *held == 0 {
                count.by_address.remove(&address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn customer(name: &str) -> CustomerId {
        CustomerId::new(name).unwrap()
    }

    #[test]
    fn a_customer_gets_a_burst_then_is_told_when_to_come_back() {
        let limits = Limits::new(LimitOptions {
            reserves_per_customer: 5,
            ..LimitOptions::unlimited()
        });
        assert!(limits.reserve(&customer("ann"), None, 3).is_ok());
        assert!(limits.reserve(&customer("ann"), None, 2).is_ok());
        let refused = limits.reserve(&customer("ann"), None, 1).unwrap_err();
        let wait = refused.retry_after().unwrap();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        assert!(
            limits.reserve(&customer("bob"), None, 5).is_ok(),
            "buckets are per customer"
        );
        assert!(
            limits.reserve(&customer("bob"), None, 6).is_err(),
            "more than a burst"
        );
    }

    #[test]
    fn sockets_are_capped_per_address_and_per_node_until_their_permits_drop() {
        let limits = Limits::new(LimitOptions {
            max_sockets: 3,
            max_sockets_per_address: 2,
            ..LimitOptions::unlimited()
        });
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let first = limits.hold_socket(Some(a)).unwrap();
        let _second = limits.hold_socket(Some(a)).unwrap();
        assert!(matches!(
            limits.hold_socket(Some(a)),
            Err(Limited::TooManySockets {
                who: "address",
                max: 2
            })
        ));
        let _third = limits.hold_socket(Some(b)).unwrap();
        assert!(matches!(
            limits.hold_socket(Some(b)),
            Err(Limited::TooManySockets {
                who: "node",
                max: 3
            })
        ));
        drop(first);
        assert!(limits.hold_socket(Some(a)).is_ok());
    }
}
