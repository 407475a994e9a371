//! Follower lag as a process over simulated time.

use crate::rng::{below, exponential, Rng};
use crate::ReplicationError;
use rand::RngCore;
use topology::{ms, Micros};

/// Delay in normal operation on top of the link's one-way network delay:
/// `base + U[0, jitter)`, the follower's apply/queue component.
///
/// The network distance lives in the link ([`Link::one_way`](crate::Link)),
/// not here. The kata's SG↔US lag of "150 ms + U[0, 200)" is therefore a
/// one-way delay of 90 ms (half the 180 ms RTT) plus this default: 60 ms of
/// apply plus a uniform 0–200 ms queueing extra.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normal {
    /// Fixed apply/queue part, after receipt: 60 ms by default.
    pub base: Micros,
    /// Width of the uniform extra: 200 ms by default.
    pub jitter: Micros,
}

impl Default for Normal {
    fn default() -> Self {
        Normal {
            base: ms(60.0),
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

/// The largest apply lag an [`EmpiricalLag`] may hold: one hour, the
/// histograms' range.
pub const MAX_EMPIRICAL: Micros = 3_600_000_000;

/// Points of an [`EmpiricalLag`]: the quantiles 0, 0.01, ..., 1.
pub const EMPIRICAL_POINTS: usize = 101;

/// A measured apply-lag distribution (`kata86 sim --lag-from`, written by
/// `kata86 calibrate`): every observation independent, drawn by linear
/// interpolation between its percentiles. Apply lag only: the link's one-way
/// delay is added by the link, as for the other models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmpiricalLag {
    /// Apply lag at quantiles `i / 100`, `i = 0..=100`, non-decreasing.
    pub quantiles: [Micros; EMPIRICAL_POINTS],
}

impl EmpiricalLag {
    /// The nearest-rank percentiles of `samples` (µs); `None` when empty.
    pub fn from_samples(samples: &[Micros]) -> Option<EmpiricalLag> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let mut quantiles = [0; EMPIRICAL_POINTS];
        for (i, q) in quantiles.iter_mut().enumerate() {
            // Rank ceil(i/100 · n), at least 1.
            let rank = (i * n).div_ceil(100).max(1);
            *q = sorted[rank - 1];
        }
        Some(EmpiricalLag { quantiles })
    }

    /// One draw from a 64-bit uniform: the high 32 bits place it between
    /// two percentiles (integer arithmetic, the same on every platform).
    #[inline]
    fn draw(&self, x: u64) -> Micros {
        let pos = (x >> 32) * 100; // 32.32 fixed point in [0, 100)
        let i = (pos >> 32) as usize;
        let frac = pos & 0xFFFF_FFFF;
        let (lo, hi) = (self.quantiles[i], self.quantiles[i + 1]);
        lo + (((hi - lo) as u128 * frac as u128) >> 32) as Micros
    }
}

/// Which lag process followers follow.
// The empirical table (808 bytes) is copied with a configuration or into a
// follower's process, never per draw; boxing it would cost `Copy`, which
// every configuration type relies on.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LagModel {
    /// Independent observations (the kata's model).
    Iid(IidLag),
    /// Spikes as episodes that last seconds.
    Episodic(EpisodicLag),
    /// Independent observations from a measured distribution.
    Empirical(EmpiricalLag),
}

impl LagModel {
    /// The model's short name, as the CLI spells it.
    pub fn name(&self) -> &'static str {
        match self {
            LagModel::Iid(_) => "iid",
            LagModel::Episodic(_) => "episodic",
            LagModel::Empirical(_) => "empirical",
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
            LagModel::Empirical(m) => {
                if m.quantiles.windows(2).any(|w| w[1] < w[0]) {
                    return Err(ReplicationError::BadParameter {
                        name: "quantiles",
                        reason: "must not decrease".into(),
                    });
                }
                if m.quantiles[EMPIRICAL_POINTS - 1] > MAX_EMPIRICAL {
                    return Err(ReplicationError::BadParameter {
                        name: "quantiles",
                        reason: format!(
                            "{} ms is over the {} ms an apply lag may be",
                            topology::to_ms(m.quantiles[EMPIRICAL_POINTS - 1]),
                            topology::to_ms(MAX_EMPIRICAL)
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
/// Two ways to ask, and one process instance answers only one of them:
/// * [`lag_at`](Self::lag_at) — the lag a reader observes at a time, on top
///   of the link's one-way delay (the fast kata loop adds that itself);
/// * [`apply_delay`](Self::apply_delay) — the delay from receipt to
///   visibility of one item on the wire, for a
///   [`FollowerStream`](crate::FollowerStream).
///
/// Both draw the same random numbers in the same order and build the same
/// episodes, so a stream fed by `apply_delay` shows, between its heartbeats,
/// the same staleness law as `lag_at`. Calls must come with non-decreasing
/// times; each call is one observation (in the `iid` model each observation
/// is independent).
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
            LagModel::Iid(_) | LagModel::Empirical(_) => Micros::MAX,
        };
        let spike_threshold = match model {
            LagModel::Iid(m) => (m.spike_prob * (1u64 << 32) as f64) as u64,
            LagModel::Episodic(_) | LagModel::Empirical(_) => 0,
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
            LagModel::Empirical(m) => m.draw(self.rng.next_u64()),
        }
    }

    /// Delay from receipt to visibility for an item *sent* at `sent` (calls
    /// in non-decreasing `sent` order).
    ///
    /// * `iid`, `empirical`: the same draw as [`lag_at`](Self::lag_at).
    /// * `episodic`: `normal.base + U[0, normal.jitter)` plus the item's
    ///   share of the episode. With onset `O`, stall `D` (stall end
    ///   `S = O + D`), catch-up speed `k` and drain end `E = S + D/(k−1)`, an
    ///   item sent at `s` in `[O, E)` becomes visible at `S + (s − O)/k`: the
    ///   follower applies nothing during the stall, then replays the log at `k`
    ///   times real time. Items sent before `O` or from `E` on get no extra.
    ///   A reader at `t` then sees the staleness
    ///   `one_way + normal + excess(t − one_way − normal)`, where the excess
    ///   rises one-for-one during the stall and drains at `k − 1` per second,
    ///   exactly as in `lag_at`.
    pub fn apply_delay(&mut self, sent: Micros) -> Micros {
        match &self.model {
            LagModel::Iid(_) | LagModel::Empirical(_) => self.lag_at(sent),
            LagModel::Episodic(m) => {
                let m = *m;
                while sent >= self.next_onset {
                    self.start_episode(&m);
                }
                m.normal.base + below(&mut self.rng, m.normal.jitter) + self.episode_delay(sent, &m)
            }
        }
    }

    /// When the next episode (after the current one) starts; `Micros::MAX`
    /// for `iid`. Before the first observation this is the first onset.
    #[doc(hidden)]
    pub fn next_onset(&self) -> Micros {
        self.next_onset
    }

    fn start_episode(&mut self, m: &EpisodicLag) {
        let stall = m.stall_min + below(&mut self.rng, m.stall_max - m.stall_min + 1);
        self.onset = self.next_onset;
        self.stall_end = self.onset + stall;
        self.drain_end = self.stall_end + (stall as f64 / (m.catch_up - 1.0)) as Micros;
        self.next_onset = self.drain_end + exponential(&mut self.rng, m.mean_gap as f64) as Micros;
    }

    /// Extra delay of an item sent at `s` in the current episode: it becomes
    /// visible at `S + (s − O)/k` instead of at `s`.
    fn episode_delay(&self, s: Micros, m: &EpisodicLag) -> Micros {
        if s < self.onset || s >= self.drain_end {
            0
        } else {
            let replayed = ((s - self.onset) as f64 / m.catch_up) as Micros;
            (self.stall_end + replayed).saturating_sub(s)
        }
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
            // Normal: 60 + U[0, 200) ms; spike: 4000 + U[0, 4000) ms more.
            let spike = l >= ms(4060.0);
            spikes += spike as u32;
            if spike {
                assert!(l < ms(60.0 + 200.0 + 4000.0 + 4000.0));
            } else {
                assert!((ms(60.0)..ms(260.0)).contains(&l), "{l}");
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

    fn fixed_episodes() -> EpisodicLag {
        EpisodicLag {
            normal: Normal { base: 0, jitter: 0 },
            stall_min: ms(4000.0),
            stall_max: ms(4000.0),
            ..EpisodicLag::default()
        }
    }

    #[test]
    fn an_item_sent_in_an_episode_is_replayed_at_the_catch_up_speed() {
        // O = onset, D = 4 s, S = O + 4 s, k = 3, E = S + D/(k−1) = O + 6 s.
        // An item sent at s in [O, E) is visible at S + (s − O)/3.
        let m = fixed_episodes();
        let mut p = LagProcess::new(LagModel::Episodic(m), substream(3, "lag", 0));
        let onset = p.next_onset();
        assert_eq!(p.apply_delay(onset - 1), 0);
        // Sent at O: waits out the whole stall.
        assert_eq!(p.apply_delay(onset), 4_000_000);
        // Sent at O + 1 s: visible at O + 4 s + 333 333 µs.
        assert_eq!(p.apply_delay(onset + ms(1000.0)), 3_333_333);
        // Sent at S = O + 4 s: visible at O + 4 s + 1 333 333 µs.
        assert_eq!(p.apply_delay(onset + ms(4000.0)), 1_333_333);
        // Sent at O + 5.7 s: visible at O + 5.9 s.
        assert_eq!(p.apply_delay(onset + ms(5700.0)), 200_000);
        // Sent at E: the backlog is gone.
        assert_eq!(p.apply_delay(onset + ms(6000.0)), 0);
    }

    #[test]
    fn both_views_of_a_process_build_the_same_episodes_and_iid_draws() {
        let m = EpisodicLag {
            mean_gap: ms(20_000.0),
            ..EpisodicLag::default()
        };
        let mut a = LagProcess::new(LagModel::Episodic(m), substream(5, "lag", 1));
        let mut b = a.clone();
        for i in 0..20_000u64 {
            let t = i * ms(50.0);
            let (la, lb) = (a.lag_at(t), b.apply_delay(t));
            assert_eq!(a.next_onset(), b.next_onset(), "at {t}");
            // Outside episodes both are normal: 60 + U[0, 200) ms, same draw.
            assert_eq!((a.onset, a.stall_end), (b.onset, b.stall_end));
            if t < a.onset || t >= a.drain_end {
                assert_eq!(la, lb);
                assert!((ms(60.0)..ms(260.0)).contains(&la), "{la}");
            }
        }
        assert!(a.onset > 0, "no episode in 1000 s");
        let mut a = LagProcess::new(LagModel::Iid(IidLag::default()), substream(5, "lag", 2));
        let mut b = a.clone();
        for t in 0..10_000 {
            assert_eq!(a.lag_at(t), b.apply_delay(t));
        }
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
