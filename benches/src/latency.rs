//! Latency recording: HDR histograms in microseconds, summarised as the
//! percentiles every report shows.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Longest latency recorded exactly; longer ones are recorded as this.
const MAX_MICROS: u64 = 3_600_000_000;

/// A histogram of latencies, 3 significant digits, 1 µs to an hour.
#[derive(Clone, Debug)]
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds"))
    }
}

impl Latencies {
    /// Two significant digits: a tenth of the memory, for per-second figures.
    pub fn coarse() -> Self {
        Self(Histogram::new_with_bounds(1, MAX_MICROS, 2).expect("valid histogram bounds"))
    }

    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.0.saturating_record(micros.clamp(1, MAX_MICROS));
    }

    pub fn add(&mut self, other: &Latencies) {
        self.0.add(&other.0).expect("histograms of the same bounds");
    }

    pub fn count(&self) -> u64 {
        self.0.len()
    }

    /// The latency at `quantile` (0..=1), in ms.
    pub fn quantile_ms(&self, quantile: f64) -> f64 {
        self.0.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            count: self.count(),
            mean: self.0.mean() / 1000.0,
            p50: self.quantile_ms(0.5),
            p90: self.quantile_ms(0.9),
            p99: self.quantile_ms(0.99),
            p99_9: self.quantile_ms(0.999),
            p99_99: self.quantile_ms(0.9999),
            max: self.0.max() as f64 / 1000.0,
        }
    }

    /// (quantile, ms) points from the median to the maximum, evenly spaced in
    /// "nines", for a percentile plot.
    pub fn percentile_curve(&self) -> Vec<(f64, f64)> {
        if self.count() == 0 {
            return Vec::new();
        }
        (0..=50)
            .map(|step| {
                let nines = f64::from(step) / 10.0;
                let quantile = 1.0 - 0.5 * 10f64.powf(-nines);
                (quantile, self.quantile_ms(quantile))
            })
            .collect()
    }
}

/// Percentiles of one histogram, in milliseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    #[serde(rename = "p99.9")]
    pub p99_9: f64,
    #[serde(rename = "p99.99")]
    pub p99_99: f64,
    pub max: f64,
}

impl LatencySummary {
    /// A figure by the name SLO expressions use (`p99`, `p99.9`, `max`, …).
    pub fn get(&self, name: &str) -> Option<f64> {
        Some(match name {
            "mean" => self.mean,
            "p50" => self.p50,
            "p90" => self.p90,
            "p99" => self.p99,
            "p99.9" => self.p99_9,
            "p99.99" => self.p99_99,
            "max" => self.max,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_what_was_recorded() {
        let mut latencies = Latencies::default();
        for ms in 1..=1000 {
            latencies.record(Duration::from_millis(ms));
        }
        let s = latencies.summary();
        assert_eq!(s.count, 1000);
        assert!((s.p50 - 500.0).abs() < 1.0, "{s:?}");
        assert!((s.p99 - 990.0).abs() < 1.0, "{s:?}");
        assert!((s.max - 1000.0).abs() < 1.0, "{s:?}");
        assert_eq!(s.get("p99.9"), Some(s.p99_9));
        let curve = latencies.percentile_curve();
        assert!(curve.windows(2).all(|w| w[0].1 <= w[1].1));
    }
}
