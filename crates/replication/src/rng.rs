//! Named random sub-streams derived from one master seed.
//!
//! Every component that draws randomness (each follower's lag, the network,
//! the arrivals of each client site, the workload) owns a generator derived
//! from `(master seed, label, index)`. Two runs with the same seed therefore see
//! the same lag and network draws whatever else differs between them — the
//! *common random numbers* that make a comparison of two read strategies a
//! comparison of strategies rather than of luck.

use rand::{Rng as _, RngCore};
use rand_pcg::Pcg64Mcg;

/// The generator every component uses: small, fast, and statistically sound.
pub type Rng = Pcg64Mcg;

/// SplitMix64's finaliser: a bijective mixer with good avalanche.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The generator for component `label` number `index` under `master`.
///
/// Labels are short fixed strings (`"lag"`, `"net"`, `"arrivals"`, ...);
/// the index distinguishes instances (a region, a site).
pub fn substream(master: u64, label: &str, index: u64) -> Rng {
    // FNV-1a over the label: stable across platforms and Rust versions.
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in label.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01B3);
    }
    let a = mix(master ^ mix(h ^ mix(index)));
    let b = mix(a ^ 0x5851_F42D_4C95_7F2D);
    Pcg64Mcg::new(((a as u128) << 64) | (b as u128 | 1))
}

/// A seed derived from `(master, label, index)`: the first draw of that
/// sub-stream, for a component that is itself a tree of sub-streams (a
/// chunk of a cell, a shard).
pub fn derive_seed(master: u64, label: &str, index: u64) -> u64 {
    substream(master, label, index).next_u64()
}

/// A uniform integer in `[0, bound)` (0 when `bound` is 0), by Lemire's
/// multiply-shift; the bias is below 2^-64 · bound, far under anything a
/// simulation of a few billion draws could detect.
#[inline]
pub fn below(rng: &mut Rng, bound: u64) -> u64 {
    ((rng.next_u64() as u128 * bound as u128) >> 64) as u64
}

/// A uniform float in `[0, 1)` with 53 bits of precision.
#[inline]
pub fn unit(rng: &mut Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// An exponential draw with the given mean.
///
/// Uses `rand_distr`'s ziggurat sampler: about a fifth of the cost of the
/// inverse transform (a logarithm per draw), which matters because every
/// simulated request draws one inter-arrival gap.
#[inline]
pub fn exponential(rng: &mut Rng, mean: f64) -> f64 {
    rng.sample::<f64, _>(rand_distr::Exp1) * mean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let draw = |label, i| {
            let mut r = substream(42, label, i);
            (0..4).map(|_| r.next_u64()).collect::<Vec<_>>()
        };
        assert_eq!(draw("lag", 0), draw("lag", 0));
        assert_ne!(draw("lag", 0), draw("lag", 1));
        assert_ne!(draw("lag", 0), draw("net", 0));
        let mut other = substream(43, "lag", 0);
        assert_ne!(draw("lag", 0)[0], other.next_u64());
    }

    #[test]
    fn uniform_helpers_stay_in_range_and_are_unbiased() {
        let mut r = substream(7, "test", 0);
        let n = 200_000;
        let mut sum = 0u64;
        for _ in 0..n {
            let x = below(&mut r, 10);
            assert!(x < 10);
            sum += x;
            let u = unit(&mut r);
            assert!((0.0..1.0).contains(&u));
        }
        // Mean of U{0..9} is 4.5 with standard error 2.87/sqrt(n) ≈ 0.0064.
        let mean = sum as f64 / n as f64;
        assert!((mean - 4.5).abs() < 0.03, "mean {mean}");
        assert_eq!(below(&mut r, 0), 0);
    }

    #[test]
    fn exponential_has_the_right_mean() {
        let mut r = substream(9, "test", 0);
        let n = 200_000;
        let mean = (0..n).map(|_| exponential(&mut r, 3.0)).sum::<f64>() / n as f64;
        // Standard error of the mean is 3/sqrt(n) ≈ 0.0067.
        assert!((mean - 3.0).abs() < 0.03, "mean {mean}");
    }
}
