//! Leaderless partial quorums (Dynamo style: N replicas, W write acks, R read
//! replies) and their probabilistically bounded staleness (PBS; Bailis et al.,
//! PVLDB 5(8), 2012).
//!
//! # Overview
//! * [`Model`] — the WARS legs (write, ack, read, response) as [`Dist`]
//!   mixtures plus fixed one-way delays: a PBS preset ([`Model::preset`]) or a
//!   topology's RTTs ([`Model::topology`], placement by [`round_robin`]).
//! * [`Config`] — a model with N, R, W, trials, seed and the curve's grid,
//!   validated by [`Config::validate`].
//! * [`simulate`] → [`Report`] — t-visibility curve and quantiles,
//!   k-staleness (simulated and [`k_staleness_closed_form`]), read and write
//!   latency percentiles.
//! * [`Path`] — the same legs as the request path of `kata86 sim
//!   --strategy quorum`: per request a read (latency, staleness) and a charge.
//!
//! # Key decision: one threshold per trial
//! Whether a read starting `t` ms after the commit is consistent is monotone in
//! `t`, so each trial reduces to one number: the smallest `t` at which its read
//! sees the write, `max(0, min over the read quorum of W_i − R_i − wt)`. The
//! whole curve and every t-visibility quantile then come from counts of
//! thresholds (an exact grid histogram and a log-linear one), not from one
//! simulation per `t`. Trials run in fixed chunks of [`CHUNK`], chunk `c`
//! drawing from its own generators (seeded from sub-streams `("pbs-lanes",
//! 8c + l)`), a block of trials at a time (block.rs); the counts are
//! integers merged by addition, so the report is byte-identical whatever the
//! thread count.
//!
//! No I/O; every bad input is a [`QuorumError`].
// Two `unsafe` blocks: the calls into the AVX2 build of the trial loop after
// a run-time check that the CPU has AVX2 (block.rs, `Engine::block` and
// `Engine::tally`).
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod block;
mod hist;
mod model;
mod path;

use rayon::prelude::*;
use replication::rng::Rng;

pub use hist::Histogram;
pub use model::{
    round_robin, Dist, Legs, Model, LNKD_DISK_W, LNKD_SSD, MAX_N, PER_REGION, PRESETS,
    WAN_ONE_WAY_MS, YMMR_ARS, YMMR_W,
};
pub use path::{Path, Request};

/// Trials per chunk; each chunk is one random sub-stream.
pub const CHUNK: u64 = 1 << 16;
/// The most trials one run may ask for (about 15 s on one core).
pub const MAX_TRIALS: u64 = 100_000_000;
/// The most points on the t-visibility curve.
pub const MAX_POINTS: usize = 100_001;
/// k-staleness is reported for k = 1 ..= K_MAX.
pub const K_MAX: usize = 3;

/// Everything that makes a run impossible.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QuorumError {
    /// R or W of zero.
    #[error("{which} must be at least 1 (got 0)")]
    ZeroQuorum {
        /// `R` or `W`.
        which: &'static str,
    },
    /// R or W above N.
    #[error("{which} = {value} is more than N = {n}: a quorum cannot exceed the replicas")]
    QuorumAboveN {
        /// `R` or `W`.
        which: &'static str,
        /// Its value.
        value: usize,
        /// N.
        n: usize,
    },
    /// N of zero, or more than the model holds.
    #[error("N = {n} is not possible with {model}: it holds 1 to {max} replicas")]
    TooManyReplicas {
        /// N asked.
        n: usize,
        /// The most it holds.
        max: usize,
        /// The model's name.
        model: String,
    },
    /// A placement over the per-region limit.
    #[error("placement puts {held} replicas in {region}; a region holds at most {max}")]
    RegionFull {
        /// The region.
        region: String,
        /// Replicas placed there.
        held: usize,
        /// The limit.
        max: usize,
    },
    /// A name that is not a preset.
    #[error("unknown preset `{name}`; choose one of: {choices}")]
    UnknownPreset {
        /// What was asked.
        name: String,
        /// The presets.
        choices: String,
    },
    /// Trials out of range.
    #[error("trials must be 1 to {max} (got {got})")]
    Trials {
        /// Asked.
        got: u64,
        /// Cap.
        max: u64,
    },
    /// A bad grid for the curve.
    #[error("{0}")]
    Grid(String),
}

/// One run: a model, N/R/W and the sampling settings. Serialised (the
/// model by its name, as `preset`) at the head of `kata86 pbs --format json`.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct Config {
    /// The latency model.
    #[serde(rename = "preset", serialize_with = "model_name")]
    #[schemars(rename = "preset", with = "String")]
    pub model: Model,
    /// Replicas.
    pub n: usize,
    /// Read replies awaited.
    pub r: usize,
    /// Write acks awaited.
    pub w: usize,
    /// Trials (one write and one read each).
    pub trials: u64,
    /// Master seed.
    pub seed: u64,
    /// Spacing of the curve's points, ms.
    pub step_ms: f64,
    /// Points on the curve (t = 0, step, 2·step, ...).
    pub points: usize,
}

/// The finest step of the curve, ms: 1 µs.
pub const MIN_STEP_MS: f64 = 0.001;
/// The furthest point of the curve, ms: one hour, the longest latency the
/// histograms hold.
pub const MAX_CURVE_MS: f64 = 3_600_000.0;

impl Config {
    /// Checks every field; the only way [`simulate`] accepts a config.
    pub fn validate(&self) -> Result<(), QuorumError> {
        check_nrw(&self.model, self.n, self.r, self.w)?;
        if self.trials == 0 || self.trials > MAX_TRIALS {
            return Err(QuorumError::Trials {
                got: self.trials,
                max: MAX_TRIALS,
            });
        }
        if !self.step_ms.is_finite() || self.step_ms <= 0.0 {
            return Err(QuorumError::Grid(format!(
                "the curve's step must be a positive number of ms (got {})",
                self.step_ms
            )));
        }
        if self.points == 0 || self.points > MAX_POINTS {
            return Err(QuorumError::Grid(format!(
                "the curve has 1 to {MAX_POINTS} points (got {})",
                self.points
            )));
        }
        if self.step_ms < MIN_STEP_MS {
            return Err(QuorumError::Grid(format!(
                "--step-ms {} is under {MIN_STEP_MS} ms, the 1 µs the latencies are measured in",
                self.step_ms
            )));
        }
        // Scaled, the last point must stay a time the model measures.
        let last = (self.points - 1) as f64 * self.step_ms;
        if last > MAX_CURVE_MS {
            return Err(QuorumError::Grid(format!(
                "the curve's last point, (--points {} - 1) x --step-ms {} = {last:e} ms, is past \
                 the {MAX_CURVE_MS} ms (one hour) a latency can be; give a smaller --step-ms or \
                 fewer --points",
                self.points, self.step_ms
            )));
        }
        Ok(())
    }
}

/// N within the model's capacity, R and W from 1 to N.
fn check_nrw(model: &Model, n: usize, r: usize, w: usize) -> Result<(), QuorumError> {
    let cap = model.capacity();
    if n == 0 || n > cap {
        return Err(QuorumError::TooManyReplicas {
            n,
            max: cap,
            model: model.name.clone(),
        });
    }
    for (which, value) in [("R", r), ("W", w)] {
        if value == 0 {
            return Err(QuorumError::ZeroQuorum { which });
        }
        if value > n {
            return Err(QuorumError::QuorumAboveN { which, value, n });
        }
    }
    Ok(())
}

/// The integer counts one group of trials leaves behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Per-trial thresholds (ms).
    pub threshold: Histogram,
    /// Read latencies (ms).
    pub read: Histogram,
    /// Write latencies (ms).
    pub write: Histogram,
    /// `grid[j]`: trials whose threshold needs curve point j; the last entry
    /// counts those beyond the curve.
    pub grid: Vec<u64>,
    /// `stale_hits[k-1]`: trials whose read quorum meets one of the last k
    /// versions' write quorums.
    pub stale_hits: [u64; K_MAX],
}

impl Tally {
    fn new(points: usize) -> Tally {
        Tally {
            threshold: Histogram::new(),
            read: Histogram::new(),
            write: Histogram::new(),
            grid: vec![0; points + 1],
            stale_hits: [0; K_MAX],
        }
    }

    fn merge(mut self, other: Tally) -> Tally {
        self.threshold.merge(&other.threshold);
        self.read.merge(&other.read);
        self.write.merge(&other.write);
        for (a, b) in self.grid.iter_mut().zip(&other.grid) {
            *a += b;
        }
        for (a, b) in self.stale_hits.iter_mut().zip(other.stale_hits) {
            *a += b;
        }
        self
    }
}

/// Percentiles of a latency, ms (serialised to the µs).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Percentiles {
    /// Median.
    #[serde(serialize_with = "ser_ms")]
    pub p50: f64,
    /// 99th.
    #[serde(serialize_with = "ser_ms")]
    pub p99: f64,
    /// 99.9th.
    #[serde(serialize_with = "ser_ms")]
    pub p999: f64,
}

impl Percentiles {
    fn of(h: &Histogram) -> Percentiles {
        Percentiles {
            p50: h.quantile(5_000),
            p99: h.quantile(9_900),
            p999: h.quantile(9_990),
        }
    }
}

/// One k-staleness figure (probabilities serialised to 6 places).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct KStaleness {
    /// Versions.
    pub k: usize,
    /// Fraction of trials whose read quorum met one of the last k write quorums.
    #[serde(serialize_with = "ser_p")]
    pub simulated: f64,
    /// `1 − [C(N−W, R) / C(N, R)]^k`.
    #[serde(serialize_with = "ser_p")]
    pub closed_form: f64,
}

/// One point of the t-visibility curve.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct CurvePoint {
    /// Time since the write committed, ms.
    #[serde(serialize_with = "ser_ms")]
    pub t_ms: f64,
    /// Fraction of trials whose read at `t_ms` saw the write.
    #[serde(serialize_with = "ser_p")]
    pub p_consistent: f64,
}

/// `x` rounded to the µs, as every output prints a PBS latency.
pub fn round_ms(x: f64) -> f64 {
    (x * 1e3).round() / 1e3
}

/// `p` rounded to 6 places, as every output prints a PBS probability.
pub fn round_p(p: f64) -> f64 {
    (p * 1e6).round() / 1e6
}

fn ser_ms<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round_ms(*x))
}

fn ser_p<S: serde::Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(round_p(*x))
}

fn model_name<S: serde::Serializer>(m: &Model, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&m.name)
}

/// The labels of [`T_VIS_PER_10K`], as reports print them.
pub const T_VIS_LABELS: [&str; 3] = ["0.99", "0.999", "0.9999"];

/// The shape `t_visibility_ms` serialises to: one key per probability.
#[derive(schemars::JsonSchema)]
#[allow(dead_code)]
struct TVisibilityMs {
    #[serde(rename = "0.99")]
    p99: f64,
    #[serde(rename = "0.999")]
    p999: f64,
    #[serde(rename = "0.9999")]
    p9999: f64,
}

fn ser_t_vis<S: serde::Serializer>(t: &[f64; 3], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(3))?;
    for (l, x) in T_VIS_LABELS.iter().zip(t) {
        m.serialize_entry(l, &round_ms(*x))?;
    }
    m.end()
}

/// What a run measured; serialised (without the raw counts) as the body of
/// `kata86 pbs --format json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Report {
    /// Read latency: the R-th fastest response.
    pub read_ms: Percentiles,
    /// Write latency: the W-th fastest ack.
    pub write_ms: Percentiles,
    /// t-visibility at 99 %, 99.9 %, 99.99 % (each the upper edge of a
    /// histogram bucket under 0.4 % wide: at least that fraction is consistent).
    #[serde(serialize_with = "ser_t_vis")]
    #[schemars(with = "TVisibilityMs")]
    pub t_visibility_ms: [f64; 3],
    /// k-staleness for k = 1 ..= [`K_MAX`].
    pub k_staleness: Vec<KStaleness>,
    /// P(consistent at t) at every grid point, exact counts.
    pub curve: Vec<CurvePoint>,
    /// The raw counts.
    #[serde(skip)]
    pub tally: Tally,
}

/// Probabilities the t-visibility quantiles are reported at, in 1/10000.
pub const T_VIS_PER_10K: [u32; 3] = [9_900, 9_990, 9_999];

/// `C(N−W, R) / C(N, R)`: the chance that a uniformly random read quorum
/// misses a uniformly random write quorum.
pub fn miss_probability(n: usize, r: usize, w: usize) -> f64 {
    if r + w > n {
        return 0.0;
    }
    // C(N−W, R) / C(N, R) = Π_{i<R} (N−W−i) / (N−i).
    (0..r)
        .map(|i| (n - w - i) as f64 / (n - i) as f64)
        .product()
}

/// The paper's k-staleness closed form: `1 − [C(N−W, R) / C(N, R)]^k`.
pub fn k_staleness_closed_form(n: usize, r: usize, w: usize, k: usize) -> f64 {
    1.0 - miss_probability(n, r, w).powi(k as i32)
}

/// Per-trial scratch: fixed arrays, nothing allocated per trial.
struct Trial {
    w: [f64; MAX_N],
    r: [f64; MAX_N],
    ack: [f64; MAX_N],
    resp: [f64; MAX_N],
    ack_order: [u8; MAX_N],
    read_order: [u8; MAX_N],
}

impl Trial {
    fn new() -> Trial {
        Trial {
            w: [0.0; MAX_N],
            r: [0.0; MAX_N],
            ack: [0.0; MAX_N],
            resp: [0.0; MAX_N],
            ack_order: [0; MAX_N],
            read_order: [0; MAX_N],
        }
    }
}

/// Sorts `order[..n]` by `key` (insertion sort: N is at most 16). Ties keep
/// replica order, so the sort is deterministic.
#[inline]
fn order_by(key: &[f64; MAX_N], order: &mut [u8; MAX_N], n: usize) {
    for (i, o) in order.iter_mut().enumerate().take(n) {
        *o = i as u8;
    }
    for i in 1..n {
        let x = order[i];
        let mut j = i;
        while j > 0 && key[order[j - 1] as usize] > key[x as usize] {
            order[j] = order[j - 1];
            j -= 1;
        }
        order[j] = x;
    }
}

/// For every replica i (one per entry of `off`, its one-way delay): the
/// request's arrival `there[i] = off[i] + go` and the reply's return
/// `back[i] = there[i] + off[i] + reply`, drawing `go` then `reply` per replica.
#[inline]
fn round_trips(
    off: &[f64],
    go: Dist,
    reply: Dist,
    rng: &mut Rng,
    there: &mut [f64; MAX_N],
    back: &mut [f64; MAX_N],
) {
    for ((&o, th), bk) in off.iter().zip(there.iter_mut()).zip(back.iter_mut()) {
        *th = o + go.draw(rng);
        *bk = *th + o + reply.draw(rng);
    }
}

/// Draws one write's W and A legs for every replica from the writer's
/// `site`; returns the ack-order bitmask of the first `w` ackers and leaves
/// arrivals in `t.w`, ack times in `t.ack`.
#[inline]
fn draw_write(m: &Model, n: usize, w: usize, site: usize, rng: &mut Rng, t: &mut Trial) -> u32 {
    round_trips(
        &m.offsets[site][..n],
        m.legs.w,
        m.legs.a,
        rng,
        &mut t.w,
        &mut t.ack,
    );
    order_by(&t.ack, &mut t.ack_order, n);
    t.ack_order[..w].iter().fold(0u32, |m, &i| m | 1 << i)
}

/// Draws one read's R and S legs for every replica from the reader's
/// `site`, the write having committed at `wt` with arrivals in `t.w`; returns
/// the read latency (the R-th fastest response) and the trial's threshold,
/// `min over the R fastest of W_i − R_i − wt` (not yet clamped at 0). The
/// read order is left in `t.read_order`.
#[inline]
fn draw_read(
    m: &Model,
    n: usize,
    r: usize,
    site: usize,
    wt: f64,
    rng: &mut Rng,
    t: &mut Trial,
) -> (f64, f64) {
    round_trips(
        &m.offsets[site][..n],
        m.legs.r,
        m.legs.s,
        rng,
        &mut t.r,
        &mut t.resp,
    );
    order_by(&t.resp, &mut t.read_order, n);
    let read_ms = t.resp[t.read_order[r - 1] as usize];
    let threshold = t.read_order[..r]
        .iter()
        .map(|&i| t.w[i as usize] - t.r[i as usize] - wt)
        .fold(f64::INFINITY, f64::min);
    (read_ms, threshold)
}

/// One trial's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The smallest `t` (ms, ≥ 0) at which the read sees the write.
    pub threshold_ms: f64,
    /// Read latency: the R-th fastest response.
    pub read_ms: f64,
    /// Write latency: the W-th fastest ack.
    pub write_ms: f64,
    /// `hits[k-1]`: the read quorum met one of the last k write quorums.
    pub hits: [bool; K_MAX],
}

/// The curve point a threshold first counts at: the smallest j with
/// `j · step ≥ threshold`, or `points` when beyond the curve.
#[inline(always)]
fn grid_index(threshold: f64, step: f64, points: usize) -> usize {
    if threshold <= 0.0 {
        return 0;
    }
    let k = (threshold / step).ceil();
    if k >= points as f64 {
        points
    } else {
        k as usize
    }
}

/// Runs chunk `chunk`'s trials into `tally`.
fn run_chunk(cfg: &Config, chunk: u64, tally: &mut Tally) {
    let from = chunk * CHUNK;
    let to = (from + CHUNK).min(cfg.trials);
    block::Engine::new(cfg, chunk).tally((to - from) as usize, tally);
}

/// The most trials [`samples`] returns one by one.
pub const MAX_SAMPLES: u64 = 1_000_000;

/// Every trial's outcome, in trial order, exactly as [`simulate`] draws them:
/// for oracles and tests on small runs (at most [`MAX_SAMPLES`]).
pub fn samples(cfg: &Config) -> Result<Vec<Sample>, QuorumError> {
    cfg.validate()?;
    if cfg.trials > MAX_SAMPLES {
        return Err(QuorumError::Trials {
            got: cfg.trials,
            max: MAX_SAMPLES,
        });
    }
    let mut out = Vec::with_capacity(cfg.trials as usize);
    for c in 0..cfg.trials.div_ceil(CHUNK) {
        let mut e = block::Engine::new(cfg, c);
        let from = c * CHUNK;
        let mut left = ((from + CHUNK).min(cfg.trials) - from) as usize;
        while left > 0 {
            e.block();
            let take = left.min(block::BLOCK);
            out.extend((0..take).map(|b| e.sample(b)));
            left -= take;
        }
    }
    Ok(out)
}

/// Runs the Monte Carlo and summarises it.
pub fn simulate(cfg: &Config) -> Result<Report, QuorumError> {
    simulate_with(cfg, &|| {})
}

/// The chunks of [`CHUNK`] trials a run of `cfg` plays: the steps
/// [`simulate_with`] reports.
pub fn chunks(cfg: &Config) -> u64 {
    cfg.trials.div_ceil(CHUNK)
}

/// [`simulate`], calling `progress` once per chunk played (from any
/// thread; the report does not depend on it).
pub fn simulate_with(cfg: &Config, progress: &(dyn Fn() + Sync)) -> Result<Report, QuorumError> {
    cfg.validate()?;
    let tally = (0..chunks(cfg))
        .into_par_iter()
        .fold(
            || Tally::new(cfg.points),
            |mut t, c| {
                run_chunk(cfg, c, &mut t);
                progress();
                t
            },
        )
        .reduce(|| Tally::new(cfg.points), Tally::merge);
    Ok(summarise(cfg, tally))
}

fn summarise(cfg: &Config, tally: Tally) -> Report {
    let total = cfg.trials as f64;
    let mut seen = 0u64;
    let curve = (0..cfg.points)
        .map(|j| {
            seen += tally.grid[j];
            CurvePoint {
                t_ms: j as f64 * cfg.step_ms,
                p_consistent: seen as f64 / total,
            }
        })
        .collect();
    let k_staleness = (1..=K_MAX)
        .map(|k| KStaleness {
            k,
            simulated: tally.stale_hits[k - 1] as f64 / total,
            closed_form: k_staleness_closed_form(cfg.n, cfg.r, cfg.w, k),
        })
        .collect();
    Report {
        read_ms: Percentiles::of(&tally.read),
        write_ms: Percentiles::of(&tally.write),
        t_visibility_ms: T_VIS_PER_10K.map(|p| tally.threshold.quantile(p)),
        k_staleness,
        curve,
        tally,
    }
}
