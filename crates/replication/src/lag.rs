//! Follower lag as a process over simulated time.

use crate::rng::{below, exponential, Rng};
use crate::ReplicationError;
use rand::RngCore;
use topology::{ms, Micros};

/// Lag in normal operation: `base + U[0, jitter)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normal {
    /// Fixed part (shipping, apply): 150 ms by default.
    pub base: Micros,
    /// Width of the uniform extra: 200 ms by default.
    pub jitter: Micros,
}

impl Default for Normal {
    fn default() -> Self {
        Normal {
            base: ms(150.0),
            jitter: ms(200.0),
        }
    }
}

/// The kata's model: every observation independent. With probability
/// `spike_prob` the observation is a spike and gets an extra
/// `spike_base + U[0, spike_jitter)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IidLag {
    /// Lag outside spikes.
    pub normal: Normal,
    /// Probability that one observation is a spike (default 0.02).
    pub spike_prob: f64,
    /// Fixed extra of a spike (default 4000 ms).
    pub spike_base: Micros,
    /// Width of a spike's uniform extra (default 4000 ms).
    pub spike_jitter: Micros,
}

impl Default for IidLag {
    fn default() -> Self {
        IidLag {
            normal: Normal::default(),
            spike_prob: 0.02,
            spike_base: ms(4000.0),
            spike_jitter: ms(4000.0),
        }
    }
}

/// Spikes as episodes. Between episodes the lag is [`Normal`]. Episodes start
/// after an exponential quiet gap (mean `mean_gap`, counted from the end of the
/// previous episode). During an episode replication *stalls* for a duration
/// `D ~ U[stall_min, stall_max]`, so the lag grows one-for-one with time; then
/// the follower *drains* its backlog, applying `catch_up` seconds of log per
/// second, so the excess falls at `catch_up − 1` per second and the drain
/// lasts `D / (catch_up − 1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpisodicLag {
    /// Lag outside episodes (and added on top of the excess inside one).
    pub normal: Normal,
    /// Mean quiet time between episodes (default 180 s).
    pub mean_gap: Micros,
    /// Shortest stall (default 2 s).
    pub stall_min: Micros,
    /// Longest stall (default 8 s).
    pub stall_max: Micros,
    /// Apply speed while draining, in log-seconds per second; > 1 (default 3).
    pub catch_up: f64,
}

impl Default for EpisodicLag {
    fn default() -> Self {
        EpisodicLag {
            normal: Normal::default(),
            mean_gap: ms(180_000.0),
            stall_min: ms(2_000.0),
            stall_max: ms(8_000.0),
            catch_up: 3.0,
        }
    }
}

/// Which lag process followers follow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LagModel {
    /// Independent observations (the kata's model).
    Iid(IidLag),
    /// Spikes as episodes that last seconds.
    Episodic(EpisodicLag),
}

impl LagModel {
    /// The model's short name, as the CLI spells it.
    pub fn name(&self) -> &'static str {
        match self {
            LagModel::Iid(_) => "iid",
            LagModel::Episodic(_) => "episodic",
        }
    }

    /// Checks every parameter; the simulator only accepts validated models.
    pub fn validate(&self) -> Result<(), ReplicationError> {
        match self {
            LagModel::Iid(m) => {
                if !(0.0..=1.0).contains(&m.spike_prob) {
                    return Err(ReplicationError::BadParameter {
                        name: "spike_prob",
                        reason: format!("{} is not a probability in [0, 1]", m.spike_prob),
                    });
                }
            }
            LagModel::Episodic(m) => {
                if m.mean_gap == 0 {
                    return Err(ReplicationError::BadParameter {
                        name: "mean_gap",
                        reason: "must be > 0".into(),
                    });
                }
                if m.stall_max < m.stall_min {
                    return Err(ReplicationError::BadParameter {
                        name: "stall_max",
                        reason: format!(
                            "{} ms is below stall_min {} ms",
                            topology::to_ms(m.stall_max),
                            topology::to_ms(m.stall_min)
                        ),
                    });
                }
                if !(m.catch_up.is_finite() && m.catch_up > 1.0) {
                    return Err(ReplicationError::BadParameter {
                        name: "catch_up",
                        reason: format!(
                            "{} must be > 1, or a follower never drains its backlog",
                            m.catch_up
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}

/// One follower's lag over time, with its own random stream.
///
/// [`lag_at`](Self::lag_at) must be called with non-decreasing times; each call
/// is one observation (in the `iid` model each observation is independent).
#[derive(Debug, Clone)]
pub struct LagProcess {
    model: LagModel,
    rng: Rng,
    /// Current (or last) episode: onset, end of stall, end of drain.
    onset: Micros,
    stall_end: Micros,
    drain_end: Micros,
    next_onset: Micros,
    /// `iid`: spike when the low 32 bits of a draw fall below this.
    spike_threshold: u64,
}

impl LagProcess {
    /// A process for a validated model drawing from `rng`.
    pub fn new(model: LagModel, mut rng: Rng) -> LagProcess {
        let next_onset = match model {
            LagModel::Episodic(m) => exponential(&mut rng, m.mean_gap as f64) as Micros,
            LagModel::Iid(_) => Micros::MAX,
        };
        let spike_threshold = match model {
            LagModel::Iid(m) => (m.spike_prob * (1u64 << 32) as f64) as u64,
            LagModel::Episodic(_) => 0,
        };
        LagProcess {
            model,
            rng,
            spike_threshold,
            onset: 0,
            stall_end: 0,
            drain_end: 0,
            next_onset,
        }
    }

    /// The follower's lag (how far its watermark trails true time) at time `t`.
    #[inline]
    pub fn lag_at(&mut self, t: Micros) -> Micros {
        match &self.model {
            LagModel::Iid(m) => {
                // One 64-bit draw serves two 32-bit uniforms: the high half
                // places the jitter, the low half decides the spike. 32 bits
                // resolve the 200 ms jitter to far below a microsecond and
                // the spike probability to 2^-32.
                let x = self.rng.next_u64();
                let jitter = ((x >> 32) * m.normal.jitter) >> 32;
                let mut lag = m.normal.base + jitter;
                if (x as u32 as u64) < self.spike_threshold {
                    lag += m.spike_base + below(&mut self.rng, m.spike_jitter);
                }
                lag
            }
            LagModel::Episodic(m) => {
                let m = *m;
                while t >= self.next_onset {
                    self.start_episode(&m);
                }
                m.normal.base + below(&mut self.rng, m.normal.jitter) + self.excess_at(t, &m)
            }
        }
    }

    fn start_episode(&mut self, m: &EpisodicLag) {
        let stall = m.stall_min + below(&mut self.rng, m.stall_max - m.stall_min + 1);
        self.onset = self.next_onset;
        self.stall_end = self.onset + stall;
        self.drain_end = self.stall_end + (stall as f64 / (m.catch_up - 1.0)) as Micros;
        self.next_onset = self.drain_end + exponential(&mut self.rng, m.mean_gap as f64) as Micros;
    }

    /// Backlog on top of normal lag at `t`, for the current episode.
    fn excess_at(&self, t: Micros, m: &EpisodicLag) -> Micros {
        if t < self.onset || t >= self.drain_end {
            0
        } else if t < self.stall_end {
            t - self.onset
        } else {
            let stall = (self.stall_end - self.onset) as f64;
            let drained = (t - self.stall_end) as f64 * (m.catch_up - 1.0);
            (stall - drained).max(0.0) as Micros
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::substream;

    #[test]
    fn iid_stays_within_its_support() {
        let mut p = LagProcess::new(LagModel::Iid(IidLag::default()), substream(1, "lag", 0));
        let mut spikes = 0;
        let n = 100_000;
        for i in 0..n {
            let l = p.lag_at(i);
            let spike = l >= ms(4150.0);
            spikes += spike as u32;
            if spike {
                assert!(l < ms(150.0 + 200.0 + 4000.0 + 4000.0));
            } else {
                assert!((ms(150.0)..ms(350.0)).contains(&l), "{l}");
            }
        }
        // 2 % of 100 000 = 2000, binomial sd ≈ 44.
        assert!((1800..2200).contains(&spikes), "{spikes}");
    }

    #[test]
    fn an_episode_builds_up_then_drains_back_to_normal() {
        let m = EpisodicLag {
            normal: Normal { base: 0, jitter: 0 },
            stall_min: ms(4000.0),
            stall_max: ms(4000.0),
            ..EpisodicLag::default()
        };
        let mut p = LagProcess::new(LagModel::Episodic(m), substream(3, "lag", 0));
        let onset = p.next_onset;
        assert_eq!(p.lag_at(onset - 1), 0);
        assert_eq!(p.lag_at(onset + ms(1000.0)), ms(1000.0));
        assert_eq!(p.lag_at(onset + ms(4000.0)), ms(4000.0));
        // Drains at catch_up − 1 = 2 per second: 1 s into the drain, 2 s remain.
        assert_eq!(p.lag_at(onset + ms(5000.0)), ms(2000.0));
        assert_eq!(p.lag_at(onset + ms(6000.0)), 0);
    }

    #[test]
    fn bad_parameters_are_named() {
        let e = LagModel::Episodic(EpisodicLag {
            catch_up: 1.0,
            ..Default::default()
        })
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("catch_up"), "{e}");
        let e = LagModel::Iid(IidLag {
            spike_prob: 1.5,
            ..Default::default()
        })
        .validate()
        .unwrap_err();
        assert!(e.to_string().contains("spike_prob"), "{e}");
        assert!(LagModel::Iid(IidLag::default()).validate().is_ok());
        assert!(LagModel::Episodic(EpisodicLag::default())
            .validate()
            .is_ok());
    }
}
