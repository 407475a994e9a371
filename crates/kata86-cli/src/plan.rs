//! `kata86 plan`: the `plan` crate's search, as a table or JSON.
//!
//! Key design decision: this module picks the space (the kata's or a
//! scenario file's), applies the filters and lays out what `plan` measured:
//! the ranking, the Pareto frontier, every rejection with its first failure,
//! and, when nothing passes, the binding constraint. No figure is computed
//! here.

use std::io::Write;

use ::plan::{binding, evaluate, pareto, rank, Evaluation, Metric, Space};

use crate::args::{PlanArgs, ReportFormat};
use crate::files::{read_scenario_from, Inputs};
use crate::{CliError, Verdict};
use output::plan::Outcome;

/// Runs `kata86 plan`.
pub fn run(a: &PlanArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let priorities = Metric::priorities(&a.priorities)?;
    crate::output::check_all(
        a.common.report.as_ref(),
        None,
        a.sharding.out.as_ref(),
        &[("--scenario", a.scenario.as_ref())],
    )?;
    let shard = crate::shard::requested(a.sharding.shard.as_deref(), a.sharding.out.as_deref())?;
    let inputs = Inputs::disk();
    let space = space(a, &inputs)?;
    let work = work(&space)?;
    if let Some(why) = work.refusal(crate::files::length(a.allow_long)) {
        return Err(CliError::Usage(format!(
            "this plan is too big ({} designs, {} scenario{}, --runs {}): {why}",
            space.designs.len(),
            space.faults.len() + 1,
            if space.faults.is_empty() { "" } else { "s" },
            space.runs
        )));
    }
    let bar = crate::output::bar(
        a.common.quiet,
        0,
        "{bar:40} {pos}/{len} simulations {elapsed}",
    );
    let tick = |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    };
    if let Some((shard, file)) = shard {
        let results = ::plan::play_units(&space, &|u| shard.owns(u as u64), &tick)?;
        bar.finish_and_clear();
        crate::shard::write_plan(a, &inputs, shard, &results, file)?;
        return Ok(Verdict::Clean);
    }
    let evals = evaluate(&space, &tick)?;
    bar.finish_and_clear();
    render(a, &space, &priorities, &evals, out)
}

/// The plan's work in the shared cost model: each unit's runs (a drill
/// configuration `runs` times; a multi-leader design every scenario `runs`
/// times; a quorum design its kata cells).
pub fn work(space: &Space) -> Result<scenario::Work, CliError> {
    use ::plan::{Design, Unit};
    let scenarios: Vec<&engine::drill::DrillConfig> = std::iter::once(&space.normal)
        .chain(space.faults.iter().map(|(_, c)| c))
        .collect();
    let runs = f64::from(space.runs);
    let sites = space.normal.topology.site_ids().count();
    let mut total = scenario::Work::NONE;
    for u in ::plan::units(space)? {
        let w = match u {
            Unit::Drill(key) => crate::files::drill_work(scenarios[key.0]).times(runs),
            Unit::Design(d) => match space.designs[d] {
                Design::Quorum { .. } => {
                    scenario::Work::sim((::plan::QUORUM_REQUESTS as usize * sites) as f64, 5e7)
                }
                _ => scenarios
                    .iter()
                    .map(|s| crate::files::drill_work(s).times(runs))
                    .fold(scenario::Work::NONE, scenario::Work::then),
            },
        };
        total = total.then(w);
    }
    Ok(total)
}

/// The search space the arguments describe, filters applied.
pub fn space(a: &PlanArgs, inputs: &Inputs) -> Result<Space, CliError> {
    let mut space = match &a.scenario {
        Some(p) => {
            let cfg = read_scenario_from(inputs, p, a.allow_long)?;
            if !cfg.flags.is_empty() && !a.without_flags {
                // Space::scenario plays designs without operator actions:
                // refused rather than dropped without a word.
                return Err(CliError::Usage(format!(
                    "{}: its [[flag]] tables ({} runbook flag window{}) switch operator \
                     actions that `plan` does not play (it judges each design on its own); \
                     add --without-flags to plan without them, or play them with `kata86 drill \
                     --scenario {}`",
                    p.display(),
                    cfg.flags.len(),
                    if cfg.flags.len() == 1 { "" } else { "s" },
                    p.display()
                )));
            }
            Space::scenario(cfg, a.runs, a.common.seed)?
        }
        None if a.without_flags => {
            return Err(CliError::Usage(
                "--without-flags leaves a scenario's [[flag]] tables out, and the kata's plan \
                 has none: add --scenario FILE, or drop --without-flags"
                    .into(),
            ))
        }
        None => Space::on(
            crate::multi::jp_of(crate::args::world(a.world)),
            a.runs,
            a.common.seed,
        ),
    };
    // --slo-file's objectives in every scenario the plan plays.
    if let Some(path) = &a.slo_file {
        let imported = crate::files::read_slo_file(
            inputs,
            path,
            crate::files::SLO_FILE,
            &space.normal.topology,
        )?;
        for cfg in
            std::iter::once(&mut space.normal).chain(space.faults.iter_mut().map(|f| &mut f.1))
        {
            cfg.slos = imported.slos.clone();
            cfg.budget.period = imported.period_s * 1_000_000;
        }
    }
    let paths: Vec<String> = a.write_paths.iter().map(|p| p.to_string()).collect();
    let strategies: Vec<String> = a.strategies.iter().map(|s| s.to_string()).collect();
    space.filter(&paths, &strategies)?;
    Ok(space)
}

/// Writes the plan's report in `a.common.format` (and its `--report` page): the
/// same for a run and for the merge of its shards.
pub fn render(
    a: &PlanArgs,
    space: &Space,
    priorities: &[Metric],
    evals: &[Evaluation],
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let command = crate::echo::command("plan", a);
    let ranked = rank(evals, priorities);
    let front = pareto(evals);
    let bind = if ranked.is_empty() {
        binding(evals)
    } else {
        Vec::new()
    };
    let o = Outcome {
        space,
        priorities,
        evals,
        ranked: &ranked,
        front: &front,
        bind: &bind,
        command: &command,
    };
    match a.common.format {
        ReportFormat::Json => output::plan::json(&o, out)?,
        _ => output::plan::table(&o, out)?,
    }
    if let Some(path) = &a.common.report {
        let figures = report::Figures::Plan(output::html::plan(&o));
        crate::output::write_page(
            path,
            command.clone(),
            a.common.seed,
            figures,
            a.common.quiet,
        )?;
    }
    Ok(Verdict::Clean)
}
