//! `kata86 drill`: built-in drills and TOML scenarios → runs → report.

use std::io::Write;

use engine::drill::{
    run_drill_share, run_drills, Builtin, DrillConfig, DrillRuns, JpRole, Policy, Replication,
    Watermark, MAX_RUNS,
};
use engine::multi::WritePath;
use engine::ops::FlagSpan;
use topology::to_ms;

use crate::files::{length, read_scenario_from, Inputs};
use output::drill::{config_label, fault_label, runs_json, site_names};

use crate::args::{DrillArgs, ReportFormat};
use crate::{CliError, Verdict};

/// The configuration the arguments describe (before policy/mode overrides),
/// `--slo-file`'s objectives in place of the world's, `--budget-days` and
/// `--burn` applied.
pub(crate) fn base_config(a: &DrillArgs, inputs: &Inputs) -> Result<DrillConfig, CliError> {
    let mut cfg = world_config(a, inputs)?;
    crate::files::slo_file_arg(inputs, a.slo_file.as_deref(), &mut cfg)?;
    crate::alerts::burn_policy(&mut cfg, a.budget_days, &a.burn)?;
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
    let shard = crate::shard::requested(a.shard.as_deref(), a.out.as_deref())?;
    let path = a.write_path.map_or(WritePath::SingleLeader, |p| p.engine());
    if !path.has_leader() {
        if shard.is_some() {
            return Err(CliError::Usage(format!(
                "--shard and --out apply to single-leader drills; a --write-path {} drill runs \
                 whole (drop --shard and --out)",
                path.name()
            )));
        }
        if a.report.is_some() || a.hgrm.is_some() {
            return Err(CliError::Usage(format!(
                "--report and --hgrm apply to single-leader drills; for --write-path {path} \
                 use `kata86 compare --report FILE.html`"
            )));
        }
        return crate::multi::drill(a, base_config(a, &Inputs::disk())?, path, out);
    }
    crate::output::check_all(
        a.report.as_ref(),
        a.hgrm.as_ref(),
        a.out.as_ref(),
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
            a.quiet,
            plan.configs.len() as u64 * mine,
            "{bar:40} {pos}/{len} runs {elapsed}",
        );
        let tick = || bar.inc(1);
        let shares = plan
            .configs
            .iter()
            .map(|c| run_drill_share(c, a.seed, plan.runs, shard, &tick))
            .collect::<Result<Vec<_>, _>>()?;
        bar.finish_and_clear();
        crate::shard::write_drill(a, &inputs, shard, &shares, file)?;
        return Ok(Verdict::Clean);
    }
    let bar = crate::output::bar(
        a.quiet,
        plan.configs.len() as u64 * plan.runs as u64,
        "{bar:40} {pos}/{len} runs {elapsed}",
    );
    let tick = || bar.inc(1);
    let results = plan
        .configs
        .iter()
        .map(|c| run_drills(c, a.seed, plan.runs, &tick))
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
    for f in &a.flags {
        cfg.flags.push(parse_flag(f)?);
    }
    timing(a, &mut cfg)?;
    flags_within(a, &cfg)?;
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
    // The report's per-window series cost two histograms a window: kept
    // only when a report is asked for.
    cfg.report_series = a.report.is_some();
    cfg.validate()?;
    let compare_clocks =
        cfg.builtin == Some(Builtin::ClockSkew) && a.watermark.is_none() && !a.matrix;
    let configs: Vec<DrillConfig> = if compare_clocks {
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

/// Writes the report of a drill's runs in `a.format` and returns the
/// verdict: the same for a run and for the merge of its shards.
pub(crate) fn render(
    a: &DrillArgs,
    plan: &Plan,
    results: &[DrillRuns],
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let (cfg, n) = (&plan.cfg, plan.runs);
    let command = reproduce(a);
    match a.format {
        ReportFormat::Json => output::drill::json(cfg, a.seed, n, results, &command, out)?,
        _ => output::drill::table(cfg, a.seed, n, results, &command, out)?,
    }
    if let Some(dir) = &a.hgrm {
        crate::output::write_hgrm(dir, &drill_hgrm(cfg, results))?;
    }
    if let Some(path) = &a.report {
        let page = report::Report {
            command: command.clone(),
            seed: a.seed,
            figures: report::Figures::Drill(drill_figures(cfg, &plan.configs, n, results)),
        };
        crate::output::write_report(path, &page, a.quiet)?;
    }
    // A breach the configuration promises cannot happen is a defect: exit 1.
    // Without fencing, or async's lost tail, the breaches are the finding.
    if let Some(d) = results.iter().find_map(|r| r.defect()) {
        eprintln!(
            "error: money invariant broken where the design promises it holds (run seed {}): {}",
            d.seed,
            d.defect.as_deref().unwrap_or_default()
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

/// `NAME@ON-OFF` (durations, bare numbers in seconds) → a flag span.
pub(crate) fn parse_flag(text: &str) -> Result<FlagSpan, CliError> {
    let bad = || {
        CliError::Usage(format!(
            "--flag `{text}`: write NAME@ON-OFF, each end a duration from 0 to {} s (bare \
             numbers in seconds), e.g. FORCE_LEADER_READ@60-180 or FORCE_LEADER_READ@1m-3m",
            scenario::bound("flag.on_s").max
        ))
    };
    let (name, window) = text.split_once('@').ok_or_else(bad)?;
    let (on, off) = window.split_once('-').ok_or_else(bad)?;
    // Within the longest drill a file may describe (its duration is checked
    // against the flag afterwards).
    let longest = scenario::bound("flag.on_s").max;
    let secs = |v: &str| {
        crate::args::seconds(v)
            .ok()
            .filter(|v| (0.0..=longest).contains(v))
            .map(|v| (v * 1e6).round() as u64)
    };
    let span = FlagSpan {
        flag: name.parse()?,
        on: secs(on).ok_or_else(bad)?,
        off: secs(off).ok_or_else(bad)?,
    };
    if span.off <= span.on {
        return Err(CliError::Usage(format!(
            "--flag {text}: goes off at {} s, not after it goes on at {} s; write NAME@ON-OFF \
             with ON before OFF",
            to_ms(span.off) / 1000.0,
            to_ms(span.on) / 1000.0
        )));
    }
    Ok(span)
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

fn reproduce(a: &DrillArgs) -> String {
    let mut cmd = String::from("kata86 drill");
    if let Some(n) = &a.name {
        cmd.push_str(&format!(" {n}"));
    }
    if let Some(s) = &a.scenario {
        cmd.push_str(&format!(" --scenario {}", s.display()));
    }
    if let Some(s) = &a.slo_file {
        cmd.push_str(&format!(" --slo-file {}", s.display()));
    }
    if let Some(d) = a.budget_days {
        cmd.push_str(&format!(" --budget-days {d}"));
    }
    for b in &a.burn {
        cmd.push_str(&format!(" --burn {b}"));
    }
    for (flag, v) in [
        ("--policy", a.policy.map(|v| v.name())),
        ("--replication", a.replication.map(|v| v.name())),
        ("--jp", a.jp.map(|v| v.name())),
        ("--watermark", a.watermark.map(|v| v.name())),
        ("--strategy", a.strategy.map(|v| v.name())),
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
    if let Some(w) = a.onset_window {
        cmd.push_str(&format!(" --onset-window {w}"));
    }
    if let Some(d) = a.duration {
        cmd.push_str(&format!(" --duration {d}"));
    }
    cmd.push_str(&format!(
        " --runs {} --seed {}",
        a.runs.unwrap_or(20),
        a.seed
    ));
    cmd
}

/// A spread as the HTML report holds it.
pub(crate) fn figures(s: &output::drill::SpreadJson) -> report::SpreadMs {
    report::SpreadMs {
        p50: s.p50,
        p95: s.p95,
        p99: s.p99,
        max: s.max,
    }
}

/// The HTML report's figures: every number is the JSON's (`runs_json`),
/// plus the first run's windows.
fn drill_figures(
    cfg: &DrillConfig,
    configs: &[DrillConfig],
    runs: u32,
    results: &[DrillRuns],
) -> report::DrillFigures {
    let t = &cfg.topology;
    let sites = site_names(t);
    report::DrillFigures {
        drill: cfg.name.clone(),
        runs,
        configs: results
            .iter()
            .zip(configs)
            .map(|(r, c)| {
                let f = &r.first;
                let played = engine::drill::shifted(c, r.runs[0].onset);
                let j = runs_json(r, cfg, 0);
                let mut slo: Vec<report::Verdict> = Vec::new();
                slo.extend(
                    r.during
                        .slo
                        .iter()
                        .map(|v| crate::report::verdict("during faults (every run)", v)),
                );
                slo.extend(
                    r.outside
                        .slo
                        .iter()
                        .map(|v| crate::report::verdict("outside faults (every run)", v)),
                );
                report::DrillConfigFigures {
                    budgets: r
                        .verdicts
                        .iter()
                        .map(|v| crate::report::budget(None, v))
                        .collect(),
                    label: config_label(r, results),
                    timeline: report::Timeline {
                        seed: r.runs[0].seed,
                        duration_ms: to_ms(f.duration),
                        window_ms: to_ms(f.signal_window),
                        windows: f
                            .signals
                            .iter()
                            .map(|s| report::WindowPoint {
                                end_ms: to_ms(s.at),
                                charge_success: (s.counts.attempts > 0)
                                    .then_some(1.0 - s.charge_error_rate),
                                charge_p95_ms: s.charge_p95,
                                staleness_p95_ms: s.served_staleness_p95.unwrap_or(0.0),
                                data_age_p95_ms: s.data_age_p95.unwrap_or(0.0),
                            })
                            .collect(),
                        faults: played
                            .faults
                            .iter()
                            .map(|x| report::Span {
                                label: fault_label(x, t),
                                from_ms: to_ms(x.start),
                                to_ms: Some(to_ms(x.end)),
                            })
                            .collect(),
                        flags: f
                            .flags
                            .iter()
                            .map(|(flag, on, off)| report::Span {
                                label: flag.name().to_string(),
                                from_ms: to_ms(*on),
                                to_ms: off.map(to_ms),
                            })
                            .collect(),
                        alerts: f
                            .alerts
                            .iter()
                            .map(|a| report::AlertMark {
                                name: a.name.clone(),
                                fired_at_ms: to_ms(a.fired_at),
                                resolved_at_ms: a.resolved_at.map(to_ms),
                            })
                            .collect(),
                        promotions: f
                            .promotions
                            .iter()
                            .map(|(at, region, _)| report::Mark {
                                label: region.clone(),
                                at_ms: to_ms(*at),
                            })
                            .collect(),
                    },
                    rto: sites
                        .iter()
                        .enumerate()
                        .map(|(i, site)| report::SiteRuns {
                            site: site.clone(),
                            runs_ms: r
                                .runs
                                .iter()
                                .map(|x| x.rto_by_site.get(i).copied().flatten().map(to_ms))
                                .collect(),
                            spread: figures(&j.rto_ms[site]),
                        })
                        .collect(),
                    rpo_ms: r.runs.iter().map(|x| to_ms(x.rpo)).collect(),
                    rpo_spread: figures(&j.rpo_ms),
                    slo,
                }
            })
            .collect(),
    }
}

/// Every pooled histogram of a drill, named
/// `drill-NAME-POLICY-REPLICATION-INDEX-SITE-STRATEGY-{during,outside}-SERIES.hgrm`
/// (INDEX: the client site's, from 0; see [`crate::output::hgrm_name`]).
fn drill_hgrm<'a>(
    cfg: &DrillConfig,
    results: &'a [DrillRuns],
) -> Vec<(String, &'a metrics::LatencyHistogram)> {
    let sites = site_names(&cfg.topology);
    let mut files = Vec::new();
    for r in results {
        let label = config_label(r, results).replace(" / ", "-");
        let strategy = r.first.read_strategy.name();
        for (when, w) in [("during", &r.during), ("outside", &r.outside)] {
            for (index, (site, s)) in sites.iter().zip(&w.sites).enumerate() {
                for (series, h) in [
                    ("read", &s.read),
                    ("charge", &s.write),
                    ("reported-staleness", &s.reported_staleness),
                    ("data-age", &s.data_age),
                ] {
                    let name = crate::output::hgrm_name(
                        &["drill", &cfg.name, &label],
                        index,
                        site,
                        &[strategy, when, series],
                    );
                    files.push((name, h));
                }
            }
        }
    }
    files
}
