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

use metrics::{LatencyHistogram, Spread};
use rayon::prelude::*;
use replication::clock::ClockModel;
use replication::rng::{below, substream};
use topology::Micros;

use super::{run_drill, DrillConfig, DrillResult, Window};
use crate::EngineError;

/// The most runs one command may ask for.
pub const MAX_RUNS: u32 = 10_000;

/// One run's figures: a few numbers, kept for every run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRecord {
    /// The run's seed (master seed + run index).
    pub seed: u64,
    /// How far its fault timeline was shifted.
    pub onset: Micros,
    /// Per client site: RTO, `None` if the site did not recover.
    pub rto_by_site: Vec<Option<Micros>>,
    /// The worst site's RTO.
    pub rto_worst: Option<Micros>,
    /// See [`DrillResult::rpo`].
    pub rpo: Micros,
    /// Acknowledged charges lost.
    pub lost_acknowledged_charges: u64,
    /// Their amount, in cents.
    pub lost_amount: i64,
    /// Acknowledged top-ups lost.
    pub lost_acknowledged_top_ups: u64,
    /// Their amount, in cents.
    pub lost_top_up_amount: i64,
    /// Balances driven below zero.
    pub overspend_incidents: u64,
    /// Idempotency keys applied twice.
    pub duplicate_effects: u64,
    /// Per client site: share of the charges sent during a cut or outage
    /// that were answered (see [`DrillResult::availability_by_site`]).
    pub availability_by_site: Vec<Option<f64>>,
    /// Fault start to the first alert that fired after it.
    pub time_to_detect: Option<Micros>,
    /// See [`DrillResult::lease_overlap`].
    pub lease_overlap: Micros,
    /// Alerts fired before any fault, by rule name.
    pub false_alarms: Vec<String>,
    /// The time they were counted over: before the first fault.
    pub quiet_time: Micros,
    /// A breach the configuration promises cannot happen.
    pub defect: Option<String>,
    /// Whether every money invariant held.
    pub invariants_ok: bool,
}

impl RunRecord {
    fn new(r: &DrillResult, seed: u64, onset: Micros) -> RunRecord {
        RunRecord {
            seed,
            onset,
            rto_by_site: r.rto_by_site.clone(),
            rto_worst: r.rto_worst,
            rpo: r.rpo,
            lost_acknowledged_charges: r.lost_acknowledged_charges,
            lost_acknowledged_top_ups: r.lost_acknowledged_top_ups,
            lost_amount: r.lost_amount,
            lost_top_up_amount: r.lost_top_up_amount,
            overspend_incidents: r.overspend_incidents,
            duplicate_effects: r.duplicate_effects,
            availability_by_site: r.availability_by_site.clone(),
            time_to_detect: r.time_to_detect(),
            lease_overlap: r.lease_overlap,
            false_alarms: r.false_alarms().map(|a| a.name.clone()).collect(),
            quiet_time: r.quiet_time(),
            defect: r.defect.clone(),
            invariants_ok: r.invariants_ok,
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
}

impl DrillRuns {
    fn spread(&self, f: impl Fn(&RunRecord) -> Option<u64>) -> Spread {
        Spread::of(self.runs.iter().map(f))
    }

    /// RTO of client site `site` over the runs.
    pub fn rto(&self, site: usize) -> Spread {
        self.spread(|r| r.rto_by_site.get(site).copied().flatten())
    }

    /// The worst site's RTO over the runs.
    pub fn rto_worst(&self) -> Spread {
        self.spread(|r| r.rto_worst)
    }

    /// RPO over the runs.
    pub fn rpo(&self) -> Spread {
        self.spread(|r| Some(r.rpo))
    }

    /// Acknowledged charges lost, over the runs.
    pub fn lost_acknowledged_charges(&self) -> Spread {
        self.spread(|r| Some(r.lost_acknowledged_charges))
    }

    /// Acknowledged top-ups lost, over the runs.
    pub fn lost_acknowledged_top_ups(&self) -> Spread {
        self.spread(|r| Some(r.lost_acknowledged_top_ups))
    }

    /// Amount of the lost acknowledged top-ups (cents), over the runs.
    pub fn lost_top_up_amount(&self) -> Spread {
        self.spread(|r| Some(r.lost_top_up_amount.max(0) as u64))
    }

    /// Amount of the lost acknowledged charges (cents), over the runs.
    pub fn lost_amount(&self) -> Spread {
        self.spread(|r| Some(r.lost_amount.max(0) as u64))
    }

    /// Overspent balances, over the runs.
    pub fn overspend(&self) -> Spread {
        self.spread(|r| Some(r.overspend_incidents))
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

    /// The first run with a defect, if any.
    pub fn defect(&self) -> Option<&RunRecord> {
        self.runs.iter().find(|r| r.defect.is_some())
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

/// Plays `runs` runs of `cfg` from master seed `master`, in parallel;
/// `progress` is called once per finished run (from any thread).
pub fn run_drills(
    cfg: &DrillConfig,
    master: u64,
    runs: u32,
    progress: &(dyn Fn() + Sync),
) -> Result<DrillRuns, EngineError> {
    if !(1..=MAX_RUNS).contains(&runs) {
        return Err(EngineError::BadDrill(format!(
            "{runs} runs: give from 1 to {MAX_RUNS}"
        )));
    }
    cfg.validate()?;
    cfg.check_onset_window()?;
    let play = |i: u32| -> Result<(RunRecord, DrillResult), EngineError> {
        let seed = run_seed(master, i);
        let at = onset(seed, cfg.onset_window);
        let r = run_drill(&shifted(cfg, at), seed)?;
        progress();
        Ok((RunRecord::new(&r, seed, at), r))
    };
    let (record, first) = play(0)?;
    let sites = first.during.sites.len();
    let mut pooled = Pool::new(sites);
    pooled.add(0, record, &first);
    // Each worker folds its runs into a pool of records and merged windows:
    // histograms add counts and counters add, so any order of merging gives
    // the same figures; records are put back in run order at the end.
    let rest = (1..runs)
        .into_par_iter()
        .map(|i| play(i).map(|(rec, r)| (i, rec, r)))
        .try_fold(
            || Pool::new(sites),
            |mut pool, r| {
                r.map(|(i, rec, res)| {
                    pool.add(i, rec, &res);
                    pool
                })
            },
        )
        .try_reduce(|| Pool::new(sites), |a, b| Ok(a.join(b)))?;
    let mut pooled = pooled.join(rest);
    pooled.records.sort_unstable_by_key(|(i, _)| *i);
    let mut out = DrillRuns {
        first,
        runs: pooled.records.into_iter().map(|(_, r)| r).collect(),
        during: pooled.during,
        outside: pooled.outside,
        follower_reads: pooled.follower_reads,
        underreported_reads: pooled.underreported_reads,
        staleness_error: pooled.staleness_error,
    };
    out.during.judge(cfg);
    out.outside.judge(cfg);
    Ok(out)
}

/// Runs folded together: their records and their pooled windows.
struct Pool {
    records: Vec<(u32, RunRecord)>,
    during: Window,
    outside: Window,
    follower_reads: u64,
    underreported_reads: u64,
    staleness_error: LatencyHistogram,
}

impl Pool {
    fn new(sites: usize) -> Pool {
        Pool {
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
        self.follower_reads += r.follower_reads;
        self.underreported_reads += r.underreported_reads;
        self.staleness_error.merge(&r.staleness_error);
    }

    fn join(mut self, o: Pool) -> Pool {
        self.records.extend(o.records);
        self.during.merge(&o.during);
        self.outside.merge(&o.outside);
        self.follower_reads += o.follower_reads;
        self.underreported_reads += o.underreported_reads;
        self.staleness_error.merge(&o.staleness_error);
        self
    }
}
