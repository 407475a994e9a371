//! The replication stream from the leader to one follower, and its watermark.
//!
//! Every item on the wire has three times at the follower: when it is
//! *received* (the network), when it is *durable* (the follower's fsync), and
//! when it is *visible* (applied and readable). Each is derived from the
//! previous one and from the [`Link`] and [`LagProcess`] of this one
//! leader→follower pair.

use std::collections::VecDeque;

use crate::clock::HlcStamp;
use crate::rng::{below, Rng};
use crate::LagProcess;
use topology::Micros;

/// The physics of one leader→follower link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// One-way network delay leader→follower: half the RTT.
    pub one_way: Micros,
    /// Width of a uniform extra on each item's one-way delay (0: none).
    pub jitter: Micros,
    /// The follower's fsync: from receipt to durable.
    pub fsync: Micros,
}

/// Bytes a snapshot carries per account: the account's row (id, balance,
/// version) with its page and index overhead in a row store.
pub const SNAPSHOT_BYTES_PER_ACCOUNT: u64 = 64;

/// Bytes per second one replication stream moves across a region-to-region
/// link: 100 Mbit/s, a conservative share of an inter-region path for one
/// TCP stream over a 100–200 ms round trip.
pub const SNAPSHOT_BYTES_PER_S: u64 = 12_500_000;

/// How much longer than a log entry a snapshot of `accounts` accounts takes
/// to reach the follower over `link`: one round trip to ask for it and set
/// up the transfer (the follower learns it is too far behind, the leader
/// starts the snapshot), then its bytes at [`SNAPSHOT_BYTES_PER_S`]. The
/// one-way trip of the last byte is the link's own, added as for any item.
pub fn snapshot_transfer(link: Link, accounts: u64) -> Micros {
    let bytes = accounts.saturating_mul(SNAPSHOT_BYTES_PER_ACCOUNT);
    2 * link.one_way
        + bytes
            .saturating_mul(1_000_000)
            .div_ceil(SNAPSHOT_BYTES_PER_S)
}

/// The three times of one item at the follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Times {
    received: Micros,
    durable: Micros,
    visible: Micros,
}

/// One item on the wire: a log entry (`lsn > 0`) or a heartbeat (`lsn == 0`),
/// stamped with the true time it closes (its send time, or an entry's commit)
/// and with the leader's hybrid logical clock for the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Item {
    stamp: Micros,
    hlc: HlcStamp,
    lsn: u64,
    /// The highest entry lsn sent up to and including this item: not
    /// decreasing along the queue, so an entry is found by binary search.
    upto: u64,
    /// Its delay from receipt to visibility (apply delay plus any extra).
    apply: Micros,
    at: Times,
}

/// What the leader ships to one follower, received, made durable and applied
/// strictly in order.
///
/// Each item sent at `sent` gets three times, each chained to the item ahead
/// of it so that nothing overtakes (in-order delivery, as over TCP, and an
/// in-order log):
/// 1. **receipt** — `received = max(prev received, sent + one_way + delay +
///    U[0, jitter), blocked_until)`, from the [`Link`] and its own network
///    random stream; `blocked_until` is the end of a [`cut`](Self::cut),
///    `delay` the extra of a [delayed link](Self::delay_sends) when `sent`
///    falls in its window (0 otherwise);
/// 2. **durability** — `durable = max(prev durable, received + fsync +
///    stall)`, `stall` the extra of a [stalled disk](Self::stall_fsync) when
///    `received` falls in its window;
/// 3. **visibility** — `visible = max(prev visible, durable, received +
///    apply_delay(sent) + extra)`, with the apply delay from the follower's
///    [`LagProcess::apply_delay`]. A slow item therefore holds back everything
///    behind it (head-of-line blocking), as a real log does.
///
/// So a link's lag is derived, not drawn whole: network distance
/// (`one_way`), then the follower's own work (fsync, apply, backlog). The
/// kata's SG↔US "150 ms + U[0, 200)" is `one_way` 90 ms plus the default
/// [`Normal`](crate::Normal) apply component 60 ms + U[0, 200).
///
/// The stream also carries heartbeats every `heartbeat_every`, so the
/// follower's *watermark* (a closed timestamp: every write committed before it
/// is visible here) advances even when nobody writes. The staleness a
/// replica reports is `now − watermark`. Separately,
/// [`durable_lsn`](Self::durable_lsn) says how far the follower's disk has
/// got, which is what a synchronous or semi-synchronous commit waits for.
///
/// Every item also carries the leader's [`HlcStamp`]: the caller stamps
/// entries ([`ship`](Self::ship)) and heartbeats ([`heartbeat`](Self::heartbeat))
/// with the leader's hybrid clock at send, and takes each receipt in order
/// ([`deliver`](Self::deliver)) into the follower's clock. The stamp of the
/// item that set the watermark is [`watermark_hlc`](Self::watermark_hlc).
/// Heartbeats that [`advance`](Self::advance) sends by itself (a caller that
/// did not send them first) carry their bare send time.
///
/// Calls must come in non-decreasing time order: [`ship`](Self::ship) an entry
/// at its commit time, [`advance`](Self::advance) before reading. The stream's
/// *current time* is the last time it was advanced to. Memory holds only the
/// items not yet visible.
#[derive(Debug, Clone)]
pub struct FollowerStream {
    link: Link,
    lag: LagProcess,
    net: Rng,
    queue: VecDeque<Item>,
    /// How many items at the front of `queue` are durable already.
    durable_count: usize,
    /// How many items at the front of `queue` were taken by [`Self::deliver`].
    delivered: usize,
    heartbeat_every: Micros,
    next_heartbeat: Micros,
    /// The stream's current time: the last `advance`.
    now: Micros,
    /// The times of the last item sent (the chain a new item extends).
    last: Times,
    /// The highest entry lsn sent and not dropped.
    sent_upto: u64,
    /// The times of the last item that left the queue (visible).
    done: Times,
    /// Nothing sent is received before this (the end of a cut).
    blocked_until: Micros,
    watermark: Micros,
    watermark_hlc: HlcStamp,
    applied_lsn: u64,
    durable_lsn: u64,
    extra: Micros,
    /// Windows `[from, until)` in which an item *sent* takes `extra` longer
    /// on the wire (a delayed link).
    delays: Vec<(Micros, Micros, Micros)>,
    /// Windows `[from, until)` in which an item *received* takes `extra`
    /// longer to be durable (a stalled disk at the follower).
    stalls: Vec<(Micros, Micros, Micros)>,
}

impl FollowerStream {
    /// A stream over `link` whose apply delays come from `lag` and whose
    /// network jitter comes from `net`, with a heartbeat every
    /// `heartbeat_every` (clamped to at least 1 µs) starting at time 0.
    pub fn new(link: Link, lag: LagProcess, heartbeat_every: Micros, net: Rng) -> FollowerStream {
        FollowerStream {
            link,
            lag,
            net,
            queue: VecDeque::new(),
            durable_count: 0,
            delivered: 0,
            heartbeat_every: heartbeat_every.max(1),
            next_heartbeat: 0,
            now: 0,
            last: Times::default(),
            sent_upto: 0,
            done: Times::default(),
            blocked_until: 0,
            watermark: 0,
            watermark_hlc: HlcStamp::physical(i64::MIN),
            applied_lsn: 0,
            durable_lsn: 0,
            extra: 0,
            delays: Vec::new(),
            stalls: Vec::new(),
        }
    }

    /// Every item sent in `[from, until)` takes `extra` longer to be
    /// received: a slower link for a while (entries and heartbeats alike,
    /// still in order, nothing lost). Give the windows before sending:
    /// what is already on the wire keeps its times.
    pub fn delay_sends(&mut self, from: Micros, until: Micros, extra: Micros) {
        if from < until && extra > 0 {
            self.delays.push((from, until, extra));
        }
    }

    /// Every item received in `[from, until)` takes `extra` longer to be
    /// durable (and so to be visible): the follower's fsync stalls for a
    /// while. Give the windows before sending.
    pub fn stall_fsync(&mut self, from: Micros, until: Micros, extra: Micros) {
        if from < until && extra > 0 {
            self.stalls.push((from, until, extra));
        }
    }

    /// The extra of the windows holding `t`.
    fn extra_at(windows: &[(Micros, Micros, Micros)], t: Micros) -> Micros {
        windows
            .iter()
            .filter(|&&(from, until, _)| from <= t && t < until)
            .map(|&(_, _, extra)| extra)
            .sum()
    }

    /// The fsync of an item received at `received`.
    fn fsync_at(&self, received: Micros) -> Micros {
        self.link.fsync + Self::extra_at(&self.stalls, received)
    }

    /// The same stream, for a leader that starts sending at `t`: its first
    /// heartbeat goes out then, not at time 0, nothing is received or
    /// applied before `t`, and its current time is `t`.
    pub fn starting_at(mut self, t: Micros) -> FollowerStream {
        self.next_heartbeat = t;
        self.now = self.now.max(t);
        for times in [&mut self.last, &mut self.done] {
            times.received = times.received.max(t);
            times.durable = times.durable.max(t);
            times.visible = times.visible.max(t);
        }
        self
    }

    /// The link this stream crosses.
    pub fn link(&self) -> Link {
        self.link
    }

    /// When the next heartbeat is due.
    pub fn next_heartbeat(&self) -> Micros {
        self.next_heartbeat
    }

    /// Sends the heartbeat due at [`next_heartbeat`](Self::next_heartbeat),
    /// stamped `hlc` by the leader, and schedules the next one.
    pub fn heartbeat(&mut self, hlc: HlcStamp) {
        let at = self.next_heartbeat;
        self.send_stamped(at, at, 0, hlc);
        self.next_heartbeat += self.heartbeat_every;
    }

    /// Lets the heartbeat due at [`next_heartbeat`](Self::next_heartbeat)
    /// go unsent (the leader is down: nothing leaves it) and schedules the
    /// next one.
    pub fn skip_heartbeat(&mut self) {
        self.next_heartbeat += self.heartbeat_every;
    }

    /// When the oldest item the follower has not yet taken with
    /// [`deliver`](Self::deliver) is (or will be) received.
    pub fn next_receipt(&self) -> Option<Micros> {
        self.queue.get(self.delivered).map(|i| i.at.received)
    }

    /// Takes the oldest item not yet delivered, if it is received by `t`:
    /// its receipt time and the leader's stamp on it. Items arrive in order;
    /// an item made visible before it was delivered is never delivered.
    pub fn deliver(&mut self, t: Micros) -> Option<(Micros, HlcStamp)> {
        let item = self.queue.get(self.delivered)?;
        if item.at.received > t {
            return None;
        }
        self.delivered += 1;
        Some((item.at.received, item.hlc))
    }

    /// Sends an item at `sent` whose watermark stamp is `stamp` (its commit
    /// time; `sent` itself for live shipping and heartbeats), with the
    /// leader's hybrid clock stamp `hlc`.
    fn send_stamped(&mut self, sent: Micros, stamp: Micros, lsn: u64, hlc: HlcStamp) {
        self.send_sized(sent, stamp, lsn, hlc, 0);
    }

    /// [`send_stamped`](Self::send_stamped) for an item that takes
    /// `transfer` longer than a log entry to cross the link (a snapshot).
    fn send_sized(
        &mut self,
        sent: Micros,
        stamp: Micros,
        lsn: u64,
        hlc: HlcStamp,
        transfer: Micros,
    ) {
        let jitter = if self.link.jitter > 0 {
            below(&mut self.net, self.link.jitter)
        } else {
            0
        };
        let delay = Self::extra_at(&self.delays, sent);
        let received = self
            .last
            .received
            .max(sent + self.link.one_way + delay + jitter + transfer)
            .max(self.blocked_until);
        let durable = self.last.durable.max(received + self.fsync_at(received));
        let apply = self.lag.apply_delay(sent) + self.extra;
        let visible = self.last.visible.max(durable).max(received + apply);
        self.last = Times {
            received,
            durable,
            visible,
        };
        self.sent_upto = self.sent_upto.max(lsn);
        self.queue.push_back(Item {
            stamp,
            hlc,
            lsn,
            upto: self.sent_upto,
            apply,
            at: self.last,
        });
    }

    /// Sends the heartbeats due up to `t` (stamped with their bare send time:
    /// a caller that keeps the leader's hybrid clock sends them first with
    /// [`heartbeat`](Self::heartbeat)), then [`settle`](Self::settle)s to `t`.
    pub fn advance(&mut self, t: Micros) {
        while self.next_heartbeat <= t {
            self.heartbeat(HlcStamp::physical(self.next_heartbeat as i64));
        }
        self.settle(t);
    }

    /// Marks durable every item whose durable time has come by `t` and
    /// applies every item visible by `t`, sending nothing. `t` becomes the
    /// stream's current time.
    pub fn settle(&mut self, t: Micros) {
        self.now = self.now.max(t);
        while let Some(item) = self.queue.get(self.durable_count) {
            if item.at.durable > t {
                break;
            }
            if item.lsn > 0 {
                self.durable_lsn = item.lsn;
            }
            self.durable_count += 1;
        }
        while let Some(item) = self.queue.front() {
            if item.at.visible > t {
                break;
            }
            // Visible implies durable, and durable times are monotone, so
            // this item is in the durable prefix.
            debug_assert!(self.durable_count > 0);
            self.pop_visible();
        }
    }

    /// Takes the front item out of the queue as visible.
    fn pop_visible(&mut self) {
        if let Some(item) = self.queue.pop_front() {
            self.watermark = self.watermark.max(item.stamp);
            self.watermark_hlc = self.watermark_hlc.max(item.hlc);
            if item.lsn > 0 {
                self.applied_lsn = item.lsn;
                self.durable_lsn = self.durable_lsn.max(item.lsn);
            }
            self.durable_count = self.durable_count.saturating_sub(1);
            self.delivered = self.delivered.saturating_sub(1);
            self.done = item.at;
        }
    }

    /// Ships entry `lsn`, committed at the leader at `committed_at` and
    /// stamped `hlc` by its hybrid clock: advances to `committed_at`, then
    /// sends it. Entries must be shipped in lsn order.
    pub fn ship(&mut self, lsn: u64, committed_at: Micros, hlc: HlcStamp) {
        self.advance(committed_at);
        self.send_stamped(committed_at, committed_at, lsn, hlc);
    }

    /// Ships entry `lsn`, committed at `committed_at`, as part of a catch-up
    /// sent at the stream's current time (a new follower, a returning one):
    /// it travels from now, but the watermark it moves to is its commit time,
    /// not now, so a follower half way through its backlog does not claim to
    /// be fresh; likewise `hlc` should be the entry's commit stamp. Ship the
    /// whole backlog before advancing the stream: the first heartbeat then
    /// goes out behind it.
    pub fn ship_backlog(&mut self, lsn: u64, committed_at: Micros, hlc: HlcStamp) {
        let sent = self.now;
        self.send_stamped(sent, committed_at.min(sent), lsn, hlc);
    }

    /// Ships a snapshot of the log up to entry `lsn` (whose commit time is
    /// `committed_at` and commit stamp `hlc`) as the head of a catch-up sent
    /// at the stream's current time, for a follower too far behind for the
    /// leader's log (compacted past what it holds). It crosses the link like
    /// an entry of the backlog but is received `transfer` later (its size
    /// over the link's bandwidth, see [`snapshot_transfer`]); everything
    /// shipped behind it is received after it. Once visible the follower
    /// has applied the log up to `lsn` at once.
    pub fn ship_snapshot(
        &mut self,
        lsn: u64,
        committed_at: Micros,
        hlc: HlcStamp,
        transfer: Micros,
    ) {
        let sent = self.now;
        self.send_sized(sent, committed_at.min(sent), lsn, hlc, transfer);
    }

    /// The last log entry visible (applied) at the follower.
    pub fn applied_lsn(&self) -> u64 {
        self.applied_lsn
    }

    /// The last log entry durable at the follower as of the last
    /// [`advance`](Self::advance); never below [`applied_lsn`](Self::applied_lsn).
    pub fn durable_lsn(&self) -> u64 {
        self.durable_lsn
    }

    /// The closed timestamp: every write committed before it is visible.
    pub fn watermark(&self) -> Micros {
        self.watermark
    }

    /// The leader's hybrid clock stamp on the closed timestamp: the largest
    /// stamp of the items visible so far (`l == i64::MIN` before the first).
    pub fn watermark_hlc(&self) -> HlcStamp {
        self.watermark_hlc
    }

    /// The staleness this follower reports at `now` (after [`advance`](Self::advance)).
    pub fn staleness(&self, now: Micros) -> Micros {
        now.saturating_sub(self.watermark)
    }

    /// When entry `lsn` will be visible, if it is still in flight; `None` if
    /// it is applied already or was never shipped (or was lost).
    pub fn apply_time(&self, lsn: u64) -> Option<Micros> {
        if lsn <= self.applied_lsn {
            return None;
        }
        self.first_with(lsn).map(|i| i.at.visible)
    }

    /// When entry `lsn` is durable at the follower: the stream's current time
    /// if it is durable already, else when it will be; `None` if it was never
    /// shipped or was lost.
    pub fn durable_time(&self, lsn: u64) -> Option<Micros> {
        if lsn <= self.durable_lsn {
            return Some(self.now);
        }
        self.first_with(lsn).map(|i| i.at.durable)
    }

    /// The first item in flight that is entry `lsn` or a later one. Every
    /// item before the first whose `upto` reaches `lsn` carries a lower lsn
    /// (`upto` does not decrease along the queue), so a binary search skips
    /// them instead of a scan from the front.
    fn first_with(&self, lsn: u64) -> Option<&Item> {
        let from = self.queue.partition_point(|i| i.upto < lsn);
        self.queue.range(from..).find(|i| i.lsn >= lsn)
    }

    /// A link fault from the stream's current time (call after
    /// [`advance`](Self::advance) to the fault's start): nothing in flight or
    /// sent from now on is received before `until`. Items already received
    /// are on the follower's disk and go on to durable and visible on time;
    /// the chain behind the delayed ones moves later with them.
    pub fn cut(&mut self, until: Micros) {
        let now = self.now;
        self.blocked_until = self.blocked_until.max(until);
        let mut prev = self.done;
        let (fsync, stalls) = (self.link.fsync, &self.stalls);
        for item in &mut self.queue {
            if item.at.received > now {
                let at = &mut item.at;
                at.received = at.received.max(until);
                let fsync = fsync + Self::extra_at(stalls, at.received);
                at.durable = at.durable.max(prev.durable).max(at.received + fsync);
                at.visible = at
                    .visible
                    .max(prev.visible)
                    .max(at.durable)
                    .max(at.received + item.apply);
            }
            prev = item.at;
        }
        self.last = prev;
    }

    /// The sender died at the stream's current time: whatever the follower
    /// has not received by then is gone. What it has received stays, and
    /// becomes durable and visible on its own.
    pub fn drop_in_flight(&mut self) {
        let now = self.now;
        while self.queue.back().is_some_and(|i| i.at.received > now) {
            self.queue.pop_back();
        }
        self.durable_count = self.durable_count.min(self.queue.len());
        self.delivered = self.delivered.min(self.queue.len());
        self.last = self.queue.back().map_or(self.done, |i| i.at);
        self.sent_upto = self.queue.back().map_or(self.applied_lsn, |i| i.upto);
    }

    /// Extra apply delay (visibility only, not receipt) for every item sent
    /// from now on; 0 ends it. A replication lag spike is an apply backlog,
    /// not a slower network.
    pub fn set_extra(&mut self, extra: Micros) {
        self.extra = extra;
    }

    /// Items shipped (entries and heartbeats) but not yet visible.
    pub fn in_flight(&self) -> usize {
        self.queue.len()
    }

    /// Makes everything in flight durable and visible (traffic has stopped
    /// and the link is healthy); returns when the last item became visible,
    /// which becomes the stream's current time if it is later.
    pub fn drain(&mut self) -> Micros {
        let end = self.last.visible;
        while !self.queue.is_empty() {
            self.pop_visible();
        }
        self.durable_count = 0;
        self.now = self.now.max(end);
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::substream;
    use crate::{EpisodicLag, IidLag, LagModel, Normal};
    use topology::ms;

    /// The bare stamp of true time `t` (these tests keep no hybrid clock).
    fn at(t: Micros) -> HlcStamp {
        HlcStamp::physical(t as i64)
    }

    /// Iid apply delay `base` ms, no jitter, no spikes.
    fn fixed(base_ms: f64) -> LagProcess {
        let m = IidLag {
            normal: Normal {
                base: ms(base_ms),
                jitter: 0,
            },
            spike_prob: 0.0,
            ..IidLag::default()
        };
        LagProcess::new(LagModel::Iid(m), substream(1, "lag", 0))
    }

    fn link(one_way_ms: f64, jitter_ms: f64, fsync_ms: f64) -> Link {
        Link {
            one_way: ms(one_way_ms),
            jitter: ms(jitter_ms),
            fsync: ms(fsync_ms),
        }
    }

    /// One way 90 ms, fsync 5 ms, apply 60 ms: an item sent at `s` is
    /// received at s + 90, durable at s + 95, visible at s + 150.
    fn sg_us(heartbeat_ms: f64) -> FollowerStream {
        FollowerStream::new(
            link(90.0, 0.0, 5.0),
            fixed(60.0),
            ms(heartbeat_ms),
            substream(1, "net", 0),
        )
    }

    #[test]
    fn an_entry_is_received_then_durable_then_visible() {
        let mut s = sg_us(100.0);
        assert_eq!(s.link(), link(90.0, 0.0, 5.0));
        s.ship(1, ms(1000.0), at(ms(1000.0)));
        assert_eq!(s.durable_time(1), Some(ms(1095.0)));
        assert_eq!(s.apply_time(1), Some(ms(1150.0)));
        assert_eq!(s.durable_time(2), None);
        assert_eq!(s.apply_time(2), None);

        // Receipt is at exactly 1090 ms: a cut one microsecond earlier
        // catches the entry in the network, a cut at 1090 ms does not.
        let mut early = s.clone();
        early.advance(ms(1090.0) - 1);
        early.cut(ms(2000.0));
        assert_eq!(early.durable_time(1), Some(ms(2005.0)));
        assert_eq!(early.apply_time(1), Some(ms(2060.0)));
        let mut late = s.clone();
        late.advance(ms(1090.0));
        late.cut(ms(2000.0));
        assert_eq!(late.durable_time(1), Some(ms(1095.0)));
        assert_eq!(late.apply_time(1), Some(ms(1150.0)));

        s.advance(ms(1095.0) - 1);
        assert_eq!((s.durable_lsn(), s.applied_lsn()), (0, 0));
        // Heartbeat sent at 900 ms was visible at 1050 ms.
        assert_eq!(s.watermark(), ms(900.0));
        s.advance(ms(1095.0));
        assert_eq!((s.durable_lsn(), s.applied_lsn()), (1, 0));
        // Durable already: the answer is the stream's current time.
        assert_eq!(s.durable_time(1), Some(ms(1095.0)));
        assert_eq!(s.apply_time(1), Some(ms(1150.0)));
        s.advance(ms(1150.0) - 1);
        assert_eq!((s.durable_lsn(), s.applied_lsn()), (1, 0));
        assert_eq!(s.watermark(), ms(900.0));
        assert_eq!(s.staleness(ms(1150.0) - 1), ms(250.0) - 1);
        s.advance(ms(1150.0));
        assert_eq!((s.durable_lsn(), s.applied_lsn()), (1, 1));
        assert_eq!(s.watermark(), ms(1000.0));
        assert_eq!(s.apply_time(1), None);
        assert_eq!(s.durable_time(1), Some(ms(1150.0)));
        // Only the heartbeat sent at 1100 ms is still on its way.
        assert_eq!(s.in_flight(), 1);
    }

    #[test]
    fn a_cut_holds_back_only_what_the_follower_has_not_received() {
        let mut s = sg_us(1_000_000.0);
        s.ship(1, ms(1000.0), at(ms(1000.0))); // received 1090, durable 1095, visible 1150
        s.ship(2, ms(1050.0), at(ms(1050.0))); // received 1140, durable 1145, visible 1200
        s.advance(ms(1092.0));
        s.cut(ms(3000.0));
        // Entry 1 is at the follower, not yet on disk: on time all the same.
        assert_eq!(s.durable_time(1), Some(ms(1095.0)));
        assert_eq!(s.apply_time(1), Some(ms(1150.0)));
        // Entry 2 arrives when the link heals: +5 ms fsync, +60 ms apply.
        assert_eq!(s.durable_time(2), Some(ms(3005.0)));
        assert_eq!(s.apply_time(2), Some(ms(3060.0)));
        // Sent while the cut holds: received at 3000 too.
        s.ship(3, ms(1200.0), at(ms(1200.0)));
        assert_eq!(s.durable_time(3), Some(ms(3005.0)));
        assert_eq!(s.apply_time(3), Some(ms(3060.0)));
        s.advance(ms(1150.0));
        assert_eq!((s.durable_lsn(), s.applied_lsn()), (1, 1));
        s.advance(ms(3005.0) - 1);
        assert_eq!((s.durable_lsn(), s.applied_lsn()), (1, 1));
        s.advance(ms(3005.0));
        assert_eq!((s.durable_lsn(), s.applied_lsn()), (3, 1));
        s.advance(ms(3060.0) - 1);
        assert_eq!(s.applied_lsn(), 1);
        s.advance(ms(3060.0));
        assert_eq!(s.applied_lsn(), 3);
        assert_eq!(s.watermark(), ms(1200.0));
        // After the cut: the link's own delays again.
        s.ship(4, ms(3500.0), at(ms(3500.0)));
        assert_eq!(s.durable_time(4), Some(ms(3595.0)));
        assert_eq!(s.apply_time(4), Some(ms(3650.0)));
    }

    /// A delayed link slows what is sent in its window, receipt and all
    /// (so durability too); a stalled disk slows what is received in its
    /// window from receipt to durable. Order is kept either way.
    #[test]
    fn a_delayed_link_and_a_stalled_disk_slow_receipt_and_durability() {
        let mut s = sg_us(1_000_000.0);
        s.delay_sends(ms(1000.0), ms(2000.0), ms(400.0));
        s.stall_fsync(ms(3000.0), ms(4000.0), ms(300.0));
        s.ship(1, ms(900.0), at(ms(900.0))); // before the delay: received 990
        assert_eq!(s.durable_time(1), Some(ms(995.0)));
        s.ship(2, ms(1000.0), at(ms(1000.0))); // received 1000 + 90 + 400
        assert_eq!(s.durable_time(2), Some(ms(1495.0)));
        assert_eq!(s.apply_time(2), Some(ms(1550.0)));
        // Sent after the window, on the chain behind entry 2's receipt.
        s.ship(3, ms(2000.0), at(ms(2000.0)));
        assert_eq!(s.durable_time(3), Some(ms(2095.0)));
        s.ship(4, ms(2905.0), at(ms(2905.0))); // received 2995: before the stall
        assert_eq!(s.durable_time(4), Some(ms(3000.0)));
        s.ship(5, ms(2910.0), at(ms(2910.0))); // received 3000: stalled
        assert_eq!(s.durable_time(5), Some(ms(3305.0)));
        // Visible only once durable: 3305 > 3000 + 60.
        assert_eq!(s.apply_time(5), Some(ms(3305.0)));
        // Received at 3990, still inside; its fsync ends at 4295.
        s.ship(6, ms(3900.0), at(ms(3900.0)));
        assert_eq!(s.durable_time(6), Some(ms(4295.0)));
        // Received after the stall, but durable in order behind entry 6.
        s.ship(7, ms(3950.0), at(ms(3950.0)));
        assert_eq!(s.durable_time(7), Some(ms(4295.0)));
        s.ship(8, ms(5000.0), at(ms(5000.0)));
        assert_eq!(s.durable_time(8), Some(ms(5095.0)));
        // A cut that holds an entry into the stall window stalls its fsync.
        let mut c = sg_us(1_000_000.0);
        c.stall_fsync(ms(3000.0), ms(4000.0), ms(300.0));
        c.ship(1, ms(2000.0), at(ms(2000.0)));
        c.advance(ms(2050.0));
        c.cut(ms(3500.0));
        assert_eq!(c.durable_time(1), Some(ms(3805.0)));
    }

    #[test]
    fn a_dead_sender_loses_only_what_was_still_on_the_wire() {
        let mut s = sg_us(1_000_000.0);
        s.ship(1, ms(1000.0), at(ms(1000.0))); // received 1090
        s.set_extra(ms(10_000.0));
        s.ship(2, ms(1050.0), at(ms(1050.0))); // received 1140, visible 11 200
        s.advance(ms(1092.0));
        s.drop_in_flight();
        assert_eq!(s.in_flight(), 1);
        assert_eq!(s.durable_time(2), None);
        assert_eq!(s.apply_time(2), None);
        // Entry 1 reached the follower: it still lands on time.
        assert_eq!(s.durable_time(1), Some(ms(1095.0)));
        assert_eq!(s.apply_time(1), Some(ms(1150.0)));
        // The lost entry no longer holds back the chain: one sent now is
        // received at 1290, visible at 1350 (not behind 11 200).
        s.set_extra(0);
        s.ship(3, ms(1200.0), at(ms(1200.0)));
        assert_eq!(s.durable_time(3), Some(ms(1295.0)));
        assert_eq!(s.apply_time(3), Some(ms(1350.0)));
        // Shipping advanced to 1200 ms: entry 1 is visible.
        assert_eq!((s.durable_lsn(), s.applied_lsn()), (1, 1));
        s.advance(ms(1295.0));
        assert_eq!((s.durable_lsn(), s.applied_lsn()), (3, 1));
        // Entry 3 was received at 1290: a death now does not take it.
        s.drop_in_flight();
        assert_eq!(s.in_flight(), 1);
        assert_eq!(s.drain(), ms(1350.0));
        assert_eq!((s.durable_lsn(), s.applied_lsn()), (3, 3));
        assert_eq!(s.in_flight(), 0);
    }

    #[test]
    fn a_slow_item_holds_back_everything_behind_it_but_not_its_durability() {
        let mut s = sg_us(1_000_000.0);
        s.advance(0); // the heartbeat at 0, before the spike
        s.set_extra(ms(4000.0));
        s.ship(1, ms(10.0), at(ms(10.0))); // received 100, visible 100 + 60 + 4000
        s.set_extra(0);
        s.ship(2, ms(20.0), at(ms(20.0))); // received 110, own visible 170
        assert_eq!(s.apply_time(1), Some(ms(4160.0)));
        assert_eq!(s.apply_time(2), Some(ms(4160.0)));
        assert_eq!(s.durable_time(2), Some(ms(115.0)));
        s.advance(ms(200.0));
        assert_eq!((s.durable_lsn(), s.applied_lsn()), (2, 0));
        assert_eq!(s.in_flight(), 2);
        s.advance(ms(4160.0));
        assert_eq!(s.applied_lsn(), 2);
        assert_eq!(s.in_flight(), 0);
    }

    #[test]
    fn iid_spikes_delay_every_item_and_drain_applies_everything() {
        // Spike on every draw: 60 + 4000 ms apply on a 90 ms link.
        let m = IidLag {
            normal: Normal {
                base: ms(60.0),
                jitter: 0,
            },
            spike_prob: 1.0,
            spike_base: ms(4000.0),
            spike_jitter: 0,
        };
        let mut s = FollowerStream::new(
            link(90.0, 0.0, 5.0),
            LagProcess::new(LagModel::Iid(m), substream(1, "lag", 0)),
            ms(100_000.0),
            substream(1, "net", 0),
        );
        s.ship(1, ms(10.0), at(ms(10.0)));
        s.ship(2, ms(20.0), at(ms(20.0)));
        assert_eq!(s.apply_time(1), Some(ms(4160.0)));
        assert_eq!(s.apply_time(2), Some(ms(4170.0)));
        s.advance(ms(4165.0));
        assert_eq!(s.applied_lsn(), 1);
        assert_eq!(s.in_flight(), 1);
        assert_eq!(s.drain(), ms(4170.0));
        assert_eq!((s.durable_lsn(), s.applied_lsn()), (2, 2));
        assert_eq!(s.in_flight(), 0);
    }

    /// A follower catching up on a backlog does not claim to be fresh: the
    /// watermark follows the commit times of what it has applied, and the
    /// first heartbeat goes out behind the backlog.
    #[test]
    fn a_backlog_moves_the_watermark_to_commit_times_not_to_the_send_time() {
        let mut s = sg_us(100.0).starting_at(ms(10_000.0));
        // Entries committed at 1 s, 2 s, 3 s, shipped at 10 s with the
        // apply lag: visible at 10.15 s, in order.
        for (lsn, c) in [(1, 1_000.0), (2, 2_000.0), (3, 3_000.0)] {
            s.ship_backlog(lsn, ms(c), at(ms(c)));
        }
        s.advance(ms(10_149.0));
        assert_eq!((s.applied_lsn(), s.watermark()), (0, 0));
        s.advance(ms(10_150.0));
        assert_eq!(s.applied_lsn(), 3);
        // The heartbeat sent at 10 s came behind: only then is it fresh.
        assert_eq!(s.watermark(), ms(10_000.0));
        assert_eq!(s.watermark_hlc(), at(ms(10_000.0)));
    }

    /// The caller's stamps travel with the items: each receipt is delivered
    /// once, in order, not before it is received; the watermark's stamp is
    /// the largest visible one.
    #[test]
    fn stamps_travel_with_the_items_and_receipts_are_delivered_in_order() {
        let mut s = sg_us(100.0);
        assert_eq!(s.watermark_hlc().l, i64::MIN);
        let stamp = |l: i64, c: u32| HlcStamp { l, c };
        // The heartbeat due at 0, sent by the caller with its own stamp.
        assert_eq!(s.next_heartbeat(), 0);
        s.heartbeat(stamp(7, 1));
        assert_eq!(s.next_heartbeat(), ms(100.0));
        s.ship(1, ms(50.0), stamp(ms(50.0) as i64 + 7, 0));
        // Received at 90 and 140 ms.
        assert_eq!(s.next_receipt(), Some(ms(90.0)));
        assert_eq!(s.deliver(ms(90.0) - 1), None);
        assert_eq!(s.deliver(ms(90.0)), Some((ms(90.0), stamp(7, 1))));
        assert_eq!(s.next_receipt(), Some(ms(140.0)));
        // Settling sends no heartbeat, even one that is due.
        s.settle(ms(150.0));
        assert_eq!((s.next_heartbeat(), s.watermark()), (ms(100.0), 0));
        assert_eq!(s.watermark_hlc(), stamp(7, 1));
        assert_eq!(s.deliver(ms(200.0)), Some((ms(140.0), stamp(50_007, 0))));
        assert_eq!((s.deliver(ms(200.0)), s.next_receipt()), (None, None));
        s.settle(ms(200.0));
        assert_eq!((s.applied_lsn(), s.watermark()), (1, ms(50.0)));
        assert_eq!(s.watermark_hlc(), stamp(50_007, 0));
        // Advancing sends the due heartbeats itself, with their send time;
        // the one sent at 100 ms was visible (250 ms) before anyone took it.
        s.advance(ms(300.0));
        assert_eq!(s.next_heartbeat(), ms(400.0));
        assert_eq!(s.watermark_hlc(), at(ms(100.0)));
        assert_eq!(s.deliver(ms(300.0)), Some((ms(290.0), at(ms(200.0)))));
        // A dead sender: what was not received (the 300 ms heartbeat, due at
        // 390 ms) is never delivered.
        assert_eq!(s.next_receipt(), Some(ms(390.0)));
        s.advance(ms(305.0));
        s.drop_in_flight();
        assert_eq!((s.deliver(ms(10_000.0)), s.next_receipt()), (None, None));
    }

    /// A snapshot is not free: one round trip to ask for it, then its bytes
    /// at 100 Mbit/s; what is shipped behind it arrives after it, and the
    /// follower has applied the log up to the snapshot's lsn at once.
    #[test]
    fn a_snapshot_takes_its_transfer_time_and_holds_back_what_follows() {
        let link = link(90.0, 0.0, 5.0);
        // 2,000 accounts x 64 B = 128,000 B at 12.5 MB/s: 10.24 ms.
        assert_eq!(snapshot_transfer(link, 2_000), ms(180.0) + 10_240);
        assert_eq!(snapshot_transfer(link, 0), ms(180.0));
        let transfer = snapshot_transfer(link, 2_000);
        let mut s = sg_us(100.0).starting_at(ms(10_000.0));
        s.ship_snapshot(500, ms(9_000.0), at(ms(9_000.0)), transfer);
        s.ship_backlog(501, ms(9_500.0), at(ms(9_500.0)));
        // Received after the one-way trip and the transfer; durable 5 ms on.
        let received = ms(10_090.0) + transfer;
        assert_eq!(s.durable_time(500), Some(received + ms(5.0)));
        assert_eq!(s.durable_time(420), Some(received + ms(5.0)));
        assert_eq!(s.apply_time(501), Some(received + ms(60.0)));
        s.advance(received + ms(60.0) - 1);
        assert_eq!(s.applied_lsn(), 0);
        s.advance(received + ms(60.0));
        assert_eq!(s.applied_lsn(), 501);
        // The heartbeats sent at 10.0 s and 10.1 s arrive behind the
        // snapshot (one link, in order) and become visible with lsn 501; the
        // 10.2 s one arrives at 10.29 s and is visible 60 ms later, after
        // this instant. So the follower is fresh as of 10.1 s, not of the
        // last entry's 9.5 s.
        assert_eq!(received + ms(60.0), ms(10_330.0) + 10_240);
        assert_eq!(s.watermark(), ms(10_100.0));
    }

    /// The binary search for an entry in flight finds what a scan from the
    /// front finds, with heartbeats between the entries and after a drop.
    #[test]
    fn finding_an_entry_in_flight_matches_a_scan() {
        let mut s = sg_us(7.0);
        let mut t = ms(1_000.0);
        for lsn in 1..=300u64 {
            t += ms(3.0) + (lsn % 5) * 1_000;
            s.ship(lsn, t, at(t));
            if lsn == 200 {
                s.advance(t);
                s.drop_in_flight();
            }
        }
        let scan = |s: &FollowerStream, lsn: u64| s.queue.iter().find(|i| i.lsn >= lsn).copied();
        for lsn in 0..=310 {
            assert_eq!(s.first_with(lsn).copied(), scan(&s, lsn), "lsn {lsn}");
        }
    }

    #[test]
    fn heartbeats_keep_staleness_bounded_without_writes() {
        let mut s = sg_us(100.0);
        for t in (0..100).map(|i| ms(10_000.0 + 37.0 * i as f64)) {
            s.advance(t);
            let st = s.staleness(t);
            // One way 90 ms + apply 60 ms, plus under one heartbeat interval.
            assert!((ms(150.0)..ms(250.0)).contains(&st), "{st}");
        }
    }

    #[test]
    fn a_stream_starting_late_sends_and_delivers_nothing_before_its_start() {
        let mut s = sg_us(100.0).starting_at(ms(5000.0));
        s.advance(ms(5149.0));
        assert_eq!((s.watermark(), s.in_flight()), (0, 2));
        s.advance(ms(5150.0));
        assert_eq!(s.watermark(), ms(5000.0));
    }

    #[test]
    fn jitter_keeps_receipts_in_order_and_within_the_link_bounds() {
        // fsync 0: an entry's durable time is its receipt.
        let mut s = FollowerStream::new(
            link(90.0, 40.0, 0.0),
            fixed(0.0),
            ms(1_000_000.0),
            substream(9, "net", 0),
        );
        // Sent 50 ms apart (> jitter): nothing ahead holds an entry back.
        let (mut lo, mut hi) = (Micros::MAX, 0);
        for lsn in 1..=2000u64 {
            let sent = lsn * ms(50.0);
            s.ship(lsn, sent, at(sent));
            let d = s.durable_time(lsn).unwrap() - sent;
            assert!((ms(90.0)..ms(130.0)).contains(&d), "{d}");
            (lo, hi) = (lo.min(d), hi.max(d));
        }
        // 2000 uniform draws span nearly all of [90, 130) ms.
        assert!(lo < ms(91.0) && hi > ms(129.0), "{lo} {hi}");
        // Sent 1 ms apart: receipts never overtake, and none is early.
        let mut prev = 0;
        for i in 1..=2000u64 {
            let lsn = 2000 + i;
            let sent = ms(200_000.0) + i * ms(1.0);
            s.ship(lsn, sent, at(sent));
            let r = s.durable_time(lsn).unwrap();
            assert!(r >= prev && r >= sent + ms(90.0), "{r}");
            assert!(r == prev || r < sent + ms(130.0), "{r}");
            prev = r;
        }
    }

    #[test]
    fn an_episode_shows_the_same_staleness_law_as_lag_at() {
        // Stall D = 4 s, k = 3: excess(u) rises 1 s/s on [O, O + 4 s), then
        // falls 2 s/s to 0 at O + 6 s. With 1 ms heartbeats on a 50 ms link
        // and no normal apply delay, a reader at t sees
        // 50 ms + excess(t − 50 ms), plus under one heartbeat.
        let m = EpisodicLag {
            normal: Normal { base: 0, jitter: 0 },
            stall_min: ms(4000.0),
            stall_max: ms(4000.0),
            catch_up: 3.0,
            ..EpisodicLag::default()
        };
        let lag = LagProcess::new(LagModel::Episodic(m), substream(3, "lag", 0));
        let onset = lag.next_onset();
        let mut s = FollowerStream::new(link(50.0, 0.0, 0.0), lag, ms(1.0), substream(3, "net", 0));
        let ow = ms(50.0);
        let cases = [
            // (t − onset, expected staleness)
            (ow - ms(1.0), ow),
            (ms(1000.0), ms(1000.0)), // excess(O + 950 ms) = 950 ms
            (ow + ms(1000.0), ow + ms(1000.0)),
            (ow + ms(4000.0), ow + ms(4000.0)),
            (ow + ms(5000.0), ow + ms(2000.0)),
            (ow + ms(6000.0), ow),
            (ow + ms(7000.0), ow),
        ];
        for (dt, expected) in cases {
            let t = onset + dt;
            s.advance(t);
            let st = s.staleness(t);
            // Replay times are whole microseconds (floor of (s − O)/3), so
            // the path may run up to 3 µs fresher than the exact law.
            assert!(
                expected - 3 <= st && st <= expected + ms(1.0),
                "t = onset + {dt} µs: staleness {st} µs, law {expected} µs"
            );
        }
        // The next episode is still to come: the trace saw only this one.
        assert!(s.lag.next_onset() > onset + ow + ms(7000.0));
    }
}
