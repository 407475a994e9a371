//! Option A against the three Option B variants: one [`CompareRow`] per
//! drill × [`WritePath`], every row on the same workload, seeds and fault
//! onsets (run i of every row plays seed + i with the same drawn onset).
//!
//! A row serialises itself (`kata86 compare --format json`, the `row` of a
//! multi-leader drill): keys with their units, spreads in their report
//! unit, written once here as serde attributes.
//!
//! Key design decision: `single-leader` rows come from the drills' own event
//! core with `majority` replication (DESIGN.md's choice), played as run 0 of
//! `run_drills`, so the comparison shares the onset the multi-leader rows
//! shift their faults by; nothing here re-models Option A.

use metrics::{LatencyHistogram, Spread};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::Serialize;
use topology::Micros;

use super::{run_multis_with, MultiConfig, MultiResult, Rebalance, WritePath};
use crate::drill::sli::Verdict;
use crate::drill::{run_drills, DrillConfig, Replication, RunRecord};
use crate::EngineError;

/// One client site's charges on one row, every run pooled.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(rename = "SiteJson")]
pub struct CompareSite {
    /// The site.
    #[serde(rename = "site")]
    pub name: String,
    /// Charge latency (answered charges, from the first send) p50, p95,
    /// p99, every run pooled; `None` when no charge was answered.
    #[serde(rename = "charge_p50_ms", serialize_with = "topology::report::ms_opt")]
    #[schemars(with = "Option<f64>")]
    pub p50: Option<Micros>,
    /// See `p50`.
    #[serde(rename = "charge_p95_ms", serialize_with = "topology::report::ms_opt")]
    #[schemars(with = "Option<f64>")]
    pub p95: Option<Micros>,
    /// See `p50`.
    #[serde(rename = "charge_p99_ms", serialize_with = "topology::report::ms_opt")]
    #[schemars(with = "Option<f64>")]
    pub p99: Option<Micros>,
    /// Share of the charges sent during a region outage or a cut link that
    /// were answered, the median run; `None` with no such fault.
    pub availability: Option<f64>,
    /// The same share, the worst run; `None` with no such fault.
    pub availability_worst: Option<f64>,
    /// Charges first sent during a region outage or a cut link that the
    /// user did not get done, over the runs: no answer that stood (refused,
    /// timed out, or acknowledged and lost), or declined although the money
    /// was there (a spurious decline; never on single-leader). All `None`
    /// with no such fault.
    #[serde(
        rename = "charges_not_completed",
        serialize_with = "metrics::spread_as::counts"
    )]
    #[schemars(with = "metrics::SpreadFigures")]
    pub not_completed: Spread,
}

/// One write path on one drill, over the runs.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(rename = "RowJson")]
pub struct CompareRow {
    /// The drill.
    pub drill: String,
    /// The write path.
    #[schemars(with = "String")]
    pub write_path: WritePath,
    /// Runs played (run i: seed + i, its own fault onset).
    pub runs: u32,
    /// Per client site.
    pub sites: Vec<CompareSite>,
    /// Balances driven below zero once merged, over the runs.
    #[serde(serialize_with = "metrics::spread_as::counts")]
    #[schemars(with = "metrics::SpreadFigures")]
    pub overspend_incidents: Spread,
    /// Charges acknowledged but missing from the final state
    /// (single-leader) or booked effects lost by a merge (multi-leader).
    #[serde(serialize_with = "metrics::spread_as::counts")]
    #[schemars(with = "metrics::SpreadFigures")]
    pub lost_updates: Spread,
    /// Keys with two effects.
    #[serde(serialize_with = "metrics::spread_as::counts")]
    #[schemars(with = "metrics::SpreadFigures")]
    pub duplicate_effects: Spread,
    /// Charges declined although the merged balance covered them
    /// (single-leader: 0, its leader checks the one true balance).
    #[serde(serialize_with = "metrics::spread_as::counts")]
    #[schemars(with = "metrics::SpreadFigures")]
    pub spurious_declines: Spread,
    /// Escrow: on-demand rights transfers per run (a region short of
    /// rights for a charge asked another and was granted some).
    #[serde(serialize_with = "metrics::spread_as::counts")]
    #[schemars(with = "metrics::SpreadFigures")]
    pub rights_transfers: Spread,
    /// Escrow: background rights transfers per run (moved ahead of demand,
    /// toward each region's recent charges; 0 under `on-demand`).
    #[serde(serialize_with = "metrics::spread_as::counts")]
    #[schemars(with = "metrics::SpreadFigures")]
    pub background_transfers: Spread,
    /// Escrow: their latency p50 and p95, every run pooled.
    #[serde(rename = "rights_p50_ms", serialize_with = "topology::report::ms_opt")]
    #[schemars(with = "Option<f64>")]
    pub rights_p50: Option<Micros>,
    /// See `rights_p50`.
    #[serde(rename = "rights_p95_ms", serialize_with = "topology::report::ms_opt")]
    #[schemars(with = "Option<f64>")]
    pub rights_p95: Option<Micros>,
    /// From the end of a cut (partition, region down) until every region
    /// holds every write booked before it, over the runs; all `None` with
    /// no cut, or for single-leader (one log, no merge).
    #[serde(rename = "convergence_ms", serialize_with = "metrics::spread_as::ms")]
    #[schemars(with = "metrics::SpreadFigures")]
    pub convergence: Spread,
    /// From a fault's start to the first alert that fired after it, over
    /// the runs (the same monitor and rules for every write path); `None`
    /// in a run where no alert fired after the fault (never detected); all
    /// `None` with no fault.
    #[serde(
        rename = "time_to_detect_ms",
        serialize_with = "metrics::spread_as::ms"
    )]
    #[schemars(with = "metrics::SpreadFigures")]
    pub time_to_detect: Spread,
    /// The world's charge-latency objectives, every run pooled:
    /// `Some(false)` when a site misses one (or answered no charge it is
    /// held to: no data never passes); `Some(true)` when every site is
    /// held to at least one and meets them all; `None` (not judged) when
    /// none fails but a site has no charge objective, which says nothing
    /// about it.
    #[serde(rename = "slo_charge_p95_ok")]
    pub slo_ok: Option<bool>,
    /// Per-site, per-phase verdicts judged (every objective at every site
    /// it covers, in steady state and in each fault's impact window, every
    /// run pooled: the judge `kata86 plan` ranks by), for both options.
    pub verdicts_judged: u32,
    /// Those that passed.
    pub verdicts_passed: u32,
    /// Those that failed, as `site phase objective` (e.g. `VN fault 1
    /// region-down charge_p95`); a phase with no data fails.
    pub verdicts_failing: Vec<String>,
    /// Runs in which a money invariant broke.
    #[serde(rename = "runs_with_broken_invariants")]
    pub runs_broken: u32,
    /// The write path promises the invariants hold.
    pub invariants_expected: bool,
}

/// The charge-latency objectives of `d` (series `write`) that cover site
/// `name`, as `name < target ms at quantile`: what every row is judged on.
pub fn charge_objectives<'a>(
    d: &'a DrillConfig,
    name: &'a str,
) -> impl Iterator<Item = &'a metrics::Slo> + 'a {
    d.slos.iter().filter(move |s| {
        s.series == metrics::Series::Write && s.site.as_deref().is_none_or(|x| x == name)
    })
}

fn quantiles(h: &LatencyHistogram) -> [Option<Micros>; 3] {
    [0.5, 0.95, 0.99].map(|q| (h.count() > 0).then(|| h.value_at_quantile(q)))
}

/// Whether the pooled charge latency of site `name` meets every charge
/// objective of the world that covers it (a site with no answered charge
/// meets none it is held to); `None` when no objective covers it: not
/// judged, which is not a pass.
fn site_meets(d: &DrillConfig, name: &str, charge: &LatencyHistogram) -> Option<bool> {
    let mut held = charge_objectives(d, name).peekable();
    held.peek()?;
    Some(held.all(|s| {
        charge.count() > 0 && (charge.value_at_quantile(s.quantile) as f64) < s.target_ms * 1000.0
    }))
}

/// A row's verdict from its sites' (see [`CompareRow::slo_ok`]): a failure
/// wins, then a site not judged.
fn row_meets(sites: impl IntoIterator<Item = Option<bool>>) -> Option<bool> {
    let mut out = Some(true);
    for s in sites {
        match s {
            Some(false) => return Some(false),
            None => out = None,
            Some(true) => {}
        }
    }
    out
}

/// The median and the worst of the runs' availabilities (both `None`
/// without any).
fn availability(mut v: Vec<f64>) -> [Option<f64>; 2] {
    if v.is_empty() {
        return [None, None];
    }
    v.sort_by(f64::total_cmp);
    [Some(v[metrics::nearest_rank(0.5, v.len()) - 1]), Some(v[0])]
}

/// How many verdicts were judged, and the failing ones' labels.
fn verdict_counts(v: &[Verdict]) -> (u32, Vec<String>) {
    let failing = v
        .iter()
        .filter(|x| !x.pass)
        .map(|x| format!("{} {} {}", x.site, x.phase.label(), x.slo))
        .collect();
    (v.len() as u32, failing)
}

/// One site's pooled latency and per-run availability.
fn site(
    name: &str,
    charge: &LatencyHistogram,
    avail: Vec<f64>,
    not_completed: Vec<u64>,
) -> CompareSite {
    let [p50, p95, p99] = quantiles(charge);
    let not_completed = if avail.is_empty() {
        Spread::default()
    } else {
        Spread::of_values(not_completed)
    };
    let [availability, availability_worst] = availability(avail);
    CompareSite {
        name: name.to_string(),
        p50,
        p95,
        p99,
        availability,
        availability_worst,
        not_completed,
    }
}

fn single_leader(
    d: &DrillConfig,
    seed: u64,
    runs: u32,
    progress: &(dyn Fn() + Sync),
) -> Result<CompareRow, EngineError> {
    let cfg = DrillConfig {
        replication: Replication::Majority,
        ..d.clone()
    };
    let r = run_drills(&cfg, seed, runs, progress)?;
    let mut judged = Vec::new();
    let sites = cfg
        .topology
        .site_ids()
        .map(|s| {
            let mut h = r.during.sites[s.idx()].write.clone();
            h.merge(&r.outside.sites[s.idx()].write);
            let avail = r
                .runs
                .iter()
                .filter_map(|x| {
                    x.recovery
                        .availability_by_site
                        .get(s.idx())
                        .copied()
                        .flatten()
                })
                .collect();
            let nc = r
                .runs
                .iter()
                .map(|x| {
                    x.recovery
                        .not_completed_by_site
                        .get(s.idx())
                        .copied()
                        .unwrap_or(0)
                })
                .collect();
            judged.push(site_meets(d, cfg.topology.site_name(s), &h));
            site(cfg.topology.site_name(s), &h, avail, nc)
        })
        .collect::<Vec<_>>();
    let of = |f: fn(&RunRecord) -> u64| Spread::of_values(r.runs.iter().map(f));
    let (verdicts_judged, verdicts_failing) = verdict_counts(&r.verdicts);
    Ok(CompareRow {
        drill: d.name.clone(),
        write_path: WritePath::SingleLeader,
        runs,
        slo_ok: row_meets(judged),
        verdicts_judged,
        verdicts_passed: verdicts_judged - verdicts_failing.len() as u32,
        verdicts_failing,
        sites,
        overspend_incidents: of(|x| x.money.overspend_incidents),
        lost_updates: of(|x| x.money.lost_acknowledged_charges),
        duplicate_effects: of(|x| x.money.duplicate_effects),
        spurious_declines: of(|_| 0),
        rights_transfers: of(|_| 0),
        background_transfers: of(|_| 0),
        rights_p50: None,
        rights_p95: None,
        convergence: Spread::default(),
        time_to_detect: if d.faults.is_empty() {
            Spread::default()
        } else {
            r.time_to_detect()
        },
        runs_broken: r.runs.iter().filter(|x| !x.money.invariants_ok).count() as u32,
        invariants_expected: true,
    })
}

/// Multi-leader results of drill `d` on `path`, one per run, as a
/// comparison row.
pub fn row_of(d: &DrillConfig, path: WritePath, runs: &[MultiResult]) -> CompareRow {
    row_of_judged(d, path, runs, &super::judge(d, runs))
}

/// [`row_of`] for runs already judged (`judged` is [`super::judge`] of
/// `d` and `runs`): a drill that prints its verdicts judges them once.
pub fn row_of_judged(
    d: &DrillConfig,
    path: WritePath,
    runs: &[MultiResult],
    judged: &super::Judged,
) -> CompareRow {
    let first = &runs[0];
    let mut meets = Vec::new();
    let sites = (0..first.sites.len())
        .map(|i| {
            let mut h = LatencyHistogram::default();
            for r in runs {
                h.merge(&r.sites[i].charge);
            }
            let avail = runs
                .iter()
                .filter_map(|r| r.sites[i].availability())
                .collect();
            let nc = runs.iter().map(|r| r.sites[i].not_completed()).collect();
            meets.push(site_meets(d, &first.sites[i].name, &h));
            site(&first.sites[i].name, &h, avail, nc)
        })
        .collect::<Vec<_>>();
    let mut rights = LatencyHistogram::default();
    for r in runs {
        rights.merge(&r.rights_latency);
    }
    let [rights_p50, rights_p95, _] = quantiles(&rights);
    let of = |f: fn(&MultiResult) -> u64| Spread::of_values(runs.iter().map(f));
    let (verdicts_judged, verdicts_failing) = verdict_counts(&judged.verdicts);
    CompareRow {
        drill: d.name.clone(),
        write_path: path,
        runs: runs.len() as u32,
        slo_ok: row_meets(meets),
        verdicts_judged,
        verdicts_passed: verdicts_judged - verdicts_failing.len() as u32,
        verdicts_failing,
        sites,
        overspend_incidents: of(|r| r.overspend_incidents),
        lost_updates: of(|r| r.lost_updates),
        duplicate_effects: of(|r| r.duplicate_effects),
        spurious_declines: of(|r| r.spurious_declines),
        rights_transfers: of(|r| r.rights_transfers),
        background_transfers: of(|r| r.background_transfers),
        rights_p50,
        rights_p95,
        convergence: Spread::of(runs.iter().map(|r| r.convergence)),
        time_to_detect: if d.faults.is_empty() {
            Spread::default()
        } else {
            Spread::of(runs.iter().map(|r| r.time_to_detect))
        },
        runs_broken: runs.iter().filter(|r| !r.invariants_ok).count() as u32,
        invariants_expected: first.invariants_expected,
    }
}

/// Every write path on every drill in `drills`, `runs` runs each from
/// master seed `seed` (run i: seed + i and its own fault onset, the same for
/// every path): rows in drill order, then in [`WritePath::ALL`] order. Runs
/// go in parallel; the rows do not depend on which thread played them.
pub fn compare(
    drills: &[DrillConfig],
    seed: u64,
    runs: u32,
) -> Result<Vec<CompareRow>, EngineError> {
    compare_with(drills, seed, runs, Rebalance::default(), &|| {})
}

/// [`compare`] with escrow's rights moved by `rebalance`, calling
/// `progress` once per run played (`drills.len()` × [`WritePath::ALL`] ×
/// `runs` in all, from any thread; the rows do not depend on it).
pub fn compare_with(
    drills: &[DrillConfig],
    seed: u64,
    runs: u32,
    rebalance: Rebalance,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<CompareRow>, EngineError> {
    if !(1..=MAX_COMPARE_RUNS).contains(&runs) {
        return Err(EngineError::BadDrill(format!(
            "{runs} runs: give from 1 to {MAX_COMPARE_RUNS}"
        )));
    }
    let cells: Vec<(&DrillConfig, WritePath)> = drills
        .iter()
        .flat_map(|d| WritePath::ALL.iter().map(move |&p| (d, p)))
        .collect();
    cells
        .par_iter()
        .map(|&(d, p)| match p {
            WritePath::SingleLeader => single_leader(d, seed, runs, progress),
            _ => {
                let m = MultiConfig {
                    rebalance,
                    ..MultiConfig::new(d.clone(), p)
                };
                let rs = run_multis_with(&m, seed, runs, progress)?;
                Ok(row_of(d, p, &rs))
            }
        })
        .collect()
}

/// The most runs `compare` plays per row (each multi-leader run's result is
/// kept until its row is built).
pub const MAX_COMPARE_RUNS: u32 = 1_000;

#[cfg(test)]
mod tests {
    use super::row_meets;

    #[test]
    fn a_site_not_judged_is_no_pass_and_a_failure_wins() {
        assert_eq!(row_meets([Some(true), Some(true)]), Some(true));
        assert_eq!(row_meets([Some(true), None]), None);
        assert_eq!(row_meets([None, Some(false), Some(true)]), Some(false));
        assert_eq!(row_meets([None]), None);
    }
}
