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
//!
//! # A shard file is untrusted input
//! A file written yesterday, copied between machines, may be damaged or
//! edited; a merge trusts nothing in it that it can check:
//! - sizes before allocation: the file (at most [`MAX_SHARD_BYTES`]), the
//!   shard count (at most [`Shard::MAX_COUNT`], and as many files as it
//!   says), every histogram (decoded by [`LatencyHistogram::from_v2_deflate`],
//!   which checks the sizes its header declares), every argument string and
//!   list, every input text (the cap of a file read from disk);
//! - a SHA-256 content digest over everything else in the file (`digest`):
//!   it names a damaged file; it is no signature, so what follows stands
//!   without it;
//! - every counter against its total and its run size, with checked sums:
//!   each shard must hold exactly the requests (sim), runs (drill) or units
//!   (plan) its index owns, each histogram as many values as its counter;
//! - nothing stored as a summary is printed: percentiles come from the
//!   histograms, SLO verdicts are judged again on the merged data (a plan's
//!   stored verdicts re-judged from their observed figures), the topology
//!   and every label from the arguments and input texts;
//! - what cannot be re-derived (a drill run's record: RTO, RPO, money
//!   verdict; a plan unit) is checked by replaying a deterministic sample:
//!   run 0 of every configuration, and one unit of every shard (picked by
//!   the file's digest), compared with the file. A kata `sim` unit replayed
//!   must be covered, bucket by bucket, by its shard's histograms.
//!
//! Every refusal names the file and what is wrong, in a few lines.
//!
//! The merge writes only the paths on its own command line (`--report`,
//! `--hgrm`); a shard file carries no output path.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use engine::drill::{
    replay_first, run_drill_share, sli::SiteSli, DrillConfig, DrillRuns, DrillShare, RunRecord,
    SiteWindow, Window,
};
use engine::{judge_cell, CellResult, Shard, SimConfig};
use metrics::LatencyHistogram;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::args::{DrillArgs, Format, MergeArgs, PlanArgs, ReportFormat, SimArgs};
use crate::files::Inputs;
use crate::{CliError, Verdict};

/// The `format` field of every shard file.
const FORMAT: &str = "kata86-shard";
/// The version of the layout below; a merge reads only its own. Version 2
/// added the `digest` and dropped the output paths from the arguments.
const FORMAT_VERSION: u32 = 2;
/// The largest shard file a merge reads.
pub const MAX_SHARD_BYTES: u64 = 256 << 20;
/// The longest string an argument may hold, and the most items of a list.
const MAX_ARGUMENT_LEN: usize = 1024;
/// The longest text a run record carries (a defect, an alert name), and the
/// most alerts it lists.
const MAX_RECORD_TEXT: usize = 4096;
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
        let most = LatencyHistogram::MAX_V2_DEFLATE_BYTES.div_ceil(3) * 4;
        if self.v2_deflate_base64.len() > most {
            return Err(corrupt(
                file,
                &format!(
                    "a histogram of {} base64 characters, over the {most} a histogram can need",
                    self.v2_deflate_base64.len()
                ),
            ));
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.v2_deflate_base64)
            .map_err(|e| corrupt(file, &format!("a histogram is not base64: {e}")))?;
        LatencyHistogram::from_v2_deflate(&bytes, self.saturated)
            .map_err(|e| corrupt(file, &format!("a histogram: {e}")))
    }
}

fn corrupt(file: &Path, why: &str) -> CliError {
    CliError::Usage(format!(
        "{} is not a readable kata86 shard file: {why}",
        file.display()
    ))
}

/// An error of the run a shard file's arguments and inputs describe, with
/// the file's name in front.
fn in_file(file: &Path, e: impl Into<CliError>) -> CliError {
    let e: CliError = e.into();
    CliError::Usage(format!("{}: its arguments: {e}", file.display()))
}

/// A shard file whose content contradicts itself or its run.
fn tampered(file: &Path, why: &str) -> CliError {
    CliError::Usage(format!(
        "{}: {why}; the file was damaged or edited after it was written: run that shard again",
        file.display()
    ))
}

/// At most 60 characters of a string read from a file, for a message.
fn shown(s: &str) -> String {
    if s.chars().count() <= 80 {
        s.to_string()
    } else {
        format!(
            "{}… ({} bytes)",
            s.chars().take(60).collect::<String>(),
            s.len()
        )
    }
}

/// `sha256:` and the hex SHA-256 of `v` serialized (keys in order).
fn digest_of(v: &serde_json::Value) -> String {
    let bytes = serde_json::to_vec(v).expect("a JSON value serializes");
    let hash = Sha256::digest(&bytes);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
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

/// Writes `file` as JSON with its digest, through a temporary file in its
/// directory; a failure is the report failing to be written.
fn write_file(doc: &ShardFile, file: &Path) -> Result<(), CliError> {
    let mut value = to_value(doc);
    let digest = digest_of(&value);
    if let Some(map) = value.as_object_mut() {
        map.insert("digest".into(), digest.into());
    }
    let mut bytes = serde_json::to_vec(&value).expect("a JSON value serializes");
    bytes.push(b'\n');
    crate::output::write_atomic("--out", file, &bytes)
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
    not_completed_by_site: Vec<u64>,
    time_to_detect: Option<u64>,
    lease_overlap: u64,
    false_alarms: Vec<String>,
    quiet_time: u64,
    defect: Option<String>,
    invariants_ok: bool,
    sli: Vec<SiteSli>,
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
                runs: s.records.iter().map(|(i, r)| run_file(*i, r)).collect(),
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

/// A shard file read back, with its digest.
struct Doc {
    file: PathBuf,
    doc: ShardFile,
    /// The first 8 bytes of its digest: what picks its replayed unit.
    pick: u64,
}

/// Reads and checks one shard file: its size, its format and version, its
/// digest, its header's numbers and the size of every string it carries.
fn read_shard(file: &Path) -> Result<Doc, CliError> {
    use std::io::Read;
    let cannot = |e: std::io::Error| {
        CliError::Usage(format!("cannot read shard file {}: {e}", file.display()))
    };
    let f = std::fs::File::open(file).map_err(cannot)?;
    let mut bytes = Vec::new();
    f.take(MAX_SHARD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_SHARD_BYTES {
        return Err(corrupt(
            file,
            &format!(
                "it is over {} MiB, more than any shard kata86 writes",
                MAX_SHARD_BYTES >> 20
            ),
        ));
    }
    let not_shard = |why: String| {
        CliError::Usage(format!(
            "{} is not a kata86 shard file (written by `kata86 sim|drill|plan --shard I/N --out \
             FILE`): {why}",
            file.display()
        ))
    };
    let mut value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| not_shard(e.to_string()))?;
    drop(bytes);
    let Some(map) = value.as_object_mut() else {
        return Err(not_shard("it is not a JSON object".into()));
    };
    match map.get("format").and_then(|f| f.as_str()) {
        Some(FORMAT) => {}
        Some(other) => return Err(not_shard(format!("its format is `{}`", shown(other)))),
        None => return Err(not_shard("it has no `format`".into())),
    }
    let version = map.get("format_version").and_then(|v| v.as_u64());
    if version != Some(u64::from(FORMAT_VERSION)) {
        return Err(CliError::Usage(format!(
            "{} is in shard format {}; this kata86 ({VERSION}) reads format {FORMAT_VERSION}: \
             merge with the kata86 that wrote it",
            file.display(),
            version.map_or_else(|| "(none)".into(), |v| v.to_string())
        )));
    }
    let stored = match map.remove("digest") {
        Some(serde_json::Value::String(d)) => d,
        _ => return Err(corrupt(file, "it has no `digest`")),
    };
    let computed = digest_of(&value);
    if stored != computed {
        return Err(CliError::Usage(format!(
            "{}: its content does not match its digest (stored {}, computed {computed}): the \
             file is damaged or was edited; run that shard again",
            file.display(),
            shown(&stored)
        )));
    }
    let pick = computed
        .get(7..23)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0);
    let doc: ShardFile =
        serde_json::from_value(value).map_err(|e| corrupt(file, &e.to_string()))?;
    if doc.kata86_version != VERSION {
        return Err(CliError::Usage(format!(
            "{} was written by kata86 {}, this is kata86 {VERSION}: run every shard and the \
             merge with one version",
            file.display(),
            shown(&doc.kata86_version)
        )));
    }
    if !(1..=Shard::MAX_COUNT).contains(&doc.shards) || doc.shard >= doc.shards {
        return Err(corrupt(
            file,
            &format!(
                "shard {}/{} is not a shard (from 0/1 to {}/{})",
                doc.shard,
                doc.shards,
                Shard::MAX_COUNT - 1,
                Shard::MAX_COUNT
            ),
        ));
    }
    if !matches!(doc.command.as_str(), "sim" | "drill" | "plan") {
        return Err(corrupt(
            file,
            &format!("unknown command `{}`", shown(&doc.command)),
        ));
    }
    bounded_arguments(&doc.arguments, "arguments", file)?;
    for (kind, text) in &doc.inputs {
        if !matches!(kind.as_str(), "topology" | "scenario")
            && kind != crate::files::SLO_FILE
            && kind != crate::files::SCENARIO_SLO
        {
            return Err(corrupt(
                file,
                &format!("an input file of unknown kind `{}`", shown(kind)),
            ));
        }
        if text.len() as u64 > scenario::MAX_FILE_BYTES {
            return Err(corrupt(
                file,
                &format!(
                    "its {kind} text is {} bytes, over the {} KiB a {kind} file may have",
                    text.len(),
                    scenario::MAX_FILE_BYTES / 1024
                ),
            ));
        }
    }
    Ok(Doc {
        file: file.to_path_buf(),
        doc,
        pick,
    })
}

/// Refuses an argument string or list longer than any command line holds.
fn bounded_arguments(v: &serde_json::Value, at: &str, file: &Path) -> Result<(), CliError> {
    use serde_json::Value;
    let long = |what: &str, n: usize| {
        corrupt(
            file,
            &format!(
                "{at} holds a {what} of {n}, over the {MAX_ARGUMENT_LEN} an argument may have"
            ),
        )
    };
    match v {
        Value::String(s) if s.len() > MAX_ARGUMENT_LEN => Err(long("string", s.len())),
        Value::Array(a) if a.len() > MAX_ARGUMENT_LEN => Err(long("list", a.len())),
        Value::Array(a) => a.iter().try_for_each(|x| bounded_arguments(x, at, file)),
        Value::Object(m) if m.len() > MAX_ARGUMENT_LEN => Err(long("map", m.len())),
        Value::Object(m) => m.iter().try_for_each(|(k, x)| {
            if k.len() > MAX_ARGUMENT_LEN {
                return Err(long("key", k.len()));
            }
            bounded_arguments(x, at, file)
        }),
        _ => Ok(()),
    }
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
        .take(8)
        .map(|k| format!("--{}", shown(&k.replace('_', "-"))))
        .collect()
}

/// `items` for a message: the first 10, then how many more.
fn summarised(items: impl Iterator<Item = u32>) -> String {
    let all: Vec<u32> = items.collect();
    let mut s = all
        .iter()
        .take(10)
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > 10 {
        s.push_str(&format!(" and {} more", all.len() - 10));
    }
    s
}

/// Checks that the files are the shards 0..N-1 of one run, each once, and
/// returns them in shard order.
fn check_set(files: &[PathBuf]) -> Result<Vec<Doc>, CliError> {
    if files.len() > Shard::MAX_COUNT as usize {
        return Err(CliError::Usage(format!(
            "{} files: a run has at most {} shards",
            files.len(),
            Shard::MAX_COUNT
        )));
    }
    let first = read_shard(&files[0])?;
    let n = first.doc.shards;
    let mut docs = vec![first];
    for f in &files[1..] {
        let d = read_shard(f)?;
        let (d0, f0) = (&docs[0].doc, &docs[0].file);
        let pair = format!("{} and {}", f0.display(), f.display());
        let doc = &d.doc;
        if doc.command != d0.command {
            return Err(CliError::Usage(format!(
                "{pair} are shards of different commands (`kata86 {}` and `kata86 {}`): merge \
                 the shards of one run",
                d0.command, doc.command
            )));
        }
        if doc.seed != d0.seed {
            return Err(CliError::Usage(format!(
                "{pair} were run with different seeds ({} and {}): merge the shards of one run",
                d0.seed, doc.seed
            )));
        }
        if doc.arguments != d0.arguments {
            return Err(CliError::Usage(format!(
                "{pair} were run with different arguments ({} differ): merge the shards of one \
                 run",
                differing_keys(&d0.arguments, &doc.arguments).join(", ")
            )));
        }
        if doc.inputs != d0.inputs {
            return Err(CliError::Usage(format!(
                "{pair} read different input files (--topology / --scenario): merge the shards \
                 of one run"
            )));
        }
        if doc.shards != d0.shards {
            return Err(CliError::Usage(format!(
                "{} is shard {}/{} but {} is shard {}/{}: merge the shards of one split",
                f0.display(),
                d0.shard,
                d0.shards,
                f.display(),
                doc.shard,
                doc.shards
            )));
        }
        docs.push(d);
    }
    let mut by_index: BTreeMap<u32, &Path> = BTreeMap::new();
    for d in &docs {
        if let Some(other) = by_index.insert(d.doc.shard, &d.file) {
            return Err(CliError::Usage(format!(
                "shard {}/{n} is given twice ({} and {}): give each shard once",
                d.doc.shard,
                other.display(),
                d.file.display()
            )));
        }
    }
    if docs.len() < n as usize {
        let missing = n as usize - docs.len();
        return Err(CliError::Usage(format!(
            "incomplete set: {missing} of {n} shards missing ({}); give all {n} files of the run",
            summarised((0..n).filter(|i| !by_index.contains_key(i)))
        )));
    }
    docs.sort_by_key(|d| d.doc.shard);
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
    let docs = check_set(&m.files)?;
    match docs[0].doc.command.as_str() {
        "sim" => merge_sim(m, &docs, out),
        "drill" => merge_drill(m, &docs, out),
        _ => merge_plan(m, &docs, out),
    }
}

/// How many of a cell's `iterations` requests shard `s` of `n` runs: the
/// chunks `k` of cell `c` whose unit `c * chunks + k` is `s` modulo `n`.
fn owned_requests(iterations: u64, c: usize, s: u32, n: u32) -> u64 {
    let p = engine::chunks(iterations);
    let (s, n) = (u64::from(s), u64::from(n));
    let first = c as u64 * p;
    let k0 = (s + n - first % n) % n;
    if k0 >= p {
        return 0;
    }
    let count = (p - 1 - k0) / n + 1;
    let last = p - 1;
    let mut total = count * engine::CHUNK;
    if (first + last) % n == s {
        total -= engine::CHUNK - (iterations - last * engine::CHUNK);
    }
    total
}

/// The run-size checks of one cell's share: every counter against its
/// total, the total against what the shard owns, each histogram against its
/// counter.
fn check_cell(c: &CellResult, owned: u64, label: &str, file: &Path) -> Result<(), CliError> {
    let bad = |why: String| tampered(file, &format!("cell {label}: {why}"));
    if c.reads != owned {
        return Err(bad(format!(
            "it holds {} requests where its shard runs {owned}",
            c.reads
        )));
    }
    if c.charges != c.reads {
        return Err(bad(format!(
            "{} charges for {} requests of one read and one charge",
            c.charges, c.reads
        )));
    }
    for (name, n) in [
        ("stale reads", c.stale_reads),
        ("over-bound reads", c.over_bound_reads),
        ("leader reads", c.leader_reads),
        ("reads forced to the leader", c.forced_to_leader),
    ] {
        if n > c.reads {
            return Err(bad(format!("{n} {name} out of {} reads", c.reads)));
        }
    }
    let refused = c
        .charges_rejected
        .checked_add(c.charges_timed_out)
        .filter(|&r| r <= c.charges)
        .ok_or_else(|| {
            bad(format!(
                "{} charges rejected and {} timed out out of {}",
                c.charges_rejected, c.charges_timed_out, c.charges
            ))
        })?;
    let counts = [
        ("read latency", c.read.count(), c.reads),
        ("staleness", c.staleness.count(), c.reads),
        ("charge latency", c.write.count(), c.charges - refused),
    ];
    for (name, held, want) in counts {
        if held != want {
            return Err(bad(format!(
                "its {name} histogram holds {held} values where its counters say {want}"
            )));
        }
    }
    if c.reads == 0 && c.simulated != 0 {
        return Err(bad(format!(
            "{} µs simulated without a request",
            c.simulated
        )));
    }
    let fresh = c.staleness.count_at_most(0);
    if c.stale_reads != c.reads - fresh {
        return Err(bad(format!(
            "{} stale reads where its staleness histogram holds {}",
            c.stale_reads,
            c.reads - fresh
        )));
    }
    Ok(())
}

fn merge_sim(m: &MergeArgs, docs: &[Doc], out: &mut dyn Write) -> Result<Verdict, CliError> {
    let (f0, d0) = (&docs[0].file, &docs[0].doc);
    let mut a: SimArgs = arguments(d0, f0)?;
    a.format = m.format;
    a.quiet = true;
    a.report = m.report.clone();
    a.hgrm = m.hgrm.clone();
    let inputs = Inputs::stored(d0.inputs.clone());
    let (cfg, cells) = crate::sim::configure(&a, &inputs).map_err(|e| in_file(f0, e))?;
    let n = d0.shards;
    let per_cell = engine::chunks(a.iterations);
    let units = per_cell * cells.len() as u64;
    let mut sum: Vec<CellResult> = cells.iter().map(|&c| CellResult::empty(c)).collect();
    for d in docs {
        let (f, s) = (&d.file, d.doc.shard);
        let r: SimResultFile = result(&d.doc, f)?;
        if r.chunk_requests != engine::CHUNK || r.cells.len() != cells.len() {
            return Err(tampered(f, "its cells do not match its arguments"));
        }
        let mut parts = Vec::with_capacity(cells.len());
        for (ci, (&cell, c)) in cells.iter().zip(&r.cells).enumerate() {
            let label = format!(
                "{} / {}",
                cfg.topology.site_name(cell.site),
                cell.strategy.name()
            );
            if c.client != cfg.topology.site_name(cell.site) || c.strategy != cell.strategy.name() {
                return Err(tampered(
                    f,
                    &format!(
                        "its cell {} is `{} / {}` where its arguments give {label}",
                        ci + 1,
                        shown(&c.client),
                        shown(&c.strategy)
                    ),
                ));
            }
            let part = CellResult {
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
            };
            check_cell(&part, owned_requests(a.iterations, ci, s, n), &label, f)?;
            parts.push(part);
        }
        // One of its units replayed: a chunk of one cell, which its
        // share of that cell must hold, bucket by bucket.
        let owned = if u64::from(s) < units {
            (units - 1 - u64::from(s)) / u64::from(n) + 1
        } else {
            0
        };
        if owned > 0 {
            let t = u64::from(s) + (d.pick % owned) * u64::from(n);
            let (ci, k) = ((t / per_cell) as usize, t % per_cell);
            let chunk = Shard::new(k as u32, per_cell as u32)?;
            let replayed =
                engine::run_share(&cfg, a.seed, a.iterations, &cells[ci..=ci], chunk, &|_| {})?;
            let (p, q) = (&parts[ci], &replayed[0]);
            let counters = |c: &CellResult| {
                [
                    c.stale_reads,
                    c.over_bound_reads,
                    c.leader_reads,
                    c.forced_to_leader,
                    c.charges_rejected,
                    c.charges_timed_out,
                ]
            };
            let exact = p.reads == q.reads;
            let holds = p.read.covers(&q.read)
                && p.write.covers(&q.write)
                && p.staleness.covers(&q.staleness)
                && counters(p)
                    .iter()
                    .zip(counters(q))
                    .all(|(&x, y)| if exact { x == y } else { x >= y })
                && (!exact || p.simulated == q.simulated);
            if !holds {
                return Err(tampered(
                    f,
                    &format!(
                        "chunk {k} of cell {} / {}, replayed from the shards' own arguments and \
                         input files, is not what its share of that cell holds",
                        cfg.topology.site_name(q.cell.site),
                        q.cell.strategy.name()
                    ),
                ));
            }
        }
        for (total, part) in sum.iter_mut().zip(&parts) {
            total.simulated = total
                .simulated
                .checked_add(part.simulated)
                .ok_or_else(|| tampered(f, "its simulated time overflows the sum of the shards"))?;
            let simulated = total.simulated;
            total.merge(part);
            total.simulated = simulated;
        }
    }
    for c in &mut sum {
        // Each shard held exactly its share, so this holds; kept as the
        // completeness check of the whole.
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

/// A run record as the file lays it out, for comparing field by field.
fn run_file(index: u32, r: &RunRecord) -> RunFile {
    RunFile {
        index,
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
        not_completed_by_site: r.not_completed_by_site.clone(),
        time_to_detect: r.time_to_detect,
        lease_overlap: r.lease_overlap,
        false_alarms: r.false_alarms.clone(),
        quiet_time: r.quiet_time,
        defect: r.defect.clone(),
        invariants_ok: r.invariants_ok,
        sli: r.sli.clone(),
    }
}

/// The first field on which two records differ, as the file names it.
fn first_difference(index: u32, a: &RunRecord, b: &RunRecord) -> String {
    let (a, b) = (to_value(&run_file(index, a)), to_value(&run_file(index, b)));
    let empty = serde_json::Map::new();
    let (a, b) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    a.keys()
        .find(|k| a.get(*k) != b.get(*k))
        .cloned()
        .unwrap_or_else(|| "?".into())
}

/// The checks a run record can take without replaying it: its seed, its
/// per-site lists, every time within the drill, every text short.
fn check_record(r: &RunFile, seed: u64, cfg: &DrillConfig, sites: usize) -> Result<(), String> {
    if r.seed != seed.wrapping_add(u64::from(r.index)) {
        return Err(format!(
            "run {} has seed {} where the master seed gives {}",
            r.index,
            r.seed,
            seed.wrapping_add(u64::from(r.index))
        ));
    }
    // A drill without a fault measures no RTO: an empty list.
    let rto_sites = r.rto_by_site.len();
    let nc_sites = r.not_completed_by_site.len();
    if (rto_sites != sites && rto_sites != 0)
        || (nc_sites != sites && nc_sites != 0)
        || r.availability_by_site.len() != sites
    {
        return Err(format!(
            "run {} has figures for {} and {} sites where the topology has {sites}",
            r.index,
            r.rto_by_site.len(),
            r.availability_by_site.len()
        ));
    }
    let end = cfg.duration;
    let times = r
        .rto_by_site
        .iter()
        .flatten()
        .map(|&t| ("an RTO", t))
        .chain(r.rto_worst.map(|t| ("its worst RTO", t)))
        .chain(r.time_to_detect.map(|t| ("its time to detect", t)))
        .chain([
            ("its RPO", r.rpo),
            ("its lease overlap", r.lease_overlap),
            ("its quiet time", r.quiet_time),
            ("its onset", r.onset),
        ]);
    for (name, t) in times {
        if t > end {
            return Err(format!(
                "run {} has {name} of {t} µs, longer than the {end} µs drill",
                r.index
            ));
        }
    }
    if let Some(a) = r
        .availability_by_site
        .iter()
        .flatten()
        .find(|a| !(0.0..=1.0).contains(*a))
    {
        return Err(format!(
            "run {} has an availability of {a}, not a share from 0 to 1",
            r.index
        ));
    }
    // Indicators: one per site, one tally per objective and fault, good
    // never above valid, windows inside the drill.
    let seconds = end / 1_000_000 + 1;
    let (slos, faults) = (cfg.slos.len(), cfg.faults.len());
    let sli_ok = r.sli.len() == sites
        && r.sli.iter().all(|s| {
            let tallies_ok = |t: &[engine::drill::sli::Tally]| {
                t.len() == slos && t.iter().all(|x| x.good <= x.valid)
            };
            s.steady.len() == slos
                && tallies_ok(&s.steady)
                && s.valid_total.len() == slos
                && s.seconds <= seconds
                && s.faults.len() == faults
                && s.faults
                    .iter()
                    .all(|f| f.from_s <= f.to_s && f.to_s <= seconds && tallies_ok(&f.tallies))
        });
    if !sli_ok {
        return Err(format!(
            "run {} has indicators that do not fit its {sites} sites, {slos} objectives and              {faults} faults (or count more good events than valid ones)",
            r.index
        ));
    }
    let texts = r.false_alarms.len() > MAX_RECORD_TEXT
        || r.false_alarms.iter().any(|t| t.len() > MAX_RECORD_TEXT)
        || r.defect.as_ref().is_some_and(|t| t.len() > MAX_RECORD_TEXT);
    if texts {
        return Err(format!(
            "run {} carries a text or a list over {MAX_RECORD_TEXT} long",
            r.index
        ));
    }
    Ok(())
}

/// A window read back, every counter checked against its total and each
/// histogram against its counter.
fn read_checked_window(w: &[SiteWindowFile], what: &str, file: &Path) -> Result<Window, CliError> {
    for (i, s) in w.iter().enumerate() {
        let bad = |why: String| tampered(file, &format!("client site {} {what}: {why}", i + 1));
        let answered = s.reads;
        for (name, n) in [
            ("reads behind", s.reads_behind),
            ("reads over the bound", s.reads_over_bound),
            ("leader reads", s.leader_reads),
        ] {
            if n > answered {
                return Err(bad(format!("{n} {name} out of {answered} reads")));
            }
        }
        let asked = s
            .reads
            .checked_add(s.failed_reads)
            .ok_or_else(|| bad("its read counts overflow".into()))?;
        if s.forced_to_leader > asked {
            return Err(bad(format!(
                "{} reads forced to the leader out of {asked}",
                s.forced_to_leader
            )));
        }
    }
    let window = read_window(w, file)?;
    for (i, s) in window.sites.iter().enumerate() {
        for (name, h) in [
            ("read latency", &s.read),
            ("reported staleness", &s.reported_staleness),
            ("data age", &s.data_age),
        ] {
            if h.count() != s.reads {
                return Err(tampered(
                    file,
                    &format!(
                        "client site {} {what}: its {name} histogram holds {} values for {} \
                         reads",
                        i + 1,
                        h.count(),
                        s.reads
                    ),
                ));
            }
        }
    }
    Ok(window)
}

/// `total + part` for every counter of two shares, refused on overflow.
fn checked_counts(total: &DrillShare, part: &DrillShare) -> bool {
    let sites = |a: &Window, b: &Window| {
        a.sites.iter().zip(&b.sites).all(|(x, y)| {
            [
                (x.reads, y.reads),
                (x.failed_reads, y.failed_reads),
                (x.reads_behind, y.reads_behind),
                (x.reads_over_bound, y.reads_over_bound),
                (x.leader_reads, y.leader_reads),
                (x.forced_to_leader, y.forced_to_leader),
            ]
            .iter()
            .all(|(p, q)| p.checked_add(*q).is_some())
        })
    };
    sites(&total.during, &part.during)
        && sites(&total.outside, &part.outside)
        && total
            .follower_reads
            .checked_add(part.follower_reads)
            .is_some()
        && total
            .underreported_reads
            .checked_add(part.underreported_reads)
            .is_some()
}

/// Whether the share `big` could hold the replayed share `small`.
fn share_covers(big: &DrillShare, small: &DrillShare, exact: bool) -> bool {
    let ge = |x: u64, y: u64| if exact { x == y } else { x >= y };
    // Covering with as many values is being equal.
    let holds =
        |x: &LatencyHistogram, y: &LatencyHistogram| x.covers(y) && ge(x.count(), y.count());
    let window = |a: &Window, b: &Window| {
        a.sites.len() == b.sites.len()
            && a.sites.iter().zip(&b.sites).all(|(x, y)| {
                holds(&x.read, &y.read)
                    && holds(&x.write, &y.write)
                    && holds(&x.reported_staleness, &y.reported_staleness)
                    && holds(&x.data_age, &y.data_age)
                    && ge(x.reads, y.reads)
                    && ge(x.failed_reads, y.failed_reads)
                    && ge(x.reads_behind, y.reads_behind)
                    && ge(x.reads_over_bound, y.reads_over_bound)
                    && ge(x.leader_reads, y.leader_reads)
                    && ge(x.forced_to_leader, y.forced_to_leader)
            })
    };
    window(&big.during, &small.during)
        && window(&big.outside, &small.outside)
        && ge(big.follower_reads, small.follower_reads)
        && ge(big.underreported_reads, small.underreported_reads)
        && holds(&big.staleness_error, &small.staleness_error)
}

fn merge_drill(m: &MergeArgs, docs: &[Doc], out: &mut dyn Write) -> Result<Verdict, CliError> {
    if m.format == Format::Csv {
        return Err(CliError::Usage(
            "drill reports come as --format table or json".into(),
        ));
    }
    let (f0, d0) = (&docs[0].file, &docs[0].doc);
    let mut a: DrillArgs = arguments(d0, f0)?;
    a.format = ReportFormat::table_or_json(m.format);
    a.quiet = true;
    a.report = m.report.clone();
    a.hgrm = m.hgrm.clone();
    let inputs = Inputs::stored(d0.inputs.clone());
    let plan = crate::drill::plan(&a, &inputs).map_err(|e| in_file(f0, e))?;
    let sites = plan.cfg.topology.site_ids().count();
    let n = d0.shards;
    let mut shares: Vec<DrillShare> = plan
        .configs
        .iter()
        .map(|_| DrillShare::empty(sites))
        .collect();
    for d in docs {
        let (f, s) = (&d.file, d.doc.shard);
        let r: DrillResultFile = result(&d.doc, f)?;
        if r.configurations.len() != shares.len() {
            return Err(tampered(
                f,
                &format!(
                    "it holds {} configurations where its arguments play {}",
                    r.configurations.len(),
                    shares.len()
                ),
            ));
        }
        let owned: Vec<u32> = (0..plan.runs)
            .filter(|&i| Shard::new(s, n).is_ok_and(|sh| sh.owns(u64::from(i))))
            .collect();
        let mut parts = Vec::with_capacity(shares.len());
        for (ci, (c, cfg)) in r.configurations.into_iter().zip(&plan.configs).enumerate() {
            let indices: Vec<u32> = c.runs.iter().map(|r| r.index).collect();
            if indices != owned {
                return Err(tampered(
                    f,
                    &format!(
                        "configuration {} holds {} runs ({}) where shard {s}/{n} of {} runs \
                         plays {} ({})",
                        ci + 1,
                        indices.len(),
                        summarised(indices.iter().copied()),
                        plan.runs,
                        owned.len(),
                        summarised(owned.iter().copied())
                    ),
                ));
            }
            if c.during.len() != sites || c.outside.len() != sites {
                return Err(tampered(f, "its client sites do not match its arguments"));
            }
            for run in &c.runs {
                check_record(run, a.seed, cfg, sites).map_err(|why| tampered(f, &why))?;
            }
            let part = DrillShare {
                during: read_checked_window(&c.during, "during the faults", f)?,
                outside: read_checked_window(&c.outside, "outside the faults", f)?,
                records: c.runs.into_iter().map(|r| (r.index, record(r))).collect(),
                follower_reads: c.follower_reads,
                underreported_reads: c.underreported_reads,
                staleness_error: c.staleness_error.read(f)?,
            };
            let reads = part
                .during
                .sites
                .iter()
                .chain(&part.outside.sites)
                .try_fold(0u64, |t, x| t.checked_add(x.reads));
            if reads.is_none_or(|r| part.follower_reads > r)
                || part.underreported_reads > part.follower_reads
            {
                return Err(tampered(
                    f,
                    &format!(
                        "configuration {}: {} follower reads ({} under-reported) do not fit its \
                         reads",
                        ci + 1,
                        part.follower_reads,
                        part.underreported_reads
                    ),
                ));
            }
            parts.push(part);
        }
        // One run of this shard replayed, from a configuration and among
        // its runs both picked by the file's digest.
        if !owned.is_empty() {
            let ci = (d.pick % parts.len() as u64) as usize;
            let i = owned[((d.pick >> 32) % owned.len() as u64) as usize];
            let replayed = run_drill_share(
                &plan.configs[ci],
                a.seed,
                plan.runs,
                Shard::new(i, plan.runs)?,
                &|| {},
            )?;
            let part = &parts[ci];
            let stored = part.records.iter().find(|(j, _)| *j == i).map(|(_, r)| r);
            let again = &replayed.records[0].1;
            if stored != Some(again) {
                return Err(tampered(
                    f,
                    &format!(
                        "run {i} of configuration {}, replayed from the shards' own arguments \
                         and input files, differs from its record (`{}`)",
                        ci + 1,
                        stored.map_or_else(|| "index".into(), |r| first_difference(i, r, again))
                    ),
                ));
            }
            if !share_covers(part, &replayed, owned.len() == 1) {
                return Err(tampered(
                    f,
                    &format!(
                        "run {i} of configuration {}, replayed, is not what its pooled windows \
                         hold",
                        ci + 1
                    ),
                ));
            }
        }
        for (total, part) in shares.iter_mut().zip(parts) {
            if !checked_counts(total, &part) {
                return Err(tampered(f, "its counters overflow the sum of the shards"));
            }
            *total = std::mem::replace(total, DrillShare::empty(sites)).join(part);
        }
    }
    let mut results = Vec::with_capacity(shares.len());
    for (ci, (cfg, share)) in plan.configs.iter().zip(shares).enumerate() {
        if share.records.len() != plan.runs as usize {
            return Err(CliError::Usage(format!(
                "the shards hold {} of the {} runs asked for: a shard file is incomplete",
                share.records.len(),
                plan.runs
            )));
        }
        // The first run in full (timeline, alerts, runbook) is replayed:
        // one run, deterministic, so the same as the unsharded run's. Its
        // figures must be those the shard recorded.
        let (record, first) = replay_first(cfg, a.seed)?;
        let stored = &share.records[0].1;
        if stored != &record {
            return Err(tampered(
                &docs[0].file,
                &format!(
                    "run 0 of configuration {}, replayed from the shards' own arguments and \
                     input files, differs from its record (`{}`)",
                    ci + 1,
                    first_difference(0, stored, &record)
                ),
            ));
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
        not_completed_by_site: r.not_completed_by_site,
        time_to_detect: r.time_to_detect,
        lease_overlap: r.lease_overlap,
        false_alarms: r.false_alarms,
        quiet_time: r.quiet_time,
        defect: r.defect,
        invariants_ok: r.invariants_ok,
        sli: r.sli,
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

fn merge_plan(m: &MergeArgs, docs: &[Doc], out: &mut dyn Write) -> Result<Verdict, CliError> {
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
    let (f0, d0) = (&docs[0].file, &docs[0].doc);
    let mut a: PlanArgs = arguments(d0, f0)?;
    a.format = ReportFormat::table_or_json(m.format);
    a.quiet = true;
    a.report = m.report.clone();
    let priorities = ::plan::Metric::priorities(&a.priorities).map_err(|e| in_file(f0, e))?;
    let inputs = Inputs::stored(d0.inputs.clone());
    let space = crate::plan::space(&a, &inputs).map_err(|e| in_file(f0, e))?;
    let all = ::plan::units(&space).map_err(|e| in_file(f0, e))?;
    let total = all.len();
    let n = d0.shards as usize;
    let mut results: Vec<Option<::plan::UnitResult>> = vec![None; total];
    for d in docs {
        let (f, s) = (&d.file, d.doc.shard as usize);
        let r: PlanResultFile = result(&d.doc, f)?;
        let owned: Vec<usize> = (s..total).step_by(n).collect();
        let indices: Vec<usize> = r.units.iter().map(|(i, _)| *i).collect();
        if indices != owned {
            return Err(tampered(
                f,
                &format!(
                    "it holds {} units ({}) where shard {s}/{n} of the plan's {total} plays {} \
                     ({})",
                    indices.len(),
                    summarised(indices.iter().map(|&i| i.min(u32::MAX as usize) as u32)),
                    owned.len(),
                    summarised(owned.iter().map(|&i| i as u32))
                ),
            ));
        }
        for (i, u) in &r.units {
            u.check(&space, *i, all[*i])
                .map_err(|e| tampered(f, &e.to_string()))?;
        }
        // One unit of this shard played again and compared.
        if !owned.is_empty() {
            let j = (d.pick % owned.len() as u64) as usize;
            let (i, stored) = &r.units[j];
            let again = ::plan::play(&space, all[*i])?;
            if &again != stored {
                return Err(tampered(
                    f,
                    &format!(
                        "unit {i}, replayed from the shards' own arguments and input files, \
                         differs from its result"
                    ),
                ));
            }
        }
        for (i, u) in r.units {
            results[i] = Some(u);
        }
    }
    let results: Vec<::plan::UnitResult> = results.into_iter().flatten().collect();
    if results.len() != total {
        return Err(CliError::Usage(format!(
            "the shards hold {} of the plan's {total} units: a shard file is incomplete",
            results.len()
        )));
    }
    let evals = ::plan::assemble(&space, &results)?;
    crate::plan::render(&a, &space, &priorities, &evals, out)
}
