//! A drill played many times: each run with its own seed and its own fault
//! onset, summarised as distributions instead of one lucky draw.
//!
//! Run `i` of master seed `s` plays with seed `s + i`, so any run can be
//! replayed alone (`--seed s+i --runs 1`). Its fault timeline (faults, flags
//! and clock steps) is shifted by an onset drawn uniformly from
//! `[0, onset_window)` on the run's sub-stream `onset/0`: faults land at every
//! phase of the lag process, some inside its episodes. Every configuration
//! compared on one master seed sees the same seeds and onsets (common random
//! numbers). Runs go in parallel; the result depends only on the run index,
//! never on which thread played it.

use std::collections::BTreeMap;

use metrics::{LatencyHistogram, Spread, SpreadFigures};
use rayon::prelude::*;
use replication::clock::ClockModel;
use replication::rng::{below, substream};
use topology::Micros;

use super::sli::{not_applied, verdicts, NotApplied, SiteSli, Verdict};
use super::{
    ratio, run_drill, DrillConfig, DrillReport, DrillResult, Money, NamedWindow, Recovery,
    RunConfig, Window,
};
use crate::{EngineError, Shard};

/// The most runs one command may ask for.
pub const MAX_RUNS: u32 = 10_000;

/// One run's figures: a few numbers, kept for every run. It serializes
/// itself as reports write a run (units in the keys), except its per-site
/// RTOs, which [`RunRecord::named`] keys by site name, and what only the
/// verdicts read (false alarms, quiet time, indicators).
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct RunRecord {
    /// The run's seed (master seed + run index).
    pub seed: u64,
    /// How far its fault timeline was shifted.
    #[serde(rename = "onset_ms", serialize_with = "topology::report::ms")]
    #[schemars(with = "f64")]
    pub onset: Micros,
    /// The span of acknowledged writes (charges and top-ups) lost: the
    /// run's RPO (the record keeps the run's whole recovery, RTOs included).
    #[serde(rename = "rpo_ms", serialize_with = "rpo_ms")]
    #[schemars(with = "f64")]
    pub recovery: Recovery,
    /// What the run did to money, as the run reported it.
    #[serde(flatten)]
    pub money: Money,
    /// Fault start to the first alert that fired after it (null: none).
    #[serde(
        rename = "time_to_detect_ms",
        serialize_with = "topology::report::ms_opt"
    )]
    #[schemars(with = "Option<f64>")]
    pub time_to_detect: Option<Micros>,
    /// How long a deposed leader went on admitting charges after its
    /// successor was promoted.
    #[serde(rename = "lease_overlap_ms", serialize_with = "topology::report::ms")]
    #[schemars(with = "f64")]
    pub lease_overlap: Micros,
    /// Alerts fired before any fault, by rule name.
    #[serde(skip)]
    pub false_alarms: Vec<String>,
    /// The time they were counted over: before the first fault.
    #[serde(skip)]
    pub quiet_time: Micros,
    /// Per client site: its indicators (see [`DrillResult::sli`]).
    #[serde(skip)]
    pub sli: Vec<SiteSli>,
}

/// A run's recovery as reports write it: its RPO in milliseconds.
fn rpo_ms<S: serde::Serializer>(r: &Recovery, s: S) -> Result<S::Ok, S::Error> {
    topology::report::ms(&r.rpo, s)
}

impl RunRecord {
    fn new(r: &DrillResult, seed: u64, onset: Micros) -> RunRecord {
        RunRecord {
            seed,
            onset,
            recovery: r.recovery.clone(),
            money: r.money.clone(),
            time_to_detect: r.time_to_detect(),
            lease_overlap: r.failover.lease_overlap,
            false_alarms: r.false_alarms().map(|a| a.name.clone()).collect(),
            quiet_time: r.quiet_time(),
            sli: r.sli.clone(),
        }
    }
}

/// One run's figures as reports write them: the [`RunRecord`] itself,
/// with its per-site RTOs keyed by site name (see [`RunRecord::named`]).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "RunJson")]
pub struct RunFigures<'a> {
    /// The record (its own keys).
    #[serde(flatten)]
    pub record: &'a RunRecord,
    /// Per client site, by name: its RTO (`null`: not within the drill).
    pub rto_ms: BTreeMap<String, Option<f64>>,
}

impl RunRecord {
    /// The record as reports write it, its client sites named `sites`
    /// (index = site id).
    pub fn named(&self, sites: &[String]) -> RunFigures<'_> {
        RunFigures {
            record: self,
            rto_ms: sites
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    (
                        n.clone(),
                        self.recovery
                            .rto_by_site
                            .get(i)
                            .copied()
                            .flatten()
                            .map(topology::to_ms),
                    )
                })
                .collect(),
        }
    }
}

/// What N runs of one configuration measured.
#[derive(Debug, Clone)]
pub struct DrillRuns {
    /// The first run in full (timeline, alerts, runbook): the example a
    /// report shows.
    pub first: DrillResult,
    /// Every run's figures, in run order.
    pub runs: Vec<RunRecord>,
    /// Latency and staleness inside the fault windows, every run pooled.
    pub during: Window,
    /// Outside them, every run pooled.
    pub outside: Window,
    /// Follower-served reads, every run.
    pub follower_reads: u64,
    /// Those whose reported staleness was below the truth.
    pub underreported_reads: u64,
    /// |reported − true| staleness of those reads, every run.
    pub staleness_error: LatencyHistogram,
    /// Every objective at every site it covers, per phase, every run pooled:
    /// the verdicts a user acts on.
    pub verdicts: Vec<Verdict>,
    /// Objectives naming a site the world lacks.
    pub not_applied: Vec<NotApplied>,
}

impl DrillRuns {
    fn spread(&self, f: impl Fn(&RunRecord) -> Option<u64>) -> Spread {
        Spread::of(self.runs.iter().map(f))
    }

    /// RTO of client site `site` over the runs.
    pub fn rto(&self, site: usize) -> Spread {
        self.spread(|r| r.recovery.rto_by_site.get(site).copied().flatten())
    }

    /// The worst site's RTO over the runs.
    pub fn rto_worst(&self) -> Spread {
        self.spread(|r| r.recovery.rto_worst)
    }

    /// RPO over the runs.
    pub fn rpo(&self) -> Spread {
        self.spread(|r| Some(r.recovery.rpo))
    }

    /// Acknowledged charges lost, over the runs.
    pub fn lost_acknowledged_charges(&self) -> Spread {
        self.spread(|r| Some(r.money.lost_acknowledged_charges))
    }

    /// Acknowledged top-ups lost, over the runs.
    pub fn lost_acknowledged_top_ups(&self) -> Spread {
        self.spread(|r| Some(r.money.lost_acknowledged_top_ups))
    }

    /// Amount of the lost acknowledged top-ups (cents), over the runs.
    pub fn lost_top_up_amount(&self) -> Spread {
        self.spread(|r| Some(r.money.lost_top_up_amount.max(0) as u64))
    }

    /// Amount of the lost acknowledged charges (cents), over the runs.
    pub fn lost_amount(&self) -> Spread {
        self.spread(|r| Some(r.money.lost_amount.max(0) as u64))
    }

    /// Overspent balances, over the runs.
    pub fn overspend(&self) -> Spread {
        self.spread(|r| Some(r.money.overspend_incidents))
    }

    /// Time to detect, over the runs (`None`: no alert fired after the fault).
    pub fn time_to_detect(&self) -> Spread {
        self.spread(|r| r.time_to_detect)
    }

    /// Lease overlap, over the runs.
    pub fn lease_overlap(&self) -> Spread {
        self.spread(|r| Some(r.lease_overlap))
    }

    /// False alarms per simulated day, every run pooled: alerts fired before
    /// any fault over the time before it. `None` with no quiet time.
    pub fn false_alarms_per_day(&self) -> Option<f64> {
        let quiet: Micros = self.runs.iter().map(|r| r.quiet_time).sum();
        let fired: usize = self.runs.iter().map(|r| r.false_alarms.len()).sum();
        (quiet > 0).then(|| fired as f64 * 86_400e6 / quiet as f64)
    }

    /// False alarms per rule, every run pooled, in rule-name order.
    pub fn false_alarms_by_rule(&self) -> std::collections::BTreeMap<&str, u64> {
        let mut m = std::collections::BTreeMap::new();
        for name in self.runs.iter().flat_map(|r| &r.false_alarms) {
            *m.entry(name.as_str()).or_insert(0) += 1;
        }
        m
    }

    /// The simulated time before any fault, every run, in hours.
    pub fn quiet_hours(&self) -> f64 {
        topology::to_ms(self.runs.iter().map(|x| x.quiet_time).sum()) / 3.6e6
    }

    /// The share of follower-served reads, every run, whose reported
    /// staleness was below the truth, rounded to 6 decimals (0 with none).
    pub fn underreported_read_ratio(&self) -> f64 {
        ratio(self.underreported_reads, self.follower_reads)
    }

    /// Runs whose final ledger broke a money invariant.
    pub fn runs_with_broken_invariants(&self) -> usize {
        self.runs.iter().filter(|x| !x.money.invariants_ok).count()
    }

    /// Runs with a defect.
    pub fn runs_with_defect(&self) -> usize {
        self.runs
            .iter()
            .filter(|x| x.money.defect.is_some())
            .count()
    }

    /// The first run with a defect, if any.
    pub fn defect(&self) -> Option<&RunRecord> {
        self.runs.iter().find(|r| r.money.defect.is_some())
    }
}

/// One configuration played N times, as reports write it (see
/// [`DrillRuns::report`]): its configuration, the spreads of every per-run
/// figure over the runs, the pooled windows and verdicts, every run's
/// figures and the first run in full.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "RunsJson")]
pub struct RunsReport<'a> {
    /// What it was run with (the master seed).
    #[serde(flatten)]
    pub config: RunConfig<'a>,
    /// How many runs.
    pub runs: usize,
    /// The window each run's fault onset was drawn from.
    #[serde(rename = "onset_window_ms", serialize_with = "topology::report::ms")]
    #[schemars(with = "f64")]
    pub onset_window: Micros,
    /// Per client site.
    pub rto_ms: BTreeMap<String, SpreadFigures>,
    /// The worst site's RTO.
    pub rto_worst_ms: SpreadFigures,
    /// Over the runs.
    pub rpo_ms: SpreadFigures,
    /// Acknowledged charges lost.
    pub lost_acknowledged_charges: SpreadFigures,
    /// Their amount.
    #[serde(rename = "lost_amount_cents")]
    pub lost_amount: SpreadFigures,
    /// Acknowledged top-ups lost.
    pub lost_acknowledged_top_ups: SpreadFigures,
    /// Their amount.
    #[serde(rename = "lost_top_up_amount_cents")]
    pub lost_top_up_amount: SpreadFigures,
    /// Balances driven below zero.
    pub overspend_incidents: SpreadFigures,
    /// From a fault's start to the first alert after it (null: no alert).
    pub time_to_detect_ms: SpreadFigures,
    /// How long a deposed leader went on admitting charges after its
    /// successor was promoted.
    pub lease_overlap_ms: SpreadFigures,
    /// Runs whose final ledger broke a money invariant.
    pub runs_with_broken_invariants: usize,
    /// Runs with a defect (a breach the configuration promises cannot
    /// happen).
    pub runs_with_defect: usize,
    /// Alerts fired before any fault, per simulated day (null: no quiet time).
    pub false_alarms_per_day: Option<f64>,
    /// False alarms per rule, every run pooled.
    pub false_alarms_by_rule: BTreeMap<&'a str, u64>,
    /// The simulated time before any fault, every run, in hours.
    pub quiet_hours: f64,
    /// The share of follower-served reads, every run, whose reported
    /// staleness was below the truth.
    pub underreported_read_ratio: f64,
    /// |reported − true| staleness of those reads, every run.
    #[serde(rename = "staleness_error_ms")]
    pub staleness_error: metrics::Tail,
    /// Inside the fault windows, every run pooled.
    pub during_faults: NamedWindow<'a>,
    /// Outside them, every run pooled.
    pub outside_faults: NamedWindow<'a>,
    /// Every objective at every site it covers, per phase (steady state and
    /// each fault's impact window), with good and valid counts: the
    /// verdicts that decide.
    pub verdicts: &'a [Verdict],
    /// Objectives naming a site this world lacks.
    pub slo_not_applied: &'a [NotApplied],
    /// Every run's figures, in run order.
    pub per_run: Vec<RunFigures<'a>>,
    /// The first run in full.
    pub first_run: DrillReport<'a>,
}

impl DrillRuns {
    /// The runs as reports write them, from master seed `seed` with fault
    /// onsets drawn over `onset_window`, client sites named `sites` (index
    /// = site id).
    pub fn report(&self, seed: u64, onset_window: Micros, sites: &[String]) -> RunsReport<'_> {
        let ms = |s: Spread| s.figures(topology::to_ms);
        let count = |s: Spread| s.figures(|x| x as f64);
        RunsReport {
            config: self.first.config(seed),
            runs: self.runs.len(),
            onset_window,
            rto_ms: sites
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), ms(self.rto(i))))
                .collect(),
            rto_worst_ms: ms(self.rto_worst()),
            rpo_ms: ms(self.rpo()),
            lost_acknowledged_charges: count(self.lost_acknowledged_charges()),
            lost_amount: count(self.lost_amount()),
            lost_acknowledged_top_ups: count(self.lost_acknowledged_top_ups()),
            lost_top_up_amount: count(self.lost_top_up_amount()),
            overspend_incidents: count(self.overspend()),
            time_to_detect_ms: ms(self.time_to_detect()),
            lease_overlap_ms: ms(self.lease_overlap()),
            runs_with_broken_invariants: self.runs_with_broken_invariants(),
            runs_with_defect: self.runs_with_defect(),
            false_alarms_per_day: self
                .false_alarms_per_day()
                .map(|x| (x * 1000.0).round() / 1000.0),
            false_alarms_by_rule: self.false_alarms_by_rule(),
            quiet_hours: self.quiet_hours(),
            underreported_read_ratio: self.underreported_read_ratio(),
            staleness_error: self.staleness_error.summary().tail(),
            during_faults: self.during.named(sites),
            outside_faults: self.outside.named(sites),
            verdicts: &self.verdicts,
            slo_not_applied: &self.not_applied,
            per_run: self.runs.iter().map(|x| x.named(sites)).collect(),
            first_run: self.first.report(self.runs[0].seed, sites),
        }
    }
}

/// The seed of run `i` of master seed `master`.
pub fn run_seed(master: u64, i: u32) -> u64 {
    master.wrapping_add(i as u64)
}

/// The fault onset shift of the run with seed `seed`: uniform on `[0, window)`.
pub fn onset(seed: u64, window: Micros) -> Micros {
    if window == 0 {
        0
    } else {
        below(&mut substream(seed, "onset", 0), window)
    }
}

/// `cfg` with its fault timeline — faults, flags, clock steps — `by` later.
pub fn shifted(cfg: &DrillConfig, by: Micros) -> DrillConfig {
    let mut c = cfg.clone();
    for f in &mut c.faults {
        f.start += by;
        f.end += by;
    }
    for f in &mut c.flags {
        f.on += by;
        f.off += by;
    }
    for clock in &mut c.clocks {
        if let ClockModel::Step { at, .. } = clock {
            *at += by;
        }
    }
    c
}

/// The checks every set of runs makes before it starts.
fn check_runs(cfg: &DrillConfig, runs: u32) -> Result<(), EngineError> {
    if !(1..=MAX_RUNS).contains(&runs) {
        return Err(EngineError::BadDrill(format!(
            "{runs} runs: give from 1 to {MAX_RUNS}"
        )));
    }
    cfg.validate()?;
    cfg.check_onset_window()
}

/// Plays run `i` of master seed `master`: its record and its full result.
fn play(
    cfg: &DrillConfig,
    master: u64,
    i: u32,
    progress: &(dyn Fn() + Sync),
) -> Result<(RunRecord, DrillResult), EngineError> {
    let seed = run_seed(master, i);
    let at = onset(seed, cfg.onset_window);
    let r = run_drill(&shifted(cfg, at), seed)?;
    progress();
    Ok((RunRecord::new(&r, seed, at), r))
}

/// Plays the runs `indices` in parallel and folds them into one share.
///
/// Each worker folds its runs into a share of records and merged windows:
/// histograms add counts and counters add, so any order of merging gives
/// the same figures; records are put back in run order at the end.
fn play_all(
    cfg: &DrillConfig,
    master: u64,
    indices: Vec<u32>,
    progress: &(dyn Fn() + Sync),
) -> Result<DrillShare, EngineError> {
    let sites = cfg.topology.site_ids().count();
    let mut share = indices
        .into_par_iter()
        .map(|i| play(cfg, master, i, progress).map(|(rec, r)| (i, rec, r)))
        .try_fold(
            || DrillShare::empty(sites),
            |mut share, r| {
                r.map(|(i, rec, res)| {
                    share.add(i, rec, &res);
                    share
                })
            },
        )
        .try_reduce(|| DrillShare::empty(sites), |a, b| Ok(a.join(b)))?;
    share.records.sort_unstable_by_key(|(i, _)| *i);
    Ok(share)
}

/// Plays `runs` runs of `cfg` from master seed `master`, in parallel;
/// `progress` is called once per finished run (from any thread).
pub fn run_drills(
    cfg: &DrillConfig,
    master: u64,
    runs: u32,
    progress: &(dyn Fn() + Sync),
) -> Result<DrillRuns, EngineError> {
    check_runs(cfg, runs)?;
    let (record, first) = play(cfg, master, 0, progress)?;
    let mut share = DrillShare::empty(first.during.sites.len());
    share.add(0, record, &first);
    let rest = play_all(cfg, master, (1..runs).collect(), progress)?;
    Ok(DrillRuns::assemble(cfg, first, share.join(rest)))
}

/// The runs of `runs` that `shard` owns (run `i` where `i` modulo the shard
/// count is the shard's index), played in parallel: their records and
/// pooled windows. The shares of every shard, joined, with run 0 replayed
/// in full by [`replay_first`], give [`DrillRuns::assemble`] exactly what
/// [`run_drills`] returns.
pub fn run_drill_share(
    cfg: &DrillConfig,
    master: u64,
    runs: u32,
    shard: Shard,
    progress: &(dyn Fn() + Sync),
) -> Result<DrillShare, EngineError> {
    check_runs(cfg, runs)?;
    let mine = (0..runs).filter(|&i| shard.owns(i as u64)).collect();
    play_all(cfg, master, mine, progress)
}

/// Run 0 of master seed `master`, in full (the example a report shows),
/// with its record.
pub fn replay_first(
    cfg: &DrillConfig,
    master: u64,
) -> Result<(RunRecord, DrillResult), EngineError> {
    check_runs(cfg, 1)?;
    play(cfg, master, 0, &|| {})
}

impl DrillRuns {
    /// Every run's share joined, with run 0 in full: the windows judged
    /// against `cfg`'s objectives. The share must hold runs `0..N` in order
    /// (see [`DrillShare::join`]).
    pub fn assemble(cfg: &DrillConfig, first: DrillResult, share: DrillShare) -> DrillRuns {
        let mut out = DrillRuns {
            first,
            runs: share.records.into_iter().map(|(_, r)| r).collect(),
            during: share.during,
            outside: share.outside,
            follower_reads: share.follower_reads,
            underreported_reads: share.underreported_reads,
            staleness_error: share.staleness_error,
            verdicts: Vec::new(),
            not_applied: not_applied(cfg),
        };
        let slis: Vec<&[SiteSli]> = out.runs.iter().map(|r| r.sli.as_slice()).collect();
        out.verdicts = verdicts(cfg, &cfg.budget, &slis);
        out.during.judge(cfg);
        out.outside.judge(cfg);
        out
    }
}

/// Some runs of a drill folded together: their records (with their run
/// index) and their pooled windows.
#[derive(Debug, Clone)]
pub struct DrillShare {
    /// `(run index, record)`, in run order.
    pub records: Vec<(u32, RunRecord)>,
    /// Latency and staleness inside the fault windows, these runs pooled.
    pub during: Window,
    /// Outside them.
    pub outside: Window,
    /// Follower-served reads.
    pub follower_reads: u64,
    /// Those whose reported staleness was below the truth.
    pub underreported_reads: u64,
    /// |reported − true| staleness of those reads.
    pub staleness_error: LatencyHistogram,
}

impl DrillShare {
    /// No runs yet, for a drill with `sites` client sites.
    pub fn empty(sites: usize) -> DrillShare {
        DrillShare {
            records: Vec::new(),
            during: Window::new(sites),
            outside: Window::new(sites),
            follower_reads: 0,
            underreported_reads: 0,
            staleness_error: LatencyHistogram::default(),
        }
    }

    fn add(&mut self, i: u32, rec: RunRecord, r: &DrillResult) {
        self.records.push((i, rec));
        self.during.merge(&r.during);
        self.outside.merge(&r.outside);
        self.follower_reads += r.reads.follower_reads;
        self.underreported_reads += r.reads.underreported_reads;
        self.staleness_error.merge(&r.reads.staleness_error);
    }

    /// Both shares: windows and counters added, records in run order.
    pub fn join(mut self, o: DrillShare) -> DrillShare {
        self.records.extend(o.records);
        self.records.sort_by_key(|(i, _)| *i);
        self.during.merge(&o.during);
        self.outside.merge(&o.outside);
        self.follower_reads += o.follower_reads;
        self.underreported_reads += o.underreported_reads;
        self.staleness_error.merge(&o.staleness_error);
        self
    }
}
