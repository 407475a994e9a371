//! `kata86 drill`: built-in drills and TOML scenarios → runs → report.

use std::io::Write;
use std::process::ExitCode;

use engine::drill::{
    run_drill, Builtin, DrillConfig, DrillResult, Fault, FaultKind, JpRole, Policy, Replication,
    SiteWindow, Watermark, Window,
};
use engine::ops::{AlertRule, Flag, FlagSpan, Signal};
use metrics::{Series, Slo};
use replication::clock::ClockModel;
use replication::{EpisodicLag, IidLag, LagModel};
use serde::{Deserialize, Serialize};
use tabled::settings::Style;
use tabled::{Table, Tabled};
use topology::{ms, to_ms};

use crate::files::{line_of, scenario_error, TopologySpec};

use crate::args::{DrillArgs, Format};
use crate::CliError;

/// A scenario file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    name: Option<String>,
    duration_s: Option<f64>,
    leader: Option<toml::Spanned<String>>,
    witnesses: Option<Vec<toml::Spanned<String>>>,
    policy: Option<toml::Spanned<String>>,
    replication: Option<toml::Spanned<String>>,
    fencing: Option<bool>,
    model: Option<toml::Spanned<String>>,
    rate: Option<f64>,
    accounts: Option<u32>,
    topology: Option<TopologySpec>,
    #[serde(default)]
    slo: Vec<SloSpec>,
    #[serde(default)]
    fault: Vec<toml::Spanned<FaultSpec>>,
    watermark: Option<toml::Spanned<String>>,
    #[serde(default)]
    flag: Vec<toml::Spanned<FlagSpec>>,
    #[serde(default)]
    clock: Vec<toml::Spanned<ClockSpec>>,
    #[serde(default)]
    alert: Vec<toml::Spanned<AlertSpec>>,
    signal_window_s: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertSpec {
    name: String,
    signal: String,
    threshold: f64,
}

/// Signal names as scenario files spell them.
const SIGNALS: &[(&str, Signal)] = &[
    ("lag_p95_ms", Signal::LagP95),
    ("lag_p99_ms", Signal::LagP99),
    ("charge_p95_ms", Signal::ChargeP95),
    ("charge_p99_ms", Signal::ChargeP99),
    ("read_error_rate", Signal::ReadErrorRate),
    ("charge_error_rate", Signal::ChargeErrorRate),
    ("stale_read_share", Signal::StaleReadShare),
    ("rejected_share", Signal::RejectedShare),
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FlagSpec {
    name: String,
    on_s: f64,
    off_s: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", tag = "kind")]
enum ClockSpec {
    Offset {
        region: String,
        offset_ms: f64,
    },
    Drift {
        region: String,
        #[serde(default)]
        offset_ms: f64,
        ppm: f64,
    },
    Step {
        region: String,
        at_s: f64,
        before_ms: f64,
        after_ms: f64,
    },
    Periodic {
        region: String,
        amplitude_ms: f64,
        period_s: f64,
        #[serde(default)]
        noise_ms: f64,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SloSpec {
    name: String,
    series: String,
    quantile: f64,
    target_ms: f64,
    site: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", tag = "kind")]
enum FaultSpec {
    RegionDown {
        region: String,
        start_s: f64,
        end_s: f64,
    },
    Partition {
        a: String,
        b: String,
        #[serde(default = "yes")]
        both_ways: bool,
        start_s: f64,
        end_s: f64,
    },
    LagSpike {
        from: String,
        to: String,
        extra_ms: f64,
        start_s: f64,
        end_s: f64,
    },
}

fn yes() -> bool {
    true
}

fn seconds(name: &str, v: f64) -> Result<u64, String> {
    if v.is_finite() && v >= 0.0 {
        Ok(ms(v * 1000.0))
    } else {
        Err(format!("{name} is {v}; give a number of seconds >= 0"))
    }
}

/// Builds a drill from a scenario file's text.
fn from_scenario(path: &str, text: &str) -> Result<DrillConfig, CliError> {
    let sc: Scenario = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, &s));
        scenario_error(path, line, e.message())
    })?;
    let at = |l: Option<usize>, r: String| scenario_error(path, l, r);
    let topology = match &sc.topology {
        None => engine::drill::topology_with_jp(),
        Some(t) => t
            .builder()
            .build()
            .map_err(|e| at(None, format!("[topology]: {e}")))?,
    };
    let region =
        |n: &str, line: Option<usize>| topology.region(n).map_err(|e| at(line, e.to_string()));
    let line = |s: &toml::Spanned<String>| Some(line_of(text, &s.span()));
    let mut cfg = DrillConfig::builtin(Builtin::RegionDown, JpRole::Replica);
    cfg.builtin = None;
    cfg.name = sc.name.clone().unwrap_or_else(|| path.to_string());
    cfg.leader = match &sc.leader {
        Some(l) => region(l.get_ref(), line(l))?,
        None => region("SG", None)?,
    };
    cfg.witnesses = sc
        .witnesses
        .iter()
        .flatten()
        .map(|w| region(w.get_ref(), line(w)))
        .collect::<Result<_, _>>()?;
    if let Some(d) = sc.duration_s {
        cfg.duration = seconds("duration_s", d).map_err(|e| at(None, e))?;
    }
    if let Some(p) = &sc.policy {
        cfg.policy = p
            .get_ref()
            .parse()
            .map_err(|e: engine::EngineError| at(line(p), e.to_string()))?;
    }
    if let Some(r) = &sc.replication {
        cfg.replication = r
            .get_ref()
            .parse()
            .map_err(|e: engine::EngineError| at(line(r), e.to_string()))?;
    }
    if let Some(f) = sc.fencing {
        cfg.fencing = f;
    }
    if let Some(m) = &sc.model {
        cfg.lag = match m.get_ref().as_str() {
            "iid" => LagModel::Iid(IidLag::default()),
            "episodic" => LagModel::Episodic(EpisodicLag::default()),
            other => {
                return Err(at(
                    line(m),
                    format!("model `{other}`: choose iid or episodic"),
                ))
            }
        };
    }
    if let Some(r) = sc.rate {
        cfg.rate = r;
    }
    if let Some(a) = sc.accounts {
        cfg.workload.accounts = a;
    }
    if !sc.slo.is_empty() {
        cfg.slos = sc
            .slo
            .iter()
            .map(|s| {
                let series = match s.series.as_str() {
                    "read" => Series::Read,
                    "write" | "charge" => Series::Write,
                    "staleness" => Series::Staleness,
                    other => {
                        return Err(at(
                            None,
                            format!(
                                "slo `{}`: series `{other}` is not read, charge or staleness",
                                s.name
                            ),
                        ))
                    }
                };
                let slo = Slo::new(&s.name, series, s.quantile, s.target_ms)
                    .map_err(|e| at(None, e.to_string()))?;
                Ok(match &s.site {
                    Some(site) => slo.for_site(site),
                    None => slo,
                })
            })
            .collect::<Result<_, CliError>>()?;
    }
    cfg.topology = topology.clone();
    cfg.faults.clear();
    for f in &sc.fault {
        let line = Some(line_of(text, &f.span()));
        let secs = |name: &str, v: f64| seconds(name, v).map_err(|e| at(line, e));
        let fault = match f.get_ref() {
            FaultSpec::RegionDown {
                region: r,
                start_s,
                end_s,
            } => Fault {
                kind: FaultKind::RegionDown {
                    region: region(r, line)?,
                },
                start: secs("start_s", *start_s)?,
                end: secs("end_s", *end_s)?,
            },
            FaultSpec::Partition {
                a,
                b,
                both_ways,
                start_s,
                end_s,
            } => Fault {
                kind: FaultKind::Partition {
                    a: region(a, line)?,
                    b: region(b, line)?,
                    both_ways: *both_ways,
                },
                start: secs("start_s", *start_s)?,
                end: secs("end_s", *end_s)?,
            },
            FaultSpec::LagSpike {
                from,
                to,
                extra_ms,
                start_s,
                end_s,
            } => Fault {
                kind: FaultKind::LagSpike {
                    from: region(from, line)?,
                    to: region(to, line)?,
                    extra: secs("extra_ms", extra_ms / 1000.0)?,
                },
                start: secs("start_s", *start_s)?,
                end: secs("end_s", *end_s)?,
            },
        };
        cfg.faults.push(fault);
    }
    if let Some(w) = &sc.watermark {
        cfg.watermark = w
            .get_ref()
            .parse()
            .map_err(|e: engine::EngineError| at(line(w), e.to_string()))?;
    }
    for f in &sc.flag {
        let l = Some(line_of(text, &f.span()));
        let spec = f.get_ref();
        let flag: Flag = spec
            .name
            .parse()
            .map_err(|e: engine::EngineError| at(l, e.to_string()))?;
        cfg.flags.push(FlagSpan {
            flag,
            on: seconds("on_s", spec.on_s).map_err(|e| at(l, e))?,
            off: seconds("off_s", spec.off_s).map_err(|e| at(l, e))?,
        });
        // Check each flag as it is added, so an error names its line.
        let mut partial = cfg.clone();
        partial.faults.clear();
        partial.validate().map_err(|e| at(l, e.to_string()))?;
    }
    if let Some(w) = sc.signal_window_s {
        cfg.signal_window = seconds("signal_window_s", w).map_err(|e| at(None, e))?;
    }
    if !sc.alert.is_empty() {
        // Alerts listed in the file replace the defaults.
        cfg.alerts.clear();
    }
    for a in &sc.alert {
        let l = Some(line_of(text, &a.span()));
        let spec = a.get_ref();
        let signal = SIGNALS
            .iter()
            .find(|(n, _)| *n == spec.signal)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                let known: Vec<&str> = SIGNALS.iter().map(|(n, _)| *n).collect();
                at(
                    l,
                    format!(
                        "alert `{}`: unknown signal `{}` (choose from: {})",
                        spec.name,
                        spec.signal,
                        known.join(", ")
                    ),
                )
            })?;
        if !(spec.threshold.is_finite() && spec.threshold >= 0.0) {
            return Err(at(
                l,
                format!(
                    "alert `{}`: threshold must be a finite number >= 0",
                    spec.name
                ),
            ));
        }
        cfg.alerts.push(AlertRule {
            name: spec.name.clone(),
            signal,
            threshold: spec.threshold,
        });
    }
    if !sc.clock.is_empty() {
        cfg.clocks = vec![ClockModel::Exact; cfg.topology.region_count()];
    }
    for c in &sc.clock {
        let l = Some(line_of(text, &c.span()));
        let us = |v: f64| (v * 1000.0).round() as i64;
        let (name, model) = match c.get_ref() {
            ClockSpec::Offset { region, offset_ms } => (
                region,
                ClockModel::Offset {
                    offset: us(*offset_ms),
                },
            ),
            ClockSpec::Drift {
                region,
                offset_ms,
                ppm,
            } => (
                region,
                ClockModel::Drift {
                    offset: us(*offset_ms),
                    ppm: *ppm,
                },
            ),
            ClockSpec::Step {
                region,
                at_s,
                before_ms,
                after_ms,
            } => (
                region,
                ClockModel::Step {
                    at: seconds("at_s", *at_s).map_err(|e| at(l, e))?,
                    before: us(*before_ms),
                    after: us(*after_ms),
                },
            ),
            ClockSpec::Periodic {
                region,
                amplitude_ms,
                period_s,
                noise_ms,
            } => {
                let period = seconds("period_s", *period_s).map_err(|e| at(l, e))?;
                if period == 0 {
                    return Err(at(l, "period_s must be > 0".into()));
                }
                (
                    region,
                    ClockModel::Periodic {
                        amplitude: us(*amplitude_ms),
                        period,
                        noise: us(*noise_ms),
                        seed: 86,
                    },
                )
            }
        };
        let r = region(name, l)?;
        model.validate().map_err(|e| at(l, e.to_string()))?;
        cfg.clocks[r.idx()] = model;
    }
    cfg.validate().map_err(|e| match e {
        engine::EngineError::BadFault { index, reason } => {
            let line = sc.fault.get(index).map(|f| line_of(text, &f.span()));
            at(
                line,
                engine::EngineError::BadFault { index, reason }.to_string(),
            )
        }
        other => at(None, other.to_string()),
    })?;
    Ok(cfg)
}

/// The configuration the arguments describe (before policy/mode overrides).
fn base_config(a: &DrillArgs) -> Result<DrillConfig, CliError> {
    match (&a.name, &a.scenario) {
        (_, Some(path)) => {
            if a.jp.is_some() {
                return Err(CliError::Usage(
                    "--jp applies to built-in drills; a scenario file declares its own regions and witnesses".into(),
                ));
            }
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| CliError::Usage(format!("cannot read scenario {shown}: {e}")))?;
            from_scenario(&shown, &text)
        }
        (Some(name), None) => {
            let jp: JpRole = a.jp.as_deref().unwrap_or("replica").parse()?;
            Ok(DrillConfig::builtin(name.parse()?, jp))
        }
        (None, None) => Err(CliError::Usage(format!(
            "name a drill ({}) or give --scenario FILE",
            builtin_names()
        ))),
    }
}

/// The built-in drills' names, for messages.
fn builtin_names() -> String {
    Builtin::ALL
        .iter()
        .map(|b| b.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `kata86 drill`.
pub fn run(a: &DrillArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    if a.format == Format::Csv {
        return Err(CliError::Usage(
            "drill reports come as --format table or json".into(),
        ));
    }
    if a.matrix && (a.policy.is_some() || a.replication.is_some()) {
        return Err(CliError::Usage(
            "--matrix runs every policy and replication mode; drop --policy/--replication".into(),
        ));
    }
    let mut cfg = base_config(a)?;
    if let Some(p) = &a.policy {
        cfg.policy = p.parse()?;
    }
    if let Some(r) = &a.replication {
        cfg.replication = r.parse()?;
    }
    if a.no_fencing {
        cfg.fencing = false;
    }
    if let Some(w) = &a.watermark {
        cfg.watermark = w.parse()?;
    }
    if let Some(s) = &a.strategy {
        cfg.strategy = s.parse()?;
    }
    for f in &a.flags {
        cfg.flags.push(parse_flag(f)?);
    }
    cfg.validate()?;
    let compare_clocks =
        cfg.builtin == Some(Builtin::ClockSkew) && a.watermark.is_none() && !a.matrix;
    let runs: Vec<DrillConfig> = if compare_clocks {
        Watermark::ALL
            .iter()
            .map(|&w| DrillConfig {
                watermark: w,
                ..cfg.clone()
            })
            .collect()
    } else if a.matrix {
        Policy::ALL
            .iter()
            .flat_map(|&p| {
                let cfg = &cfg;
                Replication::ALL.iter().map(move |&r| DrillConfig {
                    policy: p,
                    replication: r,
                    ..cfg.clone()
                })
            })
            .collect()
    } else {
        vec![cfg.clone()]
    };
    let results = runs
        .iter()
        .map(|c| run_drill(c, a.seed))
        .collect::<Result<Vec<_>, _>>()?;
    let command = reproduce(a);
    match a.format {
        Format::Json => json(&cfg, a.seed, &results, &command, out)?,
        _ => table(&cfg, a.seed, &results, &command, out)?,
    }
    // A breach the configuration promises cannot happen is a defect: exit 1.
    // Without fencing, or async's lost tail, the breaches are the finding.
    if let Some(d) = results.iter().find_map(|r| r.defect.as_ref()) {
        eprintln!("error: money invariant broken where the design promises it holds: {d}");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `NAME@ON-OFF` (seconds) → a flag span.
fn parse_flag(text: &str) -> Result<FlagSpan, CliError> {
    let bad = || {
        CliError::Usage(format!(
            "--flag `{text}`: write NAME@ON-OFF in seconds, e.g. FORCE_LEADER_READ@60-180"
        ))
    };
    let (name, window) = text.split_once('@').ok_or_else(bad)?;
    let (on, off) = window.split_once('-').ok_or_else(bad)?;
    let secs = |v: &str| {
        v.trim()
            .parse::<f64>()
            .ok()
            .and_then(|v| seconds("flag", v).ok())
    };
    Ok(FlagSpan {
        flag: name.parse()?,
        on: secs(on).ok_or_else(bad)?,
        off: secs(off).ok_or_else(bad)?,
    })
}

fn reproduce(a: &DrillArgs) -> String {
    let mut cmd = String::from("kata86 drill");
    if let Some(n) = &a.name {
        cmd.push_str(&format!(" {n}"));
    }
    if let Some(s) = &a.scenario {
        cmd.push_str(&format!(" --scenario {}", s.display()));
    }
    for (flag, v) in [
        ("--policy", &a.policy),
        ("--replication", &a.replication),
        ("--jp", &a.jp),
        ("--watermark", &a.watermark),
        ("--strategy", &a.strategy),
    ] {
        if let Some(v) = v {
            cmd.push_str(&format!(" {flag} {v}"));
        }
    }
    for f in &a.flags {
        cmd.push_str(&format!(" --flag {f}"));
    }
    if a.no_fencing {
        cmd.push_str(" --no-fencing");
    }
    if a.matrix {
        cmd.push_str(" --matrix");
    }
    cmd.push_str(&format!(" --seed {}", a.seed));
    cmd
}

#[derive(Serialize)]
struct MomentJson {
    at_ms: f64,
    what: String,
}

#[derive(Serialize)]
struct PromotionJson {
    at_ms: f64,
    region: String,
    prefix_lsn: u64,
}

/// One client site's figures in a window (or every site's, in `total`).
#[derive(Serialize)]
struct SiteJson {
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

#[derive(Serialize)]
struct WindowJson {
    total: SiteJson,
    by_client: Vec<SiteJson>,
    slo: Vec<metrics::SloVerdict>,
}

#[derive(Serialize)]
struct DrillJson {
    drill: String,
    seed: u64,
    policy: &'static str,
    replication: &'static str,
    read_strategy: &'static str,
    fencing: bool,
    rto_ms: Option<f64>,
    rpo_ms: f64,
    lost_acknowledged_charges: u64,
    lost_amount: i64,
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
    watermark: &'static str,
    alerts: Vec<AlertJson>,
    flags: Vec<FlagJson>,
    time_to_detect_ms: Option<f64>,
    time_to_mitigate_ms: Option<f64>,
    staleness_error_ms: ErrorJson,
    underreported_read_ratio: f64,
    staleness_order_violations: u64,
    user_impact: Vec<ImpactJson>,
    runbook: Vec<StepJson>,
}

#[derive(Serialize)]
struct AlertJson {
    name: String,
    fired_at_ms: f64,
    fault_at_ms: Option<f64>,
    resolved_at_ms: Option<f64>,
}

#[derive(Serialize)]
struct FlagJson {
    name: &'static str,
    on_at_ms: f64,
    off_at_ms: Option<f64>,
}

#[derive(Serialize)]
struct ErrorJson {
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
}

#[derive(Serialize)]
struct ImpactJson {
    kind: &'static str,
    responses: u64,
    affected_s: f64,
    first_at_ms: Option<f64>,
    last_at_ms: Option<f64>,
}

#[derive(Serialize)]
struct StepJson {
    step: String,
    at_ms: f64,
    degraded_responses_since_previous: u64,
}

/// Fault start → first alert fired at or after it (the first fault's).
fn time_to_detect(r: &DrillResult) -> Option<u64> {
    r.alerts
        .iter()
        .filter_map(|a| a.fault_at.map(|f| a.fired_at - f))
        .min()
}

/// Fault start → the runbook's mitigation step.
fn time_to_mitigate(r: &DrillResult) -> Option<u64> {
    let fault = r.alerts.iter().find_map(|a| a.fault_at)?;
    r.runbook.get(2).map(|s| s.1.saturating_sub(fault))
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
        drill: r.drill.clone(),
        seed,
        policy: r.policy.name(),
        replication: r.replication.name(),
        read_strategy: r.read_strategy.name(),
        fencing: r.fencing,
        rto_ms: r.rto.map(to_ms),
        rpo_ms: to_ms(r.rpo),
        lost_acknowledged_charges: r.lost_acknowledged_charges,
        lost_amount: r.lost_amount,
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
        watermark: r.watermark.name(),
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
        time_to_detect_ms: time_to_detect(r).map(to_ms),
        time_to_mitigate_ms: time_to_mitigate(r).map(to_ms),
        staleness_error_ms: {
            let s = r.staleness_error.summary();
            ErrorJson {
                p50: s.p50,
                p95: s.p95,
                p99: s.p99,
                max: s.max,
            }
        },
        underreported_read_ratio: ratio(r.underreported_reads, r.follower_reads),
        staleness_order_violations: r.staleness_order_violations,
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

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        (a as f64 / b as f64 * 1e6).round() / 1e6
    }
}

fn json(
    cfg: &DrillConfig,
    seed: u64,
    results: &[DrillResult],
    command: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a> {
        drill: &'a str,
        seed: u64,
        topology: String,
        command: &'a str,
        results: Vec<DrillJson>,
    }
    let doc = Doc {
        drill: &cfg.name,
        seed,
        topology: cfg.topology.to_string(),
        command,
        results: results
            .iter()
            .map(|r| drill_json(r, seed, &cfg.topology))
            .collect(),
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)
}

/// Alerts, user impact and the runbook of one drill.
fn operations(r: &DrillResult, out: &mut dyn Write) -> std::io::Result<()> {
    let secs = |t: u64| format!("{:.1} s", to_ms(t) / 1000.0);
    if let Some(d) = time_to_detect(r) {
        write!(out, "\ntime to detect: {}", secs(d))?;
        match time_to_mitigate(r) {
            Some(m) => writeln!(out, ", time to mitigate: {}", secs(m))?,
            None => writeln!(out)?,
        }
    }
    writeln!(out, "\nwhat users saw (window {}):", secs(r.signal_window))?;
    for (k, i) in &r.impact {
        if i.responses > 0 {
            writeln!(
                out,
                "  {:<20} {:>7} responses over {}",
                k.name(),
                i.responses,
                secs(i.windows * r.signal_window)
            )?;
        }
    }
    if !r.runbook.is_empty() {
        writeln!(
            out,
            "\nrunbook (degraded responses since the previous step):"
        )?;
        for (what, at, n) in &r.runbook {
            writeln!(out, "  {:>9.3} s  {:>6}  {what}", to_ms(*at) / 1000.0, n)?;
        }
    }
    Ok(())
}

#[derive(Tabled)]
struct SkewRow {
    watermark: &'static str,
    #[tabled(rename = "follower reads")]
    reads: u64,
    #[tabled(rename = "under-reported")]
    under: String,
    #[tabled(rename = "|error| p50")]
    p50: String,
    #[tabled(rename = "|error| p99")]
    p99: String,
    #[tabled(rename = "|error| max")]
    max: String,
    #[tabled(rename = "reported stale p99")]
    stale: String,
}

/// The staleness error of each watermark clock, side by side.
fn skew_table(results: &[DrillResult], out: &mut dyn Write) -> std::io::Result<()> {
    let rows: Vec<SkewRow> = results
        .iter()
        .map(|r| {
            let e = r.staleness_error.summary();
            let mut st = r.during.total().reported_staleness;
            st.merge(&r.outside.total().reported_staleness);
            SkewRow {
                watermark: r.watermark.name(),
                reads: r.follower_reads,
                under: format!(
                    "{:.2}%",
                    ratio(r.underreported_reads, r.follower_reads) * 100.0
                ),
                p50: format!("{:.0} ms", e.p50),
                p99: format!("{:.0} ms", e.p99),
                max: format!("{:.0} ms", e.max),
                stale: format!("{:.0} ms", st.summary().p99),
            }
        })
        .collect();
    let mut t = Table::new(rows);
    t.with(Style::psql());
    writeln!(out, "\nreported vs true staleness on follower reads:\n{t}")
}

#[derive(Tabled)]
struct Row {
    policy: &'static str,
    replication: &'static str,
    #[tabled(rename = "RTO s")]
    rto: String,
    #[tabled(rename = "max gap s")]
    gap: String,
    #[tabled(rename = "RPO s")]
    rpo: String,
    #[tabled(rename = "lost acked")]
    lost: u64,
    #[tabled(rename = "lost amount")]
    amount: String,
    rejected: u64,
    unknown: u64,
    overspend: u64,
    #[tabled(rename = "charge p95 in/out")]
    charge: String,
    #[tabled(rename = "charge p50/p95 by site, out")]
    by_site: String,
    #[tabled(rename = "data age p99 in")]
    stale: String,
    invariants: &'static str,
}

fn table(
    cfg: &DrillConfig,
    seed: u64,
    results: &[DrillResult],
    command: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "kata86 drill {}: leader {}, fencing {}, {} s drill, seed {}",
        cfg.name,
        cfg.topology.region_name(cfg.leader),
        if cfg.fencing { "on" } else { "OFF" },
        to_ms(cfg.duration) / 1000.0,
        seed
    )?;
    writeln!(out, "topology: {}", cfg.topology)?;
    let witnesses: Vec<&str> = cfg
        .witnesses
        .iter()
        .map(|w| cfg.topology.region_name(*w))
        .collect();
    if !witnesses.is_empty() {
        writeln!(
            out,
            "witnesses (vote, hold no data): {}",
            witnesses.join(", ")
        )?;
    }
    if results.len() == 1 {
        writeln!(out, "\ntimeline:")?;
        for m in &results[0].timeline {
            writeln!(out, "  {:>9.3} s  {}", to_ms(m.at) / 1000.0, m.what)?;
        }
        operations(&results[0], out)?;
    }
    if results.iter().any(|r| r.watermark != results[0].watermark) {
        // Runs that differ only in their watermark clock: the comparison is the report.
        skew_table(results, out)?;
        writeln!(out, "seed: {seed}")?;
        return writeln!(out, "reproduce: {command}");
    }
    writeln!(out)?;
    let rows: Vec<Row> = results
        .iter()
        .map(|r| Row {
            policy: r.policy.name(),
            replication: r.replication.name(),
            rto: match (r.rto, cfg.faults.is_empty()) {
                (_, true) => "-".into(),
                (None, false) => "never".into(),
                (Some(x), false) => format!("{:.1}", to_ms(x) / 1000.0),
            },
            gap: format!("{:.1}", to_ms(r.longest_write_gap) / 1000.0),
            rpo: format!("{:.3}", to_ms(r.rpo) / 1000.0),
            lost: r.lost_acknowledged_charges,
            amount: format!("{:.2}", r.lost_amount as f64 / 100.0),
            rejected: r.rejected_charges,
            unknown: r.unknown_outcome_charges,
            overspend: r.overspend_incidents,
            charge: format!(
                "{:.0}/{:.0}",
                r.during.total().write.summary().p95,
                r.outside.total().write.summary().p95
            ),
            by_site: r
                .outside
                .sites
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let s = w.write.summary();
                    let site = cfg.topology.site_name(topology::SiteId(i as u8));
                    format!("{site} {:.0}/{:.0}", s.p50, s.p95)
                })
                .collect::<Vec<_>>()
                .join(", "),
            stale: format!("{:.0}", r.during.total().data_age.summary().p99),
            invariants: if r.invariants_ok { "ok" } else { "BROKEN" },
        })
        .collect();
    let mut t = Table::new(rows);
    t.with(Style::psql());
    writeln!(out, "{t}")?;
    writeln!(
        out,
        "\nRTO: fault start -> first charge sent after it is acknowledged. max gap: longest time with no charge acknowledged after the fault.\nRPO: span of the lost acknowledged charges, from the oldest one's commit to the fault or the newest one's commit; lost acked: acknowledged charges missing from the final ledger."
    )?;
    for r in results.iter().filter(|r| r.first_breach.is_some()) {
        writeln!(
            out,
            "{} / {}: first breach: {}",
            r.policy.name(),
            r.replication.name(),
            r.first_breach.as_deref().unwrap_or_default()
        )?;
    }
    writeln!(out, "seed: {seed}")?;
    writeln!(out, "reproduce: {command}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        from_scenario("s.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn scenario_errors_name_the_line_and_the_reason() {
        let e = err("[[fault]]\nkind = \"region-down\"\nregion = \"XX\"\nstart_s = 1\nend_s = 2\n");
        assert!(e.starts_with("s.toml:1:") && e.contains("XX"), "{e}");
        let e = err("duration_s = 300\n\n[[fault]]\nkind = \"region-down\"\nregion = \"SG\"\nstart_s = 50\nend_s = 40\n");
        assert!(
            e.starts_with("s.toml:3:") && e.contains("not after it starts"),
            "{e}"
        );
        let e = err("duration_s = \"long\"\n");
        assert!(e.starts_with("s.toml:1:"), "{e}");
        let e = err("[[fault]]\nkind = \"meteor\"\n");
        assert!(e.contains("meteor") || e.contains("variant"), "{e}");
        let e = err("bogus = 1\n");
        assert!(e.contains("bogus"), "{e}");
        let two = "[[fault]]\nkind = \"lag-spike\"\nfrom = \"SG\"\nto = \"US\"\nextra_ms = 100\nstart_s = 10\nend_s = 20\n";
        let e = err(&format!(
            "{two}{}",
            two.replace("10", "15").replace("20", "30")
        ));
        assert!(e.starts_with("s.toml:8:") && e.contains("fault 2"), "{e}");
    }

    #[test]
    fn a_valid_scenario_sets_topology_faults_and_slos() {
        let text = r#"
name = "two regions"
duration_s = 100
policy = "reject-writes"
replication = "semi-sync"
[topology]
regions = ["SG", "US"]
links = [{ a = "SG", b = "US", rtt_ms = 180 }]
sites = [{ name = "VN", home = "SG", rtt_ms = { SG = 40, US = 220 } }]
[[slo]]
name = "charge_p95"
series = "charge"
quantile = 0.95
target_ms = 500
[[fault]]
kind = "partition"
a = "SG"
b = "US"
start_s = 10
end_s = 20
"#;
        let cfg = from_scenario("s.toml", text).unwrap();
        assert_eq!(cfg.topology.region_count(), 2);
        assert_eq!(cfg.faults.len(), 1);
        assert_eq!(cfg.policy, Policy::RejectWrites);
        assert_eq!(cfg.replication, Replication::SemiSync);
        assert_eq!(cfg.slos.len(), 1);
        assert_eq!(cfg.duration, ms(100_000.0));
    }

    #[test]
    fn scenario_alerts_replace_the_defaults_and_bad_ones_name_their_line() {
        let ok = "signal_window_s = 5\n[[alert]]\nname = \"lag\"\nsignal = \"lag_p99_ms\"\nthreshold = 3000\n";
        let cfg = from_scenario("s.toml", ok).unwrap();
        assert_eq!(cfg.alerts.len(), 1);
        assert_eq!(cfg.alerts[0].signal, Signal::LagP99);
        assert_eq!(cfg.signal_window, ms(5_000.0));
        let e = err("[[alert]]\nname = \"x\"\nsignal = \"vibes\"\nthreshold = 1\n");
        assert!(
            e.starts_with("s.toml:1:") && e.contains("vibes") && e.contains("lag_p95_ms"),
            "{e}"
        );
        let e = err("\n[[alert]]\nname = \"x\"\nsignal = \"lag_p95_ms\"\nthreshold = -1\n");
        assert!(e.starts_with("s.toml:2:") && e.contains("threshold"), "{e}");
    }

    #[test]
    fn topology_errors_in_a_scenario_are_reported() {
        let e = err("[topology]\nregions = [\"SG\"]\nlinks = []\nsites = [{ name = \"VN\", home = \"SG\", rtt_ms = { SG = -4 } }]\n");
        assert!(e.contains("[topology]") && e.contains("-4"), "{e}");
    }
}
