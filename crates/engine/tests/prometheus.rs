//! The alert rules as Prometheus would evaluate them, against the monitor.
//!
//! A drill's windows are turned into the series a Prometheus scraping at
//! every window end would store (`prometheus::series`), and each rule's
//! query (`prometheus::query`) is evaluated on them the way Prometheus 2.x
//! does (`rate` over one window, `histogram_quantile` interpolating inside a
//! bucket). Where the threshold is exact (`Fit::Exact`: a ratio, or a
//! quantile on a bucket bound) the result must be the monitor's decision in
//! every window of every drill; CI's `promtool test rules` checks the real
//! PromQL on one of them.

use std::collections::BTreeMap;

use engine::drill::{run_drill, Builtin, DrillConfig, JpRole};
use engine::ops::prometheus::{self, fit, query, series, Fit, Query};
use engine::ops::{default_alerts, AlertRule, Signal, Signals};

const SEEDS: [u64; 2] = [7, 86];

/// Every signal.
const SIGNALS: [Signal; 8] = [
    Signal::LagP95,
    Signal::LagP99,
    Signal::ChargeP95,
    Signal::ChargeP99,
    Signal::ReadErrorRate,
    Signal::ChargeErrorRate,
    Signal::StaleReadShare,
    Signal::RejectedShare,
];

/// Prometheus's `bucketQuantile` (promql/quantile.go, 2.x): the bucket
/// holding rank `q × count`, interpolated linearly; NaN with no observation;
/// the highest finite bound when the rank is in the `+Inf` bucket.
fn bucket_quantile(q: f64, buckets: &[(f64, f64)]) -> f64 {
    let observations = buckets.last().map_or(0.0, |b| b.1);
    if buckets.len() < 2 || observations == 0.0 {
        return f64::NAN;
    }
    let rank = q * observations;
    let last = buckets.len() - 1;
    let b = buckets[..last]
        .iter()
        .position(|x| x.1 >= rank)
        .unwrap_or(last);
    if b == last {
        return buckets[last - 1].0;
    }
    let (start, below) = if b == 0 { (0.0, 0.0) } else { buckets[b - 1] };
    start + (buckets[b].0 - start) * ((rank - below) / (buckets[b].1 - below))
}

/// Each series' rate in window `i` (1-based: between samples i-1 and i).
fn rates(history: &[Signals], window_s: f64) -> Vec<BTreeMap<String, f64>> {
    let s = series(history);
    (1..=history.len())
        .map(|i| {
            s.iter()
                .map(|x| {
                    let delta = x.values[i] - x.values[i - 1];
                    (x.name.clone(), delta as f64 / window_s)
                })
                .collect()
        })
        .collect()
}

/// `sum(rate(selector[window]))`: a bare name matches every label set.
fn sum(rates: &BTreeMap<String, f64>, selector: &str) -> f64 {
    let bare = !selector.contains('{');
    rates
        .iter()
        .filter(|(name, _)| {
            name.as_str() == selector || (bare && name.starts_with(&format!("{selector}{{")))
        })
        .map(|(_, r)| r)
        .sum()
}

/// The rule's expression, evaluated on one window's rates.
fn fires(rule: &AlertRule, rates: &BTreeMap<String, f64>) -> bool {
    let value = match query(rule.signal) {
        Query::Quantile { q, histogram, .. } => {
            let prefix = format!("{histogram}_bucket{{le=\"");
            let mut buckets: Vec<(f64, f64)> = rates
                .iter()
                .filter_map(|(name, r)| {
                    let le = name.strip_prefix(&prefix)?.strip_suffix("\"}")?;
                    let bound = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().expect("a number")
                    };
                    Some((bound, *r))
                })
                .collect();
            buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
            bucket_quantile(q, &buckets)
        }
        Query::Ratio {
            numerator,
            denominator,
        } => sum(rates, &numerator) / sum(rates, denominator),
    };
    value > prometheus::threshold(rule)
}

/// Rules on every signal: the defaults, and thresholds on every bucket
/// bound (quantiles) or at typical shares (ratios).
fn exact_rules() -> Vec<AlertRule> {
    let mut rules = default_alerts();
    for signal in SIGNALS {
        let thresholds: Vec<f64> = match query(signal) {
            Query::Quantile { bounds, .. } => bounds.iter().map(|&b| b as f64 / 1e3).collect(),
            Query::Ratio { .. } => vec![0.0, 0.001, 0.01, 0.05, 0.1, 0.5],
        };
        for threshold in thresholds {
            rules.push(AlertRule {
                name: format!("{signal:?}>{threshold}"),
                signal,
                threshold,
                hold: 0,
            });
        }
    }
    assert!(rules.iter().all(|r| fit(r) == Fit::Exact));
    rules
}

fn check(cfg: &DrillConfig, seed: u64, rules: &[AlertRule]) -> usize {
    let r = run_drill(cfg, seed).expect("valid drill");
    let window_s = cfg.signal_window as f64 / 1e6;
    for (i, s) in r.operations.signals.iter().enumerate() {
        assert_eq!(
            s.at,
            (i as u64 + 1) * cfg.signal_window,
            "windows end on the grid"
        );
    }
    let mut over = 0;
    for (s, rates) in r
        .operations
        .signals
        .iter()
        .zip(rates(&r.operations.signals, window_s))
    {
        for rule in rules {
            let monitor = s.value(rule.signal) > rule.threshold;
            over += monitor as usize;
            assert_eq!(
                fires(rule, &rates),
                monitor,
                "{} seed {seed}, window ending {} µs, rule {rule:?}: signals {s:?}",
                cfg.name,
                s.at
            );
        }
    }
    over
}

#[test]
fn exact_rules_fire_on_the_exported_series_exactly_when_the_monitor_does() {
    let rules = exact_rules();
    let mut over = 0;
    for &b in Builtin::ALL {
        let cfg = DrillConfig::builtin(b, JpRole::Replica);
        for seed in SEEDS {
            over += check(&cfg, seed, &rules);
        }
    }
    // The comparison is not vacuous: rules are over in many windows, and
    // under in more.
    assert!(over > 100, "only {over} rule-windows over");
}

#[test]
fn the_series_count_what_the_signals_were_computed_from() {
    let cfg = DrillConfig::builtin(Builtin::RegionDown, JpRole::Replica);
    let r = run_drill(&cfg, 86).expect("valid drill");
    let c: Vec<_> = r.operations.signals.iter().map(|s| s.counts).collect();
    let total = |f: fn(&engine::ops::WindowCounts) -> u64| c.iter().map(f).sum::<u64>();
    // Every read and charge attempt of the drill is in some window.
    assert!(total(|c| c.reads) > 0 && total(|c| c.timed_out) > 0 && total(|c| c.rejected) > 0);
    for (s, c) in r.operations.signals.iter().zip(&c) {
        let share = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        assert_eq!(s.read_error_rate, share(c.read_errors, c.reads));
        assert_eq!(s.stale_read_share, share(c.stale_reads, c.reads));
        assert_eq!(s.rejected_share, share(c.rejected, c.attempts));
        assert_eq!(
            s.charge_error_rate,
            share(c.rejected + c.timed_out, c.attempts)
        );
        assert_eq!(c.staleness_count, c.reads - c.read_errors);
        assert!(c.staleness_le.windows(2).all(|w| w[0] <= w[1]));
        assert!(c.staleness_le.iter().all(|&n| n <= c.staleness_count));
        assert!(c.charge_le.windows(2).all(|w| w[0] <= w[1]));
        // Rejected attempts have no latency; every other attempt has one.
        assert_eq!(c.charge_count, c.attempts - c.rejected);
    }
}
