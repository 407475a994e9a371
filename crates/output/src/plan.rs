//! `kata86 plan`: the tables and the JSON of a plan's evaluated designs.
//!
//! An [`Evaluation`] serialises itself (the plan crate writes a design's
//! keys and units once); the document here wraps the designs with the seed,
//! the faults, the priorities and the command.
#![allow(missing_docs)]

use std::io::Write;

use ::plan::{ms, Evaluation, Metric, Space};
use schemars::JsonSchema;
use serde::Serialize;
use tabled::settings::Style;
use tabled::{Table, Tabled};

/// Everything a plan report shows.
pub struct Outcome<'a> {
    pub space: &'a Space,
    pub priorities: &'a [Metric],
    pub evals: &'a [Evaluation],
    pub ranked: &'a [&'a Evaluation],
    pub front: &'a [&'a Evaluation],
    pub bind: &'a [String],
    pub command: &'a str,
}

/// `kata86 plan`'s document.
#[derive(Serialize, JsonSchema)]
pub struct Plan<'a> {
    seed: u64,
    runs: u32,
    #[serde(flatten)]
    world: crate::WorldKeys,
    faults: Vec<&'a str>,
    priorities: Vec<&'static str>,
    ranked: &'a [&'a Evaluation],
    pareto: Vec<String>,
    rejected: Vec<&'a Evaluation>,
    binding: &'a [String],
    command: &'a str,
}

/// Writes `kata86 plan`'s JSON document.
pub fn json(o: &Outcome<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let doc = Plan {
        seed: o.space.seed,
        runs: o.space.runs,
        world: crate::WorldKeys::of(&o.space.normal.topology),
        faults: o.space.faults.iter().map(|(n, _)| n.as_str()).collect(),
        priorities: o.priorities.iter().map(|m| m.name()).collect(),
        ranked: o.ranked,
        pareto: o.front.iter().map(|e| e.design.name()).collect(),
        rejected: o.evals.iter().filter(|e| !e.accepted()).collect(),
        binding: o.bind,
        command: o.command,
    };
    crate::json(out, &doc)
}

/// A figure in ms, or `-`.
pub fn show_ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |x| format!("{x}"))
}

/// The worst site's RTO p95 in seconds, `never` or `-`.
pub fn rto(e: &Evaluation) -> String {
    match e.figures.rto_p95 {
        None => "-".into(),
        Some(None) => "never".into(),
        Some(Some(t)) => format!("{}", topology::to_ms(t) / 1000.0),
    }
}

#[derive(Tabled)]
struct Ranked {
    rank: usize,
    design: String,
    #[tabled(rename = "charge p95 ms")]
    charge: String,
    #[tabled(rename = "read p95 ms")]
    read: String,
    #[tabled(rename = "data_age p99 ms")]
    staleness: String,
    #[tabled(rename = "worst-site RTO p95 s")]
    rto: String,
    #[tabled(rename = "RPO p99 s")]
    rpo: String,
    #[tabled(rename = "Pareto")]
    pareto: &'static str,
}

#[derive(Tabled)]
struct Rejected {
    design: String,
    #[tabled(rename = "first failure")]
    why: String,
}

/// Writes the plan's human tables.
pub fn table(o: &Outcome<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let Outcome {
        space,
        priorities,
        evals,
        ranked,
        front,
        bind,
        command,
    } = *o;
    let faults: Vec<&str> = space.faults.iter().map(|(n, _)| n.as_str()).collect();
    writeln!(
        out,
        "kata86 plan: {} designs, normal operation + {} ({} runs each, seed {})",
        evals.len(),
        if faults.is_empty() {
            "no fault".to_string()
        } else {
            faults.join(", ")
        },
        space.runs,
        space.seed
    )?;
    writeln!(
        out,
        "world: {}",
        topology::WorldLine(&space.normal.topology)
    )?;
    let slos: Vec<String> = space
        .normal
        .slos
        .iter()
        .map(|s| {
            format!(
                "{}{}",
                if s.series.is_availability() {
                    format!(
                        "{} {} answered",
                        s.name,
                        engine::drill::sli::pct(s.quantile)
                    )
                } else {
                    format!(
                        "{} {} < {} ms",
                        s.name,
                        engine::drill::sli::pct(s.quantile),
                        s.target_ms
                    )
                },
                s.site
                    .as_deref()
                    .map(|x| format!(" ({x})"))
                    .unwrap_or_default()
            )
        })
        .collect();
    writeln!(out, "SLOs: {}", slos.join("; "))?;
    writeln!(
        out,
        "judged at every site in every scenario: steady state on the objective, each fault on the error budget it consumed ({} of a {:.0}-day budget per incident, p95 over the runs); a failed or timed-out request is a bad event",
        engine::drill::sli::pct(space.normal.budget.incident_allowance),
        space.normal.budget.period as f64 / 86_400e6
    )?;
    writeln!(
        out,
        "ranked by: {}",
        priorities
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    )?;
    writeln!(out)?;
    if ranked.is_empty() {
        writeln!(
            out,
            "No design meets every SLO and keeps the money right. Binding constraint:"
        )?;
        for b in bind {
            writeln!(out, "  - {b}")?;
        }
        if bind.is_empty() {
            writeln!(
                out,
                "  - none in common: each design fails on something of its own (see the \
                 rejections below)"
            )?;
        }
    } else {
        writeln!(
            out,
            "{} designs meet every SLO and keep the money right; best first:",
            ranked.len()
        )?;
        let rows: Vec<Ranked> = ranked
            .iter()
            .enumerate()
            .map(|(i, e)| Ranked {
                rank: i + 1,
                design: e.design.name(),
                charge: show_ms(ms(e.figures.charge_p95)),
                read: show_ms(ms(e.figures.read_p95)),
                staleness: show_ms(ms(e.figures.staleness_p99)),
                rto: rto(e),
                rpo: format!("{}", topology::to_ms(e.figures.rpo_p99) / 1000.0),
                pareto: if front.iter().any(|f| f.design == e.design) {
                    "yes"
                } else {
                    ""
                },
            })
            .collect();
        writeln!(out, "{}", Table::new(rows).with(Style::psql()))?;
        writeln!(out)?;
        writeln!(
            out,
            "Pareto frontier (charge p95, read p95, data_age p99, RPO p99; one design per point): {}",
            front
                .iter()
                .map(|e| e.design.name())
                .collect::<Vec<_>>()
                .join("; ")
        )?;
    }
    writeln!(out)?;
    let rejected: Vec<Rejected> = evals
        .iter()
        .filter_map(|e| {
            e.rejected.as_ref().map(|why| Rejected {
                design: e.design.name(),
                why: why.clone(),
            })
        })
        .collect();
    if !rejected.is_empty() {
        writeln!(out, "rejected ({}):", rejected.len())?;
        writeln!(out, "{}", Table::new(rejected).with(Style::psql()))?;
        writeln!(out)?;
        for e in evals.iter().filter(|e| e.figures.failures.len() > 1) {
            writeln!(
                out,
                "{}: every failing verdict, worst first:",
                e.design.name()
            )?;
            for f in &e.figures.failures {
                writeln!(out, "  - {}", f.describe())?;
            }
        }
    }
    if let Some(best) = ranked.first() {
        budget_table(best, space.normal.budget.period as f64 / 86_400e6, out)?;
    }
    writeln!(out, "seed: {}", space.seed)?;
    writeln!(out, "reproduce: {command}")?;
    Ok(())
}

/// The budget every fault consumed at every site, per objective, for one
/// design.
fn budget_table(e: &Evaluation, period_days: f64, out: &mut dyn Write) -> std::io::Result<()> {
    let mut b = tabled::builder::Builder::default();
    b.push_record(
        [
            "scenario",
            "site",
            "SLO",
            "good share in fault",
            "budget consumed p95",
            "budget lasts",
            "verdict",
        ]
        .map(String::from),
    );
    let mut rows = 0;
    for f in &e.figures.verdicts {
        let v = &f.verdict;
        let Some(bu) = v.budget else { continue };
        rows += 1;
        b.push_record([
            format!("{} ({})", f.scenario, v.phase.label()),
            v.site.clone(),
            v.slo.clone(),
            v.share
                .map_or_else(|| "no data".into(), engine::drill::sli::pct),
            bu.consumed_ppm
                .p95
                .map_or_else(|| "all".into(), |p| engine::drill::sli::pct(p as f64 / 1e6)),
            crate::lasts(v),
            if v.pass { "pass" } else { "FAIL" }.to_string(),
        ]);
    }
    if rows > 0 {
        let mut t = b.build();
        t.with(Style::psql());
        writeln!(
            out,
            "{}: the error budget each fault consumed, per site and SLO (budget lasts: a whole {:.0}-day budget at the burn rate measured during the fault):\n{t}\n",
            e.design.name(),
            period_days
        )?;
    }
    Ok(())
}
