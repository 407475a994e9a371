//! The command line, as clap sees it.

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// kata's topology (regions SG and US, sites VN and US), leader SG, the
    /// `iid` lag model, 1,000,000 requests per cell, seed 86.
    Sim(SimArgs),
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Tables for people.
    Table,
    /// One JSON document for programs.
    Json,
    /// One CSV row per cell.
    Csv,
}

/// Lag models.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Model {
    /// The kata's: each observation independent; 2 % are 4–8 s spikes.
    Iid,
    /// Spikes are episodes: replication stalls 2–8 s, then drains at 3× speed.
    Episodic,
}

/// `kata86 sim` options.
#[derive(Debug, Args)]
pub struct SimArgs {
    /// Requests simulated per cell (each: one read, one charge).
    #[arg(long, short = 'n', default_value_t = 1_000_000)]
    pub iterations: u64,

    /// Master seed; every random stream derives from it.
    #[arg(long, default_value_t = 86)]
    pub seed: u64,

    /// Client site to simulate (repeatable; default: every site).
    #[arg(long = "client", value_name = "SITE")]
    pub clients: Vec<String>,

    /// Read strategy: local, leader, fallback, quorum, bounded (repeatable; default: all).
    #[arg(long = "strategy", value_name = "NAME")]
    pub strategies: Vec<String>,

    /// Replication lag model.
    #[arg(long, value_enum, default_value_t = Model::Iid)]
    pub model: Model,

    /// Region holding the single leader.
    #[arg(long, default_value = "SG", value_name = "REGION")]
    pub leader: String,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Mean requests per simulated second in each cell (Poisson arrivals).
    #[arg(long, default_value_t = 100.0, value_name = "PER_S")]
    pub rate: f64,

    /// Uniform extra delay in [0, MS) added to every network leg (0: exact RTTs).
    #[arg(long, default_value_t = 0.0, value_name = "MS")]
    pub jitter: f64,

    /// Charge deadline carried with each request.
    #[arg(long, default_value_t = 1000.0, value_name = "MS")]
    pub deadline: f64,

    /// The leader's durable commit time.
    #[arg(long, default_value_t = 5.0, value_name = "MS")]
    pub commit: f64,

    /// `fallback`: staleness above which the client re-reads at the leader.
    #[arg(long, default_value_t = 2000.0, value_name = "MS")]
    pub fallback_threshold: f64,

    /// `bounded`: the maximum staleness the contract allows.
    #[arg(long, default_value_t = 2000.0, value_name = "MS")]
    pub max_staleness: f64,

    /// No progress on stderr.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}
