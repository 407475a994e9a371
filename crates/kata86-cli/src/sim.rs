//! `kata86 sim`: arguments → configuration → run → report.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use engine::{Cell, SimConfig};
use replication::{EpisodicLag, IidLag, LagModel};
use routing::{duration, ReadPolicy, ReadStrategy, WritePolicy};
use topology::Topology;

use crate::args::{Format, Model, SimArgs};
use crate::report::{self, SimReport};
use crate::CliError;

/// Builds the configuration and the cell list the arguments describe.
pub fn configure(a: &SimArgs) -> Result<(SimConfig, Vec<Cell>), CliError> {
    if a.iterations == 0 {
        return Err(CliError::Usage(
            "--iterations must be at least 1 (try --iterations 100000)".into(),
        ));
    }
    if !(a.jitter.is_finite() && a.jitter >= 0.0) {
        return Err(CliError::Usage(format!(
            "--jitter is {} ms; give a number >= 0",
            a.jitter
        )));
    }
    let topology = Topology::kata_builder().jitter_ms(a.jitter).build()?;
    let leader = topology.region(&a.leader)?;
    let lag = match a.model {
        Model::Iid => LagModel::Iid(IidLag::default()),
        Model::Episodic => LagModel::Episodic(EpisodicLag::default()),
    };
    let read = ReadPolicy {
        fallback_threshold: duration("--fallback-threshold", a.fallback_threshold)?,
        max_staleness: duration("--max-staleness", a.max_staleness)?,
    };
    let write = WritePolicy {
        deadline: duration("--deadline", a.deadline)?,
        commit: duration("--commit", a.commit)?,
    };
    let sites = if a.clients.is_empty() {
        topology.site_ids().collect()
    } else {
        a.clients
            .iter()
            .map(|c| topology.site(c))
            .collect::<Result<Vec<_>, _>>()?
    };
    let strategies = if a.strategies.is_empty() {
        ReadStrategy::ALL.to_vec()
    } else {
        a.strategies
            .iter()
            .map(|s| s.parse())
            .collect::<Result<Vec<ReadStrategy>, _>>()?
    };
    let cells = sites
        .iter()
        .flat_map(|&site| {
            strategies
                .iter()
                .map(move |&strategy| Cell { site, strategy })
        })
        .collect();
    let cfg = SimConfig {
        topology,
        leader,
        lag,
        arrival_rate: a.rate,
        read,
        write,
        ..SimConfig::kata()
    };
    cfg.validate()?;
    Ok((cfg, cells))
}

/// The command line that reproduces this run: every option spelled out,
/// including defaults, so a copy of it keeps working if defaults change.
pub fn reproduce(a: &SimArgs) -> String {
    let mut cmd = format!(
        "kata86 sim --seed {} --iterations {} --model {} --leader {} --rate {} --jitter {} \
         --deadline {} --commit {} --fallback-threshold {} --max-staleness {}",
        a.seed,
        a.iterations,
        match a.model {
            Model::Iid => "iid",
            Model::Episodic => "episodic",
        },
        a.leader,
        a.rate,
        a.jitter,
        a.deadline,
        a.commit,
        a.fallback_threshold,
        a.max_staleness,
    );
    for c in &a.clients {
        cmd.push_str(&format!(" --client {c}"));
    }
    for s in &a.strategies {
        cmd.push_str(&format!(" --strategy {s}"));
    }
    cmd
}

/// Runs `kata86 sim` and writes its report to `out`.
pub fn run(a: &SimArgs, out: &mut dyn Write) -> Result<ExitCode, CliError> {
    let (cfg, cells) = configure(a)?;
    let show = !a.quiet && std::io::stderr().is_terminal();
    let total = cells.len();
    let mut progress = |i: usize, done: u64| {
        if show {
            let c = cells[i];
            eprint!(
                "\r[{}/{}] {} {:<8} {:>3}%",
                i + 1,
                total,
                cfg.topology.site_name(c.site),
                c.strategy.name(),
                done * 100 / a.iterations
            );
        }
    };
    let results = engine::run(&cfg, a.seed, a.iterations, &cells, &mut progress)?;
    if show {
        eprint!("\r{:40}\r", "");
    }
    let rep = SimReport {
        seed: a.seed,
        iterations: a.iterations,
        cfg: &cfg,
        results: &results,
        command: reproduce(a),
    };
    match a.format {
        Format::Table => report::table(&rep, out)?,
        Format::Json => report::json(&rep, out)?,
        Format::Csv => report::csv(&rep, out)?,
    }
    Ok(ExitCode::SUCCESS)
}
