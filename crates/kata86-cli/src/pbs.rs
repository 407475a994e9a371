//! `kata86 pbs`: probabilistically bounded staleness of a leaderless partial
//! quorum, from the `quorum` crate, as a table, JSON or the curve as CSV.
//!
//! Key design decision: this module only chooses the model (a preset, the
//! kata topology SG, US, JP, or a scenario's topology), resolves region names
//! and fills the HTML report; the table, JSON and CSV are `output::pbs`, and
//! every figure and every check on N, R, W, trials and the grid lives in
//! `quorum`.

use std::io::Write;

use quorum::{round_robin, Config, Model};
use topology::{RegionId, Topology};

use crate::args::{Format, PbsArgs};
use crate::files::read_scenario;
use crate::{CliError, Verdict};

/// Runs `kata86 pbs`.
pub fn run(a: &PbsArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let (model, world) = model(a)?;
    let cfg = Config {
        model,
        n: a.n,
        r: a.r,
        w: a.w,
        trials: a.trials,
        seed: a.common.seed,
        step_ms: a.step_ms,
        points: a.points,
    };
    // The shared cost model: one write and one read to N replicas a trial
    // (measured: about 10^8 replica legs a second); bounded by --trials.
    let work = scenario::Work::sim(a.trials as f64 * a.n.max(1) as f64, 1e8);
    if let Some(why) = work.refusal(scenario::Length::Short) {
        return Err(CliError::Usage(format!(
            "--trials {} x --n {}: {why}",
            a.trials, a.n
        )));
    }
    crate::output::check_all(
        a.common.report.as_ref(),
        None,
        None,
        &[("--scenario", a.scenario.as_ref())],
    )?;
    let bar = crate::output::bar(
        a.common.quiet,
        quorum::chunks(&cfg),
        "{bar:40} {pos}/{len} chunks of trials {elapsed}",
    );
    // Bad parameters are refused before the bar is drawn.
    cfg.validate()?;
    let rep = quorum::simulate_with(&cfg, &|| bar.inc(1))?;
    bar.finish_and_clear();
    let command = crate::echo::command("pbs", a);
    match a.common.format {
        Format::Json => output::pbs::json(&cfg, &rep, world.as_ref(), &command, out)?,
        Format::Csv => output::pbs::csv(&rep, out)?,
        Format::Table => output::pbs::table(&cfg, &rep, world.as_ref(), &command, out)?,
    }
    if let Some(path) = &a.common.report {
        let figures = report::Figures::Pbs(output::html::pbs(&cfg, &rep));
        crate::output::write_page(path, command, a.common.seed, figures, false)?;
    }
    Ok(Verdict::Clean)
}

/// The latency model the flags ask for, and the world it was built on
/// (`None` for a preset).
fn model(a: &PbsArgs) -> Result<(Model, Option<Topology>), CliError> {
    if let Some(name) = &a.preset {
        if a.placement.is_some() {
            return Err(CliError::Usage(
                "--placement applies to a topology; a preset places its own replicas".into(),
            ));
        }
        return Ok((Model::preset(name.name())?, None));
    }
    let (name, topo, leader) = match &a.scenario {
        Some(path) => {
            let cfg = read_scenario(path, false)?;
            (cfg.name, cfg.topology, cfg.leader)
        }
        None => {
            let topo = topology::Topology::kata_with_jp();
            let sg = topo.region("SG")?;
            ("default".to_string(), topo, sg)
        }
    };
    let placement = match &a.placement {
        Some(list) => placement(&topo, list, a.n)?,
        None => round_robin(&topo, leader, a.n)?,
    };
    // The report's header names the world and where the replicas sit.
    let replicas: Vec<&str> = placement.iter().map(|&r| topo.region_name(r)).collect();
    let name = format!("{name} world, replicas {}", replicas.join(","));
    let model = Model::topology(&name, &topo, &placement)?;
    Ok((model, Some(topo)))
}

/// `--placement SG,US,JP` → region ids, exactly N of them.
pub fn placement(topo: &Topology, list: &str, n: usize) -> Result<Vec<RegionId>, CliError> {
    let ids = list
        .split(',')
        .map(|s| topo.region(s.trim()))
        .collect::<Result<Vec<_>, _>>()?;
    if ids.len() != n {
        return Err(CliError::Usage(format!(
            "--placement names {} replicas but --n is {n}",
            ids.len()
        )));
    }
    Ok(ids)
}
