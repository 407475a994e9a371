//! `kata86 drill`: the JSON document of a drill's runs.
//!
//! Still a hand-written mirror of [`engine::drill::DrillResult`] and
//! [`engine::drill::DrillRuns`] (to be replaced by the engine types'
//! own `Serialize`); it lives here so that its schema is published with the
//! others and the CLI only calls [`json`].
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::io::Write;

use engine::drill::{DrillConfig, DrillResult, DrillRuns, SiteWindow, Window};
use metrics::Spread;
use schemars::JsonSchema;
use serde::Serialize;
use topology::to_ms;

#[derive(Serialize, JsonSchema)]
pub struct MomentJson {
    at_ms: f64,
    what: String,
}

#[derive(Serialize, JsonSchema)]
pub struct PromotionJson {
    at_ms: f64,
    region: String,
    prefix_lsn: u64,
}

/// One client site's figures in a window (or every site's, in `total`).
#[derive(Serialize, JsonSchema)]
pub struct SiteJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<String>,
    reads: u64,
    failed_reads: u64,
    reads_over_bound: u64,
    leader_reads: u64,
    read_ms: metrics::Summary,
    write_ms: metrics::Summary,
    reported_staleness_ms: metrics::Summary,
    data_age_ms: metrics::Summary,
}

#[derive(Serialize, JsonSchema)]
pub struct WindowJson {
    total: SiteJson,
    by_client: Vec<SiteJson>,
    slo: Vec<metrics::SloVerdict>,
}

/// What a result was run with.
#[derive(Serialize, JsonSchema)]
pub struct ConfigJson {
    drill: String,
    seed: u64,
    policy: &'static str,
    replication: &'static str,
    read_strategy: &'static str,
    fencing: bool,
    watermark: &'static str,
    max_offset_enforced: bool,
}

impl ConfigJson {
    fn of(r: &DrillResult, seed: u64) -> ConfigJson {
        ConfigJson {
            drill: r.drill.clone(),
            seed,
            policy: r.policy.name(),
            replication: r.replication.name(),
            read_strategy: r.read_strategy.name(),
            fencing: r.fencing,
            watermark: r.watermark.name(),
            max_offset_enforced: r.max_offset_enforced,
        }
    }
}

#[derive(Serialize, JsonSchema)]
pub struct DrillJson {
    #[serde(flatten)]
    config: ConfigJson,
    /// From the fault to the first charge sent after it being acknowledged
    /// (any site): the first sign of life, not recovery.
    first_ack_ms: Option<f64>,
    /// Per client site: when its charges recovered (null: not in the drill).
    rto_by_site_ms: BTreeMap<String, Option<f64>>,
    rto_worst_ms: Option<f64>,
    rpo_ms: f64,
    lost_acknowledged_charges: u64,
    #[serde(rename = "lost_amount_cents")]
    lost_amount: i64,
    lost_acknowledged_top_ups: u64,
    #[serde(rename = "lost_top_up_amount_cents")]
    lost_top_up_amount: i64,
    lost_window_ms: f64,
    longest_write_gap_ms: f64,
    promotions: Vec<PromotionJson>,
    acked_beyond_promoted_prefix: u64,
    lease_overlap_ms: f64,
    rejected_charges: u64,
    unknown_outcome_charges: u64,
    acknowledged_charges: u64,
    charges: u64,
    overspend_incidents: u64,
    duplicate_effects: u64,
    invariants_ok: bool,
    first_breach: Option<String>,
    defect: Option<String>,
    during_faults: WindowJson,
    outside_faults: WindowJson,
    timeline: Vec<MomentJson>,
    alerts: Vec<AlertJson>,
    flags: Vec<FlagJson>,
    time_to_detect_ms: Option<f64>,
    time_to_mitigate_ms: Option<f64>,
    staleness_error_ms: ErrorJson,
    underreported_read_ratio: f64,
    staleness_order_violations: u64,
    offset_refused_reads: u64,
    user_impact: Vec<ImpactJson>,
    runbook: Vec<StepJson>,
}

#[derive(Serialize, JsonSchema)]
pub struct AlertJson {
    name: String,
    fired_at_ms: f64,
    fault_at_ms: Option<f64>,
    resolved_at_ms: Option<f64>,
}

#[derive(Serialize, JsonSchema)]
pub struct FlagJson {
    name: &'static str,
    on_at_ms: f64,
    off_at_ms: Option<f64>,
}

#[derive(Serialize, JsonSchema)]
pub struct ErrorJson {
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
}

#[derive(Serialize, JsonSchema)]
pub struct ImpactJson {
    kind: &'static str,
    responses: u64,
    affected_s: f64,
    first_at_ms: Option<f64>,
    last_at_ms: Option<f64>,
}

#[derive(Serialize, JsonSchema)]
pub struct StepJson {
    step: String,
    at_ms: f64,
    degraded_responses_since_previous: u64,
}

fn site_json(w: &SiteWindow, client: Option<String>) -> SiteJson {
    SiteJson {
        client,
        reads: w.reads,
        failed_reads: w.failed_reads,
        reads_over_bound: w.reads_over_bound,
        leader_reads: w.leader_reads,
        read_ms: w.read.summary(),
        write_ms: w.write.summary(),
        reported_staleness_ms: w.reported_staleness.summary(),
        data_age_ms: w.data_age.summary(),
    }
}

fn window_json(w: &Window, t: &topology::Topology) -> WindowJson {
    WindowJson {
        total: site_json(&w.total(), None),
        by_client: w
            .sites
            .iter()
            .enumerate()
            .map(|(i, s)| site_json(s, Some(t.site_name(topology::SiteId(i as u8)).to_string())))
            .collect(),
        slo: w.slo.clone(),
    }
}

fn drill_json(r: &DrillResult, seed: u64, t: &topology::Topology) -> DrillJson {
    DrillJson {
        config: ConfigJson::of(r, seed),
        first_ack_ms: r.rto.map(to_ms),
        rto_by_site_ms: r
            .rto_by_site
            .iter()
            .enumerate()
            .map(|(i, x)| {
                (
                    t.site_name(topology::SiteId(i as u8)).to_string(),
                    x.map(to_ms),
                )
            })
            .collect(),
        rto_worst_ms: r.rto_worst.map(to_ms),
        rpo_ms: to_ms(r.rpo),
        lost_acknowledged_charges: r.lost_acknowledged_charges,
        lost_amount: r.lost_amount,
        lost_acknowledged_top_ups: r.lost_acknowledged_top_ups,
        lost_top_up_amount: r.lost_top_up_amount,
        lost_window_ms: to_ms(r.lost_window),
        longest_write_gap_ms: to_ms(r.longest_write_gap),
        promotions: r
            .promotions
            .iter()
            .map(|(at, region, lsn)| PromotionJson {
                at_ms: to_ms(*at),
                region: region.clone(),
                prefix_lsn: *lsn,
            })
            .collect(),
        acked_beyond_promoted_prefix: r.acked_beyond_promoted_prefix,
        lease_overlap_ms: to_ms(r.lease_overlap),
        rejected_charges: r.rejected_charges,
        unknown_outcome_charges: r.unknown_outcome_charges,
        acknowledged_charges: r.acknowledged_charges,
        charges: r.charges,
        overspend_incidents: r.overspend_incidents,
        duplicate_effects: r.duplicate_effects,
        invariants_ok: r.invariants_ok,
        first_breach: r.first_breach.clone(),
        defect: r.defect.clone(),
        during_faults: window_json(&r.during, t),
        outside_faults: window_json(&r.outside, t),
        timeline: r
            .timeline
            .iter()
            .map(|m| MomentJson {
                at_ms: to_ms(m.at),
                what: m.what.clone(),
            })
            .collect(),
        alerts: r
            .alerts
            .iter()
            .map(|a| AlertJson {
                name: a.name.clone(),
                fired_at_ms: to_ms(a.fired_at),
                fault_at_ms: a.fault_at.map(to_ms),
                resolved_at_ms: a.resolved_at.map(to_ms),
            })
            .collect(),
        flags: r
            .flags
            .iter()
            .map(|(f, on, off)| FlagJson {
                name: f.name(),
                on_at_ms: to_ms(*on),
                off_at_ms: off.map(to_ms),
            })
            .collect(),
        time_to_detect_ms: r.time_to_detect().map(to_ms),
        time_to_mitigate_ms: r.time_to_mitigate().map(to_ms),
        staleness_error_ms: error_json(&r.staleness_error),
        underreported_read_ratio: ratio(r.underreported_reads, r.follower_reads),
        staleness_order_violations: r.staleness_order_violations,
        offset_refused_reads: r.offset_refused_reads,
        user_impact: r
            .impact
            .iter()
            .map(|(k, i)| ImpactJson {
                kind: k.name(),
                responses: i.responses,
                affected_s: to_ms(i.windows * r.signal_window) / 1000.0,
                first_at_ms: i.first.map(to_ms),
                last_at_ms: i.last.map(to_ms),
            })
            .collect(),
        runbook: r
            .runbook
            .iter()
            .map(|(what, at, n)| StepJson {
                step: what.clone(),
                at_ms: to_ms(*at),
                degraded_responses_since_previous: *n,
            })
            .collect(),
    }
}

pub fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        (a as f64 / b as f64 * 1e6).round() / 1e6
    }
}

/// p50/p95/p99/max of a figure over the runs, in its report unit (`null`
/// where the quantile lands on a run in which it never happened).
#[derive(Serialize, JsonSchema)]
pub struct SpreadJson {
    /// Median over the runs.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Worst run.
    pub max: Option<f64>,
}

impl SpreadJson {
    fn new(s: Spread, unit: fn(u64) -> f64) -> SpreadJson {
        let [p50, p95, p99, max] = s.quantiles().map(|q| q.map(unit));
        SpreadJson { p50, p95, p99, max }
    }
    pub fn ms(s: Spread) -> SpreadJson {
        SpreadJson::new(s, to_ms)
    }
    pub fn count(s: Spread) -> SpreadJson {
        SpreadJson::new(s, |x| x as f64)
    }
}

/// One run's figures.
#[derive(Serialize, JsonSchema)]
pub struct RunJson {
    seed: u64,
    onset_ms: f64,
    rto_ms: BTreeMap<String, Option<f64>>,
    rpo_ms: f64,
    lost_acknowledged_charges: u64,
    #[serde(rename = "lost_amount_cents")]
    lost_amount: i64,
    lost_acknowledged_top_ups: u64,
    #[serde(rename = "lost_top_up_amount_cents")]
    lost_top_up_amount: i64,
    overspend_incidents: u64,
    time_to_detect_ms: Option<f64>,
    lease_overlap_ms: f64,
    invariants_ok: bool,
    defect: Option<String>,
}

/// One configuration played N times.
#[derive(Serialize, JsonSchema)]
pub struct RunsJson<'a> {
    #[serde(flatten)]
    config: ConfigJson,
    runs: usize,
    onset_window_ms: f64,
    /// Per client site.
    pub rto_ms: BTreeMap<String, SpreadJson>,
    rto_worst_ms: SpreadJson,
    /// Over the runs.
    pub rpo_ms: SpreadJson,
    lost_acknowledged_charges: SpreadJson,
    #[serde(rename = "lost_amount_cents")]
    lost_amount: SpreadJson,
    lost_acknowledged_top_ups: SpreadJson,
    #[serde(rename = "lost_top_up_amount_cents")]
    lost_top_up_amount: SpreadJson,
    overspend_incidents: SpreadJson,
    time_to_detect_ms: SpreadJson,
    lease_overlap_ms: SpreadJson,
    runs_with_broken_invariants: usize,
    runs_with_defect: usize,
    /// Alerts fired before any fault, per simulated day (null: no quiet time).
    false_alarms_per_day: Option<f64>,
    false_alarms_by_rule: BTreeMap<String, u64>,
    quiet_hours: f64,
    underreported_read_ratio: f64,
    staleness_error_ms: ErrorJson,
    during_faults: WindowJson,
    outside_faults: WindowJson,
    /// Every objective at every site it covers, per phase (steady state and
    /// each fault's impact window), with good and valid counts: the
    /// verdicts that decide.
    verdicts: &'a [engine::drill::sli::Verdict],
    /// Objectives naming a site this world lacks.
    slo_not_applied: &'a [engine::drill::sli::NotApplied],
    per_run: Vec<RunJson>,
    first_run: DrillJson,
}

/// The simulated time before any fault, every run, in hours.
pub fn quiet_hours(r: &DrillRuns) -> f64 {
    to_ms(r.runs.iter().map(|x| x.quiet_time).sum()) / 3.6e6
}

pub fn site_names(t: &topology::Topology) -> Vec<String> {
    t.site_ids().map(|s| t.site_name(s).to_string()).collect()
}

fn error_json(h: &metrics::LatencyHistogram) -> ErrorJson {
    let s = h.summary();
    ErrorJson {
        p50: s.p50,
        p95: s.p95,
        p99: s.p99,
        max: s.max,
    }
}

pub fn runs_json<'a>(r: &'a DrillRuns, cfg: &DrillConfig, seed: u64) -> RunsJson<'a> {
    let t = &cfg.topology;
    let sites = site_names(t);
    let f = &r.first;
    RunsJson {
        config: ConfigJson::of(f, seed),
        runs: r.runs.len(),
        onset_window_ms: to_ms(cfg.onset_window),
        rto_ms: sites
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), SpreadJson::ms(r.rto(i))))
            .collect(),
        rto_worst_ms: SpreadJson::ms(r.rto_worst()),
        rpo_ms: SpreadJson::ms(r.rpo()),
        lost_acknowledged_charges: SpreadJson::count(r.lost_acknowledged_charges()),
        lost_amount: SpreadJson::count(r.lost_amount()),
        lost_acknowledged_top_ups: SpreadJson::count(r.lost_acknowledged_top_ups()),
        lost_top_up_amount: SpreadJson::count(r.lost_top_up_amount()),
        overspend_incidents: SpreadJson::count(r.overspend()),
        time_to_detect_ms: SpreadJson::ms(r.time_to_detect()),
        lease_overlap_ms: SpreadJson::ms(r.lease_overlap()),
        runs_with_broken_invariants: r.runs.iter().filter(|x| !x.invariants_ok).count(),
        runs_with_defect: r.runs.iter().filter(|x| x.defect.is_some()).count(),
        false_alarms_per_day: r
            .false_alarms_per_day()
            .map(|x| (x * 1000.0).round() / 1000.0),
        false_alarms_by_rule: r
            .false_alarms_by_rule()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        quiet_hours: quiet_hours(r),
        underreported_read_ratio: ratio(r.underreported_reads, r.follower_reads),
        staleness_error_ms: error_json(&r.staleness_error),
        during_faults: window_json(&r.during, t),
        outside_faults: window_json(&r.outside, t),
        verdicts: &r.verdicts,
        slo_not_applied: &r.not_applied,
        per_run: r
            .runs
            .iter()
            .map(|x| RunJson {
                seed: x.seed,
                onset_ms: to_ms(x.onset),
                rto_ms: sites
                    .iter()
                    .enumerate()
                    .map(|(i, n)| {
                        (
                            n.clone(),
                            x.rto_by_site.get(i).copied().flatten().map(to_ms),
                        )
                    })
                    .collect(),
                rpo_ms: to_ms(x.rpo),
                lost_acknowledged_charges: x.lost_acknowledged_charges,
                lost_amount: x.lost_amount,
                lost_acknowledged_top_ups: x.lost_acknowledged_top_ups,
                lost_top_up_amount: x.lost_top_up_amount,
                overspend_incidents: x.overspend_incidents,
                time_to_detect_ms: x.time_to_detect.map(to_ms),
                lease_overlap_ms: to_ms(x.lease_overlap),
                invariants_ok: x.invariants_ok,
                defect: x.defect.clone(),
            })
            .collect(),
        first_run: drill_json(f, r.runs[0].seed, t),
    }
}

/// `kata86 drill`'s document (single-leader write paths).
#[derive(Serialize, JsonSchema)]
pub struct Drill<'a> {
    drill: &'a str,
    seed: u64,
    runs: u32,
    onset_window_ms: f64,
    topology: String,
    command: &'a str,
    results: Vec<RunsJson<'a>>,
}

pub fn json(
    cfg: &DrillConfig,
    seed: u64,
    runs: u32,
    results: &[DrillRuns],
    command: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let doc = Drill {
        drill: &cfg.name,
        seed,
        runs,
        onset_window_ms: to_ms(cfg.onset_window),
        topology: cfg.topology.to_string(),
        command,
        results: results.iter().map(|r| runs_json(r, cfg, seed)).collect(),
    };
    crate::json(out, &doc)
}
