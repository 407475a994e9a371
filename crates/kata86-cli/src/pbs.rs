//! `kata86 pbs`: probabilistically bounded staleness of a leaderless partial
//! quorum, from the `quorum` crate, as a table, JSON or the curve as CSV.
//!
//! Key design decision: this module only chooses the model (a preset, the
//! kata topology SG, US, JP, or a scenario's topology), resolves region names
//! and lays out the report; every figure and every check on N, R, W, trials
//! and the grid lives in `quorum`.

use std::collections::BTreeMap;
use std::io::Write;

use quorum::{round_robin, Config, Model, Report};
use serde::Serialize;
use topology::{RegionId, Topology};

use crate::args::{Format, PbsArgs};
use crate::files::read_scenario;
use crate::{CliError, Verdict};

/// Runs `kata86 pbs`.
pub fn run(a: &PbsArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let model = model(a)?;
    let cfg = Config {
        model,
        n: a.n,
        r: a.r,
        w: a.w,
        trials: a.trials,
        seed: a.seed,
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
        a.report.as_ref(),
        None,
        None,
        &[("--scenario", a.scenario.as_ref())],
    )?;
    let bar = crate::output::bar(
        a.quiet,
        quorum::chunks(&cfg),
        "{bar:40} {pos}/{len} chunks of trials {elapsed}",
    );
    // Bad parameters are refused before the bar is drawn.
    cfg.validate()?;
    let rep = quorum::simulate_with(&cfg, &|| bar.inc(1))?;
    bar.finish_and_clear();
    match a.format {
        Format::Json => json(&cfg, &rep, out)?,
        Format::Csv => csv(&rep, out)?,
        Format::Table => table(&cfg, &rep, out)?,
    }
    if let Some(path) = &a.report {
        let page = report::Report {
            command: reproduce(a),
            seed: a.seed,
            figures: report::Figures::Pbs(report::PbsFigures {
                model: cfg.model.name.clone(),
                n: cfg.n,
                r: cfg.r,
                w: cfg.w,
                curve: rep
                    .curve
                    .iter()
                    .map(|&(t, p)| report::CdfPoint {
                        ms: ms(t),
                        quantile: prob(p),
                    })
                    .collect(),
                t_visibility_ms: T_VIS_LABELS
                    .iter()
                    .zip(rep.t_visibility_ms)
                    .map(|(&l, t)| (l.to_string(), ms(t)))
                    .collect(),
            }),
        };
        crate::output::write_report(path, &page, false)?;
    }
    Ok(Verdict::Clean)
}

/// The command line that reproduces this run, every option spelled out.
fn reproduce(a: &PbsArgs) -> String {
    let mut cmd = String::from("kata86 pbs");
    if let Some(p) = &a.preset {
        cmd.push_str(&format!(" --preset {p}"));
    }
    if let Some(s) = &a.scenario {
        cmd.push_str(&format!(" --scenario {}", s.display()));
    }
    cmd.push_str(&format!(" --n {} --r {} --w {}", a.n, a.r, a.w));
    if let Some(p) = &a.placement {
        cmd.push_str(&format!(" --placement {p}"));
    }
    cmd.push_str(&format!(
        " --trials {} --seed {} --step-ms {} --points {}",
        a.trials, a.seed, a.step_ms, a.points
    ));
    cmd
}

/// The latency model the flags ask for.
fn model(a: &PbsArgs) -> Result<Model, CliError> {
    if let Some(name) = &a.preset {
        if a.placement.is_some() {
            return Err(CliError::Usage(
                "--placement applies to a topology; a preset places its own replicas".into(),
            ));
        }
        return Ok(Model::preset(name.name())?);
    }
    let (name, topo, leader) = match &a.scenario {
        Some(path) => {
            let cfg = read_scenario(path, false)?;
            (cfg.name, cfg.topology, cfg.leader)
        }
        None => {
            let topo = topology::Topology::kata_with_jp();
            let sg = topo.region("SG")?;
            ("kata".to_string(), topo, sg)
        }
    };
    let placement = match &a.placement {
        Some(list) => placement(&topo, list, a.n)?,
        None => round_robin(&topo, leader, a.n)?,
    };
    Ok(Model::topology(&name, &topo, &placement)?)
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

fn round_to(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

fn ms(x: f64) -> f64 {
    round_to(x, 3)
}

fn prob(x: f64) -> f64 {
    round_to(x, 6)
}

#[derive(Serialize)]
struct Pct {
    p50: f64,
    p99: f64,
    p999: f64,
}

impl From<quorum::Percentiles> for Pct {
    fn from(p: quorum::Percentiles) -> Pct {
        Pct {
            p50: ms(p.p50),
            p99: ms(p.p99),
            p999: ms(p.p999),
        }
    }
}

#[derive(Serialize)]
struct KRow {
    k: usize,
    simulated: f64,
    closed_form: f64,
}

#[derive(Serialize)]
struct Point {
    t_ms: f64,
    p_consistent: f64,
}

#[derive(Serialize)]
struct Doc<'a> {
    preset: &'a str,
    n: usize,
    r: usize,
    w: usize,
    trials: u64,
    seed: u64,
    read_ms: Pct,
    write_ms: Pct,
    t_visibility_ms: BTreeMap<&'static str, f64>,
    k_staleness: Vec<KRow>,
    curve: Vec<Point>,
}

/// The probabilities of the t-visibility quantiles, as printed.
const T_VIS_LABELS: [&str; 3] = ["0.99", "0.999", "0.9999"];

fn json(cfg: &Config, rep: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let doc = Doc {
        preset: &cfg.model.name,
        n: cfg.n,
        r: cfg.r,
        w: cfg.w,
        trials: cfg.trials,
        seed: cfg.seed,
        read_ms: rep.read_ms.into(),
        write_ms: rep.write_ms.into(),
        t_visibility_ms: T_VIS_LABELS
            .iter()
            .zip(rep.t_visibility_ms)
            .map(|(&l, t)| (l, ms(t)))
            .collect(),
        k_staleness: rep
            .k_staleness
            .iter()
            .map(|k| KRow {
                k: k.k,
                simulated: prob(k.simulated),
                closed_form: prob(k.closed_form),
            })
            .collect(),
        curve: rep
            .curve
            .iter()
            .map(|&(t, p)| Point {
                t_ms: ms(t),
                p_consistent: prob(p),
            })
            .collect(),
    };
    crate::output::json(&mut *out, &doc)?;
    writeln!(out)
}

fn csv(rep: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "t_ms,p_consistent")?;
    for &(t, p) in &rep.curve {
        writeln!(out, "{},{}", ms(t), prob(p))?;
    }
    Ok(())
}

fn table(cfg: &Config, rep: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "pbs {}: N = {}, R = {}, W = {}, {} trials, seed {}",
        cfg.model.name, cfg.n, cfg.r, cfg.w, cfg.trials, cfg.seed
    )?;
    writeln!(out)?;
    writeln!(out, "| latency (ms) | p50 | p99 | p99.9 |")?;
    writeln!(out, "|---|---|---|---|")?;
    for (what, p) in [("read", rep.read_ms), ("write", rep.write_ms)] {
        writeln!(
            out,
            "| {what} | {} | {} | {} |",
            ms(p.p50),
            ms(p.p99),
            ms(p.p999)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "| t-visibility | t (ms) |")?;
    writeln!(out, "|---|---|")?;
    for (l, t) in T_VIS_LABELS.iter().zip(rep.t_visibility_ms) {
        writeln!(out, "| p >= {l} | {} |", ms(t))?;
    }
    writeln!(out)?;
    writeln!(out, "| k-staleness | simulated | closed form |")?;
    writeln!(out, "|---|---|---|")?;
    for k in &rep.k_staleness {
        writeln!(
            out,
            "| k = {} | {} | {} |",
            k.k,
            prob(k.simulated),
            prob(k.closed_form)
        )?;
    }
    writeln!(out)?;
    writeln!(out, "| t (ms) | P(consistent) |")?;
    writeln!(out, "|---|---|")?;
    let every = rep.curve.len().div_ceil(10).max(1);
    for (j, &(t, p)) in rep.curve.iter().enumerate() {
        if j % every == 0 || j + 1 == rep.curve.len() {
            writeln!(out, "| {} | {} |", ms(t), prob(p))?;
        }
    }
    Ok(())
}
