//! `kata86 drill --write-path lww|crdt|escrow` and `kata86 compare`: the
//! multi-leader write paths of `engine::multi`, rendered as a table, JSON
//! or CSV.
//!
//! Key design decision: the CLI only checks flags and lays out rows; every
//! figure, the SLO verdict included, comes from the engine's
//! [`CompareRow`]. A multi-leader drill is one run (one seed and its onset),
//! so `--runs` other than 1 is refused rather than silently ignored.

use std::io::Write;

use engine::drill::{Builtin, DrillConfig, JpRole};
use engine::multi::{
    compare_with as compare_rows, run_multis, CompareRow, MultiConfig, WritePath, MAX_COMPARE_RUNS,
};
use serde::Serialize;
use topology::{to_ms, Micros};

use crate::args::{CompareArgs, DrillArgs, Format};
use crate::drill::{cell, count, runs_count, timing, SpreadJson};
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
    if a.matrix || a.no_fencing || a.watermark.is_some() || !a.flags.is_empty() {
        return Err(no_leader(
            "--matrix, --no-fencing, --watermark and --flag each",
        ));
    }
    if let Some(s) = a.strategy {
        return Err(CliError::Usage(format!(
            "--strategy {s} routes balance reads, and --write-path {path} serves none in this \
             model (its regions take charges and top-ups); drop --strategy, or play a \
             single-leader drill"
        )));
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
    timing(a, &mut cfg)?;
    let mut m = MultiConfig::new(cfg, path);
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
    let rs = run_multis(&m, a.seed, n)?;
    let mut command = String::from("kata86 drill");
    if let Some(n) = &a.name {
        command.push_str(&format!(" {n}"));
    }
    if let Some(s) = &a.scenario {
        command.push_str(&format!(" --scenario {}", s.display()));
    }
    command.push_str(&format!(" --write-path {path}"));
    if let Some(e) = &a.escrow_regions {
        command.push_str(&format!(" --escrow-regions {e}"));
    }
    command.push_str(&format!(" --runs {n} --seed {}", a.seed));
    render(&m, &rs, &command, a.format.into(), out)
}

/// Writes a multi-leader run's report (the row over every run, the first
/// run's details) and says whether a promised invariant broke.
pub fn render(
    m: &MultiConfig,
    rs: &[engine::multi::MultiResult],
    command: &str,
    format: Format,
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let path = m.path;
    let n = rs.len() as u32;
    let r = &rs[0];
    let row = engine::multi::row_of(&m.drill, path, rs);
    match format {
        Format::Json => {
            #[derive(Serialize)]
            struct Doc<'a> {
                runs: u32,
                drill: &'a str,
                write_path: &'a str,
                seed: u64,
                onset_ms: f64,
                charges: u64,
                acknowledged_charges: u64,
                declined_charges: u64,
                unknown_outcome_charges: u64,
                duplicates_suppressed: u64,
                duplicate_effects: u64,
                overspend_incidents: u64,
                #[serde(rename = "overspend_amount_cents")]
                overspend_amount: i64,
                lost_updates: u64,
                #[serde(rename = "lost_amount_cents")]
                lost_amount: i64,
                spurious_declines: u64,
                rights_transfers: u64,
                rights_refused: u64,
                conservation_checks: u64,
                conservation_breaches: u64,
                converged: bool,
                row: RowJson,
                invariants_ok: bool,
                invariants_expected: bool,
                first_breach: Option<&'a str>,
                defect: Option<&'a str>,
                command: &'a str,
            }
            let doc = Doc {
                runs: n,
                drill: &r.drill,
                write_path: &r.write_path,
                seed: r.seed,
                onset_ms: to_ms(r.onset),
                charges: r.charges,
                acknowledged_charges: r.acknowledged_charges,
                declined_charges: r.declined_charges,
                unknown_outcome_charges: r.unknown_outcome_charges,
                duplicates_suppressed: r.duplicates_suppressed,
                duplicate_effects: r.duplicate_effects,
                overspend_incidents: r.overspend_incidents,
                overspend_amount: r.overspend_amount,
                lost_updates: r.lost_updates,
                lost_amount: r.lost_amount,
                spurious_declines: r.spurious_declines,
                rights_transfers: r.rights_transfers,
                rights_refused: r.rights_refused,
                conservation_checks: r.conservation_checks,
                conservation_breaches: r.conservation_breaches,
                converged: r.converged,
                row: RowJson::of(&row),
                invariants_ok: r.invariants_ok,
                invariants_expected: r.invariants_expected,
                first_breach: r.first_breach.as_deref(),
                defect: r.defect.as_deref(),
                command,
            };
            crate::output::json(&mut *out, &doc)?;
            writeln!(out)?;
        }
        _ => {
            writeln!(
                out,
                "{} {}: write path {path}, {n} run(s) from seed {} (run i: seed + i, its own fault onset); the row is over every run",
                command.split(' ').take(2).collect::<Vec<_>>().join(" "),
                r.drill,
                r.seed,
            )?;
            writeln!(out, "world: {}", topology::WorldLine(&m.drill.topology))?;
            writeln!(out)?;
            writeln!(out, "{}", table(std::slice::from_ref(&row)))?;
            writeln!(
                out,
                "run 1 (seed {}, faults shifted by {:.1} s): charges {} = {} acknowledged + {} declined + {} unknown; {} repeats suppressed",
                r.seed,
                to_ms(r.onset) / 1000.0,
                r.charges,
                r.acknowledged_charges,
                r.declined_charges,
                r.unknown_outcome_charges,
                r.duplicates_suppressed
            )?;
            writeln!(
                out,
                "invariants_ok: {} (expected: {}){}",
                r.invariants_ok,
                r.invariants_expected,
                r.first_breach
                    .as_deref()
                    .map(|b| format!("; first breach: {b}"))
                    .unwrap_or_default()
            )?;
            writeln!(out, "reproduce: {command}")?;
        }
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
        a.report.as_ref(),
        None,
        None,
        &[("--scenario", a.scenario.as_ref())],
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
        a.quiet,
        drills.len() as u64 * WritePath::ALL.len() as u64 * u64::from(runs),
        "{bar:40} {pos}/{len} runs {elapsed}",
    );
    let rows = compare_rows(&drills, a.seed, runs, &|| bar.inc(1));
    bar.finish_and_clear();
    let rows = rows.map_err(|e| match (&a.scenario, e) {
        (Some(p), engine::EngineError::BadDrill(why)) => CliError::Usage(format!(
            "{}: cannot be compared on every write path: {why}",
            p.display()
        )),
        (_, e) => e.into(),
    })?;
    let mut command = String::from("kata86 compare");
    if let Some(p) = &a.scenario {
        command.push_str(&format!(" --scenario {}", p.display()));
    }
    command.push_str(&format!(" --runs {} --seed {}", a.runs, a.seed));
    match a.format {
        Format::Json => {
            #[derive(Serialize)]
            struct Doc<'a> {
                seed: u64,
                runs: u32,
                command: &'a str,
                rows: Vec<RowJson>,
            }
            let doc = Doc {
                seed: a.seed,
                runs,
                command: &command,
                rows: rows.iter().map(RowJson::of).collect(),
            };
            crate::output::json(&mut *out, &doc)?;
            writeln!(out)?;
        }
        Format::Csv => tidy_csv(&rows, out)?,
        Format::Table => {
            writeln!(
                out,
                "kata86 compare: Option A (single-leader, majority) vs Option B (lww, crdt, escrow); {} runs each from seed {} (run i: seed + i, its own fault onset)",
                runs, a.seed
            )?;
            writeln!(out, "world: {}", topology::WorldLine(&drills[0].topology))?;
            writeln!(
                out,
                "charge latency in ms from the first send (answered charges, every run pooled); avail = share of charges sent during a cut or outage that were answered, median/worst run; not completed = those charges not done for the user (no answer that stood, or declined although the money was there); money figures p50/p95/p99/max over the runs"
            )?;
            writeln!(out)?;
            writeln!(out, "{}", table(&rows))?;
            writeln!(out)?;
            writeln!(
                out,
                "SLO: charge p95 < {} ms at every site",
                to_ms(engine::multi::CHARGE_P95_TARGET)
            )?;
            writeln!(out, "reproduce: {command}")?;
        }
    }
    if let Some(path) = &a.report {
        let page = report::Report {
            command: command.clone(),
            seed: a.seed,
            figures: report::Figures::Compare(report::CompareFigures {
                runs,
                rows: rows
                    .iter()
                    .map(|r| {
                        let j = RowJson::of(r);
                        report::CompareBar {
                            drill: j.drill.clone(),
                            write_path: j.write_path.to_string(),
                            overspend_incidents: j.overspend_incidents.figures(),
                            lost_updates: j.lost_updates.figures(),
                            duplicate_effects: j.duplicate_effects.figures(),
                            spurious_declines: j.spurious_declines.figures(),
                            slo_ok: j.slo_charge_p95_ok,
                        }
                    })
                    .collect(),
            }),
        };
        crate::output::write_report(path, &page, false)?;
    }
    Ok(Verdict::Clean)
}

/// `compare --format csv`: tidy, long-format rows `drill,write_path,site,
/// metric,statistic,value`, one figure per row, every figure of the JSON
/// (the JSON key as `metric`, its p50/p95/p99/max as `statistic`, `value`
/// for a single figure; booleans as 1 or 0; a figure the JSON has as null
/// has no row). `site` is `all` for figures over every site.
fn tidy_csv(rows: &[CompareRow], out: &mut dyn Write) -> std::io::Result<()> {
    use serde_json::Value;
    fn field(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    }
    fn number(v: &Value) -> Option<String> {
        match v {
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(u8::from(*b).to_string()),
            _ => None,
        }
    }
    writeln!(out, "drill,write_path,site,metric,statistic,value")?;
    for r in rows {
        let j = serde_json::to_value(RowJson::of(r)).expect("plain data serializes");
        let Value::Object(map) = j else {
            unreachable!("a row is an object")
        };
        let mut line = |site: &str, metric: &str, statistic: &str, v: &Value| {
            number(v).map_or(Ok(()), |v| {
                writeln!(
                    out,
                    "{},{},{},{},{},{v}",
                    field(&r.drill),
                    r.write_path.name(),
                    field(site),
                    metric,
                    statistic
                )
            })
        };
        for (key, v) in &map {
            match (key.as_str(), v) {
                ("drill" | "write_path", _) => {}
                ("sites", Value::Array(sites)) => {
                    for s in sites {
                        let name = s["site"].as_str().unwrap_or_default();
                        for (k, v) in s.as_object().into_iter().flatten() {
                            match v {
                                _ if k == "site" => {}
                                Value::Object(stats) => {
                                    for (stat, v) in stats {
                                        line(name, k, stat, v)?;
                                    }
                                }
                                _ => line(name, k, "value", v)?,
                            }
                        }
                    }
                }
                (_, Value::Object(stats)) => {
                    for (stat, v) in stats {
                        line("all", key, stat, v)?;
                    }
                }
                _ => line("all", key, "value", v)?,
            }
        }
    }
    Ok(())
}

fn ms(v: Option<Micros>) -> String {
    v.map_or("-".into(), |v| format!("{:.0}", to_ms(v)))
}

/// The rows as cells, a header first.
fn cells(rows: &[CompareRow]) -> Vec<Vec<String>> {
    let mut head: Vec<String> = vec!["drill".into(), "write path".into()];
    if let Some(r) = rows.first() {
        for s in &r.sites {
            head.push(format!("{} p50/p95/p99", s.name));
        }
        for s in &r.sites {
            head.push(format!("{} avail", s.name));
        }
        for s in &r.sites {
            head.push(format!("{} not completed", s.name));
        }
    }
    head.extend(
        [
            "overspend",
            "lost",
            "dup",
            "spurious declines",
            "rights moves",
            "rights p50/p95",
            "converge ms",
            "money ok",
            "SLO",
        ]
        .map(String::from),
    );
    let mut out = vec![head];
    for r in rows {
        let mut row = vec![r.drill.clone(), r.write_path.name().to_string()];
        for s in &r.sites {
            row.push(format!("{}/{}/{}", ms(s.p50), ms(s.p95), ms(s.p99)));
        }
        for s in &r.sites {
            row.push(s.availability.map_or("-".into(), |(median, worst)| {
                format!("{:.1}%/{:.1}%", median * 100.0, worst * 100.0)
            }));
        }
        for s in &r.sites {
            row.push(if s.availability.is_none() {
                "-".into()
            } else {
                cell(s.not_completed, count)
            });
        }
        for x in [
            r.overspend_incidents,
            r.lost_updates,
            r.duplicate_effects,
            r.spurious_declines,
            r.rights_transfers,
        ] {
            row.push(cell(x, count));
        }
        row.push(format!("{}/{}", ms(r.rights_p50), ms(r.rights_p95)));
        row.push(
            if r.convergence.max.is_none() && r.convergence.p50.is_none() {
                "-".into()
            } else {
                cell(r.convergence, |v| format!("{:.0}", to_ms(v)))
            },
        );
        row.push(match (r.runs_broken, r.invariants_expected) {
            (0, _) => "yes".into(),
            (n, true) => format!("DEFECT in {n}/{}", r.runs),
            (n, false) => format!("broken in {n}/{} (expected)", r.runs),
        });
        row.push(if r.slo_ok { "pass" } else { "FAIL" }.into());
        out.push(row);
    }
    out
}

fn table(rows: &[CompareRow]) -> String {
    let mut b = tabled::builder::Builder::default();
    for line in cells(rows) {
        b.push_record(line);
    }
    let mut t = b.build();
    t.with(tabled::settings::Style::markdown());
    t.to_string()
}

/// One row, for JSON.
#[derive(Serialize)]
struct RowJson {
    drill: String,
    write_path: &'static str,
    runs: u32,
    sites: Vec<SiteJson>,
    overspend_incidents: SpreadJson,
    lost_updates: SpreadJson,
    duplicate_effects: SpreadJson,
    spurious_declines: SpreadJson,
    rights_transfers: SpreadJson,
    rights_p50_ms: Option<f64>,
    rights_p95_ms: Option<f64>,
    convergence_ms: SpreadJson,
    slo_charge_p95_ok: bool,
    runs_with_broken_invariants: u32,
    invariants_expected: bool,
}

#[derive(Serialize)]
struct SiteJson {
    site: String,
    charge_p50_ms: Option<f64>,
    charge_p95_ms: Option<f64>,
    charge_p99_ms: Option<f64>,
    /// Median run.
    availability: Option<f64>,
    /// Worst run.
    availability_worst: Option<f64>,
    /// Charges sent during a cut or outage not done for the user
    /// (unanswered, lost, or spuriously declined), over the runs.
    charges_not_completed: SpreadJson,
}

impl RowJson {
    fn of(r: &CompareRow) -> RowJson {
        let f = |v: Option<Micros>| v.map(to_ms);
        RowJson {
            drill: r.drill.clone(),
            write_path: r.write_path.name(),
            sites: r
                .sites
                .iter()
                .map(|s| SiteJson {
                    site: s.name.clone(),
                    charge_p50_ms: f(s.p50),
                    charge_p95_ms: f(s.p95),
                    charge_p99_ms: f(s.p99),
                    availability: s.availability.map(|a| a.0),
                    availability_worst: s.availability.map(|a| a.1),
                    charges_not_completed: SpreadJson::count(s.not_completed),
                })
                .collect(),
            runs: r.runs,
            overspend_incidents: SpreadJson::count(r.overspend_incidents),
            lost_updates: SpreadJson::count(r.lost_updates),
            duplicate_effects: SpreadJson::count(r.duplicate_effects),
            spurious_declines: SpreadJson::count(r.spurious_declines),
            rights_transfers: SpreadJson::count(r.rights_transfers),
            rights_p50_ms: f(r.rights_p50),
            rights_p95_ms: f(r.rights_p95),
            convergence_ms: SpreadJson::ms(r.convergence),
            slo_charge_p95_ok: r.slo_ok,
            runs_with_broken_invariants: r.runs_broken,
            invariants_expected: r.invariants_expected,
        }
    }
}

/// The JP role of a built-in world's drills: DESIGN.md's in the default
/// world, none in the kata preset.
pub(crate) fn jp_of(world: topology::World) -> JpRole {
    match world {
        topology::World::Default => engine::drill::DESIGN.jp,
        topology::World::Kata => JpRole::Absent,
    }
}
