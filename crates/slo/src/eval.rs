//! The burn-rate alerts evaluated in simulated time, on the rules' own
//! windows, from per-second good and valid counts.
//!
//! # The warm-up
//! A run lasts minutes; the windows last up to days. Before the run's first
//! second the evaluation assumes a steady state as long as the longest
//! window, at the run's own baseline: `valid_per_s` valid events a second of
//! which a share `error_ratio` is bad (a drill takes both from the site's
//! steady-state seconds). It is not simulated event by event: a window
//! reaching `d` seconds before the run adds `d × valid_per_s` valid and
//! `d × valid_per_s × (1 − error_ratio)` good events to what the run counted
//! inside it. So a long window starts at the baseline ratio, never empty.

use serde::{Deserialize, Serialize};

use crate::policy::{BurnPolicy, Severity};
use crate::rules::threshold;

/// The steady state assumed before a run (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Warmup {
    /// Valid events per second.
    pub valid_per_s: f64,
    /// The share of them that were bad.
    pub error_ratio: f64,
}

/// One severity's alert firing: from the evaluation it first fired at to
/// the first one it did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Firing {
    /// Page or ticket.
    pub severity: Severity,
    /// Seconds from the run's start.
    pub fired_at_s: u64,
    /// When it resolved; `None`: still firing at the run's end.
    pub resolved_at_s: Option<u64>,
}

/// Per-second counts of one objective at one site, with the warm-up before
/// them: the error ratio over any window ending at a whole second.
#[derive(Debug, Clone)]
pub struct Counts {
    good: Vec<u64>,
    valid: Vec<u64>,
    warmup: Warmup,
    warmup_limit_s: u64,
}

impl Counts {
    /// `good[s]` and `valid[s]` are second `s`'s counts (prefix sums are
    /// taken here); the two slices have the run's length in seconds.
    pub fn new(good: &[u64], valid: &[u64], warmup: Warmup) -> Counts {
        let sum = |v: &[u64]| {
            std::iter::once(0)
                .chain(v.iter().scan(0u64, |acc, &x| {
                    *acc += x;
                    Some(*acc)
                }))
                .collect()
        };
        Counts {
            good: sum(good),
            valid: sum(valid),
            warmup,
            warmup_limit_s: u64::MAX,
        }
    }

    /// The same counts with a warm-up of only `seconds` before the run
    /// (nothing before it), as a replay that starts that long before the
    /// run sees them.
    pub fn with_warmup_limit(mut self, seconds: u64) -> Counts {
        self.warmup_limit_s = seconds;
        self
    }

    /// The run's length in seconds.
    pub fn seconds(&self) -> u64 {
        self.valid.len() as u64 - 1
    }

    /// Good and valid events in `[end − len, end)`: the run's seconds, the
    /// warm-up before them and, past the run's end, the same steady state
    /// going on (so an alert still firing at the end can be seen reset).
    pub fn window(&self, end: u64, len: u64) -> (f64, f64) {
        let t = self.seconds();
        let before = len.saturating_sub(end).min(self.warmup_limit_s);
        let after = end.saturating_sub(t).min(len);
        let real_end = end.min(t);
        let real_start = end.saturating_sub(len).min(real_end);
        let (s, e) = (real_start as usize, real_end as usize);
        let w = self.warmup;
        let virtual_s = (before + after) as f64;
        let valid = (self.valid[e] - self.valid[s]) as f64 + virtual_s * w.valid_per_s;
        let good = (self.good[e] - self.good[s]) as f64
            + virtual_s * w.valid_per_s * (1.0 - w.error_ratio);
        (good, valid)
    }

    /// The error ratio over `[end − len, end)` as the recording rule computes
    /// it, `1 − good / valid`; `None` with no valid event (PromQL's NaN).
    pub fn error_ratio(&self, end: u64, len: u64) -> Option<f64> {
        let (good, valid) = self.window(end, len);
        (valid > 0.0).then(|| 1.0 - good / valid)
    }
}

/// Whether `severity`'s alert is firing at `t`: some pair of its windows
/// both over `factor × (1 − target)`.
pub fn firing_at(c: &Counts, policy: &BurnPolicy, target: f64, severity: Severity, t: u64) -> bool {
    policy
        .windows
        .iter()
        .filter(|w| w.severity == severity)
        .any(|w| {
            let over = |len| {
                c.error_ratio(t, len)
                    .is_some_and(|r| r > threshold(w.factor, target))
            };
            over(w.long_s) && over(w.short_s)
        })
}

/// Every firing of every severity's alert, evaluated every `step_s` from
/// `step_s` to the run's end, in time order per severity (pages first). An
/// alert still firing at the run's end is evaluated on past it, on the
/// warm-up's steady state, for up to the longest window: its reset time is
/// then where it resets (`None` only if the steady state itself keeps it
/// firing).
pub fn evaluate(c: &Counts, policy: &BurnPolicy, target: f64, step_s: u64) -> Vec<Firing> {
    let mut severities: Vec<Severity> = policy.windows.iter().map(|w| w.severity).collect();
    severities.sort();
    severities.dedup();
    let step = step_s.max(1);
    let mut out = Vec::new();
    for sev in severities {
        let mut open: Option<u64> = None;
        let mut t = step;
        while t <= c.seconds() {
            let on = firing_at(c, policy, target, sev, t);
            match (on, open) {
                (true, None) => open = Some(t),
                (false, Some(at)) => {
                    out.push(Firing {
                        severity: sev,
                        fired_at_s: at,
                        resolved_at_s: Some(t),
                    });
                    open = None;
                }
                _ => {}
            }
            t += step;
        }
        if let Some(at) = open {
            let limit = c.seconds() + policy.longest_s() + step;
            while t <= limit && firing_at(c, policy, target, sev, t) {
                t += step;
            }
            out.push(Firing {
                severity: sev,
                fired_at_s: at,
                resolved_at_s: (t <= limit).then_some(t),
            });
        }
    }
    out
}

/// The burn rate of an error ratio: `ratio / (1 − target)`.
pub fn burn_rate(error_ratio: f64, target: f64) -> f64 {
    error_ratio / (1.0 - target)
}

/// How long a whole period's budget lasts at burn rate `burn`: `period /
/// burn`, in seconds; `None` when nothing burns.
pub fn time_to_exhaustion_s(period_s: u64, burn: f64) -> Option<f64> {
    (burn > 0.0).then(|| period_s as f64 / burn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{BurnWindow, DAY_S};

    fn flat(seconds: usize, valid: u64, bad: u64) -> (Vec<u64>, Vec<u64>) {
        (vec![valid - bad; seconds], vec![valid; seconds])
    }

    /// A constant error ratio r fires iff r / (1 − target) exceeds the
    /// factor (both windows see r), from the first evaluation.
    #[test]
    fn a_constant_ratio_fires_iff_its_burn_rate_exceeds_the_factor() {
        let p = BurnPolicy::workbook();
        let target = 0.999;
        for bad in [0u64, 1, 2, 5, 6, 7, 14, 15, 30, 1000] {
            let r = bad as f64 / 1000.0;
            let (g, v) = flat(600, 1000, bad);
            let c = Counts::new(
                &g,
                &v,
                Warmup {
                    valid_per_s: 1000.0,
                    error_ratio: r,
                },
            );
            let f = evaluate(&c, &p, target, 10);
            let page = f.iter().any(|f| f.severity == Severity::Page);
            let ticket = f.iter().any(|f| f.severity == Severity::Ticket);
            let burn = burn_rate(r, target);
            assert_eq!(page, burn > 6.0 + 1e-9, "r {r}: {f:?}");
            assert_eq!(ticket, burn > 1.0 + 1e-9, "r {r}: {f:?}");
            for x in &f {
                assert_eq!((x.fired_at_s, x.resolved_at_s), (10, None), "{x:?}");
            }
        }
    }

    /// From a clean baseline, a step to error ratio r at time s fires the
    /// 1 h/5 min page at the first evaluation where r × (t − s) / 3600
    /// exceeds 14.4 × (1 − target) (the 5 min window is over from the
    /// step's first second): t = s + 3600 × 14.4 × (1 − target) / r,
    /// rounded up to the step.
    #[test]
    fn time_to_detect_a_step_has_a_closed_form() {
        let p = BurnPolicy {
            period_s: 30 * DAY_S,
            windows: vec![BurnWindow {
                severity: Severity::Page,
                long_s: 3_600,
                short_s: 300,
                factor: 14.4,
            }],
        };
        let target = 0.999;
        for (r_per_mille, step) in [(1000u64, 10u64), (500, 10), (200, 5), (100, 1)] {
            let (mut g, v) = flat(2_000, 1000, 0);
            let s = 400;
            for x in g.iter_mut().skip(s) {
                *x = 1000 - r_per_mille;
            }
            let c = Counts::new(
                &g,
                &v,
                Warmup {
                    valid_per_s: 1000.0,
                    error_ratio: 0.0,
                },
            );
            let f = evaluate(&c, &p, target, step);
            let r = r_per_mille as f64 / 1000.0;
            let exact = s as f64 + 3_600.0 * threshold(14.4, target) / r;
            // The first evaluation strictly after the exact crossing.
            let expect = ((exact / step as f64).floor() as u64 + 1) * step;
            assert_eq!(f.len(), 1, "{f:?}");
            assert!(
                f[0].fired_at_s == expect || f[0].fired_at_s + step == expect,
                "r {r} step {step}: fired {} expected {expect} ({exact})",
                f[0].fired_at_s
            );
        }
    }

    /// After the burn stops the short window empties first: a page resets
    /// 5 min after the last bad second (rounded to the step).
    #[test]
    fn the_short_window_resets_the_alert() {
        let mut p = BurnPolicy::workbook();
        p.windows.truncate(1); // 1 h / 5 min at 14.4 only
        let (mut g, v) = flat(3_000, 100, 0);
        for x in g.iter_mut().skip(100).take(600) {
            *x = 0; // 600 s of total failure: 600/3600 > 14.4 ‰
        }
        let c = Counts::new(
            &g,
            &v,
            Warmup {
                valid_per_s: 100.0,
                error_ratio: 0.0,
            },
        );
        let f = evaluate(&c, &p, 0.999, 10);
        let page = f.iter().find(|f| f.severity == Severity::Page).unwrap();
        // 1 h window over 14.4 ‰ after 52 bad seconds: fires at 160.
        assert_eq!(page.fired_at_s, 160);
        // Last bad second 699; the 5 min window [t − 300, t) is clean from
        // t = 1000 on.
        assert_eq!(page.resolved_at_s, Some(1000));
    }

    /// A burn still going at the run's end resets on the steady state after
    /// it: 5 min after the last bad second with the 1 h / 5 min pair.
    #[test]
    fn an_alert_firing_at_the_end_resets_on_the_steady_state_after_it() {
        let mut p = BurnPolicy::workbook();
        p.windows.truncate(1);
        let (mut g, v) = flat(400, 100, 0);
        for x in g.iter_mut().skip(200) {
            *x = 0;
        }
        let c = Counts::new(
            &g,
            &v,
            Warmup {
                valid_per_s: 100.0,
                error_ratio: 0.0,
            },
        );
        let f = evaluate(&c, &p, 0.999, 10);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].fired_at_s, f[0].resolved_at_s), (260, Some(700)));
        // A steady state that burns itself never resets.
        let c = Counts::new(
            &g,
            &v,
            Warmup {
                valid_per_s: 100.0,
                error_ratio: 0.5,
            },
        );
        assert!(evaluate(&c, &p, 0.999, 10)
            .iter()
            .all(|f| f.resolved_at_s.is_none()));
    }

    #[test]
    fn the_warm_up_fills_windows_longer_than_the_run() {
        let (g, v) = flat(100, 10, 0);
        let c = Counts::new(
            &g,
            &v,
            Warmup {
                valid_per_s: 10.0,
                error_ratio: 0.5,
            },
        );
        // 3600 s window at t = 100: 3500 s of warm-up at 50 % bad.
        let r = c.error_ratio(100, 3600).unwrap();
        assert!((r - 0.5 * 3500.0 / 3600.0).abs() < 1e-12, "{r}");
        let short = Counts::new(
            &g,
            &v,
            Warmup {
                valid_per_s: 10.0,
                error_ratio: 0.5,
            },
        )
        .with_warmup_limit(900);
        let r = short.error_ratio(100, 3600).unwrap();
        assert!((r - 0.5 * 900.0 / 1000.0).abs() < 1e-12, "{r}");
        let empty = Counts::new(
            &[0; 10],
            &[0; 10],
            Warmup {
                valid_per_s: 0.0,
                error_ratio: 0.0,
            },
        );
        assert_eq!(empty.error_ratio(10, 5), None);
        assert_eq!(
            time_to_exhaustion_s(30 * DAY_S, 14.4).map(|s| (s / 3600.0).round()),
            Some(50.0)
        );
        assert_eq!(time_to_exhaustion_s(30 * DAY_S, 0.0), None);
    }
}
