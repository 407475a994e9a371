//! The model's arithmetic, its free parameters fitted on one configuration,
//! and its predictions for the others. Pure functions: no I/O.
//!
//! - **Commit** at site `s` under a mode that waits for `k` standbys:
//!   `path(s) + 2·o + c_q + [k > 0]·(rtt_k + 2·o)`, where `path(s)` is the
//!   model's charge path (site → home region → leader, `routing::Router::charge`),
//!   `rtt_k` the k-th smallest leader↔standby RTT, `o` the delay line's cost per
//!   traversal and `c_q` the fitted commit time at quantile `q` (the model's
//!   `--commit`, fsync included).
//! - **Reported staleness** on standby `r`: `one_way(r) + o + A + H + δ`, with
//!   the fitted apply law `A = base + U[0, jitter)` (the model's
//!   [`replication::Normal`], no spikes), `H ~ U[0, heartbeat)` the age of
//!   the last heartbeat and `δ` the heartbeat's fitted offset; quantiles from
//!   the sum of the two uniforms' closed form.
//! - **Data age** of a read on standby `r`: each entry is visible
//!   `L = one_way(r) + o + A` after its commit, so a read misses the entries
//!   of its account committed in the last `L`; which those are depends on the
//!   charge traffic, played from the predicted commit latencies
//!   ([`predict_data_age`]).
//! - **What `kata86 sim --lag-from` shows** on the fitted world, without the
//!   delay line (the simulator has none): a local read on standby `r` lags
//!   `one_way(r) + A` ([`predict_sim_lag`]), a charge at site `s` takes
//!   `path(s) + c` for the `--commit c` it is given ([`predict_sim_charge`]);
//!   both as the simulator's histogram holds them ([`as_recorded`]), so they
//!   print as `sim` prints its own figures.

use replication::Normal;
use topology::{to_ms, RegionId, SiteId, Topology};

/// Quantiles every figure is given at.
pub const QUANTILES: [(&str, f64); 3] = [("p50", 0.50), ("p95", 0.95), ("p99", 0.99)];

/// Three quantiles of one series, ms.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Q3 {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Q3 {
    /// The value at index 0, 1, 2 of [`QUANTILES`].
    pub fn at(&self, i: usize) -> f64 {
        [self.p50, self.p95, self.p99][i]
    }

    /// From a function of the quantile.
    pub fn from_fn(mut f: impl FnMut(f64) -> f64) -> Q3 {
        Q3 {
            p50: f(0.50),
            p95: f(0.95),
            p99: f(0.99),
        }
    }

    /// From a histogram of µs values.
    pub fn of(h: &metrics::LatencyHistogram) -> Q3 {
        Q3::from_fn(|q| h.value_at_quantile(q) as f64 / 1000.0)
    }

    /// From a histogram of µs values, each quantile moved to the `side` end
    /// of its order-statistic interval ([`rank_interval`]): the band a
    /// sample of this size cannot pin the quantile more finely than.
    pub fn of_side(h: &metrics::LatencyHistogram, side: Side) -> Q3 {
        let n = h.count();
        Q3::from_fn(|q| {
            let (lo, hi) = rank_interval(q, n);
            let q = match side {
                Side::Low => lo,
                Side::Mid => q,
                Side::High => hi,
            };
            h.value_at_quantile(q) as f64 / 1000.0
        })
    }

    /// The median of several, quantile by quantile (repeats).
    pub fn median(all: &[Q3]) -> Q3 {
        let med = |i: usize| {
            let mut v: Vec<f64> = all.iter().map(|x| x.at(i)).collect();
            v.sort_by(f64::total_cmp);
            match v.len() {
                0 => 0.0,
                n if n % 2 == 1 => v[n / 2],
                n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
            }
        };
        Q3 {
            p50: med(0),
            p95: med(1),
            p99: med(2),
        }
    }
}

/// How many standard deviations of the rank the order-statistic interval
/// spans each way: 3, about 99.7 % of the time under the normal
/// approximation of the binomial rank.
pub const INTERVAL_Z: f64 = 3.0;

/// One end of an order-statistic interval, or the point estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The lower end.
    Low,
    /// The sample quantile itself.
    Mid,
    /// The upper end.
    High,
}

impl Side {
    /// All three, in the order `[Low, Mid, High]`.
    pub const ALL: [Side; 3] = [Side::Low, Side::Mid, Side::High];
}

/// The distribution-free interval of the `q` quantile from `n` samples, as a
/// pair of sample quantiles: the rank of the true quantile among `n` samples
/// is Binomial(n, q), so it lies within `n·q ± z·√(n·q·(1−q))` about 99.7 %
/// of the time ([`INTERVAL_Z`]); clamped to the first and the last sample.
/// With 30 commits (one site's semi-sync charges in 10 s) the p95 interval
/// runs from the 24th sample to the largest; with 10,000 it is
/// p94.3–p95.7. An end clamped to the largest sample covers less: the true
/// p95 lies above all of 30 samples with probability 0.95³⁰ ≈ 21 %, so few
/// samples cannot refute a prediction above the quantile by much; the
/// tolerance of [`within`] is what judges that side then.
pub fn rank_interval(q: f64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (q, q);
    }
    let nf = n as f64;
    let half = INTERVAL_Z * (nf * q * (1.0 - q)).sqrt();
    let lo = ((nf * q - half).floor().max(1.0)) / nf;
    let hi = ((nf * q + half).ceil().min(nf)) / nf;
    (lo.min(q), hi.max(q))
}

/// The model's free parameters, fitted on one configuration.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, schemars::JsonSchema)]
pub struct Fitted {
    /// The delay line's added latency per traversal, ms (its self-probe).
    pub overhead_ms: f64,
    /// The leader's commit time (the model's `--commit`), per quantile, ms:
    /// async commit latency minus the path and the delay line, averaged over
    /// sites.
    pub commit_ms: Q3,
    /// The apply law's fixed part, ms (the model's `Normal::base`).
    pub apply_base_ms: f64,
    /// The apply law's uniform width, ms (the model's `Normal::jitter`).
    pub apply_jitter_ms: f64,
    /// Heartbeat period, ms (not fitted: the workload's, as the model's).
    pub heartbeat_ms: f64,
    /// The heartbeat row's extra age at the median, ms (fitted).
    pub heartbeat_offset_ms: f64,
    /// A durable 8 KiB write on the servers' disk, median, ms (measured, for
    /// comparison with the model's 5 ms default; not used to predict).
    pub fsync_probe_ms: f64,
}

impl Fitted {
    /// The apply law as the model's type.
    pub fn apply_law(&self) -> Normal {
        Normal {
            base: topology::ms(self.apply_base_ms),
            jitter: topology::ms(self.apply_jitter_ms),
        }
    }
}

/// Rounds ms to whole µs, the precision a lag file and `--commit` carry.
pub fn to_us_precision(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Points of a law's quantile function recorded by [`as_recorded`].
const RECORD_GRID: u32 = 100_000;

/// A law given by its quantile function (ms) as a `metrics::LatencyHistogram`
/// holds it: its values at `RECORD_GRID` evenly spaced quantiles, each at
/// whole µs, recorded, then summarised as every figure `kata86 sim` prints is
/// (the histogram's 3 significant digits, whole µs).
pub fn as_recorded(quantile_ms: impl Fn(f64) -> f64) -> metrics::Summary {
    let mut h = metrics::LatencyHistogram::new();
    for i in 0..RECORD_GRID {
        let q = (f64::from(i) + 0.5) / f64::from(RECORD_GRID);
        h.record(topology::ms(quantile_ms(q).max(0.0)));
    }
    h.summary()
}

/// The world a configuration runs in.
#[derive(Debug, Clone)]
pub struct Geometry<'t> {
    /// Regions, sites and RTTs.
    pub topology: &'t Topology,
    /// The primary's region.
    pub leader: RegionId,
}

impl Geometry<'_> {
    /// The model's charge path RTT from `s`: site → home → leader, ms.
    pub fn charge_path_ms(&self, s: SiteId) -> f64 {
        let t = self.topology;
        let home = t.home(s);
        to_ms(t.rtt_site(s, home) + t.rtt_regions(home, self.leader))
    }

    /// Standby regions (every region but the leader), in topology order.
    pub fn standbys(&self) -> Vec<RegionId> {
        self.topology
            .region_ids()
            .filter(|r| *r != self.leader)
            .collect()
    }

    /// One-way delay leader → `r`, ms.
    pub fn one_way_ms(&self, r: RegionId) -> f64 {
        to_ms(self.topology.rtt_regions(self.leader, r)) / 2.0
    }

    /// One-way delay leader → `r` in whole µs, as the simulator's links
    /// carry it (half the RTT, rounded down).
    pub fn one_way_us(&self, r: RegionId) -> topology::Micros {
        self.topology.rtt_regions(self.leader, r) / 2
    }

    /// The RTT to the standby that completes a count of `k`, ms (0 for k = 0).
    pub fn rtt_kth_ms(&self, k: usize) -> f64 {
        if k == 0 {
            return 0.0;
        }
        let mut rtts: Vec<u64> = self
            .standbys()
            .into_iter()
            .map(|r| self.topology.rtt_regions(self.leader, r))
            .collect();
        rtts.sort_unstable();
        rtts.get(k - 1).map(|&v| to_ms(v)).unwrap_or(f64::INFINITY)
    }
}

/// Fits the commit time: per quantile, the mean over sites of measured
/// commit latency minus the charge path and two delay-line traversals.
pub fn fit_commit(geo: &Geometry<'_>, commit: &[Q3], overhead_ms: f64) -> Q3 {
    let n = commit.len().max(1) as f64;
    Q3::from_fn(|q| {
        let i = QUANTILES.iter().position(|(_, x)| *x == q).unwrap_or(0);
        commit
            .iter()
            .enumerate()
            .map(|(s, m)| m.at(i) - geo.charge_path_ms(SiteId(s as u8)) - 2.0 * overhead_ms)
            .sum::<f64>()
            / n
    })
    .clamp_min(0.0)
}

impl Q3 {
    fn clamp_min(self, lo: f64) -> Q3 {
        Q3 {
            p50: self.p50.max(lo),
            p95: self.p95.max(lo),
            p99: self.p99.max(lo),
        }
    }
}

/// Fits the apply law `base + U[0, jitter)` to `pg_stat_replication`'s
/// replay lag of each standby (`replay[i]` for `geo.standbys()[i]`): the time
/// from the primary's flush to its hearing that the standby replayed, less the
/// link's round trip and two delay-line traversals, is the standby's receipt,
/// flush and apply. `base` is its median, averaged over standbys, and
/// `jitter` is 0: above the median the replay lag carries the walreceiver's
/// flush batching and the lag tracker's sampling (tens of ms at p95 on a
/// link whose median excess is under 1 ms), which no entry's visibility
/// waits for; fitting the width on it would predict data ages beyond the
/// one-way delay that are never measured (docs/validation.md).
pub fn fit_apply(geo: &Geometry<'_>, replay: &[Q3], overhead_ms: f64) -> (f64, f64) {
    let regions = geo.standbys();
    let n = replay.len().max(1) as f64;
    let p50 = replay
        .iter()
        .zip(&regions)
        .map(|(m, r)| m.p50 - 2.0 * geo.one_way_ms(*r) - 2.0 * overhead_ms)
        .sum::<f64>()
        / n;
    (p50.max(0.0), 0.0)
}

/// Fits the heartbeat's offset: how much older the heartbeat row is, at the
/// median, than the one-way delay, the delay line, the apply law and the
/// heartbeat period explain (the heartbeat is stamped when its statement
/// starts, before its commit; the model stamps at commit). Averaged over
/// standbys; `staleness[i]` is for `geo.standbys()[i]`.
pub fn fit_heartbeat_offset(geo: &Geometry<'_>, staleness: &[Q3], f: &Fitted) -> f64 {
    let regions = geo.standbys();
    let n = staleness.len().max(1) as f64;
    staleness
        .iter()
        .zip(&regions)
        .map(|(m, r)| {
            m.p50
                - geo.one_way_ms(*r)
                - f.overhead_ms
                - f.apply_base_ms
                - two_uniform_quantile(f.apply_jitter_ms, f.heartbeat_ms, 0.5)
        })
        .sum::<f64>()
        / n
}

/// The `p`-quantile of `U[0, a) + U[0, b)` (closed form of the trapezoid).
pub fn two_uniform_quantile(a: f64, b: f64, p: f64) -> f64 {
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    let p = p.clamp(0.0, 1.0);
    if b <= 0.0 {
        return 0.0;
    }
    if a <= 0.0 {
        return p * b;
    }
    let low = a / (2.0 * b);
    if p <= low {
        (2.0 * a * b * p).sqrt()
    } else if p <= 1.0 - low {
        p * b + a / 2.0
    } else {
        a + b - (2.0 * a * b * (1.0 - p)).sqrt()
    }
}

/// Predicted commit latency at site `s` waiting for `k` standbys.
pub fn predict_commit(geo: &Geometry<'_>, f: &Fitted, s: SiteId, k: usize) -> Q3 {
    let path = geo.charge_path_ms(s) + 2.0 * f.overhead_ms;
    let sync = if k == 0 {
        0.0
    } else {
        geo.rtt_kth_ms(k) + 2.0 * f.overhead_ms
    };
    Q3 {
        p50: path + f.commit_ms.p50 + sync,
        p95: path + f.commit_ms.p95 + sync,
        p99: path + f.commit_ms.p99 + sync,
    }
}

/// Predicted reported staleness on standby region `r`.
pub fn predict_staleness(geo: &Geometry<'_>, f: &Fitted, r: RegionId) -> Q3 {
    let fixed = geo.one_way_ms(r) + f.overhead_ms + f.apply_base_ms + f.heartbeat_offset_ms;
    Q3::from_fn(|q| fixed + two_uniform_quantile(f.apply_jitter_ms, f.heartbeat_ms, q))
}

/// The lag `kata86 sim --lag-from` draws for a local read on standby region
/// `r` (its `lag` column): the link's one-way delay plus the fitted apply
/// law, `one_way(r) + base + jitter · q` at quantile `q`, with no delay line
/// and no heartbeat; 0 for a read at the leader. As recorded
/// ([`as_recorded`]).
pub fn predict_sim_lag(geo: &Geometry<'_>, f: &Fitted, r: RegionId) -> metrics::Summary {
    if r == geo.leader {
        return as_recorded(|_| 0.0);
    }
    let one_way = to_ms(geo.one_way_us(r));
    as_recorded(|q| one_way + f.apply_base_ms + f.apply_jitter_ms * q)
}

/// The charge latency `kata86 sim --commit C` shows at site `s` on the kata
/// loop (one leader, `async`, no jitter): the charge path plus `C` at every
/// quantile. As recorded ([`as_recorded`]).
pub fn predict_sim_charge(geo: &Geometry<'_>, s: SiteId, commit_ms: f64) -> metrics::Summary {
    let path = geo.charge_path_ms(s);
    as_recorded(|_| path + commit_ms)
}

/// The charge traffic data age depends on: each site's closed loop.
#[derive(Debug, Clone, PartialEq)]
pub struct Writers {
    /// Each site's predicted commit latency (p50), ms.
    pub commit_ms: Vec<f64>,
    /// Mean exponential think time between a site's charges, ms.
    pub think_ms: f64,
    /// Accounts per site (a site charges its own, uniformly).
    pub accounts: u32,
}

/// Simulated seconds of writes the data-age prediction plays.
const AGE_SIM_S: f64 = 2_000.0;
/// The seed of the data-age prediction (it is a prediction, not a run).
const AGE_SEED: u64 = 0x0DA7_AA9E;
/// Reads it samples.
const AGE_READS: u32 = 200_000;

/// Predicted data age of balance reads on standby region `r`: the model's
/// writers played on a fixed seed (each site's charges a renewal process with
/// gaps of its predicted commit latency plus an exponential think time, on
/// one of its accounts uniformly), reads at uniform instants of an account of
/// any site uniformly, each entry visible `L = one_way(r) + o + A` after its
/// commit. A read's age is that of the oldest entry of its account committed
/// in the last `L`, 0 if none. Deterministic: the same inputs give the same
/// figures.
pub fn predict_data_age(geo: &Geometry<'_>, f: &Fitted, r: RegionId, w: &Writers) -> Q3 {
    use replication::rng::{below, exponential, substream, unit};
    let l0 = geo.one_way_ms(r) + f.overhead_ms + f.apply_base_ms;
    let a = w.accounts.max(1) as usize;
    // commits[site * a + account] = sorted commit times, ms.
    let mut commits: Vec<Vec<f64>> = vec![Vec::new(); w.commit_ms.len() * a];
    for (s, &c) in w.commit_ms.iter().enumerate() {
        let mut rng = substream(AGE_SEED, "writer", s as u64);
        let mut t = 0.0;
        while t < AGE_SIM_S * 1000.0 {
            t += c.max(0.001) + exponential(&mut rng, w.think_ms);
            let account = below(&mut rng, a as u64) as usize;
            commits[s * a + account].push(t);
        }
    }
    if commits.is_empty() {
        return Q3::default();
    }
    let mut rng = substream(AGE_SEED, "reads", r.0 as u64);
    let mut h = metrics::LatencyHistogram::new();
    // Skip the first 10 s: every account has been written by then.
    let span = AGE_SIM_S * 1000.0 - 10_000.0;
    for _ in 0..AGE_READS {
        let t = 10_000.0 + unit(&mut rng) * span;
        let list = &commits[below(&mut rng, commits.len() as u64) as usize];
        let lag = l0 + unit(&mut rng) * f.apply_jitter_ms;
        // The first commit after t − lag, if it is not after t.
        let i = list.partition_point(|&x| x <= t - lag);
        let age = match list.get(i) {
            Some(&c) if c <= t => t - c,
            _ => 0.0,
        };
        h.record((age * 1000.0).round() as u64);
    }
    Q3::of(&h)
}

/// The tolerance of an out-of-sample prediction of `measured`, ms: commit
/// latency 15 % or 5 ms, staleness and data age 20 % or 10 ms, whichever is
/// larger; `None` for p99 and for metrics without a tolerance. It is the
/// model's error allowed on top of the sampling error ([`within`]).
pub fn tolerance_ms(metric: Metric, quantile: usize, measured: f64) -> Option<f64> {
    if quantile > 1 {
        return None;
    }
    match metric {
        Metric::Commit => Some((0.15 * measured).max(5.0)),
        Metric::Staleness | Metric::DataAge => Some((0.20 * measured).max(10.0)),
        Metric::WriteLag | Metric::FlushLag | Metric::ReplayLag => None,
    }
}

/// Whether a prediction holds: the predicted band (the prediction from the
/// fit on the fitted configuration's low ends, sample quantiles and high
/// ends, [`Side`]) and the measured order-statistic interval are less than
/// `tolerance` apart. Both sides' sampling error is allowed, and the model's
/// error on top of it.
pub fn within(predicted: [f64; 3], measured: [f64; 3], tolerance: f64) -> bool {
    let ([plo, phi], [mlo, mhi]) = (span(predicted), span(measured));
    plo - tolerance <= mhi && phi + tolerance >= mlo
}

/// The lowest and the highest of three figures (a [`Side`] triple).
pub fn span(v: [f64; 3]) -> [f64; 2] {
    [
        v.iter().copied().fold(f64::INFINITY, f64::min),
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    ]
}

/// What a row measures.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Commit latency of a charge, per site.
    Commit,
    /// Reported staleness (heartbeat age), per standby.
    Staleness,
    /// Data age of balance reads on the site's home standby, per site.
    DataAge,
    /// `pg_stat_replication.write_lag`, per standby (measured only).
    WriteLag,
    /// `pg_stat_replication.flush_lag`, per standby (measured only).
    FlushLag,
    /// `pg_stat_replication.replay_lag`, per standby (measured only).
    ReplayLag,
}

impl Metric {
    /// The name printed.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Commit => "commit",
            Metric::Staleness => "staleness",
            Metric::DataAge => "data_age",
            Metric::WriteLag => "write_lag",
            Metric::FlushLag => "flush_lag",
            Metric::ReplayLag => "replay_lag",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interval's coverage against theory: samples of a known law
    /// (exponential, rate 1, its q quantile −ln(1 − q)), the interval read
    /// from each sample's histogram as the calibration reads it, and the
    /// share of samples whose interval holds the true quantile. Unclamped
    /// (400 samples, p50 and p95), the normal approximation promises
    /// 99.7 %; clamped at the largest sample (30 samples, p95) the upper end
    /// covers only with probability 1 − 0.95³⁰ ≈ 78.5 %, which the check
    /// also pins.
    #[test]
    fn the_rank_interval_covers_the_true_quantile_as_theory_says() {
        let coverage = |n: u64, q: f64, trials: u32| {
            let truth = -(1.0 - q).ln() * 1000.0; // ms
            let mut rng = replication::rng::substream(7, "coverage", n);
            let mut held = 0u32;
            for _ in 0..trials {
                let mut h = metrics::LatencyHistogram::new();
                for _ in 0..n {
                    let u = replication::rng::unit(&mut rng);
                    h.record((-(1.0 - u).ln() * 1_000_000.0).round() as u64);
                }
                let lo = Q3::of_side(&h, Side::Low);
                let hi = Q3::of_side(&h, Side::High);
                let i = QUANTILES.iter().position(|(_, x)| *x == q).unwrap();
                held += u32::from(lo.at(i) <= truth && truth <= hi.at(i));
            }
            f64::from(held) / f64::from(trials)
        };
        for q in [0.50, 0.95] {
            let c = coverage(400, q, 2000);
            assert!((0.990..=1.0).contains(&c), "n 400 q {q}: coverage {c}");
        }
        let c = coverage(30, 0.95, 4000);
        assert!((c - 0.785).abs() < 0.03, "n 30 q 0.95: coverage {c}");
        // Narrow with many samples, wide with few.
        let (lo, hi) = rank_interval(0.95, 10_000);
        assert!(hi - lo < 0.014 && lo > 0.94 && hi < 0.96, "{lo} {hi}");
        assert_eq!(rank_interval(0.95, 30), (24.0 / 30.0, 1.0));
        assert_eq!(rank_interval(0.5, 0), (0.5, 0.5));
    }

    #[test]
    fn within_allows_both_intervals_and_the_tolerance() {
        // Disjoint by more than the tolerance, either way: a miss.
        assert!(!within([100.0, 110.0, 120.0], [140.0, 150.0, 160.0], 10.0));
        assert!(!within([140.0, 150.0, 160.0], [100.0, 110.0, 120.0], 10.0));
        // Closer than the tolerance, or overlapping: held.
        assert!(within([100.0, 110.0, 120.0], [129.0, 150.0, 160.0], 10.0));
        assert!(within([140.0, 150.0, 160.0], [100.0, 110.0, 131.0], 10.0));
        assert!(within([100.0, 200.0, 300.0], [150.0, 150.0, 150.0], 0.0));
    }

    #[test]
    fn two_uniforms_quantiles_match_a_fine_grid() {
        for &(a, b) in &[(0.0, 100.0), (20.0, 100.0), (100.0, 20.0), (100.0, 100.0)] {
            // Exact CDF on a fine grid of (x, y) pairs.
            let n = 1000;
            let mut sums: Vec<f64> = Vec::with_capacity(n * n);
            for i in 0..n {
                for j in 0..n {
                    let x = a * (i as f64 + 0.5) / n as f64;
                    let y = b * (j as f64 + 0.5) / n as f64;
                    sums.push(x + y);
                }
            }
            sums.sort_by(f64::total_cmp);
            for p in [0.05, 0.5, 0.95, 0.99] {
                let exact = sums[(p * (n * n) as f64) as usize];
                let got = two_uniform_quantile(a, b, p);
                assert!(
                    (exact - got).abs() < 0.3,
                    "a={a} b={b} p={p}: {exact} vs {got}"
                );
            }
        }
    }

    #[test]
    fn majority_of_five_waits_for_the_second_nearest_standby() {
        let t = crate::World::five().topology;
        let geo = Geometry {
            topology: &t,
            leader: RegionId(0),
        };
        assert_eq!(geo.rtt_kth_ms(1), 74.0);
        assert_eq!(geo.rtt_kth_ms(2), 92.0);
        assert_eq!(geo.rtt_kth_ms(0), 0.0);
    }

    #[test]
    fn data_age_is_zero_without_writes_and_bounded_by_the_lag() {
        let t = Topology::kata_with_jp();
        let geo = Geometry {
            topology: &t,
            leader: RegionId(0),
        };
        let f = Fitted {
            overhead_ms: 0.0,
            commit_ms: Q3::default(),
            apply_base_ms: 1.0,
            apply_jitter_ms: 0.0,
            heartbeat_ms: 100.0,
            heartbeat_offset_ms: 0.0,
            fsync_probe_ms: 0.1,
        };
        let us = RegionId(1);
        // Charges 10 s apart: almost never one in the last 91 ms.
        let idle = Writers {
            commit_ms: vec![10_000.0],
            think_ms: 1.0,
            accounts: 1,
        };
        assert_eq!(predict_data_age(&geo, &f, us, &idle).p95, 0.0);
        // A charge every ~1 ms: always one just over 91 ms old.
        let busy = Writers {
            commit_ms: vec![0.5],
            think_ms: 0.5,
            accounts: 1,
        };
        let q = predict_data_age(&geo, &f, us, &busy);
        assert!(q.p50 > 88.0 && q.p99 <= 91.1, "{q:?}");
        assert_eq!(q, predict_data_age(&geo, &f, us, &busy), "deterministic");
    }

    #[test]
    fn fit_apply_recovers_a_known_law() {
        let t = Topology::kata_with_jp();
        let geo = Geometry {
            topology: &t,
            leader: RegionId(0),
        };
        let (base, o) = (1.0, 0.05);
        // A long tail above the median changes nothing.
        let replay: Vec<Q3> = geo
            .standbys()
            .iter()
            .map(|r| Q3::from_fn(|q| 2.0 * geo.one_way_ms(*r) + 2.0 * o + base + (q - 0.5) * 80.0))
            .collect();
        let (b, j) = fit_apply(&geo, &replay, o);
        assert!((b - base).abs() < 1e-9 && j == 0.0, "{b} {j}");
    }
}
