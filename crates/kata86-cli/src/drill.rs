//! `kata86 drill`: built-in drills and TOML scenarios → runs → report.

use std::io::Write;

use engine::drill::{
    run_drill, Builtin, DrillConfig, DrillResult, JpRole, Policy, Replication, SiteWindow,
    Watermark, Window,
};
use engine::ops::FlagSpan;
use serde::Serialize;
use tabled::settings::Style;
use tabled::{Table, Tabled};
use topology::to_ms;

use crate::files::{length, located, read_capped};

use crate::args::{DrillArgs, Format};
use crate::{CliError, Verdict};

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
            let text = read_capped(path, "scenario")?;
            scenario::parse_drill(&shown, &text, length(a.allow_long))
                .map_err(|e| located(&shown, e))
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
pub fn run(a: &DrillArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
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
    if a.no_offset_check {
        cfg.max_offset_enforced = false;
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
        return Ok(Verdict::MoneyBroken);
    }
    Ok(Verdict::Clean)
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
    // Within the longest drill a file may describe (its duration is checked
    // against the flag afterwards).
    let longest = scenario::bound("flag.on_s").max;
    let secs = |v: &str| {
        v.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| (0.0..=longest).contains(v))
            .map(|v| (v * 1e6).round() as u64)
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
    if a.no_offset_check {
        cmd.push_str(" --no-offset-check");
    }
    if a.allow_long {
        cmd.push_str(" --allow-long");
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
    max_offset_enforced: bool,
    rto_ms: Option<f64>,
    /// Per client site: when its charges recovered (null: not in the drill).
    rto_by_site_ms: std::collections::BTreeMap<String, Option<f64>>,
    rto_worst_ms: Option<f64>,
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
    offset_refused_reads: u64,
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
        max_offset_enforced: r.max_offset_enforced,
        rto_ms: r.rto.map(to_ms),
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
    if r.offset_refused_reads > 0 {
        writeln!(
            out,
            "\nreads refused by a region whose clock was beyond the bound: {}",
            r.offset_refused_reads
        )?;
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
    #[tabled(rename = "first ack s")]
    rto: String,
    #[tabled(rename = "RTO s by site")]
    rto_sites: String,
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
        "kata86 drill {}: leader {}, fencing {}{}, {} s drill, seed {}",
        cfg.name,
        cfg.topology.region_name(cfg.leader),
        if cfg.fencing { "on" } else { "OFF" },
        if cfg.max_offset_enforced {
            ""
        } else {
            ", offset check OFF"
        },
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
            rto_sites: if r.rto_by_site.is_empty() {
                "-".into()
            } else {
                r.rto_by_site
                    .iter()
                    .enumerate()
                    .map(|(i, x)| {
                        let site = cfg.topology.site_name(topology::SiteId(i as u8));
                        match x {
                            Some(x) => format!("{site} {:.0}", to_ms(*x) / 1000.0),
                            None => format!("{site} never"),
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            },
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
        "\nfirst ack: fault start -> first charge sent after it is acknowledged (any site). RTO by site: fault start -> the site's charges answered at >= 95 % of their pre-fault rate for 30 s, counting only answers that stand in the final ledger. max gap: longest time with no charge acknowledged after the fault.\nRPO: span of the lost acknowledged charges, from the oldest one's commit to the fault or the newest one's commit; lost acked: acknowledged charges missing from the final ledger."
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
