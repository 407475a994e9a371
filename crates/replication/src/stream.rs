//! The replication stream from the leader to one follower, and its watermark.

use std::collections::VecDeque;

use crate::LagProcess;
use topology::Micros;

/// One item on the wire: a log entry (`lsn > 0`) or a heartbeat (`lsn == 0`),
/// stamped with the leader's time when it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Item {
    stamp: Micros,
    lsn: u64,
    apply_at: Micros,
}

/// What the leader ships to one follower, applied strictly in order.
///
/// Each item is delayed by a lag drawn from the follower's [`LagProcess`] at
/// the time it is sent, but it cannot be applied before the item ahead of it:
/// `apply_at = max(previous apply_at, sent + lag)`. A spike therefore holds
/// back everything behind it (head-of-line blocking), as a real log does.
///
/// The stream also carries heartbeats every `heartbeat_every`, so the
/// follower's *watermark* (a closed timestamp: every write committed before it
/// has been applied here) advances even when nobody writes. The staleness a
/// replica reports is `now − watermark`.
///
/// Calls must come in non-decreasing time order: [`ship`](Self::ship) an entry
/// at its commit time, [`advance`](Self::advance) before reading. Memory holds
/// only the items in flight.
#[derive(Debug, Clone)]
pub struct FollowerStream {
    lag: LagProcess,
    queue: VecDeque<Item>,
    heartbeat_every: Micros,
    next_heartbeat: Micros,
    last_apply: Micros,
    watermark: Micros,
    applied_lsn: u64,
    extra: Micros,
}

impl FollowerStream {
    /// A stream whose delays come from `lag`, with a heartbeat every
    /// `heartbeat_every` (must be > 0) starting at time 0.
    pub fn new(lag: LagProcess, heartbeat_every: Micros) -> FollowerStream {
        FollowerStream {
            lag,
            queue: VecDeque::new(),
            heartbeat_every: heartbeat_every.max(1),
            next_heartbeat: 0,
            last_apply: 0,
            watermark: 0,
            applied_lsn: 0,
            extra: 0,
        }
    }

    fn send(&mut self, stamp: Micros, lsn: u64) {
        let apply_at = self
            .last_apply
            .max(stamp + self.lag.lag_at(stamp) + self.extra);
        self.last_apply = apply_at;
        self.queue.push_back(Item {
            stamp,
            lsn,
            apply_at,
        });
    }

    /// The same stream, for a leader that starts sending at `t` (its first
    /// heartbeat goes out then, not at time 0).
    pub fn starting_at(mut self, t: Micros) -> FollowerStream {
        self.next_heartbeat = t;
        self.last_apply = self.last_apply.max(t);
        self
    }

    /// Sends the heartbeats due up to `t` and applies every item that has
    /// arrived by `t`.
    pub fn advance(&mut self, t: Micros) {
        while self.next_heartbeat <= t {
            self.send(self.next_heartbeat, 0);
            self.next_heartbeat += self.heartbeat_every;
        }
        while let Some(item) = self.queue.front() {
            if item.apply_at > t {
                break;
            }
            self.watermark = self.watermark.max(item.stamp);
            if item.lsn > 0 {
                self.applied_lsn = item.lsn;
            }
            self.queue.pop_front();
        }
    }

    /// Ships entry `lsn`, committed at the leader at `committed_at`.
    /// Entries must be shipped in lsn order.
    pub fn ship(&mut self, lsn: u64, committed_at: Micros) {
        self.advance(committed_at);
        self.send(committed_at, lsn);
    }

    /// The last log entry applied.
    pub fn applied_lsn(&self) -> u64 {
        self.applied_lsn
    }

    /// The closed timestamp: every write committed before it is applied.
    pub fn watermark(&self) -> Micros {
        self.watermark
    }

    /// The staleness this follower reports at `now` (after [`advance`](Self::advance)).
    pub fn staleness(&self, now: Micros) -> Micros {
        now.saturating_sub(self.watermark)
    }

    /// When entry `lsn` will be applied, if it is still in flight; `None` if
    /// it is applied already or was never shipped.
    pub fn apply_time(&self, lsn: u64) -> Option<Micros> {
        if lsn <= self.applied_lsn {
            return None;
        }
        self.queue.iter().find(|i| i.lsn >= lsn).map(|i| i.apply_at)
    }

    /// A link fault: nothing in flight or sent from now on arrives before
    /// `until` (call after [`advance`](Self::advance) to the fault's start).
    pub fn cut(&mut self, until: Micros) {
        for item in &mut self.queue {
            item.apply_at = item.apply_at.max(until);
        }
        self.last_apply = self.last_apply.max(until);
    }

    /// The sender died: whatever has not been applied by now is gone.
    pub fn drop_in_flight(&mut self) {
        self.queue.clear();
    }

    /// Extra delay added to every item sent from now on (a lag spike on this
    /// link); 0 ends it.
    pub fn set_extra(&mut self, extra: Micros) {
        self.extra = extra;
    }

    /// Items shipped but not yet applied.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// Applies everything in flight (traffic has stopped and the link is
    /// healthy); returns the time the last item was applied.
    pub fn drain(&mut self) -> Micros {
        let end = self.last_apply;
        while let Some(item) = self.queue.pop_front() {
            self.watermark = self.watermark.max(item.stamp);
            if item.lsn > 0 {
                self.applied_lsn = item.lsn;
            }
        }
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::substream;
    use crate::{IidLag, LagModel, Normal};
    use topology::ms;

    fn fixed(lag_ms: f64) -> LagProcess {
        let m = IidLag {
            normal: Normal {
                base: ms(lag_ms),
                jitter: 0,
            },
            spike_prob: 0.0,
            ..IidLag::default()
        };
        LagProcess::new(LagModel::Iid(m), substream(1, "lag", 0))
    }

    #[test]
    fn entries_apply_after_their_lag_and_the_watermark_follows() {
        let mut s = FollowerStream::new(fixed(150.0), ms(100.0));
        s.ship(1, ms(1000.0));
        s.advance(ms(1149.0));
        assert_eq!(s.applied_lsn(), 0);
        // Heartbeat sent at 900 ms arrived at 1050 ms.
        assert_eq!(s.watermark(), ms(900.0));
        assert_eq!(s.staleness(ms(1149.0)), ms(249.0));
        assert_eq!(s.apply_time(1), Some(ms(1150.0)));
        s.advance(ms(1150.0));
        assert_eq!(s.applied_lsn(), 1);
        assert_eq!(s.watermark(), ms(1000.0));
        assert_eq!(s.apply_time(1), None);
    }

    #[test]
    fn heartbeats_keep_staleness_bounded_without_writes() {
        let mut s = FollowerStream::new(fixed(150.0), ms(100.0));
        for t in (0..100).map(|i| ms(10_000.0 + 37.0 * i as f64)) {
            s.advance(t);
            let st = s.staleness(t);
            // Lag 150 ms plus at most one heartbeat interval.
            assert!((ms(150.0)..=ms(250.0)).contains(&st), "{st}");
        }
    }

    #[test]
    fn a_cut_link_delivers_nothing_until_it_heals_and_a_dead_sender_loses_its_queue() {
        let mut s = FollowerStream::new(fixed(150.0), ms(1000.0));
        s.ship(1, ms(10.0));
        s.advance(ms(20.0));
        s.cut(ms(5000.0));
        s.ship(2, ms(30.0));
        s.advance(ms(4999.0));
        assert_eq!(s.applied_lsn(), 0);
        s.advance(ms(5000.0));
        assert_eq!(s.applied_lsn(), 2);
        s.set_extra(ms(1000.0));
        s.ship(3, ms(6000.0));
        assert_eq!(s.apply_time(3), Some(ms(7150.0)));
        s.drop_in_flight();
        s.drain();
        assert_eq!(s.applied_lsn(), 2);
    }

    #[test]
    fn a_slow_item_holds_back_everything_behind_it() {
        // Spike on every draw: 150 + 4000 fixed.
        let m = IidLag {
            normal: Normal {
                base: ms(150.0),
                jitter: 0,
            },
            spike_prob: 1.0,
            spike_base: ms(4000.0),
            spike_jitter: 0,
        };
        let mut s = FollowerStream::new(
            LagProcess::new(LagModel::Iid(m), substream(1, "lag", 0)),
            ms(100_000.0),
        );
        s.ship(1, ms(10.0));
        s.ship(2, ms(20.0));
        assert_eq!(s.apply_time(1), Some(ms(4160.0)));
        assert_eq!(s.apply_time(2), Some(ms(4170.0)));
        s.advance(ms(4165.0));
        assert_eq!(s.applied_lsn(), 1);
        assert_eq!(s.in_flight(), 1);
        s.drain();
        assert_eq!(s.applied_lsn(), 2);
        assert_eq!(s.in_flight(), 0);
    }
}
