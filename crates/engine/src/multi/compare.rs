//! Option A against the three Option B variants: one [`CompareRow`] per
//! drill × [`WritePath`], every row on the same workload, seed and fault
//! onset.
//!
//! Key design decision: `single-leader` rows come from the drills' own event
//! core with `majority` replication (DESIGN.md's choice), played as run 0 of
//! `run_drills`, so the comparison shares the onset the multi-leader rows
//! shift their faults by; nothing here re-models Option A.

use rayon::prelude::*;
use topology::Micros;

use super::{run_multi, MultiConfig, MultiResult, WritePath};
use crate::drill::{run_drills, DrillConfig, Replication};
use crate::EngineError;

/// One client site's charges on one row.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareSite {
    /// The site.
    pub name: String,
    /// Charge latency (answered charges, from the first send) p50, p95,
    /// p99; `None` when no charge was answered.
    pub p50: Option<Micros>,
    /// See `p50`.
    pub p95: Option<Micros>,
    /// See `p50`.
    pub p99: Option<Micros>,
    /// Share of the charges sent during a region outage or a cut link that
    /// were answered; `None` with no such fault.
    pub availability: Option<f64>,
}

/// One write path on one drill.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    /// The drill.
    pub drill: String,
    /// The write path.
    pub write_path: WritePath,
    /// Per client site.
    pub sites: Vec<CompareSite>,
    /// Balances driven below zero once merged.
    pub overspend_incidents: u64,
    /// Charges accepted acknowledged but missing from the final state
    /// (single-leader) or booked effects lost by a merge (multi-leader).
    pub lost_updates: u64,
    /// Keys with two effects.
    pub duplicate_effects: u64,
    /// Charges declined although the merged balance covered them
    /// (single-leader: 0, its leader checks the one true balance).
    pub spurious_declines: u64,
    /// Escrow: rights transfers, and their latency p50 and p95.
    pub rights_transfers: u64,
    /// See `rights_transfers`.
    pub rights_p50: Option<Micros>,
    /// See `rights_transfers`.
    pub rights_p95: Option<Micros>,
    /// From the end of a cut (partition, region down) until every region
    /// holds every write booked before it; `None` with no cut, or for
    /// single-leader (one log, no merge).
    pub convergence: Option<Micros>,
    /// Charge p95 under the SLO target at every site.
    pub slo_ok: bool,
    /// Every money invariant held.
    pub invariants_ok: bool,
    /// The write path promises they hold.
    pub invariants_expected: bool,
}

/// The SLO every row is judged on: charge p95 below this at every site.
pub const CHARGE_P95_TARGET: Micros = 500_000;

fn quantiles(h: &metrics::LatencyHistogram) -> [Option<Micros>; 3] {
    [0.5, 0.95, 0.99].map(|q| (h.count() > 0).then(|| h.value_at_quantile(q)))
}

fn slo_ok(sites: &[CompareSite]) -> bool {
    sites
        .iter()
        .all(|s| s.p95.is_none_or(|p| p < CHARGE_P95_TARGET))
}

fn single_leader(d: &DrillConfig, seed: u64) -> Result<CompareRow, EngineError> {
    let cfg = DrillConfig {
        replication: Replication::Majority,
        ..d.clone()
    };
    let r = run_drills(&cfg, seed, 1, &|| {})?.first;
    let sites = cfg
        .topology
        .site_ids()
        .map(|s| {
            let mut h = r.during.sites[s.idx()].write.clone();
            h.merge(&r.outside.sites[s.idx()].write);
            let [p50, p95, p99] = quantiles(&h);
            CompareSite {
                name: cfg.topology.site_name(s).to_string(),
                p50,
                p95,
                p99,
                availability: r.availability_by_site.get(s.idx()).copied().flatten(),
            }
        })
        .collect::<Vec<_>>();
    Ok(CompareRow {
        drill: d.name.clone(),
        write_path: WritePath::SingleLeader,
        slo_ok: slo_ok(&sites),
        sites,
        overspend_incidents: r.overspend_incidents,
        lost_updates: r.lost_acknowledged_charges,
        duplicate_effects: r.duplicate_effects,
        spurious_declines: 0,
        rights_transfers: 0,
        rights_p50: None,
        rights_p95: None,
        convergence: None,
        invariants_ok: r.invariants_ok,
        invariants_expected: true,
    })
}

/// A multi-leader result of drill `d` on `path` as a comparison row.
pub fn row_of(d: &DrillConfig, path: WritePath, r: &MultiResult) -> CompareRow {
    let sites = r
        .sites
        .iter()
        .map(|s| {
            let [p50, p95, p99] = quantiles(&s.charge);
            CompareSite {
                name: s.name.clone(),
                p50,
                p95,
                p99,
                availability: s.availability(),
            }
        })
        .collect::<Vec<_>>();
    let [rights_p50, rights_p95, _] = quantiles(&r.rights_latency);
    CompareRow {
        drill: d.name.clone(),
        write_path: path,
        slo_ok: slo_ok(&sites),
        sites,
        overspend_incidents: r.overspend_incidents,
        lost_updates: r.lost_updates,
        duplicate_effects: r.duplicate_effects,
        spurious_declines: r.spurious_declines,
        rights_transfers: r.rights_transfers,
        rights_p50,
        rights_p95,
        convergence: r.convergence,
        invariants_ok: r.invariants_ok,
        invariants_expected: r.invariants_expected,
    }
}

/// Every write path on every drill in `drills`, with `seed`: rows in drill
/// order, then in [`WritePath::ALL`] order. Runs go in parallel; the rows do
/// not depend on which thread played them.
pub fn compare(drills: &[DrillConfig], seed: u64) -> Result<Vec<CompareRow>, EngineError> {
    let cells: Vec<(&DrillConfig, WritePath)> = drills
        .iter()
        .flat_map(|d| WritePath::ALL.iter().map(move |&p| (d, p)))
        .collect();
    cells
        .par_iter()
        .map(|&(d, p)| match p {
            WritePath::SingleLeader => single_leader(d, seed),
            _ => {
                let r = run_multi(&MultiConfig::new(d.clone(), p), seed)?;
                Ok(row_of(d, p, &r))
            }
        })
        .collect()
}
