//! Quantiles of a per-run figure over a set of runs.
//!
//! A drill played N times gives N values of each figure (a site's RTO, the
//! RPO, the money lost). N is small (at most thousands), so these quantiles
//! are exact: nearest rank over the sorted values, no histogram. A run in
//! which the figure never happened (a site that did not recover within the
//! drill) counts as larger than every value; a quantile that lands on such a
//! run is `None`, which reports print as "never" and JSON as `null`.

use serde::Serialize;

/// p50, p95, p99 and max of one figure over runs, by nearest rank.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Spread {
    /// Median.
    pub p50: Option<u64>,
    /// 95th percentile.
    pub p95: Option<u64>,
    /// 99th percentile.
    pub p99: Option<u64>,
    /// Largest.
    pub max: Option<u64>,
}

impl Spread {
    /// The spread of `values`, `None` counting as infinite. All `None` when
    /// there are no values.
    pub fn of(values: impl IntoIterator<Item = Option<u64>>) -> Spread {
        let mut v: Vec<Option<u64>> = values.into_iter().collect();
        if v.is_empty() {
            return Spread::default();
        }
        // `None` after every number.
        v.sort_unstable_by_key(|x| (x.is_none(), *x));
        let at = |q: f64| v[nearest_rank(q, v.len()) - 1];
        Spread {
            p50: at(0.50),
            p95: at(0.95),
            p99: at(0.99),
            max: at(1.0),
        }
    }

    /// The spread of values that always happened.
    pub fn of_values(values: impl IntoIterator<Item = u64>) -> Spread {
        Spread::of(values.into_iter().map(Some))
    }

    /// The four quantiles in order.
    pub fn quantiles(&self) -> [Option<u64>; 4] {
        [self.p50, self.p95, self.p99, self.max]
    }
}

/// A [`Spread`] in its report unit, as JSON shows it: p50/p95/p99/max of a
/// figure over the runs (`null` where the quantile lands on a run in which
/// it never happened). Result types serialise a `Spread` field as one with
/// [`as_counts`] or [`as_ms`] and name it as their schema
/// (`#[schemars(with = "metrics::SpreadFigures")]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, schemars::JsonSchema)]
#[schemars(rename = "SpreadJson")]
pub struct SpreadFigures {
    /// Median over the runs.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Worst run.
    pub max: Option<f64>,
}

impl Spread {
    /// The quantiles in `unit`.
    pub fn figures(&self, unit: fn(u64) -> f64) -> SpreadFigures {
        let [p50, p95, p99, max] = self.quantiles().map(|q| q.map(unit));
        SpreadFigures { p50, p95, p99, max }
    }
}

/// Serialises a [`Spread`] of counts as [`SpreadFigures`] (numbers as
/// JSON floats, as every spread is).
pub fn as_counts<S: serde::Serializer>(s: &Spread, ser: S) -> Result<S::Ok, S::Error> {
    s.figures(|x| x as f64).serialize(ser)
}

/// Serialises a [`Spread`] of microseconds as [`SpreadFigures`] in
/// milliseconds.
pub fn as_ms<S: serde::Serializer>(s: &Spread, ser: S) -> Result<S::Ok, S::Error> {
    s.figures(|us| us as f64 / 1000.0).serialize(ser)
}

/// The 1-based nearest rank of quantile `q` among `n` sorted values:
/// ⌈q·n⌉, at least 1.
pub fn nearest_rank(q: f64, n: usize) -> usize {
    ((q * n as f64).ceil() as usize).clamp(1, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_of_twenty_runs() {
        let s = Spread::of_values((1..=20).rev());
        assert_eq!(s.quantiles(), [Some(10), Some(19), Some(20), Some(20)]);
    }

    #[test]
    fn a_run_where_it_never_happened_is_larger_than_every_value() {
        let s = Spread::of([Some(5), None, Some(1), Some(3)]);
        assert_eq!(s.quantiles(), [Some(3), None, None, None]);
        assert_eq!(Spread::of([]), Spread::default());
    }
}
