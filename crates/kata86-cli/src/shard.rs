//! Shard files on disk: `kata86 sim|drill|plan ... --shard I/N --out FILE`
//! writes one share of a run, `kata86 merge FILES...` prints exactly what
//! the unsharded run prints.
//!
//! The file's layout, its digest, every check on a file and on a set of
//! files, and the merge of the shares live in the `shard` crate, which
//! treats a shard file as untrusted input and takes bytes, never a path.
//! This module keeps what is the command line's: `--shard`/`--out`, reading
//! each file (at most [`::shard::MAX_SHARD_BYTES`]) and writing one, the
//! stored arguments turned back into the command's options and its
//! configuration, the rendering, and the errors' exit codes. The merge
//! writes only the paths on its own command line (`--report`, `--hgrm`); a
//! shard file carries no output path.

use std::io::Write;
use std::path::Path;

use ::shard::{Command, Header, ShardDoc, ShardSet};
use engine::Shard;

use crate::args::{DrillArgs, Format, MergeArgs, PlanArgs, ReportFormat, SimArgs};
use crate::files::Inputs;
use crate::{CliError, Verdict};

/// `--shard I/N` and `--out FILE` → the shard to run and where to write
/// it; `None` for an ordinary run. `--out` alone is shard 0/1.
pub fn requested<'p>(
    shard: Option<&str>,
    out: Option<&'p Path>,
) -> Result<Option<(Shard, &'p Path)>, CliError> {
    let Some(file) = out else {
        return match shard {
            // clap requires --out with --shard; kept for callers that build
            // arguments by hand.
            Some(_) => Err(CliError::Usage(
                "--shard needs --out FILE: where to write the shard".into(),
            )),
            None => Ok(None),
        };
    };
    let Some(text) = shard else {
        return Ok(Some((Shard::WHOLE, file)));
    };
    // "shard ..." as the flag: "--shard `x`: write INDEX/COUNT ...".
    let shard = Shard::parse(text).map_err(|e| CliError::Usage(format!("--{e}")))?;
    Ok(Some((shard, file)))
}

/// An error of the run a shard file's arguments and inputs describe, with
/// the file's name in front.
fn in_file(file: &str, e: impl Into<CliError>) -> CliError {
    let e: CliError = e.into();
    CliError::Usage(format!("{file}: its arguments: {e}"))
}

/// The header every shard file of the command `args` carries.
fn header<T: serde::Serialize>(args: &T, inputs: &Inputs, seed: u64, shard: Shard) -> Header {
    Header {
        arguments: serde_json::to_value(args).expect("plain data serializes"),
        inputs: inputs.texts(),
        seed,
        shard,
    }
}

/// Writes a shard file through a temporary file in its directory (a
/// failure is the report failing to be written) and says so on stderr.
fn write(
    command: &str,
    quiet: bool,
    shard: Shard,
    bytes: &[u8],
    file: &Path,
) -> Result<(), CliError> {
    crate::output::write_atomic("--out", file, bytes)?;
    if !quiet {
        eprintln!(
            "kata86 {command}: shard {}/{} written to {}",
            shard.index(),
            shard.count(),
            file.display()
        );
    }
    Ok(())
}

/// Writes the share of a `sim` run.
pub fn write_sim(
    a: &SimArgs,
    inputs: &Inputs,
    shard: Shard,
    cfg: &engine::SimConfig,
    parts: &[engine::CellResult],
    file: &Path,
) -> Result<(), CliError> {
    let bytes = ::shard::sim_file(header(a, inputs, a.common.seed, shard), cfg, parts);
    write("sim", a.common.quiet, shard, &bytes, file)
}

/// Writes the share of a drill's runs.
pub fn write_drill(
    a: &DrillArgs,
    inputs: &Inputs,
    shard: Shard,
    shares: &[engine::drill::DrillShare],
    file: &Path,
) -> Result<(), CliError> {
    let bytes = ::shard::drill_file(header(a, inputs, a.common.seed, shard), shares);
    write("drill", a.common.quiet, shard, &bytes, file)
}

/// Writes the share of a `plan`.
pub fn write_plan(
    a: &PlanArgs,
    inputs: &Inputs,
    shard: Shard,
    results: &[(usize, ::plan::UnitResult)],
    file: &Path,
) -> Result<(), CliError> {
    let bytes = ::shard::plan_file(header(a, inputs, a.common.seed, shard), results);
    write("plan", a.common.quiet, shard, &bytes, file)
}

/// Reads one shard file, at most [`::shard::MAX_SHARD_BYTES`] and one byte
/// more (the `shard` crate refuses a file over the cap), and checks it.
fn read_shard(file: &Path) -> Result<ShardDoc, CliError> {
    use std::io::Read;
    let cannot = |e: std::io::Error| {
        CliError::Usage(format!("cannot read shard file {}: {e}", file.display()))
    };
    let f = std::fs::File::open(file).map_err(cannot)?;
    let mut bytes = Vec::new();
    f.take(::shard::MAX_SHARD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    Ok(::shard::parse(&file.display().to_string(), &bytes)?)
}

/// Runs `kata86 merge`: its outputs are the paths on its own command line,
/// never a path a shard file names.
pub fn merge(m: &MergeArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    crate::output::check_report(m.report.as_ref())?;
    crate::output::check_hgrm(m.hgrm.as_ref())?;
    let inputs: Vec<(&str, &Path)> = m
        .files
        .iter()
        .map(|f| ("shard file", f.as_path()))
        .collect();
    let mut outputs: Vec<(&str, &Path)> = Vec::new();
    if let Some(r) = &m.report {
        outputs.push(("--report", r));
    }
    if let Some(h) = &m.hgrm {
        outputs.push(("--hgrm", h));
    }
    crate::output::check_outputs(&outputs, &inputs)?;
    let set = ::shard::check_set(m.files.len(), m.files.iter().map(|f| read_shard(f)))?;
    match set.command() {
        Command::Sim => merge_sim(m, &set, out),
        Command::Drill => merge_drill(m, &set, out),
        Command::Plan => merge_plan(m, &set, out),
    }
}

fn merge_sim(m: &MergeArgs, set: &ShardSet, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let mut a: SimArgs = set.arguments()?;
    a.common.format = m.format;
    a.common.quiet = true;
    a.common.report = m.report.clone();
    a.hgrm = m.hgrm.clone();
    let inputs = Inputs::stored(set.inputs().clone());
    let (cfg, cells) =
        crate::sim::configure(&a, &inputs).map_err(|e| in_file(set.first_name(), e))?;
    let sum = set.merge_sim(&cfg, &cells, a.iterations, a.common.seed)?;
    crate::sim::render(&a, &cfg, &sum, &[], out)
}

fn merge_drill(m: &MergeArgs, set: &ShardSet, out: &mut dyn Write) -> Result<Verdict, CliError> {
    if m.format == Format::Csv {
        return Err(CliError::Usage(
            "drill reports come as --format table or json".into(),
        ));
    }
    let mut a: DrillArgs = set.arguments()?;
    a.common.format = ReportFormat::table_or_json(m.format);
    a.common.quiet = true;
    a.common.report = m.report.clone();
    a.hgrm = m.hgrm.clone();
    let inputs = Inputs::stored(set.inputs().clone());
    let plan = crate::drill::plan(&a, &inputs).map_err(|e| in_file(set.first_name(), e))?;
    let sites = plan.cfg.topology.site_ids().count();
    let results = set.merge_drill(&plan.configs, plan.runs, sites, a.common.seed)?;
    crate::drill::render(&a, &plan, &results, out)
}

fn merge_plan(m: &MergeArgs, set: &ShardSet, out: &mut dyn Write) -> Result<Verdict, CliError> {
    if m.format == Format::Csv {
        return Err(CliError::Usage(
            "a plan comes as --format table or json".into(),
        ));
    }
    if m.hgrm.is_some() {
        return Err(CliError::Usage(
            "--hgrm: a plan keeps no histograms to write; merge `sim` or `drill` shards for \
             .hgrm files, or drop --hgrm (--report FILE.html works on a plan)"
                .into(),
        ));
    }
    let f0 = set.first_name();
    let mut a: PlanArgs = set.arguments()?;
    a.common.format = ReportFormat::table_or_json(m.format);
    a.common.quiet = true;
    a.common.report = m.report.clone();
    let priorities = ::plan::Metric::priorities(&a.priorities).map_err(|e| in_file(f0, e))?;
    let inputs = Inputs::stored(set.inputs().clone());
    let space = crate::plan::space(&a, &inputs).map_err(|e| in_file(f0, e))?;
    let all = ::plan::units(&space).map_err(|e| in_file(f0, e))?;
    let evals = set.merge_plan(&space, &all)?;
    crate::plan::render(&a, &space, &priorities, &evals, out)
}
