//! Closed-form checks: the simulated distributions against their exact laws.
//!
//! Nothing here reuses the crates' code to compute an expectation: every
//! expected value is derived from the model's definition, and every tolerance
//! from the sampling error of the estimate (5 standard deviations) plus the
//! histogram's 0.1 % precision.

use engine::{run_cell, Cell, CellResult, SimConfig};
use replication::{EpisodicLag, LagModel, Normal};
use routing::ReadStrategy;
use topology::{ms, Micros};

fn run(cfg: &SimConfig, site: &str, strategy: ReadStrategy, seed: u64, n: u64) -> CellResult {
    let site = cfg.topology.site(site).expect("site exists");
    run_cell(cfg, seed, n, Cell { site, strategy }, &|_| {})
}

/// The kata's iid lag law, in ms: `150 + U[0,200)` with probability `1 - P`,
/// and `150 + U[0,200) + 4000 + U[0,4000)` with probability `P`.
const P: f64 = 0.02;
const BASE: f64 = 150.0;
const JIT: f64 = 200.0; // a: width of the normal uniform
const SPIKE_BASE: f64 = 4000.0;
const SPIKE_JIT: f64 = 4000.0; // b: width of the spike's uniform

fn clamp01(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

/// CDF of `U[0,a) + U[0,b)` with `a <= b`: a trapezoid's integral.
fn trapezoid_cdf(y: f64, a: f64, b: f64) -> f64 {
    assert!(a <= b);
    if y <= 0.0 {
        0.0
    } else if y < a {
        y * y / (2.0 * a * b)
    } else if y < b {
        (y - a / 2.0) / b
    } else if y < a + b {
        1.0 - (a + b - y) * (a + b - y) / (2.0 * a * b)
    } else {
        1.0
    }
}

/// Density of `U[0,a) + U[0,b)` with `a <= b`.
fn trapezoid_pdf(y: f64, a: f64, b: f64) -> f64 {
    if y < 0.0 || y >= a + b {
        0.0
    } else if y < a {
        y / (a * b)
    } else if y < b {
        1.0 / b
    } else {
        (a + b - y) / (a * b)
    }
}

/// The lag's CDF: piecewise closed form.
fn lag_cdf(x: f64) -> f64 {
    (1.0 - P) * clamp01((x - BASE) / JIT) + P * trapezoid_cdf(x - BASE - SPIKE_BASE, JIT, SPIKE_JIT)
}

fn lag_pdf(x: f64) -> f64 {
    let normal = if (BASE..BASE + JIT).contains(&x) {
        1.0 / JIT
    } else {
        0.0
    };
    (1.0 - P) * normal + P * trapezoid_pdf(x - BASE - SPIKE_BASE, JIT, SPIKE_JIT)
}

/// Staleness under `fallback` (threshold 2000 ms): every spike (> 4150 ms) is
/// re-read at the leader, so it becomes 0; normal lag is kept.
fn fallback_cdf(x: f64) -> f64 {
    if x < 0.0 {
        0.0
    } else {
        P + (1.0 - P) * clamp01((x - BASE) / JIT)
    }
}

fn fallback_pdf(x: f64) -> f64 {
    if (BASE..BASE + JIT).contains(&x) {
        (1.0 - P) / JIT
    } else {
        0.0
    }
}

/// The smallest `x` with `cdf(x) >= q`, by bisection.
fn invert(cdf: impl Fn(f64) -> f64, q: f64, lo: f64, hi: f64) -> f64 {
    let (mut lo, mut hi) = (lo, hi);
    assert!(cdf(hi) >= q && cdf(lo) < q);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if cdf(mid) >= q {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

/// Checks an observed quantile (µs) against the exact one (ms): the sample
/// quantile's sd is `sqrt(q(1-q)/n) / f(x_q)`; allow 5 sd plus the
/// histogram's 0.1 % (it reports the top of a 3-significant-digit bucket)
/// plus 2 µs of integer rounding.
fn check_quantile(what: &str, observed_us: Micros, q: f64, exact_ms: f64, density: f64, n: u64) {
    assert!(density > 0.0, "{what}: zero density at the quantile");
    let sd = (q * (1.0 - q) / n as f64).sqrt() / density;
    let tol = 5.0 * sd + 0.001 * exact_ms + 0.002;
    let obs = observed_us as f64 / 1000.0;
    assert!(
        (obs - exact_ms).abs() <= tol,
        "{what}: observed p{} = {obs} ms, exact {exact_ms:.3} ms, tolerance {tol:.3} ms (sd {sd:.4})",
        q * 100.0
    );
}

const N: u64 = 1_000_000;

#[test]
fn iid_local_staleness_matches_the_exact_lag_quantiles() {
    let cfg = SimConfig::kata();
    let r = run(&cfg, "US", ReadStrategy::Local, 2024, N);
    assert_eq!(r.staleness.count(), N);

    // The closed forms the brief quotes, as a check of the CDF above.
    let p95 = invert(lag_cdf, 0.95, 0.0, 9000.0);
    assert!((p95 - (150.0 + 200.0 * 0.95 / 0.98)).abs() < 1e-6, "{p95}");
    let p99 = invert(lag_cdf, 0.99, 0.0, 9000.0);
    assert!((p99 - 6250.0).abs() < 1e-6, "{p99}");

    for q in [0.5, 0.95, 0.99, 0.999] {
        let exact = invert(lag_cdf, q, 0.0, 9000.0);
        check_quantile(
            "iid US/local staleness",
            r.staleness.value_at_quantile(q),
            q,
            exact,
            lag_pdf(exact),
            N,
        );
    }
    // Support: 150 ms <= lag < 150 + 200 + 4000 + 4000 ms.
    let s = r.staleness.summary();
    assert!(s.max <= 8350.0 * 1.001, "{s:?}");
    assert!(
        r.staleness.value_at_quantile(0.0) as f64 >= 150_000.0 * 0.999,
        "{s:?}"
    );
}

#[test]
fn iid_fallback_staleness_is_the_lag_with_spikes_replaced_by_zero() {
    let cfg = SimConfig::kata();
    assert_eq!(cfg.read.fallback_threshold, ms(2000.0));
    let r = run(&cfg, "US", ReadStrategy::Fallback, 2024, N);

    let closed = 150.0 + 200.0 * (0.99 - 0.02) / 0.98;
    let p99 = invert(fallback_cdf, 0.99, -1.0, 400.0);
    assert!((p99 - closed).abs() < 1e-6, "{p99} vs {closed}");
    for q in [0.5, 0.95, 0.99, 0.999] {
        let exact = invert(fallback_cdf, q, -1.0, 400.0);
        check_quantile(
            "iid US/fallback staleness",
            r.staleness.value_at_quantile(q),
            q,
            exact,
            fallback_pdf(exact),
            N,
        );
    }
    // The bottom 2 % are the leader's answers (staleness 0), the rest normal
    // lag: p1 is 0, p3 is already above the base lag.
    assert_eq!(r.staleness.value_at_quantile(0.01), 0);
    assert!(r.staleness.value_at_quantile(0.03) >= ms(150.0) * 999 / 1000);
    assert!(r.staleness.value_at_quantile(1.0) <= ms(350.0) * 1001 / 1000);
}

#[test]
fn iid_spike_frequency_is_two_percent() {
    let cfg = SimConfig::kata();
    assert_eq!(cfg.read.max_staleness, ms(2000.0));
    let r = run(&cfg, "US", ReadStrategy::Local, 7, N);
    // Every spike exceeds 4150 ms and no normal lag reaches 350 ms, so the
    // reads over 2000 ms are exactly the spikes.
    let share = r.over_bound_reads as f64 / N as f64;
    let sd = (P * (1.0 - P) / N as f64).sqrt();
    assert!(
        (share - P).abs() <= 5.0 * sd,
        "share over 2 s = {share}, expected {P} ± {}",
        5.0 * sd
    );
    // The histogram agrees with the counter (2000 ms is far from any value).
    assert_eq!(
        N - r.staleness.count_at_most(ms(2000.0)),
        r.over_bound_reads
    );
}

/// Renewal-reward for the episodic model with a fixed stall `D`: a cycle is a
/// stall (`D`), a drain (`D / (c-1)`) and an exponential quiet gap (mean `g`).
/// The excess exceeds `x` for `D - x` of the stall and `(D - x)/(c-1)` of the
/// drain, so the long-run share of time with excess > `x` is
/// `(D-x)+ · c/(c-1) / (D · c/(c-1) + g)`. Poisson arrivals see time averages
/// (PASTA), so that is also the share of reads with staleness > `x`.
#[test]
fn episodic_share_of_stale_reads_matches_renewal_reward() {
    let d = 5.0; // s, fixed stall
    let c = 3.0; // catch-up speed
    let g = 10.0; // s, mean quiet gap
    let rate = 10.0; // requests per simulated second
    let n: u64 = 2_000_000;
    let cfg = SimConfig {
        lag: LagModel::Episodic(EpisodicLag {
            normal: Normal { base: 0, jitter: 0 },
            mean_gap: ms(g * 1000.0),
            stall_min: ms(d * 1000.0),
            stall_max: ms(d * 1000.0),
            catch_up: c,
        }),
        arrival_rate: rate,
        ..SimConfig::kata()
    };
    cfg.validate().unwrap();
    let r = run(&cfg, "US", ReadStrategy::Local, 31, n);

    // Simulated time is n / rate (Poisson arrivals), within a few sd (sqrt(n)/rate).
    let t = r.simulated as f64 / 1e6;
    let t_expected = n as f64 / rate;
    assert!(
        (t - t_expected).abs() < 5.0 * (n as f64).sqrt() / rate,
        "simulated {t} s"
    );

    // The US follower's lag is the SG->US one-way delay (half of 180 ms)
    // plus the excess: the law is read above that floor.
    let one_way = 90.0;
    let k = d * c / (c - 1.0); // episode length
    let cycles = t / (k + g); // effective sample size, about 11,400
    for x in [0.0, 1.0, 2.5, 4.0] {
        let expected = (d - x).max(0.0) * c / (c - 1.0) / (k + g);
        // Whole buckets (64 to 512 µs wide here): an error of about
        // density × width ≈ 4e-5, far below the tolerance.
        let over = n - r.staleness.count_at_most(ms(one_way + x * 1000.0));
        let share = over as f64 / n as f64;
        // Renewal-reward CLT: the reward per cycle is fixed, so the only
        // cycle-to-cycle noise is the gap: relative sd g / ((k+g) sqrt(cycles)).
        let sd_renewal = expected * g / ((k + g) * cycles.sqrt());
        // Sampling the path with n Poisson points.
        let sd_sampling = (expected * (1.0 - expected) / n as f64).sqrt();
        let sd = (sd_renewal.powi(2) + sd_sampling.powi(2)).sqrt();
        assert!(
            (share - expected).abs() <= 5.0 * sd + 1e-4,
            "x = {x} s: share {share:.5}, renewal-reward {expected:.5}, 5 sd = {:.5}",
            5.0 * sd
        );
    }
    // Nothing exceeds the stall itself, nothing is below the distance.
    assert!(r.staleness.value_at_quantile(1.0) <= ms(one_way + d * 1000.0) * 1001 / 1000);
    assert_eq!(r.staleness.count_at_most(ms(one_way) * 998 / 1000), 0);
}
