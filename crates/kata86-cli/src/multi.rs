//! `kata86 drill --write-path lww|crdt|escrow` and `kata86 compare`: the
//! multi-leader write paths of `engine::multi`, checked and run here and
//! rendered by `output::multi` (table, JSON, tidy CSV).
//!
//! Key design decision: the CLI only checks flags and builds the runs; every
//! figure, the SLO verdict included, comes from the engine's
//! [`CompareRow`](engine::multi::CompareRow). A multi-leader drill is one
//! run (one seed and its onset), so `--runs` other than 1 is refused rather
//! than silently ignored.

use std::io::Write;

use engine::drill::{Builtin, DrillConfig, JpRole};
use engine::multi::{
    compare_with as compare_rows, run_multis, MultiConfig, WritePath, MAX_COMPARE_RUNS,
};
use routing::ReadStrategy;

use crate::args::{CompareArgs, DrillArgs, Format};
use crate::drill::runs_count;
use crate::files::read_scenario;
use crate::{CliError, Verdict};

/// Runs `kata86 drill NAME --write-path lww|crdt|escrow`.
pub fn drill(
    a: &DrillArgs,
    mut cfg: DrillConfig,
    path: WritePath,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let no_leader = |flag: &str| {
        CliError::Usage(format!(
            "{flag} applies to a single leader; --write-path {path} has none (every region takes writes)"
        ))
    };
    if a.policy.is_some() {
        return Err(no_leader("--policy"));
    }
    if a.replication.is_some() {
        return Err(no_leader("--replication"));
    }
    if a.matrix || a.no_fencing || a.watermark.is_some() {
        return Err(no_leader("--matrix, --no-fencing and --watermark each"));
    }
    if let Some(s) = a.strategy {
        if matches!(s.engine(), ReadStrategy::Leader | ReadStrategy::Quorum) {
            return Err(CliError::Usage(format!(
                "--strategy {s}: --write-path {path} has no leader to read from (every region \
                 takes writes); use --strategy local, bounded or fallback"
            )));
        }
        cfg.strategy = s.engine();
    }
    if a.no_offset_check {
        return Err(no_leader(
            "--no-offset-check (the check guards leader leases)",
        ));
    }
    let n = runs_count(a.runs.unwrap_or(20))?;
    if n > MAX_COMPARE_RUNS {
        return Err(CliError::Usage(format!(
            "--runs {n}: a multi-leader drill plays at most {MAX_COMPARE_RUNS} runs"
        )));
    }
    crate::drill::flags_and_timing(a, &mut cfg)?;
    // The page's per-window series cost two histograms a window.
    cfg.report_series = a.common.report.is_some();
    let mut m = MultiConfig::new(cfg, path);
    if a.escrow_rebalance.is_some() && path != WritePath::Escrow {
        return Err(CliError::Usage(
            "--escrow-rebalance applies to --write-path escrow".into(),
        ));
    }
    m.rebalance = a.escrow_rebalance.map_or(m.rebalance, |r| r.engine());
    if let Some(list) = &a.escrow_regions {
        if path != WritePath::Escrow {
            return Err(CliError::Usage(
                "--escrow-regions applies to --write-path escrow".into(),
            ));
        }
        let regions: Vec<_> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|r| m.drill.topology.region(r))
            .collect::<Result<_, _>>()?;
        if let Some((i, _)) = regions
            .iter()
            .enumerate()
            .find(|(i, r)| regions[..*i].contains(r))
        {
            return Err(CliError::Usage(format!(
                "--escrow-regions {list}: region {} is listed twice; list each region once",
                m.drill.topology.region_name(regions[i])
            )));
        }
        m.rights_holders = regions;
    }
    // Run i plays seed + i with its own onset, as single-leader drills do;
    // the row is over every run, the details are the first run's.
    let rs = run_multis(&m, a.common.seed, n)?;
    let command = crate::echo::command("drill", a);
    // Judged once: the report, the page and the .hgrm files share it.
    let judged = engine::multi::judge(&m.drill, &rs);
    if let Some(dir) = &a.hgrm {
        let files = output::hgrm::multi(&m.drill, path.name(), &judged);
        crate::output::write_hgrm(dir, &files)?;
    }
    if let Some(page) = &a.common.report {
        let figures = report::Figures::Drill(output::html::multi_drill(&m, &rs, &judged));
        crate::output::write_page(
            page,
            command.clone(),
            a.common.seed,
            figures,
            a.common.quiet,
        )?;
    }
    render(&m, &rs, &judged, &command, a.common.format.into(), out)
}

/// Writes a multi-leader run's report (the row over every run, the first
/// run's details) and says whether a promised invariant broke.
pub fn render(
    m: &MultiConfig,
    rs: &[engine::multi::MultiResult],
    judged: &engine::multi::Judged,
    command: &str,
    format: Format,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let path = m.path;
    let row = engine::multi::row_of_judged(&m.drill, path, rs, judged);
    match format {
        Format::Json => output::multi::drill_json(m, rs, &row, judged, command, out)?,
        _ => output::multi::drill_table(m, rs, &row, judged, command, out)?,
    }
    if let Some(x) = rs.iter().find(|x| x.defect.is_some()) {
        eprintln!(
            "error: money invariant broken where the write path promises it holds (run seed {}): {}",
            x.seed,
            x.defect.as_deref().unwrap_or_default()
        );
        return Ok(Verdict::MoneyBroken);
    }
    Ok(Verdict::Clean)
}

/// Runs `kata86 compare`.
pub fn compare(a: &CompareArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let builtins = [
        Builtin::Baseline,
        Builtin::Partition,
        Builtin::RegionDown,
        Builtin::LagSpike,
    ];
    let drills: Vec<DrillConfig> = match &a.scenario {
        // A world without a timeline plays the built-in drills.
        Some(p) => {
            let cfg = read_scenario(p, a.allow_long)?;
            if cfg.faults.is_empty() && cfg.flags.is_empty() {
                builtins
                    .iter()
                    .map(|&b| cfg.clone().playing(b))
                    .collect::<Result<_, _>>()
                    .map_err(|e| {
                        CliError::Usage(format!(
                            "{}: cannot be compared on every write path: {e}",
                            p.display()
                        ))
                    })?
            } else {
                vec![cfg]
            }
        }
        None => builtins
            .iter()
            .map(|&b| DrillConfig::builtin(b, jp_of(crate::args::world(a.world))))
            .collect(),
    };
    let mut drills = drills;
    let inputs = crate::files::Inputs::disk();
    for d in &mut drills {
        crate::files::slo_file_arg(&inputs, a.slo_file.as_deref(), d)?;
    }
    let runs = u32::try_from(a.runs)
        .ok()
        .filter(|n| (1..=MAX_COMPARE_RUNS).contains(n))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--runs {}: give a number of runs from 1 to {MAX_COMPARE_RUNS}",
                a.runs
            ))
        })?;
    crate::output::check_all(
        a.common.report.as_ref(),
        None,
        None,
        &[
            ("--scenario", a.scenario.as_ref()),
            ("--slo-file", a.slo_file.as_ref()),
        ],
    )?;
    // Every drill once per write path (single leader and the three
    // multi-leader ones), each `runs` times.
    let work = drills
        .iter()
        .map(|d| crate::files::drill_work(d).times(4.0 * f64::from(runs)))
        .fold(scenario::Work::NONE, scenario::Work::then);
    if let Some(why) = work.refusal(crate::files::length(a.allow_long)) {
        return Err(CliError::Usage(format!(
            "compare --runs {runs} over {} drill{} x 4 write paths: {why}",
            drills.len(),
            if drills.len() == 1 { "" } else { "s" }
        )));
    }
    // A scenario the multi-leader paths cannot play is the file's problem:
    // named, not blamed on a "drill" the user never ran.
    let bar = crate::output::bar(
        a.common.quiet,
        drills.len() as u64 * WritePath::ALL.len() as u64 * u64::from(runs),
        "{bar:40} {pos}/{len} runs {elapsed}",
    );
    let rows = compare_rows(
        &drills,
        a.common.seed,
        runs,
        a.escrow_rebalance.engine(),
        &|| bar.inc(1),
    );
    bar.finish_and_clear();
    let rows = rows.map_err(|e| match (&a.scenario, e) {
        (Some(p), engine::EngineError::BadDrill(why)) => CliError::Usage(format!(
            "{}: cannot be compared on every write path: {why}",
            p.display()
        )),
        (_, e) => e.into(),
    })?;
    let command = crate::echo::command("compare", a);
    match a.common.format {
        Format::Json => output::multi::compare_json(
            &drills[0].topology,
            a.common.seed,
            runs,
            &command,
            &rows,
            out,
        )?,
        Format::Csv => output::multi::tidy_csv(&rows, out)?,
        Format::Table => {
            output::multi::compare_table(&drills, &rows, runs, a.common.seed, &command, out)?
        }
    }
    if let Some(path) = &a.common.report {
        let figures = report::Figures::Compare(output::html::compare(runs, &rows));
        crate::output::write_page(path, command, a.common.seed, figures, false)?;
    }
    Ok(Verdict::Clean)
}

/// The JP role of a built-in world's drills: DESIGN.md's in the default
/// world, none in the kata preset.
pub(crate) fn jp_of(world: topology::World) -> JpRole {
    match world {
        topology::World::Default => engine::drill::DESIGN.jp,
        topology::World::Kata => JpRole::Absent,
    }
}
