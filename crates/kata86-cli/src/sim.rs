//! `kata86 sim`: arguments → configuration → run → report.

use std::io::Write;

use engine::wallet::{Mix, Popularity, ReadYourWrites, WalletConfig};
use engine::{Cell, SimConfig};
use replication::{EpisodicLag, IidLag, LagModel};
use routing::{duration, ReadPolicy, ReadStrategy, WritePolicy};
use topology::Topology;

use crate::args::{Format, Model, Ryw, SimArgs, Workload};
use crate::report::{self, SimReport};
use crate::{CliError, Verdict};

/// The most requests per cell: a billion, about a minute of the wallet.
const MAX_ITERATIONS: u64 = 1_000_000_000;

/// The lag model in force: the flag, or the workload's default.
fn model(a: &SimArgs) -> Model {
    a.model.unwrap_or(match a.workload {
        Workload::Kata => Model::Iid,
        Workload::Wallet => Model::Episodic,
    })
}

/// Builds the configuration and the cell list the arguments describe.
pub fn configure(a: &SimArgs) -> Result<(SimConfig, Vec<Cell>), CliError> {
    if !(1..=MAX_ITERATIONS).contains(&a.iterations) {
        return Err(CliError::Usage(format!(
            "--iterations {} is not from 1 to {MAX_ITERATIONS} (try --iterations 100000)",
            a.iterations
        )));
    }
    if !(a.jitter.is_finite() && a.jitter >= 0.0) {
        return Err(CliError::Usage(format!(
            "--jitter is {} ms; give a number >= 0",
            a.jitter
        )));
    }
    let topology = match &a.topology {
        Some(path) => {
            let text = crate::files::read_capped(path, "topology")?;
            scenario::parse_topology(&text, a.jitter)
                .map_err(|e| crate::files::located(&path.display().to_string(), e))?
        }
        None => Topology::kata_builder().jitter_ms(a.jitter).build()?,
    };
    let leader = topology.region(&a.leader)?;
    let lag = match model(a) {
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
    let cells: Vec<Cell> = sites
        .iter()
        .flat_map(|&site| {
            strategies
                .iter()
                .map(move |&strategy| Cell { site, strategy })
        })
        .collect();
    let (limit, per_s) = match a.workload {
        Workload::Kata => (2e9, 5e7),
        Workload::Wallet => (3e8, 3.8e6),
    };
    let requests = a.iterations as f64 * cells.len() as f64;
    if requests > limit && !a.allow_long {
        return Err(CliError::Usage(format!(
            "--iterations {} x {} cells = {} requests: about {:.0} s (memory stays under 10 MB \
             whatever the length); over the {} of a normal run. Give fewer iterations, clients \
             or strategies, or pass --allow-long to go ahead",
            a.iterations,
            cells.len(),
            scenario::show(requests),
            requests / per_s,
            scenario::show(limit)
        )));
    }
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

/// The wallet configuration the arguments describe, or `None` for the kata
/// workload (where wallet options are an error: they would be ignored).
pub fn wallet_config(a: &SimArgs) -> Result<Option<WalletConfig>, CliError> {
    if a.workload == Workload::Kata {
        let given = [
            ("--accounts", a.accounts.is_some()),
            ("--zipf", a.zipf.is_some()),
            ("--mix", a.mix.is_some()),
            ("--ryw", a.ryw.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|g| g.1) {
            return Err(CliError::Usage(format!(
                "{flag} only applies to the wallet workload; add --workload wallet or drop {flag}"
            )));
        }
        return Ok(None);
    }
    let mut w = WalletConfig::default();
    if let Some(n) = a.accounts {
        w.accounts = n;
    }
    if let Some(z) = a.zipf {
        w.popularity = if z == 0.0 {
            Popularity::Uniform
        } else {
            Popularity::Zipf(z)
        };
    }
    if let Some(mix) = &a.mix {
        let parts: Vec<f64> = mix
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                CliError::Usage(format!(
                    "--mix `{mix}`: give four numbers, e.g. --mix 0.7,0.2,0.08,0.02"
                ))
            })?;
        let [balance, eligibility, charge, top_up] = parts[..] else {
            return Err(CliError::Usage(format!(
                "--mix `{mix}` has {} shares; give four: balance,eligibility,charge,top-up",
                parts.len()
            )));
        };
        w.mix = Mix {
            balance,
            eligibility,
            charge,
            top_up,
        };
    }
    if let Some(r) = a.ryw {
        w.read_your_writes = match r {
            Ryw::Off => ReadYourWrites::Off,
            Ryw::Wait => ReadYourWrites::Wait,
            Ryw::Forward => ReadYourWrites::Forward,
        };
    }
    w.validate()?;
    Ok(Some(w))
}

/// The command line that reproduces this run: every option spelled out,
/// including defaults, so a copy of it keeps working if defaults change.
pub fn reproduce(a: &SimArgs) -> String {
    let mut cmd = format!(
        "kata86 sim --seed {} --iterations {} --model {} --leader {} --rate {} --jitter {} \
         --deadline {} --commit {} --fallback-threshold {} --max-staleness {}",
        a.seed,
        a.iterations,
        match model(a) {
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
    if a.allow_long {
        cmd.push_str(" --allow-long");
    }
    if a.workload == Workload::Wallet {
        cmd.push_str(" --workload wallet");
        if let Some(n) = a.accounts {
            cmd.push_str(&format!(" --accounts {n}"));
        }
        if let Some(z) = a.zipf {
            cmd.push_str(&format!(" --zipf {z}"));
        }
        if let Some(m) = &a.mix {
            cmd.push_str(&format!(" --mix {m}"));
        }
        if let Some(r) = a.ryw {
            let name = match r {
                Ryw::Off => "off",
                Ryw::Wait => "wait",
                Ryw::Forward => "forward",
            };
            cmd.push_str(&format!(" --ryw {name}"));
        }
    }
    if let Some(path) = &a.topology {
        cmd.push_str(&format!(" --topology {}", path.display()));
    }
    for c in &a.clients {
        cmd.push_str(&format!(" --client {c}"));
    }
    for s in &a.strategies {
        cmd.push_str(&format!(" --strategy {s}"));
    }
    cmd
}

/// Runs `kata86 sim` and writes its report to `out`.
pub fn run(a: &SimArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let (cfg, cells) = configure(a)?;
    crate::output::check_report(a.report.as_ref())?;
    crate::output::check_hgrm(a.hgrm.as_ref())?;
    let total = cells.len() as u64 * a.iterations;
    let bar = crate::output::bar(a.quiet, total, "{bar:40} {percent:>3}% {msg} {elapsed}");
    let mut last = usize::MAX;
    let mut progress = |i: usize, done: u64| {
        if i != last {
            last = i;
            let c = cells[i];
            bar.set_message(format!(
                "[{}/{}] {} {}",
                i + 1,
                cells.len(),
                cfg.topology.site_name(c.site),
                c.strategy.name()
            ));
        }
        bar.set_position(i as u64 * a.iterations + done);
    };
    let wallet = wallet_config(a)?;
    let (results, wallets) = match &wallet {
        None => (
            engine::run(&cfg, a.seed, a.iterations, &cells, &mut progress)?,
            Vec::new(),
        ),
        Some(w) => {
            let ws =
                engine::wallet::run_wallet(&cfg, w, a.seed, a.iterations, &cells, &mut progress)?;
            (ws.iter().map(|r| r.base.clone()).collect(), ws)
        }
    };
    bar.finish_and_clear();
    let rep = SimReport {
        seed: a.seed,
        iterations: a.iterations,
        cfg: &cfg,
        results: &results,
        wallets: &wallets,
        command: reproduce(a),
    };
    match a.format {
        Format::Table => report::table(&rep, out)?,
        Format::Json => report::json(&rep, out)?,
        Format::Csv => report::csv(&rep, out)?,
    }
    if let Some(dir) = &a.hgrm {
        crate::output::write_hgrm(dir, &report::sim_hgrm(&rep))?;
    }
    if let Some(path) = &a.report {
        let page = ::report::Report {
            command: rep.command.clone(),
            seed: a.seed,
            figures: ::report::Figures::Sim(report::sim_figures(&rep)),
        };
        crate::output::write_report(path, &page, a.quiet)?;
    }
    // A broken money invariant is a failed run, whatever the format.
    if let Some(bad) = wallets
        .iter()
        .find(|w| !w.invariants.ok() || w.stats.staleness_order_violations > 0)
    {
        let first = bad.invariants.first().map_or_else(
            || {
                format!(
                    "{} reads returned data older than the staleness their replica reported",
                    bad.stats.staleness_order_violations
                )
            },
            |b| b.to_string(),
        );
        eprintln!(
            "error: money invariants broken ({} breaches) in cell {} / {}; first: {first}",
            bad.invariants.breach_count,
            cfg.topology.site_name(bad.base.cell.site),
            bad.base.cell.strategy.name(),
        );
        eprintln!("reproduce with: {}", rep.command);
        return Ok(Verdict::MoneyBroken);
    }
    Ok(Verdict::Clean)
}
