//! The `.hgrm` files (`--hgrm DIR`) of `sim` and `drill` (every write
//! path): every histogram with a file name that says what it holds.

use engine::drill::{DrillConfig, DrillRuns, Window};
use engine::multi::Judged;
use metrics::LatencyHistogram;

use crate::drill::{config_label, site_names};
use crate::hgrm_name;
use crate::sim::{staleness_name, SimReport};

/// Every histogram of a sim run, named `sim-INDEX-SITE-STRATEGY-SERIES.hgrm`.
pub fn sim<'a>(rep: &SimReport<'a>) -> Vec<(String, &'a metrics::LatencyHistogram)> {
    let stale = staleness_name(rep).trim_end_matches('_').replace('_', "-");
    let mut files = Vec::new();
    for (i, r) in rep.results.iter().enumerate() {
        let site = rep.cfg.topology.site_name(r.cell.site);
        let strategy = r.cell.strategy.name();
        let name = |series: &str| hgrm_name(&["sim"], r.cell.site.idx(), site, &[strategy, series]);
        files.push((name("read"), &r.read));
        files.push((name("charge"), &r.write));
        files.push((name(&stale), &r.staleness));
        if let Some(w) = rep.wallets.get(i) {
            files.push((name("data-age"), &w.data_age));
        }
    }
    files
}

/// Every pooled histogram of a drill, named
/// `drill-NAME-POLICY-REPLICATION-INDEX-SITE-STRATEGY-{during,outside}-SERIES.hgrm`
/// (INDEX: the client site's, from 0; see [`crate::hgrm_name`]).
pub fn drill<'a>(
    cfg: &DrillConfig,
    results: &'a [DrillRuns],
) -> Vec<(String, &'a metrics::LatencyHistogram)> {
    let mut files = Vec::new();
    for r in results {
        let label = config_label(r, results).replace(" / ", "-");
        let strategy = r.first.read_strategy.name();
        let prefix = ["drill", cfg.name.as_str(), label.as_str()];
        windows(cfg, &prefix, strategy, [&r.during, &r.outside], &mut files);
    }
    files
}

/// Every pooled histogram of a multi-leader drill (`drill --write-path
/// lww|crdt|escrow`), named
/// `drill-NAME-PATH-INDEX-SITE-STRATEGY-{during,outside}-SERIES.hgrm`.
pub fn multi<'a>(
    cfg: &DrillConfig,
    path: &str,
    judged: &'a Judged,
) -> Vec<(String, &'a LatencyHistogram)> {
    let mut files = Vec::new();
    let prefix = ["drill", cfg.name.as_str(), path];
    let windows_ = [&judged.during, &judged.outside];
    windows(cfg, &prefix, cfg.strategy.name(), windows_, &mut files);
    files
}

/// The four series of every site in a drill's two windows.
fn windows<'a>(
    cfg: &DrillConfig,
    prefix: &[&str],
    strategy: &str,
    [during, outside]: [&'a Window; 2],
    files: &mut Vec<(String, &'a LatencyHistogram)>,
) {
    let sites = site_names(&cfg.topology);
    for (when, w) in [("during", during), ("outside", outside)] {
        for (index, (site, s)) in sites.iter().zip(&w.sites).enumerate() {
            for (series, h) in [
                ("read", &s.read),
                ("charge", &s.write),
                ("reported-staleness", &s.reported_staleness),
                ("data-age", &s.data_age),
            ] {
                let name = hgrm_name(prefix, index, site, &[strategy, when, series]);
                files.push((name, h));
            }
        }
    }
}
