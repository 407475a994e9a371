//! `kata86`: the command line over the simulator crates.
//!
//! This crate is glue: it parses arguments (clap), builds a validated
//! [`engine::SimConfig`], runs it, and renders the plain-data results as a
//! table, JSON or CSV ([`report`]). It is the only crate that prints, and the
//! only one that turns errors into exit codes: 2 for bad input, 1 for a run
//! whose checks failed.

mod args;
mod drill;
mod files;
mod report;
mod sim;

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
    /// A combination of flags that makes no sense.
    #[error("{0}")]
    Usage(String),
    /// Writing the report failed.
    #[error("cannot write the report: {0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Io(_) => 1,
            _ => 2,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = std::io::stdout().lock();
    let result = match cli.command {
        Command::Sim(a) => sim::run(&a, &mut out),
        Command::Drill(a) => drill::run(&a, &mut out),
    };
    let _ = out.flush();
    match result {
        Ok(code) => code,
        Err(CliError::Io(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if e.exit_code() == 2 {
                eprintln!("(see `kata86 --help` and `kata86 <command> --help`)");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
