//! `kata86`: the command line over the simulator crates.
//!
//! This crate is glue: it parses arguments (clap), builds a validated
//! [`engine::SimConfig`], runs it, and hands the results to the `output`
//! crate, which renders them as a table, JSON or CSV into the writer given
//! to it. It is the only crate that prints, and the only one that turns
//! outcomes into exit codes, all of them in [`exit`].
#![forbid(unsafe_code)]

mod alerts;
mod args;
mod calibrate;
mod drill;
mod echo;
mod files;
mod multi;
mod output;
mod pbs;
mod plan;
mod shard;
mod sim;
mod slo;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

/// Everything that can stop the command, and its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An unknown region or site, a bad RTT.
    #[error("{0}")]
    Topology(#[from] topology::TopologyError),
    /// An unknown strategy, a bad duration.
    #[error("{0}")]
    Routing(#[from] routing::RoutingError),
    /// Invalid simulation parameters.
    #[error("{0}")]
    Engine(#[from] engine::EngineError),
    /// Impossible quorum parameters (N, R, W, trials, preset, grid).
    #[error("{0}")]
    Quorum(#[from] quorum::QuorumError),
    /// An impossible plan (empty space, unknown priority).
    #[error("{0}")]
    Plan(#[from] ::plan::PlanError),
    /// A combination of flags that makes no sense.
    #[error("{0}")]
    Usage(String),
    /// Writing the report failed.
    #[error("cannot write the report: {0}")]
    Io(#[from] std::io::Error),
    /// Writing a `--report` or `--hgrm` file failed.
    #[error("{flag} {path}: cannot write: {source}")]
    Output {
        /// The flag whose file it was.
        flag: &'static str,
        /// The path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A calibration against PostgreSQL could not run.
    #[error("calibrate: {0}")]
    Calibrate(#[from] ::calibrate::CalibrateError),
    /// Burn-rate rules that cannot be generated (a factor that can never
    /// fire, a bad window pair).
    #[error("{0}")]
    Slo(#[from] ::slo::SloError),
    /// Rules that cannot be written (a duration Prometheus cannot express).
    #[error("{0}")]
    Alerts(#[from] ::output::alerts::AlertsError),
    /// A shard file, or a set of them, that cannot be merged.
    #[error("{0}")]
    Shard(#[from] ::shard::ShardError),
    /// The HTML report could not be rendered.
    #[error("--report: {0}")]
    Render(#[from] ::report::ReportError),
}

/// How a run that completed ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every check held.
    Clean,
    /// A money invariant broke (or, in a drill, one the configuration
    /// promises to keep): the report was written, the run failed.
    MoneyBroken,
    /// `calibrate`: a prediction left its tolerance; the report was written.
    OutOfTolerance,
}

/// The exit codes, in one place.
mod exit {
    /// The run completed and every check held.
    pub const OK: u8 = 0;
    /// A money invariant broke: `sim --workload wallet` (staleness-order
    /// violations included) or a drill's `defect`.
    pub const MONEY: u8 = 1;
    /// Bad input: an argument, a file, a combination of flags.
    pub const USAGE: u8 = 2;
    /// `calibrate`: an out-of-sample prediction left its tolerance.
    pub const TOLERANCE: u8 = 1;
    /// `calibrate`: the database could not be run (sysexits' EX_UNAVAILABLE).
    pub const UNAVAILABLE: u8 = 69;
    /// The report could not be written (sysexits' EX_IOERR).
    pub const OUTPUT: u8 = 74;
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Io(_) | CliError::Output { .. } | CliError::Render(_) => exit::OUTPUT,
            CliError::Calibrate(e) => match e {
                ::calibrate::CalibrateError::NoPostgres { .. }
                | ::calibrate::CalibrateError::NoUser
                | ::calibrate::CalibrateError::Config(_) => exit::USAGE,
                _ => exit::UNAVAILABLE,
            },
            _ => exit::USAGE,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    let result = match cli.command {
        Command::Sim(a) => sim::run(&a, &mut out),
        Command::Drill(a) => drill::run(&a, &mut out),
        Command::Compare(a) => multi::compare(&a, &mut out),
        Command::Alerts(a) => alerts::run(&a, &mut out),
        Command::Pbs(a) => pbs::run(&a, &mut out),
        Command::Slo(args::SloCommand::Export(a)) => slo::export(&a, &mut out),
        Command::Plan(a) => plan::run(&a, &mut out),
        Command::Merge(m) => shard::merge(&m, &mut out),
        Command::Calibrate(args::CalibrateCommand::Postgres(a)) => {
            calibrate::postgres(&a, &mut out)
        }
    };
    let _ = out.flush();
    match result {
        Ok(Verdict::Clean) => ExitCode::from(exit::OK),
        Ok(Verdict::MoneyBroken) => ExitCode::from(exit::MONEY),
        Ok(Verdict::OutOfTolerance) => ExitCode::from(exit::TOLERANCE),
        // A reader that stops early (`| head`) is not a failure.
        Err(CliError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            eprintln!("error: {e}");
            if e.exit_code() == exit::USAGE {
                eprintln!("(see `kata86 --help` and `kata86 <command> --help`)");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
