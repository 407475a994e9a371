//! `kata86 calibrate postgres`: flags in, [`calibrate::Report`] out as a
//! table or JSON. Every server, delay line, measurement and prediction lives
//! in the `calibrate` crate; this module only builds its options and lays out
//! its report.

use std::io::Write;
use std::time::Duration;

use calibrate::{Mode, Options, World};

use crate::args::{CalibratePostgresArgs, CommitMode, ReportFormat};
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
        ReportFormat::Json => {
            output::json(&mut *out, &report)?;
        }
        ReportFormat::Table => output::calibrate::table(&report, out)?,
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
