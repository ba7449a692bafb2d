//! Service-level objectives on the command line: `--slo 'p99<5ms,errors<0.1%,oversell==0'`.
//!
//! Each objective compares one figure of the run's report with a threshold.
//! Latencies are in ms (`5ms`, `500us`, `1s` are accepted); a `%` threshold is
//! a fraction (`0.1%` is 0.001).

use std::fmt;

use serde::Serialize;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SloError {
    #[error("objective {0:?} has no comparison (one of <, <=, >, >=, ==)")]
    NoOperator(String),
    #[error("objective {0:?} has no figure before its comparison")]
    NoMetric(String),
    #[error("objective {objective:?}: {value:?} is not a number")]
    BadThreshold { objective: String, value: String },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Comparison {
    #[serde(rename = "<")]
    Less,
    #[serde(rename = "<=")]
    AtMost,
    #[serde(rename = ">")]
    Greater,
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = "==")]
    Equal,
}

impl Comparison {
    // Two-character operators first, so `<=` is not read as `<`.
    const ALL: [(&'static str, Comparison); 5] = [
        ("<=", Comparison::AtMost),
        (">=", Comparison::AtLeast),
        ("==", Comparison::Equal),
        ("<", Comparison::Less),
        (">", Comparison::Greater),
    ];

    fn holds(self, actual: f64, threshold: f64) -> bool {
        match self {
            Comparison::Less => actual < threshold,
            Comparison::AtMost => actual <= threshold,
            Comparison::Greater => actual > threshold,
            Comparison::AtLeast => actual >= threshold,
            Comparison::Equal => (actual - threshold).abs() < 1e-9,
        }
    }
}

/// One objective, such as `p99<5ms`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Objective {
    pub text: String,
    pub metric: String,
    pub comparison: Comparison,
    pub threshold: f64,
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parses a comma-separated list of objectives.
pub fn parse(spec: &str) -> Result<Vec<Objective>, SloError> {
    spec.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(parse_one)
        .collect()
}

fn parse_one(text: &str) -> Result<Objective, SloError> {
    let (at, operator, comparison) = Comparison::ALL
        .iter()
        .filter_map(|&(op, cmp)| text.find(op).map(|at| (at, op, cmp)))
        .min_by_key(|&(at, op, _)| (at, std::cmp::Reverse(op.len())))
        .ok_or_else(|| SloError::NoOperator(text.to_owned()))?;
    let metric = text[..at].trim().to_ascii_lowercase();
    if metric.is_empty() {
        return Err(SloError::NoMetric(text.to_owned()));
    }
    let value = text[at + operator.len()..].trim();
    Ok(Objective {
        text: text.to_owned(),
        metric,
        comparison,
        threshold: threshold(value).ok_or_else(|| SloError::BadThreshold {
            objective: text.to_owned(),
            value: value.to_owned(),
        })?,
    })
}

/// A threshold in the report's units: ms for durations, a fraction for `%`.
fn threshold(value: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = value.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = value.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = value.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = value.strip_suffix('%') {
        (n, 0.01)
    } else {
        (value, 1.0)
    };
    number.trim().parse::<f64>().ok().map(|n| n * scale)
}

/// How one objective fared.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub objective: String,
    /// The figure measured; `None` when the report has no such figure.
    pub actual: Option<f64>,
    pub passed: bool,
}

/// Judges each objective against `figure(name)`. A figure the report does not
/// have fails its objective: a typo must not pass silently.
pub fn judge(objectives: &[Objective], figure: impl Fn(&str) -> Option<f64>) -> Vec<Verdict> {
    objectives
        .iter()
        .map(|objective| {
            let actual = figure(&objective.metric);
            Verdict {
                objective: objective.text.clone(),
                actual,
                passed: actual.is_some_and(|a| objective.comparison.holds(a, objective.threshold)),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `--slo` is typed by people: any text is an answer or an error.
        #[test]
        fn any_text_parses_or_is_refused_without_panicking(
            spec in proptest::prop_oneof!["[a-z0-9.%<>=!, ]{0,40}", ".{0,40}"]
        ) {
            if let Ok(objectives) = parse(&spec) {
                for objective in objectives {
                    proptest::prop_assert!(parse(&objective.to_string()).is_ok());
                }
            }
        }
    }

    #[test]
    fn objectives_read_units_and_operators() {
        let slo = parse("p99<5ms, errors<0.1%,oversell==0,p99.9<=20ms,rate>=1000,max<1s").unwrap();
        let got: Vec<_> = slo
            .iter()
            .map(|o| (o.metric.as_str(), o.comparison, o.threshold))
            .collect();
        assert_eq!(
            got,
            [
                ("p99", Comparison::Less, 5.0),
                ("errors", Comparison::Less, 0.001),
                ("oversell", Comparison::Equal, 0.0),
                ("p99.9", Comparison::AtMost, 20.0),
                ("rate", Comparison::AtLeast, 1000.0),
                ("max", Comparison::Less, 1000.0),
            ]
        );
    }

    #[test]
    fn malformed_objectives_are_refused() {
        assert_eq!(parse("p99"), Err(SloError::NoOperator("p99".into())));
        assert_eq!(parse("<5ms"), Err(SloError::NoMetric("<5ms".into())));
        assert!(matches!(
            parse("p99<fast"),
            Err(SloError::BadThreshold { .. })
        ));
    }

    #[test]
    fn an_unknown_figure_fails_its_objective() {
        let slo = parse("p99<5ms,p42<1ms").unwrap();
        let verdicts = judge(&slo, |name| (name == "p99").then_some(4.0));
        assert!(verdicts[0].passed);
        assert!(!verdicts[1].passed);
        assert_eq!(verdicts[1].actual, None);
    }
}
