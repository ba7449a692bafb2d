//! Open-loop send rates over time: constant (`--rate R`), or a `--profile`
//! of points between which the rate moves in a straight line.
//!
//! A profile is either a list `TIME:RATE,…` (`0s:100,1s:5000,4s:5000,15s:500`)
//! or a named shape scaled by `--rate` as its peak:
//! - `sale-open`: quiet browsing (10 % of peak) for the first tenth of the run,
//!   a spike to the peak within 200 ms as the sale opens, the peak held for a
//!   fifth of the run, then a ramp down to a quarter of it;
//! - `ramp`: from zero to the peak over the whole run.

use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ProfileError {
    #[error("profile point {0:?} is not TIME:RATE (e.g. 2s:5000)")]
    BadPoint(String),
    #[error("profile times must increase: {0:?}")]
    NotIncreasing(String),
    #[error("profile {0:?} needs --rate as its peak")]
    NeedsPeak(String),
    #[error("a profile needs a rate above zero somewhere")]
    AllZero,
}

/// Send rate (calls per second) as a function of time since the start.
#[derive(Clone, Debug, PartialEq)]
pub struct RateProfile {
    points: Vec<(Duration, f64)>,
}

/// The step over which a slow rate is taken as constant.
const STEP: Duration = Duration::from_millis(10);

impl RateProfile {
    pub fn constant(rate: f64) -> Self {
        Self {
            points: vec![(Duration::ZERO, rate)],
        }
    }

    pub fn parse(spec: &str, peak: Option<f64>, run: Duration) -> Result<Self, ProfileError> {
        let named = |shape: &[(f64, f64, f64)]| {
            let peak = peak.ok_or_else(|| ProfileError::NeedsPeak(spec.to_owned()))?;
            Ok(Self {
                points: shape
                    .iter()
                    .map(|&(share_of_run, extra_secs, share_of_peak)| {
                        (
                            run.mul_f64(share_of_run) + Duration::from_secs_f64(extra_secs),
                            peak * share_of_peak,
                        )
                    })
                    .collect(),
            })
        };
        let profile = match spec {
            "sale-open" => named(&[
                (0.0, 0.0, 0.1),
                (0.1, 0.0, 0.1),
                (0.1, 0.2, 1.0),
                (0.3, 0.2, 1.0),
                (1.0, 0.0, 0.25),
            ])?,
            "ramp" => named(&[(0.0, 0.0, 0.0), (1.0, 0.0, 1.0)])?,
            list => {
                let points = list
                    .split(',')
                    .map(|point| {
                        let bad = || ProfileError::BadPoint(point.to_owned());
                        let (time, rate) = point.trim().split_once(':').ok_or_else(bad)?;
                        let time = humantime::parse_duration(time.trim()).map_err(|_| bad())?;
                        let rate = rate.trim().parse::<f64>().map_err(|_| bad())?;
                        if !(rate >= 0.0 && rate.is_finite()) {
                            return Err(bad());
                        }
                        Ok((time, rate))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if points.windows(2).any(|w| w[0].0 > w[1].0) {
                    return Err(ProfileError::NotIncreasing(list.to_owned()));
                }
                Self { points }
            }
        };
        if profile.points.iter().all(|&(_, rate)| rate <= 0.0) {
            return Err(ProfileError::AllZero);
        }
        Ok(profile)
    }

    /// The rate at `t`: the first point's before it, the last's after it.
    pub fn rate_at(&self, t: Duration) -> f64 {
        let after = self.points.partition_point(|&(at, _)| at <= t);
        match (after, self.points.get(after)) {
            (0, _) => self.points[0].1,
            (_, None) => self.points[after - 1].1,
            (_, Some(&(t1, r1))) => {
                let (t0, r0) = self.points[after - 1];
                let span = (t1 - t0).as_secs_f64();
                if span == 0.0 {
                    return r1;
                }
                r0 + (r1 - r0) * (t - t0).as_secs_f64() / span
            }
        }
    }

    /// When the send after one at `t` is due: one call's worth of the area
    /// under the rate curve later, so slow and rising rates come out right.
    pub fn next_send(&self, t: Duration) -> Duration {
        let mut t = t;
        let mut owed = 1.0;
        loop {
            let rate = self.rate_at(t);
            if rate > 0.0 {
                let needed = Duration::from_secs_f64(owed / rate);
                if needed <= STEP {
                    return t + needed;
                }
                owed -= rate * STEP.as_secs_f64();
            }
            t += STEP;
        }
    }

    /// The highest rate anywhere in the profile.
    pub fn peak(&self) -> f64 {
        self.points.iter().map(|&(_, r)| r).fold(0.0, f64::max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `--profile` is typed by people: any text is a profile or an error.
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(
            spec in proptest::prop_oneof!["[a-z0-9.:/@ ,-]{0,40}", ".{0,40}"],
            peak in proptest::option::of(0.0f64..1e6),
        ) {
            let _ = RateProfile::parse(&spec, peak, Duration::from_secs(10));
        }
    }

    fn s(secs: f64) -> Duration {
        Duration::from_secs_f64(secs)
    }

    #[test]
    fn a_list_interpolates_between_its_points() {
        let p = RateProfile::parse("0s:100, 2s:300, 4s:300", None, s(10.0)).unwrap();
        assert_eq!(p.rate_at(s(0.0)), 100.0);
        assert_eq!(p.rate_at(s(1.0)), 200.0);
        assert_eq!(p.rate_at(s(3.0)), 300.0);
        assert_eq!(p.rate_at(s(9.0)), 300.0);
        assert_eq!(p.next_send(s(3.0)), s(3.0) + s(1.0 / 300.0));
    }

    #[test]
    fn sale_open_spikes_to_the_peak_and_ramps_down() {
        let p = RateProfile::parse("sale-open", Some(1000.0), s(10.0)).unwrap();
        assert_eq!(p.rate_at(s(0.5)), 100.0);
        assert_eq!(p.rate_at(s(1.2)), 1000.0);
        assert_eq!(p.rate_at(s(3.0)), 1000.0);
        assert_eq!(p.rate_at(s(10.0)), 250.0);
        assert_eq!(p.peak(), 1000.0);
        assert_eq!(
            RateProfile::parse("sale-open", None, s(10.0)),
            Err(ProfileError::NeedsPeak("sale-open".into()))
        );
    }

    #[test]
    fn a_zero_rate_waits_for_the_profile_to_rise() {
        let p = RateProfile::parse("ramp", Some(100.0), s(10.0)).unwrap();
        let first = p.next_send(Duration::ZERO);
        assert!(first > Duration::ZERO && first < s(1.0), "{first:?}");
    }

    #[test]
    fn malformed_profiles_are_refused() {
        assert!(matches!(
            RateProfile::parse("2s-5000", None, s(1.0)),
            Err(ProfileError::BadPoint(_))
        ));
        assert!(matches!(
            RateProfile::parse("2s:1,1s:1", None, s(1.0)),
            Err(ProfileError::NotIncreasing(_))
        ));
        assert_eq!(
            RateProfile::parse("0s:0", None, s(1.0)),
            Err(ProfileError::AllZero)
        );
    }
}
