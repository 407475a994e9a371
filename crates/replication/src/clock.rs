//! Region clocks: what a region's wall clock reads at a given true time.
//!
//! The simulator keeps true time for measurement; each region stamps and
//! reads time through its own [`ClockModel`]. The kinds follow the clock
//! faults deterministic simulators inject: a fixed offset, linear drift, a
//! step (an NTP correction or a bad leap), and a periodic wander with noise.

use topology::Micros;

/// How a region's clock deviates from true time. Offsets are in µs
/// (positive: the clock is ahead).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClockModel {
    /// Reads true time.
    Exact,
    /// Always `offset` ahead (or behind, if negative).
    Offset {
        /// The offset.
        offset: i64,
    },
    /// Starts at `offset` and gains `ppm` microseconds per second.
    Drift {
        /// Offset at time 0.
        offset: i64,
        /// Rate error in parts per million.
        ppm: f64,
    },
    /// `before` until `at`, then `after`.
    Step {
        /// When the step happens.
        at: Micros,
        /// Offset before it.
        before: i64,
        /// Offset from it on.
        after: i64,
    },
    /// `amplitude · sin(2πt / period)` plus a noise term that changes each
    /// second, uniform in `[-noise, noise]` and fixed by `seed`.
    Periodic {
        /// Peak offset of the wave.
        amplitude: i64,
        /// Period of the wave (> 0).
        period: Micros,
        /// Bound of the per-second noise.
        noise: i64,
        /// Seed of the noise.
        seed: u64,
    },
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl ClockModel {
    /// The clock's offset from true time at true time `t`, in µs.
    pub fn offset_at(&self, t: Micros) -> i64 {
        match *self {
            ClockModel::Exact => 0,
            ClockModel::Offset { offset } => offset,
            ClockModel::Drift { offset, ppm } => offset + (t as f64 * ppm / 1e6) as i64,
            ClockModel::Step { at, before, after } => {
                if t < at {
                    before
                } else {
                    after
                }
            }
            ClockModel::Periodic {
                amplitude,
                period,
                noise,
                seed,
            } => {
                let phase = (t % period.max(1)) as f64 / period.max(1) as f64;
                let wave = (amplitude as f64 * (phase * std::f64::consts::TAU).sin()) as i64;
                let span = 2 * noise.unsigned_abs() + 1;
                let jitter = (mix(seed ^ (t / 1_000_000)) % span) as i64 - noise.abs();
                wave + jitter
            }
        }
    }

    /// Checks the parameters: offsets within an hour, drift within ±10 %
    /// (10^5 ppm), a positive period, all finite.
    pub fn validate(&self) -> Result<(), crate::ReplicationError> {
        const HOUR: i64 = 3_600_000_000;
        let bad = |reason: String| crate::ReplicationError::BadParameter {
            name: "clock",
            reason,
        };
        let offsets: &[i64] = match self {
            ClockModel::Exact => &[],
            ClockModel::Offset { offset } => &[*offset],
            ClockModel::Drift { offset, ppm } => {
                if !(ppm.is_finite() && ppm.abs() <= 1e5) {
                    return Err(bad(format!(
                        "drift {ppm} ppm: give a finite rate within ±100000 ppm"
                    )));
                }
                &[*offset]
            }
            ClockModel::Step { before, after, .. } => &[*before, *after],
            ClockModel::Periodic {
                amplitude,
                period,
                noise,
                ..
            } => {
                if *period == 0 {
                    return Err(bad("a periodic clock needs a period > 0".into()));
                }
                &[*amplitude, *noise]
            }
        };
        match offsets.iter().find(|o| o.unsigned_abs() > HOUR as u64) {
            Some(o) => Err(bad(format!(
                "offset {o} µs: keep clock offsets within one hour"
            ))),
            None => Ok(()),
        }
    }

    /// What the clock reads at true time `t` (may be negative near time 0).
    pub fn read(&self, t: Micros) -> i64 {
        t as i64 + self.offset_at(t)
    }
}

/// A hybrid logical clock's physical reading: never behind the local wall
/// clock, never behind any timestamp the region has received.
pub fn hlc(wall: i64, received: i64) -> i64 {
    wall.max(received)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_reads_as_specified() {
        assert_eq!(ClockModel::Exact.read(5), 5);
        assert_eq!(
            ClockModel::Offset { offset: -500_000 }.read(1_000_000),
            500_000
        );
        let d = ClockModel::Drift {
            offset: 0,
            ppm: 100.0,
        };
        // 100 ppm over 1000 s is 100 ms.
        assert_eq!(d.offset_at(1_000_000_000), 100_000);
        let s = ClockModel::Step {
            at: 10,
            before: 0,
            after: 7,
        };
        assert_eq!((s.offset_at(9), s.offset_at(10)), (0, 7));
        let p = ClockModel::Periodic {
            amplitude: 1000,
            period: 4_000_000,
            noise: 10,
            seed: 1,
        };
        // A quarter period in: the wave peaks; the noise stays within its bound.
        let o = p.offset_at(1_000_000);
        assert!((990..=1010).contains(&o), "{o}");
        for t in (0..100).map(|i| i * 123_457) {
            assert!(p.offset_at(t).abs() <= 1010);
        }
        assert_eq!(hlc(5, 9), 9);
        assert_eq!(hlc(9, 5), 9);
    }
}
