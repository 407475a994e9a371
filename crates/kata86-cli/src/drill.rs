//! `kata86 drill`: built-in drills and TOML scenarios → runs → report.

use std::io::Write;

use engine::drill::{
    run_drill_share, run_drills, Builtin, DrillConfig, DrillRuns, JpRole, MAX_RUNS,
};
use engine::multi::WritePath;
use engine::ops::FlagSpan;
use topology::to_ms;

use crate::files::{length, read_scenario_from, Inputs};

use crate::args::{DrillArgs, ReportFormat};
use crate::{CliError, Verdict};

/// The configuration the arguments describe (before policy/mode overrides),
/// `--slo-file`'s objectives in place of the world's, `--budget-days` and
/// `--burn` applied.
pub(crate) fn base_config(a: &DrillArgs, inputs: &Inputs) -> Result<DrillConfig, CliError> {
    let mut cfg = world_config(a, inputs)?;
    crate::files::slo_file_arg(inputs, a.slo_file.as_deref(), &mut cfg)?;
    cfg.set_burn(a.budget_days, &a.burn)?;
    Ok(cfg)
}

/// The world, settings and timeline the arguments name.
fn world_config(a: &DrillArgs, inputs: &Inputs) -> Result<DrillConfig, CliError> {
    match (&a.name, &a.scenario) {
        (name, Some(path)) => {
            if a.jp.is_some() {
                return Err(CliError::Usage(
                    "--jp applies to built-in worlds; a scenario file declares its own regions and witnesses".into(),
                ));
            }
            let cfg = read_scenario_from(inputs, path, a.allow_long)?;
            let Some(name) = name else { return Ok(cfg) };
            if !cfg.faults.is_empty() || !cfg.flags.is_empty() {
                return Err(CliError::Usage(format!(
                    "{} declares its own timeline ({} fault(s), {} flag window(s)); the built-in \
                     drill {} brings its own. Drop the drill name to play the file's timeline, or \
                     remove its [[fault]] and [[flag]] entries to play {} on its world",
                    path.display(),
                    cfg.faults.len(),
                    cfg.flags.len(),
                    name.name(),
                    name.name()
                )));
            }
            Ok(cfg.playing(name.engine())?)
        }
        (Some(name), None) => {
            let jp = match (a.world.map(|w| w.world()), a.jp) {
                (Some(topology::World::Kata), Some(j)) if j != crate::args::JpArg::None => {
                    return Err(CliError::Usage(format!(
                        "--world kata has no JP; drop --jp {j} or play --world default"
                    )))
                }
                (Some(topology::World::Kata), _) => JpRole::Absent,
                (_, j) => j.map_or(engine::drill::DESIGN.jp, |j| j.engine()),
            };
            Ok(DrillConfig::builtin(name.engine(), jp))
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

/// What a single-leader drill command plays: its base configuration, every
/// configuration it compares (one, the clock-skew pair or the matrix) and
/// the runs of each.
pub(crate) struct Plan {
    /// The configuration the arguments describe.
    pub cfg: DrillConfig,
    /// The configurations played, in report order.
    pub configs: Vec<DrillConfig>,
    /// Runs per configuration.
    pub runs: u32,
}

/// Runs `kata86 drill`.
pub fn run(a: &DrillArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    if a.matrix && (a.policy.is_some() || a.replication.is_some()) {
        return Err(CliError::Usage(
            "--matrix runs every policy and replication mode; drop --policy/--replication".into(),
        ));
    }
    let shard = crate::shard::requested(a.sharding.shard.as_deref(), a.sharding.out.as_deref())?;
    let path = a.write_path.map_or(WritePath::SingleLeader, |p| p.engine());
    if !path.has_leader() {
        if shard.is_some() {
            return Err(CliError::Usage(format!(
                "--shard and --out apply to single-leader drills; a --write-path {} drill runs \
                 whole (drop --shard and --out)",
                path.name()
            )));
        }
        crate::output::check_all(
            a.common.report.as_ref(),
            a.hgrm.as_ref(),
            None,
            &[("--scenario", a.scenario.as_ref())],
        )?;
        return crate::multi::drill(a, base_config(a, &Inputs::disk())?, path, out);
    }
    crate::output::check_all(
        a.common.report.as_ref(),
        a.hgrm.as_ref(),
        a.sharding.out.as_ref(),
        &[("--scenario", a.scenario.as_ref())],
    )?;
    if a.escrow_regions.is_some() || a.escrow_rebalance.is_some() {
        return Err(CliError::Usage(
            "--escrow-regions and --escrow-rebalance apply to --write-path escrow".into(),
        ));
    }
    let inputs = Inputs::disk();
    let plan = plan(a, &inputs)?;
    if let Some((shard, file)) = shard {
        let mine = (0..plan.runs).filter(|&i| shard.owns(i as u64)).count() as u64;
        let bar = crate::output::bar(
            a.common.quiet,
            plan.configs.len() as u64 * mine,
            "{bar:40} {pos}/{len} runs {elapsed}",
        );
        let tick = || bar.inc(1);
        let shares = plan
            .configs
            .iter()
            .map(|c| run_drill_share(c, a.common.seed, plan.runs, shard, &tick))
            .collect::<Result<Vec<_>, _>>()?;
        bar.finish_and_clear();
        crate::shard::write_drill(a, &inputs, shard, &shares, file)?;
        return Ok(Verdict::Clean);
    }
    let bar = crate::output::bar(
        a.common.quiet,
        plan.configs.len() as u64 * plan.runs as u64,
        "{bar:40} {pos}/{len} runs {elapsed}",
    );
    let tick = || bar.inc(1);
    let results = plan
        .configs
        .iter()
        .map(|c| run_drills(c, a.common.seed, plan.runs, &tick))
        .collect::<Result<Vec<_>, _>>()?;
    bar.finish_and_clear();
    render(a, &plan, &results, out)
}

/// The configurations and runs the arguments of a single-leader drill
/// describe, checked (the size refusal included).
pub(crate) fn plan(a: &DrillArgs, inputs: &Inputs) -> Result<Plan, CliError> {
    let mut cfg = base_config(a, inputs)?;
    if let Some(p) = &a.policy {
        cfg.policy = p.engine();
    }
    if let Some(r) = &a.replication {
        cfg.replication = r.engine();
    }
    if a.no_fencing {
        cfg.fencing = false;
    }
    if a.no_offset_check {
        cfg.max_offset_enforced = false;
    }
    if let Some(w) = &a.watermark {
        cfg.watermark = w.engine();
    }
    if let Some(s) = &a.strategy {
        cfg.strategy = s.engine();
    }
    flags_and_timing(a, &mut cfg)?;
    // The report's per-window series cost two histograms a window: kept
    // only when a report is asked for.
    cfg.report_series = a.common.report.is_some();
    cfg.validate()?;
    let configs = cfg.compared(a.matrix, a.watermark.is_some());
    let n = runs_count(a.runs.unwrap_or(20))?;
    let work = crate::files::drill_work(&cfg).times(n as f64 * configs.len() as f64);
    if let Some(why) = work.refusal(length(a.allow_long)) {
        return Err(CliError::Usage(format!("this drill is too big: {why}")));
    }
    Ok(Plan {
        cfg,
        configs,
        runs: n,
    })
}

/// `--flag` windows added to `cfg` and the drill's timing set, each flag
/// checked against the drill's end and the onset shift.
pub(crate) fn flags_and_timing(a: &DrillArgs, cfg: &mut DrillConfig) -> Result<(), CliError> {
    for f in &a.flags {
        cfg.flags.push(parse_flag(f)?);
    }
    timing(a, cfg)?;
    flags_within(a, cfg)?;
    // A --flag window the onset shift would push past the end: say so in
    // the user's flags, not the engine's fault onset window they never set.
    if let Err(e) = cfg.check_onset_window() {
        let window = to_ms(cfg.onset_window) / 1000.0;
        let end = to_ms(cfg.duration) / 1000.0;
        let late = a
            .flags
            .iter()
            .zip(&cfg.flags[cfg.flags.len() - a.flags.len()..])
            .find(|(_, f)| f.off.saturating_add(cfg.onset_window) > cfg.duration);
        return Err(match late {
            Some((text, f)) => CliError::Usage(format!(
                "--flag {text}: ends at {} s, and each run shifts its timeline by up to {window} \
                 s ({}), past the drill's end at {end} s; end the flag by {} s, or pass \
                 --onset-window 0{}",
                to_ms(f.off) / 1000.0,
                if a.onset_window.is_some() {
                    "--onset-window"
                } else {
                    "the built-in drill's default --onset-window"
                },
                (end - window).max(0.0),
                if a.duration.is_none() {
                    " or a longer --duration"
                } else {
                    ""
                }
            )),
            None => e.into(),
        });
    }
    Ok(())
}

/// Writes the report of a drill's runs in `a.common.format` and returns the
/// verdict: the same for a run and for the merge of its shards.
pub(crate) fn render(
    a: &DrillArgs,
    plan: &Plan,
    results: &[DrillRuns],
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let (cfg, n) = (&plan.cfg, plan.runs);
    let command = crate::echo::command("drill", a);
    match a.common.format {
        ReportFormat::Json => output::drill::json(cfg, a.common.seed, n, results, &command, out)?,
        _ => output::drill::table(cfg, a.common.seed, n, results, &command, out)?,
    }
    if let Some(dir) = &a.hgrm {
        crate::output::write_hgrm(dir, &output::hgrm::drill(cfg, results))?;
    }
    if let Some(path) = &a.common.report {
        let figures = output::html::drill(cfg, &plan.configs, n, results);
        crate::output::write_page(
            path,
            command,
            a.common.seed,
            report::Figures::Drill(figures),
            a.common.quiet,
        )?;
    }
    // A breach the configuration promises cannot happen is a defect: exit 1.
    // Without fencing, or async's lost tail, the breaches are the finding.
    if let Some(d) = results.iter().find_map(|r| r.defect()) {
        eprintln!(
            "error: money invariant broken where the design promises it holds (run seed {}): {}",
            d.seed,
            d.money.defect.as_deref().unwrap_or_default()
        );
        return Ok(Verdict::MoneyBroken);
    }
    Ok(Verdict::Clean)
}

/// `--duration` and `--onset-window`, checked against their bounds.
pub(crate) fn timing(a: &DrillArgs, cfg: &mut DrillConfig) -> Result<(), CliError> {
    if let Some(d) = a.duration {
        cfg.duration = seconds("--duration", d, "duration_s")?;
    }
    if let Some(w) = a.onset_window {
        cfg.onset_window = seconds("--onset-window", w, "onset_window_s")?;
    }
    Ok(())
}

/// A flag's seconds, within the bounds of the scenario field `key`.
fn seconds(flag: &str, v: f64, key: &str) -> Result<u64, CliError> {
    let b = scenario::bound(key);
    if !(b.min..=b.max).contains(&v) {
        return Err(CliError::Usage(format!(
            "{flag} {v}: give seconds from {} to {}",
            b.min, b.max
        )));
    }
    Ok((v * 1e6).round() as u64)
}

/// `--runs`, checked.
pub(crate) fn runs_count(n: i64) -> Result<u32, CliError> {
    u32::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_RUNS).contains(n))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "--runs {n}: give a number of runs from 1 to {MAX_RUNS}"
            ))
        })
}

/// `NAME@ON-OFF` → a flag span, within the longest drill a file may
/// describe (its duration is checked against the flag afterwards).
pub(crate) fn parse_flag(text: &str) -> Result<FlagSpan, CliError> {
    FlagSpan::parse(text, scenario::bound("flag.on_s").max)
        .map_err(|e| CliError::Usage(format!("--flag {e}")))
}

/// A `--flag` window that ends after the drill, in the flag's own seconds
/// (the engine would say it in ms).
fn flags_within(a: &DrillArgs, cfg: &DrillConfig) -> Result<(), CliError> {
    let end = cfg.duration;
    // The command line's flags follow a scenario's own.
    let given = &cfg.flags[cfg.flags.len() - a.flags.len()..];
    if let Some((text, f)) = a.flags.iter().zip(given).find(|(_, f)| f.off > end) {
        return Err(CliError::Usage(format!(
            "--flag {text}: goes off at {} s, after the drill ends at {} s; end it by then or \
             pass a longer --duration",
            to_ms(f.off) / 1000.0,
            to_ms(end) / 1000.0
        )));
    }
    Ok(())
}
