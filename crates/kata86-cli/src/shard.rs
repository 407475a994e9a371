//! Shard files: `kata86 sim|drill ... --shard I/N --out FILE` writes one
//! share of a run, `kata86 merge FILES...` prints exactly what the
//! unsharded run prints.
//!
//! A shard file is one JSON document: the format and its version, the
//! kata86 version, the command, its canonical arguments (every option that
//! shapes the output; not `--shard`, `--out`, `--format` or `--quiet`), the
//! texts of the files it read (`--topology`, `--scenario`), the seed, N, I,
//! and the partial results. Histograms travel as base64 of HdrHistogram's
//! V2 deflate encoding with their saturated count beside them; counters as
//! integers. The merge checks that the files belong together and that each
//! index 0..N-1 appears exactly once, adds the shares (histogram counts and
//! counters are integers: the sum does not depend on the order) and renders
//! them with the unsharded command's own report code.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use engine::drill::{replay_first, DrillRuns, DrillShare, RunRecord, SiteWindow, Window};
use engine::{judge_cell, Cell, CellResult, Shard, SimConfig};
use metrics::LatencyHistogram;
use serde::{Deserialize, Serialize};

use crate::args::{DrillArgs, Format, MergeArgs, PlanArgs, SimArgs};
use crate::files::Inputs;
use crate::{CliError, Verdict};

/// The `format` field of every shard file.
const FORMAT: &str = "kata86-shard";
/// The version of the layout below; a merge reads only its own.
const FORMAT_VERSION: u32 = 1;
/// The kata86 version: shards of different versions are never merged.
const VERSION: &str = env!("CARGO_PKG_VERSION");

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
    let bad = || {
        CliError::Usage(format!(
            "--shard `{text}`: write INDEX/COUNT, e.g. --shard 0/4 for the first of 4 shards \
             (INDEX from 0 to COUNT-1)"
        ))
    };
    let (i, n) = text.split_once('/').ok_or_else(bad)?;
    let i: u32 = i.trim().parse().map_err(|_| bad())?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    if !(1..=Shard::MAX_COUNT).contains(&n) {
        return Err(CliError::Usage(format!(
            "--shard {i}/{n}: the number of shards must be from 1 to {}",
            Shard::MAX_COUNT
        )));
    }
    if i >= n {
        return Err(CliError::Usage(format!(
            "--shard {i}/{n}: the index must be from 0 to {} (shards are numbered from 0, like \
             Kubernetes' JOB_COMPLETION_INDEX)",
            n - 1
        )));
    }
    Ok(Some((Shard::new(i, n)?, file)))
}

/// One shard file.
#[derive(Debug, Serialize, Deserialize)]
struct ShardFile {
    /// Always [`FORMAT`].
    format: String,
    /// [`FORMAT_VERSION`].
    format_version: u32,
    /// The kata86 that wrote it.
    kata86_version: String,
    /// `sim` or `drill`.
    command: String,
    /// The canonical arguments: the command's options less `--shard`,
    /// `--out`, `--format` and `--quiet`.
    arguments: serde_json::Value,
    /// The texts of the files the command read, by kind.
    inputs: BTreeMap<String, String>,
    /// The master seed.
    seed: u64,
    /// N.
    shards: u32,
    /// I, from 0 to N-1.
    shard: u32,
    /// How the work is split, for people reading the file.
    split: String,
    /// The partial results, by command.
    result: serde_json::Value,
}

/// A histogram: base64 of its V2 deflate encoding and the values over its
/// maximum.
#[derive(Debug, Serialize, Deserialize)]
struct HistFile {
    saturated: u64,
    v2_deflate_base64: String,
}

impl HistFile {
    fn of(h: &LatencyHistogram) -> HistFile {
        HistFile {
            saturated: h.saturated(),
            v2_deflate_base64: base64::engine::general_purpose::STANDARD.encode(h.to_v2_deflate()),
        }
    }

    fn read(&self, file: &Path) -> Result<LatencyHistogram, CliError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.v2_deflate_base64)
            .map_err(|e| corrupt(file, &format!("a histogram is not base64: {e}")))?;
        LatencyHistogram::from_v2_deflate(&bytes, self.saturated)
            .map_err(|e| corrupt(file, &e.to_string()))
    }
}

fn corrupt(file: &Path, why: &str) -> CliError {
    CliError::Usage(format!(
        "{} is not a readable kata86 shard file: {why}",
        file.display()
    ))
}

/// The share of one `sim` cell.
#[derive(Debug, Serialize, Deserialize)]
struct CellFile {
    client: String,
    strategy: String,
    read: HistFile,
    write: HistFile,
    staleness: HistFile,
    reads: u64,
    stale_reads: u64,
    over_bound_reads: u64,
    leader_reads: u64,
    forced_to_leader: u64,
    charges: u64,
    charges_rejected: u64,
    charges_timed_out: u64,
    simulated_us: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SimResultFile {
    chunk_requests: u64,
    cells: Vec<CellFile>,
}

/// Writes `file` as JSON; a failure is the report failing to be written.
fn write_file(doc: &ShardFile, file: &Path) -> Result<(), CliError> {
    let in_context = |e: std::io::Error| {
        CliError::Io(std::io::Error::new(
            e.kind(),
            format!("{}: {e}", file.display()),
        ))
    };
    let mut f = std::io::BufWriter::new(std::fs::File::create(file).map_err(in_context)?);
    serde_json::to_writer(&mut f, doc).map_err(|e| in_context(e.into()))?;
    writeln!(f).map_err(in_context)?;
    f.flush().map_err(in_context)
}

fn split(shard: Shard, unit: &str) -> String {
    format!(
        "{unit} u (from 0) is run by shard u mod {}; this is shard {}",
        shard.count(),
        shard.index()
    )
}

/// Writes the share of a `sim` run.
pub fn write_sim(
    a: &SimArgs,
    inputs: &Inputs,
    shard: Shard,
    cfg: &SimConfig,
    parts: &[CellResult],
    file: &Path,
) -> Result<(), CliError> {
    let t = &cfg.topology;
    let result = SimResultFile {
        chunk_requests: engine::CHUNK,
        cells: parts
            .iter()
            .map(|c| CellFile {
                client: t.site_name(c.cell.site).to_string(),
                strategy: c.cell.strategy.name().to_string(),
                read: HistFile::of(&c.read),
                write: HistFile::of(&c.write),
                staleness: HistFile::of(&c.staleness),
                reads: c.reads,
                stale_reads: c.stale_reads,
                over_bound_reads: c.over_bound_reads,
                leader_reads: c.leader_reads,
                forced_to_leader: c.forced_to_leader,
                charges: c.charges,
                charges_rejected: c.charges_rejected,
                charges_timed_out: c.charges_timed_out,
                simulated_us: c.simulated,
            })
            .collect(),
    };
    let doc = ShardFile {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        kata86_version: VERSION.into(),
        command: "sim".into(),
        arguments: to_value(a),
        inputs: inputs.texts(),
        seed: a.seed,
        shards: shard.count(),
        shard: shard.index(),
        split: split(
            shard,
            "chunk unit (cell c, chunk k; u = c x chunks per cell + k; 2^20 requests a chunk)",
        ),
        result: to_value(&result),
    };
    write_file(&doc, file)?;
    if !a.quiet {
        eprintln!(
            "kata86 sim: shard {}/{} written to {}",
            shard.index(),
            shard.count(),
            file.display()
        );
    }
    Ok(())
}

fn to_value<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("plain data serializes")
}

/// One run's record.
#[derive(Debug, Serialize, Deserialize)]
struct RunFile {
    index: u32,
    seed: u64,
    onset: u64,
    rto_by_site: Vec<Option<u64>>,
    rto_worst: Option<u64>,
    rpo: u64,
    lost_acknowledged_charges: u64,
    lost_amount: i64,
    lost_acknowledged_top_ups: u64,
    lost_top_up_amount: i64,
    overspend_incidents: u64,
    duplicate_effects: u64,
    availability_by_site: Vec<Option<f64>>,
    time_to_detect: Option<u64>,
    lease_overlap: u64,
    false_alarms: Vec<String>,
    quiet_time: u64,
    defect: Option<String>,
    invariants_ok: bool,
}

/// One client site's window, pooled over the shard's runs.
#[derive(Debug, Serialize, Deserialize)]
struct SiteWindowFile {
    read: HistFile,
    write: HistFile,
    reported_staleness: HistFile,
    data_age: HistFile,
    reads: u64,
    failed_reads: u64,
    reads_behind: u64,
    reads_over_bound: u64,
    leader_reads: u64,
    forced_to_leader: u64,
}

/// The share of one drill configuration.
#[derive(Debug, Serialize, Deserialize)]
struct DrillShareFile {
    runs: Vec<RunFile>,
    during: Vec<SiteWindowFile>,
    outside: Vec<SiteWindowFile>,
    follower_reads: u64,
    underreported_reads: u64,
    staleness_error: HistFile,
}

#[derive(Debug, Serialize, Deserialize)]
struct DrillResultFile {
    /// One per configuration played (one; two for clock-skew's clocks;
    /// nine for --matrix), in report order.
    configurations: Vec<DrillShareFile>,
}

fn window_file(w: &Window) -> Vec<SiteWindowFile> {
    w.sites
        .iter()
        .map(|s| SiteWindowFile {
            read: HistFile::of(&s.read),
            write: HistFile::of(&s.write),
            reported_staleness: HistFile::of(&s.reported_staleness),
            data_age: HistFile::of(&s.data_age),
            reads: s.reads,
            failed_reads: s.failed_reads,
            reads_behind: s.reads_behind,
            reads_over_bound: s.reads_over_bound,
            leader_reads: s.leader_reads,
            forced_to_leader: s.forced_to_leader,
        })
        .collect()
}

fn read_window(w: &[SiteWindowFile], file: &Path) -> Result<Window, CliError> {
    let sites = w
        .iter()
        .map(|s| {
            Ok(SiteWindow {
                read: s.read.read(file)?,
                write: s.write.read(file)?,
                reported_staleness: s.reported_staleness.read(file)?,
                data_age: s.data_age.read(file)?,
                reads: s.reads,
                failed_reads: s.failed_reads,
                reads_behind: s.reads_behind,
                reads_over_bound: s.reads_over_bound,
                leader_reads: s.leader_reads,
                forced_to_leader: s.forced_to_leader,
            })
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    Ok(Window {
        sites,
        slo: Vec::new(),
    })
}

/// Writes the share of a drill's runs.
pub fn write_drill(
    a: &DrillArgs,
    inputs: &Inputs,
    shard: Shard,
    shares: &[DrillShare],
    file: &Path,
) -> Result<(), CliError> {
    let result = DrillResultFile {
        configurations: shares
            .iter()
            .map(|s| DrillShareFile {
                runs: s
                    .records
                    .iter()
                    .map(|(i, r)| RunFile {
                        index: *i,
                        seed: r.seed,
                        onset: r.onset,
                        rto_by_site: r.rto_by_site.clone(),
                        rto_worst: r.rto_worst,
                        rpo: r.rpo,
                        lost_acknowledged_charges: r.lost_acknowledged_charges,
                        lost_amount: r.lost_amount,
                        lost_acknowledged_top_ups: r.lost_acknowledged_top_ups,
                        lost_top_up_amount: r.lost_top_up_amount,
                        overspend_incidents: r.overspend_incidents,
                        duplicate_effects: r.duplicate_effects,
                        availability_by_site: r.availability_by_site.clone(),
                        time_to_detect: r.time_to_detect,
                        lease_overlap: r.lease_overlap,
                        false_alarms: r.false_alarms.clone(),
                        quiet_time: r.quiet_time,
                        defect: r.defect.clone(),
                        invariants_ok: r.invariants_ok,
                    })
                    .collect(),
                during: window_file(&s.during),
                outside: window_file(&s.outside),
                follower_reads: s.follower_reads,
                underreported_reads: s.underreported_reads,
                staleness_error: HistFile::of(&s.staleness_error),
            })
            .collect(),
    };
    let doc = ShardFile {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        kata86_version: VERSION.into(),
        command: "drill".into(),
        arguments: to_value(a),
        inputs: inputs.texts(),
        seed: a.seed,
        shards: shard.count(),
        shard: shard.index(),
        split: split(shard, "run"),
        result: to_value(&result),
    };
    write_file(&doc, file)?;
    if !a.quiet {
        eprintln!(
            "kata86 drill: shard {}/{} written to {}",
            shard.index(),
            shard.count(),
            file.display()
        );
    }
    Ok(())
}

/// Reads and checks one shard file.
fn read_shard(file: &Path) -> Result<ShardFile, CliError> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("cannot read shard file {}: {e}", file.display())))?;
    let doc: ShardFile = serde_json::from_str(&text).map_err(|e| {
        CliError::Usage(format!(
            "{} is not a kata86 shard file (written by `kata86 sim|drill --shard I/N --out \
             FILE`): {e}",
            file.display()
        ))
    })?;
    if doc.format != FORMAT {
        return Err(corrupt(file, &format!("its format is `{}`", doc.format)));
    }
    if doc.format_version != FORMAT_VERSION {
        return Err(CliError::Usage(format!(
            "{} is in shard format {}; this kata86 ({VERSION}) reads format {FORMAT_VERSION}: \
             merge with the kata86 that wrote it",
            file.display(),
            doc.format_version
        )));
    }
    if doc.kata86_version != VERSION {
        return Err(CliError::Usage(format!(
            "{} was written by kata86 {}, this is kata86 {VERSION}: run every shard and the \
             merge with one version",
            file.display(),
            doc.kata86_version
        )));
    }
    if doc.shards == 0 || doc.shard >= doc.shards {
        return Err(corrupt(
            file,
            &format!("shard {}/{} is not a shard", doc.shard, doc.shards),
        ));
    }
    Ok(doc)
}

/// The top-level keys on which two argument objects differ.
fn differing_keys(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (a, b) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("--{}", k.replace('_', "-")))
        .collect()
}

/// Checks that the files are the shards 0..N-1 of one run, each once, and
/// returns them in shard order.
fn check_set(files: &[PathBuf]) -> Result<Vec<(PathBuf, ShardFile)>, CliError> {
    let docs = files
        .iter()
        .map(|f| Ok((f.clone(), read_shard(f)?)))
        .collect::<Result<Vec<_>, CliError>>()?;
    let (f0, d0) = &docs[0];
    let show = |p: &Path| p.display().to_string();
    for (f, d) in &docs[1..] {
        let pair = format!("{} and {}", show(f0), show(f));
        if d.command != d0.command {
            return Err(CliError::Usage(format!(
                "{pair} are shards of different commands (`kata86 {}` and `kata86 {}`): merge \
                 the shards of one run",
                d0.command, d.command
            )));
        }
        if d.seed != d0.seed {
            return Err(CliError::Usage(format!(
                "{pair} were run with different seeds ({} and {}): merge the shards of one run",
                d0.seed, d.seed
            )));
        }
        if d.arguments != d0.arguments {
            return Err(CliError::Usage(format!(
                "{pair} were run with different arguments ({} differ): merge the shards of one \
                 run",
                differing_keys(&d0.arguments, &d.arguments).join(", ")
            )));
        }
        if d.inputs != d0.inputs {
            return Err(CliError::Usage(format!(
                "{pair} read different input files (--topology / --scenario): merge the shards \
                 of one run"
            )));
        }
        if d.shards != d0.shards {
            return Err(CliError::Usage(format!(
                "{} is shard {}/{} but {} is shard {}/{}: merge the shards of one split",
                show(f0),
                d0.shard,
                d0.shards,
                show(f),
                d.shard,
                d.shards
            )));
        }
    }
    let n = d0.shards;
    let mut by_index: BTreeMap<u32, &Path> = BTreeMap::new();
    for (f, d) in &docs {
        if let Some(other) = by_index.insert(d.shard, f) {
            return Err(CliError::Usage(format!(
                "shard {}/{n} is given twice ({} and {}): give each shard once",
                d.shard,
                show(other),
                show(f)
            )));
        }
    }
    let missing: Vec<String> = (0..n)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(CliError::Usage(format!(
            "incomplete set: shard{} {} of {n} missing; give all {n} files of the run",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        )));
    }
    let mut docs = docs;
    docs.sort_by_key(|(_, d)| d.shard);
    Ok(docs)
}

/// The partial result of `doc`, in the command's layout.
fn result<T: for<'de> Deserialize<'de>>(doc: &ShardFile, file: &Path) -> Result<T, CliError> {
    T::deserialize(&doc.result).map_err(|e| corrupt(file, &e.to_string()))
}

/// The canonical arguments of `doc` as the command's options, with the
/// merge's output format.
fn arguments<T: for<'de> Deserialize<'de>>(doc: &ShardFile, file: &Path) -> Result<T, CliError> {
    T::deserialize(&doc.arguments).map_err(|e| corrupt(file, &e.to_string()))
}

/// Runs `kata86 merge`.
pub fn merge(m: &MergeArgs, out: &mut dyn Write) -> Result<Verdict, CliError> {
    let docs = check_set(&m.files)?;
    let (f0, d0) = &docs[0];
    match d0.command.as_str() {
        "sim" => merge_sim(m.format, &docs, out),
        "drill" => merge_drill(m.format, &docs, out),
        "plan" => merge_plan(m.format, &docs, out),
        other => Err(corrupt(f0, &format!("unknown command `{other}`"))),
    }
}

fn merge_sim(
    format: Format,
    docs: &[(PathBuf, ShardFile)],
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    let (f0, d0) = &docs[0];
    let mut a: SimArgs = arguments(d0, f0)?;
    a.format = format;
    a.quiet = true;
    let inputs = Inputs::stored(d0.inputs.clone());
    let (cfg, cells) = crate::sim::configure(&a, &inputs)?;
    let mut sum: Vec<CellResult> = cells.iter().map(|&c| CellResult::empty(c)).collect();
    for (f, d) in docs {
        let r: SimResultFile = result(d, f)?;
        if r.chunk_requests != engine::CHUNK || r.cells.len() != cells.len() {
            return Err(corrupt(f, "its cells do not match its arguments"));
        }
        for (total, c) in sum.iter_mut().zip(&r.cells) {
            let cell: Cell = total.cell;
            if c.client != cfg.topology.site_name(cell.site) || c.strategy != cell.strategy.name() {
                return Err(corrupt(f, "its cells do not match its arguments"));
            }
            total.merge(&CellResult {
                cell,
                read: c.read.read(f)?,
                write: c.write.read(f)?,
                staleness: c.staleness.read(f)?,
                reads: c.reads,
                stale_reads: c.stale_reads,
                over_bound_reads: c.over_bound_reads,
                leader_reads: c.leader_reads,
                forced_to_leader: c.forced_to_leader,
                charges: c.charges,
                charges_rejected: c.charges_rejected,
                charges_timed_out: c.charges_timed_out,
                simulated: c.simulated_us,
                slo: Vec::new(),
            });
        }
    }
    for c in &mut sum {
        if c.reads != a.iterations {
            return Err(CliError::Usage(format!(
                "the shards hold {} of the {} requests of cell {} / {}: a shard file is \
                 incomplete",
                c.reads,
                a.iterations,
                cfg.topology.site_name(c.cell.site),
                c.cell.strategy.name()
            )));
        }
        judge_cell(&cfg, c);
    }
    crate::sim::render(&a, &cfg, &sum, &[], out)
}

fn merge_drill(
    format: Format,
    docs: &[(PathBuf, ShardFile)],
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    if format == Format::Csv {
        return Err(CliError::Usage(
            "drill reports come as --format table or json".into(),
        ));
    }
    let (f0, d0) = &docs[0];
    let mut a: DrillArgs = arguments(d0, f0)?;
    a.format = format;
    a.quiet = true;
    let inputs = Inputs::stored(d0.inputs.clone());
    let plan = crate::drill::plan(&a, &inputs)?;
    let sites = plan.cfg.topology.site_ids().count();
    let mut shares: Vec<DrillShare> = plan
        .configs
        .iter()
        .map(|_| DrillShare::empty(sites))
        .collect();
    for (f, d) in docs {
        let r: DrillResultFile = result(d, f)?;
        if r.configurations.len() != shares.len() {
            return Err(corrupt(f, "its configurations do not match its arguments"));
        }
        for (total, c) in shares.iter_mut().zip(r.configurations) {
            if c.during.len() != sites || c.outside.len() != sites {
                return Err(corrupt(f, "its client sites do not match its arguments"));
            }
            let part = DrillShare {
                records: c.runs.into_iter().map(|r| (r.index, record(r))).collect(),
                during: read_window(&c.during, f)?,
                outside: read_window(&c.outside, f)?,
                follower_reads: c.follower_reads,
                underreported_reads: c.underreported_reads,
                staleness_error: c.staleness_error.read(f)?,
            };
            *total = std::mem::replace(total, DrillShare::empty(sites)).join(part);
        }
    }
    let mut results = Vec::with_capacity(shares.len());
    for (cfg, share) in plan.configs.iter().zip(shares) {
        let indices: Vec<u32> = share.records.iter().map(|(i, _)| *i).collect();
        if indices != (0..plan.runs).collect::<Vec<_>>() {
            return Err(CliError::Usage(format!(
                "the shards hold runs {} of the {} asked for: a shard file is incomplete",
                indices.len(),
                plan.runs
            )));
        }
        // The first run in full (timeline, alerts, runbook) is replayed:
        // one run, deterministic, so the same as the unsharded run's. Its
        // figures must be those the shard recorded.
        let (record, first) = replay_first(cfg, a.seed)?;
        if share.records.first().map(|(_, r)| r) != Some(&record) {
            return Err(CliError::Usage(format!(
                "run 0 replayed by this kata86 differs from the one in {}: the shards were                  written by another build of kata86 {VERSION}; merge with the binary that ran                  them",
                docs[0].0.display()
            )));
        }
        results.push(DrillRuns::assemble(cfg, first, share));
    }
    crate::drill::render(&a, &plan, &results, out)
}

fn record(r: RunFile) -> RunRecord {
    RunRecord {
        seed: r.seed,
        onset: r.onset,
        rto_by_site: r.rto_by_site,
        rto_worst: r.rto_worst,
        rpo: r.rpo,
        lost_acknowledged_charges: r.lost_acknowledged_charges,
        lost_amount: r.lost_amount,
        lost_acknowledged_top_ups: r.lost_acknowledged_top_ups,
        lost_top_up_amount: r.lost_top_up_amount,
        overspend_incidents: r.overspend_incidents,
        duplicate_effects: r.duplicate_effects,
        availability_by_site: r.availability_by_site,
        time_to_detect: r.time_to_detect,
        lease_overlap: r.lease_overlap,
        false_alarms: r.false_alarms,
        quiet_time: r.quiet_time,
        defect: r.defect,
        invariants_ok: r.invariants_ok,
    }
}

/// A plan shard's results: each unit it played, by its index in
/// `plan::units` order.
#[derive(Debug, Serialize, Deserialize)]
struct PlanResultFile {
    units: Vec<(usize, ::plan::UnitResult)>,
}

/// Writes the share of a `plan`.
pub fn write_plan(
    a: &PlanArgs,
    inputs: &Inputs,
    shard: Shard,
    results: &[(usize, ::plan::UnitResult)],
    file: &Path,
) -> Result<(), CliError> {
    let doc = ShardFile {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        kata86_version: VERSION.into(),
        command: "plan".into(),
        arguments: to_value(a),
        inputs: inputs.texts(),
        seed: a.seed,
        shards: shard.count(),
        shard: shard.index(),
        split: split(
            shard,
            "plan unit (a single-leader drill configuration of one scenario, or one \
             multi-leader or quorum design)",
        ),
        result: to_value(&PlanResultFile {
            units: results.to_vec(),
        }),
    };
    write_file(&doc, file)?;
    if !a.quiet {
        eprintln!(
            "kata86 plan: shard {}/{} written to {}",
            shard.index(),
            shard.count(),
            file.display()
        );
    }
    Ok(())
}

fn merge_plan(
    format: Format,
    docs: &[(PathBuf, ShardFile)],
    out: &mut dyn Write,
) -> Result<Verdict, CliError> {
    if format == Format::Csv {
        return Err(CliError::Usage(
            "a plan comes as --format table or json".into(),
        ));
    }
    let (f0, d0) = &docs[0];
    let mut a: PlanArgs = arguments(d0, f0)?;
    a.format = format;
    a.quiet = true;
    let priorities = ::plan::Metric::priorities(&a.priorities)?;
    let inputs = Inputs::stored(d0.inputs.clone());
    let space = crate::plan::space(&a, &inputs)?;
    let total = ::plan::units(&space)?.len();
    let mut all: Vec<Option<::plan::UnitResult>> = vec![None; total];
    for (f, d) in docs {
        let r: PlanResultFile = result(d, f)?;
        for (i, u) in r.units {
            let slot = all
                .get_mut(i)
                .ok_or_else(|| corrupt(f, &format!("unit {i} is not a unit of this plan")))?;
            if slot.replace(u).is_some() {
                return Err(corrupt(f, &format!("unit {i} is in two shards")));
            }
        }
    }
    let missing = all.iter().filter(|u| u.is_none()).count();
    if missing > 0 {
        return Err(CliError::Usage(format!(
            "the shards hold {} of the plan's {total} units: a shard file is incomplete",
            total - missing
        )));
    }
    let results: Vec<::plan::UnitResult> = all.into_iter().flatten().collect();
    let evals = ::plan::assemble(&space, &results)?;
    crate::plan::render(&a, &space, &priorities, &evals, out)
}
