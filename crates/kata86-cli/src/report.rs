//! The HTML report's figures and `.hgrm` files of `kata86 sim` (its table,
//! JSON and CSV are `output::sim`).

use metrics::SloVerdict;
use output::sim::{cell_json, staleness_name, SimReport};

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
        lasts: output::lasts(v),
        pass: v.pass,
    }
}

/// The HTML report's figures: every number is the JSON's (`cell_json`).
pub fn sim_figures(rep: &SimReport<'_>) -> report::SimFigures {
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
                let c = cell_json(rep, i);
                let staleness = c
                    .lag_ms
                    .or(c.reported_staleness_ms)
                    .expect("one of the two");
                let scope = format!("{} / {}", c.client, c.strategy);
                report::SimCell {
                    client: c.client.to_string(),
                    strategy: c.strategy.to_string(),
                    read_p95_ms: c.read_ms.p95,
                    staleness_p95_ms: staleness.p95,
                    staleness_p99_ms: staleness.p99,
                    staleness_cdf: cdf(&rep.results[i].staleness),
                    slo: c.slo.iter().map(|v| verdict(&scope, v)).collect(),
                }
            })
            .collect(),
    }
}

/// Every histogram of a sim run, named `sim-INDEX-SITE-STRATEGY-SERIES.hgrm`.
pub fn sim_hgrm<'a>(rep: &SimReport<'a>) -> Vec<(String, &'a metrics::LatencyHistogram)> {
    let stale = staleness_name(rep).trim_end_matches('_').replace('_', "-");
    let mut files = Vec::new();
    for (i, r) in rep.results.iter().enumerate() {
        let site = rep.cfg.topology.site_name(r.cell.site);
        let strategy = r.cell.strategy.name();
        let name = |series: &str| {
            crate::output::hgrm_name(&["sim"], r.cell.site.idx(), site, &[strategy, series])
        };
        files.push((name("read"), &r.read));
        files.push((name("charge"), &r.write));
        files.push((name(&stale), &r.staleness));
        if let Some(w) = rep.wallets.get(i) {
            files.push((name("data-age"), &w.data_age));
        }
    }
    files
}

/// The `.hgrm` rows of `h` as CDF points: each value with the share of
/// values at or below it.
pub fn cdf(h: &metrics::LatencyHistogram) -> Vec<::report::CdfPoint> {
    let n = h.count().max(1) as f64;
    h.percentiles()
        .iter()
        .map(|r| ::report::CdfPoint {
            ms: r.value_ms,
            quantile: r.total_count as f64 / n,
        })
        .collect()
}
