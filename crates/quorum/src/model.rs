//! The WARS legs, the presets of the PBS paper, and models built from a
//! topology's RTTs.

use replication::rng::{exponential, unit, Rng};
use topology::{to_ms, RegionId, Topology};

use crate::QuorumError;

/// The largest N any model holds: per-trial state lives in fixed arrays of
/// this size on the stack.
pub const MAX_N: usize = 16;

/// Replicas one region holds in a topology model (one per availability zone).
pub const PER_REGION: usize = 3;

/// One leg's delay: with probability `pareto_p` a Pareto(`xm`, `alpha`)
/// draw, otherwise an exponential draw of mean `exp_mean` ms (0: no delay).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dist {
    /// Probability of the Pareto branch.
    pub pareto_p: f64,
    /// Pareto scale (ms).
    pub xm: f64,
    /// Pareto shape.
    pub alpha: f64,
    /// Mean of the exponential branch (ms): 1 / lambda.
    pub exp_mean: f64,
}

impl Dist {
    /// A PBS Table 3 mixture: `p` Pareto(`xm`, `alpha`), else exponential of rate `lambda` per ms.
    pub const fn mixture(p: f64, xm: f64, alpha: f64, lambda: f64) -> Dist {
        Dist {
            pareto_p: p,
            xm,
            alpha,
            exp_mean: 1.0 / lambda,
        }
    }

    /// A plain exponential of rate `lambda` per ms.
    pub const fn exp(lambda: f64) -> Dist {
        Dist::mixture(0.0, 0.0, 1.0, lambda)
    }

    /// No delay at all.
    pub const ZERO: Dist = Dist {
        pareto_p: 0.0,
        xm: 0.0,
        alpha: 1.0,
        exp_mean: 0.0,
    };

    /// Whether a draw has no atom: every branch that can be taken is a
    /// continuous distribution (a positive exponential mean; a positive
    /// Pareto scale with a finite positive shape).
    pub fn is_continuous(&self) -> bool {
        let exp_ok = self.exp_mean > 0.0;
        let par_ok = self.xm > 0.0 && self.alpha > 0.0 && self.alpha.is_finite();
        if self.pareto_p <= 0.0 {
            exp_ok
        } else if self.pareto_p >= 1.0 {
            par_ok
        } else {
            exp_ok && par_ok
        }
    }

    /// One draw. Always consumes two random numbers (the branch, then the
    /// draw), so streams stay aligned across models: common random numbers.
    #[inline(always)]
    pub fn draw(&self, rng: &mut Rng) -> f64 {
        let u = unit(rng);
        // Pareto by inversion: xm / U^(1/alpha) = xm · exp(E / alpha), E ~ Exp(1).
        let e = exponential(rng, 1.0);
        if u < self.pareto_p {
            self.xm * exp(e / self.alpha)
        } else {
            e * self.exp_mean
        }
    }
}

/// `2^(j/64)` for j = 0..64, each the nearest f64 (computed to 60 digits).
const EXP2_64: [u64; 64] = [
    0x3ff0000000000000,
    0x3ff02c9a3e778061,
    0x3ff059b0d3158574,
    0x3ff0874518759bc8,
    0x3ff0b5586cf9890f,
    0x3ff0e3ec32d3d1a2,
    0x3ff11301d0125b51,
    0x3ff1429aaea92de0,
    0x3ff172b83c7d517b,
    0x3ff1a35beb6fcb75,
    0x3ff1d4873168b9aa,
    0x3ff2063b88628cd6,
    0x3ff2387a6e756238,
    0x3ff26b4565e27cdd,
    0x3ff29e9df51fdee1,
    0x3ff2d285a6e4030b,
    0x3ff306fe0a31b715,
    0x3ff33c08b26416ff,
    0x3ff371a7373aa9cb,
    0x3ff3a7db34e59ff7,
    0x3ff3dea64c123422,
    0x3ff4160a21f72e2a,
    0x3ff44e086061892d,
    0x3ff486a2b5c13cd0,
    0x3ff4bfdad5362a27,
    0x3ff4f9b2769d2ca7,
    0x3ff5342b569d4f82,
    0x3ff56f4736b527da,
    0x3ff5ab07dd485429,
    0x3ff5e76f15ad2148,
    0x3ff6247eb03a5585,
    0x3ff6623882552225,
    0x3ff6a09e667f3bcd,
    0x3ff6dfb23c651a2f,
    0x3ff71f75e8ec5f74,
    0x3ff75feb564267c9,
    0x3ff7a11473eb0187,
    0x3ff7e2f336cf4e62,
    0x3ff82589994cce13,
    0x3ff868d99b4492ed,
    0x3ff8ace5422aa0db,
    0x3ff8f1ae99157736,
    0x3ff93737b0cdc5e5,
    0x3ff97d829fde4e50,
    0x3ff9c49182a3f090,
    0x3ffa0c667b5de565,
    0x3ffa5503b23e255d,
    0x3ffa9e6b5579fdbf,
    0x3ffae89f995ad3ad,
    0x3ffb33a2b84f15fb,
    0x3ffb7f76f2fb5e47,
    0x3ffbcc1e904bc1d2,
    0x3ffc199bdd85529c,
    0x3ffc67f12e57d14b,
    0x3ffcb720dcef9069,
    0x3ffd072d4a07897c,
    0x3ffd5818dcfba487,
    0x3ffda9e603db3285,
    0x3ffdfc97337b9b5f,
    0x3ffe502ee78b3ff6,
    0x3ffea4afa2a490da,
    0x3ffefa1bee615a27,
    0x3fff50765b6e4540,
    0x3fffa7c1819e90d8,
];

/// `e^x`, in plain arithmetic: `2^(k/64) · e^r` with `k` the nearest integer
/// to `64·x/ln 2`, `|r| ≤ ln 2/128`, and a degree-5 polynomial for `e^r`
/// (truncation error under 4·10^-17; within about 1 ulp of the exact value).
///
/// Why not `f64::exp`: it is a call into the platform's libm, which was 42 %
/// of a `kata86 pbs` run (the Pareto branch of every leg needs one); this
/// inlines to a dozen multiply-adds and a table load, and gives the same bits
/// on every machine whatever its libm. Outside ±700 (never reached by a leg:
/// `x` is an Exp(1) draw over alpha ≥ 1) it falls back to `f64::exp`.
#[inline]
pub(crate) fn exp(x: f64) -> f64 {
    if !(x > -700.0 && x < 700.0) {
        return x.exp();
    }
    // 1.5 · 2^52: adding it rounds to the nearest integer (ties to even),
    // left in the low bits of the sum.
    const SHIFT: f64 = 6_755_399_441_055_744.0;
    let inv = f64::from_bits(0x4057_1547_652b_82fe); // 64 / ln 2
    let hi = f64::from_bits(0x3f86_2e42_0000_0000); // ln 2 / 64, 21 bits: k · hi is exact
    let lo = f64::from_bits(0x3e3f_df47_3de6_af28); // ln 2 / 64 − hi
    let z = x * inv + SHIFT;
    let k = z.to_bits() as i64 - SHIFT.to_bits() as i64;
    let kd = z - SHIFT;
    let r = (x - kd * hi) - kd * lo;
    let j = (k & 63) as usize;
    let e = k >> 6;
    let scale = f64::from_bits(EXP2_64[j].wrapping_add((e as u64) << 52));
    let r2 = r * r;
    let p = r + r2 * (0.5 + r * (1.0 / 6.0)) + (r2 * r2) * (1.0 / 24.0 + r * (1.0 / 120.0));
    scale + scale * p
}

/// The four legs of WARS.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Legs {
    /// Write request to a replica.
    pub w: Dist,
    /// Its acknowledgement.
    pub a: Dist,
    /// Read request to a replica.
    pub r: Dist,
    /// Its response.
    pub s: Dist,
}

impl Legs {
    /// All four legs alike.
    pub const fn all(d: Dist) -> Legs {
        Legs {
            w: d,
            a: d,
            r: d,
            s: d,
        }
    }
}

/// LNKD-SSD (PBS Table 3): every leg.
pub const LNKD_SSD: Dist = Dist::mixture(0.9122, 0.235, 10.0, 1.66);
/// LNKD-DISK's write leg (PBS Table 3); its other legs are LNKD-SSD's.
pub const LNKD_DISK_W: Dist = Dist::mixture(0.38, 1.05, 1.51, 0.183);
/// YMMR's write leg (PBS Table 3).
pub const YMMR_W: Dist = Dist::mixture(0.939, 3.0, 3.35, 0.0028);
/// YMMR's A, R and S legs (PBS Table 3).
pub const YMMR_ARS: Dist = Dist::mixture(0.982, 1.5, 3.8, 0.0217);
/// WAN: one-way delay added between datacenters (PBS §5).
pub const WAN_ONE_WAY_MS: f64 = 75.0;

/// The presets, by name, for help and error messages.
pub const PRESETS: [&str; 4] = ["lnkd-ssd", "lnkd-disk", "ymmr", "wan"];

/// A WARS model: leg distributions plus fixed one-way delays that depend on
/// where the writing and reading clients sit.
///
/// Each trial picks the writer's site and the reader's site uniformly from
/// `sites` (independently); replica `i` then adds `offset[site][i]` ms to the
/// W and A legs (writer's site) or to the R and S legs (reader's site).
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// The name reports print (`lnkd-ssd`, `kata`, a scenario's name).
    pub name: String,
    /// The leg distributions.
    pub legs: Legs,
    /// One-way delay in ms, `[site][replica]`; every row as long as `capacity`.
    pub offsets: Vec<Vec<f64>>,
}

impl Model {
    /// A single-datacenter model: `capacity` replicas, no fixed delays.
    fn local(name: &str, legs: Legs) -> Model {
        Model {
            name: name.to_string(),
            legs,
            offsets: vec![vec![0.0; MAX_N]],
        }
    }

    /// The named preset of the PBS paper (PVLDB 5(8), 2012, Table 3).
    pub fn preset(name: &str) -> Result<Model, QuorumError> {
        let disk = Legs {
            w: LNKD_DISK_W,
            ..Legs::all(LNKD_SSD)
        };
        Ok(match name {
            "lnkd-ssd" => Model::local(name, Legs::all(LNKD_SSD)),
            "lnkd-disk" => Model::local(name, disk),
            "ymmr" => Model::local(
                name,
                Legs {
                    w: YMMR_W,
                    ..Legs::all(YMMR_ARS)
                },
            ),
            // Three datacenters, one replica each; a client in one of them.
            "wan" => Model {
                name: name.to_string(),
                legs: disk,
                offsets: (0..3)
                    .map(|site| {
                        (0..3)
                            .map(|rep| if rep == site { 0.0 } else { WAN_ONE_WAY_MS })
                            .collect()
                    })
                    .collect(),
            },
            _ => {
                return Err(QuorumError::UnknownPreset {
                    name: name.to_string(),
                    choices: PRESETS.join(", "),
                })
            }
        })
    }

    /// A model over a topology: replica `i` sits in region `placement[i]`;
    /// the writer and the reader are clients at the topology's sites, each
    /// drawn uniformly per trial. Each leg is half the RTT between the client's
    /// site and the replica's region plus an LNKD-SSD draw (the paper's
    /// in-datacenter network and service time), so N = `placement.len()`.
    pub fn topology(
        name: &str,
        topo: &Topology,
        placement: &[RegionId],
    ) -> Result<Model, QuorumError> {
        if placement.len() > MAX_N {
            return Err(QuorumError::TooManyReplicas {
                n: placement.len(),
                max: MAX_N,
                model: name.to_string(),
            });
        }
        for r in topo.region_ids() {
            let held = placement.iter().filter(|&&p| p == r).count();
            if held > PER_REGION {
                return Err(QuorumError::RegionFull {
                    region: topo.region_name(r).to_string(),
                    held,
                    max: PER_REGION,
                });
            }
        }
        let offsets = topo
            .site_ids()
            .map(|s| {
                placement
                    .iter()
                    .map(|&p| to_ms(topo.rtt_site(s, p)) / 2.0)
                    .collect()
            })
            .collect();
        Ok(Model {
            name: name.to_string(),
            legs: Legs::all(LNKD_SSD),
            offsets,
        })
    }

    /// The most replicas this model holds.
    pub fn capacity(&self) -> usize {
        self.offsets.first().map_or(0, Vec::len)
    }

    /// Client sites the writer and reader are drawn from.
    pub fn sites(&self) -> usize {
        self.offsets.len()
    }
}

/// Round-robin placement of `n` replicas over the topology's regions, in the
/// topology's order starting from `leader`'s region: SG, US, JP, SG, ...
/// A topology holds 1 to [`PER_REGION`] × regions replicas.
pub fn round_robin(
    topo: &Topology,
    leader: RegionId,
    n: usize,
) -> Result<Vec<RegionId>, QuorumError> {
    let k = topo.region_count();
    let max = (PER_REGION * k).min(MAX_N);
    if n == 0 || n > max {
        return Err(QuorumError::TooManyReplicas {
            n,
            max,
            model: format!("{k} regions of {PER_REGION} replicas each"),
        });
    }
    Ok((0..n)
        .map(|i| RegionId(((leader.idx() + i) % k) as u8))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        let ulp = |a: f64, b: f64| (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs();
        let mut worst = 0;
        for i in -200_000..=200_000 {
            let x = i as f64 * 0.003_456_789;
            worst = worst.max(ulp(exp(x), x.exp()));
        }
        for x in [0.0, 1e-300, -1e-300, 1.0, -1.0, 0.5, 699.9, -699.9] {
            worst = worst.max(ulp(exp(x), x.exp()));
        }
        assert!(worst <= 2, "{worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(800.0), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
    }
}
