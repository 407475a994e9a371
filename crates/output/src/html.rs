//! The HTML report's figures (`--report FILE.html`) of every command, from
//! the same result types and JSON views as the other formats, so a figure
//! on the page is the figure in the JSON.

use engine::drill::{DrillConfig, DrillRuns};
use metrics::SloVerdict;
use topology::to_ms;

use crate::drill::{config_label, fault_label, runs_json, site_names};
use crate::plan::{rto, Outcome};
use crate::sim::{cell, staleness_name, SimReport};

/// An SLO verdict for the HTML report, with its row label.
pub fn verdict(scope: &str, v: &SloVerdict) -> report::Verdict {
    report::Verdict {
        scope: scope.to_string(),
        name: v.name.clone(),
        target_ms: v.target_ms,
        observed_ms: v.observed_ms,
        pass: v.pass,
    }
}

/// A per-site verdict's budget for the HTML report; `scenario` (a plan's)
/// goes before the phase.
pub fn budget(scenario: Option<&str>, v: &engine::drill::sli::Verdict) -> report::Budget {
    report::Budget {
        phase: match scenario {
            Some(s) => format!("{s}: {}", v.phase.label()),
            None => v.phase.label(),
        },
        site: v.site.clone(),
        slo: v.slo.clone(),
        good_share: v.share,
        burn_rate: v.burn_rate,
        budget_consumed_p95: v
            .budget
            .and_then(|b| b.consumed_ppm.p95)
            .map(|p| p as f64 / 1e6),
        exhaustion_days: v.exhaustion_days,
        lasts: crate::lasts(v),
        pass: v.pass,
    }
}

/// The HTML report's figures: every number is the JSON's ([`cell`]).
pub fn sim(rep: &SimReport<'_>) -> report::SimFigures {
    let cfg = rep.cfg;
    let read = cfg.slos.iter().find(|s| s.series == metrics::Series::Read);
    let stale_p99 = cfg
        .slos
        .iter()
        .find(|s| s.series == metrics::Series::Staleness && s.quantile == 0.99);
    report::SimFigures {
        staleness_series: format!("{}ms", staleness_name(rep)),
        bound_ms: topology::to_ms(cfg.read.max_staleness),
        read_p95_target_ms: read.map(|s| s.target_ms),
        read_p95_sites: read.and_then(|s| s.site.clone()).into_iter().collect(),
        staleness_p99_target_ms: stale_p99.map(|s| s.target_ms),
        cells: (0..rep.results.len())
            .map(|i| {
                let c = cell(rep, i);
                let staleness = c.staleness();
                let strategy = c.result.cell.strategy.name();
                let scope = format!("{} / {strategy}", c.client());
                report::SimCell {
                    client: c.client().to_string(),
                    strategy: strategy.to_string(),
                    read_p95_ms: c.result.read.summary().p95,
                    staleness_p95_ms: staleness.p95,
                    staleness_p99_ms: staleness.p99,
                    staleness_cdf: cdf(&c.result.staleness),
                    slo: c.result.slo.iter().map(|v| verdict(&scope, v)).collect(),
                }
            })
            .collect(),
    }
}

/// The `.hgrm` rows of `h` as CDF points: each value with the share of
/// values at or below it.
pub fn cdf(h: &metrics::LatencyHistogram) -> Vec<report::CdfPoint> {
    let n = h.count().max(1) as f64;
    h.percentiles()
        .iter()
        .map(|r| report::CdfPoint {
            ms: r.value_ms,
            quantile: r.total_count as f64 / n,
        })
        .collect()
}
/// A spread as the HTML report holds it.
pub fn spread(s: &crate::drill::SpreadJson) -> report::SpreadMs {
    report::SpreadMs {
        p50: s.p50,
        p95: s.p95,
        p99: s.p99,
        max: s.max,
    }
}

/// The HTML report's figures: every number is the JSON's (`runs_json`),
/// plus the first run's windows.
pub fn drill(
    cfg: &DrillConfig,
    configs: &[DrillConfig],
    runs: u32,
    results: &[DrillRuns],
) -> report::DrillFigures {
    let t = &cfg.topology;
    let sites = site_names(t);
    report::DrillFigures {
        drill: cfg.name.clone(),
        runs,
        configs: results
            .iter()
            .zip(configs)
            .map(|(r, c)| {
                let f = &r.first;
                let played = engine::drill::shifted(c, r.runs[0].onset);
                let j = runs_json(r, cfg, 0);
                let mut slo: Vec<report::Verdict> = Vec::new();
                slo.extend(
                    r.during
                        .slo
                        .iter()
                        .map(|v| verdict("during faults (every run)", v)),
                );
                slo.extend(
                    r.outside
                        .slo
                        .iter()
                        .map(|v| verdict("outside faults (every run)", v)),
                );
                report::DrillConfigFigures {
                    budgets: r.verdicts.iter().map(|v| budget(None, v)).collect(),
                    label: config_label(r, results),
                    timeline: report::Timeline {
                        seed: r.runs[0].seed,
                        duration_ms: to_ms(f.duration),
                        window_ms: to_ms(f.operations.signal_window),
                        windows: window_points(&f.operations.signals),
                        faults: fault_spans(&played),
                        flags: f
                            .operations
                            .flags
                            .iter()
                            .map(|x| report::Span {
                                label: x.flag.name().to_string(),
                                from_ms: to_ms(x.on),
                                to_ms: x.off.map(to_ms),
                            })
                            .collect(),
                        alerts: alert_marks(&f.operations.alerts),
                        promotions: f
                            .failover
                            .promotions
                            .iter()
                            .map(|p| report::Mark {
                                label: p.region.clone(),
                                at_ms: to_ms(p.at),
                            })
                            .collect(),
                    },
                    rto: sites
                        .iter()
                        .enumerate()
                        .map(|(i, site)| report::SiteRuns {
                            site: site.clone(),
                            runs_ms: r
                                .runs
                                .iter()
                                .map(|x| {
                                    x.recovery.rto_by_site.get(i).copied().flatten().map(to_ms)
                                })
                                .collect(),
                            spread: spread(&j.rto_ms[site]),
                        })
                        .collect(),
                    rpo_ms: r.runs.iter().map(|x| to_ms(x.recovery.rpo)).collect(),
                    rpo_spread: Some(spread(&j.rpo_ms)),
                    slo,
                }
            })
            .collect(),
    }
}

/// The monitor's windows as the timeline plots them.
fn window_points(signals: &[engine::ops::Signals]) -> Vec<report::WindowPoint> {
    signals
        .iter()
        .map(|s| report::WindowPoint {
            end_ms: to_ms(s.at),
            charge_success: (s.counts.attempts > 0).then_some(1.0 - s.charge_error_rate),
            charge_p95_ms: s.charge_p95,
            staleness_p95_ms: s.served_staleness_p95.unwrap_or(0.0),
            data_age_p95_ms: s.data_age_p95.unwrap_or(0.0),
        })
        .collect()
}

/// The faults of a run's timeline (`played`: shifted by its onset).
fn fault_spans(played: &DrillConfig) -> Vec<report::Span> {
    played
        .faults
        .iter()
        .map(|x| report::Span {
            label: fault_label(x, &played.topology),
            from_ms: to_ms(x.start),
            to_ms: Some(to_ms(x.end)),
        })
        .collect()
}

/// Alerts fired (and resolved) as the timeline marks them.
fn alert_marks(alerts: &[engine::ops::Firing]) -> Vec<report::AlertMark> {
    alerts
        .iter()
        .map(|a| report::AlertMark {
            name: a.name.clone(),
            fired_at_ms: to_ms(a.fired_at),
            resolved_at_ms: a.resolved_at.map(to_ms),
        })
        .collect()
}

/// The page of a multi-leader drill (`drill --write-path lww|crdt|escrow`):
/// the first run's windows from the same monitor, each site's RTO over the
/// runs, the pooled SLO verdicts and the per-site, per-phase budgets; no
/// RPO (a merge loses updates, counted under money, not a span of history).
pub fn multi_drill(
    m: &engine::multi::MultiConfig,
    rs: &[engine::multi::MultiResult],
    judged: &engine::multi::Judged,
) -> report::DrillFigures {
    let d = &m.drill;
    let first = &rs[0];
    let played = engine::drill::shifted(d, first.onset);
    let mut slo: Vec<report::Verdict> = Vec::new();
    for (scope, w) in [
        ("during faults (every run)", &judged.during),
        ("outside faults (every run)", &judged.outside),
    ] {
        slo.extend(w.slo.iter().map(|v| verdict(scope, v)));
    }
    let rto = site_names(&d.topology)
        .into_iter()
        .enumerate()
        .map(|(i, site)| {
            let runs: Vec<Option<u64>> = rs
                .iter()
                .map(|r| r.rto_by_site.get(i).copied().flatten())
                .collect();
            let figures = metrics::Spread::of(runs.iter().copied()).figures(to_ms);
            report::SiteRuns {
                site,
                runs_ms: runs.iter().map(|x| x.map(to_ms)).collect(),
                spread: spread(&figures),
            }
        })
        .collect();
    report::DrillFigures {
        drill: d.name.clone(),
        runs: rs.len() as u32,
        configs: vec![report::DrillConfigFigures {
            label: format!("{} / {}", m.path, d.strategy.name()),
            timeline: report::Timeline {
                seed: first.seed,
                duration_ms: to_ms(d.duration),
                window_ms: to_ms(d.signal_window),
                windows: window_points(&first.signals),
                faults: fault_spans(&played),
                flags: Vec::new(),
                alerts: alert_marks(&first.alerts),
                promotions: Vec::new(),
            },
            rto,
            rpo_ms: Vec::new(),
            rpo_spread: None,
            slo,
            budgets: judged.verdicts.iter().map(|v| budget(None, v)).collect(),
        }],
    }
}

/// The report's figures: every design, ranked first, as the JSON gives them.
pub fn plan(o: &Outcome<'_>) -> report::PlanFigures {
    let target = |series: metrics::Series| {
        o.space
            .normal
            .slos
            .iter()
            .find(|s| s.series == series && s.quantile == 0.95)
            .map(|s| s.target_ms)
    };
    let point = |e: &::plan::Evaluation, rank: Option<usize>| report::PlanPoint {
        design: e.design.name(),
        rank,
        pareto: o.front.iter().any(|f| f.design == e.design),
        charge_p95_ms: ::plan::ms(e.figures.charge_p95),
        read_p95_ms: ::plan::ms(e.figures.read_p95),
        staleness_p99_ms: ::plan::ms(e.figures.staleness_p99),
        rto: e.figures.rto_p95.map(|_| rto(e)),
        rejected: e.rejected.clone(),
    };
    report::PlanFigures {
        budgets: o.ranked.first().map_or_else(Vec::new, |best| {
            best.figures
                .verdicts
                .iter()
                .filter(|f| f.verdict.budget.is_some())
                .map(|f| budget(Some(&f.scenario), &f.verdict))
                .collect()
        }),
        charge_p95_target_ms: target(metrics::Series::Write),
        read_p95_target_ms: target(metrics::Series::Read),
        designs: o
            .ranked
            .iter()
            .enumerate()
            .map(|(i, e)| point(e, Some(i + 1)))
            .chain(
                o.evals
                    .iter()
                    .filter(|e| !e.accepted())
                    .map(|e| point(e, None)),
            )
            .collect(),
    }
}

/// `kata86 compare`'s figures: each row's money spreads and SLO verdict,
/// as its JSON row gives them.
pub fn compare(runs: u32, rows: &[engine::multi::CompareRow]) -> report::CompareFigures {
    report::CompareFigures {
        runs,
        rows: rows
            .iter()
            .map(|r| {
                let counts = |s: metrics::Spread| {
                    let f = s.figures(|x| x as f64);
                    report::SpreadMs {
                        p50: f.p50,
                        p95: f.p95,
                        p99: f.p99,
                        max: f.max,
                    }
                };
                report::CompareBar {
                    drill: r.drill.clone(),
                    write_path: r.write_path.to_string(),
                    overspend_incidents: counts(r.overspend_incidents),
                    lost_updates: counts(r.lost_updates),
                    duplicate_effects: counts(r.duplicate_effects),
                    spurious_declines: counts(r.spurious_declines),
                    slo_ok: r.slo_ok,
                }
            })
            .collect(),
    }
}

/// `kata86 pbs`'s figures: the t-visibility curve and its quantiles, rounded
/// as the JSON rounds them.
pub fn pbs(cfg: &quorum::Config, rep: &quorum::Report) -> report::PbsFigures {
    use quorum::{round_ms, round_p, T_VIS_LABELS};
    report::PbsFigures {
        model: cfg.model.name.clone(),
        n: cfg.n,
        r: cfg.r,
        w: cfg.w,
        curve: rep
            .curve
            .iter()
            .map(|p| report::CdfPoint {
                ms: round_ms(p.t_ms),
                quantile: round_p(p.p_consistent),
            })
            .collect(),
        t_visibility_ms: T_VIS_LABELS
            .iter()
            .zip(rep.t_visibility_ms)
            .map(|(&l, t)| (l.to_string(), round_ms(t)))
            .collect(),
    }
}
