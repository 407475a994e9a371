//! `kata86 drill`: the tables and the JSON document of a drill's runs.
//!
//! The JSON document's results are the engine's: each configuration's runs
//! as [`DrillRuns::report`] writes them ([`RunsReport`]: the spreads over
//! the runs, every run's figures and the first run in full), the result
//! types serializing themselves with units in their keys. What is written
//! here: the document around them ([`Drill`]) and the tables. It lives here
//! so that its schema is published with the others and the CLI only calls
//! [`json`].
#![allow(missing_docs)]

use std::io::Write;

use engine::drill::sli::pct;
use engine::drill::{DrillConfig, DrillResult, DrillRuns, RunsReport, Window};
use metrics::Spread;
use schemars::JsonSchema;
use serde::Serialize;
use tabled::settings::Style;
use tabled::{Table, Tabled};
use topology::to_ms;

/// p50/p95/p99/max of a figure over the runs, in its report unit: the
/// metrics crate's one shape for it.
pub use metrics::SpreadFigures as SpreadJson;

pub fn site_names(t: &topology::Topology) -> Vec<String> {
    t.site_ids().map(|s| t.site_name(s).to_string()).collect()
}

/// One configuration's runs as the JSON writes them, from master seed
/// `seed`.
pub fn runs_json<'a>(r: &'a DrillRuns, cfg: &DrillConfig, seed: u64) -> RunsReport<'a> {
    r.report(seed, cfg.onset_window, &site_names(&cfg.topology))
}

/// `kata86 drill`'s document (single-leader write paths).
#[derive(Serialize, JsonSchema)]
pub struct Drill<'a> {
    drill: &'a str,
    seed: u64,
    runs: u32,
    onset_window_ms: f64,
    #[serde(flatten)]
    world: crate::WorldKeys,
    command: &'a str,
    results: Vec<RunsReport<'a>>,
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
        world: crate::WorldKeys::of(&cfg.topology),
        command,
        results: results.iter().map(|r| runs_json(r, cfg, seed)).collect(),
    };
    crate::json(out, &doc)
}

/// Alerts, user impact and the runbook of one drill.
fn operations(r: &DrillResult, out: &mut dyn Write) -> std::io::Result<()> {
    let secs = |t: u64| format!("{:.1} s", to_ms(t) / 1000.0);
    if let Some(d) = r.time_to_detect() {
        write!(out, "\ntime to detect: {}", secs(d))?;
        match r.time_to_mitigate() {
            Some(m) => writeln!(out, ", time to mitigate: {}", secs(m))?,
            None => writeln!(out)?,
        }
    }
    if r.reads.offset_refused_reads > 0 {
        writeln!(
            out,
            "\nreads refused by a region whose clock was beyond the bound: {}",
            r.reads.offset_refused_reads
        )?;
    }
    writeln!(
        out,
        "\nwhat users saw (window {}):",
        secs(r.operations.signal_window)
    )?;
    for i in &r.response.impact {
        if i.responses > 0 {
            writeln!(
                out,
                "  {:<20} {:>7} responses over {}",
                i.kind.name(),
                i.responses,
                secs(i.affected)
            )?;
        }
    }
    if !r.response.runbook.is_empty() {
        writeln!(
            out,
            "\nrunbook (degraded responses since the previous step):"
        )?;
        for s in &r.response.runbook {
            writeln!(
                out,
                "  {:>9.3} s  {:>6}  {}",
                to_ms(s.at) / 1000.0,
                s.degraded,
                s.step
            )?;
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
fn skew_table(results: &[DrillRuns], out: &mut dyn Write) -> std::io::Result<()> {
    let rows: Vec<SkewRow> = results
        .iter()
        .map(|r| {
            let e = r.staleness_error.summary();
            let mut st = r.during.total().reported_staleness;
            st.merge(&r.outside.total().reported_staleness);
            SkewRow {
                watermark: r.first.watermark.name(),
                reads: r.follower_reads,
                under: format!("{:.2}%", r.underreported_read_ratio() * 100.0),
                p50: format!("{:.0} ms", e.p50),
                p99: format!("{:.0} ms", e.p99),
                max: format!("{:.0} ms", e.max),
                stale: format!("{:.0} ms", st.summary().p99),
            }
        })
        .collect();
    let mut t = Table::new(rows);
    t.with(Style::psql());
    writeln!(
        out,
        "\nreported vs true staleness on follower reads, every run:\n{t}"
    )
}

/// `p50/p95/p99/max` of a spread, each in `unit` ("never" for a run in
/// which it did not happen).
pub fn cell(s: Spread, unit: fn(u64) -> String) -> String {
    s.quantiles()
        .map(|q| q.map_or_else(|| "never".to_string(), unit))
        .join("/")
}

fn secs(x: u64) -> String {
    let s = to_ms(x) / 1000.0;
    if s < 10.0 && s.fract() != 0.0 {
        format!("{s:.1}")
    } else {
        format!("{s:.0}")
    }
}

pub fn count(x: u64) -> String {
    x.to_string()
}

fn cents(x: u64) -> String {
    format!("{:.2}", x as f64 / 100.0)
}

/// Writes the human tables of a drill's runs.
pub fn table(
    cfg: &DrillConfig,
    seed: u64,
    runs: u32,
    results: &[DrillRuns],
    command: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "kata86 drill {}: leader {}, fencing {}{}, {} s drill, {} run{} from seed {}, fault onset +U[0, {}) s",
        cfg.name,
        cfg.topology.region_name(cfg.leader),
        if cfg.fencing { "on" } else { "OFF" },
        if cfg.max_offset_enforced {
            ""
        } else {
            ", offset check OFF"
        },
        to_ms(cfg.duration) / 1000.0,
        runs,
        if runs == 1 { "" } else { "s" },
        seed,
        to_ms(cfg.onset_window) / 1000.0,
    )?;
    writeln!(out, "world: {}", topology::WorldLine(&cfg.topology))?;
    let design = engine::drill::Design {
        replication: cfg.replication,
        policy: cfg.policy,
        strategy: cfg.strategy,
        watermark: cfg.watermark,
        ..engine::drill::DESIGN
    };
    writeln!(
        out,
        "design: {}{}",
        design.describe(),
        if results.len() > 1 {
            " (the rows below vary it)"
        } else if engine::drill::DESIGN.played_by(cfg) {
            " (DESIGN.md's)"
        } else {
            ""
        }
    )?;
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
        let r = &results[0];
        let first = &r.runs[0];
        writeln!(
            out,
            "\nrun 1 (seed {}, timeline shifted {:.1} s):",
            first.seed,
            to_ms(first.onset) / 1000.0
        )?;
        for m in &r.first.operations.timeline {
            writeln!(out, "  {:>9.3} s  {}", to_ms(m.at) / 1000.0, m.what)?;
        }
        operations(&r.first, out)?;
    }
    if results
        .iter()
        .any(|r| r.first.watermark != results[0].first.watermark)
    {
        // Runs that differ only in their watermark clock: the comparison is the report.
        skew_table(results, out)?;
        writeln!(out, "seed: {seed}")?;
        return writeln!(out, "reproduce: {command}");
    }
    let sites = site_names(&cfg.topology);
    let mut b = tabled::builder::Builder::default();
    let mut head = vec!["policy".to_string(), "replication".to_string()];
    head.extend(sites.iter().map(|s| format!("RTO {s} s")));
    head.extend(
        [
            "RPO s",
            "lost acked",
            "lost amount $",
            "lost top-ups",
            "overspend",
            "lease overlap s",
            "detect s",
            "charge p95 in/out",
            "broken runs",
        ]
        .map(String::from),
    );
    b.push_record(head);
    for r in results {
        let mut row = vec![
            r.first.policy.name().to_string(),
            r.first.replication.name().to_string(),
        ];
        if cfg.faults.is_empty() {
            row.extend(sites.iter().map(|_| "-".to_string()));
        } else {
            row.extend((0..sites.len()).map(|i| cell(r.rto(i), secs)));
        }
        row.push(cell(r.rpo(), |x| format!("{:.2}", to_ms(x) / 1000.0)));
        row.push(cell(r.lost_acknowledged_charges(), count));
        row.push(cell(r.lost_amount(), cents));
        row.push(cell(r.lost_acknowledged_top_ups(), count));
        row.push(cell(r.overspend(), count));
        row.push(cell(r.lease_overlap(), |x| {
            format!("{:.2}", to_ms(x) / 1000.0)
        }));
        row.push(cell(r.time_to_detect(), secs));
        row.push(format!(
            "{:.0}/{:.0}",
            r.during.total().write.summary().p95,
            r.outside.total().write.summary().p95
        ));
        let broken = r.runs.iter().filter(|x| !x.money.invariants_ok).count();
        row.push(format!("{broken}/{}", r.runs.len()));
        b.push_record(row);
    }
    let mut t = b.build();
    t.with(Style::psql());
    writeln!(
        out,
        "\nover {runs} run{} (p50/p95/p99/max):\n{t}",
        if runs == 1 { "" } else { "s" }
    )?;
    writeln!(
        out,
        "\nRTO by site: fault start -> the site's charges answered at >= {:.0} % of their pre-fault rate for {:.0} s, counting only answers that stand in the final ledger (never: not within the drill).\nRPO: commit-time span of the acknowledged writes (charges and top-ups) missing from the final ledger; lost acked / lost amount $: acknowledged charges lost and their value (currency units; cents in JSON); lost top-ups: acknowledged top-ups lost.\ndetect: fault start -> the first alert fired after it (never: no alert). charge p95: every run pooled, inside/outside the fault windows, ms. broken runs: runs whose final ledger broke a money invariant.",
        cfg.recovery_share * 100.0,
        to_ms(cfg.recovery_hold) / 1000.0
    )?;
    for r in results {
        if let Some(rate) = r.false_alarms_per_day() {
            let by: Vec<String> = r
                .false_alarms_by_rule()
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            writeln!(
                out,
                "{} / {}: false alarms {:.1} per simulated day ({} over {:.1} h before any fault{}{})",
                r.first.policy.name(),
                r.first.replication.name(),
                rate,
                r.runs.iter().map(|x| x.false_alarms.len()).sum::<usize>(),
                r.quiet_hours(),
                if by.is_empty() { "" } else { ": " },
                by.join(", ")
            )?;
        }
        if let Some(x) = r.runs.iter().find(|x| !x.money.invariants_ok) {
            let first = if x.seed == r.runs[0].seed {
                r.first.money.first_breach.clone()
            } else {
                None
            };
            writeln!(
                out,
                "{} / {}: invariants broke in run seed {}{}",
                r.first.policy.name(),
                r.first.replication.name(),
                x.seed,
                first.map(|b| format!(": {b}")).unwrap_or_default()
            )?;
        }
        if runs > 1 && results.len() == 1 && !cfg.faults.is_empty() {
            if let Some(w) = r.runs.iter().max_by_key(|x| {
                (
                    x.recovery.rto_worst.is_none(),
                    x.recovery.rto_worst,
                    std::cmp::Reverse(x.seed),
                )
            }) {
                writeln!(
                    out,
                    "{} / {}: slowest recovery in run seed {} (replay it alone with --seed {} --runs 1)",
                    r.first.policy.name(),
                    r.first.replication.name(),
                    w.seed,
                    w.seed
                )?;
            }
        }
    }
    for r in results {
        verdict_table(cfg, r, results.len() == 1, out)?;
    }
    writeln!(out, "seed: {seed}")?;
    writeln!(out, "reproduce: {command}")
}

/// p50/max of a spread of seconds over `n` values: `52/60`, `never`, `-`
/// with none.
fn p50_max(s: &metrics::Spread, n: u64) -> String {
    let f = |x: Option<u64>| x.map_or_else(|| "never".to_string(), |v| v.to_string());
    match (s.p50, s.max) {
        _ if n == 0 => "-".into(),
        (a, b) if a == b => f(a),
        (a, b) => format!("{}/{}", f(a), f(b)),
    }
}

/// The burn-rate alerts of every objective at every site, per phase, beside
/// the threshold alerts: what paged, how fast, and how much budget burnt.
fn burn_table(
    cfg: &DrillConfig,
    r: &DrillRuns,
    label: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let policy = cfg.burn_policy();
    let pairs: Vec<String> = policy.windows.iter().map(|w| w.to_string()).collect();
    let mut b = tabled::builder::Builder::default();
    b.push_record(
        [
            "site",
            "phase",
            "SLO",
            "burn rate",
            "budget lasts",
            "budget consumed p95",
            "runs paged",
            "page detect s p50/max",
            "page reset s p50/max",
            "runs ticketed",
            "ticket detect s p50/max",
            "pages / tickets per day",
        ]
        .map(String::from),
    );
    for v in &r.verdicts {
        let a = &v.burn_alerts;
        let fault = v.budget.is_some();
        let per_day = match (a.pages_per_day(), a.tickets_per_day()) {
            (Some(p), Some(t)) if !fault => format!("{p:.1} / {t:.1}"),
            _ => "-".into(),
        };
        b.push_record([
            v.site.clone(),
            v.phase.label(),
            v.slo.clone(),
            v.burn_rate
                .map_or_else(|| "no data".into(), |x| format!("{x:.2}")),
            crate::lasts(v),
            v.budget.map_or_else(
                || "-".into(),
                |b| {
                    b.consumed_ppm
                        .p95
                        .map_or_else(|| "all".into(), |p| pct(p as f64 / 1e6))
                },
            ),
            if fault {
                format!("{}/{}", a.pages, a.over)
            } else {
                a.pages.to_string()
            },
            p50_max(&a.page_detect_s, if fault { a.pages } else { 0 }),
            p50_max(&a.page_reset_s, if fault { a.pages } else { 0 }),
            if fault {
                format!("{}/{}", a.tickets, a.over)
            } else {
                a.tickets.to_string()
            },
            p50_max(&a.ticket_detect_s, if fault { a.tickets } else { 0 }),
            per_day,
        ]);
    }
    let mut t = b.build();
    t.with(Style::psql());
    let threshold = r.time_to_detect();
    let secs = |x: Option<u64>| {
        x.map_or_else(
            || "never".to_string(),
            |us| format!("{:.1}", us as f64 / 1e6),
        )
    };
    writeln!(
        out,
        "
{label}: burn-rate alerts per site and phase ({}-day budget; {}; evaluated every {} s after a warm-up of {} at each run's steady state), every run:
{t}
steady: pages and tickets that fired before the run's first fault, over that baseline time. fault N: runs whose alert fired for the fault, from its start (detect) and from the end of its impact window (reset, evaluated past the run's end on its steady state; never: the steady state itself keeps it firing).
threshold alerts (kata86 alerts --rules threshold), same runs: detect s p50/p95/max {}/{}/{}, false alarms {} per simulated day.",
        policy.period_s as f64 / 86_400.0,
        pairs.join(", "),
        cfg.burn_step_s(),
        slo::rules::duration(policy.longest_s()),
        secs(threshold.p50),
        secs(threshold.p95),
        secs(threshold.max),
        r.false_alarms_per_day()
            .map_or_else(|| "-".into(), |x| format!("{x:.1}"))
    )
}

/// What users saw per site, inside and outside the fault windows, and
/// every objective judged per site and phase, every run pooled: the tables
/// every write path's drill prints.
pub fn windows_and_verdicts(
    cfg: &DrillConfig,
    label: &str,
    during: &Window,
    outside: &Window,
    verdicts: &[engine::drill::sli::Verdict],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut b = tabled::builder::Builder::default();
    b.push_record(
        [
            "site",
            "window",
            "reads",
            "failed reads",
            "read p95 ms",
            "data_age p95 ms",
            "reported staleness p95 ms",
            "reads over bound",
            "charge p95 ms",
        ]
        .map(String::from),
    );
    for (name, w) in [("in faults", during), ("outside", outside)] {
        for (i, s) in w.sites.iter().enumerate() {
            let q = |h: &metrics::LatencyHistogram| {
                if h.count() == 0 {
                    "no data".to_string()
                } else {
                    format!("{}", h.summary().p95)
                }
            };
            b.push_record([
                site_names(&cfg.topology)[i].clone(),
                name.to_string(),
                s.reads.to_string(),
                s.failed_reads.to_string(),
                q(&s.read),
                q(&s.data_age),
                q(&s.reported_staleness),
                s.reads_over_bound.to_string(),
                q(&s.write),
            ]);
        }
    }
    let mut t = b.build();
    t.with(Style::psql());
    writeln!(
        out,
        "
{label}: per site, every run pooled:
{t}"
    )?;
    let mut b = tabled::builder::Builder::default();
    b.push_record(
        [
            "site",
            "phase",
            "SLO",
            "objective",
            "good / valid",
            "good share",
            "share met",
            "budget consumed p50/p95/max",
            "budget lasts",
            "verdict",
        ]
        .map(String::from),
    );
    for v in verdicts {
        let objective = match v.target_ms {
            Some(t) => format!("{} < {t} ms", pct(v.objective)),
            None => format!("{} answered", pct(v.objective)),
        };
        let budget = v.budget.map_or_else(
            || "-".to_string(),
            |b| {
                b.consumed_ppm
                    .quantiles()
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != 2)
                    .map(|(_, q)| q.map_or_else(|| "all".into(), |p| pct(p as f64 / 1e6)))
                    .collect::<Vec<_>>()
                    .join(" / ")
            },
        );
        let verdict = if v.valid == 0 {
            "no data"
        } else if v.pass {
            "pass"
        } else {
            "FAIL"
        };
        b.push_record([
            v.site.clone(),
            v.phase.label(),
            v.slo.clone(),
            objective,
            format!("{} / {}", v.good, v.valid),
            v.share.map_or_else(|| "no data".into(), pct),
            if v.valid == 0 {
                "no data"
            } else if v.share_met {
                "yes"
            } else {
                "FAIL"
            }
            .to_string(),
            budget,
            crate::lasts(v),
            verdict.to_string(),
        ]);
    }
    let mut t = b.build();
    t.with(Style::psql());
    let allowance = cfg.budget.incident_allowance;
    writeln!(
        out,
        "
{label}: verdicts per site and phase, every run pooled:
{t}
A failed or timed-out request is a bad event; staleness counts answered reads, by the measure named (data_age: the true age of the balance returned). steady: every second outside the site's impact windows, judged on the objective. fault N: from the fault's start to the later of its end and the site's recovery, judged on the error budget it consumed ({} of one {:.0}-day budget allowed per incident, at p95 over the runs): its share may read FAIL while the budget verdict passes. budget lasts: a whole {:.0}-day budget at the burn rate measured in the phase (bad share over 1 − objective).",
        pct(allowance),
        cfg.budget.period as f64 / 86_400e6,
        cfg.budget.period as f64 / 86_400e6
    )?;
    Ok(())
}

/// What users saw per site, inside and outside the fault windows, then every
/// objective judged per site and phase (in full for one configuration, its
/// failures for several).
fn verdict_table(
    cfg: &DrillConfig,
    r: &DrillRuns,
    full: bool,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let label = format!("{} / {}", r.first.policy.name(), r.first.replication.name());
    if full {
        windows_and_verdicts(cfg, &label, &r.during, &r.outside, &r.verdicts, out)?;
        burn_table(cfg, r, &label, out)?;
    } else {
        let failing: Vec<String> = r
            .verdicts
            .iter()
            .filter(|v| !v.pass)
            .map(|v| format!("{} {} {}", v.site, v.phase.label(), v.slo))
            .collect();
        writeln!(
            out,
            "{label}: {} of {} per-site verdicts pass{}{}",
            r.verdicts.len() - failing.len(),
            r.verdicts.len(),
            if failing.is_empty() {
                ""
            } else {
                "; failing: "
            },
            failing.join(", ")
        )?;
    }
    for n in &r.not_applied {
        writeln!(
            out,
            "{label}: SLO {} names site {}, which this world lacks: not applied (give a [[slo]] with a site of this world, or none for every site)",
            n.slo, n.site
        )?;
    }
    Ok(())
}

/// A configuration's label in the report and in `.hgrm` names.
pub fn config_label(r: &DrillRuns, results: &[DrillRuns]) -> String {
    let mut label = format!("{} / {}", r.first.policy.name(), r.first.replication.name());
    if results
        .iter()
        .any(|x| x.first.watermark != results[0].first.watermark)
    {
        label.push_str(&format!(" / {} clock", r.first.watermark.name()));
    }
    label
}

/// What a fault is, for the report.
pub fn fault_label(f: &engine::drill::Fault, t: &topology::Topology) -> String {
    use engine::drill::FaultKind;
    match f.kind {
        FaultKind::RegionDown { region } => format!("{} down", t.region_name(region)),
        FaultKind::Partition { a, b, .. } => {
            format!("partition {}|{}", t.region_name(a), t.region_name(b))
        }
        FaultKind::LagSpike { from, to, .. } => {
            format!("lag spike {}->{}", t.region_name(from), t.region_name(to))
        }
        FaultKind::LinkDelay {
            from,
            to,
            both_ways,
            ..
        } => format!(
            "link delay {}{}{}",
            t.region_name(from),
            if both_ways { "<->" } else { "->" },
            t.region_name(to)
        ),
        FaultKind::DiskStall { region, .. } => format!("disk stall {}", t.region_name(region)),
    }
}
