//! Failover drills: a fault timeline played on the event core against a
//! replicated wallet, with leadership terms, leases, client re-routing and
//! the runbook, measuring RTO, RPO, the money at risk and what users saw.
//!
//! Every client site sends traffic at once. Faults cut links (nothing is
//! received until the fault ends), take regions down (a dead leader's
//! unreceived log is lost; what a follower received stays on its disk), or
//! slow a follower's apply. The control plane reacts as the policy says:
//! refuse writes, let an operator promote a follower, or promote one
//! automatically once the old leader's lease has surely expired. With
//! `fencing` off there are no leases and a promotion does not wait, so a
//! partition can leave two leaders admitting charges; when it heals, the
//! deposed leader's charges are merged into the survivor's log, as they were
//! already acknowledged, and the invariant checker shows the cost.

mod config;
mod runs;
pub mod sli;

pub(crate) use config::named;
pub use config::{
    topology_with_jp, Builtin, Design, DrillConfig, Fault, FaultKind, JpRole, Policy, Replication,
    Watermark, DESIGN,
};
pub use runs::{
    onset, replay_first, run_drill_share, run_drills, run_seed, shifted, DrillRuns, DrillShare,
    RunFigures, RunRecord, RunsReport, MAX_RUNS,
};

use std::borrow::Cow;
use std::collections::BTreeMap;

use metrics::{LatencyHistogram, Series, SloVerdict, StalenessMeasure};
use routing::ReadStrategy;
use topology::Micros;

use crate::des::{self, Stop};
use crate::ops::{Firing, FlagSwitch, Signals, UserImpact};
use crate::EngineError;

/// One line of the drill's timeline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Moment {
    /// When.
    #[serde(rename = "at_ms", serialize_with = "topology::report::ms")]
    #[schemars(with = "f64")]
    pub at: Micros,
    /// What happened.
    pub what: String,
}

/// A follower promoted to leader.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Promotion {
    /// When.
    #[serde(rename = "at_ms", serialize_with = "topology::report::ms")]
    #[schemars(with = "f64")]
    pub at: Micros,
    /// The region promoted.
    pub region: String,
    /// The log prefix it took over: the last entry (lsn) it held.
    pub prefix_lsn: u64,
}

/// One runbook step played.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct RunbookStep {
    /// What the step did.
    pub step: String,
    /// When.
    #[serde(rename = "at_ms", serialize_with = "topology::report::ms")]
    #[schemars(with = "f64")]
    pub at: Micros,
    /// Degraded responses since the previous step (since the start, for the
    /// first).
    #[serde(rename = "degraded_responses_since_previous")]
    pub degraded: u64,
}

/// What one client site saw, inside or outside the fault windows. Reports
/// write it as it is (histograms as their [`metrics::Summary`] in ms), named
/// by [`Window::named`].
#[derive(Debug, Clone, Default, serde::Serialize, schemars::JsonSchema)]
pub struct SiteWindow {
    /// Reads answered.
    pub reads: u64,
    /// Reads that got no answer (their region was down or cut off).
    pub failed_reads: u64,
    /// Reads whose reported staleness was above 0.
    #[serde(skip)]
    pub reads_behind: u64,
    /// Reads whose reported staleness was over the staleness bound.
    pub reads_over_bound: u64,
    /// Reads a leader answered.
    pub leader_reads: u64,
    /// Reads the strategy sent away from the local replica for its staleness.
    #[serde(skip)]
    pub forced_to_leader: u64,
    /// Read latency.
    #[serde(rename = "read_ms", serialize_with = "metrics::histogram_as::summary")]
    #[schemars(with = "metrics::Summary")]
    pub read: LatencyHistogram,
    /// End-to-end latency of answered charges (accepted or declined).
    #[serde(rename = "write_ms", serialize_with = "metrics::histogram_as::summary")]
    #[schemars(with = "metrics::Summary")]
    pub write: LatencyHistogram,
    /// `reported_staleness_ms`: the watermark age the serving replica
    /// reported (0 when a leader served).
    #[serde(
        rename = "reported_staleness_ms",
        serialize_with = "metrics::histogram_as::summary"
    )]
    #[schemars(with = "metrics::Summary")]
    pub reported_staleness: LatencyHistogram,
    /// `data_age_ms`: how old the returned balance really was, judged
    /// against the newest term's ledger.
    #[serde(
        rename = "data_age_ms",
        serialize_with = "metrics::histogram_as::summary"
    )]
    #[schemars(with = "metrics::Summary")]
    pub data_age: LatencyHistogram,
}

/// One client site's [`SiteWindow`] with its name (or every site's, in
/// [`NamedWindow::total`], without one), as reports write it.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "SiteJson")]
pub struct NamedSite<'a> {
    /// The client site's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Its figures.
    #[serde(flatten)]
    pub window: Cow<'a, SiteWindow>,
}

/// A [`Window`] with its client sites named, as reports write it (see
/// [`Window::named`]).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "WindowJson")]
pub struct NamedWindow<'a> {
    /// Every site together.
    pub total: NamedSite<'a>,
    /// Per client site, in site order.
    pub by_client: Vec<NamedSite<'a>>,
    /// The window's SLO verdicts.
    pub slo: &'a [SloVerdict],
}

impl SiteWindow {
    /// One answered read: its latency, the staleness its replica reported
    /// (counted behind when above 0, over when above `bound`), its data
    /// age, whether a leader answered and whether the strategy sent it
    /// away from the local replica. Both cores record reads through it.
    pub(crate) fn record_read(
        &mut self,
        out: &routing::ReadOutcome,
        data_age: Micros,
        bound: Micros,
        leader: bool,
    ) {
        self.read.record(out.latency);
        self.reported_staleness.record(out.staleness);
        self.data_age.record(data_age);
        self.reads += 1;
        self.reads_behind += (out.staleness > 0) as u64;
        self.reads_over_bound += (out.staleness > bound) as u64;
        self.leader_reads += leader as u64;
        self.forced_to_leader += out.forced_to_leader as u64;
    }

    pub(crate) fn merge(&mut self, o: &SiteWindow) {
        self.read.merge(&o.read);
        self.write.merge(&o.write);
        self.reported_staleness.merge(&o.reported_staleness);
        self.data_age.merge(&o.data_age);
        self.reads += o.reads;
        self.failed_reads += o.failed_reads;
        self.reads_behind += o.reads_behind;
        self.reads_over_bound += o.reads_over_bound;
        self.leader_reads += o.leader_reads;
        self.forced_to_leader += o.forced_to_leader;
    }
}

/// Latency and staleness inside or outside the fault windows, per site.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Per client site (index = site id).
    pub sites: Vec<SiteWindow>,
    /// SLO verdicts for this window: site-scoped objectives on that site's
    /// traffic, the others on every site's; staleness objectives on
    /// `data_age`.
    pub slo: Vec<SloVerdict>,
}

impl Window {
    pub(crate) fn new(sites: usize) -> Window {
        Window {
            sites: vec![SiteWindow::default(); sites],
            slo: Vec::new(),
        }
    }

    /// Adds another run's window of the same sites.
    pub(crate) fn merge(&mut self, o: &Window) {
        for (a, b) in self.sites.iter_mut().zip(&o.sites) {
            a.merge(b);
        }
    }

    /// Every site together.
    pub fn total(&self) -> SiteWindow {
        let mut all = SiteWindow::default();
        for s in &self.sites {
            all.merge(s);
        }
        all
    }

    /// The window as reports write it: every site together, then each
    /// site under its name (`sites`, index = site id).
    pub fn named(&self, sites: &[String]) -> NamedWindow<'_> {
        NamedWindow {
            total: NamedSite {
                client: None,
                window: Cow::Owned(self.total()),
            },
            by_client: self
                .sites
                .iter()
                .zip(sites)
                .map(|(w, n)| NamedSite {
                    client: Some(n.clone()),
                    window: Cow::Borrowed(w),
                })
                .collect(),
            slo: &self.slo,
        }
    }

    pub(crate) fn judge(&mut self, cfg: &DrillConfig) {
        let total = self.total();
        let sites = &self.sites;
        self.slo = cfg
            .slos
            .iter()
            .filter_map(|s| {
                let w = match s.site.as_deref() {
                    None => &total,
                    Some(n) => sites.get(cfg.topology.site(n).ok()?.idx())?,
                };
                Some(s.judge(match (s.series, s.measure) {
                    (Series::Read, _) => &w.read,
                    (Series::Write, _) => &w.write,
                    (Series::Staleness, StalenessMeasure::DataAge) => &w.data_age,
                    (Series::Staleness, StalenessMeasure::Reported) => &w.reported_staleness,
                    // Answers are counted per phase (`DrillRuns::verdicts`).
                    (Series::ReadAvailability | Series::ChargeAvailability, _) => return None,
                }))
            })
            .collect();
    }
}

/// What a run did to money: the acknowledged effects it lost and the
/// ledger's invariants, checked after the run. A part of [`DrillResult`]
/// that every per-run record ([`RunRecord`]), the shard file and the JSON
/// embed as it is: its keys (units in their names) are written once, here.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Money {
    /// Acknowledged charges missing from the final ledger.
    pub lost_acknowledged_charges: u64,
    /// Their amount.
    #[serde(rename = "lost_amount_cents")]
    pub lost_amount: i64,
    /// Acknowledged top-ups missing from the final ledger.
    pub lost_acknowledged_top_ups: u64,
    /// Their amount.
    #[serde(rename = "lost_top_up_amount_cents")]
    pub lost_top_up_amount: i64,
    /// Balances driven below zero in the final ledger (double spends).
    pub overspend_incidents: u64,
    /// Idempotency keys applied twice in the final ledger.
    pub duplicate_effects: u64,
    /// Whether every money invariant held.
    pub invariants_ok: bool,
    /// The first breach, if any.
    pub first_breach: Option<String>,
    /// The first breach the configuration promises cannot happen (with
    /// fencing: an overspend, a second effect, a broken cache or replica;
    /// under `majority`, also a lost acknowledgement): a defect, which makes
    /// `kata86 drill` exit 1. Async's lost tail is its RPO, not a defect.
    pub defect: Option<String>,
}

/// How fast service came back after the first fault, and how much
/// acknowledged history the run lost. A part of [`DrillResult`] that every
/// per-run record ([`RunRecord`]) embeds as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovery {
    /// From the first fault to the first charge sent after it being
    /// acknowledged, by any site (an acknowledgement that may later be lost):
    /// the first sign of life, not recovery.
    pub rto: Option<Micros>,
    /// Per client site (index = site id): from the first fault until the
    /// site's charges recovered (see `DrillConfig::recovery_share`); `None`
    /// if they did not within the drill. Empty with no fault.
    pub rto_by_site: Vec<Option<Micros>>,
    /// Per client site: the share of its charges first sent during a region
    /// outage or a cut link (whole seconds) whose answer stood; `None` if
    /// it sent none then. Empty with no fault.
    pub availability_by_site: Vec<Option<f64>>,
    /// Per client site: the charges first sent during a region outage or a
    /// cut link (whole seconds) whose answer did not stand: refused, timed
    /// out, or acknowledged and lost. Empty with no fault.
    pub not_completed_by_site: Vec<u64>,
    /// The worst site's RTO; `None` if a site never recovered (or no fault).
    pub rto_worst: Option<Micros>,
    /// The span of acknowledged writes (charges and top-ups) lost: from the
    /// oldest lost write's commit to the fault or to the newest lost write's
    /// commit, whichever is later (a leader cut off by a partition can keep
    /// acknowledging writes that are lost later).
    pub rpo: Micros,
}

/// What the change of leadership did: the promotions, what they cut off,
/// and how long two leaders overlapped. A part of [`DrillResult`] that the
/// JSON embeds as it is (units in its keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Failover {
    /// Time between the first and last lost write's commit.
    #[serde(rename = "lost_window_ms", serialize_with = "topology::report::ms")]
    #[schemars(with = "f64")]
    pub lost_window: Micros,
    /// The longest time without any acknowledged charge after the first fault.
    #[serde(
        rename = "longest_write_gap_ms",
        serialize_with = "topology::report::ms"
    )]
    #[schemars(with = "f64")]
    pub longest_write_gap: Micros,
    /// Promotions, in time order.
    pub promotions: Vec<Promotion>,
    /// Acknowledged charges of each deposed leader beyond the log prefix its
    /// successor took over: what theory says a failover must lose.
    pub acked_beyond_promoted_prefix: u64,
    /// The longest time a deposed leader went on admitting charges after its
    /// successor was promoted: 0 when leases kept the two apart (with
    /// fencing and clocks within the skew bound); positive in a split brain.
    #[serde(rename = "lease_overlap_ms", serialize_with = "topology::report::ms")]
    #[schemars(with = "f64")]
    pub lease_overlap: Micros,
}

/// The charges the clients sent and how they were answered. A part of
/// [`DrillResult`] that the JSON embeds as it is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Charges {
    /// Charges refused at once (leader known to be unreachable or read-only).
    #[serde(rename = "rejected_charges")]
    pub rejected: u64,
    /// Charges whose every attempt timed out.
    #[serde(rename = "unknown_outcome_charges")]
    pub unknown_outcome: u64,
    /// Charges acknowledged.
    #[serde(rename = "acknowledged_charges")]
    pub acknowledged: u64,
    /// Charges sent.
    #[serde(rename = "charges")]
    pub sent: u64,
}

/// How true the staleness the replicas reported was, and the reads the
/// clock-offset check refused. A part of [`DrillResult`].
#[derive(Debug, Clone, Default)]
pub struct Reads {
    /// |reported − true| staleness of every read a follower served.
    pub staleness_error: LatencyHistogram,
    /// Follower-served reads whose reported staleness was below the truth.
    pub underreported_reads: u64,
    /// Follower-served reads.
    pub follower_reads: u64,
    /// Reads whose `data_age` exceeded their `reported_staleness`: 0 while
    /// the watermark clock never under-reports.
    pub staleness_order_violations: u64,
    /// Reads whose entry region refused to serve them because its clock was
    /// beyond the bound from a majority of the regions it measured (they
    /// went to another region, or failed).
    pub offset_refused_reads: u64,
}

impl Reads {
    /// The share of follower-served reads whose reported staleness was
    /// below the truth, rounded to 6 decimals (0 with none).
    pub fn underreported_read_ratio(&self) -> f64 {
        ratio(self.underreported_reads, self.follower_reads)
    }
}

/// `a / b` rounded to 6 decimals, 0 when `b` is 0: a ratio as reports
/// write it.
pub(crate) fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        (a as f64 / b as f64 * 1e6).round() / 1e6
    }
}

/// What monitoring saw and switched: the timeline, the alerts, the signals
/// they were evaluated on and the flags. A part of [`DrillResult`] that the
/// JSON embeds as it is (the signals and the window length left out).
#[derive(Debug, Clone, Default, serde::Serialize, schemars::JsonSchema)]
pub struct Operations {
    /// What happened when.
    pub timeline: Vec<Moment>,
    /// Every alert firing.
    pub alerts: Vec<Firing>,
    /// The monitoring signals of every closed window, in time order: the
    /// series the alerts were evaluated on.
    #[serde(skip)]
    pub signals: Vec<Signals>,
    /// Every flag switched: flag, on, off (None if still on at the end).
    pub flags: Vec<FlagSwitch>,
    /// Monitoring window length.
    #[serde(skip)]
    pub signal_window: Micros,
}

impl Operations {
    /// From a fault's start to the first alert that fired at or after it.
    pub fn time_to_detect(&self) -> Option<Micros> {
        crate::ops::time_to_detect(&self.alerts)
    }

    /// Alerts that fired before any fault: false alarms.
    pub fn false_alarms(&self) -> impl Iterator<Item = &Firing> {
        self.alerts.iter().filter(|a| a.fault_at.is_none())
    }
}

/// What users saw, and what the runbook did about it. A part of
/// [`DrillResult`] that the JSON embeds as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct Response {
    /// What users saw, per [`Degradation`](crate::ops::Degradation) kind.
    #[serde(rename = "user_impact")]
    pub impact: Vec<UserImpact>,
    /// The runbook steps played.
    pub runbook: Vec<RunbookStep>,
}

/// What a drill measured, in parts: [`Recovery`], [`Money`], [`Failover`],
/// [`Charges`], the two [`Window`]s, [`Operations`], [`Reads`] and
/// [`Response`].
#[derive(Debug, Clone)]
pub struct DrillResult {
    /// The drill's name.
    pub drill: String,
    /// Reaction to a lost leader.
    pub policy: Policy,
    /// Replication mode.
    pub replication: Replication,
    /// How balance reads chose their replica.
    pub read_strategy: ReadStrategy,
    /// Leases and epochs on.
    pub fencing: bool,
    /// How replicas computed the staleness they reported.
    pub watermark: Watermark,
    /// Whether the offset check was on (`DrillConfig::max_offset_enforced`).
    pub max_offset_enforced: bool,
    /// RTO and RPO.
    pub recovery: Recovery,
    /// What the run did to money: lost acknowledgements, overspends,
    /// second effects, the invariants.
    pub money: Money,
    /// Promotions and what they cost.
    pub failover: Failover,
    /// Charges sent and how they were answered.
    pub charges: Charges,
    /// Inside the fault windows.
    pub during: Window,
    /// Outside them.
    pub outside: Window,
    /// Timeline, alerts, signals and flags.
    pub operations: Operations,
    /// How true the reported staleness was.
    pub reads: Reads,
    /// What users saw and the runbook played.
    pub response: Response,
    /// When the first fault started, if any.
    pub first_fault: Option<Micros>,
    /// The drill's simulated length.
    pub duration: Micros,
    /// Per client site: good and valid events per objective, in steady
    /// state and in each fault's impact window.
    pub sli: Vec<sli::SiteSli>,
    /// Per client site and objective (`None` where it does not cover the
    /// site): what its burn-rate alerts were evaluated on, for replaying
    /// them elsewhere (`kata86 alerts --format promtool-test`).
    pub burn_inputs: Vec<Vec<Option<sli::BurnInput>>>,
}

/// What a result was run with, as reports write it: the drill, the seed
/// and the configuration of [`DrillResult`] (see [`DrillResult::config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "ConfigJson")]
pub struct RunConfig<'a> {
    /// The drill's name.
    pub drill: &'a str,
    /// The seed it was played with.
    pub seed: u64,
    /// Reaction to a lost leader (`--policy`).
    pub policy: &'static str,
    /// Replication mode (`--replication`).
    pub replication: &'static str,
    /// How balance reads chose their replica (`--strategy`).
    pub read_strategy: &'static str,
    /// Leases and epochs on.
    pub fencing: bool,
    /// How replicas computed the staleness they reported (`--watermark`).
    pub watermark: &'static str,
    /// Whether regions refused reads while their clock was beyond the
    /// bound (`--no-offset-check` turns it off).
    pub max_offset_enforced: bool,
}

impl DrillResult {
    /// From a fault's start to the first alert that fired at or after it.
    pub fn time_to_detect(&self) -> Option<Micros> {
        self.operations.time_to_detect()
    }

    /// What it was run with, `seed` given (the result does not keep it).
    pub fn config(&self, seed: u64) -> RunConfig<'_> {
        RunConfig {
            drill: &self.drill,
            seed,
            policy: self.policy.name(),
            replication: self.replication.name(),
            read_strategy: self.read_strategy.name(),
            fencing: self.fencing,
            watermark: self.watermark.name(),
            max_offset_enforced: self.max_offset_enforced,
        }
    }

    /// The time before any fault (the whole drill when there is none): what
    /// false alarms are counted over.
    pub fn quiet_time(&self) -> Micros {
        self.first_fault.unwrap_or(self.duration)
    }

    /// Alerts that fired before any fault: false alarms.
    pub fn false_alarms(&self) -> impl Iterator<Item = &Firing> {
        self.operations.false_alarms()
    }

    /// From the fault's start to the runbook's mitigation step.
    pub fn time_to_mitigate(&self) -> Option<Micros> {
        let fault = self.operations.alerts.iter().find_map(|a| a.fault_at)?;
        self.response
            .runbook
            .get(2)
            .map(|s| s.at.saturating_sub(fault))
    }
}

/// One run in full as reports write it (see [`DrillResult::report`]): the
/// parts of [`DrillResult`] that serialize themselves, embedded as they are,
/// with its configuration, its client sites named and the figures derived
/// from several fields.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
#[schemars(rename = "DrillJson")]
pub struct DrillReport<'a> {
    /// What it was run with.
    #[serde(flatten)]
    pub config: RunConfig<'a>,
    /// From the fault to the first charge sent after it being acknowledged
    /// (any site): the first sign of life, not recovery.
    #[serde(rename = "first_ack_ms", serialize_with = "topology::report::ms_opt")]
    #[schemars(with = "Option<f64>")]
    pub first_ack: Option<Micros>,
    /// Per client site: when its charges recovered (null: not in the drill).
    pub rto_by_site_ms: BTreeMap<String, Option<f64>>,
    /// The worst site's RTO (null: a site never recovered, or no fault).
    #[serde(rename = "rto_worst_ms", serialize_with = "topology::report::ms_opt")]
    #[schemars(with = "Option<f64>")]
    pub rto_worst: Option<Micros>,
    /// The span of acknowledged writes (charges and top-ups) lost.
    #[serde(rename = "rpo_ms", serialize_with = "topology::report::ms")]
    #[schemars(with = "f64")]
    pub rpo: Micros,
    /// What the run did to money.
    #[serde(flatten)]
    pub money: &'a Money,
    /// Promotions and what they cost.
    #[serde(flatten)]
    pub failover: &'a Failover,
    /// Charges sent and how they were answered.
    #[serde(flatten)]
    pub charges: &'a Charges,
    /// Inside the fault windows.
    pub during_faults: NamedWindow<'a>,
    /// Outside them.
    pub outside_faults: NamedWindow<'a>,
    /// Timeline, alerts and flags.
    #[serde(flatten)]
    pub operations: &'a Operations,
    /// From a fault's start to the first alert that fired at or after it
    /// (null: none did).
    #[serde(
        rename = "time_to_detect_ms",
        serialize_with = "topology::report::ms_opt"
    )]
    #[schemars(with = "Option<f64>")]
    pub time_to_detect: Option<Micros>,
    /// From the fault's start to the runbook's mitigation step (null: not
    /// played).
    #[serde(
        rename = "time_to_mitigate_ms",
        serialize_with = "topology::report::ms_opt"
    )]
    #[schemars(with = "Option<f64>")]
    pub time_to_mitigate: Option<Micros>,
    /// |reported − true| staleness of every read a follower served.
    #[serde(rename = "staleness_error_ms")]
    pub staleness_error: metrics::Tail,
    /// The share of follower-served reads whose reported staleness was
    /// below the truth.
    pub underreported_read_ratio: f64,
    /// Reads whose `data_age` exceeded their `reported_staleness`.
    pub staleness_order_violations: u64,
    /// Reads a region refused because its clock was beyond the bound.
    pub offset_refused_reads: u64,
    /// What users saw and the runbook played.
    #[serde(flatten)]
    pub response: &'a Response,
}

impl DrillResult {
    /// The run as reports write it, played with `seed`, its client sites
    /// named `sites` (index = site id).
    pub fn report(&self, seed: u64, sites: &[String]) -> DrillReport<'_> {
        DrillReport {
            config: self.config(seed),
            first_ack: self.recovery.rto,
            rto_by_site_ms: self
                .recovery
                .rto_by_site
                .iter()
                .zip(sites)
                .map(|(x, n)| (n.clone(), x.map(topology::to_ms)))
                .collect(),
            rto_worst: self.recovery.rto_worst,
            rpo: self.recovery.rpo,
            money: &self.money,
            failover: &self.failover,
            charges: &self.charges,
            during_faults: self.during.named(sites),
            outside_faults: self.outside.named(sites),
            operations: &self.operations,
            time_to_detect: self.time_to_detect(),
            time_to_mitigate: self.time_to_mitigate(),
            staleness_error: self.reads.staleness_error.summary().tail(),
            underreported_read_ratio: self.reads.underreported_read_ratio(),
            staleness_order_violations: self.reads.staleness_order_violations,
            offset_refused_reads: self.reads.offset_refused_reads,
            response: &self.response,
        }
    }
}

/// Plays one drill: every client site sends traffic for the drill's duration.
pub fn run_drill(cfg: &DrillConfig, seed: u64) -> Result<DrillResult, EngineError> {
    cfg.validate()?;
    let sites: Vec<_> = cfg.topology.site_ids().collect();
    Ok(des::run(cfg, seed, &sites, Stop::At(cfg.duration), &mut |_| {}).result)
}
