//! `kata86 sim`: arguments → configuration → run → report.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use engine::multi::WritePath;
use engine::wallet::{Popularity, ReadYourWrites, WalletConfig};
use engine::{Cell, QuorumSpec, SimConfig};
use replication::{EpisodicLag, IidLag, LagModel};
use routing::{duration, ReadPolicy, ReadStrategy, WritePolicy};

use crate::args::{Format, Model, Ryw, SimArgs, Workload};
use crate::files::Inputs;
use crate::{CliError, Verdict};
use output::sim::SimReport;

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
pub fn configure(a: &SimArgs, inputs: &Inputs) -> Result<(SimConfig, Vec<Cell>), CliError> {
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
    let from_file = match &a.scenario {
        Some(path) => {
            if a.jitter != 0.0 {
                return Err(CliError::Usage(
                    "--jitter applies to a built-in world or a topology file; a scenario file \
                     sets its own (`jitter_ms` in its [topology])"
                        .into(),
                ));
            }
            let cfg = crate::files::read_scenario_from(inputs, path, a.allow_long)?;
            if !cfg.faults.is_empty() || !cfg.flags.is_empty() {
                return Err(CliError::Usage(format!(
                    "{} has a timeline ({} fault(s), {} flag window(s)), and sim plays steady \
                     state only: play the file with `kata86 drill --scenario {}`, or give sim a \
                     file without [[fault]] and [[flag]] entries",
                    path.display(),
                    cfg.faults.len(),
                    cfg.flags.len(),
                    path.display()
                )));
            }
            Some(cfg)
        }
        None => None,
    };
    let topology = match (&a.topology, &from_file) {
        (_, Some(cfg)) => cfg.topology.clone(),
        (Some(path), None) => {
            let text = inputs.text(path, "topology")?;
            scenario::parse_topology(&text, a.jitter)
                .map_err(|e| crate::files::located(&path.display().to_string(), e))?
        }
        (None, None) => crate::args::world(a.world)
            .builder()
            .jitter_ms(a.jitter)
            .build()?,
    };
    let leader = match (&a.leader, &from_file) {
        (Some(name), _) => topology.region(name)?,
        (None, Some(cfg)) => cfg.leader,
        (None, None) => topology.region("SG")?,
    };
    let lag = match &a.lag_from {
        Some(path) => {
            let text = inputs.text(path, "lag file")?;
            let file = replication::lagfile::read(&text)
                .map_err(|e| CliError::Usage(format!("--lag-from {}: {e}", path.display())))?;
            if let Some(w) = &file.world {
                let names = || topology.region_ids().map(|r| topology.region_name(r));
                let here = topology.region_name(leader);
                if !w.matches(names(), here) {
                    return Err(CliError::Usage(format!(
                        "--lag-from {}: fitted on regions {} with leader {}, and this run's world \
                         has regions {} with leader {here}. Run it on the world it was fitted on: \
                         add --topology {} --leader {} (`kata86 calibrate postgres --lag-out` \
                         writes that world beside the lag file), or delete the file's \
                         `# regions:` and `# leader:` lines to apply its apply-lag law to another \
                         world",
                        path.display(),
                        w.regions.join(","),
                        w.leader,
                        names().collect::<Vec<_>>().join(","),
                        calibrate::topology_path(path).display(),
                        w.leader,
                    )));
                }
            }
            LagModel::Empirical(file.law)
        }
        None => match model(a) {
            Model::Iid => LagModel::Iid(IidLag::default()),
            Model::Episodic => LagModel::Episodic(EpisodicLag::default()),
        },
    };
    let read = ReadPolicy {
        fallback_threshold: duration("--fallback-threshold", a.fallback_threshold)?,
        max_staleness: duration("--max-staleness", a.max_staleness)?,
    };
    let write = WritePolicy {
        deadline: duration("--deadline", a.deadline)?,
        commit: duration("--commit", a.commit)?,
    };
    let strategy_names: Vec<String> = a.strategies.iter().map(|s| s.to_string()).collect();
    for (flag, list) in [("--client", &a.clients), ("--strategy", &strategy_names)] {
        if let Some(twice) = list
            .iter()
            .enumerate()
            .find(|(i, x)| list[..*i].contains(x))
            .map(|(_, x)| x)
        {
            return Err(CliError::Usage(format!(
                "{flag} {twice} is given twice; give each once (its row would be printed twice)"
            )));
        }
    }
    let sites = if a.clients.is_empty() {
        topology.site_ids().collect()
    } else {
        a.clients
            .iter()
            .map(|c| topology.site(c))
            .collect::<Result<Vec<_>, _>>()?
    };
    let strategies = if a.strategies.is_empty() {
        match a.workload {
            Workload::Kata => ReadStrategy::ALL.to_vec(),
            Workload::Wallet => ReadStrategy::SINGLE_LEADER.to_vec(),
        }
    } else {
        a.strategies.iter().map(|s| s.engine()).collect()
    };
    let leaderless = strategies.iter().any(|s| s.is_leaderless());
    if leaderless && a.workload == Workload::Wallet {
        return Err(CliError::Usage(
            "the wallet workload replays a single leader's log and has no `quorum` strategy; \
             drop --strategy quorum, or run it on the kata loop (no --workload wallet)"
                .into(),
        ));
    }
    let quorum_flags = [
        ("--n", a.quorum_n.is_some()),
        ("--r", a.quorum_r.is_some()),
        ("--w", a.quorum_w.is_some()),
        ("--placement", a.placement.is_some()),
    ];
    if let Some((flag, _)) = quorum_flags.iter().find(|f| f.1 && !leaderless) {
        return Err(CliError::Usage(format!(
            "{flag} sets the leaderless quorum, and no `quorum` cell runs; add --strategy quorum \
             or drop {flag}"
        )));
    }
    let mut quorum = QuorumSpec::default();
    quorum.n = a.quorum_n.unwrap_or(quorum.n);
    quorum.r = a.quorum_r.unwrap_or(quorum.r);
    quorum.w = a.quorum_w.unwrap_or(quorum.w);
    if let Some(list) = &a.placement {
        quorum.placement = Some(crate::pbs::placement(&topology, list, quorum.n)?);
    }
    let cells: Vec<Cell> = sites
        .iter()
        .flat_map(|&site| {
            strategies
                .iter()
                .map(move |&strategy| Cell { site, strategy })
        })
        .collect();
    // The shared cost model (scenario::Work): kata requests are cheap, a
    // wallet's cost what its ledger does.
    let per_s = match a.workload {
        Workload::Kata => 5e7,
        Workload::Wallet => 3.8e6,
    };
    let work = scenario::Work::sim(a.iterations as f64 * cells.len() as f64, per_s);
    if let Some(why) = work.refusal(crate::files::length(a.allow_long)) {
        return Err(CliError::Usage(format!(
            "--iterations {} x {} cells = {why} (fewer iterations, clients or strategies)",
            a.iterations,
            cells.len(),
        )));
    }
    let cfg = SimConfig {
        topology,
        leader,
        lag,
        arrival_rate: a.rate,
        read,
        write,
        quorum,
        ..SimConfig::kata()
    };
    // A scenario's objectives replace the kata's, and --slo-file's both.
    let mut cfg = match from_file {
        Some(f) => SimConfig {
            slos: f.slos,
            ..cfg
        },
        None => cfg,
    };
    if let Some(path) = &a.slo_file {
        cfg.slos =
            crate::files::read_slo_file(inputs, path, crate::files::SLO_FILE, &cfg.topology)?.slos;
    }
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
        w.mix = mix
            .parse()
            .map_err(|e| CliError::Usage(format!("--mix: {e}")))?;
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

/// The command line that reproduces this run, with the defaults a future
/// version could change spelled out: the lag model, the leader and, when a
/// quorum cell runs, its N, R and W.
fn reproduce(a: &SimArgs) -> String {
    let mut v = serde_json::to_value(a).unwrap_or_default();
    if a.lag_from.is_none() {
        v["model"] = serde_json::json!(model(a));
    }
    if a.leader.is_none() && a.scenario.is_none() {
        v["leader"] = "SG".into();
    }
    let quorum_runs = if a.strategies.is_empty() {
        a.workload == Workload::Kata
    } else {
        a.strategies.contains(&crate::args::Strategy::Quorum)
    };
    if quorum_runs {
        let d = QuorumSpec::default();
        v["quorum_n"] = a.quorum_n.unwrap_or(d.n).into();
        v["quorum_r"] = a.quorum_r.unwrap_or(d.r).into();
        v["quorum_w"] = a.quorum_w.unwrap_or(d.w).into();
    }
    crate::echo::command("sim", &v)
}

/// `sim --workload wallet --write-path lww|crdt|escrow`: every site at once
/// on the multi-leader path, no fault, the multi-leader report.
fn run_multi(a: &SimArgs, path: WritePath, out: &mut dyn Write) -> Result<Verdict, CliError> {
    if a.ryw.is_some() {
        return Err(CliError::Usage(format!(
            "--ryw: --write-path {path} commits a site's charges in the region its reads go \
             to, so read-your-writes is not modelled separately; drop --ryw"
        )));
    }
    let strategy = match a.strategies.as_slice() {
        [] => None,
        [s] if engine::multi::READ_STRATEGIES.contains(&s.engine()) => Some(s.engine()),
        [s] => {
            return Err(CliError::Usage(format!(
                "--strategy {s}: --write-path {path} has no leader to read from and no read \
                 quorum; use --strategy local, bounded or fallback"
            )))
        }
        _ => {
            return Err(CliError::Usage(format!(
                "--write-path {path} plays every site at once with one read strategy; give \
                 one --strategy (local, bounded or fallback)"
            )))
        }
    };
    if !a.clients.is_empty() {
        return Err(CliError::Usage(format!(
            "--write-path {path} runs every site at once (regions merge each other's writes); \
             drop --client"
        )));
    }
    if a.common.format == Format::Csv {
        return Err(CliError::Usage(
            "a multi-leader report comes as --format table or json".into(),
        ));
    }
    if a.sharding.shard.is_some() || a.sharding.out.is_some() {
        return Err(CliError::Usage(format!(
            "--shard and --out split the kata workload; --write-path {path} is not split (drop \
             --shard and --out)"
        )));
    }
    if a.common.report.is_some() || a.hgrm.is_some() {
        return Err(CliError::Usage(format!(
            "--report and --hgrm are not written for --write-path {path}; use `kata86 compare \
             --report FILE.html` for the multi-leader paths side by side, or drop them"
        )));
    }
    let (cfg, _) = configure(a, &Inputs::disk())?;
    let w = wallet_config(a)?.expect("--write-path was checked to go with the wallet");
    let mut m = engine::wallet::multi_config(&cfg, &w, a.iterations, path)?;
    if let Some(s) = strategy {
        m.drill.strategy = s;
    }
    let rs = engine::multi::run_multis(&m, a.common.seed, 1)?;
    let command = reproduce(a);
    let judged = engine::multi::judge(&m.drill, &rs);
    crate::multi::render(&m, &rs, &judged, &command, a.common.format, out)
}

/// Runs `kata86 sim` and writes its report to `out` (or, with `--shard` or
/// `--out`, its share of the work to a shard file).
pub fn run(a: &SimArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let path = a.write_path.map_or(WritePath::SingleLeader, |p| p.engine());
    if a.write_path.is_some() && a.workload != Workload::Wallet {
        return Err(CliError::Usage(
            "--write-path applies to the wallet workload (the kata's loop has one leader); \
             add --workload wallet, or use `kata86 drill --write-path`"
                .into(),
        ));
    }
    if !path.has_leader() {
        return run_multi(a, path, out);
    }
    let inputs = Inputs::disk();
    let (cfg, cells) = configure(a, &inputs)?;
    crate::output::check_all(
        a.common.report.as_ref(),
        a.hgrm.as_ref(),
        a.sharding.out.as_ref(),
        &[("--topology", a.topology.as_ref())],
    )?;
    let shard = crate::shard::requested(a.sharding.shard.as_deref(), a.sharding.out.as_deref())?;
    let wallet = wallet_config(a)?;
    if shard.is_some() && wallet.is_some() {
        return Err(CliError::Usage(
            "--shard and --out apply to the kata workload; a --workload wallet run is not \
             split (drop --shard and --out)"
                .into(),
        ));
    }
    let total = cells.len();
    let whole = shard.map_or(engine::Shard::WHOLE, |(s, _)| s);
    // Kata cells run in parallel chunks: one bar for the whole run.
    let all = match wallet {
        None => engine::kata_units(a.iterations, total)
            .enumerate()
            .filter(|(t, _)| whole.owns(*t as u64))
            .map(|(_, (_, _, len))| len)
            .sum::<u64>(),
        Some(_) => total as u64 * a.iterations,
    }
    .max(1);
    let bar = crate::output::bar(
        a.common.quiet,
        all,
        "{bar:40} {percent:>3}% {msg} {elapsed}",
    );
    bar.set_message(format!("[{total} cells]"));
    let done = AtomicU64::new(0);
    let kata_progress = |d: u64| {
        bar.set_position(done.fetch_add(d, Ordering::Relaxed) + d);
    };
    if let Some((shard, file)) = shard {
        let parts = engine::run_share(
            &cfg,
            a.common.seed,
            a.iterations,
            &cells,
            shard,
            &kata_progress,
        )?;
        bar.finish_and_clear();
        crate::shard::write_sim(a, &inputs, shard, &cfg, &parts, file)?;
        return Ok(Verdict::Clean);
    }
    let mut last = usize::MAX;
    let mut wallet_progress = |i: usize, done: u64| {
        if i != last {
            last = i;
            let c = cells[i];
            bar.set_message(format!(
                "[{}/{}] {} {}",
                i + 1,
                total,
                cfg.topology.site_name(c.site),
                c.strategy.name()
            ));
        }
        bar.set_position(i as u64 * a.iterations + done);
    };
    let (results, wallets) = match &wallet {
        None => (
            engine::run(&cfg, a.common.seed, a.iterations, &cells, &kata_progress)?,
            Vec::new(),
        ),
        Some(w) => {
            let ws = engine::wallet::run_wallet(
                &cfg,
                w,
                a.common.seed,
                a.iterations,
                &cells,
                &mut wallet_progress,
            )?;
            (ws.iter().map(|r| r.base.clone()).collect(), ws)
        }
    };
    bar.finish_and_clear();
    render(a, &cfg, &results, &wallets, out)
}

/// Writes the report in `a.common.format` (and the `--report` page and `--hgrm`
/// files when asked) and returns the verdict: the same for a run and for the
/// merge of its shards.
pub fn render(
    a: &SimArgs,
    cfg: &SimConfig,
    results: &[engine::CellResult],
    wallets: &[engine::wallet::WalletResult],
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let rep = SimReport {
        seed: a.common.seed,
        iterations: a.iterations,
        cfg,
        results,
        wallets,
        command: reproduce(a),
    };
    match a.common.format {
        Format::Table => output::sim::table(&rep, out)?,
        Format::Json => output::sim::json(&rep, out)?,
        Format::Csv => output::sim::csv(&rep, out)?,
    }
    if let Some(dir) = &a.hgrm {
        crate::output::write_hgrm(dir, &output::hgrm::sim(&rep))?;
    }
    if let Some(path) = &a.common.report {
        let figures = report::Figures::Sim(output::html::sim(&rep));
        crate::output::write_page(
            path,
            rep.command.clone(),
            a.common.seed,
            figures,
            a.common.quiet,
        )?;
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
