//! `kata86 calibrate postgres`: the model checked against real PostgreSQL
//! replicas running under the world's latencies.
//!
//! # Brief overview
//! * [`World`] — a topology and its leader: the primary runs in the leader's
//!   region, one hot standby in every other region ([`World::three`] is the
//!   default SG/US/JP world, [`World::five`] adds EU and AU so that majority
//!   is `ANY 2`).
//! * [`Mode`] — kata86's commit modes mapped onto `synchronous_standby_names`
//!   exactly as the model defines them: `async` = `''`; `semi-sync` =
//!   `ANY 1 (…)`; `majority` = `ANY ⌊n/2⌋ (…)` for n replicas counting the
//!   primary; always `synchronous_commit = on`.
//! * [`Cluster`] — initdb, pg_basebackup and streaming
//!   replication in a temporary directory, each replication link through a
//!   [`DelayLine`]; cleaned up on every exit path.
//! * [`calibrate`] — plays the charge workload ([`workload`]) in every
//!   configuration, fits the model's free parameters ([`model::Fitted`]) on
//!   the first world's `async` run and predicts every other configuration out
//!   of sample, into a [`Report`] of measured, predicted and ratio rows.
//!
//! # Key decision: the network is a delay line, the database is real
//! The kernel's `netem` is not available here, so every path (each
//! replication link both ways; each client site to the primary and to its
//! home standby) goes through a user-space TCP proxy that timestamps each
//! chunk on arrival and releases it at arrival + delay from a timer thread:
//! the stream is never serialised, and the proxy's own cost is measured and
//! fitted as one more parameter rather than hidden in the others. Everything
//! else — WAL shipping, group commit, walsender wake-ups, replay — is
//! PostgreSQL's own, which is what the calibration is about.
//!
//! This crate does process, socket and file I/O: that is its job. It prints
//! nothing; the CLI renders the [`Report`].

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod cluster;
pub mod delay;
pub mod model;
pub mod workload;

use std::path::{Path, PathBuf};
use std::time::Duration;

use topology::{RegionId, SiteId, Topology};

use cluster::{Cluster, StandbySpec};
use delay::{DelayLine, Overhead};
use model::{Fitted, Geometry, Metric, Side, Q3, QUANTILES};
use workload::{SitePlan, WorkloadPlan};

/// Everything that can stop a calibration.
#[derive(Debug, thiserror::Error)]
pub enum CalibrateError {
    /// The PostgreSQL server binaries were not found.
    #[error(
        "PostgreSQL server binaries not found (looked in: {tried}); install them \
         (Debian/Ubuntu: `sudo apt-get install postgresql-15`) or name their directory with --pg-bin DIR"
    )]
    NoPostgres {
        /// Where we looked and what was missing.
        tried: String,
    },
    /// Running as root, with no unprivileged `postgres` user to run the servers as.
    #[error(
        "running as root, and PostgreSQL refuses to: the servers run as the user `postgres`, \
         which does not exist here; create it (`useradd --system postgres`) or run as an \
         unprivileged user"
    )]
    NoUser,
    /// A system call or file operation failed.
    #[error("cannot {what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// A PostgreSQL program exited with an error.
    #[error("{what} failed: {detail}")]
    Command {
        /// The program.
        what: String,
        /// Its exit status and standard error.
        detail: String,
    },
    /// A query or connection failed.
    #[error("database: cannot {what}: {source}")]
    Db {
        /// What was being done.
        what: String,
        /// The driver's error.
        source: postgres::Error,
    },
    /// Bad options or a world that cannot be calibrated.
    #[error("{0}")]
    Config(String),
    /// A server or a setting did not come up in time.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The workload produced nothing to measure.
    #[error("no measurement: {0}")]
    Empty(String),
}

impl CalibrateError {
    pub(crate) fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> CalibrateError {
        move |source| CalibrateError::Io {
            what: what.to_string(),
            source,
        }
    }
}

/// kata86's commit modes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Ack after the leader's commit.
    Async,
    /// Ack after the earliest follower's durable receipt: `ANY 1 (…)`.
    SemiSync,
    /// Ack after ⌊n/2⌋ followers' durable receipts: `ANY ⌊n/2⌋ (…)`.
    Majority,
}

impl Mode {
    /// Every mode, in order.
    pub const ALL: [Mode; 3] = [Mode::Async, Mode::SemiSync, Mode::Majority];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Async => "async",
            Mode::SemiSync => "semi-sync",
            Mode::Majority => "majority",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Result<Mode, CalibrateError> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                CalibrateError::Config(format!(
                    "unknown mode `{s}` (known: async, semi-sync, majority)"
                ))
            })
    }

    /// How many standbys a commit waits for with `replicas` replicas
    /// counting the primary.
    pub fn sync_count(self, replicas: usize) -> usize {
        match self {
            Mode::Async => 0,
            Mode::SemiSync => 1.min(replicas.saturating_sub(1)),
            Mode::Majority => replicas / 2,
        }
    }

    /// `synchronous_standby_names` for these standbys' application names.
    pub fn standby_names(self, app_names: &[String]) -> String {
        let k = self.sync_count(app_names.len() + 1);
        if k == 0 {
            return String::new();
        }
        let list: Vec<String> = app_names.iter().map(|n| format!("\"{n}\"")).collect();
        format!("ANY {k} ({})", list.join(", "))
    }
}

/// A world to calibrate: a topology and the leader's region.
#[derive(Debug, Clone)]
pub struct World {
    /// Its name in the report.
    pub name: String,
    /// Regions, sites, RTTs.
    pub topology: Topology,
    /// Where the primary runs.
    pub leader: RegionId,
}

/// At most this many regions (servers) per world: each is a PostgreSQL
/// server and a delay line on a small machine.
pub const MAX_REGIONS: usize = 7;

impl World {
    /// A world from a topology and its leader.
    pub fn new(name: &str, topology: Topology, leader: RegionId) -> Result<World, CalibrateError> {
        let n = topology.region_count();
        if !(2..=MAX_REGIONS).contains(&n) {
            return Err(CalibrateError::Config(format!(
                "world `{name}` has {n} regions; calibrate needs 2 to {MAX_REGIONS} \
                 (a primary and at least one standby)"
            )));
        }
        if topology.sites().is_empty() {
            return Err(CalibrateError::Config(format!(
                "world `{name}` has no client site"
            )));
        }
        if leader.idx() >= n {
            return Err(CalibrateError::Config(format!(
                "world `{name}`: leader region index {} out of range",
                leader.idx()
            )));
        }
        Ok(World {
            name: name.to_string(),
            topology,
            leader,
        })
    }

    /// The default world: SG (leader), US, JP; sites VN and US.
    pub fn three() -> World {
        World {
            name: "three".into(),
            topology: Topology::kata_with_jp(),
            leader: RegionId(0),
        }
    }

    /// Five replicas: the default world plus EU (Frankfurt) and AU (Sydney),
    /// and a site DE homed in EU. Region RTTs are rounded published
    /// inter-region averages (SG↔AU 92, SG↔EU 155, US↔EU 88, US↔AU 198,
    /// JP↔EU 225, JP↔AU 105, EU↔AU 250 ms); site RTTs are estimates built as
    /// in docs/model.md. Majority here is `ANY 2`: the second nearest
    /// standby from SG is AU (92 ms), the nearest JP (74 ms).
    pub fn five() -> World {
        let topology = Topology::kata_builder()
            .region("JP")
            .region("EU")
            .region("AU")
            .link("SG", "JP", 74.0)
            .link("US", "JP", 145.0)
            .link("SG", "EU", 155.0)
            .link("US", "EU", 88.0)
            .link("JP", "EU", 225.0)
            .link("SG", "AU", 92.0)
            .link("US", "AU", 198.0)
            .link("JP", "AU", 105.0)
            .link("EU", "AU", 250.0)
            .site_rtt("VN", "JP", 90.0)
            .site_rtt("US", "JP", 150.0)
            .site_rtt("VN", "EU", 195.0)
            .site_rtt("US", "EU", 100.0)
            .site_rtt("VN", "AU", 132.0)
            .site_rtt("US", "AU", 210.0)
            .site(
                "DE",
                "EU",
                &[
                    ("SG", 160.0),
                    ("US", 95.0),
                    ("JP", 230.0),
                    ("EU", 10.0),
                    ("AU", 255.0),
                ],
            )
            .build()
            .expect("built-in topology is valid");
        World {
            name: "five".into(),
            topology,
            leader: RegionId(0),
        }
    }

    fn geometry(&self) -> Geometry<'_> {
        Geometry {
            topology: &self.topology,
            leader: self.leader,
        }
    }

    /// Replicas counting the primary.
    pub fn replicas(&self) -> usize {
        self.topology.region_count()
    }
}

/// What to calibrate and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The worlds; the model is fitted on the first one's `async` run.
    pub worlds: Vec<World>,
    /// Modes predicted in every world (`async` always runs: it is the fit in
    /// the first world, a prediction in the others).
    pub modes: Vec<Mode>,
    /// Measured time per configuration and repeat (default 20 s).
    pub duration: Duration,
    /// Repeats per configuration; figures are medians over them (default 1).
    pub repeats: u32,
    /// Directory of the server binaries (default: `pg_config --bindir`).
    pub pg_bin: Option<PathBuf>,
    /// Accounts each site charges, its own (default 2: enough writes per
    /// account for reads to see data age). A site never waits for another's
    /// row lock, which PostgreSQL holds through the synchronous wait and the
    /// model has no term for.
    pub accounts: u32,
    /// Mean think time between one site's charges (default 50 ms).
    pub think: Duration,
    /// Mean gap between one site's balance reads (default 10 ms; each reads
    /// every account).
    pub read_gap: Duration,
    /// Heartbeat period (default 100 ms, the model's).
    pub heartbeat: Duration,
    /// Seed of the workload's choices.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            worlds: vec![World::three(), World::five()],
            modes: Mode::ALL.to_vec(),
            duration: Duration::from_secs(20),
            repeats: 1,
            pg_bin: None,
            accounts: 2,
            think: Duration::from_millis(50),
            read_gap: Duration::from_millis(10),
            heartbeat: Duration::from_millis(100),
            seed: 86,
        }
    }
}

impl Options {
    /// Checks every bound once.
    pub fn validate(&self) -> Result<(), CalibrateError> {
        let bad = |m: String| Err(CalibrateError::Config(m));
        if self.worlds.is_empty() {
            return bad("no world to calibrate".into());
        }
        if self.worlds.len() > 4 {
            return bad(format!("{} worlds; at most 4", self.worlds.len()));
        }
        let d = self.duration.as_secs_f64();
        if !(2.0..=600.0).contains(&d) {
            return bad(format!(
                "--duration {d} s: give 2 to 600 s per configuration"
            ));
        }
        if !(1..=9).contains(&self.repeats) {
            return bad(format!("--repeats {}: give 1 to 9", self.repeats));
        }
        if !(1..=10_000).contains(&self.accounts) {
            return bad(format!("{} accounts: give 1 to 10000", self.accounts));
        }
        for (what, v) in [
            ("think time", self.think),
            ("read gap", self.read_gap),
            ("heartbeat", self.heartbeat),
        ] {
            if v < Duration::from_millis(1) || v > Duration::from_secs(10) {
                return bad(format!("{what} {v:?}: give 1 ms to 10 s"));
            }
        }
        Ok(())
    }

    fn modes_for(&self) -> Vec<Mode> {
        let mut m: Vec<Mode> = std::iter::once(Mode::Async)
            .chain(self.modes.iter().copied())
            .collect();
        m.sort();
        m.dedup();
        m
    }
}

/// One row: a metric at a place and quantile, measured and predicted.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Row {
    /// What.
    pub metric: Metric,
    /// Where: a site (commit, data age) or a standby's region.
    pub at: String,
    /// `p50`, `p95` or `p99`.
    pub quantile: &'static str,
    /// Measured, ms (median over repeats).
    pub measured_ms: f64,
    /// Samples behind the measured figure, all repeats.
    pub samples: u64,
    /// The measured quantile's order-statistic interval (`model::rank_interval`,
    /// ends as medians over repeats), ms: how finely `samples` pin it.
    pub measured_interval_ms: [f64; 2],
    /// Predicted by the model with the fitted parameters, ms.
    pub predicted_ms: Option<f64>,
    /// The predictions of the fits on the fitted configuration's interval
    /// ends (lowest, highest), ms: the fit's own sampling error.
    pub predicted_interval_ms: Option<[f64; 2]>,
    /// Predicted / measured.
    pub ratio: Option<f64>,
    /// The model error allowed between the predicted and the measured
    /// intervals, ms (out-of-sample p50/p95 only): `model::tolerance_ms`.
    pub tolerance_ms: Option<f64>,
    /// Whether the two intervals are within it of each other
    /// (`model::within`).
    pub within: Option<bool>,
}

/// One configuration: a world and a mode.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Configuration {
    /// The world's name.
    pub world: String,
    /// Replicas counting the primary.
    pub replicas: usize,
    /// The mode.
    pub mode: Mode,
    /// The setting played.
    pub synchronous_standby_names: String,
    /// True for the configuration the model was fitted on: its rows are
    /// in-sample and judged by no tolerance.
    pub in_sample: bool,
    /// Charges committed, all sites and repeats.
    pub charges: u64,
    /// Charges that failed.
    pub charge_errors: u64,
    /// The rows, in order: commit per site, staleness per standby, data age
    /// per reading site, `pg_stat_replication` lags per standby.
    pub rows: Vec<Row>,
}

/// A calibration's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Report {
    /// The delay line's self-probe.
    pub delay_line: Overhead,
    /// How late chunks left the delay lines after their release time, over
    /// every line and configuration, ms.
    pub delay_line_lateness_ms: Q3,
    /// The fitted parameters.
    pub fitted: Fitted,
    /// Which configuration they were fitted on.
    pub fitted_on: String,
    /// Measured time per configuration and repeat, s.
    pub duration_s: f64,
    /// Repeats per configuration.
    pub repeats: u32,
    /// Every configuration, the fitted one first.
    pub configurations: Vec<Configuration>,
    /// Out-of-sample rows judged, and how many were within tolerance.
    pub judged: usize,
    /// Of which within tolerance.
    pub within: usize,
    /// What `kata86 sim --lag-from` on the fitted world must print.
    pub sim_check: SimCheck,
}

impl Report {
    /// Whether every out-of-sample prediction is within its tolerance.
    pub fn all_within(&self) -> bool {
        self.judged == self.within
    }
}

/// What the fit reads from the fitted configuration (medians over repeats):
/// per site of the world (`commit`) and per standby in
/// [`Geometry::standbys`] order (`replay_lag`, `staleness`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FitInput {
    /// The delay line's cost per traversal (its self-probe's median), ms.
    pub overhead_ms: f64,
    /// The heartbeat period, ms.
    pub heartbeat_ms: f64,
    /// The fsync probe's median, ms (reported, not used to predict).
    pub fsync_probe_ms: f64,
    /// Commit latency per site, ms.
    pub commit: Vec<Q3>,
    /// `pg_stat_replication.replay_lag` per standby, ms.
    pub replay_lag: Vec<Q3>,
    /// Reported staleness per standby, ms.
    pub staleness: Vec<Q3>,
}

/// Fits the model's free parameters on one configuration of `world` (its
/// `async` run). The commit time and the apply law are kept to whole µs, the
/// precision of `--commit` and of the lag file, so that every prediction and
/// the lag file use the same numbers.
pub fn fit(world: &World, m: &FitInput) -> Result<Fitted, CalibrateError> {
    let geo = world.geometry();
    let (sites, standbys) = (world.topology.sites().len(), geo.standbys().len());
    if m.commit.len() != sites || m.replay_lag.len() != standbys || m.staleness.len() != standbys {
        return Err(CalibrateError::Config(format!(
            "world `{}`: the fit needs commit latency for {sites} sites and replay lag and \
             staleness for {standbys} standbys; got {}, {} and {}",
            world.name,
            m.commit.len(),
            m.replay_lag.len(),
            m.staleness.len()
        )));
    }
    let us = model::to_us_precision;
    let c = model::fit_commit(&geo, &m.commit, m.overhead_ms);
    let (base, jitter) = model::fit_apply(&geo, &m.replay_lag, m.overhead_ms);
    let mut fitted = Fitted {
        overhead_ms: m.overhead_ms,
        commit_ms: Q3 {
            p50: us(c.p50),
            p95: us(c.p95),
            p99: us(c.p99),
        },
        apply_base_ms: us(base),
        apply_jitter_ms: us(jitter),
        heartbeat_ms: m.heartbeat_ms,
        heartbeat_offset_ms: 0.0,
        fsync_probe_ms: m.fsync_probe_ms,
    };
    fitted.heartbeat_offset_ms = model::fit_heartbeat_offset(&geo, &m.staleness, &fitted);
    Ok(fitted)
}

/// Requests per cell of the `sim` run that checks the lag file.
pub const SIM_CHECK_ITERATIONS: u64 = 100_000;

/// One client's figures in the `sim` check: the CSV columns `kata86 sim
/// --format csv` prints for the client's `local` cell, as it prints them.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct SimFigures {
    /// The client site.
    pub client: String,
    /// The read strategy (`local`: the site's home replica).
    pub strategy: &'static str,
    /// `(column, value)`: `write_p95_ms` (the charge p95) and `lag_p50_ms`,
    /// `lag_p95_ms`, `lag_p99_ms`, values as `sim` writes them.
    pub columns: Vec<(&'static str, String)>,
}

/// What `kata86 sim --lag-from FILE` must print on the fitted world: the
/// figures calibrate's model predicts for the simulator's kata loop (no
/// delay line, no heartbeat: the lag drawn per read and the charge path plus
/// `--commit`), from the fitted apply law and commit time. The lag file
/// carries them in its `sim-command:` and `sim-expect:` lines.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct SimCheck {
    /// The world's name.
    pub world: String,
    /// Its regions, in order.
    pub regions: Vec<String>,
    /// The leader's region.
    pub leader: String,
    /// The world as a `--topology` file.
    pub topology_toml: String,
    /// `--commit`: the fitted commit time's p95, ms, so that `sim`'s charge
    /// p95 is the model's async commit p95 without the delay line.
    pub commit_ms: f64,
    /// `--seed`.
    pub seed: u64,
    /// `--iterations`.
    pub iterations: u64,
    /// Per client site, in the world's order.
    pub figures: Vec<SimFigures>,
}

impl SimCheck {
    /// The `sim` command line, word by word (the program's name first), for
    /// the lag file and topology file at these paths.
    pub fn args(&self, lag_file: &str, topology_file: &str) -> Vec<String> {
        [
            "kata86",
            "sim",
            "--topology",
            topology_file,
            "--leader",
            &self.leader,
            "--lag-from",
            lag_file,
            "--commit",
            &format!("{:.3}", self.commit_ms),
            "--strategy",
            "local",
            "--iterations",
            &self.iterations.to_string(),
            "--seed",
            &self.seed.to_string(),
            "--format",
            "csv",
        ]
        .map(str::to_string)
        .to_vec()
    }

    /// The `sim` command that must print [`figures`](Self::figures), for the
    /// lag file and topology file at these paths (as given, unquoted).
    pub fn command(&self, lag_file: &str, topology_file: &str) -> String {
        self.args(lag_file, topology_file).join(" ")
    }

    /// Every expected figure that `csv` (the output of `sim --format csv`)
    /// does not print exactly, as `client / strategy column: expected X,
    /// sim printed Y`; empty when all agree byte for byte.
    pub fn mismatches(&self, csv: &str) -> Vec<String> {
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
        let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        let col = |name: &str| header.iter().position(|h| *h == name);
        let mut out = Vec::new();
        for f in &self.figures {
            let row = match (col("client"), col("strategy")) {
                (Some(c), Some(s)) => rows.iter().find(|r| {
                    r.get(c) == Some(&f.client.as_str()) && r.get(s) == Some(&f.strategy)
                }),
                _ => None,
            };
            let Some(row) = row else {
                out.push(format!("{} / {}: no row", f.client, f.strategy));
                continue;
            };
            for (name, want) in &f.columns {
                let got = col(name).and_then(|i| row.get(i)).copied();
                if got != Some(want.as_str()) {
                    out.push(format!(
                        "{} / {} {name}: expected {want}, sim printed {}",
                        f.client,
                        f.strategy,
                        got.unwrap_or("nothing")
                    ));
                }
            }
        }
        out
    }
}

/// The `sim` check of a fit on `world` (see [`SimCheck`]); `seed` is the
/// run's seed, passed on to `sim`.
pub fn sim_check(world: &World, f: &Fitted, seed: u64) -> SimCheck {
    let geo = world.geometry();
    let t = &world.topology;
    let fmt = |v: f64| format!("{v}");
    let figures = t
        .site_ids()
        .map(|s| {
            let charge = model::predict_sim_charge(&geo, s, f.commit_ms.p95);
            let lag = model::predict_sim_lag(&geo, f, t.home(s));
            SimFigures {
                client: t.site_name(s).to_string(),
                strategy: "local",
                columns: vec![
                    ("write_p95_ms", fmt(charge.p95)),
                    ("lag_p50_ms", fmt(lag.p50)),
                    ("lag_p95_ms", fmt(lag.p95)),
                    ("lag_p99_ms", fmt(lag.p99)),
                ],
            }
        })
        .collect();
    SimCheck {
        world: world.name.clone(),
        regions: t
            .region_ids()
            .map(|r| t.region_name(r).to_string())
            .collect(),
        leader: t.region_name(world.leader).to_string(),
        topology_toml: topology_toml(t),
        commit_ms: f.commit_ms.p95,
        seed,
        iterations: SIM_CHECK_ITERATIONS,
        figures,
    }
}

/// A TOML string.
fn toml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A topology as a `--topology` file (`regions`, `links`, `sites`), RTTs to
/// the µs: `kata86 sim --topology` reads back the same world.
pub fn topology_toml(t: &Topology) -> String {
    let ms = |us: topology::Micros| format!("{:?}", topology::to_ms(us));
    let regions: Vec<RegionId> = t.region_ids().collect();
    let names: Vec<String> = regions
        .iter()
        .map(|r| toml_str(t.region_name(*r)))
        .collect();
    let mut out = format!("regions = [{}]\nlinks = [\n", names.join(", "));
    for (i, a) in regions.iter().enumerate() {
        for b in &regions[i + 1..] {
            out.push_str(&format!(
                "  {{ a = {}, b = {}, rtt_ms = {} }},\n",
                names[a.idx()],
                names[b.idx()],
                ms(t.rtt_regions(*a, *b))
            ));
        }
    }
    out.push_str("]\nsites = [\n");
    for s in t.site_ids() {
        let rtts: Vec<String> = regions
            .iter()
            .map(|r| format!("{} = {}", names[r.idx()], ms(t.rtt_site(s, *r))))
            .collect();
        out.push_str(&format!(
            "  {{ name = {}, home = {}, rtt_ms = {{ {} }} }},\n",
            toml_str(t.site_name(s)),
            names[t.home(s).idx()],
            rtts.join(", ")
        ));
    }
    out.push_str("]\n");
    out
}

/// The files `calibrate --lag-out PATH` writes: the lag file at `lag_path`
/// and the fitted world as a `--topology` file beside it
/// ([`topology_path`]), each with its text.
///
/// The lag file holds the fitted apply law (apply lag only: the law's 101
/// percentiles, `base + jitter · i/100`, as samples, so it describes exactly
/// the law the predictions used; the network delay is not in it), the
/// `# regions:` and `# leader:` of the world it was fitted on, and a
/// `sim-command:` line with the `sim-expect:` lines it must print.
pub fn lag_files(
    fitted_on: &str,
    f: &Fitted,
    check: &SimCheck,
    lag_path: &Path,
) -> [(PathBuf, String); 2] {
    let topo_path = topology_path(lag_path);
    let samples: Vec<f64> = (0..=100)
        .map(|i| f.apply_base_ms + f.apply_jitter_ms * i as f64 / 100.0)
        .collect();
    let mut about = format!(
        "Fitted by kata86 calibrate postgres on {fitted_on}: apply lag = {:.3} ms + U[0, {:.3}) ms\n\
         (pg_stat_replication replay lag minus the link's round trip and the delay line).\n\
         ---\n\
         sim check: on the world it was fitted on ({}, written beside this file), the command\n\
         below prints, for each client's `local` cell, these CSV columns exactly as\n\
         calibrate's model predicts them (no delay line, no heartbeat; `sim` ignores these lines).\n\
         sim-command: {}\n",
        f.apply_base_ms,
        f.apply_jitter_ms,
        check.world,
        check.command(&lag_path.display().to_string(), &topo_path.display().to_string())
    );
    for c in &check.figures {
        let cols: Vec<String> = c.columns.iter().map(|(k, v)| format!("{k}={v}")).collect();
        about.push_str(&format!(
            "sim-expect: {} {} {}\n",
            c.client,
            c.strategy,
            cols.join(" ")
        ));
    }
    let world = replication::lagfile::FittedWorld {
        regions: check.regions.clone(),
        leader: check.leader.clone(),
    };
    let lag = replication::lagfile::write(&about, Some(&world), &samples);
    let topo = format!(
        "# The world `{}` that {} was fitted on (kata86 calibrate postgres --lag-out);\n\
         # give it to sim as --topology with --leader {}.\n{}",
        check.world,
        lag_path.display(),
        check.leader,
        check.topology_toml
    );
    [(lag_path.to_path_buf(), lag), (topo_path, topo)]
}

/// Where [`lag_files`] puts the topology beside a lag file: `apply.csv` →
/// `apply.topology.toml`.
pub fn topology_path(lag_path: &Path) -> PathBuf {
    lag_path.with_extension("topology.toml")
}

/// Medians over repeats of one configuration's series, at one [`Side`] of
/// each quantile's order-statistic interval; sample counts summed.
#[derive(Debug, Clone, Default)]
struct Series {
    commit: Vec<Q3>,
    staleness: Vec<Q3>,
    data_age: Vec<Option<Q3>>,
    pg_lag: Vec<[Q3; 3]>,
    charges: u64,
    errors: u64,
    /// Sample counts: commit per site, staleness per standby, data age per
    /// site, `pg_stat_replication` samples per standby.
    n_commit: Vec<u64>,
    n_staleness: Vec<u64>,
    n_data_age: Vec<u64>,
    n_pg_lag: Vec<u64>,
}

fn median_series(reps: &[Series]) -> Series {
    let first = &reps[0];
    let med = |f: &dyn Fn(&Series) -> Q3| Q3::median(&reps.iter().map(f).collect::<Vec<_>>());
    Series {
        commit: (0..first.commit.len())
            .map(|i| med(&|s| s.commit[i]))
            .collect(),
        staleness: (0..first.staleness.len())
            .map(|i| med(&|s| s.staleness[i]))
            .collect(),
        data_age: (0..first.data_age.len())
            .map(|i| first.data_age[i].map(|_| med(&|s| s.data_age[i].unwrap_or_default())))
            .collect(),
        pg_lag: (0..first.pg_lag.len())
            .map(|i| [0, 1, 2].map(|k| med(&|s| s.pg_lag[i][k])))
            .collect(),
        charges: reps.iter().map(|s| s.charges).sum(),
        errors: reps.iter().map(|s| s.errors).sum(),
        n_commit: sum_counts(reps, |s| &s.n_commit),
        n_staleness: sum_counts(reps, |s| &s.n_staleness),
        n_data_age: sum_counts(reps, |s| &s.n_data_age),
        n_pg_lag: sum_counts(reps, |s| &s.n_pg_lag),
    }
}

fn sum_counts(reps: &[Series], f: impl Fn(&Series) -> &Vec<u64>) -> Vec<u64> {
    (0..f(&reps[0]).len())
        .map(|i| reps.iter().map(|s| f(s)[i]).sum())
        .collect()
}

/// Runs the whole calibration: every world and mode, the fit, the
/// predictions. `progress` hears one line per step.
pub fn calibrate(opts: &Options, progress: &mut dyn FnMut(&str)) -> Result<Report, CalibrateError> {
    opts.validate()?;
    let bin = cluster::find_bin(opts.pg_bin.as_deref())?;
    progress(&format!("PostgreSQL binaries: {}", bin.display()));
    let overhead = delay::probe_overhead(Duration::from_millis(10), 100)?;
    progress(&format!(
        "delay line: {:.3} ms per traversal at p50, {:.3} ms at p99",
        overhead.p50_ms, overhead.p99_ms
    ));
    let mut lateness = metrics::LatencyHistogram::new();
    let mut fsync_ms = None;
    // (world index, mode, names, series at each Side)
    let mut played: Vec<(usize, Mode, String, [Series; 3])> = Vec::new();
    let mut run = 0u32;
    for (wi, world) in opts.worlds.iter().enumerate() {
        let geo = world.geometry();
        let regions = geo.standbys();
        let specs: Vec<StandbySpec> = regions
            .iter()
            .map(|r| StandbySpec {
                region: world.topology.region_name(*r).to_string(),
                one_way: Duration::from_secs_f64(geo.one_way_ms(*r) / 1000.0),
            })
            .collect();
        progress(&format!(
            "world {}: starting a primary in {} and {} standbys",
            world.name,
            world.topology.region_name(world.leader),
            specs.len()
        ));
        let mut cluster = Cluster::start(&bin, world.topology.region_name(world.leader), &specs)?;
        if fsync_ms.is_none() {
            fsync_ms = Some(workload::probe_fsync(cluster.dir(), 200)? as f64 / 1000.0);
        }
        workload::install(
            &cluster,
            opts.accounts * world.topology.sites().len() as u32,
        )?;
        let (lines, sites) = site_lines(world, &cluster)?;
        let app_names: Vec<String> = cluster
            .standbys()
            .iter()
            .map(|s| s.app_name.clone())
            .collect();
        for mode in opts.modes_for() {
            let names = mode.standby_names(&app_names);
            progress(&format!(
                "world {}, {}: synchronous_standby_names = '{names}', {} × {:.0} s",
                world.name,
                mode.name(),
                opts.repeats,
                opts.duration.as_secs_f64()
            ));
            workload::set_sync_names(&cluster, &names)?;
            let mut reps: [Vec<Series>; 3] = Default::default();
            for _ in 0..opts.repeats {
                workload::wait_caught_up(&cluster)?;
                run += 1;
                let plan = WorkloadPlan {
                    sites: sites.clone(),
                    duration: opts.duration,
                    accounts: opts.accounts,
                    think: opts.think,
                    read_gap: opts.read_gap,
                    sample_gap: Duration::from_millis(40),
                    heartbeat: opts.heartbeat,
                    seed: replication::rng::derive_seed(opts.seed, "calibrate-run", run as u64),
                    run,
                };
                let m = workload::play(&cluster, &plan)?;
                for (k, side) in Side::ALL.into_iter().enumerate() {
                    reps[k].push(series_of(world, &m, side)?);
                }
            }
            let sides = reps.map(|r| median_series(&r));
            played.push((wi, mode, names, sides));
        }
        for l in lines.iter().chain(cluster.links()) {
            lateness.merge(&l.lateness());
        }
        drop(lines);
        cluster.shutdown();
    }
    let fit_world = &opts.worlds[0];
    let fit_series = played
        .iter()
        .find(|(wi, mode, _, _)| *wi == 0 && *mode == Mode::Async)
        .map(|p| &p.3)
        .ok_or_else(|| CalibrateError::Empty("the async run of the first world".into()))?;
    // The fit on the sample quantiles, and on either end of their intervals:
    // how far the fit's own sampling error moves each prediction.
    let mut fits = Vec::with_capacity(3);
    for s in fit_series {
        fits.push(fit(
            fit_world,
            &FitInput {
                overhead_ms: overhead.p50_ms,
                heartbeat_ms: opts.heartbeat.as_secs_f64() * 1000.0,
                fsync_probe_ms: fsync_ms.unwrap_or(0.0),
                commit: s.commit.clone(),
                replay_lag: s.pg_lag.iter().map(|l| l[2]).collect(),
                staleness: s.staleness.clone(),
            },
        )?);
    }
    let fits: [Fitted; 3] = fits.try_into().expect("three fits");
    let fitted = fits[1];
    let think_ms = opts.think.as_secs_f64() * 1000.0;
    let mut configurations = Vec::new();
    let (mut judged, mut within) = (0, 0);
    for (wi, mode, names, series) in &played {
        let world = &opts.worlds[*wi];
        let in_sample = *wi == 0 && *mode == Mode::Async;
        let rows = rows_of(
            world,
            *mode,
            &fits,
            series,
            in_sample,
            think_ms,
            opts.accounts,
        );
        for r in &rows {
            if let Some(w) = r.within {
                judged += 1;
                within += usize::from(w);
            }
        }
        configurations.push(Configuration {
            world: world.name.clone(),
            replicas: world.replicas(),
            mode: *mode,
            synchronous_standby_names: names.clone(),
            in_sample,
            charges: series[1].charges,
            charge_errors: series[1].errors,
            rows,
        });
    }
    Ok(Report {
        delay_line: overhead,
        delay_line_lateness_ms: Q3::of(&lateness),
        fitted,
        fitted_on: format!("{} / async", fit_world.name),
        sim_check: sim_check(fit_world, &fitted, opts.seed),
        duration_s: opts.duration.as_secs_f64(),
        repeats: opts.repeats,
        configurations,
        judged,
        within,
    })
}

/// Each site's delay lines: to the primary (the model's charge path, site →
/// home → leader, half of it each way) and, when its home region holds a
/// standby, to that standby (half the site↔home RTT each way).
fn site_lines(
    world: &World,
    cluster: &Cluster,
) -> Result<(Vec<DelayLine>, Vec<SitePlan>), CalibrateError> {
    let geo = world.geometry();
    let t = &world.topology;
    let mut lines = Vec::new();
    let mut plans = Vec::new();
    for s in t.site_ids() {
        let half = Duration::from_secs_f64(geo.charge_path_ms(s) / 2000.0);
        let to_primary = DelayLine::start(cluster.primary().addr(), half)?;
        let home = t.home(s);
        let to_standby = if home == world.leader {
            None
        } else {
            let standby = cluster
                .standbys()
                .iter()
                .find(|x| x.region == t.region_name(home))
                .ok_or_else(|| {
                    CalibrateError::Config(format!("no standby in {}", t.region_name(home)))
                })?;
            let d = Duration::from_secs_f64(topology::to_ms(t.rtt_site(s, home)) / 2000.0);
            Some(DelayLine::start(standby.addr(), d)?)
        };
        plans.push(SitePlan {
            name: t.site_name(s).to_string(),
            to_primary: to_primary.addr(),
            to_standby: to_standby.as_ref().map(|l| l.addr()),
        });
        lines.push(to_primary);
        lines.extend(to_standby);
    }
    Ok((lines, plans))
}

fn series_of(world: &World, m: &workload::Measured, side: Side) -> Result<Series, CalibrateError> {
    for (i, h) in m.commit.iter().enumerate() {
        if h.count() == 0 {
            return Err(CalibrateError::Empty(format!(
                "no charge committed from site {} ({} errors)",
                world.topology.site_name(SiteId(i as u8)),
                m.charge_errors
            )));
        }
    }
    let q = |h: &metrics::LatencyHistogram| Q3::of_side(h, side);
    let n = |hs: &[metrics::LatencyHistogram]| hs.iter().map(|h| h.count()).collect();
    Ok(Series {
        commit: m.commit.iter().map(q).collect(),
        staleness: m.staleness.iter().map(q).collect(),
        data_age: m
            .data_age
            .iter()
            .map(|h| (h.count() > 0).then(|| q(h)))
            .collect(),
        pg_lag: m
            .pg_lag
            .iter()
            .map(|l| [q(&l[0]), q(&l[1]), q(&l[2])])
            .collect(),
        charges: m.charges_ok.iter().sum(),
        errors: m.charge_errors,
        n_commit: n(&m.commit),
        n_staleness: n(&m.staleness),
        n_data_age: n(&m.data_age),
        n_pg_lag: m.pg_lag.iter().map(|l| l[2].count()).collect(),
    })
}

fn rows_of(
    world: &World,
    mode: Mode,
    fits: &[Fitted; 3],
    s: &[Series; 3],
    in_sample: bool,
    think_ms: f64,
    accounts: u32,
) -> Vec<Row> {
    let geo = world.geometry();
    let t = &world.topology;
    let k = mode.sync_count(world.replicas());
    let mut rows = Vec::new();
    // `measured` and `predicted` at [Low, Mid, High].
    let mut push =
        |metric: Metric, at: &str, samples: u64, measured: [Q3; 3], predicted: Option<[Q3; 3]>| {
            for (i, (name, _)) in QUANTILES.iter().enumerate() {
                let m3 = measured.map(|x| x.at(i));
                let p3 = predicted.map(|p| p.map(|x| x.at(i)));
                let (m, p) = (m3[1], p3.map(|p| p[1]));
                let tol = if in_sample {
                    None
                } else {
                    p.and(model::tolerance_ms(metric, i, m))
                };
                rows.push(Row {
                    metric,
                    at: at.to_string(),
                    quantile: name,
                    measured_ms: m,
                    samples,
                    measured_interval_ms: model::span(m3),
                    predicted_ms: p,
                    predicted_interval_ms: p3.map(model::span),
                    ratio: p.map(|p| {
                        if m > 0.0 {
                            p / m
                        } else if p == 0.0 {
                            1.0
                        } else {
                            f64::INFINITY
                        }
                    }),
                    tolerance_ms: tol,
                    within: tol.and_then(|tol| p3.map(|p3| model::within(p3, m3, tol))),
                });
            }
        };
    let predicted_commit: [Vec<Q3>; 3] = fits.map(|f| {
        t.site_ids()
            .map(|site| model::predict_commit(&geo, &f, site, k))
            .collect()
    });
    let at = |v: &[Vec<Q3>; 3], i: usize| [v[0][i], v[1][i], v[2][i]];
    for site in t.site_ids() {
        push(
            Metric::Commit,
            t.site_name(site),
            s[1].n_commit[site.idx()],
            [0, 1, 2].map(|k| s[k].commit[site.idx()]),
            Some(at(&predicted_commit, site.idx())),
        );
    }
    let regions = geo.standbys();
    for (i, r) in regions.iter().enumerate() {
        push(
            Metric::Staleness,
            t.region_name(*r),
            s[1].n_staleness[i],
            [0, 1, 2].map(|k| s[k].staleness[i]),
            Some(fits.map(|f| model::predict_staleness(&geo, &f, *r))),
        );
    }
    let writers: [model::Writers; 3] = [0, 1, 2].map(|k| model::Writers {
        commit_ms: predicted_commit[k].iter().map(|c| c.p50).collect(),
        think_ms,
        accounts,
    });
    for site in t.site_ids() {
        if s[1].data_age[site.idx()].is_some() {
            let home = t.home(site);
            push(
                Metric::DataAge,
                t.site_name(site),
                s[1].n_data_age[site.idx()],
                [0, 1, 2].map(|k| s[k].data_age[site.idx()].unwrap_or_default()),
                Some([0, 1, 2].map(|k| model::predict_data_age(&geo, &fits[k], home, &writers[k]))),
            );
        }
    }
    for (i, r) in regions.iter().enumerate() {
        for (j, metric) in [Metric::WriteLag, Metric::FlushLag, Metric::ReplayLag]
            .into_iter()
            .enumerate()
        {
            push(
                metric,
                t.region_name(*r),
                s[1].n_pg_lag[i],
                [0, 1, 2].map(|k| s[k].pg_lag[i][j]),
                None,
            );
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_map_to_quorum_settings() {
        let three: Vec<String> = vec!["s0_us".into(), "s1_jp".into()];
        let five: Vec<String> = (0..4).map(|i| format!("s{i}")).collect();
        assert_eq!(Mode::Async.standby_names(&three), "");
        assert_eq!(
            Mode::SemiSync.standby_names(&three),
            "ANY 1 (\"s0_us\", \"s1_jp\")"
        );
        assert_eq!(
            Mode::Majority.standby_names(&three),
            "ANY 1 (\"s0_us\", \"s1_jp\")"
        );
        assert_eq!(
            Mode::Majority.standby_names(&five),
            "ANY 2 (\"s0\", \"s1\", \"s2\", \"s3\")"
        );
        assert_eq!(Mode::SemiSync.sync_count(5), 1);
    }

    #[test]
    fn the_lag_file_holds_the_fitted_apply_law_and_reads_back() {
        let fitted = Fitted {
            overhead_ms: 0.1,
            commit_ms: Q3::default(),
            apply_base_ms: 1.25,
            apply_jitter_ms: 2.0,
            heartbeat_ms: 100.0,
            heartbeat_offset_ms: 0.0,
            fsync_probe_ms: 0.1,
        };
        let world = World::three();
        let check = sim_check(&world, &fitted, 86);
        let [(lag_path, text), (topo_path, topo)] =
            lag_files("three / async", &fitted, &check, Path::new("out/apply.csv"));
        assert_eq!(lag_path, Path::new("out/apply.csv"));
        assert_eq!(topo_path, Path::new("out/apply.topology.toml"));
        assert!(
            topo.contains("regions = [\"SG\", \"US\", \"JP\"]"),
            "{topo}"
        );
        assert!(text.contains(
            "# sim-command: kata86 sim --topology out/apply.topology.toml --leader SG \
             --lag-from out/apply.csv --commit 0.000"
        ));
        // A CSV as sim writes it, from the expectation itself, then one field off.
        let mut csv =
            String::from("client,strategy,model,write_p95_ms,lag_p50_ms,lag_p95_ms,lag_p99_ms\n");
        for f in &check.figures {
            let vals: Vec<&str> = f.columns.iter().map(|(_, v)| v.as_str()).collect();
            csv.push_str(&format!(
                "{},{},empirical,{}\n",
                f.client,
                f.strategy,
                vals.join(",")
            ));
        }
        assert_eq!(check.mismatches(&csv), Vec::<String>::new(), "{csv}");
        let us = &check.figures[1];
        assert_eq!(us.columns[2].0, "lag_p95_ms");
        // 90 + 1.25 + 2 · 0.95 ms, to the histogram's 64 µs bucket.
        assert_eq!(us.columns[2].1, "93.183");
        let off = csv.replace("93.183", "93.247");
        assert_eq!(
            check.mismatches(&off),
            ["US / local lag_p95_ms: expected 93.183, sim printed 93.247"]
        );
        assert_eq!(check.mismatches("client,strategy\n").len(), 2);
        let file = replication::lagfile::read(&text).unwrap();
        let w = file.world.unwrap();
        assert_eq!(
            (w.regions.join(","), w.leader.as_str()),
            ("SG,US,JP".into(), "SG")
        );
        assert!(text.contains("# holds: apply-lag"));
        let law = file.law;
        assert_eq!(law.quantiles[0], 1_250);
        assert_eq!(law.quantiles[50], 2_250);
        assert_eq!(law.quantiles[100], 3_250);
    }

    #[test]
    fn the_fit_keeps_whole_microseconds_and_checks_its_input() {
        let world = World::three();
        let mut m = FitInput {
            overhead_ms: 0.1,
            heartbeat_ms: 100.0,
            fsync_probe_ms: 0.2,
            commit: vec![Q3::from_fn(|q| 41.51234 + q); 2],
            replay_lag: vec![Q3::from_fn(|_| 181.51234), Q3::from_fn(|_| 75.51234)],
            staleness: vec![Q3::from_fn(|_| 140.0), Q3::from_fn(|_| 90.0)],
        };
        let f = fit(&world, &m).unwrap();
        // Replay lag minus the RTT and two traversals: 1.31234 ms, kept to the µs.
        assert_eq!(f.apply_base_ms, 1.312);
        assert_eq!(f.commit_ms.p50, model::to_us_precision(f.commit_ms.p50));
        m.staleness.pop();
        assert!(fit(&world, &m)
            .unwrap_err()
            .to_string()
            .contains("2 standbys"));
    }

    #[test]
    fn the_topology_file_reads_back_as_the_same_world() {
        // Read back with the scenario crate's parser in the CLI's test; here:
        // every link and every site's RTT to every region is written.
        let t = World::five().topology;
        let text = topology_toml(&t);
        assert_eq!(text.matches("rtt_ms = ").count(), 10 + 3);
        assert!(
            text.contains("{ a = \"SG\", b = \"AU\", rtt_ms = 92.0 }"),
            "{text}"
        );
        assert!(text.contains("name = \"DE\", home = \"EU\""), "{text}");
        assert_eq!(toml_str("a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn bad_options_are_refused_with_the_flag_named() {
        let mut o = Options {
            duration: Duration::from_secs(0),
            ..Options::default()
        };
        let e = o.validate().unwrap_err().to_string();
        assert!(e.contains("--duration"), "{e}");
        o.duration = Duration::from_secs(5);
        o.repeats = 0;
        assert!(o.validate().unwrap_err().to_string().contains("--repeats"));
        assert!(Mode::parse("quorum").is_err());
    }
}
