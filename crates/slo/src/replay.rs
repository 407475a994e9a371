//! A run's per-second SLI counts as the per-site metrics a Prometheus
//! scraping every evaluation step would have stored: what a promtool test
//! replays against the burn-rate rules.
//!
//! Per site and operation, `kata86_requests_total` by outcome comes from the
//! operation's availability objective (valid: every request; good: answered)
//! and its first latency objective (good: answered within the target):
//! `good` = within the target, `slow` = answered later, `failed` = the rest.
//! Without an availability objective `failed` is 0 and `slow` holds every
//! request not answered in time; without a latency objective `good` holds
//! every answered request. Each latency objective gives its histogram's
//! bucket at its target, and the `+Inf` bucket is every answered request.
//! A staleness objective on **reported** staleness gives its bucket; one on
//! data age cannot be replayed (production cannot observe data age), so its
//! alerts are not asserted.

use metrics::{Series, Slo, StalenessMeasure};

use crate::eval::Warmup;
use crate::indicator::{self, CHARGE, FAILED, GOOD, READ, REQUESTS, SLOW};

/// One objective's counts at one site: good and valid events per second
/// of the run, and the warm-up before it.
#[derive(Debug, Clone, Copy)]
pub struct Objective<'a> {
    /// The objective.
    pub slo: &'a Slo,
    /// Good events in each second of the run.
    pub good: &'a [u64],
    /// Valid events in each second.
    pub valid: &'a [u64],
    /// The steady state before the run.
    pub warmup: Warmup,
}

/// One replayed series: a counter growing by `warmup_step` for
/// `warmup_steps` steps from 0, then by the run's counts.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplaySeries {
    /// Name and labels.
    pub name: String,
    /// The increase in each warm-up step.
    pub warmup_step: f64,
    /// The run's counts, per second.
    pub run: Vec<f64>,
}

/// Whether an objective's SLI can be replayed from the metrics (every one
/// but a staleness objective on data age).
pub fn replayable(slo: &Slo) -> bool {
    !(slo.series == Series::Staleness && slo.measure == StalenessMeasure::DataAge)
}

/// The series at `site` from its objectives' counts; `step_s` is the
/// evaluation step (the warm-up's increase per step is `step_s` seconds'
/// worth of the steady state).
pub fn series(site: &str, objectives: &[Objective], step_s: u64) -> Vec<ReplaySeries> {
    let mut out = Vec::new();
    let step = step_s as f64;
    for (op, avail_series, latency_series) in [
        (READ, Series::ReadAvailability, Series::Read),
        (CHARGE, Series::ChargeAvailability, Series::Write),
    ] {
        let avail = objectives.iter().find(|o| o.slo.series == avail_series);
        let latency = objectives.iter().find(|o| o.slo.series == latency_series);
        let Some(any) = avail.or(latency) else {
            continue;
        };
        let n = any.valid.len();
        let get = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0) as f64;
        let rate = any.warmup.valid_per_s;
        // Per second: valid, answered, within the target.
        let valid: Vec<f64> = (0..n).map(|i| get(any.valid, i)).collect();
        let answered: Vec<f64> = match avail {
            Some(a) => (0..n).map(|i| get(a.good, i)).collect(),
            None => valid.clone(),
        };
        let within: Vec<f64> = match latency {
            Some(l) => (0..n).map(|i| get(l.good, i)).collect(),
            None => answered.clone(),
        };
        let w_answered = avail.map_or(rate, |a| rate * (1.0 - a.warmup.error_ratio));
        let w_within = latency.map_or(w_answered, |l| rate * (1.0 - l.warmup.error_ratio));
        let name = |outcome: &str| {
            format!("{REQUESTS}{{site=\"{site}\",operation=\"{op}\",outcome=\"{outcome}\"}}")
        };
        let mut push = |name: String, w: f64, run: Vec<f64>| {
            out.push(ReplaySeries {
                name,
                warmup_step: w * step,
                run,
            })
        };
        let failed_w = if avail.is_some() {
            rate - w_answered
        } else {
            0.0
        };
        let failed: Vec<f64> = if avail.is_some() {
            valid.iter().zip(&answered).map(|(v, a)| v - a).collect()
        } else {
            vec![0.0; n]
        };
        let slow: Vec<f64> = valid
            .iter()
            .zip(&within)
            .zip(&failed)
            .map(|((v, w), f)| v - w - f)
            .collect();
        push(name(GOOD), w_within, within.clone());
        push(name(SLOW), rate - w_within - failed_w, slow);
        push(name(FAILED), failed_w, failed);
        // Latency buckets at each objective's target, and +Inf.
        let h = if op == READ {
            indicator::READ_DURATION
        } else {
            indicator::CHARGE_DURATION
        };
        let mut bounds: Vec<String> = Vec::new();
        for o in objectives.iter().filter(|o| o.slo.series == latency_series) {
            let le = indicator::seconds_label(o.slo.target_ms / 1e3);
            if bounds.contains(&le) {
                continue;
            }
            push(
                format!("{h}_bucket{{site=\"{site}\",le=\"{le}\"}}"),
                rate * (1.0 - o.warmup.error_ratio),
                (0..n).map(|i| get(o.good, i)).collect(),
            );
            bounds.push(le);
        }
        if !bounds.is_empty() {
            push(
                format!("{h}_bucket{{site=\"{site}\",le=\"+Inf\"}}"),
                w_answered,
                answered.clone(),
            );
        }
        if op == READ {
            let mut bounds: Vec<String> = Vec::new();
            for o in objectives
                .iter()
                .filter(|o| o.slo.series == Series::Staleness && replayable(o.slo))
            {
                let le = indicator::seconds_label(o.slo.target_ms / 1e3);
                if bounds.contains(&le) {
                    continue;
                }
                push(
                    format!(
                        "{}_bucket{{site=\"{site}\",le=\"{le}\"}}",
                        indicator::READ_STALENESS
                    ),
                    o.warmup.valid_per_s * (1.0 - o.warmup.error_ratio),
                    (0..n).map(|i| get(o.good, i)).collect(),
                );
                bounds.push(le);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The outcomes partition the requests: good + slow + failed = valid,
    /// in every second and in the warm-up.
    #[test]
    fn outcomes_partition_the_requests() {
        let slos = metrics::default_slos();
        let by = |n: &str| slos.iter().find(|s| s.name == n).unwrap();
        let valid = [10u64, 10, 10];
        let answered = [10u64, 9, 0];
        let fast = [8u64, 9, 0];
        let o = [
            Objective {
                slo: by("charge_availability"),
                good: &answered,
                valid: &valid,
                warmup: Warmup {
                    valid_per_s: 10.0,
                    error_ratio: 0.01,
                },
            },
            Objective {
                slo: by("charge_p95"),
                good: &fast,
                valid: &valid,
                warmup: Warmup {
                    valid_per_s: 10.0,
                    error_ratio: 0.05,
                },
            },
        ];
        let s = series("SG", &o, 10);
        let get = |n: &str| s.iter().find(|x| x.name.contains(n)).unwrap();
        let (g, sl, f) = (
            get("outcome=\"good\""),
            get("outcome=\"slow\""),
            get("outcome=\"failed\""),
        );
        assert_eq!(g.run, [8.0, 9.0, 0.0]);
        assert_eq!(sl.run, [2.0, 0.0, 0.0]);
        assert_eq!(f.run, [0.0, 1.0, 10.0]);
        assert!((g.warmup_step + sl.warmup_step + f.warmup_step - 100.0).abs() < 1e-9);
        assert!((f.warmup_step - 1.0).abs() < 1e-9);
        assert_eq!(
            get("le=\"0.5\"").run,
            [8.0, 9.0, 0.0],
            "the bucket at the target"
        );
        assert_eq!(get("le=\"+Inf\"").run, [10.0, 9.0, 0.0]);
        // No read objective at SG: no read series.
        assert!(s.iter().all(|x| !x.name.contains("read")));
    }
}
