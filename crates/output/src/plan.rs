//! `kata86 plan`: the JSON of a plan's evaluated designs.
//!
//! [`DesignJson`] is still a hand-written mirror of [`Evaluation`] (to be
//! replaced by the plan types' own `Serialize`); it lives here so that the
//! schema is published with the others.
#![allow(missing_docs)]

use std::io::Write;

use ::plan::{ms, Evaluation, Metric, Space};
use schemars::JsonSchema;
use serde::Serialize;

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

#[derive(Serialize, JsonSchema)]
pub struct DesignJson {
    design: String,
    write_path: &'static str,
    read_strategy: &'static str,
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
    slo: Vec<metrics::SloVerdict>,
    /// Every failing per-site verdict, worst first.
    failing_verdicts: Vec<::plan::Failing>,
    /// Every per-site verdict, every scenario.
    verdicts: Vec<::plan::Failing>,
}

fn design_json(e: &Evaluation) -> DesignJson {
    DesignJson {
        design: e.design.name(),
        write_path: e.design.write_path(),
        read_strategy: e.design.read_strategy(),
        accepted: e.accepted(),
        rejected: e.rejected.clone(),
        charge_p95_ms: ms(e.figures.charge_p95),
        read_p95_ms: ms(e.figures.read_p95),
        data_age_p99_ms: ms(e.figures.staleness_p99),
        worst_site_rto_p95_s: e
            .figures
            .rto_p95
            .flatten()
            .map(|t| topology::to_ms(t) / 1000.0),
        worst_site_recovered: e.figures.rto_p95.map(|t| t.is_some()),
        rpo_p99_s: topology::to_ms(e.figures.rpo_p99) / 1000.0,
        money_breach: e.figures.money_breach.clone(),
        slo: e.figures.slo.clone(),
        failing_verdicts: e.figures.failures.clone(),
        verdicts: e.figures.verdicts.clone(),
    }
}

/// `kata86 plan`'s document.
#[derive(Serialize, JsonSchema)]
pub struct Plan<'a> {
    seed: u64,
    runs: u32,
    faults: Vec<&'a str>,
    priorities: Vec<&'static str>,
    ranked: Vec<DesignJson>,
    pareto: Vec<String>,
    rejected: Vec<DesignJson>,
    binding: &'a [String],
    command: &'a str,
}

/// Writes `kata86 plan`'s JSON document.
pub fn json(o: &Outcome<'_>, out: &mut dyn Write) -> std::io::Result<()> {
    let doc = Plan {
        seed: o.space.seed,
        runs: o.space.runs,
        faults: o.space.faults.iter().map(|(n, _)| n.as_str()).collect(),
        priorities: o.priorities.iter().map(|m| m.name()).collect(),
        ranked: o.ranked.iter().map(|e| design_json(e)).collect(),
        pareto: o.front.iter().map(|e| e.design.name()).collect(),
        rejected: o
            .evals
            .iter()
            .filter(|e| !e.accepted())
            .map(design_json)
            .collect(),
        binding: o.bind,
        command: o.command,
    };
    crate::json(out, &doc)
}
