//! `kata86 plan`: every design the simulator can play, tried against one
//! topology's SLOs and faults, then ranked.
//!
//! # Overview
//! * [`Design`] — one point of the search space: a single leader (its
//!   replication mode, failover policy and read strategy), a multi-leader
//!   write path (`lww`, `crdt`, `escrow`, with its read strategy) or a
//!   leaderless quorum (N, R, W).
//! * [`Space`] — the designs, the scenario played in normal operation, the
//!   fault scenarios, runs and seed; [`Space::kata`] is the kata's topology
//!   with JP and the four default faults.
//! * [`evaluate`] → [`Evaluation`] per design ([`Figures`] plus the first
//!   thing it broke; it serialises itself as `kata86 plan`'s JSON of a
//!   design), [`rank`] by [`Metric`] priorities, [`pareto`] between
//!   charge p95, read p95, staleness p99 and RPO p99, and [`binding`]: what
//!   no design can meet.
//!
//! # Key decision: judge what was simulated, say what was not
//! Single-leader and multi-leader designs are judged by the same per-site,
//! per-phase verdicts (steady state and each fault's impact window, from
//! the runs' per-second indicators), plus worst-site RTO, RPO and money.
//! Money is right only when every run of every scenario kept every
//! invariant and lost no acknowledged write. Where the model cannot judge
//! a design — a leaderless quorum orders no concurrent debits and plays no
//! faults — the design is not ranked on a guess: it is rejected as "not
//! judged on money or faults", so the plan never recommends what it did
//! not measure.
//!
//! Each distinct (scenario, configuration) is simulated once: the failover
//! policy only matters in scenarios that lose a leader, so the others share
//! one result. No I/O.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use engine::drill::sli::Verdict;
use engine::drill::{
    run_drills, Builtin, DrillConfig, DrillRuns, FaultKind, JpRole, Policy, Replication,
};
use engine::multi::{judge, row_of_judged, run_multis, MultiConfig, WritePath};
use engine::{run_cell, Cell, QuorumSpec, SimConfig};
use metrics::{LatencyHistogram, Series, Slo, SloVerdict};
use rayon::prelude::*;
use routing::ReadStrategy;
use topology::{to_ms, Micros};

/// Requests per client site a quorum design plays (the kata loop).
pub const QUORUM_REQUESTS: u64 = 100_000;
/// The most runs per scenario and design.
pub const MAX_PLAN_RUNS: u32 = 1_000;

/// Why a plan cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// Filters left nothing to try.
    #[error("the search space is empty: {0}")]
    EmptySpace(String),
    /// A `--write-path` or `--strategy` filter that names nothing.
    #[error("{flag} `{name}` is not a choice here (choose from: {known})")]
    UnknownName {
        /// The flag.
        flag: &'static str,
        /// The name given.
        name: String,
        /// The names the search space has.
        known: String,
    },
    /// A priority that is not a metric.
    #[error("unknown priority `{0}` (choose from: money, rto, charge_p95, read_p95, staleness_p99, rpo_p99)")]
    UnknownMetric(String),
    /// Runs out of range.
    #[error("--runs {0}: give from 1 to {MAX_PLAN_RUNS}")]
    Runs(u32),
    /// The engine refused a configuration.
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    /// A unit's result that this plan could not have measured (see
    /// [`UnitResult::check`]): read from a damaged or edited shard file.
    #[error("unit {unit}: {why}")]
    BadResult {
        /// The unit's index in [`units`] order.
        unit: usize,
        /// What is impossible about it.
        why: String,
    },
}

/// One design.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Design {
    /// One leader.
    SingleLeader {
        /// When a charge is acknowledged.
        replication: Replication,
        /// What happens when the leader is lost.
        policy: Policy,
        /// How balances are read.
        strategy: ReadStrategy,
    },
    /// Multi-leader regional writes.
    Multi {
        /// `lww`, `crdt` or `escrow`.
        path: WritePath,
        /// How balances are read (local, fallback or bounded: there is no
        /// leader to read from).
        strategy: ReadStrategy,
    },
    /// Leaderless N/R/W.
    Quorum {
        /// Replicas.
        n: usize,
        /// Read replies.
        r: usize,
        /// Write acks.
        w: usize,
    },
}

impl Design {
    /// The write path's name as `--write-path` takes it.
    pub fn write_path(&self) -> &'static str {
        match self {
            Design::SingleLeader { replication, .. } => replication.name(),
            Design::Multi { path, .. } => path.name(),
            Design::Quorum { .. } => "quorum",
        }
    }

    /// The read strategy's name.
    pub fn read_strategy(&self) -> &'static str {
        match self {
            Design::SingleLeader { strategy, .. } => strategy.name(),
            Design::Multi { strategy, .. } => strategy.name(),
            Design::Quorum { .. } => "quorum",
        }
    }

    /// A name people read: `majority / promote-auto / bounded`.
    pub fn name(&self) -> String {
        match self {
            Design::SingleLeader {
                replication,
                policy,
                strategy,
            } => format!(
                "{} / {} / {}",
                replication.name(),
                policy.name(),
                strategy.name()
            ),
            Design::Multi { path, strategy } => {
                format!("multi-leader {} / {}", path.name(), strategy.name())
            }
            Design::Quorum { n, r, w } => format!("quorum N{n} R{r} W{w}"),
        }
    }
}

/// What a plan searches.
#[derive(Debug, Clone)]
pub struct Space {
    /// Normal operation: topology, workload, SLOs; its faults are ignored.
    pub normal: DrillConfig,
    /// Fault scenarios, by name.
    pub faults: Vec<(String, DrillConfig)>,
    /// The designs tried.
    pub designs: Vec<Design>,
    /// Runs per scenario and design (run i: seed + i, its own fault onset).
    pub runs: u32,
    /// Master seed.
    pub seed: u64,
}

/// The quorum choices that mean something for `regions` regions: one
/// replica per region (at least 3), R = W = 1, a majority each, and the two
/// one-sided strict quorums.
pub fn quorum_choices(regions: usize) -> Vec<Design> {
    // One replica per region, at least 3, at most the model's 16.
    let n = regions.clamp(3, quorum::MAX_N);
    let m = n / 2 + 1;
    let mut v = vec![(1, 1), (m, m), (1, n), (n, 1)];
    v.sort_unstable();
    v.dedup();
    v.into_iter()
        .map(|(r, w)| Design::Quorum { n, r, w })
        .collect()
}

/// Every design: single leader (3 replication modes × 3 policies × 4 read
/// strategies), the three multi-leader paths × their 3 read strategies,
/// the quorum choices.
pub fn all_designs(regions: usize) -> Vec<Design> {
    let mut v = Vec::new();
    for &replication in Replication::ALL {
        for &policy in Policy::ALL {
            for strategy in ReadStrategy::SINGLE_LEADER {
                v.push(Design::SingleLeader {
                    replication,
                    policy,
                    strategy,
                });
            }
        }
    }
    for path in [WritePath::Lww, WritePath::Crdt, WritePath::Escrow] {
        for strategy in engine::multi::READ_STRATEGIES {
            v.push(Design::Multi { path, strategy });
        }
    }
    v.extend(quorum_choices(regions));
    v
}

impl Space {
    /// The kata's topology with JP a full replica, the kata's SLOs, normal
    /// operation plus region-down, partition, lag-spike and clock-skew.
    pub fn kata(runs: u32, seed: u64) -> Space {
        Space::on(JpRole::Replica, runs, seed)
    }

    /// [`Space::kata`] with JP in the given role ([`JpRole::Absent`]: the
    /// kata preset's two regions).
    pub fn on(jp: JpRole, runs: u32, seed: u64) -> Space {
        let normal = DrillConfig::builtin(Builtin::Baseline, jp);
        let faults = [
            Builtin::RegionDown,
            Builtin::Partition,
            Builtin::LagSpike,
            Builtin::ClockSkew,
        ]
        .map(|b| (b.name().to_string(), DrillConfig::builtin(b, jp)))
        .to_vec();
        Space::new(normal, faults, runs, seed)
    }

    /// Every design of [`all_designs`] on this world.
    pub fn new(
        normal: DrillConfig,
        faults: Vec<(String, DrillConfig)>,
        runs: u32,
        seed: u64,
    ) -> Space {
        let designs = all_designs(normal.topology.region_count());
        Space {
            normal,
            faults,
            designs,
            runs,
            seed,
        }
    }

    /// A scenario file's world: normal operation is the scenario without its
    /// faults; each fault it lists is a scenario of its own. A file that
    /// lists no fault (a world, not a timeline) is played against the
    /// built-in faults of [`Space::kata`], aimed at its leader
    /// ([`DrillConfig::playing`]).
    pub fn scenario(cfg: DrillConfig, runs: u32, seed: u64) -> Result<Space, PlanError> {
        let mut normal = cfg.clone();
        normal.faults.clear();
        normal.flags.clear();
        if cfg.faults.is_empty() {
            let faults = [
                Builtin::RegionDown,
                Builtin::Partition,
                Builtin::LagSpike,
                Builtin::ClockSkew,
            ]
            .iter()
            .map(|&b| Ok((b.name().to_string(), normal.clone().playing(b)?)))
            .collect::<Result<Vec<_>, PlanError>>()?;
            return Ok(Space::new(normal, faults, runs, seed));
        }
        let faults = cfg
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut one = normal.clone();
                one.faults = vec![*f];
                (format!("{} #{}", f.kind.name(), i + 1), one)
            })
            .collect();
        Ok(Space::new(normal, faults, runs, seed))
    }

    /// Keeps the designs whose write path and read strategy are listed (an
    /// empty list keeps all).
    pub fn filter(
        &mut self,
        write_paths: &[String],
        strategies: &[String],
    ) -> Result<(), PlanError> {
        // Every name must mean something: a typo among valid names would
        // otherwise shrink the search without a word.
        for (flag, list, name_of) in [
            (
                "--write-path",
                write_paths,
                Design::write_path as fn(&Design) -> &'static str,
            ),
            ("--strategy", strategies, Design::read_strategy),
        ] {
            let mut known: Vec<&str> = self.designs.iter().map(name_of).collect();
            known.sort_unstable();
            known.dedup();
            if let Some(bad) = list.iter().find(|x| !known.contains(&x.as_str())) {
                return Err(PlanError::UnknownName {
                    flag,
                    name: bad.clone(),
                    known: known.join(", "),
                });
            }
        }
        let keep = |list: &[String], name: &str| list.is_empty() || list.iter().any(|x| x == name);
        self.designs
            .retain(|d| keep(write_paths, d.write_path()) && keep(strategies, d.read_strategy()));
        if self.designs.is_empty() {
            return Err(PlanError::EmptySpace(format!(
                "no design has write path {} and read strategy {} (multi-leader paths read \
                 local, fallback or bounded, quorums `quorum`; write paths: async, semi-sync, \
                 majority, lww, crdt, escrow, quorum)",
                show(write_paths),
                show(strategies)
            )));
        }
        Ok(())
    }
}

fn show(list: &[String]) -> String {
    if list.is_empty() {
        "any".into()
    } else {
        list.join(" or ")
    }
}

/// A design's figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Figures {
    /// Worst site's charge p95 in normal operation.
    pub charge_p95: Option<Micros>,
    /// Worst site's read p95 in normal operation (`None`: no read answered).
    pub read_p95: Option<Micros>,
    /// p99 of the age of the data reads returned, every site, normal operation.
    pub staleness_p99: Option<Micros>,
    /// Worst-site RTO p95 over the fault scenarios: `None` when no scenario
    /// measured one; `Some(None)` when a site never recovered.
    pub rto_p95: Option<Option<Micros>>,
    /// RPO p99 over the fault scenarios (0 without any).
    pub rpo_p99: Micros,
    /// The first money breach, if any, with the scenario it happened in.
    pub money_breach: Option<String>,
    /// Pooled SLO verdicts in normal operation, in the SLOs' order: shown,
    /// never deciding (the per-site verdicts decide).
    pub slo: Vec<SloVerdict>,
    /// Every per-site verdict that failed, in every scenario played (steady
    /// state and each fault's budget), worst first.
    pub failures: Vec<Failing>,
    /// Every per-site verdict judged, every scenario, in scenario order
    /// (the budget each fault consumed at each site, per objective).
    pub verdicts: Vec<Failing>,
    /// What the model does not show for this design.
    pub unmodelled: Option<String>,
}

/// A per-site verdict with the scenario it was judged in.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Failing {
    /// The scenario: `normal operation` or a fault scenario's name.
    pub scenario: String,
    /// The verdict.
    pub verdict: Verdict,
}

impl Failing {
    /// A line for a person.
    pub fn describe(&self) -> String {
        format!("{} [{}]", self.verdict.describe(), self.scenario)
    }
}

/// A design with its figures and its first failure.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The design.
    pub design: Design,
    /// What it measured.
    pub figures: Figures,
    /// The first thing it broke (`None`: accepted).
    pub rejected: Option<String>,
}

impl Evaluation {
    /// Met every SLO, kept every invariant, recovered from every fault.
    pub fn accepted(&self) -> bool {
        self.rejected.is_none()
    }
}

/// The JSON of one design (`kata86 plan --format json`, `ranked` and
/// `rejected`): its names, its verdict, then its figures in their report
/// units. Hand-written beside [`Evaluation`] because the JSON holds figures
/// derived from it (the design's names, `accepted`, the worst-site RTO split
/// into a time and whether every site recovered); its keys and units are
/// written here once.
impl serde::Serialize for Evaluation {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let f = &self.figures;
        let mut o = s.serialize_struct("DesignJson", 16)?;
        o.serialize_field("design", &self.design.name())?;
        o.serialize_field("write_path", self.design.write_path())?;
        o.serialize_field("read_strategy", self.design.read_strategy())?;
        o.serialize_field("accepted", &self.accepted())?;
        o.serialize_field("rejected", &self.rejected)?;
        o.serialize_field("charge_p95_ms", &ms(f.charge_p95))?;
        o.serialize_field("read_p95_ms", &ms(f.read_p95))?;
        o.serialize_field("data_age_p99_ms", &ms(f.staleness_p99))?;
        o.serialize_field(
            "worst_site_rto_p95_s",
            &f.rto_p95.flatten().map(|t| to_ms(t) / 1000.0),
        )?;
        o.serialize_field("worst_site_recovered", &f.rto_p95.map(|t| t.is_some()))?;
        o.serialize_field("rpo_p99_s", &(to_ms(f.rpo_p99) / 1000.0))?;
        o.serialize_field("money_breach", &f.money_breach)?;
        o.serialize_field("slo", &f.slo)?;
        o.serialize_field("failing_verdicts", &f.failures)?;
        o.serialize_field("verdicts", &f.verdicts)?;
        o.end()
    }
}

// The schema of `Evaluation`'s serialisation (schema only: the keys its
// `Serialize` writes, with their types; `kata86 plan`'s output is validated
// against it in the CLI tests, so the two cannot drift apart).
#[derive(schemars::JsonSchema)]
#[schemars(rename = "DesignJson")]
#[allow(dead_code)]
struct DesignSchema {
    design: String,
    write_path: String,
    read_strategy: String,
    accepted: bool,
    rejected: Option<String>,
    charge_p95_ms: Option<f64>,
    read_p95_ms: Option<f64>,
    /// p99 of `data_age`, the true age of the balances returned.
    data_age_p99_ms: Option<f64>,
    /// Seconds; `null` when no fault measured it or a site did not
    /// recover (`worst_site_recovered` tells which).
    worst_site_rto_p95_s: Option<f64>,
    /// `null`: no fault measured it; `false`: a site did not recover
    /// within the drill.
    worst_site_recovered: Option<bool>,
    rpo_p99_s: f64,
    money_breach: Option<String>,
    /// Pooled verdicts in normal operation: shown, never deciding.
    slo: Vec<SloVerdict>,
    /// Every failing per-site verdict, worst first.
    failing_verdicts: Vec<Failing>,
    /// Every per-site verdict, every scenario.
    verdicts: Vec<Failing>,
}

impl schemars::JsonSchema for Evaluation {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        DesignSchema::schema_name()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        DesignSchema::json_schema(g)
    }
}

/// The metrics a plan ranks on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Money kept right (0) or not (1).
    Money,
    /// Worst-site RTO p95.
    Rto,
    /// Worst-site charge p95.
    ChargeP95,
    /// Worst-site read p95.
    ReadP95,
    /// Staleness p99.
    StalenessP99,
    /// RPO p99.
    RpoP99,
}

impl Metric {
    /// Every metric, the default priorities first.
    pub const ALL: [Metric; 6] = [
        Metric::Money,
        Metric::Rto,
        Metric::ChargeP95,
        Metric::ReadP95,
        Metric::RpoP99,
        Metric::StalenessP99,
    ];

    /// The name `--priorities` takes.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Money => "money",
            Metric::Rto => "rto",
            Metric::ChargeP95 => "charge_p95",
            Metric::ReadP95 => "read_p95",
            Metric::StalenessP99 => "staleness_p99",
            Metric::RpoP99 => "rpo_p99",
        }
    }

    /// Parses a comma-separated priority list; the metrics it leaves out
    /// follow in the default order.
    pub fn priorities(list: &str) -> Result<Vec<Metric>, PlanError> {
        let mut out = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let m = Metric::ALL
                .into_iter()
                .find(|m| m.name() == name)
                .ok_or_else(|| PlanError::UnknownMetric(name.to_string()))?;
            if !out.contains(&m) {
                out.push(m);
            }
        }
        let rest: Vec<Metric> = Metric::ALL
            .into_iter()
            .filter(|m| !out.contains(m))
            .collect();
        out.extend(rest);
        Ok(out)
    }

    /// The value ranked on: lower is better; unknown is worst.
    pub fn value(self, f: &Figures) -> u64 {
        let or_worst = |x: Option<Micros>| x.unwrap_or(u64::MAX);
        match self {
            Metric::Money => f.money_breach.is_some() as u64,
            Metric::Rto => f.rto_p95.map_or(0, or_worst),
            Metric::ChargeP95 => or_worst(f.charge_p95),
            Metric::ReadP95 => or_worst(f.read_p95),
            Metric::StalenessP99 => or_worst(f.staleness_p99),
            Metric::RpoP99 => f.rpo_p99,
        }
    }
}

/// What one scenario of one single-leader configuration measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
struct Played {
    charge_p95: Option<Micros>,
    read_p95: Option<Micros>,
    staleness_p99: Option<Micros>,
    slo: Vec<SloVerdict>,
    /// Every objective at every site, per phase.
    verdicts: Vec<Verdict>,
    /// `None`: the scenario has no fault; `Some(None)`: a site did not
    /// recover within the drill in at least 5 % of the runs.
    rto_p95: Option<Option<Micros>>,
    rpo_p99: Micros,
    money_breach: Option<String>,
}

fn worst(hs: impl Iterator<Item = Option<Micros>>) -> Option<Micros> {
    hs.flatten().max()
}

fn p(h: &LatencyHistogram, q: f64) -> Option<Micros> {
    (h.count() > 0).then(|| h.value_at_quantile(q))
}

fn money_of(r: &DrillRuns) -> Option<String> {
    let n = r.runs.len();
    let bad = |what: &str, k: usize| Some(format!("{what} in {k}/{n} runs"));
    let count =
        |f: &dyn Fn(&engine::drill::RunRecord) -> bool| r.runs.iter().filter(|x| f(x)).count();
    let k = count(&|x| !x.money.invariants_ok || x.money.defect.is_some());
    if k > 0 {
        return bad("money invariants broken", k);
    }
    let k =
        count(&|x| x.money.lost_acknowledged_charges > 0 || x.money.lost_acknowledged_top_ups > 0);
    if k > 0 {
        let most = r
            .runs
            .iter()
            .map(|x| x.money.lost_acknowledged_charges)
            .max()
            .unwrap_or(0);
        return Some(format!(
            "acknowledged writes lost in {k}/{n} runs (up to {most} charges)"
        ));
    }
    let k = count(&|x| x.money.overspend_incidents > 0 || x.money.duplicate_effects > 0);
    if k > 0 {
        return bad("overspend or a double effect", k);
    }
    None
}

fn play_drill(cfg: &DrillConfig, runs: u32, seed: u64) -> Result<Played, PlanError> {
    let r = run_drills(cfg, seed, runs, &|| {})?;
    let w = &r.outside;
    let mut all = LatencyHistogram::new();
    for s in &w.sites {
        all.merge(&s.data_age);
    }
    let has_fault = !cfg.faults.is_empty();
    Ok(Played {
        charge_p95: worst(w.sites.iter().map(|s| p(&s.write, 0.95))),
        read_p95: worst(w.sites.iter().map(|s| p(&s.read, 0.95))),
        staleness_p99: p(&all, 0.99),
        slo: w.slo.clone(),
        verdicts: r.verdicts.clone(),
        // With a fault every site has an RTO or none (did not recover);
        // the spread ranks "did not recover" last.
        rto_p95: has_fault.then(|| r.rto_worst().p95),
        rpo_p99: r.rpo().p99.unwrap_or(0),
        money_breach: money_of(&r),
    })
}

/// Whether losing the leader is part of the scenario (then the policy matters).
fn loses_leader(cfg: &DrillConfig) -> bool {
    cfg.faults.iter().any(|f| {
        matches!(
            f.kind,
            FaultKind::RegionDown { .. } | FaultKind::Partition { .. }
        )
    })
}

/// A single-leader configuration of a scenario (its index, 0 being normal
/// operation), keyed so that designs differing only where the scenario
/// cannot tell share one run.
pub type Key = (usize, Replication, Option<Policy>, ReadStrategy);

/// One piece of a plan's work: a single-leader configuration of one
/// scenario, or one multi-leader or quorum design (all its scenarios). A
/// plan's units, in [`units`] order, are what `--shard I/N` splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A single-leader drill configuration of a scenario.
    Drill(Key),
    /// A multi-leader or quorum design, by index into [`Space::designs`].
    Design(usize),
}

/// What one [`Unit`] measured: plain data, written to and read from shard
/// files.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct UnitResult(Measured);

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
enum Measured {
    Drill(Played),
    Design(Figures),
}

impl UnitResult {
    /// Checks what can be checked of a result read back (from a shard
    /// file) without playing it again: it is of the kind `unit` plays, every
    /// SLO verdict is one of the world's objectives re-judged from its own
    /// observed figure (a verdict flipped to pass is refused), and every
    /// time is a duration a histogram could hold, RTO and RPO within the
    /// longest scenario. Figures it cannot re-derive are the caller's to
    /// verify by replaying a sample of units with [`play`].
    pub fn check(&self, space: &Space, index: usize, unit: Unit) -> Result<(), PlanError> {
        let bad = |why: String| PlanError::BadResult { unit: index, why };
        let longest = scenarios(space)
            .iter()
            .map(|c| c.duration)
            .max()
            .unwrap_or(0);
        let most = LatencyHistogram::MAX_TRACKABLE_US;
        let time = |name: &str, v: Option<Micros>, limit: Micros| match v {
            Some(us) if us > limit => Err(bad(format!(
                "its {name} of {us} µs is over the {limit} µs it could be"
            ))),
            _ => Ok(()),
        };
        if let Measured::Drill(p) = &self.0 {
            for v in &p.verdicts {
                if v.good > v.valid
                    || v.pass != v.rejudged()
                    || v.share != (v.valid > 0).then(|| v.good as f64 / v.valid as f64)
                {
                    return Err(bad(format!(
                        "the verdict of `{}` at `{}` does not follow from its own counts",
                        shown(&v.slo),
                        shown(&v.site)
                    )));
                }
                if !space.normal.slos.iter().any(|o| o.name == v.slo) {
                    return Err(bad(format!(
                        "a verdict on `{}`, not one of the world's objectives",
                        shown(&v.slo)
                    )));
                }
            }
        }
        let (charge, read, stale, slo, rto, rpo) = match (&self.0, unit) {
            (Measured::Drill(p), Unit::Drill(_)) => (
                p.charge_p95,
                p.read_p95,
                p.staleness_p99,
                &p.slo,
                p.rto_p95,
                p.rpo_p99,
            ),
            (Measured::Design(f), Unit::Design(_)) => (
                f.charge_p95,
                f.read_p95,
                f.staleness_p99,
                &f.slo,
                f.rto_p95,
                f.rpo_p99,
            ),
            _ => return Err(bad("it is not a result of the kind its unit plays".into())),
        };
        time("charge p95", charge, most)?;
        time("read p95", read, most)?;
        time("staleness p99", stale, most)?;
        time("RTO p95", rto.flatten(), longest)?;
        time("RPO p99", Some(rpo), longest)?;
        let mut objectives = space.normal.slos.iter();
        for v in slo {
            if !objectives.any(|o| o.name == v.name && o.target_ms == v.target_ms) {
                return Err(bad(format!(
                    "an SLO verdict `{}` < {} ms that is not one of the world's objectives, in \
                     their order",
                    shown(&v.name),
                    v.target_ms
                )));
            }
            if let Some(o) = v.observed_ms {
                if !(o.is_finite() && (0.0..=most as f64 / 1e3).contains(&o)) {
                    return Err(bad(format!(
                        "SLO `{}` observed {o} ms, not a duration a histogram holds",
                        v.name
                    )));
                }
            }
            let pass = v.observed_ms.is_some_and(|o| o < v.target_ms);
            if v.pass != pass {
                return Err(bad(format!(
                    "SLO `{}` says {} but its observed {} against {} ms {}",
                    v.name,
                    if v.pass { "pass" } else { "fail" },
                    v.observed_ms
                        .map_or_else(|| "no data".to_string(), |o| format!("{o} ms")),
                    v.target_ms,
                    if pass { "passes" } else { "fails" }
                )));
            }
        }
        Ok(())
    }
}

/// At most 60 characters of `s`, for a message.
fn shown(s: &str) -> String {
    if s.chars().count() <= 60 {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(60).collect::<String>())
    }
}

fn scenarios(space: &Space) -> Vec<&DrillConfig> {
    std::iter::once(&space.normal)
        .chain(space.faults.iter().map(|(_, c)| c))
        .collect()
}

/// The plan's units in their fixed order: the distinct single-leader drill
/// configurations (the failover policy kept only where a scenario loses a
/// leader), then the other designs in design order.
pub fn units(space: &Space) -> Result<Vec<Unit>, PlanError> {
    if !(1..=MAX_PLAN_RUNS).contains(&space.runs) {
        return Err(PlanError::Runs(space.runs));
    }
    if space.designs.is_empty() {
        return Err(PlanError::EmptySpace("no design to try".into()));
    }
    let scenarios = scenarios(space);
    let mut keys: Vec<Key> = Vec::new();
    for d in &space.designs {
        if let Design::SingleLeader {
            replication,
            policy,
            strategy,
        } = *d
        {
            for (i, s) in scenarios.iter().enumerate() {
                let pol = loses_leader(s).then_some(policy);
                keys.push((i, replication, pol, strategy));
            }
        }
    }
    keys.sort_unstable_by_key(|k| (k.0, k.1.name(), k.2.map(|p| p.name()), k.3.name()));
    keys.dedup();
    let mut v: Vec<Unit> = keys.into_iter().map(Unit::Drill).collect();
    v.extend(
        space
            .designs
            .iter()
            .enumerate()
            .filter(|(_, d)| !matches!(d, Design::SingleLeader { .. }))
            .map(|(i, _)| Unit::Design(i)),
    );
    Ok(v)
}

/// Plays one unit.
pub fn play(space: &Space, unit: Unit) -> Result<UnitResult, PlanError> {
    let scenarios = scenarios(space);
    Ok(UnitResult(match unit {
        Unit::Drill((i, replication, policy, strategy)) => {
            let mut c = scenarios[i].clone();
            c.replication = replication;
            if let Some(p) = policy {
                c.policy = p;
            }
            c.strategy = strategy;
            Measured::Drill(play_drill(&c, space.runs, space.seed)?)
        }
        Unit::Design(d) => Measured::Design(match space.designs[d] {
            Design::Multi { path, strategy } => multi(space, &scenarios, path, strategy)?,
            Design::Quorum { n, r, w } => quorum(space, n, r, w)?,
            Design::SingleLeader { .. } => {
                return Err(PlanError::EmptySpace(
                    "a single-leader design is played as drill units".into(),
                ))
            }
        }),
    }))
}

/// Every design's evaluation from the results of every unit, in [`units`]
/// order (as [`evaluate`] plays them, or as the shards of a run hold them).
pub fn assemble(space: &Space, results: &[UnitResult]) -> Result<Vec<Evaluation>, PlanError> {
    let all = units(space)?;
    if all.len() != results.len() {
        return Err(PlanError::EmptySpace(format!(
            "{} results for {} units: the work is incomplete",
            results.len(),
            all.len()
        )));
    }
    let scenarios = scenarios(space);
    let mut played: BTreeMap<(usize, &str, Option<&str>, &str), &Played> = BTreeMap::new();
    let mut others: BTreeMap<usize, &Figures> = BTreeMap::new();
    for (u, r) in all.iter().zip(results) {
        match (u, &r.0) {
            (Unit::Drill(k), Measured::Drill(p)) => {
                played.insert((k.0, k.1.name(), k.2.map(|x| x.name()), k.3.name()), p);
            }
            (Unit::Design(d), Measured::Design(f)) => {
                others.insert(*d, f);
            }
            _ => {
                return Err(PlanError::EmptySpace(
                    "a result does not match its unit: the results are from another plan".into(),
                ))
            }
        }
    }
    Ok(space
        .designs
        .iter()
        .enumerate()
        .map(|(di, d)| {
            let figures = match *d {
                Design::SingleLeader {
                    replication,
                    policy,
                    strategy,
                } => {
                    let get = |i: usize| {
                        let pol = loses_leader(scenarios[i]).then_some(policy.name());
                        played[&(i, replication.name(), pol, strategy.name())]
                    };
                    single_leader(space, &get)
                }
                _ => others[&di].clone(),
            };
            let rejected = first_failure(&figures);
            Evaluation {
                design: *d,
                figures,
                rejected,
            }
        })
        .collect())
}

/// Plays the units `keep` selects (by their index in [`units`] order), in
/// parallel; `progress(done, total)` after each, from any thread. Returns
/// each played unit's index and result, in index order.
pub fn play_units(
    space: &Space,
    keep: &(dyn Fn(usize) -> bool + Sync),
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<(usize, UnitResult)>, PlanError> {
    let all = units(space)?;
    let mine: Vec<(usize, Unit)> = all
        .into_iter()
        .enumerate()
        .filter(|(i, _)| keep(*i))
        .collect();
    let total = mine.len() as u64;
    let done = AtomicU64::new(0);
    mine.into_par_iter()
        .map(|(i, u)| {
            let r = play(space, u);
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            r.map(|r| (i, r))
        })
        .collect()
}

/// Plays every unit and assembles every design's evaluation;
/// `progress(done, total)` after each unit, from any thread.
pub fn evaluate(
    space: &Space,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Vec<Evaluation>, PlanError> {
    let results: Vec<UnitResult> = play_units(space, &|_| true, progress)?
        .into_iter()
        .map(|(_, r)| r)
        .collect();
    assemble(space, &results)
}

fn single_leader<'a>(space: &Space, get: &dyn Fn(usize) -> &'a Played) -> Figures {
    let normal = get(0);
    let faults: Vec<(&str, &Played)> = space
        .faults
        .iter()
        .enumerate()
        .map(|(i, (name, _))| (name.as_str(), get(i + 1)))
        .collect();
    let money_breach = normal
        .money_breach
        .as_ref()
        .map(|b| format!("{b} (normal operation)"))
        .or_else(|| {
            faults
                .iter()
                .find_map(|(n, p)| p.money_breach.as_ref().map(|b| format!("{b} ({n})")))
        });
    let verdicts: Vec<Failing> = std::iter::once(("normal operation", normal))
        .chain(faults.iter().copied())
        .flat_map(|(n, p)| {
            p.verdicts.iter().map(move |v| Failing {
                scenario: n.to_string(),
                verdict: v.clone(),
            })
        })
        .collect();
    let mut failures: Vec<Failing> = verdicts
        .iter()
        .filter(|v| !v.verdict.pass)
        .cloned()
        .collect();
    failures.sort_by(|a, b| b.verdict.severity().total_cmp(&a.verdict.severity()));
    let rtos: Vec<Option<Micros>> = faults.iter().filter_map(|(_, p)| p.rto_p95).collect();
    let rto_p95 = (!rtos.is_empty()).then(|| {
        if rtos.contains(&None) {
            None
        } else {
            rtos.iter().flatten().copied().max()
        }
    });
    Figures {
        charge_p95: normal.charge_p95,
        read_p95: normal.read_p95,
        staleness_p99: normal.staleness_p99,
        rto_p95,
        rpo_p99: faults.iter().map(|(_, p)| p.rpo_p99).max().unwrap_or(0),
        money_breach,
        slo: normal.slo.clone(),
        failures,
        verdicts,
        unmodelled: None,
    }
}

fn multi(
    space: &Space,
    scenarios: &[&DrillConfig],
    path: WritePath,
    strategy: ReadStrategy,
) -> Result<Figures, PlanError> {
    let mut f = Figures {
        charge_p95: None,
        read_p95: None,
        staleness_p99: None,
        rto_p95: None,
        rpo_p99: 0,
        money_breach: None,
        slo: Vec::new(),
        failures: Vec::new(),
        verdicts: Vec::new(),
        unmodelled: None,
    };
    let mut rtos = Vec::new();
    for (i, s) in scenarios.iter().enumerate() {
        let mut d = (*s).clone();
        d.strategy = strategy;
        let m = MultiConfig::new(d, path);
        let rs = run_multis(&m, space.seed, space.runs)?;
        let judged = judge(&m.drill, &rs);
        let row = row_of_judged(&m.drill, path, &rs, &judged);
        let name = if i == 0 {
            "normal operation"
        } else {
            space.faults[i - 1].0.as_str()
        };
        if i == 0 {
            let w = &judged.outside;
            let mut all = LatencyHistogram::new();
            for s in &w.sites {
                all.merge(&s.data_age);
            }
            f.charge_p95 = worst(w.sites.iter().map(|s| p(&s.write, 0.95)));
            f.read_p95 = worst(w.sites.iter().map(|s| p(&s.read, 0.95)));
            f.staleness_p99 = p(&all, 0.99);
            f.slo = w.slo.clone();
        } else if !m.drill.faults.is_empty() {
            rtos.push(judged.rto_worst.p95);
        }
        f.verdicts
            .extend(judged.verdicts.into_iter().map(|v| Failing {
                scenario: name.to_string(),
                verdict: v,
            }));
        if f.money_breach.is_none() && row.runs_broken > 0 {
            f.money_breach = Some(format!(
                "money invariants broken in {}/{} runs ({name}): overspend p50 {}, lost updates p50 {}",
                row.runs_broken,
                row.runs,
                row.overspend_incidents.p50.unwrap_or(0),
                row.lost_updates.p50.unwrap_or(0)
            ));
        }
    }
    f.failures = f
        .verdicts
        .iter()
        .filter(|v| !v.verdict.pass)
        .cloned()
        .collect();
    f.failures
        .sort_by(|a, b| b.verdict.severity().total_cmp(&a.verdict.severity()));
    f.rto_p95 = (!rtos.is_empty()).then(|| {
        if rtos.contains(&None) {
            None
        } else {
            rtos.iter().flatten().copied().max()
        }
    });
    Ok(f)
}

fn quorum(space: &Space, n: usize, r: usize, w: usize) -> Result<Figures, PlanError> {
    let d = &space.normal;
    let cfg = SimConfig {
        topology: d.topology.clone(),
        leader: d.leader,
        slos: d.slos.clone(),
        // The world's deadline and commit time, as its drills use them.
        read: d.read,
        write: d.write,
        quorum: QuorumSpec {
            n,
            r,
            w,
            placement: None,
        },
        ..SimConfig::kata()
    };
    cfg.validate()?;
    let cells: Vec<_> = d
        .topology
        .site_ids()
        .map(|site| {
            let cell = Cell {
                site,
                strategy: ReadStrategy::Quorum,
            };
            run_cell(&cfg, space.seed, QUORUM_REQUESTS, cell, &|_| {})
        })
        .collect();
    let mut all = [
        LatencyHistogram::new(),
        LatencyHistogram::new(),
        LatencyHistogram::new(),
    ];
    for c in &cells {
        all[0].merge(&c.read);
        all[1].merge(&c.write);
        all[2].merge(&c.staleness);
    }
    let slo = d
        .slos
        .iter()
        .filter(|s| !s.series.is_availability())
        .map(|s: &Slo| {
            let pick = |read: &LatencyHistogram,
                        write: &LatencyHistogram,
                        st: &LatencyHistogram| match s.series {
                Series::Read => read.clone(),
                Series::Write => write.clone(),
                Series::Staleness => st.clone(),
                Series::ReadAvailability | Series::ChargeAvailability => LatencyHistogram::new(),
            };
            let h = match &s.site {
                None => pick(&all[0], &all[1], &all[2]),
                Some(name) => cells
                    .iter()
                    .find(|c| d.topology.site_name(c.cell.site) == name)
                    .map_or_else(LatencyHistogram::new, |c| {
                        pick(&c.read, &c.write, &c.staleness)
                    }),
            };
            s.judge(&h)
        })
        .collect();
    Ok(Figures {
        charge_p95: worst(cells.iter().map(|c| p(&c.write, 0.95))),
        read_p95: worst(cells.iter().map(|c| p(&c.read, 0.95))),
        staleness_p99: p(&all[2], 0.99),
        rto_p95: None,
        rpo_p99: 0,
        money_breach: None,
        slo,
        failures: Vec::new(),
        verdicts: Vec::new(),
        unmodelled: Some(
            "not judged on money or faults: a quorum register orders no concurrent debits \
             (no balance check can hold without a conditional write), and this model plays it \
             in normal operation only"
                .into(),
        ),
    })
}

fn first_failure(f: &Figures) -> Option<String> {
    if let Some(b) = &f.money_breach {
        return Some(format!("money: {b}"));
    }
    if let Some(first) = f.failures.first() {
        let more = match f.failures.len() - 1 {
            0 => String::new(),
            n => format!(" (and {n} more failing verdicts)"),
        };
        return Some(format!("{}{more}", first.describe()));
    }
    if let Some(u) = &f.unmodelled {
        return Some(u.clone());
    }
    if f.rto_p95 == Some(None) {
        return Some("RTO: a site never recovered within the drill".into());
    }
    None
}

/// The accepted designs, best first by `priorities` (then by name).
pub fn rank<'a>(evals: &'a [Evaluation], priorities: &[Metric]) -> Vec<&'a Evaluation> {
    let mut ok: Vec<&Evaluation> = evals.iter().filter(|e| e.accepted()).collect();
    ok.sort_by_key(|e| {
        (
            priorities
                .iter()
                .map(|m| m.value(&e.figures))
                .collect::<Vec<_>>(),
            e.design.name(),
        )
    });
    ok
}

/// The accepted designs no other accepted design beats on every one of
/// charge p95, read p95, staleness p99 and RPO p99 (and strictly on one).
pub fn pareto(evals: &[Evaluation]) -> Vec<&Evaluation> {
    let axes = [
        Metric::ChargeP95,
        Metric::ReadP95,
        Metric::StalenessP99,
        Metric::RpoP99,
    ];
    let ok: Vec<&Evaluation> = evals.iter().filter(|e| e.accepted()).collect();
    let v = |e: &Evaluation| axes.map(|m| m.value(&e.figures));
    let mut front: Vec<&Evaluation> = ok
        .iter()
        .copied()
        .filter(|e| {
            let a = v(e);
            !ok.iter().any(|o| {
                let b = v(o);
                b.iter().zip(&a).all(|(x, y)| x <= y) && b != a
            })
        })
        .collect();
    // Designs with identical figures keep one representative each.
    front.sort_by_key(|e| (v(e), e.design.name()));
    front.dedup_by_key(|e| v(e));
    front
}

/// When nothing is accepted: every SLO that even the best design breaks,
/// with the best observed value and the design that reached it; or money,
/// when no design keeps it right.
pub fn binding(evals: &[Evaluation]) -> Vec<String> {
    let safe: Vec<&Evaluation> = evals
        .iter()
        .filter(|e| e.figures.money_breach.is_none() && e.figures.unmodelled.is_none())
        .collect();
    if safe.is_empty() {
        let judged = evals.iter().any(|e| {
            e.figures.money_breach.is_some()
                || !e
                    .figures
                    .unmodelled
                    .as_deref()
                    .is_some_and(|u| u.contains("money"))
        });
        return vec![if judged {
            "money: no design that the model can judge keeps every money invariant".into()
        } else {
            "money: the model judges money on none of these designs (see each one's \
             \"not modelled\"); add a write path it can judge, e.g. --write-path majority"
                .into()
        }];
    }
    let mut out = Vec::new();
    let names: Vec<&str> = safe[0]
        .figures
        .slo
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    for name in names {
        let best = safe
            .iter()
            .filter_map(|e| {
                let v = e.figures.slo.iter().find(|v| v.name == name)?;
                Some((v.observed_ms?, v.target_ms, e))
            })
            .min_by(|a, b| {
                a.0.total_cmp(&b.0)
                    .then_with(|| a.2.design.name().cmp(&b.2.design.name()))
            });
        match best {
            Some((o, t, e)) if o >= t => out.push(format!(
                "{name} < {t} ms: the best design reaches {o} ms ({})",
                e.design.name()
            )),
            None => out.push(format!("{name}: no design produced data")),
            _ => {}
        }
    }
    // The per-site verdicts that decide: a (scenario, site, phase,
    // objective) that every judgeable design fails binds; the least severe
    // failure shows how close the best came.
    if out.is_empty() && !safe.iter().any(|e| e.accepted()) {
        let key = |f: &Failing| {
            (
                f.scenario.clone(),
                f.verdict.site.clone(),
                f.verdict.phase.label(),
                f.verdict.slo.clone(),
            )
        };
        let mut common: BTreeMap<_, &Failing> = BTreeMap::new();
        if let Some(first) = safe.first() {
            for f in &first.figures.failures {
                common.insert(key(f), f);
            }
        }
        for e in &safe[1..] {
            let mine: BTreeMap<_, &Failing> =
                e.figures.failures.iter().map(|f| (key(f), f)).collect();
            common.retain(|k, _| mine.contains_key(k));
            for (k, f) in common.iter_mut() {
                if mine[k].verdict.severity() < f.verdict.severity() {
                    *f = mine[k];
                }
            }
        }
        out.extend(common.values().map(|f| {
            format!(
                "every design fails {}; the closest: {}",
                f.verdict.slo,
                f.describe()
            )
        }));
    }
    if out.is_empty() && safe.iter().all(|e| e.figures.rto_p95 == Some(None)) {
        out.push("RTO: no design recovers every site within the drill".into());
    }
    out
}

/// Milliseconds, for reports.
pub fn ms(v: Option<Micros>) -> Option<f64> {
    v.map(|x| (to_ms(x) * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(name: WritePath, charge: u64, read: u64, stale: u64, rpo: u64) -> Evaluation {
        Evaluation {
            design: Design::Multi {
                path: name,
                strategy: ReadStrategy::Local,
            },
            figures: Figures {
                charge_p95: Some(charge),
                read_p95: Some(read),
                staleness_p99: Some(stale),
                rto_p95: Some(Some(0)),
                rpo_p99: rpo,
                money_breach: None,
                slo: Vec::new(),
                failures: Vec::new(),
                verdicts: Vec::new(),
                unmodelled: None,
            },
            rejected: None,
        }
    }

    #[test]
    fn priorities_put_the_named_first_and_keep_the_rest() {
        let p = Metric::priorities("read_p95, money").unwrap();
        assert_eq!(p[..2], [Metric::ReadP95, Metric::Money]);
        assert_eq!(p.len(), Metric::ALL.len());
        assert_eq!(
            Metric::priorities("money,nope"),
            Err(PlanError::UnknownMetric("nope".into()))
        );
    }

    #[test]
    fn rank_follows_the_priorities_and_pareto_drops_the_dominated() {
        let evals = vec![
            eval(WritePath::Lww, 100, 50, 10, 0),
            eval(WritePath::Crdt, 50, 100, 10, 0),
            // Worse than lww on every axis but one, equal there.
            eval(WritePath::Escrow, 100, 60, 10, 0),
        ];
        let by_charge = rank(&evals, &Metric::priorities("charge_p95").unwrap());
        assert_eq!(
            by_charge[0].design,
            Design::Multi {
                path: WritePath::Crdt,
                strategy: ReadStrategy::Local
            }
        );
        let by_read = rank(&evals, &Metric::priorities("read_p95").unwrap());
        assert_eq!(
            by_read[0].design,
            Design::Multi {
                path: WritePath::Lww,
                strategy: ReadStrategy::Local
            }
        );
        let front: Vec<Design> = pareto(&evals).iter().map(|e| e.design).collect();
        assert_eq!(
            front,
            vec![
                Design::Multi {
                    path: WritePath::Crdt,
                    strategy: ReadStrategy::Local
                },
                Design::Multi {
                    path: WritePath::Lww,
                    strategy: ReadStrategy::Local
                }
            ]
        );
    }

    #[test]
    fn a_failure_names_the_site_phase_slo_and_by_how_much() {
        let mut f = eval(WritePath::Lww, 1, 1, 1, 0).figures;
        // A pooled verdict never decides.
        f.slo = vec![SloVerdict {
            name: "charge_p95".into(),
            target_ms: 30.0,
            observed_ms: Some(45.5),
            pass: false,
        }];
        assert_eq!(first_failure(&f), None);
        let v = Verdict {
            site: "VN".into(),
            phase: engine::drill::sli::Phase::Steady,
            slo: "charge_p95".into(),
            series: Series::Write,
            measure: None,
            objective: 0.95,
            target_ms: Some(30.0),
            good: 90,
            valid: 100,
            share: Some(0.9),
            share_met: false,
            budget: None,
            burn_rate: Some(2.0),
            exhaustion_days: Some(15.0),
            burn_alerts: Default::default(),
            pass: false,
        };
        assert!(
            (v.severity() - 2.0).abs() < 1e-9,
            "twice the 5 % it may miss"
        );
        f.failures = vec![Failing {
            scenario: "normal operation".into(),
            verdict: v,
        }];
        assert_eq!(
            first_failure(&f).unwrap(),
            "charge_p95 (< 30 ms for 95 %) at VN in steady: 90 % good of 100 valid, 2.0x what it may spend [normal operation]"
        );
        f.money_breach = Some("lost".into());
        assert_eq!(first_failure(&f).unwrap(), "money: lost");
    }

    #[test]
    fn a_verdict_every_design_fails_binds_with_the_closest() {
        let failing = |good: u64| Failing {
            scenario: "region-down".into(),
            verdict: Verdict {
                site: "VN".into(),
                phase: engine::drill::sli::Phase::Steady,
                slo: "read_availability".into(),
                series: Series::ReadAvailability,
                measure: None,
                objective: 0.999,
                target_ms: None,
                good,
                valid: 1000,
                share: Some(good as f64 / 1000.0),
                share_met: false,
                budget: None,
                burn_rate: None,
                exhaustion_days: None,
                burn_alerts: Default::default(),
                pass: false,
            },
        };
        let mut a = eval(WritePath::Lww, 1, 1, 1, 0);
        let mut b = eval(WritePath::Crdt, 1, 1, 1, 0);
        a.figures.failures = vec![failing(900)];
        b.figures.failures = vec![failing(990)];
        a.rejected = first_failure(&a.figures);
        b.rejected = first_failure(&b.figures);
        let bind = binding(&[a.clone(), b]);
        assert_eq!(bind.len(), 1, "{bind:?}");
        assert!(bind[0].contains("99 % good"), "{bind:?}");
        // A failure only one design has does not bind.
        a.figures.failures[0].verdict.site = "US".into();
        let c = eval(WritePath::Escrow, 1, 1, 1, 0);
        assert!(binding(&[a, c]).is_empty());
    }

    #[test]
    fn quorum_choices_fit_the_region_count() {
        assert_eq!(
            quorum_choices(3),
            vec![
                Design::Quorum { n: 3, r: 1, w: 1 },
                Design::Quorum { n: 3, r: 1, w: 3 },
                Design::Quorum { n: 3, r: 2, w: 2 },
                Design::Quorum { n: 3, r: 3, w: 1 },
            ]
        );
        assert!(quorum_choices(5).contains(&Design::Quorum { n: 5, r: 3, w: 3 }));
    }
}
