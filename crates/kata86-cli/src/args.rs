//! The command line, as clap sees it.

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

/// Plan a multi-region Wallet + Checkout service and prove the plan with numbers.
///
/// kata86 simulates client sites reading balances and making charges against
/// regions with replication lag, under several read strategies, and reports
/// latency and staleness percentiles against SLOs. Every run is determined by
/// its seed: the same command prints the same bytes.
#[derive(Debug, Parser)]
#[command(name = "kata86", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Simulate every client site × read strategy and judge the SLOs.
    ///
    /// Each request is one balance read followed by one charge. Defaults: the
    /// default world (DESIGN.md's: regions SG, US and JP, sites VN and US;
    /// `--world kata` for the kata's two regions), leader SG, the `iid` lag
    /// model, 1,000,000 requests per cell, seed 86.
    Sim(SimArgs),
    /// Play a failure drill (region down, partition, lag spike) against the
    /// replicated wallet and measure RTO, RPO and money at risk.
    ///
    /// The default world (SG leads, US and JP (Tokyo) follow) and DESIGN.md's
    /// design (majority commits, automatic promotion, bounded reads, hlc
    /// watermarks) unless told otherwise. Both client sites send traffic.
    /// Faults run from 60 s to 180 s of a 300 s drill. A built-in drill plays
    /// on a scenario file's world with `kata86 drill NAME --scenario FILE`,
    /// its faults aimed at the file's leader.
    Drill(DrillArgs),
    /// Option A (single leader, majority) against the three Option B
    /// write paths (lww, crdt, escrow), side by side on the same workload,
    /// seed and faults: baseline, partition, region-down and lag-spike (or a scenario).
    Compare(CompareArgs),
    /// The alert rules, for people or as a Prometheus rules file.
    ///
    /// `--format prometheus` writes them as Prometheus alerting rules over the
    /// metrics of docs/metrics.md; `--format promtool-test` a `promtool test
    /// rules` file replaying a drill's windows against them.
    Alerts(crate::alerts::AlertsArgs),
    /// SLOs as code: `kata86 slo export --format openslo` writes the
    /// world's objectives as OpenSLO v1 documents, which `--slo-file` (on
    /// drill, sim, plan and alerts) and a scenario's `slo_file` read back.
    #[command(subcommand)]
    Slo(SloCommand),
    /// Leaderless partial quorums (N replicas, W write acks, R read replies):
    /// probabilistically bounded staleness by Monte Carlo over the WARS model.
    ///
    /// Prints the t-visibility curve (probability that a read starting t ms
    /// after a write commits sees it), t at 99 / 99.9 / 99.99 %, k-staleness
    /// beside its closed form, and read and write latency percentiles. Latency
    /// legs come from a PBS preset (Bailis et al., PVLDB 2012, Table 3) or
    /// from the topology's RTTs (SG, US, JP; or a scenario's) plus LNKD-SSD
    /// service times. See docs/model.md.
    Pbs(PbsArgs),
    /// Search the design space for a topology and its SLOs: every write path,
    /// read strategy and failover policy, in normal operation and under each
    /// fault, ranked; the designs that fail say what they broke first.
    ///
    /// Default: the kata's topology with JP, its SLOs, and region-down,
    /// partition, lag-spike and clock-skew. With --scenario: that file's
    /// topology and SLOs, normal operation without its faults, and each of
    /// its faults alone. SLOs are judged in normal operation; faults add
    /// worst-site RTO, RPO and money. Designs the model cannot judge (reads
    /// on multi-leader paths, money on quorums) are rejected with that reason.
    Plan(PlanArgs),
    /// Combine the shard files of one `sim` or `drill` run (written with
    /// `--shard I/N --out FILE`) into exactly what the unsharded run prints.
    ///
    /// Every file must come from the same command, arguments, seed, kata86
    /// version and number of shards N, and each shard 0..N-1 must be given
    /// exactly once. See docs/distributed.md.
    Merge(MergeArgs),
    /// Check the model against a real database: PostgreSQL replicas run
    /// under the world's latencies, the model fitted on one configuration
    /// and predicting the others (docs/validation.md).
    #[command(subcommand)]
    Calibrate(CalibrateCommand),
}

/// What `kata86 slo` does.
#[derive(Debug, Subcommand)]
pub enum SloCommand {
    /// Write the SLOs of a scenario (or of a built-in world) as OpenSLO v1
    /// YAML: one `kind: SLO` document per objective, separated by `---`,
    /// each with its indicator inline (good and total events as Prometheus
    /// selectors over the metrics of docs/metrics.md), its target and a
    /// rolling time window of the budget period. What OpenSLO has no field
    /// for goes under `kata86.io/` labels and annotations (docs/metrics.md,
    /// "OpenSLO").
    Export(SloExportArgs),
}

/// `kata86 slo export` options.
#[derive(Debug, Args)]
pub struct SloExportArgs {
    /// The SLOs (and budget period) of this TOML scenario file, its
    /// `slo_file` included.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<std::path::PathBuf>,

    /// The built-in world whose SLOs to write: `default` or `kata`
    /// [default: default].
    #[arg(long, value_name = "WORLD", value_enum, conflicts_with = "scenario")]
    pub world: Option<WorldArg>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = SloFormat::Openslo)]
    pub format: SloFormat,

    /// Accept a scenario over the normal size (see `kata86 drill --help`).
    #[arg(long)]
    pub allow_long: bool,
}

/// `kata86 slo export` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SloFormat {
    /// OpenSLO v1 YAML documents.
    Openslo,
}

/// What `kata86 calibrate` checks the model against.
#[derive(Debug, Subcommand)]
pub enum CalibrateCommand {
    /// A PostgreSQL 15 primary in the leader's region and a hot standby in
    /// every other, each path through a user-space delay line of the world's
    /// one-way delays; the charge workload from every site.
    ///
    /// The model's free parameters (commit time, apply-lag law, the delay
    /// line's cost) are fitted on the default world (SG, US, JP) under
    /// `async`; every other configuration (semi-sync and majority on it;
    /// every mode on the five-replica world SG, US, JP, EU, AU, or on the
    /// `--scenario` world) is predicted out of sample and printed beside
    /// what was measured. Exits 1 when a prediction leaves its tolerance.
    /// Needs the PostgreSQL server binaries; as root the servers run as the
    /// user `postgres`. Everything runs in a temporary directory on loopback
    /// ports and is removed on every exit path.
    Postgres(CalibratePostgresArgs),
}

/// `kata86 calibrate postgres` options.
#[derive(Debug, Args)]
pub struct CalibratePostgresArgs {
    /// Predict this TOML scenario's world (its topology; the leader its
    /// scenario's) instead of the built-in five-replica world.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<std::path::PathBuf>,

    /// Modes to predict (comma-separated or repeated): async, semi-sync,
    /// majority [default: all]. `async` on the default world is always run:
    /// it is the fit.
    #[arg(long = "mode", value_name = "MODE", value_delimiter = ',')]
    pub modes: Vec<CommitMode>,

    /// Time measured per configuration and repeat (2 s to 600 s). A duration: a bare number is seconds; or write it with a unit (150ms, 2s, 1.5s, 2m).
    #[arg(long, default_value_t = 20.0, value_name = "S", value_parser = seconds)]
    pub duration: f64,

    /// Repeats per configuration (1 to 9); figures are medians over them.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub repeats: u32,

    /// Directory of the PostgreSQL server binaries [default: `pg_config
    /// --bindir`, then /usr/lib/postgresql/15/bin].
    #[arg(long, value_name = "DIR")]
    pub pg_bin: Option<std::path::PathBuf>,

    /// Seed of the workload's choices (think times, accounts, read times).
    #[arg(long, default_value_t = 86)]
    pub seed: u64,

    /// Output format (table or json).
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,

    /// Also write the fitted apply-lag law as a lag file (apply lag only,
    /// never the network) for `kata86 sim --lag-from FILE`, naming the world
    /// it was fitted on (`# regions:`, `# leader:`), with that world beside it
    /// as FILE's stem + `.topology.toml` and the `sim` command (`# sim-command:`)
    /// whose figures must equal the `# sim-expect:` lines; that command is
    /// run once in-process and any figure that differs exits 1.
    #[arg(long, value_name = "FILE")]
    pub lag_out: Option<std::path::PathBuf>,

    /// No progress lines on stderr.
    #[arg(long, short)]
    pub quiet: bool,
}

/// kata86's commit modes, as `calibrate` maps them onto PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CommitMode {
    /// `synchronous_standby_names = ''`.
    Async,
    /// `ANY 1 (every standby)`.
    SemiSync,
    /// `ANY ⌊n/2⌋ (every standby)`, n replicas counting the primary.
    Majority,
}

/// `kata86 plan` options. Serialized (less the output options) as the
/// canonical arguments of a shard file.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct PlanArgs {
    /// The topology, SLOs and faults of this TOML scenario file.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<std::path::PathBuf>,

    /// Replace the world's SLOs with the objectives of an OpenSLO v1 file
    /// (`apiVersion: openslo/v1`, `kind: SLO` documents, as `kata86 slo
    /// export` writes them); its time window becomes the budget period.
    /// The same as a scenario's `slo_file`, which it overrides.
    #[arg(long, value_name = "FILE.yaml")]
    #[serde(default)]
    pub slo_file: Option<std::path::PathBuf>,

    /// The built-in world to play: `default`, DESIGN.md's (SG leads, US and
    /// JP follow), or `kata`, the kata preset (its two regions, SG and US)
    /// [default: default].
    #[arg(long, value_name = "WORLD", value_enum, conflicts_with = "scenario")]
    #[serde(default)]
    pub world: Option<WorldArg>,

    /// Runs per scenario and design (1 to 1000; run i: seed + i, its own
    /// fault onset). 20 by default, so a p95 over runs is not their maximum.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub runs: u32,

    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common<ReportFormat>,

    /// Ranking order, comma-separated, from: money, rto, charge_p95,
    /// read_p95, staleness_p99, rpo_p99 (those left out follow in this order).
    #[arg(long, default_value = "money,rto,charge_p95,read_p95,rpo_p99")]
    pub priorities: String,

    /// Only these write paths (repeatable or comma-separated): the
    /// single-leader commit modes, the multi-leader paths or leaderless
    /// quorums.
    #[arg(
        long = "write-path",
        value_name = "PATH",
        value_enum,
        value_delimiter = ','
    )]
    pub write_paths: Vec<PlanWritePath>,

    /// Only these read strategies (repeatable or comma-separated); `none`
    /// for multi-leader paths, `quorum` for quorums.
    #[arg(
        long = "strategy",
        value_name = "NAME",
        value_enum,
        value_delimiter = ','
    )]
    pub strategies: Vec<PlanStrategy>,

    /// Play the scenario without its `[[flag]]` tables: a plan judges each
    /// design without operator actions, so a scenario with runbook flags
    /// is refused unless this says to leave them out.
    #[arg(long)]
    #[serde(default)]
    pub without_flags: bool,

    /// Go ahead with a search over the normal size (the refusal gives its
    /// estimated time and memory: every unit's runs added up).
    #[arg(long)]
    #[serde(default)]
    pub allow_long: bool,

    #[command(flatten)]
    #[serde(skip)]
    pub sharding: Sharding,
}

/// `kata86 merge` options.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The shard files, in any order.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<std::path::PathBuf>,

    /// Output format (csv: `sim` shards only).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Also write the merged run's self-contained HTML report to this file
    /// (its directory must exist). A merge writes only the paths given
    /// here: a shard file names none.
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<std::path::PathBuf>,

    /// Also write every merged histogram (`sim` and `drill` shards) to this
    /// directory (created if missing) as `.hgrm` files.
    #[arg(long, value_name = "DIR")]
    pub hgrm: Option<std::path::PathBuf>,
}

/// `kata86 pbs` options.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct PbsArgs {
    /// PBS latency preset [default: none, the kata topology SG, US, JP with
    /// LNKD-SSD service times].
    #[arg(long, value_name = "NAME", value_enum, conflicts_with = "scenario")]
    pub preset: Option<Preset>,

    /// Take the topology (and leader) of this TOML scenario file.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<std::path::PathBuf>,

    /// Replicas (1 to 16; a topology holds 3 per region, wan exactly 3).
    #[arg(long, default_value_t = 3)]
    pub n: usize,

    /// Read replies the read waits for (1 to N).
    #[arg(long, default_value_t = 1)]
    pub r: usize,

    /// Write acknowledgements the write waits for (1 to N).
    #[arg(long, default_value_t = 1)]
    pub w: usize,

    /// Where the N replicas sit, e.g. SG,US,JP (topology runs only) [default:
    /// round-robin over the regions from the leader's].
    #[arg(long, value_name = "R1,R2,...")]
    pub placement: Option<String>,

    /// Monte Carlo trials, 1 to 10^8.
    #[arg(long, default_value_t = 1_000_000)]
    pub trials: u64,

    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common<Format>,

    /// Spacing of the curve's points (positive). A duration: a bare number is ms; or write it with a unit (150ms, 2s, 1.5s, 2m).
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "MS",
        allow_negative_numbers = true,
        value_parser = millis
    )]
    pub step_ms: f64,

    /// Points on the curve: t = 0, step, ..., (points − 1) · step (1 to 100001).
    #[arg(long, default_value_t = 101)]
    pub points: usize,
}

/// The options every reporting command spells and means the same way,
/// flattened into each: the seed is echoed in the reproduce line and kept
/// in shard files, the output options are neither.
#[derive(Debug, Clone, Args, Serialize, Deserialize)]
pub struct Common<F: ValueEnum + Clone + Default + Send + Sync + 'static> {
    /// Master seed: every random draw derives from it (run i of a command
    /// with --runs plays SEED + i), so the same command prints the same bytes.
    #[arg(long, default_value_t = 86)]
    pub seed: u64,

    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    #[serde(skip)]
    pub format: F,

    /// Also write a self-contained HTML report (inline SVG plots, no script,
    /// nothing fetched) to this file; its directory must exist.
    #[arg(long, value_name = "FILE.html")]
    #[serde(skip)]
    pub report: Option<std::path::PathBuf>,

    /// No progress bar on stderr.
    #[arg(long, short = 'q')]
    #[serde(skip)]
    pub quiet: bool,
}

/// `--shard I/N --out FILE`: run a share of the work into a shard file
/// that `kata86 merge` combines.
#[derive(Debug, Clone, Default, Args)]
pub struct Sharding {
    /// Run only shard I of N of the work (unit u, a chunk of 2^20 requests
    /// of `sim`, a run of `drill`, a drill of `plan`, is shard u mod N's) and
    /// write it to --out instead of printing a report; `kata86 merge`
    /// combines the N files.
    #[arg(long, value_name = "I/N", requires = "out")]
    pub shard: Option<String>,

    /// The shard file to write (JSON); without --shard, the whole run as
    /// shard 0/1.
    #[arg(long, value_name = "FILE")]
    pub out: Option<std::path::PathBuf>,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Tables for people.
    #[default]
    Table,
    /// One JSON document for programs.
    Json,
    /// One CSV row per cell.
    Csv,
}

/// Lag models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// The kata's: each observation independent; 2 % are 4–8 s spikes.
    Iid,
    /// Spikes are episodes: replication stalls 2–8 s, then drains at 3× speed.
    Episodic,
}

/// Workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// The kata's loop: every request is one balance read and one charge.
    Kata,
    /// A real wallet: reads, charges with idempotent retries and top-ups
    /// against a replicated ledger; money invariants checked at the end.
    Wallet,
}

/// Read-your-writes modes (wallet workload).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ryw {
    /// No session guarantee.
    Off,
    /// A replica missing the session's last charge waits for it (bounded), else forwards.
    Wait,
    /// A replica missing the session's last charge forwards the read to the leader.
    Forward,
}

/// `kata86 sim` options. Serialized (less the output options) as the
/// canonical arguments of a shard file.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct SimArgs {
    /// Requests simulated per cell (each: one read, one charge); 1 to 10^9.
    /// (No `-n`: `--n` is the quorum's size.)
    #[arg(long, default_value_t = 1_000_000)]
    pub iterations: u64,

    /// Refused with a pointer to --iterations and --n.
    #[arg(
        short = 'n',
        hide = true,
        num_args = 0..=1,
        default_missing_value = "",
        value_name = "N",
        value_parser = no_short_n
    )]
    #[serde(skip)]
    pub short_n: Option<bool>,

    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common<Format>,

    /// Client site to simulate (repeatable; default: every site).
    #[arg(long = "client", value_name = "SITE")]
    pub clients: Vec<String>,

    /// Read strategy (repeatable or comma-separated; default: all; the
    /// wallet workload replays a single leader and has no `quorum`).
    /// `quorum` is leaderless: N replicas, reads wait for R replies, charges
    /// for W acks (--n, --r, --w, --placement).
    #[arg(
        long = "strategy",
        value_name = "NAME",
        value_enum,
        value_delimiter = ','
    )]
    pub strategies: Vec<Strategy>,

    /// Wallet: where a charge commits: single-leader (the default), or the
    /// multi-leader lww, crdt or escrow (every site at once, one read
    /// strategy: local, fallback or bounded, the default; the report of
    /// `kata86 drill --write-path`).
    #[arg(long, value_name = "PATH", value_enum)]
    pub write_path: Option<WritePathArg>,

    /// `quorum`: replicas, 1 to 3 per region [default: 3].
    #[arg(long = "n", value_name = "N")]
    pub quorum_n: Option<usize>,

    /// `quorum`: read replies a read waits for, 1 to N [default: 2].
    #[arg(long = "r", value_name = "R")]
    pub quorum_r: Option<usize>,

    /// `quorum`: acknowledgements a charge waits for, 1 to N [default: 2].
    #[arg(long = "w", value_name = "W")]
    pub quorum_w: Option<usize>,

    /// `quorum`: the region of each replica, e.g. SG,US,SG [default:
    /// round-robin over the regions from the leader's].
    #[arg(long, value_name = "R1,R2,...")]
    pub placement: Option<String>,

    /// Replication lag model [default: iid for the kata workload, episodic for
    /// the wallet, whose in-order log would turn per-message iid spikes into
    /// near-permanent backlog].
    #[arg(long, value_enum)]
    pub model: Option<Model>,

    /// Draw every follower's apply lag from this lag file instead of a
    /// model: apply lag only (receipt to visibility; each link's one-way
    /// delay is added as always), one sample in ms per line after the header
    /// `apply_lag_ms` and a required `# holds: apply-lag` line, as
    /// `kata86 calibrate postgres --lag-out FILE` writes it. Every
    /// observation is independent, drawn between the samples' percentiles.
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    pub lag_from: Option<std::path::PathBuf>,

    /// Region holding the single leader [default: SG, or the scenario's].
    #[arg(long, value_name = "REGION")]
    #[serde(default)]
    pub leader: Option<String>,

    /// Mean requests per simulated second in each cell (Poisson arrivals).
    #[arg(
        long,
        default_value_t = 100.0,
        value_name = "PER_S",
        allow_negative_numbers = true
    )]
    pub rate: f64,

    /// The built-in world to play: `default`, DESIGN.md's (SG leads, US and
    /// JP follow), or `kata`, the kata preset (its two regions, SG and US)
    /// [default: default].
    #[arg(long, value_name = "WORLD", value_enum, conflicts_with_all = ["topology", "scenario"])]
    #[serde(default)]
    pub world: Option<WorldArg>,

    /// Play a scenario file's world: its topology, leader and SLOs (sim
    /// plays steady state: a file with a timeline is refused; play it with
    /// `kata86 drill --scenario`).
    #[arg(long, value_name = "FILE", conflicts_with = "topology")]
    #[serde(default)]
    pub scenario: Option<std::path::PathBuf>,

    /// Replace the world's SLOs with the objectives of an OpenSLO v1 file
    /// (latency and staleness objectives; `apiVersion: openslo/v1`, `kind: SLO` documents, as `kata86 slo
    /// export` writes them).
    /// The same as a scenario's `slo_file`, which it overrides.
    #[arg(long, value_name = "FILE.yaml")]
    #[serde(default)]
    pub slo_file: Option<std::path::PathBuf>,

    /// Regions, links and client sites from a TOML file (a topology file, or
    /// a scenario file's `[topology]`) instead of a built-in world
    /// (`regions = [...]`, `links = [{ a, b, rtt_ms }]`,
    /// `sites = [{ name, home, rtt_ms = { REGION = MS, ... } }]`).
    #[arg(long, value_name = "FILE")]
    pub topology: Option<std::path::PathBuf>,

    /// Uniform extra delay in [0, MS) added to every network leg (0: exact RTTs).
    /// A duration: a bare number is ms; or write it with a unit (150ms, 2s, 1.5s, 2m).
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "MS",
        allow_negative_numbers = true,
        value_parser = millis
    )]
    pub jitter: f64,

    /// Charge deadline carried with each request.
    /// A duration: a bare number is ms; or write it with a unit (150ms, 2s, 1.5s, 2m).
    #[arg(
        long,
        default_value_t = 1000.0,
        value_name = "MS",
        allow_negative_numbers = true,
        value_parser = millis
    )]
    pub deadline: f64,

    /// The leader's durable commit time.
    /// A duration: a bare number is ms; or write it with a unit (150ms, 2s, 1.5s, 2m).
    #[arg(
        long,
        default_value_t = 5.0,
        value_name = "MS",
        allow_negative_numbers = true,
        value_parser = millis
    )]
    pub commit: f64,

    /// `fallback`: staleness above which the client re-reads at the leader.
    /// A duration: a bare number is ms; or write it with a unit (150ms, 2s, 1.5s, 2m).
    #[arg(
        long,
        default_value_t = 2000.0,
        value_name = "MS",
        allow_negative_numbers = true,
        value_parser = millis
    )]
    pub fallback_threshold: f64,

    /// `bounded`: the maximum staleness the contract allows.
    /// A duration: a bare number is ms; or write it with a unit (150ms, 2s, 1.5s, 2m).
    #[arg(
        long,
        default_value_t = 2000.0,
        value_name = "MS",
        allow_negative_numbers = true,
        value_parser = millis
    )]
    pub max_staleness: f64,

    /// What the clients do.
    #[arg(long, value_enum, default_value_t = Workload::Kata)]
    pub workload: Workload,

    /// Wallet: number of accounts, 1 to 1000000 [default: 2000].
    #[arg(long)]
    pub accounts: Option<u32>,

    /// Wallet: Zipf exponent of account popularity, 0 (uniform) to 10 [default: 1.1].
    #[arg(long, allow_negative_numbers = true)]
    pub zipf: Option<f64>,

    /// Wallet: request mix, balance,eligibility,charge,top-up shares summing to 1
    /// [default: 0.7,0.2,0.08,0.02].
    #[arg(long, value_name = "B,E,C,T")]
    pub mix: Option<String>,

    /// Wallet: read-your-writes for sessions [default: off].
    #[arg(long, value_enum)]
    pub ryw: Option<Ryw>,

    /// Also write every latency and staleness histogram to this directory
    /// (created if missing) in HdrHistogram's percentile-distribution text
    /// (`.hgrm`, values in ms), one file per site, strategy and series.
    #[arg(long, value_name = "DIR")]
    #[serde(skip)]
    pub hgrm: Option<std::path::PathBuf>,

    #[command(flatten)]
    #[serde(skip)]
    pub sharding: Sharding,

    /// Go ahead with a run over the normal size (iterations x cells over
    /// 2 x 10^9 for the kata loop, 3 x 10^8 for the wallet: under a minute or
    /// two); the refusal message gives the estimated time.
    #[arg(long)]
    pub allow_long: bool,
}

/// `kata86 drill` options. Serialized (less the output options) as the
/// canonical arguments of a shard file.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct DrillArgs {
    /// Built-in drill. With --scenario, it plays on the file's world (its
    /// faults aimed at the file's leader) in place of the file's own faults.
    #[arg(value_name = "NAME", value_enum, required_unless_present = "scenario")]
    pub name: Option<DrillName>,

    /// A TOML scenario file: its world and settings, and its timeline unless
    /// a built-in drill is named.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<std::path::PathBuf>,

    /// Replace the world's SLOs with the objectives of an OpenSLO v1 file
    /// (`apiVersion: openslo/v1`, `kind: SLO` documents, as `kata86 slo
    /// export` writes them); its time window becomes the budget period.
    /// The same as a scenario's `slo_file`, which it overrides.
    #[arg(long, value_name = "FILE.yaml")]
    #[serde(default)]
    pub slo_file: Option<std::path::PathBuf>,

    /// The error budget's period, in days, for the verdicts' budgets and
    /// the burn-rate alerts [default: the scenario's `slo_budget_days`, the
    /// SLO file's window, else 30]; the same flag as `kata86 alerts`.
    #[arg(long, value_name = "DAYS")]
    #[serde(default)]
    pub budget_days: Option<f64>,

    /// A burn-rate window pair the drill evaluates, SEVERITY:LONG/SHORT:FACTOR
    /// (e.g. page:1h/5m:14.4); repeat for each pair. Replaces the SRE
    /// workbook's four, as `kata86 alerts --burn` does for the rules.
    #[arg(long, value_name = "PAIR")]
    #[serde(default)]
    pub burn: Vec<String>,

    /// What the control plane does when the leader is lost [default:
    /// promote-auto, or the scenario's].
    #[arg(long, value_name = "POLICY", value_enum)]
    pub policy: Option<PolicyArg>,

    /// When the leader acknowledges a charge [default: majority,
    /// DESIGN.md's, or the scenario's].
    #[arg(long, value_name = "MODE", value_enum)]
    pub replication: Option<ReplicationArg>,

    /// The built-in world to play: `default`, DESIGN.md's (SG leads, US and
    /// JP follow), or `kata`, the kata preset (its two regions, SG and US)
    /// [default: default]. A scenario file brings its own.
    #[arg(long, value_name = "WORLD", value_enum, conflicts_with = "scenario")]
    #[serde(default)]
    pub world: Option<WorldArg>,

    /// Role of the third region JP (Tokyo) in the default world [default:
    /// replica, DESIGN.md's]. A scenario file sets its own topology.
    #[arg(long, value_name = "ROLE", value_enum)]
    pub jp: Option<JpArg>,

    /// How replicas compute reported staleness: wall (their wall clock minus
    /// the leader's stamp) or hlc (their hybrid logical clock minus the
    /// leader's hybrid stamp, plus the skew bound as uncertainty) [default:
    /// hlc, DESIGN.md's; `clock-skew` runs both].
    #[arg(long, value_name = "CLOCK", value_enum)]
    pub watermark: Option<WatermarkArg>,

    /// Switch a runbook flag for a time window of the drill: NAME@ON-OFF,
    /// e.g. FORCE_LEADER_READ@60-180 or FORCE_LEADER_READ@1m-3m
    /// (repeatable); each end a duration, bare numbers in seconds. Flags:
    /// FORCE_LEADER_READ, WRITE_READONLY_MODE, DISABLE_RECS. The
    /// multi-leader write paths refuse FORCE_LEADER_READ (no leader to
    /// force reads to); DISABLE_RECS has no eligibility reads to shed there.
    #[arg(long = "flag", value_name = "NAME@ON-OFF", value_parser = flag_window)]
    pub flags: Vec<String>,

    /// How balance reads choose their replica [default: bounded, the
    /// design's choice]. The multi-leader write paths take local, fallback
    /// or bounded: with no leader, a stale entry region sends the read to
    /// the freshest region it reaches.
    #[arg(long, value_name = "NAME", value_enum)]
    pub strategy: Option<Strategy>,

    /// Go ahead with a run over the normal size (more than 10^9 requests):
    /// the refusal message gives its estimated time and memory.
    #[arg(long)]
    pub allow_long: bool,

    /// Turn leader leases and epochs off, to show what split brain costs.
    #[arg(long)]
    pub no_fencing: bool,

    /// Turn the clock-offset check off: a region whose clock is beyond the
    /// 500 ms skew bound from a majority of the regions it reaches goes on
    /// holding leases and serving reads (on by default, as in CockroachDB).
    #[arg(long)]
    pub no_offset_check: bool,

    /// Run every policy × replication mode and print them side by side.
    #[arg(long)]
    pub matrix: bool,

    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common<ReportFormat>,

    /// Play the drill this many times (1 to 10000), each run with its own
    /// seed and fault onset, and report p50/p95/p99/max over the runs.
    /// [default: 20; at most 1000 with a multi-leader --write-path]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub runs: Option<i64>,

    /// Where charges commit: single-leader (the default), lww, crdt or
    /// escrow (multi-leader regional writes: a row over the runs, the first
    /// run's details).
    #[arg(long, value_name = "PATH", value_enum)]
    pub write_path: Option<WritePathArg>,

    /// Escrow: the regions holding rights at the start, comma-separated
    /// [default: every region a client site enters].
    #[arg(long, value_name = "R1,R2")]
    pub escrow_regions: Option<String>,

    /// Escrow: how rights move between regions: on-demand (only when a
    /// charge finds its region short) or background (also ahead of demand,
    /// toward each region's recent charges) [default: background].
    #[arg(long, value_name = "POLICY", value_enum)]
    pub escrow_rebalance: Option<EscrowRebalanceArg>,

    /// Shift each run's fault timeline (faults, flags, clock steps) by a
    /// time drawn uniformly from [0, S) [default: 60 s for built-in drills
    /// with a fault, 0 for baseline, clock-skew and scenario files unless
    /// they set onset_window_s]. A duration: a bare number is seconds; or write it with a unit (150ms, 2s, 1.5s, 2m).
    #[arg(long, value_name = "S", allow_negative_numbers = true, value_parser = seconds)]
    pub onset_window: Option<f64>,

    /// Simulated length of each run (1 s to 86400 s) [default: 300 s, or the
    /// scenario's]. `baseline --duration 24h` measures false alarms per
    /// simulated day. A duration: a bare number is seconds; or write it with
    /// a unit (150ms, 2s, 1.5s, 2m).
    #[arg(long, value_name = "S", allow_negative_numbers = true, value_parser = seconds)]
    pub duration: Option<f64>,

    /// Also write every latency and staleness histogram to this directory
    /// (created if missing) in HdrHistogram's percentile-distribution text
    /// (`.hgrm`, values in ms), one file per site, strategy and series.
    #[arg(long, value_name = "DIR")]
    #[serde(skip)]
    pub hgrm: Option<std::path::PathBuf>,

    #[command(flatten)]
    #[serde(skip)]
    pub sharding: Sharding,
}

/// `kata86 compare` options.
#[derive(Debug, Args, Serialize, Deserialize)]
pub struct CompareArgs {
    /// Compare on this TOML scenario's timeline instead of the built-in
    /// baseline, partition, region-down and lag-spike.
    #[arg(long, value_name = "FILE")]
    pub scenario: Option<std::path::PathBuf>,

    /// Judge every row on the charge-latency objectives of an OpenSLO v1
    /// file (as `kata86 slo export` writes it) in place of the world's.
    #[arg(long, value_name = "FILE.yaml")]
    pub slo_file: Option<std::path::PathBuf>,

    /// The built-in world to play: `default`, DESIGN.md's (SG leads, US and
    /// JP follow), or `kata`, the kata preset (its two regions, SG and US)
    /// [default: default].
    #[arg(long, value_name = "WORLD", value_enum, conflicts_with = "scenario")]
    pub world: Option<WorldArg>,

    #[command(flatten)]
    #[serde(flatten)]
    pub common: Common<Format>,

    /// Go ahead with a comparison over the normal size (the refusal gives
    /// its estimated time and memory).
    #[arg(long)]
    pub allow_long: bool,

    /// Runs per row (1 to 1000): p50/p95/p99/max of every money figure over
    /// them, latency pooled.
    #[arg(
        long,
        default_value_t = 20,
        value_name = "N",
        allow_negative_numbers = true
    )]
    pub runs: i64,

    /// How escrow's rights move between regions: on-demand or background
    /// (see `drill --escrow-rebalance`).
    #[arg(long, value_name = "POLICY", value_enum, default_value_t = EscrowRebalanceArg::Background)]
    pub escrow_rebalance: EscrowRebalanceArg,
}

/// The value parser of every duration flag whose bare numbers are ms:
/// returns milliseconds.
pub fn millis(text: &str) -> Result<f64, String> {
    topology::units::parse_duration(text, topology::units::Unit::Ms).map_err(|e| e.to_string())
}

/// The value parser of every duration flag whose bare numbers are seconds:
/// returns seconds.
pub fn seconds(text: &str) -> Result<f64, String> {
    topology::units::parse_duration(text, topology::units::Unit::S).map_err(|e| e.to_string())
}

/// `--flag NAME@ON-OFF`'s value parser: checks the form (each end a
/// duration, bare numbers in seconds) and keeps the text as written, which
/// the report echoes.
pub fn flag_window(text: &str) -> Result<String, String> {
    let bad = |why: String| {
        format!("write NAME@ON-OFF, each end {} or a bare number of seconds, e.g. FORCE_LEADER_READ@60-180 or FORCE_LEADER_READ@1m-3m{why}", topology::units::DURATION_FORMS)
    };
    let (_, window) = text.split_once('@').ok_or_else(|| bad(String::new()))?;
    let (on, off) = window.split_once('-').ok_or_else(|| bad(String::new()))?;
    for end in [on, off] {
        seconds(end).map_err(|_| bad(format!(" (`{end}` is not a duration)")))?;
    }
    Ok(text.to_string())
}

/// The hidden `-n` of `sim`: never accepted, because `--n` is the quorum's
/// size and `-n` used to be `--iterations`.
pub fn no_short_n(_: &str) -> Result<bool, String> {
    Err(
        "-n is not an option: write --iterations N for the requests per cell, or --n N for \
         the quorum's replicas (with --strategy quorum)"
            .into(),
    )
}

/// CLI spellings of closed vocabularies the engine owns: a clap
/// `ValueEnum` (so `--help` lists the values and clap refuses the others)
/// that serializes as the engine's name, and turns into the engine's type.
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident => $engine:ty { $($(#[$vdoc:meta])* $v:ident = $n:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[value(name = $n)] #[serde(rename = $n)] $v),+
        }
        impl $name {
            /// Every value, in help order.
            #[allow(dead_code)]
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// The name on the command line (and the engine's).
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$v => $n),+
                }
            }
            /// The engine's value of that name.
            #[allow(dead_code)]
            pub fn engine(self) -> $engine {
                self.name()
                    .parse()
                    .expect("every CLI spelling is an engine name (tested)")
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

vocabulary! {
    /// Read strategies.
    Strategy => routing::ReadStrategy {
        /// The client's home replica answers, however stale.
        Local = "local",
        /// Every read goes to the leader.
        Leader = "leader",
        /// Local, re-read at the leader when staleness is over --fallback-threshold.
        Fallback = "fallback",
        /// Leaderless: N replicas, reads wait for R replies, charges for W acks.
        Quorum = "quorum",
        /// Local within the --max-staleness contract, else forwarded to the leader.
        Bounded = "bounded",
    }
}

vocabulary! {
    /// Where a charge commits.
    WritePathArg => engine::multi::WritePath {
        /// Option A: one leader region commits every charge.
        SingleLeader = "single-leader",
        /// Multi-leader, last-writer-wins balance.
        Lww = "lww",
        /// Multi-leader, op-based counter.
        Crdt = "crdt",
        /// Multi-leader, bounded counter with rights per region.
        Escrow = "escrow",
    }
}

vocabulary! {
    /// How escrow's rights move between regions.
    EscrowRebalanceArg => engine::multi::Rebalance {
        /// Only when a charge finds its region short of rights.
        OnDemand = "on-demand",
        /// Also ahead of demand, toward each region's recent charges.
        Background = "background",
    }
}

vocabulary! {
    /// What the control plane does when the leader is lost.
    PolicyArg => engine::drill::Policy {
        /// Refuse writes until the old leader is back.
        RejectWrites = "reject-writes",
        /// An operator promotes a follower.
        PromoteManual = "promote-manual",
        /// The control plane promotes a follower on its own.
        PromoteAuto = "promote-auto",
    }
}

vocabulary! {
    /// When the leader acknowledges a charge.
    ReplicationArg => engine::drill::Replication {
        /// At once: followers catch up later.
        Async = "async",
        /// After the first follower holds it durably.
        SemiSync = "semi-sync",
        /// After a majority of the voting regions hold it durably.
        Majority = "majority",
    }
}

vocabulary! {
    /// The role of the third region JP.
    JpArg => engine::drill::JpRole {
        /// No JP.
        None = "none",
        /// A full replica.
        Replica = "replica",
        /// A witness: votes, holds no data.
        Witness = "witness",
    }
}

/// A built-in world (`--world`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum WorldArg {
    /// DESIGN.md's world: SG leads, US and JP follow (the default).
    #[value(name = "default")]
    #[serde(rename = "default")]
    Default,
    /// The kata preset: the kata's two regions, SG and US.
    #[value(name = "kata")]
    #[serde(rename = "kata")]
    Kata,
}

impl WorldArg {
    /// The topology crate's preset.
    pub fn world(self) -> topology::World {
        match self {
            WorldArg::Default => topology::World::Default,
            WorldArg::Kata => topology::World::Kata,
        }
    }
}

impl std::fmt::Display for WorldArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.world().name())
    }
}

/// The world an optional `--world` names (the default world if none).
pub fn world(w: Option<WorldArg>) -> topology::World {
    w.map_or(topology::World::DEFAULT, WorldArg::world)
}

vocabulary! {
    /// How replicas compute reported staleness.
    WatermarkArg => engine::drill::Watermark {
        /// Their wall clock minus the leader's stamp.
        Wall = "wall",
        /// Their hybrid logical clock minus the leader's hybrid stamp, plus the skew bound.
        Hlc = "hlc",
    }
}

vocabulary! {
    /// The built-in drills.
    DrillName => engine::drill::Builtin {
        /// No fault: the reference the others are read against.
        Baseline = "baseline",
        /// The leader's region SG down for 2 minutes.
        RegionDown = "region-down",
        /// SG cut off from the other regions.
        Partition = "partition",
        /// SG -> US apply 8 s slower (apply only: no commit waits for it).
        LagSpike = "lag-spike",
        /// SG's clock ahead, US's behind.
        ClockSkew = "clock-skew",
        /// The lag spike with alerts and DESIGN.md's runbook steps played.
        Runbook = "runbook",
    }
}

/// PBS latency presets (Bailis et al., PVLDB 2012, Table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// LinkedIn's SSD-backed Voldemort.
    #[value(name = "lnkd-ssd")]
    LnkdSsd,
    /// LinkedIn's disk-backed Voldemort.
    #[value(name = "lnkd-disk")]
    LnkdDisk,
    /// Yammer's Riak.
    #[value(name = "ymmr")]
    Ymmr,
    /// Three replicas across a WAN.
    #[value(name = "wan")]
    Wan,
}

impl Preset {
    /// The preset's name in `quorum::PRESETS`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::LnkdSsd => "lnkd-ssd",
            Preset::LnkdDisk => "lnkd-disk",
            Preset::Ymmr => "ymmr",
            Preset::Wan => "wan",
        }
    }
}

impl std::fmt::Display for Preset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::fmt::Display for PlanWritePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&value_name(self))
    }
}

impl std::fmt::Display for PlanStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&value_name(self))
    }
}

/// `kata86 plan`'s write paths: the single-leader commit modes, the
/// multi-leader paths and leaderless quorums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanWritePath {
    /// Single leader, acknowledged at once.
    Async,
    /// Single leader, after one follower's durable receipt.
    SemiSync,
    /// Single leader, after a majority's durable receipts.
    Majority,
    /// Multi-leader, last-writer-wins.
    Lww,
    /// Multi-leader, op-based counter.
    Crdt,
    /// Multi-leader, bounded counter.
    Escrow,
    /// Leaderless N/R/W quorums.
    Quorum,
}

/// `kata86 plan`'s read strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlanStrategy {
    /// The entry region's replica, however stale.
    Local,
    /// Always the leader (single leader only).
    Leader,
    /// Local, re-read past the threshold at the leader (multi-leader: at
    /// the freshest region the entry region reaches).
    Fallback,
    /// Local within the staleness bound, else forwarded to the leader
    /// (multi-leader: to the freshest region the entry region reaches).
    Bounded,
    /// Leaderless quorums.
    Quorum,
}

/// The name clap gives a `ValueEnum` value.
pub fn value_name<T: ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .expect("no value is skipped")
        .get_name()
        .to_string()
}

/// Report formats of the commands that have no CSV (`drill`, `plan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ReportFormat {
    /// Tables for people.
    #[default]
    Table,
    /// One JSON document for programs.
    Json,
}

impl ReportFormat {
    /// `merge`'s format for a drill or plan (CSV refused before).
    pub fn table_or_json(f: Format) -> ReportFormat {
        match f {
            Format::Json => ReportFormat::Json,
            _ => ReportFormat::Table,
        }
    }
}

impl From<ReportFormat> for Format {
    fn from(f: ReportFormat) -> Format {
        match f {
            ReportFormat::Table => Format::Table,
            ReportFormat::Json => Format::Json,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_bare_numbers_in_the_flags_unit() {
        assert_eq!(millis("150"), Ok(150.0));
        assert_eq!(millis("150ms"), Ok(150.0));
        assert_eq!(millis("2s"), Ok(2000.0));
        assert_eq!(millis("1.5s"), Ok(1500.0));
        assert_eq!(millis("0.3s"), Ok(300.0));
        assert_eq!(millis("2m"), Ok(120_000.0));
        assert_eq!(millis("250us"), Ok(0.25));
        assert_eq!(millis("1e3"), Ok(1000.0));
        assert_eq!(millis("-5"), Ok(-5.0));
        assert_eq!(seconds("90"), Ok(90.0));
        assert_eq!(seconds("1.5m"), Ok(90.0));
        assert_eq!(seconds("150ms"), Ok(0.15));
        assert_eq!(seconds("1h"), Ok(3600.0));
        assert_eq!(millis("1e400s"), Ok(f64::INFINITY));
        for bad in ["", "2x", "s", "ms2", "2 s s", "1.2.3ms"] {
            let e = millis(bad).unwrap_err();
            assert!(
                e.contains("150ms, 2s") && e.contains("milliseconds"),
                "{bad}: {e}"
            );
        }
        assert!(seconds("2x")
            .unwrap_err()
            .contains("bare number of seconds"));
    }

    #[test]
    fn flag_windows_take_durations_and_keep_their_text() {
        assert_eq!(flag_window("F@60-180").as_deref(), Ok("F@60-180"));
        assert_eq!(flag_window("F@1m-3m").as_deref(), Ok("F@1m-3m"));
        assert!(flag_window("F@60").is_err());
        assert!(flag_window("F@1x-3m").unwrap_err().contains("`1x`"));
    }

    fn same_names<T: ValueEnum>(ours: &[T], engine: &[&str]) {
        let ours: Vec<String> = ours.iter().map(value_name).collect();
        assert_eq!(
            ours, engine,
            "the CLI's values are the engine's, in its order"
        );
    }

    #[test]
    fn every_vocabulary_is_the_engines() {
        let names = |v: &[&'static str]| v.to_vec();
        same_names(
            Strategy::ALL,
            &names(&routing::ReadStrategy::ALL.map(|s| s.name())),
        );
        let w: Vec<_> = engine::multi::WritePath::ALL
            .iter()
            .map(|v| v.name())
            .collect();
        same_names(WritePathArg::ALL, &w);
        let p: Vec<_> = engine::drill::Policy::ALL
            .iter()
            .map(|v| v.name())
            .collect();
        same_names(PolicyArg::ALL, &p);
        let r: Vec<_> = engine::drill::Replication::ALL
            .iter()
            .map(|v| v.name())
            .collect();
        same_names(ReplicationArg::ALL, &r);
        let j: Vec<_> = engine::drill::JpRole::ALL
            .iter()
            .map(|v| v.name())
            .collect();
        same_names(JpArg::ALL, &j);
        let m: Vec<_> = engine::drill::Watermark::ALL
            .iter()
            .map(|v| v.name())
            .collect();
        same_names(WatermarkArg::ALL, &m);
        let b: Vec<_> = engine::drill::Builtin::ALL
            .iter()
            .map(|v| v.name())
            .collect();
        same_names(DrillName::ALL, &b);
        same_names(Preset::value_variants(), &quorum::PRESETS);
        for v in Strategy::ALL {
            assert_eq!(v.engine().name(), v.name());
            assert_eq!(serde_json::to_value(v).unwrap(), v.name());
        }
        for v in PlanWritePath::value_variants() {
            assert_eq!(serde_json::to_value(v).unwrap(), value_name(v).as_str());
        }
        for v in PlanStrategy::value_variants() {
            assert_eq!(serde_json::to_value(v).unwrap(), value_name(v).as_str());
        }
    }
}
