//! The shape of the reserve traffic: which product, which shopper, how many
//! units, and what the shopper does next.

use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;
use rand_distr::{Distribution, Zipf};

/// How traffic spreads over the products.
#[derive(Clone, Debug)]
pub enum Skew {
    /// The first product gets `share` of the calls, the rest share the remainder.
    Hot { share: f64 },
    /// Every product alike.
    Uniform,
    /// The k-th product gets calls in proportion to 1/k^exponent.
    Zipf(Zipf<f64>),
}

impl Skew {
    pub fn zipf(products: usize, exponent: f64) -> Result<Self, String> {
        Zipf::new(products as f64, exponent)
            .map(Skew::Zipf)
            .map_err(|e| format!("zipf exponent {exponent}: {e}"))
    }
}

/// What the shopper does after a new hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowUp {
    Keep,
    Confirm,
    Cancel,
}

/// One reserve to send.
#[derive(Clone, Debug)]
pub struct Intent {
    pub product: usize,
    pub customer: String,
    pub quantity: i64,
    pub request_id: String,
    /// Send the same request again after the answer (a client retry).
    pub retry: bool,
    pub follow_up: FollowUp,
}

/// Draws reserves: every `request_id` unique to this run, customers from a
/// fixed population so per-customer limits bite.
#[derive(Debug)]
pub struct Traffic {
    pub run_id: String,
    pub products: usize,
    pub skew: Skew,
    pub quantity: RangeInclusive<i64>,
    pub customers: u64,
    pub retry_fraction: f64,
    pub confirm_fraction: f64,
    pub cancel_fraction: f64,
    next_request: AtomicU64,
}

impl Traffic {
    pub fn new(run_id: String, products: usize, skew: Skew) -> Self {
        Self {
            run_id,
            products,
            skew,
            quantity: 1..=1,
            customers: 100_000,
            retry_fraction: 0.0,
            confirm_fraction: 0.0,
            cancel_fraction: 0.0,
            next_request: AtomicU64::new(0),
        }
    }

    pub fn draw(&self, rng: &mut impl Rng) -> Intent {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        let follow = rng.random::<f64>();
        Intent {
            product: self.product(rng),
            customer: format!("{}-c{}", self.run_id, rng.random_range(0..self.customers)),
            quantity: rng.random_range(self.quantity.clone()),
            request_id: format!("{}-r{n}", self.run_id),
            retry: rng.random::<f64>() < self.retry_fraction,
            follow_up: if follow < self.confirm_fraction {
                FollowUp::Confirm
            } else if follow < self.confirm_fraction + self.cancel_fraction {
                FollowUp::Cancel
            } else {
                FollowUp::Keep
            },
        }
    }

    fn product(&self, rng: &mut impl Rng) -> usize {
        if self.products <= 1 {
            return 0;
        }
        match &self.skew {
            Skew::Hot { share } if rng.random::<f64>() < *share => 0,
            Skew::Hot { .. } => rng.random_range(1..self.products),
            Skew::Uniform => rng.random_range(0..self.products),
            Skew::Zipf(zipf) => (zipf.sample(rng) as usize - 1).min(self.products - 1),
        }
    }
}

/// Reads `--quantity`: `N` or `LOW-HIGH`.
pub fn parse_quantity(text: &str) -> Result<RangeInclusive<i64>, String> {
    let bad = || format!("quantity {text:?} is not N or LOW-HIGH with 1 <= LOW <= HIGH");
    let (low, high) = match text.split_once('-') {
        Some((low, high)) => (low.trim(), high.trim()),
        None => (text.trim(), text.trim()),
    };
    let low: i64 = low.parse().map_err(|_| bad())?;
    let high: i64 = high.parse().map_err(|_| bad())?;
    if low < 1 || low > high {
        return Err(bad());
    }
    Ok(low..=high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn counts(traffic: &Traffic, draws: usize) -> Vec<usize> {
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = vec![0; traffic.products];
        for _ in 0..draws {
            counts[traffic.draw(&mut rng).product] += 1;
        }
        counts
    }

    #[test]
    fn the_hot_product_gets_its_share() {
        let traffic = Traffic::new("t".into(), 5, Skew::Hot { share: 0.9 });
        let counts = counts(&traffic, 10_000);
        assert!((8_800..9_200).contains(&counts[0]), "{counts:?}");
        assert!(counts[1..].iter().all(|&c| c > 150), "{counts:?}");
    }

    #[test]
    fn zipf_favours_the_first_products() {
        let traffic = Traffic::new("t".into(), 10, Skew::zipf(10, 1.0).unwrap());
        let counts = counts(&traffic, 10_000);
        assert!(counts[0] > counts[1] && counts[1] > counts[9], "{counts:?}");
    }

    #[test]
    fn request_ids_are_unique_and_follow_ups_keep_their_fractions() {
        let mut traffic = Traffic::new("run".into(), 1, Skew::Uniform);
        traffic.confirm_fraction = 0.25;
        traffic.cancel_fraction = 0.25;
        traffic.retry_fraction = 0.1;
        let mut rng = StdRng::seed_from_u64(1);
        let intents: Vec<_> = (0..4000).map(|_| traffic.draw(&mut rng)).collect();
        let ids: std::collections::HashSet<_> = intents.iter().map(|i| &i.request_id).collect();
        assert_eq!(ids.len(), 4000);
        let confirms = intents
            .iter()
            .filter(|i| i.follow_up == FollowUp::Confirm)
            .count();
        let retries = intents.iter().filter(|i| i.retry).count();
        assert!((850..1150).contains(&confirms), "{confirms}");
        assert!((300..500).contains(&retries), "{retries}");
    }

    #[test]
    fn quantities_are_a_number_or_a_range() {
        assert_eq!(parse_quantity("2"), Ok(2..=2));
        assert_eq!(parse_quantity("1-3"), Ok(1..=3));
        assert!(parse_quantity("0").is_err());
        assert!(parse_quantity("3-1").is_err());
    }
}
