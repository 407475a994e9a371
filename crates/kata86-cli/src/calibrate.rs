//! `kata86 calibrate postgres`: flags in, [`calibrate::Report`] out as a
//! table or JSON. Every server, delay line, measurement and prediction lives
//! in the `calibrate` crate; this module only builds its options and lays out
//! its report.

use std::io::Write;
use std::time::Duration;

use calibrate::{model::Metric, Mode, Options, Report, World};

use crate::args::{CalibrateFormat, CalibratePostgresArgs, CommitMode};
use crate::files::read_scenario;
use crate::{CliError, Verdict};

/// Runs `kata86 calibrate postgres`.
pub fn postgres(a: &CalibratePostgresArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let opts = options(a)?;
    if let Some(path) = &a.lag_out {
        let parent = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        if path.is_dir() || !parent.is_dir() {
            return Err(CliError::Usage(format!(
                "--lag-out {}: give a file in a directory that exists",
                path.display()
            )));
        }
    }
    let quiet = a.quiet;
    let report = calibrate::calibrate(&opts, &mut |line| {
        if !quiet {
            eprintln!("calibrate: {line}");
        }
    })?;
    let mut sim_check = None;
    if let Some(path) = &a.lag_out {
        for (file, text) in
            calibrate::lag_files(&report.fitted_on, &report.fitted, &report.sim_check, path)
        {
            std::fs::write(&file, text).map_err(|source| CliError::Output {
                flag: "--lag-out",
                path: file.display().to_string(),
                source,
            })?;
        }
        sim_check = Some(check_sim(&report.sim_check, path)?);
    }
    match a.format {
        CalibrateFormat::Json => {
            crate::output::json(&mut *out, &report)?;
            writeln!(out)?;
        }
        CalibrateFormat::Table => table(&report, out)?,
    }
    if let Some((command, bad)) = &sim_check {
        if bad.is_empty() {
            if !quiet {
                eprintln!(
                    "calibrate: sim check: `{command}` printed every predicted figure byte for byte"
                );
            }
        } else {
            eprintln!(
                "error: sim check: `{command}` does not print calibrate's predicted figures: {}",
                bad.join("; ")
            );
            return Ok(Verdict::OutOfTolerance);
        }
    }
    Ok(if report.all_within() {
        Verdict::Clean
    } else {
        Verdict::OutOfTolerance
    })
}

/// Runs the lag file's `sim-command` in this process, through the very code
/// `kata86 sim` runs (its argument parser, configuration and engine), and
/// returns the command with every figure it does not print as predicted.
fn check_sim(
    check: &calibrate::SimCheck,
    lag_path: &std::path::Path,
) -> Result<(String, Vec<String>), CliError> {
    use clap::Parser;
    let topo = calibrate::topology_path(lag_path);
    let (lag, topo) = (lag_path.display().to_string(), topo.display().to_string());
    let command = check.command(&lag, &topo);
    let mut args = check.args(&lag, &topo);
    args.push("--quiet".into());
    let cli = crate::args::Cli::try_parse_from(args)
        .map_err(|e| CliError::Usage(format!("sim check: `{command}`: {e}")))?;
    let crate::args::Command::Sim(sim_args) = cli.command else {
        unreachable!("the sim check's command is `kata86 sim`")
    };
    let mut csv = Vec::new();
    crate::sim::run(&sim_args, &mut csv)?;
    let bad = check.mismatches(&String::from_utf8_lossy(&csv));
    Ok((command, bad))
}

fn options(a: &CalibratePostgresArgs) -> Result<Options, CliError> {
    if !a.duration.is_finite() || !(2.0..=600.0).contains(&a.duration) {
        return Err(CliError::Usage(format!(
            "--duration {}: give 2 to 600 seconds per configuration",
            a.duration
        )));
    }
    let second = match &a.scenario {
        Some(path) => {
            let cfg = read_scenario(path, false)?;
            World::new(&cfg.name, cfg.topology, cfg.leader)?
        }
        None => World::five(),
    };
    let modes = if a.modes.is_empty() {
        Mode::ALL.to_vec()
    } else {
        a.modes
            .iter()
            .map(|m| match m {
                CommitMode::Async => Mode::Async,
                CommitMode::SemiSync => Mode::SemiSync,
                CommitMode::Majority => Mode::Majority,
            })
            .collect()
    };
    let opts = Options {
        worlds: vec![World::three(), second],
        modes,
        duration: Duration::from_secs_f64(a.duration),
        repeats: a.repeats,
        pg_bin: a.pg_bin.clone(),
        seed: a.seed,
        ..Options::default()
    };
    opts.validate()?;
    if let Some(dir) = &a.pg_bin {
        if !dir.is_dir() {
            return Err(CliError::Usage(format!(
                "--pg-bin {}: not a directory",
                dir.display()
            )));
        }
    }
    Ok(opts)
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map(|v| format!("{v:.digits$}")).unwrap_or_default()
}

fn table(r: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let f = &r.fitted;
    writeln!(
        out,
        "calibrate postgres: fitted on {} ({} s per configuration, {} repeat(s))",
        r.fitted_on, r.duration_s, r.repeats
    )?;
    writeln!(out)?;
    writeln!(out, "| fitted parameter | value |")?;
    writeln!(out, "|---|---|")?;
    writeln!(
        out,
        "| commit time p50 / p95 / p99 (ms) | {:.3} / {:.3} / {:.3} |",
        f.commit_ms.p50, f.commit_ms.p95, f.commit_ms.p99
    )?;
    writeln!(
        out,
        "| apply lag (ms) | {:.3} + U[0, {:.1}) |",
        f.apply_base_ms, f.apply_jitter_ms
    )?;
    writeln!(
        out,
        "| delay line per traversal p50 / p99 (ms) | {:.3} / {:.3} |",
        r.delay_line.p50_ms, r.delay_line.p99_ms
    )?;
    writeln!(
        out,
        "| delay line release lateness p50 / p99 (ms) | {:.3} / {:.3} |",
        r.delay_line_lateness_ms.p50, r.delay_line_lateness_ms.p99
    )?;
    writeln!(
        out,
        "| heartbeat period, offset (ms) | {:.0}, {:.3} |",
        f.heartbeat_ms, f.heartbeat_offset_ms
    )?;
    writeln!(
        out,
        "| fsync probe, 8 KiB (ms, not used to predict) | {:.3} |",
        f.fsync_probe_ms
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| world | mode | metric | at | pct | measured ms | predicted ms | ratio | tolerance ms | within |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|---|---|---|")?;
    for c in &r.configurations {
        for row in c.rows.iter().filter(|row| {
            matches!(
                row.metric,
                Metric::Commit | Metric::Staleness | Metric::DataAge
            )
        }) {
            let within = match (c.in_sample, row.within) {
                (true, _) => "fit",
                (false, Some(true)) => "yes",
                (false, Some(false)) => "NO",
                (false, None) => "",
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {:.1} | {} | {} | {} | {} |",
                c.world,
                c.mode.name(),
                row.metric.name(),
                row.at,
                row.quantile,
                row.measured_ms,
                opt(row.predicted_ms, 1),
                opt(row.ratio.filter(|x| x.is_finite()), 3),
                opt(row.tolerance_ms, 1),
                within
            )?;
        }
    }
    writeln!(out)?;
    writeln!(
        out,
        "| world | mode | standby | write_lag p50/p95 | flush_lag p50/p95 | replay_lag p50/p95 |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|")?;
    for c in &r.configurations {
        let lags: Vec<_> = c
            .rows
            .iter()
            .filter(|row| row.metric == Metric::WriteLag && row.quantile == "p50")
            .map(|row| row.at.clone())
            .collect();
        for at in lags {
            let get = |m: Metric, q: &str| {
                c.rows
                    .iter()
                    .find(|row| row.metric == m && row.at == at && row.quantile == q)
                    .map(|row| row.measured_ms)
                    .unwrap_or_default()
            };
            writeln!(
                out,
                "| {} | {} | {} | {:.1} / {:.1} | {:.1} / {:.1} | {:.1} / {:.1} |",
                c.world,
                c.mode.name(),
                at,
                get(Metric::WriteLag, "p50"),
                get(Metric::WriteLag, "p95"),
                get(Metric::FlushLag, "p50"),
                get(Metric::FlushLag, "p95"),
                get(Metric::ReplayLag, "p50"),
                get(Metric::ReplayLag, "p95"),
            )?;
        }
    }
    writeln!(out)?;
    let check = &r.sim_check;
    writeln!(
        out,
        "What `kata86 sim --lag-from` prints on {} (leader {}, --commit {:.3}: the fitted commit p95; \
         no delay line, no heartbeat), as the model predicts it; `--lag-out FILE` records the \
         command and these figures:",
        check.world, check.leader, check.commit_ms
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "| client | strategy | charge p95 | lag p50 | lag p95 | lag p99 | (sim --format csv) |"
    )?;
    writeln!(out, "|---|---|---|---|---|---|---|")?;
    for c in &check.figures {
        let get = |k: &str| {
            c.columns
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| {
                    v.parse::<f64>()
                        .map(|v| format!("{v:.0}"))
                        .unwrap_or_default()
                })
                .unwrap_or_default()
        };
        let csv: Vec<String> = c.columns.iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            c.client,
            c.strategy,
            get("write_p95_ms"),
            get("lag_p50_ms"),
            get("lag_p95_ms"),
            get("lag_p99_ms"),
            csv.join(" ")
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} of {} out-of-sample predictions within tolerance (commit p50/p95: 15 % or 5 ms; \
         staleness and data age p50/p95: 20 % or 10 ms)",
        r.within, r.judged
    )?;
    Ok(())
}
