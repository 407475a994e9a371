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

    /// One draw. Always consumes two random numbers (the branch, then the
    /// draw), so streams stay aligned across models: common random numbers.
    #[inline]
    pub fn draw(&self, rng: &mut Rng) -> f64 {
        let u = unit(rng);
        // Pareto by inversion: xm / U^(1/alpha) = xm · exp(E / alpha), E ~ Exp(1).
        let e = exponential(rng, 1.0);
        if u < self.pareto_p {
            self.xm * (e / self.alpha).exp()
        } else {
            e * self.exp_mean
        }
    }
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
