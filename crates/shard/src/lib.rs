//! kata86's shard file: `kata86 sim|drill|plan ... --shard I/N --out FILE`
//! writes one share of a run, `kata86 merge FILES...` prints exactly what
//! the unsharded run prints. This crate owns the file: its layout
//! ([`sim_file`], [`drill_file`], [`plan_file`] seal a share into bytes),
//! reading it back ([`parse`]), checking that a set of files is one run
//! ([`check_set`]) and adding the shares into the unsharded command's
//! results ([`ShardSet::merge_sim`], [`ShardSet::merge_drill`],
//! [`ShardSet::merge_plan`]). It takes and returns bytes and values, never
//! a path: the CLI reads and writes the files, turns the stored arguments
//! into a configuration, renders the results and maps [`ShardError`] to an
//! exit code.
//!
//! A shard file is one JSON document: the format and its version, the
//! kata86 version, the command, its canonical arguments (every option that
//! shapes the output; not `--shard`, `--out`, `--format` or `--quiet`; the
//! CLI passes them in as a JSON value), the texts of the files it read
//! (`--topology`, `--scenario`), the seed, N, I, and the partial results.
//! Histograms travel as base64 of HdrHistogram's V2 deflate encoding with
//! their saturated count beside them; counters as integers. The merge
//! checks that the files belong together and that each index 0..N-1 appears
//! exactly once and adds the shares (histogram counts and counters are
//! integers: the sum does not depend on the order).
//!
//! # Key decision: a shard file is untrusted input
//! A file written yesterday, copied between machines, may be damaged or
//! edited; a merge trusts nothing in it that it can check, and re-derives
//! everything it can:
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
//! Every refusal names the file and what is wrong, in a few lines. A shard
//! file carries no output path: the merge writes only the paths on its own
//! command line.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod merge;

use std::collections::BTreeMap;

use base64::Engine as _;
use engine::drill::{sli::SiteSli, DrillShare, Money, Recovery, RunRecord, Window};
use engine::{CellResult, Shard, SimConfig};
use metrics::LatencyHistogram;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `format` field of every shard file.
const FORMAT: &str = "kata86-shard";
/// The version of the layout below; a merge reads only its own. Version 2
/// added the `digest` and dropped the output paths from the arguments;
/// version 3 gives a drill run's record its first acknowledgement (`rto`),
/// as the record now embeds the whole of `engine::drill::Recovery`.
pub const FORMAT_VERSION: u32 = 3;
/// The largest shard file a merge reads.
pub const MAX_SHARD_BYTES: u64 = 256 << 20;
/// The longest string an argument may hold, and the most items of a list.
const MAX_ARGUMENT_LEN: usize = 1024;
/// The longest text a run record carries (a defect, an alert name), and the
/// most alerts it lists.
const MAX_RECORD_TEXT: usize = 4096;

/// The input kind of a scenario's included OpenSLO file.
pub const SCENARIO_SLO: &str = "included SLO file";
/// The input kind of an OpenSLO file given with `--slo-file`.
pub const SLO_FILE: &str = "SLO file";
/// The kinds of input file a shard may carry; any other is corruption.
pub const INPUT_KINDS: [&str; 4] = ["topology", "scenario", SLO_FILE, SCENARIO_SLO];
/// The kata86 version: shards of different versions are never merged. Every
/// crate of the workspace has the workspace's one version, the binary's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why a shard file or a set of them cannot be merged. Each message names
/// the file (by the display name the caller gave) and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ShardError {
    /// Not a shard file at all: not JSON, not an object, another format.
    #[error(
        "{file} is not a kata86 shard file (written by `kata86 sim|drill|plan --shard I/N --out \
         FILE`): {why}"
    )]
    NotShard {
        /// The file's name.
        file: String,
        /// Why.
        why: String,
    },
    /// A shard file whose layout or sizes cannot be read.
    #[error("{file} is not a readable kata86 shard file: {why}")]
    Unreadable {
        /// The file's name.
        file: String,
        /// Why.
        why: String,
    },
    /// A shard file of another format version.
    #[error(
        "{file} is in shard format {found}; this kata86 ({VERSION}) reads format \
         {FORMAT_VERSION}: merge with the kata86 that wrote it"
    )]
    FormatVersion {
        /// The file's name.
        file: String,
        /// The version it declares, or `(none)`.
        found: String,
    },
    /// A shard file whose content does not match its digest.
    #[error(
        "{file}: its content does not match its digest (stored {stored}, computed {computed}): \
         the file is damaged or was edited; run that shard again"
    )]
    Digest {
        /// The file's name.
        file: String,
        /// The digest it carries (shortened).
        stored: String,
        /// The digest of its content.
        computed: String,
    },
    /// A shard file written by another kata86.
    #[error(
        "{file} was written by kata86 {version}, this is kata86 {VERSION}: run every shard and \
         the merge with one version"
    )]
    Kata86Version {
        /// The file's name.
        file: String,
        /// The version that wrote it (shortened).
        version: String,
    },
    /// A shard file whose content contradicts itself or its run.
    #[error(
        "{file}: {why}; the file was damaged or edited after it was written: run that shard again"
    )]
    Tampered {
        /// The file's name.
        file: String,
        /// What does not hold.
        why: String,
    },
    /// More files than a run has shards.
    #[error("{files} files: a run has at most {max} shards", max = Shard::MAX_COUNT)]
    TooManyFiles {
        /// How many were given.
        files: usize,
    },
    /// No file at all.
    #[error("no shard files: give the files of a run")]
    NoFiles,
    /// Two files that are not shards of one run.
    #[error("{first} and {other} {why}")]
    NotOneRun {
        /// The first file's name.
        first: String,
        /// The other file's name.
        other: String,
        /// How they differ, and what to do.
        why: String,
    },
    /// Two files of different splits of one run.
    #[error(
        "{first} is shard {first_index}/{first_count} but {other} is shard \
         {other_index}/{other_count}: merge the shards of one split"
    )]
    OtherSplit {
        /// The first file's name.
        first: String,
        /// Its index.
        first_index: u32,
        /// Its count.
        first_count: u32,
        /// The other file's name.
        other: String,
        /// Its index.
        other_index: u32,
        /// Its count.
        other_count: u32,
    },
    /// One shard given twice.
    #[error("shard {index}/{count} is given twice ({first} and {second}): give each shard once")]
    Twice {
        /// The shard's index.
        index: u32,
        /// The shard count.
        count: u32,
        /// The first file holding it.
        first: String,
        /// The second.
        second: String,
    },
    /// Shards missing from the set.
    #[error(
        "incomplete set: {missing} of {count} shards missing ({which}); give all {count} files \
         of the run"
    )]
    Missing {
        /// How many.
        missing: usize,
        /// The shard count.
        count: u32,
        /// Which, summarised.
        which: String,
    },
    /// The shards together hold less than the run.
    #[error("the shards hold {held} of {whole}: a shard file is incomplete")]
    Incomplete {
        /// How many they hold.
        held: u64,
        /// Of what, e.g. `the 8 runs asked for`.
        whole: String,
    },
    /// A replay could not run.
    #[error("{0}")]
    Engine(#[from] engine::EngineError),
    /// A plan unit could not be replayed or the plan assembled.
    #[error("{0}")]
    Plan(#[from] plan::PlanError),
}

fn corrupt(file: &str, why: &str) -> ShardError {
    ShardError::Unreadable {
        file: file.to_string(),
        why: why.to_string(),
    }
}

/// A shard file whose content contradicts itself or its run.
fn tampered(file: &str, why: &str) -> ShardError {
    ShardError::Tampered {
        file: file.to_string(),
        why: why.to_string(),
    }
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

fn to_value<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("plain data serializes")
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
    /// `sim`, `drill` or `plan`.
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

    fn read(&self, file: &str) -> Result<LatencyHistogram, ShardError> {
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

/// One run's record.
#[derive(Debug, Serialize, Deserialize)]
struct RunFile {
    index: u32,
    seed: u64,
    onset: u64,
    /// The run's first acknowledgement after the fault (`Recovery::rto`).
    rto: Option<u64>,
    rto_by_site: Vec<Option<u64>>,
    rto_worst: Option<u64>,
    rpo: u64,
    money: Money,
    availability_by_site: Vec<Option<f64>>,
    not_completed_by_site: Vec<u64>,
    time_to_detect: Option<u64>,
    lease_overlap: u64,
    false_alarms: Vec<String>,
    quiet_time: u64,
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

/// A plan shard's results: each unit it played, by its index in
/// `plan::units` order.
#[derive(Debug, Serialize, Deserialize)]
struct PlanResultFile {
    units: Vec<(usize, plan::UnitResult)>,
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

/// A run record as the file lays it out, for comparing field by field.
fn run_file(index: u32, r: &RunRecord) -> RunFile {
    RunFile {
        index,
        seed: r.seed,
        onset: r.onset,
        rto: r.recovery.rto,
        rto_by_site: r.recovery.rto_by_site.clone(),
        rto_worst: r.recovery.rto_worst,
        rpo: r.recovery.rpo,
        money: r.money.clone(),
        availability_by_site: r.recovery.availability_by_site.clone(),
        not_completed_by_site: r.recovery.not_completed_by_site.clone(),
        time_to_detect: r.time_to_detect,
        lease_overlap: r.lease_overlap,
        false_alarms: r.false_alarms.clone(),
        quiet_time: r.quiet_time,
        sli: r.sli.clone(),
    }
}

/// A run record read back.
fn record(r: RunFile) -> RunRecord {
    RunRecord {
        seed: r.seed,
        onset: r.onset,
        recovery: Recovery {
            rto: r.rto,
            rto_by_site: r.rto_by_site,
            availability_by_site: r.availability_by_site,
            not_completed_by_site: r.not_completed_by_site,
            rto_worst: r.rto_worst,
            rpo: r.rpo,
        },
        money: r.money,
        time_to_detect: r.time_to_detect,
        lease_overlap: r.lease_overlap,
        false_alarms: r.false_alarms,
        quiet_time: r.quiet_time,
        sli: r.sli,
    }
}

/// What every shard file of a run carries besides its results: the
/// command's canonical arguments (the CLI's options as a JSON value), the
/// texts of the files it read, by kind (`topology`, `scenario`), the master
/// seed and the shard.
#[derive(Debug, Clone)]
pub struct Header {
    /// The canonical arguments.
    pub arguments: serde_json::Value,
    /// The input texts, by kind.
    pub inputs: BTreeMap<String, String>,
    /// The master seed.
    pub seed: u64,
    /// Which share this is.
    pub shard: Shard,
}

impl Header {
    fn file(self, command: &str, unit: &str, result: serde_json::Value) -> ShardFile {
        ShardFile {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            kata86_version: VERSION.into(),
            command: command.into(),
            arguments: self.arguments,
            inputs: self.inputs,
            seed: self.seed,
            shards: self.shard.count(),
            shard: self.shard.index(),
            split: format!(
                "{unit} u (from 0) is run by shard u mod {}; this is shard {}",
                self.shard.count(),
                self.shard.index()
            ),
            result,
        }
    }
}

/// The file's bytes: its JSON with the digest of everything else, and a
/// newline.
fn sealed(doc: &ShardFile) -> Vec<u8> {
    let mut value = to_value(doc);
    let digest = digest_of(&value);
    if let Some(map) = value.as_object_mut() {
        map.insert("digest".into(), digest.into());
    }
    let mut bytes = serde_json::to_vec(&value).expect("a JSON value serializes");
    bytes.push(b'\n');
    bytes
}

/// The shard file of a `sim` share: `parts` as [`engine::run_share`]
/// returns them for `cfg`.
pub fn sim_file(header: Header, cfg: &SimConfig, parts: &[CellResult]) -> Vec<u8> {
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
    sealed(&header.file(
        "sim",
        "chunk unit (cell c, chunk k; u = c x chunks per cell + k; 2^20 requests a chunk)",
        to_value(&result),
    ))
}

/// The shard file of a drill's share: one [`DrillShare`] per configuration
/// played, in report order.
pub fn drill_file(header: Header, shares: &[DrillShare]) -> Vec<u8> {
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
    sealed(&header.file("drill", "run", to_value(&result)))
}

/// The shard file of a plan's share: each unit played, by its index in
/// [`plan::units`] order.
pub fn plan_file(header: Header, results: &[(usize, plan::UnitResult)]) -> Vec<u8> {
    sealed(&header.file(
        "plan",
        "plan unit (a single-leader drill configuration of one scenario, or one multi-leader \
         or quorum design)",
        to_value(&PlanResultFile {
            units: results.to_vec(),
        }),
    ))
}

/// The command a shard file is a share of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `kata86 sim`.
    Sim,
    /// `kata86 drill`.
    Drill,
    /// `kata86 plan`.
    Plan,
}

/// A shard file read back and checked on its own, with its display name.
#[derive(Debug)]
pub struct ShardDoc {
    name: String,
    doc: ShardFile,
    /// The first 8 bytes of its digest: what picks its replayed unit.
    pick: u64,
}

/// Reads and checks one shard file, `bytes` (the caller reads at most
/// [`MAX_SHARD_BYTES`] + 1 of them), named `name` in messages: its size,
/// its format and version, its digest, its header's numbers and the size of
/// every string it carries.
pub fn parse(name: &str, bytes: &[u8]) -> Result<ShardDoc, ShardError> {
    if bytes.len() as u64 > MAX_SHARD_BYTES {
        return Err(corrupt(
            name,
            &format!(
                "it is over {} MiB, more than any shard kata86 writes",
                MAX_SHARD_BYTES >> 20
            ),
        ));
    }
    let not_shard = |why: String| ShardError::NotShard {
        file: name.to_string(),
        why,
    };
    let mut value: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| not_shard(e.to_string()))?;
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
        return Err(ShardError::FormatVersion {
            file: name.to_string(),
            found: version.map_or_else(|| "(none)".into(), |v| v.to_string()),
        });
    }
    let stored = match map.remove("digest") {
        Some(serde_json::Value::String(d)) => d,
        _ => return Err(corrupt(name, "it has no `digest`")),
    };
    let computed = digest_of(&value);
    if stored != computed {
        return Err(ShardError::Digest {
            file: name.to_string(),
            stored: shown(&stored),
            computed,
        });
    }
    let pick = computed
        .get(7..23)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0);
    let doc: ShardFile =
        serde_json::from_value(value).map_err(|e| corrupt(name, &e.to_string()))?;
    if doc.kata86_version != VERSION {
        return Err(ShardError::Kata86Version {
            file: name.to_string(),
            version: shown(&doc.kata86_version),
        });
    }
    if !(1..=Shard::MAX_COUNT).contains(&doc.shards) || doc.shard >= doc.shards {
        return Err(corrupt(
            name,
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
            name,
            &format!("unknown command `{}`", shown(&doc.command)),
        ));
    }
    bounded_arguments(&doc.arguments, "arguments", name)?;
    for (kind, text) in &doc.inputs {
        if !INPUT_KINDS.contains(&kind.as_str()) {
            return Err(corrupt(
                name,
                &format!("an input file of unknown kind `{}`", shown(kind)),
            ));
        }
        if text.len() as u64 > scenario::MAX_FILE_BYTES {
            return Err(corrupt(
                name,
                &format!(
                    "its {kind} text is {} bytes, over the {} KiB a {kind} file may have",
                    text.len(),
                    scenario::MAX_FILE_BYTES / 1024
                ),
            ));
        }
    }
    Ok(ShardDoc {
        name: name.to_string(),
        doc,
        pick,
    })
}

/// Refuses an argument string or list longer than any command line holds.
fn bounded_arguments(v: &serde_json::Value, at: &str, file: &str) -> Result<(), ShardError> {
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

/// The shards 0..N-1 of one run, each once, in shard order.
#[derive(Debug)]
pub struct ShardSet {
    docs: Vec<ShardDoc>,
}

/// Checks that the `count` files read one by one by `docs` (each
/// [`parse`]d by the caller) are the shards 0..N-1 of one run, each once.
/// A file is read only once the ones before it are found to belong
/// together, so the first error met is the one reported; the caller's own
/// errors (a file that cannot be read) pass through as they are.
pub fn check_set<E: From<ShardError>>(
    count: usize,
    mut docs: impl Iterator<Item = Result<ShardDoc, E>>,
) -> Result<ShardSet, E> {
    if count > Shard::MAX_COUNT as usize {
        return Err(ShardError::TooManyFiles { files: count }.into());
    }
    let first = docs.next().ok_or(ShardError::NoFiles)??;
    let n = first.doc.shards;
    let mut set = vec![first];
    for d in docs {
        let d = d?;
        let d0 = &set[0];
        let mismatch = |why: String| ShardError::NotOneRun {
            first: d0.name.clone(),
            other: d.name.clone(),
            why,
        };
        let (a, b) = (&d0.doc, &d.doc);
        if b.command != a.command {
            return Err(mismatch(format!(
                "are shards of different commands (`kata86 {}` and `kata86 {}`): merge the \
                 shards of one run",
                a.command, b.command
            ))
            .into());
        }
        if b.seed != a.seed {
            return Err(mismatch(format!(
                "were run with different seeds ({} and {}): merge the shards of one run",
                a.seed, b.seed
            ))
            .into());
        }
        if b.arguments != a.arguments {
            return Err(mismatch(format!(
                "were run with different arguments ({} differ): merge the shards of one run",
                differing_keys(&a.arguments, &b.arguments).join(", ")
            ))
            .into());
        }
        if b.inputs != a.inputs {
            return Err(mismatch(
                "read different input files (--topology / --scenario): merge the shards of one \
                 run"
                .into(),
            )
            .into());
        }
        if b.shards != a.shards {
            return Err(ShardError::OtherSplit {
                first: d0.name.clone(),
                first_index: a.shard,
                first_count: a.shards,
                other: d.name.clone(),
                other_index: b.shard,
                other_count: b.shards,
            }
            .into());
        }
        set.push(d);
    }
    let mut by_index: BTreeMap<u32, &str> = BTreeMap::new();
    for d in &set {
        if let Some(other) = by_index.insert(d.doc.shard, &d.name) {
            return Err(ShardError::Twice {
                index: d.doc.shard,
                count: n,
                first: other.to_string(),
                second: d.name.clone(),
            }
            .into());
        }
    }
    if set.len() < n as usize {
        return Err(ShardError::Missing {
            missing: n as usize - set.len(),
            count: n,
            which: summarised((0..n).filter(|i| !by_index.contains_key(i))),
        }
        .into());
    }
    set.sort_by_key(|d| d.doc.shard);
    Ok(ShardSet { docs: set })
}

impl ShardSet {
    /// The command the shards are a share of.
    pub fn command(&self) -> Command {
        match self.docs[0].doc.command.as_str() {
            "sim" => Command::Sim,
            "drill" => Command::Drill,
            _ => Command::Plan,
        }
    }

    /// The name of the first file (shard 0), which errors of the stored
    /// run are reported against.
    pub fn first_name(&self) -> &str {
        &self.docs[0].name
    }

    /// The canonical arguments, as the command's options.
    pub fn arguments<T: for<'de> Deserialize<'de>>(&self) -> Result<T, ShardError> {
        let d = &self.docs[0];
        T::deserialize(&d.doc.arguments).map_err(|e| corrupt(&d.name, &e.to_string()))
    }

    /// The input texts the shards carry, by kind.
    pub fn inputs(&self) -> &BTreeMap<String, String> {
        &self.docs[0].doc.inputs
    }
}

impl ShardDoc {
    /// The partial result, in the command's layout.
    fn result<T: for<'de> Deserialize<'de>>(&self) -> Result<T, ShardError> {
        T::deserialize(&self.doc.result).map_err(|e| corrupt(&self.name, &e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(shard: Shard) -> Header {
        Header {
            arguments: serde_json::json!({ "runs": 4, "scenario": null }),
            inputs: BTreeMap::new(),
            seed: 7,
            shard,
        }
    }

    fn doc(shard: Shard) -> Vec<u8> {
        plan_file(header(shard), &[])
    }

    #[test]
    fn a_sealed_file_reads_back() {
        let d = parse("a.json", &doc(Shard::new(1, 2).unwrap())).unwrap();
        assert_eq!(d.doc.shard, 1);
        assert_eq!(d.doc.shards, 2);
        assert_eq!(d.doc.command, "plan");
    }

    #[test]
    fn an_edited_file_is_named_by_its_digest() {
        let text = String::from_utf8(doc(Shard::WHOLE)).unwrap();
        let edited = text.replace("\"seed\":7", "\"seed\":8");
        assert_ne!(text, edited);
        let e = parse("x.json", edited.as_bytes()).unwrap_err();
        assert!(matches!(e, ShardError::Digest { .. }), "{e}");
        assert!(e
            .to_string()
            .starts_with("x.json: its content does not match"));
    }

    #[test]
    fn a_file_over_the_cap_is_refused_before_parsing() {
        let big = vec![b' '; MAX_SHARD_BYTES as usize + 1];
        let e = parse("big", &big).unwrap_err();
        assert_eq!(
            e.to_string(),
            "big is not a readable kata86 shard file: it is over 256 MiB, more than any shard \
             kata86 writes"
        );
    }

    #[test]
    fn a_set_names_the_missing_and_the_doubled() {
        let two = || parse("a", &doc(Shard::new(0, 3).unwrap()));
        let e = check_set(2, [two(), two()].into_iter()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "shard 0/3 is given twice (a and a): give each shard once"
        );
        let e = check_set(1, [two()].into_iter()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "incomplete set: 2 of 3 shards missing (1, 2); give all 3 files of the run"
        );
    }

    #[test]
    fn long_arguments_are_refused() {
        let v = serde_json::json!({ "x": "y".repeat(MAX_ARGUMENT_LEN + 1) });
        assert!(bounded_arguments(&v, "arguments", "f").is_err());
        let v = serde_json::json!({ "x": ["y", "z"] });
        assert!(bounded_arguments(&v, "arguments", "f").is_ok());
    }

    #[test]
    fn differing_keys_are_named_as_flags() {
        let a = serde_json::json!({ "write_path": 1, "runs": 2 });
        let b = serde_json::json!({ "write_path": 2, "runs": 2, "seed": 3 });
        assert_eq!(differing_keys(&a, &b), ["--seed", "--write-path"]);
    }

    #[test]
    fn summaries_stop_at_ten() {
        assert_eq!(summarised(0..3), "0, 1, 2");
        assert_eq!(summarised(0..12), "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more");
    }
}
