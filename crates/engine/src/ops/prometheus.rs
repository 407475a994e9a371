//! The monitor as a deployment would run it on Prometheus: the metrics its
//! inputs are exported as (docs/metrics.md defines them), the PromQL that
//! recomputes each [`Signal`] from them, and a run's windows as the series a
//! Prometheus scraping at every window end would have stored.
//!
//! # Key decision: the mapping lives here, next to [`Signal`]
//! A new signal does not compile until it has a query ([`query`] matches
//! every signal), and the bucket bounds the [`Monitor`](super::Monitor)
//! counts against are the ones the queries read. The CLI only lays the rules
//! out as YAML.
//!
//! # How a rule relates to the monitor
//! An alert evaluated every window on `rate(...[window])` sees what the
//! monitor's window counted, so ratio signals are the same numbers. A
//! quantile is not: `histogram_quantile` interpolates linearly inside the
//! bucket holding the rank, the monitor takes the nearest-rank sample of its
//! HDR histogram. Both are over a threshold that sits on a bucket bound
//! exactly when fewer than `q × n` observations are at most that bound, so
//! such a rule fires exactly when the monitor does; with the threshold inside
//! a bucket ([`Fit::Inside`]) the two can disagree.

use topology::Micros;

use super::{AlertRule, Signal, Signals, WindowCounts};

/// Histogram of the staleness the client's local replica reports, observed
/// on each answered read (seconds).
pub const STALENESS: &str = "kata86_replica_reported_staleness_seconds";
/// Histogram of charge-attempt latency, a timed-out attempt observed at its
/// deadline (seconds).
pub const CHARGE_DURATION: &str = "kata86_charge_attempt_duration_seconds";
/// Reads made, answered or not.
pub const READS: &str = "kata86_reads_total";
/// Reads that got no answer.
pub const READ_ERRORS: &str = "kata86_read_errors_total";
/// Reads answered with a staleness over 2 s.
pub const STALE_READS: &str = "kata86_stale_reads_total";
/// Charge attempts.
pub const CHARGE_ATTEMPTS: &str = "kata86_charge_attempts_total";
/// Charge attempts that failed, by `reason` ([`REJECTED`] or [`TIMEOUT`]).
pub const CHARGE_ATTEMPT_ERRORS: &str = "kata86_charge_attempt_errors_total";
/// `reason` of an attempt refused at once (leader unavailable, writes off).
pub const REJECTED: &str = "rejected";
/// `reason` of an attempt without an answer by its deadline.
pub const TIMEOUT: &str = "timeout";

/// The staleness histogram's bucket bounds (µs): both staleness objectives
/// (p95 < 2 s, p99 < 10 s) are bounds, so alerts on them are exact.
pub const STALENESS_BUCKETS_US: [Micros; 8] = [
    250_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000, 30_000_000, 60_000_000,
];

/// The charge histogram's bucket bounds (µs): the Prometheus client
/// libraries' defaults, which hold the 500 ms objective and the 1 s deadline.
pub const CHARGE_BUCKETS_US: [Micros; 11] = [
    5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000,
];

/// How a signal is computed from the metrics.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// `histogram_quantile(q, ...)` over a histogram with these bounds (µs).
    Quantile {
        /// The quantile.
        q: f64,
        /// The histogram's name (without `_bucket`).
        histogram: &'static str,
        /// Its bucket bounds, `+Inf` implied.
        bounds: &'static [Micros],
    },
    /// The rate of one counter over the rate of another.
    Ratio {
        /// The counted events (a selector: name and labels).
        numerator: String,
        /// Out of these.
        denominator: &'static str,
    },
}

/// A selector of `metric` with `reason` as its only label.
fn with_reason(metric: &str, reason: &str) -> String {
    format!("{metric}{{reason=\"{reason}\"}}")
}

/// How `signal` is computed from the metrics.
pub fn query(signal: Signal) -> Query {
    let quantile = |q, histogram, bounds: &'static [Micros]| Query::Quantile {
        q,
        histogram,
        bounds,
    };
    let ratio = |numerator: String, denominator| Query::Ratio {
        numerator,
        denominator,
    };
    match signal {
        Signal::LagP95 => quantile(0.95, STALENESS, &STALENESS_BUCKETS_US),
        Signal::LagP99 => quantile(0.99, STALENESS, &STALENESS_BUCKETS_US),
        Signal::ChargeP95 => quantile(0.95, CHARGE_DURATION, &CHARGE_BUCKETS_US),
        Signal::ChargeP99 => quantile(0.99, CHARGE_DURATION, &CHARGE_BUCKETS_US),
        Signal::ReadErrorRate => ratio(READ_ERRORS.into(), READS),
        Signal::ChargeErrorRate => ratio(CHARGE_ATTEMPT_ERRORS.into(), CHARGE_ATTEMPTS),
        Signal::StaleReadShare => ratio(STALE_READS.into(), READS),
        Signal::RejectedShare => ratio(
            with_reason(CHARGE_ATTEMPT_ERRORS, REJECTED),
            CHARGE_ATTEMPTS,
        ),
    }
}

/// What `signal` measures, for people.
pub fn describe(signal: Signal) -> String {
    let quantile = match query(signal) {
        Query::Quantile { q, .. } => format!("p{} of ", (q * 1000.0).round() / 10.0),
        Query::Ratio { .. } => String::new(),
    };
    let what = match signal {
        Signal::LagP95 | Signal::LagP99 => {
            "the staleness the client's local replica reports on reads"
        }
        Signal::ChargeP95 | Signal::ChargeP99 => {
            "charge-attempt latency (a timed-out attempt counts at its deadline)"
        }
        Signal::ReadErrorRate => "share of reads that got no answer",
        Signal::ChargeErrorRate => "share of charge attempts refused or timed out",
        Signal::StaleReadShare => "share of reads answered more than 2 s stale",
        Signal::RejectedShare => "share of charge attempts refused for an unavailable leader",
    };
    format!("{quantile}{what}")
}

/// A duration as PromQL and rule files write it: `10s`, `2500ms`; `None`
/// below millisecond resolution, which they cannot express.
pub fn duration(us: Micros) -> Option<String> {
    if us.is_multiple_of(1_000_000) {
        Some(format!("{}s", us / 1_000_000))
    } else if us.is_multiple_of(1_000) {
        Some(format!("{}ms", us / 1_000))
    } else {
        None
    }
}

/// Seconds as Prometheus writes a bucket bound or a threshold: `0.25`, `2`.
fn seconds(us: f64) -> f64 {
    us / 1e6
}

/// `signal` in PromQL, every rate taken over `range` (the monitoring
/// window, e.g. `10s`).
pub fn signal_expr(signal: Signal, range: &str) -> String {
    match query(signal) {
        Query::Quantile { q, histogram, .. } => {
            format!("histogram_quantile({q}, sum by (le) (rate({histogram}_bucket[{range}])))")
        }
        Query::Ratio {
            numerator,
            denominator,
        } => format!("sum(rate({numerator}[{range}])) / sum(rate({denominator}[{range}]))"),
    }
}

/// The rule's threshold in its query's unit: seconds for a quantile (the
/// rule's are ms), the fraction itself for a ratio.
pub fn threshold(rule: &AlertRule) -> f64 {
    match query(rule.signal) {
        Query::Quantile { .. } => rule.threshold / 1e3,
        Query::Ratio { .. } => rule.threshold,
    }
}

/// The rule's alert expression: the signal over its threshold.
pub fn alert_expr(rule: &AlertRule, range: &str) -> String {
    format!("{} > {}", signal_expr(rule.signal, range), threshold(rule))
}

/// Where a rule's threshold sits among its histogram's bucket bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fit {
    /// A ratio, or a quantile whose threshold is a bucket bound: the rule
    /// fires exactly when the monitor does.
    Exact,
    /// Strictly inside the bucket (lower, upper] (seconds): the query
    /// interpolates there, the monitor does not, and they can disagree.
    Inside {
        /// The bound below (0 for the first bucket).
        lower: f64,
        /// The bound above.
        upper: f64,
    },
    /// Over the highest bound (seconds): `histogram_quantile` never returns
    /// more than it, so the rule can never fire.
    AboveLast {
        /// The highest bound.
        last: f64,
    },
}

/// Where `rule`'s threshold sits among its histogram's bucket bounds.
pub fn fit(rule: &AlertRule) -> Fit {
    let Query::Quantile { bounds, .. } = query(rule.signal) else {
        return Fit::Exact;
    };
    let t = rule.threshold * 1e3;
    let upper = bounds.iter().find(|&&b| b as f64 >= t);
    match upper {
        Some(&b) if b as f64 == t => Fit::Exact,
        Some(&b) => Fit::Inside {
            lower: bounds
                .iter()
                .rev()
                .find(|&&x| (x as f64) < t)
                .map_or(0.0, |&x| seconds(x as f64)),
            upper: seconds(b as f64),
        },
        None => Fit::AboveLast {
            last: seconds(bounds.last().copied().unwrap_or_default() as f64),
        },
    }
}

/// One series as Prometheus stores it: a counter sampled at time 0 and at
/// the end of every window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Series {
    /// Name and labels, e.g. `kata86_reads_total` or
    /// `kata86_replica_reported_staleness_seconds_bucket{le="2"}`.
    pub name: String,
    /// The counter's value: 0 at time 0, then its running total at the end
    /// of each window.
    pub values: Vec<u64>,
}

/// The series a Prometheus scraping at every window end would hold for a run
/// whose windows counted `history`: every bucket of both histograms (`+Inf`
/// included; no `_sum`, which no rule reads), then every counter.
pub fn series(history: &[Signals]) -> Vec<Series> {
    let running = |name: String, count: &dyn Fn(&WindowCounts) -> u64| {
        let mut total = 0u64;
        let values = std::iter::once(0)
            .chain(history.iter().map(|s| {
                total = total.saturating_add(count(&s.counts));
                total
            }))
            .collect();
        Series { name, values }
    };
    let le = |histogram: &str, bound: String| format!("{histogram}_bucket{{le=\"{bound}\"}}");
    let mut out = Vec::new();
    for (i, &b) in STALENESS_BUCKETS_US.iter().enumerate() {
        let name = le(STALENESS, seconds(b as f64).to_string());
        out.push(running(name, &|c| c.staleness_le[i]));
    }
    out.push(running(le(STALENESS, "+Inf".into()), &|c| {
        c.staleness_count
    }));
    for (i, &b) in CHARGE_BUCKETS_US.iter().enumerate() {
        let name = le(CHARGE_DURATION, seconds(b as f64).to_string());
        out.push(running(name, &|c| c.charge_le[i]));
    }
    out.push(running(le(CHARGE_DURATION, "+Inf".into()), &|c| {
        c.charge_count
    }));
    out.push(running(READS.into(), &|c| c.reads));
    out.push(running(READ_ERRORS.into(), &|c| c.read_errors));
    out.push(running(STALE_READS.into(), &|c| c.stale_reads));
    out.push(running(CHARGE_ATTEMPTS.into(), &|c| c.attempts));
    out.push(running(
        with_reason(CHARGE_ATTEMPT_ERRORS, REJECTED),
        &|c| c.rejected,
    ));
    out.push(running(with_reason(CHARGE_ATTEMPT_ERRORS, TIMEOUT), &|c| {
        c.timed_out
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::default_alerts;

    fn rule(signal: Signal, threshold: f64) -> AlertRule {
        AlertRule {
            name: "r".into(),
            signal,
            threshold,
            hold: 0,
        }
    }

    #[test]
    fn durations_are_whole_seconds_or_milliseconds() {
        assert_eq!(duration(0).as_deref(), Some("0s"));
        assert_eq!(duration(10_000_000).as_deref(), Some("10s"));
        assert_eq!(duration(2_500_000).as_deref(), Some("2500ms"));
        assert_eq!(duration(100_001), None);
    }

    #[test]
    fn latency_thresholds_are_seconds_and_ratios_stay_fractions() {
        let lag = rule(Signal::LagP95, 2000.0);
        assert_eq!(
            alert_expr(&lag, "10s"),
            "histogram_quantile(0.95, sum by (le) \
             (rate(kata86_replica_reported_staleness_seconds_bucket[10s]))) > 2"
        );
        let rejected = rule(Signal::RejectedShare, 0.01);
        assert_eq!(
            alert_expr(&rejected, "1m"),
            "sum(rate(kata86_charge_attempt_errors_total{reason=\"rejected\"}[1m])) \
             / sum(rate(kata86_charge_attempts_total[1m])) > 0.01"
        );
    }

    #[test]
    fn a_threshold_is_exact_on_a_bound_and_flagged_inside_a_bucket_or_above_the_last() {
        assert_eq!(fit(&rule(Signal::LagP99, 10_000.0)), Fit::Exact);
        assert_eq!(fit(&rule(Signal::ReadErrorRate, 0.0123)), Fit::Exact);
        assert_eq!(
            fit(&rule(Signal::LagP95, 1500.0)),
            Fit::Inside {
                lower: 1.0,
                upper: 2.0
            }
        );
        assert_eq!(
            fit(&rule(Signal::ChargeP95, 1.0)),
            Fit::Inside {
                lower: 0.0,
                upper: 0.005
            }
        );
        assert_eq!(
            fit(&rule(Signal::LagP95, 90_000.0)),
            Fit::AboveLast { last: 60.0 }
        );
    }

    /// Whatever the retuning, the defaults must stay exact: a default
    /// latency alert off a bound fires in Prometheus where the monitor does
    /// not. Move the threshold onto a bound, or add the bound.
    #[test]
    fn every_default_alert_fires_in_prometheus_exactly_when_the_monitor_does() {
        for r in default_alerts() {
            assert_eq!(fit(&r), Fit::Exact, "{r:?}");
        }
    }

    #[test]
    fn series_are_running_totals_from_zero() {
        let window = |reads, le2| Signals {
            counts: WindowCounts {
                reads,
                staleness_le: [0, 0, 0, le2, le2, le2, le2, le2],
                staleness_count: reads,
                ..WindowCounts::default()
            },
            ..Signals::default()
        };
        let s = series(&[window(5, 3), window(7, 7)]);
        let get = |name: &str| s.iter().find(|x| x.name == name).unwrap().values.clone();
        assert_eq!(get("kata86_reads_total"), [0, 5, 12]);
        assert_eq!(
            get("kata86_replica_reported_staleness_seconds_bucket{le=\"2\"}"),
            [0, 3, 10]
        );
        assert_eq!(
            get("kata86_replica_reported_staleness_seconds_bucket{le=\"+Inf\"}"),
            [0, 5, 12]
        );
        assert_eq!(
            get("kata86_charge_attempt_duration_seconds_bucket{le=\"0.005\"}"),
            [0, 0, 0]
        );
        let names: std::collections::BTreeSet<_> = s.iter().map(|x| &x.name).collect();
        assert_eq!(names.len(), s.len(), "every series is named once");
    }
}
