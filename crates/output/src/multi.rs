//! `kata86 compare` and the multi-leader `kata86 drill`: JSON and tidy CSV
//! of [`CompareRow`]s and a [`MultiResult`].
//!
//! A [`CompareRow`] serialises itself (keys, units and spreads are the
//! engine's serde attributes); the documents here wrap it with the seed,
//! the runs and the command.
#![allow(missing_docs)]

use std::io::Write;

use engine::drill::NamedWindow;
use engine::multi::{CompareRow, MultiConfig, MultiResult};
use schemars::JsonSchema;
use serde::Serialize;
use topology::{to_ms, Micros};

use crate::drill::{cell, count};

/// The multi-leader drill's document: the first run's figures, the row
/// over every run, then what users saw per site (every run pooled) and the
/// per-site, per-phase verdicts that judge it.
#[derive(Serialize, JsonSchema)]
pub struct MultiDrill<'a> {
    runs: u32,
    #[serde(flatten)]
    world: crate::WorldKeys,
    #[serde(flatten)]
    first_run: &'a MultiResult,
    read_strategy: &'static str,
    row: &'a CompareRow,
    during_faults: NamedWindow<'a>,
    outside_faults: NamedWindow<'a>,
    /// Every objective at every site it covers, per phase, every run.
    verdicts: &'a [engine::drill::sli::Verdict],
    /// Objectives naming a site this world lacks.
    slo_not_applied: &'a [engine::drill::sli::NotApplied],
    command: &'a str,
}

/// Writes the multi-leader drill's JSON document.
pub fn drill_json(
    m: &MultiConfig,
    rs: &[MultiResult],
    row: &CompareRow,
    judged: &engine::multi::Judged,
    command: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let sites = crate::drill::site_names(&m.drill.topology);
    let doc = MultiDrill {
        runs: rs.len() as u32,
        world: crate::WorldKeys::of(&m.drill.topology),
        first_run: &rs[0],
        read_strategy: m.drill.strategy.name(),
        row,
        during_faults: judged.during.named(&sites),
        outside_faults: judged.outside.named(&sites),
        verdicts: &judged.verdicts,
        slo_not_applied: &judged.not_applied,
        command,
    };
    crate::json(out, &doc)
}

/// `kata86 compare`'s document.
#[derive(Serialize, JsonSchema)]
pub struct Compare<'a> {
    seed: u64,
    runs: u32,
    #[serde(flatten)]
    world: crate::WorldKeys,
    command: &'a str,
    rows: &'a [CompareRow],
}

/// Writes `kata86 compare`'s JSON document.
pub fn compare_json(
    topology: &topology::Topology,
    seed: u64,
    runs: u32,
    command: &str,
    rows: &[CompareRow],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let doc = Compare {
        seed,
        runs,
        world: crate::WorldKeys::of(topology),
        command,
        rows,
    };
    crate::json(out, &doc)
}

/// `compare --format csv`: tidy, long-format rows `drill,write_path,site,
/// metric,statistic,value`, one figure per row, every figure of the JSON
/// (the JSON key as `metric`, its p50/p95/p99/max as `statistic`, `value`
/// for a single figure; booleans as 1 or 0; a figure the JSON has as null
/// has no row). `site` is `all` for figures over every site.
pub fn tidy_csv(rows: &[CompareRow], out: &mut dyn Write) -> std::io::Result<()> {
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
        let j = serde_json::to_value(r).expect("plain data serializes");
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

/// A latency in whole ms, or `-`.
fn ms_cell(v: Option<Micros>) -> String {
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
            "background moves",
            "rights p50/p95",
            "converge ms",
            "detect s",
            "money ok",
            "SLO",
            "verdicts pass",
        ]
        .map(String::from),
    );
    let mut out = vec![head];
    for r in rows {
        let mut row = vec![r.drill.clone(), r.write_path.name().to_string()];
        for s in &r.sites {
            row.push(format!(
                "{}/{}/{}",
                ms_cell(s.p50),
                ms_cell(s.p95),
                ms_cell(s.p99)
            ));
        }
        for s in &r.sites {
            row.push(match (s.availability, s.availability_worst) {
                (Some(median), Some(worst)) => {
                    format!("{:.1}%/{:.1}%", median * 100.0, worst * 100.0)
                }
                _ => "-".into(),
            });
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
            r.background_transfers,
        ] {
            row.push(cell(x, count));
        }
        row.push(format!(
            "{}/{}",
            ms_cell(r.rights_p50),
            ms_cell(r.rights_p95)
        ));
        row.push(
            if r.convergence.max.is_none() && r.convergence.p50.is_none() {
                "-".into()
            } else {
                cell(r.convergence, |v| format!("{:.0}", to_ms(v)))
            },
        );
        row.push(if r.time_to_detect == metrics::Spread::default() {
            "-".into()
        } else {
            cell(r.time_to_detect, |v| format!("{:.1}", to_ms(v) / 1000.0))
        });
        row.push(match (r.runs_broken, r.invariants_expected) {
            (0, _) => "yes".into(),
            (n, true) => format!("DEFECT in {n}/{}", r.runs),
            (n, false) => format!("broken in {n}/{} (expected)", r.runs),
        });
        row.push(
            match r.slo_ok {
                Some(true) => "pass",
                Some(false) => "FAIL",
                None => "not judged",
            }
            .into(),
        );
        row.push(format!("{}/{}", r.verdicts_passed, r.verdicts_judged));
        out.push(row);
    }
    out
}

/// The compare table (markdown) of `rows`.
pub fn table(rows: &[CompareRow]) -> String {
    let mut b = tabled::builder::Builder::default();
    for line in cells(rows) {
        b.push_record(line);
    }
    let mut t = b.build();
    t.with(tabled::settings::Style::markdown());
    t.to_string()
}

/// The multi-leader drill for people: its row over every run, then the
/// first run's charges and money check.
pub fn drill_table(
    m: &engine::multi::MultiConfig,
    rs: &[MultiResult],
    row: &CompareRow,
    judged: &engine::multi::Judged,
    command: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let (path, n, r) = (m.path, rs.len() as u32, &rs[0]);

    writeln!(
                out,
                "{} {}: write path {path}, {n} run(s) from seed {} (run i: seed + i, its own fault onset); the row is over every run",
                command.split(' ').take(2).collect::<Vec<_>>().join(" "),
                r.drill,
                r.seed,
            )?;
    writeln!(out, "world: {}", topology::WorldLine(&m.drill.topology))?;
    writeln!(out)?;
    writeln!(out, "{}", table(std::slice::from_ref(row)))?;
    // Refused charges only exist under WRITE_READONLY_MODE; without it the
    // line reads as it always has.
    let read_only = r
        .flags
        .iter()
        .any(|f| f.flag == engine::ops::Flag::WriteReadonlyMode);
    let refused = if !read_only {
        String::new()
    } else {
        format!(" + {} refused (WRITE_READONLY_MODE)", r.rejected_charges)
    };
    writeln!(
                out,
                "run 1 (seed {}, faults shifted by {:.1} s): charges {} = {} acknowledged + {} declined + {} unknown{refused}; {} repeats suppressed",
                r.seed,
                to_ms(r.onset) / 1000.0,
                r.charges,
                r.acknowledged_charges,
                r.declined_charges,
                r.unknown_outcome_charges,
                r.duplicates_suppressed
            )?;
    for f in &r.flags {
        writeln!(
            out,
            "flag {} on at {:.1} s, {}",
            f.flag,
            to_ms(f.on) / 1000.0,
            f.off
                .map(|t| format!("off at {:.1} s", to_ms(t) / 1000.0))
                .unwrap_or_else(|| "still on at the end".into())
        )?;
    }
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
    alerts(m, r, out)?;
    let label = format!("{path} / {}", m.drill.strategy.name());
    crate::drill::windows_and_verdicts(
        &m.drill,
        &label,
        &judged.during,
        &judged.outside,
        &judged.verdicts,
        out,
    )?;
    writeln!(out, "reproduce: {command}")?;
    Ok(())
}

/// The first run's alerts: the single-leader drills' rules on B's reads
/// and charge attempts.
fn alerts(
    m: &engine::multi::MultiConfig,
    r: &MultiResult,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let secs = |t: Micros| format!("{:.1} s", to_ms(t) / 1000.0);
    if m.drill.alerts.is_empty() {
        // No monitoring (a `sim` wallet run): nothing to say.
        return Ok(());
    }
    let window = secs(m.drill.signal_window);
    if r.alerts.is_empty() {
        return writeln!(out, "alerts in run 1 (every {window} window): none fired");
    }
    writeln!(out, "alerts in run 1 (every {window} window):")?;
    for a in &r.alerts {
        writeln!(
            out,
            "  {:<34} fired {:>7}{}, {}",
            a.name,
            secs(a.fired_at),
            a.fault_at
                .map_or(" (before any fault: a false alarm)".into(), |f| format!(
                    " (fault at {})",
                    secs(f)
                )),
            a.resolved_at
                .map_or("still firing at the end".into(), |t| format!(
                    "resolved {}",
                    secs(t)
                ))
        )?;
    }
    match r.time_to_detect {
        Some(d) => writeln!(out, "time to detect: {}", secs(d)),
        None => Ok(()),
    }
}

/// `kata86 compare` for people: the rows, what their columns mean, and
/// the charge-latency objectives the SLO column judges.
pub fn compare_table(
    drills: &[engine::drill::DrillConfig],
    rows: &[CompareRow],
    runs: u32,
    seed: u64,
    command: &str,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    writeln!(
                out,
                "kata86 compare: Option A (single-leader, majority) vs Option B (lww, crdt, escrow); {} runs each from seed {} (run i: seed + i, its own fault onset)",
                runs, seed
            )?;
    writeln!(out, "world: {}", topology::WorldLine(&drills[0].topology))?;
    writeln!(
                out,
                "charge latency in ms from the first send (answered charges, every run pooled); avail = share of charges sent during a cut or outage that were answered, median/worst run; not completed = those charges not done for the user (no answer that stood, or declined although the money was there); money figures p50/p95/p99/max over the runs"
            )?;
    writeln!(out)?;
    writeln!(out, "{}", table(rows))?;
    writeln!(out)?;
    let d = &drills[0];
    let objectives: Vec<String> = d
        .topology
        .site_ids()
        .map(|s| {
            let name = d.topology.site_name(s);
            let each: Vec<String> = engine::multi::charge_objectives(d, name)
                .map(|o| {
                    format!(
                        "{} {} < {} ms",
                        o.name,
                        engine::drill::sli::pct(o.quantile),
                        o.target_ms
                    )
                })
                .collect();
            format!(
                "{name}: {}",
                if each.is_empty() {
                    "not judged (no charge objective)".to_string()
                } else {
                    each.join(", ")
                }
            )
        })
        .collect();
    writeln!(
        out,
        "SLO column: the world's charge-latency objectives, every run pooled; {}",
        objectives.join("; ")
    )?;
    writeln!(
        out,
        "detect s: from the fault's start to the first alert that fired after it, the same \
         monitor and rules on every write path (never: no alert fired)"
    )?;
    writeln!(
        out,
        "verdicts pass: every objective at every site it covers, in steady state and in each \
         fault's impact window, every run pooled (the judge `kata86 plan` ranks by; a failed \
         or unanswered request is a bad event)"
    )?;
    for r in rows.iter().filter(|r| !r.verdicts_failing.is_empty()) {
        writeln!(
            out,
            "  {} {} fails: {}",
            r.drill,
            r.write_path.name(),
            r.verdicts_failing.join(", ")
        )?;
    }
    writeln!(out, "reproduce: {command}")?;
    Ok(())
}
