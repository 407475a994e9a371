//! Region clocks: what a region's wall clock reads at a given true time, and
//! the hybrid logical clock each region keeps on top of it.
//!
//! The simulator keeps true time for measurement; each region stamps and
//! reads time through its own [`ClockModel`]. The kinds follow the clock
//! faults deterministic simulators inject: a fixed offset, linear drift, a
//! step (an NTP correction or a bad leap), and a periodic wander with noise.
//!
//! [`Hlc`] is a hybrid logical clock as in Kulkarni, Demirbas et al.,
//! "Logical Physical Clocks" (OPODIS 2014): `l` is the largest physical time
//! the region has seen (its own clock's or any stamp it received), `c` a
//! logical counter that orders events sharing an `l`. Its stamps
//! ([`HlcStamp`]) are ordered by `(l, c)`, never go backwards on one region,
//! grow along every message, and stay within the largest clock offset of the
//! physical time (`0 <= l - pt <= ε`).

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

/// A hybrid logical clock timestamp, ordered lexicographically by `(l, c)`
/// (the derived order: `l` first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HlcStamp {
    /// The physical part: the largest physical clock reading (µs) known to
    /// the event, on whichever region's clock produced it.
    pub l: i64,
    /// The logical part: orders the events that share `l`.
    pub c: u32,
}

impl HlcStamp {
    /// The stamp of a bare physical reading `pt` (logical part 0): what an
    /// event whose only causal past is that reading would carry.
    pub fn physical(pt: i64) -> HlcStamp {
        HlcStamp { l: pt, c: 0 }
    }
}

/// A hybrid logical clock (Kulkarni, Demirbas et al. 2014): the state one
/// process (here: one region) keeps. Every event takes the process's
/// physical clock reading `pt`; [`now`](Self::now) (a local or send event)
/// and [`recv`](Self::recv) (a message received) apply the paper's rules.
///
/// The logical counter saturates at `u32::MAX` instead of overflowing; it
/// stays far below that while the clocks keep within any sane bound (it
/// counts the events that share one `l`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hlc {
    last: HlcStamp,
}

impl Default for Hlc {
    fn default() -> Hlc {
        Hlc::new()
    }
}

impl Hlc {
    /// A clock that has seen nothing yet: its first event takes that event's
    /// physical time.
    pub fn new() -> Hlc {
        Hlc {
            last: HlcStamp { l: i64::MIN, c: 0 },
        }
    }

    /// The stamp of the last event (`l == i64::MIN` before the first).
    pub fn last(&self) -> HlcStamp {
        self.last
    }

    /// A local or send event at physical time `pt`: `l = max(l, pt)`; the
    /// counter goes up by one if `l` did not move, else restarts at 0.
    /// Returns the event's stamp (the one a message sent now carries).
    pub fn now(&mut self, pt: i64) -> HlcStamp {
        let l = self.last.l.max(pt);
        let c = if l == self.last.l {
            self.last.c.saturating_add(1)
        } else {
            0
        };
        self.last = HlcStamp { l, c };
        self.last
    }

    /// A send event at physical time `pt`: the same rule as [`now`](Self::now);
    /// the returned stamp travels with the message.
    pub fn send(&mut self, pt: i64) -> HlcStamp {
        self.now(pt)
    }

    /// Receipt, at physical time `pt`, of a message stamped `m`:
    /// `l = max(l, m.l, pt)`; the counter follows whichever of the local and
    /// the message's stamps reached that `l` (the larger counter if both),
    /// plus one, or restarts at 0 if `pt` alone did. Returns the event's stamp,
    /// which is larger than both the previous local stamp and `m`.
    pub fn recv(&mut self, pt: i64, m: HlcStamp) -> HlcStamp {
        let old = self.last;
        let l = old.l.max(m.l).max(pt);
        let c = match (l == old.l, l == m.l) {
            (true, true) => old.c.max(m.c).saturating_add(1),
            (true, false) => old.c.saturating_add(1),
            (false, true) => m.c.saturating_add(1),
            (false, false) => 0,
        };
        self.last = HlcStamp { l, c };
        self.last
    }
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
    }

    #[test]
    fn the_rules_of_the_paper_step_by_step() {
        let mut a = Hlc::new();
        // First event: l takes the physical time.
        assert_eq!(a.now(10), HlcStamp { l: 10, c: 0 });
        // Physical time stands still (or goes back): the counter orders.
        assert_eq!(a.now(10), HlcStamp { l: 10, c: 1 });
        assert_eq!(a.send(7), HlcStamp { l: 10, c: 2 });
        // It moves on: the counter restarts.
        assert_eq!(a.now(12), HlcStamp { l: 12, c: 0 });
        // A message from a clock ahead: l jumps to it, c follows the message.
        let ahead = HlcStamp { l: 20, c: 4 };
        assert_eq!(a.recv(13, ahead), HlcStamp { l: 20, c: 5 });
        // A message behind the local clock: the local counter goes on.
        assert_eq!(
            a.recv(14, HlcStamp { l: 3, c: 9 }),
            HlcStamp { l: 20, c: 6 }
        );
        // Same l both sides: the larger counter plus one.
        assert_eq!(
            a.recv(15, HlcStamp { l: 20, c: 11 }),
            HlcStamp { l: 20, c: 12 }
        );
        // The physical clock passes everything: c restarts.
        assert_eq!(
            a.recv(25, HlcStamp { l: 21, c: 3 }),
            HlcStamp { l: 25, c: 0 }
        );
        assert_eq!(a.last(), HlcStamp { l: 25, c: 0 });
        // Ordered by l, then c.
        assert!(HlcStamp { l: 1, c: 9 } < HlcStamp { l: 2, c: 0 });
        assert!(HlcStamp { l: 2, c: 0 } < HlcStamp { l: 2, c: 1 });
        assert_eq!(HlcStamp::physical(-4), HlcStamp { l: -4, c: 0 });
        assert_eq!(Hlc::default().last().l, i64::MIN);
    }

    /// One step of a random run of `n` processes: true time moves on by
    /// `dt` (≥ 1 µs), then process `p` does a local event, sends to `to`, or
    /// receives the oldest message waiting for it.
    #[derive(Debug, Clone)]
    enum Step {
        Local,
        Send(usize),
        Recv,
    }

    /// What each event of a run was: its process, physical time, stamp and
    /// vector clock (the true happened-before relation).
    struct Event {
        p: usize,
        pt: i64,
        stamp: HlcStamp,
        vc: Vec<u32>,
    }

    /// Plays a run: process `i`'s physical clock reads `t + offsets[i]`.
    fn play(offsets: &[i64], steps: &[(u64, usize, Step)]) -> Vec<Event> {
        let n = offsets.len();
        let mut clocks = vec![Hlc::new(); n];
        let mut vcs = vec![vec![0u32; n]; n];
        let mut inbox: Vec<std::collections::VecDeque<(HlcStamp, Vec<u32>)>> =
            vec![Default::default(); n];
        let mut events = Vec::new();
        let mut t = 0i64;
        for (dt, p, step) in steps {
            t += *dt as i64;
            let p = p % n;
            let pt = t + offsets[p];
            let stamp = match step {
                Step::Local => clocks[p].now(pt),
                Step::Send(to) => {
                    let s = clocks[p].send(pt);
                    vcs[p][p] += 1;
                    inbox[to % n].push_back((s, vcs[p].clone()));
                    events.push(Event {
                        p,
                        pt,
                        stamp: s,
                        vc: vcs[p].clone(),
                    });
                    continue;
                }
                Step::Recv => match inbox[p].pop_front() {
                    Some((m, vc)) => {
                        for (mine, theirs) in vcs[p].iter_mut().zip(vc) {
                            *mine = (*mine).max(theirs);
                        }
                        clocks[p].recv(pt, m)
                    }
                    None => clocks[p].now(pt),
                },
            };
            vcs[p][p] += 1;
            events.push(Event {
                p,
                pt,
                stamp,
                vc: vcs[p].clone(),
            });
        }
        events
    }

    fn happened_before(g: &Event, f: &Event) -> bool {
        g.vc.iter().zip(&f.vc).all(|(a, b)| a <= b) && g.vc != f.vc
    }

    fn step() -> impl proptest::strategy::Strategy<Value = (u64, usize, Step)> {
        use proptest::prelude::*;
        (
            1u64..8,
            0usize..8,
            prop_oneof![
                Just(Step::Local),
                (0usize..8).prop_map(Step::Send),
                Just(Step::Recv),
                Just(Step::Recv),
            ],
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// The paper's properties over random runs whose clocks are offset
        /// from true time by up to `eps` (so pairwise by at most `eps`):
        /// stamps grow on every process and along happened-before (every
        /// send → receive among them), `0 <= l - pt <= eps`, and the counter
        /// is bounded by the events that happened before with the same `l`
        /// (Theorem 3), hence by `n (eps + 1)` when each process's clock
        /// moves between its events.
        #[test]
        fn hlc_keeps_the_papers_properties(
            eps in 0i64..40,
            raw in proptest::collection::vec(0i64..1000, 2..6),
            steps in proptest::collection::vec(step(), 1..200),
        ) {
            let offsets: Vec<i64> = raw.iter().map(|o| o % (eps + 1)).collect();
            let n = offsets.len() as i64;
            let events = play(&offsets, &steps);
            for (i, f) in events.iter().enumerate() {
                proptest::prop_assert!(f.stamp.l >= f.pt, "l behind pt: {:?} {}", f.stamp, f.pt);
                proptest::prop_assert!(f.stamp.l - f.pt <= eps, "l - pt > eps: {:?} {} {}", f.stamp, f.pt, eps);
                proptest::prop_assert!(i64::from(f.stamp.c) <= n * (eps + 1), "c = {} over n(eps+1)", f.stamp.c);
                let mut same_l_before = 0u32;
                for g in &events[..i] {
                    if happened_before(g, f) {
                        proptest::prop_assert!(g.stamp < f.stamp, "causality: {:?} !< {:?}", g.stamp, f.stamp);
                        same_l_before += (g.stamp.l == f.stamp.l) as u32;
                    }
                    if g.p == f.p {
                        proptest::prop_assert!(g.stamp < f.stamp, "not monotone on process {}", f.p);
                    }
                }
                proptest::prop_assert!(f.stamp.c <= same_l_before, "c = {} > {} (Theorem 3)", f.stamp.c, same_l_before);
            }
        }
    }
}
