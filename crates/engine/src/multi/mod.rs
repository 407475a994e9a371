//! Option B: multi-leader regional writes, played on the same workload,
//! seeds and fault timelines as the single-leader drills.
//!
//! A [`WritePath`] says where a charge commits and how concurrent updates of
//! one balance meet: `single-leader` is the event core of `des` (Option A);
//! `lww`, `crdt` and `escrow` commit in the region the client's site enters
//! and replicate every write to every other region over one
//! `FollowerStream` per ordered pair of regions. [`run_multi`] plays one run
//! and returns a [`MultiResult`]: latency per site, and the money checked
//! after convergence (overspends, lost updates, duplicate effects, spurious
//! declines, rights transfers, convergence time, availability).
//!
//! Key design decision: the money check is made against an *oracle* the
//! regions never see — the sum of every effect any region booked — so a
//! write path is judged by what it does to money, not by what its regions
//! believe. Escrow's rights are conserved against that same oracle
//! (`rights held + rights in flight = balance`, per account, checked after
//! every event that moves rights).

mod compare;
mod sim;

pub use compare::{
    charge_objectives, compare, compare_with, row_of, row_of_judged, CompareRow, CompareSite,
    MAX_COMPARE_RUNS,
};

use metrics::{LatencyHistogram, Spread};
use routing::ReadStrategy;
use topology::{Micros, RegionId};

use crate::drill::sli::{not_applied, verdicts, NotApplied, SiteSli, Verdict};
use crate::drill::{named, onset, shifted, DrillConfig, Window};
use crate::ops::{Firing, Signals};
use crate::EngineError;

/// Where a charge commits, and how concurrent updates meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePath {
    /// Option A: every charge commits at the one leader (the drills' core).
    SingleLeader,
    /// The home region commits; a balance is a last-writer-wins register.
    Lww,
    /// The home region commits; balances are op-based counters (every
    /// region applies every charge and top-up once).
    Crdt,
    /// The home region commits within its rights to a share of the balance
    /// (bounded counter), and asks another region for rights when short.
    Escrow,
}
named!(
    WritePath,
    "write path",
    SingleLeader = "single-leader",
    Lww = "lww",
    Crdt = "crdt",
    Escrow = "escrow"
);

/// As its CLI name (`escrow`), the name `--write-path` takes.
impl serde::Serialize for WritePath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The read strategies a multi-leader path serves: every region takes
/// writes, so there is no leader to read from (no `leader`), and reads are
/// served by one replica (no `quorum`).
pub const READ_STRATEGIES: [ReadStrategy; 3] = [
    ReadStrategy::Local,
    ReadStrategy::Fallback,
    ReadStrategy::Bounded,
];

/// Escrow: how rights move between regions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rebalance {
    /// Only when a charge finds its region short: the region asks the
    /// nearest other holder (a round trip) and waits.
    OnDemand,
    /// On-demand requests as above, plus background rebalancing: every
    /// region tracks its recent charge demand per account (an exponentially
    /// decayed sum), tells the other regions about it and about its rights
    /// (reports on the real region-to-region delay, resent after a cut),
    /// and a region holding more than its target share (the balance split
    /// in proportion to demand) sends the surplus to the region furthest
    /// below its target, at most [`Rebalance::MAX_MOVES`] transfers per
    /// [`Rebalance::INTERVAL`] per region. A region whose replica of the
    /// balance does not cover a charge, and to which the other regions'
    /// last reported rights do not add enough, declines it at once instead
    /// of asking for rights the merged balance most likely does not have.
    #[default]
    Background,
}
named!(
    Rebalance,
    "rights rebalancing",
    OnDemand = "on-demand",
    Background = "background"
);

impl Rebalance {
    /// How often each region rebalances and reports.
    pub const INTERVAL: Micros = 250_000;
    /// Background transfers a region starts per interval, at most.
    pub const MAX_MOVES: usize = 16;
    /// Half-life of a region's decayed charge demand.
    pub const HALF_LIFE: Micros = 20_000_000;
    /// Demand (in cents) every initial rights holder is credited with, so
    /// a rarely charged account stays near its opening split instead of
    /// following its last charge.
    pub const PRIOR: f64 = 5_000.0;
    /// The smallest background transfer, in cents (the smallest charge).
    pub const MIN_MOVE: i64 = 500;
    /// Every how many turns a region drops the accounts whose demand has
    /// decayed to nothing from its rebalancing set (in between, an account
    /// it holds less than [`Rebalance::MIN_MOVE`] of is passed over
    /// without decaying its demand: it has nothing to give).
    pub const SWEEP_EVERY: u64 = 40;
}

impl WritePath {
    /// Whether every money invariant must hold on this path: a breach under
    /// `single-leader` or `escrow` is a defect; under `lww` and `crdt` the
    /// breaches are the finding.
    pub fn invariants_expected(self) -> bool {
        matches!(self, WritePath::SingleLeader | WritePath::Escrow)
    }

    /// Whether the path has a single leader (so `--policy` and
    /// `--replication` mean something).
    pub fn has_leader(self) -> bool {
        self == WritePath::SingleLeader
    }
}

/// A multi-leader run's configuration: the drill (topology, workload,
/// faults) plus what the write path needs.
#[derive(Debug, Clone)]
pub struct MultiConfig {
    /// The drill whose traffic and faults are played.
    pub drill: DrillConfig,
    /// `lww`, `crdt` or `escrow`.
    pub path: WritePath,
    /// Escrow: the regions that hold rights at the start, sharing every
    /// opening balance equally (default: every region some site enters).
    pub rights_holders: Vec<RegionId>,
    /// Escrow: how rights move (default: background rebalancing on top of
    /// on-demand requests).
    pub rebalance: Rebalance,
}

impl MultiConfig {
    /// `drill` played on `path`, rights split over the sites' home regions.
    pub fn new(drill: DrillConfig, path: WritePath) -> MultiConfig {
        let t = &drill.topology;
        let mut holders: Vec<RegionId> = t.site_ids().map(|s| t.home(s)).collect();
        holders.sort_unstable();
        holders.dedup();
        MultiConfig {
            drill,
            path,
            rights_holders: holders,
            rebalance: Rebalance::default(),
        }
    }

    /// Checks the drill and the write path's own parameters.
    pub fn validate(&self) -> Result<(), EngineError> {
        self.drill.validate()?;
        if self.path == WritePath::SingleLeader {
            return Err(EngineError::BadDrill(
                "single-leader is played by the drills' event core, not the multi-leader model"
                    .into(),
            ));
        }
        if matches!(
            self.drill.strategy,
            ReadStrategy::Leader | ReadStrategy::Quorum
        ) {
            return Err(EngineError::BadDrill(format!(
                "read strategy {}: --write-path {} has no leader to read from and no read \
                 quorum; its reads use local, bounded or fallback (a stale local replica \
                 sends the read to the freshest region the entry region reaches)",
                self.drill.strategy.name(),
                self.path.name()
            )));
        }
        if self.drill.runbook {
            return Err(EngineError::BadDrill(format!(
                "the runbook drill plays DESIGN.md's single-leader runbook (its first step is \
                 FORCE_LEADER_READ); --write-path {} has no leader: play lag-spike, with \
                 --flag WRITE_READONLY_MODE@ON-OFF for the step it can take",
                self.path.name()
            )));
        }
        if let Some(f) = self
            .drill
            .flags
            .iter()
            .find(|f| f.flag == crate::ops::Flag::ForceLeaderRead)
        {
            return Err(EngineError::BadDrill(format!(
                "flag {}: --write-path {} has no leader to send reads to; it honours \
                 WRITE_READONLY_MODE (and DISABLE_RECS, with no eligibility reads to shed)",
                f.flag,
                self.path.name()
            )));
        }
        let n = self.drill.topology.region_count();
        if self.path == WritePath::Escrow {
            if self.rights_holders.is_empty() {
                return Err(EngineError::BadDrill(
                    "escrow needs at least one region holding rights".into(),
                ));
            }
            if self.rights_holders.iter().any(|r| r.idx() >= n) {
                return Err(EngineError::BadDrill(
                    "a rights holder is not a region of the topology".into(),
                ));
            }
            if let Some(w) = self
                .rights_holders
                .iter()
                .find(|r| !self.drill.holds_data(r.idx()))
            {
                return Err(EngineError::BadDrill(format!(
                    "{} is a witness: it holds no data, so no rights",
                    self.drill.topology.region_name(*w)
                )));
            }
        }
        Ok(())
    }
}

/// What one client site saw on a multi-leader path.
#[derive(Debug, Clone, Default)]
pub struct MultiSite {
    /// The site's name.
    pub name: String,
    /// End-to-end latency of answered charges (accepted or declined), from
    /// the first send.
    pub charge: LatencyHistogram,
    /// Charges first sent while a fault was active.
    pub sent_during: u64,
    /// Those that got an answer (accepted or declined).
    pub answered_during: u64,
    /// Those declined although the merged balance covered them.
    pub spurious_during: u64,
}

impl MultiSite {
    /// Share of the charges sent during a fault that were answered; `None`
    /// when none was sent during a fault.
    pub fn availability(&self) -> Option<f64> {
        (self.sent_during > 0).then(|| self.answered_during as f64 / self.sent_during as f64)
    }

    /// Charges sent during a fault that users did not get done: unanswered,
    /// or declined although the money was there.
    pub fn not_completed(&self) -> u64 {
        self.sent_during.saturating_sub(self.answered_during) + self.spurious_during
    }
}

/// What a multi-leader run measured. It serializes itself as reports
/// write a run (`kata86 drill --write-path … --format json`): its counts,
/// units in the keys; the per-site histograms, windows and indicators are
/// reported pooled over the runs instead (see [`judge`]).
#[derive(Debug, Clone, Default, serde::Serialize, schemars::JsonSchema)]
pub struct MultiResult {
    /// The drill's name.
    pub drill: String,
    /// The write path's name.
    pub write_path: String,
    /// The run's seed.
    pub seed: u64,
    /// How far the fault timeline was shifted (the run's onset).
    #[serde(rename = "onset_ms", serialize_with = "topology::report::ms")]
    #[schemars(with = "f64")]
    pub onset: Micros,
    /// Per client site (index = site id).
    #[serde(skip)]
    pub sites: Vec<MultiSite>,
    /// Charges sent.
    pub charges: u64,
    /// Charges acknowledged as accepted.
    pub acknowledged_charges: u64,
    /// Charges answered as declined.
    pub declined_charges: u64,
    /// Declined although the merged balance at that moment covered them.
    pub spurious_declines: u64,
    /// Charges whose every attempt went unanswered.
    pub unknown_outcome_charges: u64,
    /// Charges refused at once, unsent, while `WRITE_READONLY_MODE` was on
    /// (a bad event for the site's verdicts, as on a single leader).
    pub rejected_charges: u64,
    /// The runbook flags as the run switched them (`WRITE_READONLY_MODE`
    /// refuses charges; `DISABLE_RECS` has no eligibility reads to shed on
    /// a multi-leader path; `FORCE_LEADER_READ` is refused).
    pub flags: Vec<crate::ops::FlagSwitch>,
    /// Attempts a region recognised as a repeat of a key it had seen.
    pub duplicates_suppressed: u64,
    /// Keys booked twice (in two regions that had not seen each other's).
    pub duplicate_effects: u64,
    /// Times a merged balance went below zero.
    pub overspend_incidents: u64,
    /// Cents below zero those charges took it.
    #[serde(rename = "overspend_amount_cents")]
    pub overspend_amount: i64,
    /// Acknowledged effects missing after convergence: lww, an effect off
    /// the lineage of the register that stood (traced per effect); the
    /// op-based paths, booked effects not applied everywhere.
    pub lost_updates: u64,
    /// |booked − converged| money over every account, in cents.
    #[serde(rename = "lost_amount_cents")]
    pub lost_amount: i64,
    /// Escrow: on-demand rights transfers that moved rights (a region short
    /// of rights for a charge asked, and was granted some).
    pub rights_transfers: u64,
    /// Escrow: on-demand requests for rights sent (or attempted).
    pub rights_requests: u64,
    /// Escrow: those sent while the merged balance did not cover the charge
    /// (the money was short, not misplaced).
    pub rights_requests_short: u64,
    /// Escrow: background transfers that moved rights ahead of demand.
    pub background_transfers: u64,
    /// Escrow: charges a region declined at once because its replica of the
    /// balance did not cover them (background policy only).
    pub declined_locally: u64,
    /// Escrow: rights requests that got no grant (refused, cut off, down).
    pub rights_refused: u64,
    /// Escrow: from a request for rights to the grant's arrival.
    #[serde(skip)]
    pub rights_latency: LatencyHistogram,
    /// Escrow: conservation checks made, and how many failed.
    pub conservation_checks: u64,
    /// See `conservation_checks`.
    pub conservation_breaches: u64,
    /// The longest time, over the faults that cut links or regions, from
    /// the fault's end until every write booked before it was applied in
    /// every region; `None` with no such fault.
    #[serde(skip)]
    pub convergence: Option<Micros>,
    /// Every region ended with the same balances.
    pub converged: bool,
    /// Whether every money invariant held.
    pub invariants_ok: bool,
    /// Whether the write path promises them (see [`WritePath::invariants_expected`]).
    pub invariants_expected: bool,
    /// The first breach, if any.
    pub first_breach: Option<String>,
    /// A breach the write path promises cannot happen: exit 1.
    pub defect: Option<String>,
    /// Reads and charges per site inside the faults' windows (any fault
    /// active), as the single-leader drills split them.
    #[serde(skip)]
    pub during: Window,
    /// The same outside them.
    #[serde(skip)]
    pub outside: Window,
    /// Per site: good and valid events per second and objective, the
    /// indicators the per-site, per-phase verdicts are judged from
    /// (see [`crate::drill::sli::verdicts`]).
    #[serde(skip)]
    pub sli: Vec<SiteSli>,
    /// Per site: how long after the first fault its charges recovered, by
    /// the single-leader drills' rule (`None`: not within the drill).
    /// Empty without a fault.
    #[serde(skip)]
    pub rto_by_site: Vec<Option<Micros>>,
    /// Every alert firing: the single-leader drills' monitor and rules
    /// (`DrillConfig::alerts`), fed B's reads (the lag signal watches the
    /// entry region's replica) and charge attempts (a decline is an
    /// answer).
    pub alerts: Vec<Firing>,
    /// From a fault's start to the first alert that fired at or after it
    /// (null: none fired).
    #[serde(
        rename = "time_to_detect_ms",
        serialize_with = "topology::report::ms_opt"
    )]
    #[schemars(with = "Option<f64>")]
    pub time_to_detect: Option<Micros>,
    /// The monitoring signals of every closed window, in time order.
    #[serde(skip)]
    pub signals: Vec<Signals>,
}

/// Every run of one multi-leader configuration judged together, as the
/// single-leader drills judge theirs (`DrillRuns`): the runs' windows
/// pooled, and every objective at every site it covers, per phase, from
/// the runs' indicators.
#[derive(Debug, Clone)]
pub struct Judged {
    /// Reads and charges per site inside the faults' windows, every run.
    pub during: Window,
    /// The same outside them (normal operation), with the pooled SLO
    /// verdicts.
    pub outside: Window,
    /// The per-site, per-phase verdicts that decide.
    pub verdicts: Vec<Verdict>,
    /// Objectives naming a site the world lacks.
    pub not_applied: Vec<NotApplied>,
    /// The worst site's RTO over the runs (a run in which a site never
    /// recovered ranks last); empty without a fault.
    pub rto_worst: Spread,
}

/// Judges the runs `rs` of `cfg` (see [`Judged`]).
pub fn judge(cfg: &DrillConfig, rs: &[MultiResult]) -> Judged {
    let sites = cfg.topology.sites().len();
    let (mut during, mut outside) = (Window::new(sites), Window::new(sites));
    for r in rs {
        during.merge(&r.during);
        outside.merge(&r.outside);
    }
    during.judge(cfg);
    outside.judge(cfg);
    let slis: Vec<&[SiteSli]> = rs.iter().map(|r| r.sli.as_slice()).collect();
    let rto_worst = if cfg.faults.is_empty() {
        Spread::default()
    } else {
        Spread::of(rs.iter().map(|r| {
            r.rto_by_site
                .iter()
                .try_fold(0, |worst, x| x.map(|t| worst.max(t)))
        }))
    };
    Judged {
        during,
        outside,
        verdicts: verdicts(cfg, &cfg.budget, &slis),
        not_applied: not_applied(cfg),
        rto_worst,
    }
}

/// One request of a scripted run (tests, worked examples): when, from which
/// client site, on which account, how many cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scripted {
    /// A charge.
    Charge {
        /// When the client sends it.
        at: Micros,
        /// From which site.
        site: topology::SiteId,
        /// The account.
        account: u32,
        /// Cents.
        amount: i64,
    },
    /// A top-up.
    TopUp {
        /// When the client sends it.
        at: Micros,
        /// From which site.
        site: topology::SiteId,
        /// The account.
        account: u32,
        /// Cents.
        amount: i64,
    },
}

/// Plays exactly `script` (sorted by time) on `cfg` with `seed`, with the
/// drill's faults as they are (no onset shift).
pub fn run_script(
    cfg: &MultiConfig,
    seed: u64,
    script: &[Scripted],
) -> Result<MultiResult, EngineError> {
    cfg.validate()?;
    Ok(sim::play_script(cfg, seed, script))
}

/// Plays `runs` runs of `cfg` from master seed `seed`, in parallel: run i
/// plays seed + i with its own fault onset, as [`crate::drill::run_drills`]
/// does; results in run order, whatever thread played them.
pub fn run_multis(
    cfg: &MultiConfig,
    seed: u64,
    runs: u32,
) -> Result<Vec<MultiResult>, EngineError> {
    run_multis_with(cfg, seed, runs, &|| {})
}

/// [`run_multis`], calling `progress` once per run played (from any
/// thread; the results do not depend on it).
pub fn run_multis_with(
    cfg: &MultiConfig,
    seed: u64,
    runs: u32,
    progress: &(dyn Fn() + Sync),
) -> Result<Vec<MultiResult>, EngineError> {
    use rayon::prelude::*;
    if !(1..=MAX_COMPARE_RUNS).contains(&runs) {
        return Err(EngineError::BadDrill(format!(
            "{runs} runs: give from 1 to {MAX_COMPARE_RUNS}"
        )));
    }
    (0..runs)
        .into_par_iter()
        .map(|i| {
            let r = run_multi(cfg, crate::drill::run_seed(seed, i));
            progress();
            r
        })
        .collect()
}

/// Plays `cfg` once with `seed`, its fault timeline shifted by the run's
/// onset exactly as run 0 of [`crate::drill::run_drills`] shifts it.
pub fn run_multi(cfg: &MultiConfig, seed: u64) -> Result<MultiResult, EngineError> {
    cfg.validate()?;
    cfg.drill.check_onset_window()?;
    let at = onset(seed, cfg.drill.onset_window);
    let c = MultiConfig {
        drill: shifted(&cfg.drill, at),
        ..cfg.clone()
    };
    let mut r = sim::play(&c, seed);
    r.onset = at;
    Ok(r)
}
