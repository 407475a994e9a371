//! The simulation engine: requests arriving over simulated time, composed from
//! the topology, the replication lag processes, the routing rules and the
//! metrics.
//!
//! # Brief overview
//! * [`SimConfig`] — everything a run depends on apart from the seed: topology,
//!   leader, lag model, arrival rate, read and write policies, SLOs. Validated
//!   once by [`SimConfig::validate`].
//! * [`Cell`] — one client site × one read strategy; [`run_cell`] simulates it
//!   and returns a [`CellResult`] (histograms and counters, plain data).
//!   [`CellReport`] is a cell as reports show it: it serialises itself
//!   (the JSON of `kata86 sim`, keys and units written once, beside the
//!   result), and the tables read the same figures from it.
//! * [`run`] — a list of cells under one master seed, in order.
//! * [`wallet::run_wallet`] and [`drill::run_drill`] — the wallet workload
//!   and the failover drills, both played on one discrete-event core (a
//!   private module, `des`): a wallet cell is a drill with no fault, a fixed
//!   leader and one client site. `run_cell` stays a specialised fast path for
//!   the kata's loop.
//!
//! # Key decision: one master seed, one stream per component
//! Every source of randomness — each follower's lag, the network jitter of a
//! site, the arrivals of a site — draws from its own sub-stream of the master
//! seed ([`replication::rng::substream`]) and draws the same number of values
//! per request whatever strategy runs. So every cell of a report with the same
//! site sees exactly the same request times, lag path and network delays
//! (common random numbers): the difference between two strategies' figures is
//! the strategies' doing, not sampling noise. The same seed and configuration
//! give the same figures, bit for bit.
//!
//! The engine returns data; it prints nothing and reads no files.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod des;
pub mod drill;
pub mod multi;
pub mod ops;
pub mod wallet;

use metrics::{kata_slos, LatencyHistogram, Series, Slo, SloVerdict};
use replication::rng::{below, derive_seed, exponential, substream, Rng};
use replication::{IidLag, LagModel, LagProcess, ReplicationError};
use routing::{
    ChargeOutcome, ChargePlan, ReadOutcome, ReadPolicy, ReadStrategy, Router, Snapshot, WritePolicy,
};
use topology::{Micros, RegionId, SiteId, Topology, World};

/// Invalid simulation input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The lag model's parameters are invalid.
    #[error(transparent)]
    Replication(#[from] ReplicationError),
    /// The arrival rate is outside the range the simulated clock handles.
    #[error("arrival rate is {0} requests/s; give a number from 0.01 to 10000000")]
    BadRate(f64),
    /// A run needs at least one request per cell.
    #[error("iterations must be at least 1")]
    ZeroIterations,
    /// A run needs at least one cell.
    #[error("nothing to simulate: choose at least one client site and one strategy")]
    NoCells,
    /// A name (policy, mode, drill, role) that does not exist.
    #[error("unknown {what} `{name}` (choose from: {known})")]
    UnknownName {
        /// What kind of name.
        what: &'static str,
        /// The name given.
        name: String,
        /// The valid names.
        known: String,
    },
    /// A fault on a drill's timeline is malformed or contradicts another.
    #[error("fault {}: {reason}", index + 1)]
    BadFault {
        /// Position of the fault in the timeline (0-based; shown 1-based).
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// A shard that is not one of the run's shards.
    #[error("shard {0}")]
    BadShard(String),
    /// A drill parameter is inconsistent.
    #[error("drill: {0}")]
    BadDrill(String),
    /// An impossible leaderless quorum (N, R, W, placement).
    #[error("quorum: {0}")]
    Quorum(#[from] quorum::QuorumError),
    /// A runbook flag window that cannot be read (its text and what to
    /// write).
    #[error("{0}")]
    BadFlag(String),
    /// An error budget period outside 1 to 366 days.
    #[error("--budget-days {0}: give a number of days from 1 to 366")]
    BudgetDays(f64),
    /// A burn-rate policy that cannot be evaluated.
    #[error(transparent)]
    Slo(#[from] slo::SloError),
    /// A wallet workload parameter is out of range.
    #[error("wallet workload parameter `{name}`: {reason}")]
    BadWorkload {
        /// The parameter.
        name: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

/// Slowest arrival rate accepted (requests per simulated second): slower
/// rates would make a run span more lag episodes than requests.
pub const MIN_RATE: f64 = 0.01;
/// Fastest arrival rate accepted: at 10^7/s arrivals are 0.1 µs apart, the
/// clock's resolution being 1 µs.
pub const MAX_RATE: f64 = 1e7;

/// Everything a run depends on apart from the seed and its size.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Regions, sites and RTTs.
    pub topology: Topology,
    /// The single leader every charge goes to.
    pub leader: RegionId,
    /// How followers lag.
    pub lag: LagModel,
    /// Mean requests per simulated second in a cell (Poisson arrivals; default 100).
    pub arrival_rate: f64,
    /// Read strategy parameters.
    pub read: ReadPolicy,
    /// Charge path parameters.
    pub write: WritePolicy,
    /// Objectives judged on every cell.
    pub slos: Vec<Slo>,
    /// The leaderless quorum `quorum` cells run (N, R, W, placement).
    pub quorum: QuorumSpec,
}

/// A leaderless quorum for `quorum` cells: N replicas placed over the
/// regions, a read waits for R replies, a charge for W acknowledgements.
/// Its legs are [`quorum::Model::topology`]'s: half the site-to-region RTT
/// plus an LNKD-SSD service draw per leg; the lag model (log shipping to
/// followers of a leader) and `jitter` do not apply to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumSpec {
    /// Replicas (default 3).
    pub n: usize,
    /// Read replies awaited (default 2).
    pub r: usize,
    /// Write acknowledgements awaited (default 2).
    pub w: usize,
    /// Region of each replica; `None`: [`quorum::round_robin`] from the
    /// leader's region (the kata: SG, US, SG).
    pub placement: Option<Vec<RegionId>>,
}

impl Default for QuorumSpec {
    fn default() -> Self {
        QuorumSpec {
            n: 3,
            r: 2,
            w: 2,
            placement: None,
        }
    }
}

impl QuorumSpec {
    /// The request path this spec describes over `cfg`'s topology.
    pub fn path(&self, cfg: &SimConfig) -> Result<quorum::Path, EngineError> {
        let t = &cfg.topology;
        let placement = match &self.placement {
            Some(p) => p.clone(),
            None => quorum::round_robin(t, cfg.leader, self.n)?,
        };
        if placement.len() != self.n {
            return Err(EngineError::Quorum(quorum::QuorumError::TooManyReplicas {
                n: self.n,
                max: placement.len(),
                model: "the placement given".into(),
            }));
        }
        let model = quorum::Model::topology("sim", t, &placement)?;
        Ok(quorum::Path::new(model, self.n, self.r, self.w)?)
    }
}

impl SimConfig {
    /// The kata's defaults on the default world ([`World::DEFAULT`]): leader
    /// `SG`, the `iid` lag model, 100 requests/s, default policies and
    /// [`kata_slos`].
    pub fn kata() -> SimConfig {
        SimConfig::on(World::DEFAULT)
    }

    /// The kata's defaults on a built-in world.
    pub fn on(world: World) -> SimConfig {
        let topology = world.topology();
        let leader = topology.region("SG").expect("kata topology has SG");
        SimConfig {
            topology,
            leader,
            lag: LagModel::Iid(IidLag::default()),
            arrival_rate: 100.0,
            read: ReadPolicy::default(),
            write: WritePolicy::default(),
            slos: kata_slos(),
            quorum: QuorumSpec::default(),
        }
    }

    /// Checks the parts the type system does not.
    pub fn validate(&self) -> Result<(), EngineError> {
        self.lag.validate()?;
        if !(self.arrival_rate.is_finite() && (MIN_RATE..=MAX_RATE).contains(&self.arrival_rate)) {
            return Err(EngineError::BadRate(self.arrival_rate));
        }
        self.quorum.path(self)?;
        Ok(())
    }
}

/// One client site under one read strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Where the clients are.
    pub site: SiteId,
    /// How they read.
    pub strategy: ReadStrategy,
}

/// What one cell measured. Plain data: the CLI decides how to show it.
#[derive(Debug, Clone)]
pub struct CellResult {
    /// The cell.
    pub cell: Cell,
    /// Read latency, µs.
    pub read: LatencyHistogram,
    /// Latency of committed charges, µs.
    pub write: LatencyHistogram,
    /// Staleness carried by each read's answer, µs.
    pub staleness: LatencyHistogram,
    /// Reads served.
    pub reads: u64,
    /// Reads answered by a replica that was behind the leader (staleness > 0).
    pub stale_reads: u64,
    /// Reads whose staleness exceeded the bounded-staleness contract.
    pub over_bound_reads: u64,
    /// Reads answered by the leader.
    pub leader_reads: u64,
    /// Reads the strategy sent to the leader because the local replica was too stale.
    pub forced_to_leader: u64,
    /// Charges attempted.
    pub charges: u64,
    /// Charges refused at once because the deadline could not be met.
    pub charges_rejected: u64,
    /// Charges whose actual delays overran the deadline.
    pub charges_timed_out: u64,
    /// Simulated time covered by the cell.
    pub simulated: Micros,
    /// SLO verdicts that apply to this cell's site, in configuration order.
    pub slo: Vec<SloVerdict>,
}

impl CellResult {
    /// A result with nothing recorded yet.
    pub fn empty(cell: Cell) -> CellResult {
        CellResult {
            cell,
            read: LatencyHistogram::new(),
            write: LatencyHistogram::new(),
            staleness: LatencyHistogram::new(),
            reads: 0,
            stale_reads: 0,
            over_bound_reads: 0,
            leader_reads: 0,
            forced_to_leader: 0,
            charges: 0,
            charges_rejected: 0,
            charges_timed_out: 0,
            simulated: 0,
            slo: Vec::new(),
        }
    }

    /// Adds another share of the same cell: histograms and counters add,
    /// simulated time is summed (chunks are independent replicas laid end to
    /// end); SLO verdicts are dropped, to be judged on the total.
    pub fn merge(&mut self, o: &CellResult) {
        self.read.merge(&o.read);
        self.write.merge(&o.write);
        self.staleness.merge(&o.staleness);
        self.reads += o.reads;
        self.stale_reads += o.stale_reads;
        self.over_bound_reads += o.over_bound_reads;
        self.leader_reads += o.leader_reads;
        self.forced_to_leader += o.forced_to_leader;
        self.charges += o.charges;
        self.charges_rejected += o.charges_rejected;
        self.charges_timed_out += o.charges_timed_out;
        self.simulated += o.simulated;
        self.slo.clear();
    }

    /// The histogram an SLO series refers to (an availability series
    /// counts answers, not times: its operation's latency histogram, whose
    /// count is the answers; [`judge`] leaves availability objectives out).
    pub fn series(&self, s: Series) -> &LatencyHistogram {
        match s {
            Series::Read | Series::ReadAvailability => &self.read,
            Series::Write | Series::ChargeAvailability => &self.write,
            Series::Staleness => &self.staleness,
        }
    }
}

/// A ratio rounded to 6 decimals, as reports show it (0 over nothing).
fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64 * 1e6).round() / 1e6
    }
}

impl CellResult {
    /// Share of reads answered by a replica behind the leader.
    pub fn stale_read_ratio(&self) -> f64 {
        ratio(self.stale_reads, self.reads)
    }
    /// Share of reads the leader answered.
    pub fn leader_read_ratio(&self) -> f64 {
        ratio(self.leader_reads, self.reads)
    }
    /// Share of reads over the bounded-staleness contract.
    pub fn over_bound_read_ratio(&self) -> f64 {
        ratio(self.over_bound_reads, self.reads)
    }
    /// Share of reads sent to the leader because the local replica was too
    /// stale.
    pub fn forced_to_leader_ratio(&self) -> f64 {
        ratio(self.forced_to_leader, self.reads)
    }
    /// Simulated time covered, in seconds (3 decimals).
    pub fn simulated_s(&self) -> f64 {
        (self.simulated as f64 / 1e3).round() / 1e3
    }
    /// The charge latency summary; `None` when no charge committed (e.g.
    /// `--deadline 0` refuses them all): no latency, which 0 ms would
    /// misstate.
    pub fn write_summary(&self) -> Option<metrics::Summary> {
        (self.write.count() > 0).then(|| self.write.summary())
    }
}

/// One cell of a `kata86 sim` run as its reports show it: the result, the
/// wallet figures of a wallet cell (whose `base` the result is), and the
/// configuration that names its ids. Serialises as one element of the sim
/// document's `results`; its keys, units and rounding are written here
/// once, beside [`CellResult`] (a hand-written `Serialize`: the JSON holds
/// names resolved from ids and ratios of two counters).
#[derive(Debug, Clone, Copy)]
pub struct CellReport<'a> {
    /// The run's configuration.
    pub cfg: &'a SimConfig,
    /// The cell's result.
    pub result: &'a CellResult,
    /// The wallet figures, for the wallet workload.
    pub wallet: Option<&'a wallet::WalletResult>,
}

impl CellReport<'_> {
    /// The client site's name.
    pub fn client(&self) -> &str {
        self.cfg.topology.site_name(self.result.cell.site)
    }
    /// The staleness series the cell carries: the drawn lag (kata
    /// workload, `lag_ms`) or the reported staleness (wallet,
    /// `reported_staleness_ms`).
    pub fn staleness(&self) -> metrics::Summary {
        self.result.staleness.summary()
    }
    /// The wallet's `data_age`: how old each returned balance really was.
    pub fn data_age(&self) -> Option<metrics::Summary> {
        self.wallet.map(|w| w.data_age.summary())
    }
}

impl serde::Serialize for CellReport<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (cfg, r) = (self.cfg, self.result);
        let mut o = s.serialize_struct("CellJson", 19)?;
        o.serialize_field("client", self.client())?;
        o.serialize_field("strategy", r.cell.strategy.name())?;
        o.serialize_field("model", cfg.lag.name())?;
        o.serialize_field("leader", cfg.topology.region_name(cfg.leader))?;
        o.serialize_field("read_ms", &r.read.summary())?;
        o.serialize_field("write_ms", &r.write_summary())?;
        match self.wallet {
            None => o.serialize_field("lag_ms", &self.staleness())?,
            Some(_) => o.serialize_field("reported_staleness_ms", &self.staleness())?,
        }
        o.serialize_field("stale_read_ratio", &r.stale_read_ratio())?;
        o.serialize_field("leader_read_ratio", &r.leader_read_ratio())?;
        o.serialize_field("over_bound_read_ratio", &r.over_bound_read_ratio())?;
        o.serialize_field("forced_to_leader_ratio", &r.forced_to_leader_ratio())?;
        o.serialize_field("charges", &r.charges)?;
        o.serialize_field("charges_rejected_deadline", &r.charges_rejected)?;
        o.serialize_field("charges_timed_out", &r.charges_timed_out)?;
        o.serialize_field("simulated_s", &r.simulated_s())?;
        o.serialize_field("slo", &r.slo)?;
        if let Some(w) = self.wallet {
            o.serialize_field("data_age_ms", &w.data_age.summary())?;
            o.serialize_field("wallet", w)?;
        }
        o.end()
    }
}

// The schema of `CellReport`'s serialisation (schema only: the keys
// `Serialize` above writes, with their types; `kata86 sim`'s output is
// validated against it in the CLI tests, so the two cannot drift apart).
/// The JSON form of one cell. Field names are a contract with other tools.
#[derive(schemars::JsonSchema)]
#[schemars(rename = "CellJson")]
#[allow(dead_code)]
struct CellSchema {
    client: String,
    strategy: String,
    model: String,
    leader: String,
    read_ms: metrics::Summary,
    /// `null` when no charge committed (e.g. `--deadline 0` refuses them
    /// all): no latency to show, which 0 ms would misstate.
    write_ms: Option<metrics::Summary>,
    /// Kata workload: `lag_ms`, the lag drawn for each read of a follower
    /// (0 when a leader served it).
    #[serde(skip_serializing_if = "Option::is_none")]
    lag_ms: Option<metrics::Summary>,
    /// Wallet workload: the watermark age the serving replica reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    reported_staleness_ms: Option<metrics::Summary>,
    stale_read_ratio: f64,
    leader_read_ratio: f64,
    over_bound_read_ratio: f64,
    forced_to_leader_ratio: f64,
    charges: u64,
    charges_rejected_deadline: u64,
    charges_timed_out: u64,
    simulated_s: f64,
    slo: Vec<SloVerdict>,
    /// Wallet workload: how old each returned balance really was.
    #[serde(skip_serializing_if = "Option::is_none")]
    data_age_ms: Option<metrics::Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wallet: Option<wallet::WalletResult>,
}

impl schemars::JsonSchema for CellReport<'_> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        CellSchema::schema_name()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        CellSchema::json_schema(g)
    }
}

/// Per-request network draws of one site: the RTT from the site to every
/// region and from its entry region to every region, each base RTT plus
/// `U[0, jitter)`, redrawn for every request from the site's `net/<site>`
/// sub-stream (one draw per leg whichever legs are used, so every strategy
/// consumes the stream alike).
pub(crate) struct Network {
    rng: Rng,
    jitter: Micros,
    from: SiteId,
    entry_at: RegionId,
    base_site: Vec<Micros>,
    base_entry: Vec<Micros>,
    site: Vec<Micros>,
    entry: Vec<Micros>,
}

impl Network {
    pub(crate) fn new(t: &Topology, site: SiteId, entry: RegionId, rng: Rng) -> Network {
        let base_site: Vec<Micros> = t.region_ids().map(|r| t.rtt_site(site, r)).collect();
        let mut net = Network {
            rng,
            jitter: t.jitter(),
            from: site,
            entry_at: entry,
            site: base_site.clone(),
            base_site,
            base_entry: Vec::new(),
            entry: Vec::new(),
        };
        net.set_entry(t, entry);
        net
    }

    /// The site's traffic now lands in `entry` (after a re-route); the
    /// entry legs keep their base RTTs until the next draw.
    pub(crate) fn set_entry(&mut self, t: &Topology, entry: RegionId) {
        self.entry_at = entry;
        self.base_entry = t.region_ids().map(|r| t.rtt_regions(entry, r)).collect();
        self.entry = self.base_entry.clone();
    }

    /// What this request sees: its drawn delays and the given staleness.
    #[inline]
    pub(crate) fn snapshot<'a>(
        &'a self,
        leader: RegionId,
        staleness: &'a [Micros],
    ) -> Snapshot<'a> {
        Snapshot {
            site: self.from,
            leader,
            entry: self.entry_at,
            staleness,
            site_rtt: &self.site,
            entry_rtt: &self.entry,
        }
    }

    /// This request's round trip from the site through its entry region to
    /// region `to`.
    pub(crate) fn via_entry(&self, to: RegionId) -> Micros {
        self.snapshot(to, &[]).via_entry(to)
    }

    /// The same trip's one-way legs, out and back.
    pub(crate) fn legs_via_entry(&self, to: RegionId) -> (Micros, Micros) {
        self.snapshot(to, &[]).legs_via_entry(to)
    }

    /// Draws this request's delays.
    #[inline]
    pub(crate) fn draw(&mut self) {
        if self.jitter == 0 {
            return;
        }
        let entry_idx = self.entry_at.idx();
        for i in 0..self.site.len() {
            self.site[i] = self.base_site[i] + below(&mut self.rng, self.jitter);
            let extra = below(&mut self.rng, self.jitter);
            // A region talking to itself pays nothing, jitter included.
            self.entry[i] = if i == entry_idx {
                0
            } else {
                self.base_entry[i] + extra
            };
        }
    }
}

/// How often [`run_cell`] reports progress, in requests.
pub const PROGRESS_EVERY: u64 = 1 << 16;

/// Requests per chunk of a kata cell: 2^20. A cell of `n` requests runs as
/// `ceil(n / CHUNK)` chunks, each an independent replica of the cell on its
/// own sub-streams (see [`chunk_seed`]), in parallel; their figures are
/// added. Chunk 0 draws from exactly the streams a cell drew from before
/// cells were chunked, so a cell of at most `CHUNK` requests is unchanged.
pub const CHUNK: u64 = 1 << 20;

/// How many chunks a cell of `iterations` requests runs as.
pub fn chunks(iterations: u64) -> u64 {
    iterations.div_ceil(CHUNK)
}

/// The master seed chunk `k` of a cell draws its streams from: the run's
/// seed for chunk 0, else the first draw of `substream(seed, "chunk", k)`.
pub fn chunk_seed(seed: u64, k: u64) -> u64 {
    if k == 0 {
        seed
    } else {
        derive_seed(seed, "chunk", k)
    }
}

/// A deterministic share of a run: shard `index` of `count` does the units
/// of work (chunks of a kata run, runs of a drill) whose number is
/// `index` modulo `count`. Shard 0 of 1 is the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u32,
    count: u32,
}

impl Shard {
    /// The most shards a run may be split into.
    pub const MAX_COUNT: u32 = 100_000;

    /// Shard `index` of `count` (0 ≤ index < count ≤ [`Shard::MAX_COUNT`]).
    pub fn new(index: u32, count: u32) -> Result<Shard, EngineError> {
        if !(1..=Self::MAX_COUNT).contains(&count) {
            return Err(EngineError::BadShard(format!(
                "{index}/{count}: the number of shards must be from 1 to {}",
                Self::MAX_COUNT
            )));
        }
        if index >= count {
            return Err(EngineError::BadShard(format!(
                "{index}/{count}: the index must be from 0 to {} (shards are numbered from 0)",
                count - 1
            )));
        }
        Ok(Shard { index, count })
    }

    /// Shard `INDEX/COUNT` as a command line writes it (`0/4`: the first of
    /// four, numbered from 0 like Kubernetes' JOB_COMPLETION_INDEX).
    pub fn parse(text: &str) -> Result<Shard, EngineError> {
        let bad = || {
            EngineError::BadShard(format!(
                "`{text}`: write INDEX/COUNT, e.g. 0/4 for the first of 4 shards (INDEX from 0 \
                 to COUNT-1, as Kubernetes' JOB_COMPLETION_INDEX)"
            ))
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let i = i.trim().parse().map_err(|_| bad())?;
        let n = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n)
    }

    /// The whole run: shard 0 of 1.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// This shard's number, from 0.
    pub fn index(self) -> u32 {
        self.index
    }

    /// How many shards the run is split into.
    pub fn count(self) -> u32 {
        self.count
    }

    /// Whether unit of work `unit` is this shard's.
    pub fn owns(self, unit: u64) -> bool {
        unit % self.count as u64 == self.index as u64
    }
}

/// The units of work of a kata run, in order: `(cell index, chunk, length)`,
/// cell by cell, chunk by chunk. Unit `t` of the list is what
/// [`Shard::owns`] is asked about.
pub fn kata_units(iterations: u64, cells: usize) -> impl Iterator<Item = (usize, u64, u64)> {
    let per_cell = chunks(iterations);
    (0..cells)
        .flat_map(move |c| (0..per_cell).map(move |k| (c, k, (iterations - k * CHUNK).min(CHUNK))))
}

/// Simulates `iterations` requests of one cell; each request is one balance
/// read followed by one charge (the kata's loop). Cells over [`CHUNK`]
/// requests run as chunks in parallel. `progress` is called, from any
/// thread, with the number of requests done since its previous call, every
/// [`PROGRESS_EVERY`] requests of a chunk and at its end.
pub fn run_cell(
    cfg: &SimConfig,
    seed: u64,
    iterations: u64,
    cell: Cell,
    progress: &(dyn Fn(u64) + Sync),
) -> CellResult {
    let mut parts = run_units(cfg, seed, iterations, &[cell], Shard::WHOLE, progress);
    let mut res = parts.pop().expect("one cell");
    judge_cell(cfg, &mut res);
    res
}

/// Plays the units of a kata run that `shard` owns, in parallel, and adds
/// them up per cell: one partial [`CellResult`] per cell, in cell order,
/// with no SLO verdicts yet (a cell none of whose chunks the shard owns
/// comes back empty). Histograms add exactly and counters are integers, so
/// the sums do not depend on the order the chunks finished in.
fn run_units(
    cfg: &SimConfig,
    seed: u64,
    iterations: u64,
    cells: &[Cell],
    shard: Shard,
    progress: &(dyn Fn(u64) + Sync),
) -> Vec<CellResult> {
    use rayon::prelude::*;
    let router = Router::new(&cfg.topology, cfg.read, cfg.write);
    let units: Vec<(usize, u64, u64)> = kata_units(iterations, cells.len())
        .enumerate()
        .filter(|(t, _)| shard.owns(*t as u64))
        .map(|(_, u)| u)
        .collect();
    let empty = || -> Vec<Option<CellResult>> { vec![None; cells.len()] };
    let add = |mut acc: Vec<Option<CellResult>>, (c, part): (usize, CellResult)| {
        match &mut acc[c] {
            Some(sum) => sum.merge(&part),
            slot => *slot = Some(part),
        }
        acc
    };
    // Each worker folds the chunks it plays into one partial result per
    // cell, so memory grows with the threads, not with the chunks.
    let sums = units
        .into_par_iter()
        .map(|(c, k, len)| {
            let sim = CellRun::new(cfg, &router, chunk_seed(seed, k), cells[c]);
            (c, sim.play(&router, len, progress))
        })
        .fold(empty, add)
        .reduce(empty, |a, b| {
            b.into_iter()
                .enumerate()
                .filter_map(|(c, p)| Some((c, p?)))
                .fold(a, add)
        });
    sums.into_iter()
        .zip(cells)
        .map(|(sum, &cell)| sum.unwrap_or_else(|| CellResult::empty(cell)))
        .collect()
}

/// One chunk of a cell before it starts: its charge path and its random
/// streams.
struct CellRun<'c> {
    cfg: &'c SimConfig,
    cell: Cell,
    /// The chunk's master seed (a `quorum` cell draws its own streams from it).
    seed: u64,
    charge: ChargePlan,
    arrivals: Rng,
    net: Network,
    /// Every follower (every region but the leader) with the one-way delay
    /// from the leader and its lag process: its `lag_ms` at a read is the
    /// two added (distance plus apply).
    followers: Vec<(usize, Micros, LagProcess)>,
}

impl<'c> CellRun<'c> {
    fn new(cfg: &'c SimConfig, router: &Router<'_>, seed: u64, cell: Cell) -> CellRun<'c> {
        let t = &cfg.topology;
        let entry = t.home(cell.site);
        let site = cell.site.0 as u64;
        let lag = |r: RegionId| LagProcess::new(cfg.lag, substream(seed, "lag", r.0 as u64));
        let followers = t
            .region_ids()
            .filter(|&r| r != cfg.leader)
            .map(|r| (r.idx(), router.one_way(cfg.leader, r), lag(r)))
            .collect();
        CellRun {
            cfg,
            cell,
            seed,
            charge: router.charge_plan(cell.site, entry, cfg.leader),
            arrivals: substream(seed, "arrivals", site),
            net: Network::new(t, cell.site, entry, substream(seed, "net", site)),
            followers,
        }
    }

    /// Runs `iterations` requests with the cell's strategy.
    ///
    /// Each arm names its strategy as a constant, so the request loop is
    /// compiled once per strategy with the strategy's `match` (and the
    /// counters it never moves) folded away. The figures do not depend on
    /// this.
    fn play(
        self,
        router: &Router<'_>,
        iterations: u64,
        progress: &(dyn Fn(u64) + Sync),
    ) -> CellResult {
        use ReadStrategy::*;
        match self.cell.strategy {
            Local => self.run(iterations, progress, |snap| router.read(Local, snap)),
            Leader => self.run(iterations, progress, |snap| router.read(Leader, snap)),
            Fallback => self.run(iterations, progress, |snap| router.read(Fallback, snap)),
            Quorum => run_quorum(self.cfg, self.seed, iterations, self.cell, progress),
            Bounded => self.run(iterations, progress, |snap| router.read(Bounded, snap)),
        }
    }

    /// Runs the requests, serving each read with `read`.
    ///
    /// Everything the loop updates is a local variable of its own rather than
    /// a field of one struct: a reference to one field that leaves the loop
    /// (the rare fallback of the exponential sampler takes `&mut` of its
    /// generator) would otherwise pin every field of that struct to memory.
    fn run(
        self,
        iterations: u64,
        progress: &(dyn Fn(u64) + Sync),
        read: impl Fn(&Snapshot<'_>) -> ReadOutcome,
    ) -> CellResult {
        let CellRun {
            cfg,
            cell,
            charge,
            seed: _,
            mut arrivals,
            mut net,
            mut followers,
        } = self;
        let mean_gap = 1e6 / cfg.arrival_rate;
        let bound = cfg.read.max_staleness;
        // Per region: the staleness of its answers at the current request.
        // The leader's entry stays 0: the leader is never behind.
        let mut staleness = vec![0; cfg.topology.region_count()];
        let mut read_latency = LatencyHistogram::new();
        let mut read_staleness = LatencyHistogram::new();
        let mut write_latency = LatencyHistogram::new();
        let mut over_bound_reads = 0;
        let mut leader_reads = 0;
        let mut forced_to_leader = 0;
        let mut charges_rejected = 0;
        let mut charges_timed_out = 0;
        let mut now: f64 = 0.0;
        let mut done = 0;
        while done < iterations {
            let block = (iterations - done).min(PROGRESS_EVERY);
            for _ in 0..block {
                now += exponential(&mut arrivals, mean_gap);
                // Through i64: a cheaper conversion than straight to u64, exact
                // for any time below 292,000 simulated years.
                let at = now as i64 as Micros;
                // Every follower's process is observed at every request,
                // whatever the strategy: common random numbers.
                for (r, one_way, p) in &mut followers {
                    staleness[*r] = *one_way + p.lag_at(at);
                }
                net.draw();
                let snap = net.snapshot(cfg.leader, &staleness);

                let out = read(&snap);
                read_latency.record(out.latency);
                read_staleness.record(out.staleness);
                over_bound_reads += (out.staleness > bound) as u64;
                leader_reads += (out.served_by == cfg.leader) as u64;
                forced_to_leader += out.forced_to_leader as u64;

                match charge.charge(&snap) {
                    ChargeOutcome::Committed { latency } => write_latency.record(latency),
                    ChargeOutcome::Rejected { .. } => charges_rejected += 1,
                    ChargeOutcome::TimedOut { .. } => charges_timed_out += 1,
                }
            }
            done += block;
            progress(block);
        }
        CellResult {
            cell,
            reads: iterations,
            // Zero has its own histogram bucket, so this count is exact.
            stale_reads: iterations - read_staleness.count_at_most(0),
            over_bound_reads,
            leader_reads,
            forced_to_leader,
            charges: iterations,
            charges_rejected,
            charges_timed_out,
            simulated: now as Micros,
            read: read_latency,
            write: write_latency,
            staleness: read_staleness,
            slo: Vec::new(),
        }
    }
}

/// One chunk of a `quorum` cell: every request is one read (R replies) and
/// one charge (W acknowledgements) on the leaderless quorum of
/// [`SimConfig::quorum`]. It shares the arrival stream with the site's other
/// cells; its legs draw from their own sub-stream `quorum/<site>` of the
/// chunk's seed. No SLO verdicts: they are judged on the merged cell.
fn run_quorum(
    cfg: &SimConfig,
    seed: u64,
    iterations: u64,
    cell: Cell,
    progress: &(dyn Fn(u64) + Sync),
) -> CellResult {
    let mut path = cfg
        .quorum
        .path(cfg)
        .expect("SimConfig::validate checked the quorum");
    let site = cell.site.0 as u64;
    let mut arrivals = substream(seed, "arrivals", site);
    let mut legs = substream(seed, "quorum", site);
    let mean_gap = 1e6 / cfg.arrival_rate;
    let bound = cfg.read.max_staleness;
    let deadline = cfg.write.deadline;
    let us = |ms: f64| (ms * 1e3).round() as Micros;
    let mut res = CellResult::empty(cell);
    let mut now: f64 = 0.0;
    let mut done = 0;
    while done < iterations {
        let chunk = (iterations - done).min(PROGRESS_EVERY);
        for _ in 0..chunk {
            now += exponential(&mut arrivals, mean_gap);
            let q = path.request(cell.site.idx(), &mut legs);
            let staleness = us(q.staleness_ms);
            res.read.record(us(q.read_ms));
            res.staleness.record(staleness);
            res.over_bound_reads += (staleness > bound) as u64;
            // Each replica's ack waits for its durable commit, as the
            // leader's does; the commit shifts every ack alike, so it
            // changes no quorum and no staleness.
            let charge = us(q.charge_ms) + cfg.write.commit;
            if charge > deadline {
                res.charges_timed_out += 1;
            } else {
                res.write.record(charge);
            }
        }
        done += chunk;
        progress(chunk);
    }
    res.reads = iterations;
    res.stale_reads = iterations - res.staleness.count_at_most(0);
    res.charges = iterations;
    res.simulated = now as Micros;
    res
}

/// The verdicts of the SLOs that apply to `site` ("no data" where a series
/// is empty: never a pass).
pub fn judge<'h>(
    slos: &[Slo],
    site: &str,
    series: impl Fn(Series) -> &'h LatencyHistogram,
) -> Vec<SloVerdict> {
    slos.iter()
        .filter(|s| s.applies_to(site) && !s.series.is_availability())
        .map(|s| s.judge(series(s.series)))
        .collect()
}

/// The checks every run makes before it starts.
fn check_run(cfg: &SimConfig, iterations: u64, cells: &[Cell]) -> Result<(), EngineError> {
    cfg.validate()?;
    if iterations == 0 {
        return Err(EngineError::ZeroIterations);
    }
    if cells.is_empty() {
        return Err(EngineError::NoCells);
    }
    Ok(())
}

/// Runs every cell under one seed: their chunks in parallel, the figures
/// the same bytes whatever the number of threads. `progress` is called,
/// from any thread, with the number of requests done since its previous
/// call.
pub fn run(
    cfg: &SimConfig,
    seed: u64,
    iterations: u64,
    cells: &[Cell],
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<CellResult>, EngineError> {
    let mut parts = run_share(cfg, seed, iterations, cells, Shard::WHOLE, progress)?;
    for p in &mut parts {
        judge_cell(cfg, p);
    }
    Ok(parts)
}

/// The share of a run that `shard` owns (see [`kata_units`]): one partial
/// [`CellResult`] per cell, in cell order, without SLO verdicts. Add the
/// shares of every shard with [`CellResult::merge`] and judge each cell with
/// [`judge_cell`] to get exactly what [`run`] returns.
pub fn run_share(
    cfg: &SimConfig,
    seed: u64,
    iterations: u64,
    cells: &[Cell],
    shard: Shard,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<CellResult>, EngineError> {
    check_run(cfg, iterations, cells)?;
    Ok(run_units(cfg, seed, iterations, cells, shard, progress))
}

/// Sets the SLO verdicts of a complete cell.
pub fn judge_cell(cfg: &SimConfig, res: &mut CellResult) {
    let site = cfg.topology.site_name(res.cell.site);
    res.slo = judge(&cfg.slos, site, |s| res.series(s));
}
