//! The multi-leader event loop: [`World`] holds every region's balances
//! (and escrow rights), one `FollowerStream` per ordered pair of regions
//! carrying each region's own writes ([`Op`]) to every other, the clients'
//! attempts, and the money oracle.
//!
//! Key design decision: idempotency keys travel with the effects. A region
//! answers a key it has booked or applied with the first outcome; a retry
//! that lands in a region which has not yet seen its key (lww, crdt: the
//! client fails over on retry) books it again, which the oracle counts as a
//! duplicate effect. Escrow pins a key to the region its first attempt
//! entered: every retry goes there (or times out), so no key is ever booked
//! twice, at the cost of retries during that region's outage.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use replication::rng::substream;
use replication::{snapshot_transfer, FollowerStream, LagProcess, Link};
use routing::{ReadStrategy, Router};
use topology::{Micros, RegionId, SiteId};

use super::{MultiConfig, MultiResult, MultiSite, Rebalance, WritePath};
use crate::des::drive::{Arrivals, Play, Script};
use crate::des::faults::{apply_fault, slow_stream};
use crate::des::queue::EventQueue;
use crate::des::workload::{Request, Traffic};
use crate::des::{
    key_horizon, recovered_after, region_clocks, site_networks, site_slow_paths, slow_path,
};
use crate::des::{Attempt, Stop};
use crate::drill::sli::SliCounter;
use crate::drill::{DrillConfig, FaultKind, Watermark, Window};
use crate::ops::{ChargeFailure, Flag, Flags, Monitor};
use crate::Network;
use replication::clock::{ClockModel, HlcStamp};

/// One write a region ships to the others.
#[derive(Debug, Clone, Copy)]
struct Op {
    key: u64,
    account: u32,
    /// Signed effect on the balance.
    delta: i64,
    /// lww: the register's new value, its timestamp and its lineage length.
    value: i64,
    stamp: (i64, u8),
    len: u32,
    /// The effect's id in [`Lineage`] (lww).
    id: u32,
}

/// What can happen at an instant.
#[derive(Debug, Clone, Copy)]
enum Ev {
    FaultStart(usize),
    FaultEnd(usize),
    Arrive(Attempt),
    Answer {
        a: Attempt,
        answer: Answer,
    },
    Timeout(Attempt),
    Retry(Attempt),
    TopUp {
        region: u8,
        key: u64,
        account: u32,
        amount: i64,
    },
    Apply {
        from: u8,
        to: u8,
    },
    /// A request for rights reaches the donor.
    Ask {
        a: Attempt,
        donor: u8,
        asked: Micros,
        need: i64,
    },
    /// A grant (possibly of nothing) reaches the requester.
    Grant {
        a: Attempt,
        rights: i64,
        asked: Micros,
    },
    /// The requester stops waiting for rights.
    GiveUpRights(Attempt),
    /// Escrow, background: region `0` reports and rebalances.
    Tick(u8),
    /// Escrow, background: a report (`Bg::reports[id]`) reaches `to`.
    Report {
        from: u8,
        to: u8,
        id: u64,
    },
    /// Escrow, background: rights moved ahead of demand reach `to`.
    Move {
        to: u8,
        account: u32,
        rights: i64,
    },
    /// The monitor closes a window.
    Close,
    /// A runbook flag goes on (`true`) or off.
    Flag(Flag, bool),
}

/// One account's line in a background report: the account, the sender's
/// decayed demand and when it was taken, the sender's rights.
type Line = (u32, f64, Micros, i64);

/// What the regions know of each other for background rebalancing
/// (escrow under [`Rebalance::Background`]); indices `[r]` are the region
/// that knows, `[r][x]` what it knows of region `x`.
struct Bg {
    /// Its own decayed charge demand per account: (cents, as of).
    demand: Vec<Vec<(f64, Micros)>>,
    /// What it last heard of each other region's demand.
    peer_demand: Vec<Vec<Vec<(f64, Micros)>>>,
    /// What it last heard of each other region's rights (at first: the
    /// opening split, which every region knows), plus what it sent since.
    believed: Vec<Vec<Vec<i64>>>,
    /// When it last received a report from each other region.
    heard: Vec<Vec<Option<Micros>>>,
    /// Accounts whose demand or rights changed here since the last report
    /// that got through to each other region (kept across a cut: resent).
    dirty: Vec<Vec<BTreeSet<u32>>>,
    /// Accounts with some demand known here (its own or a peer's).
    active: Vec<BTreeSet<u32>>,
    /// No background transfer of an account before this time (until the
    /// receiver's report can reflect the last one).
    cooldown: Vec<Vec<Micros>>,
    /// Reports on their way, by id.
    reports: BTreeMap<u64, Vec<Line>>,
    next_report: u64,
    /// Rebalancing turns each region has taken (idle accounts are dropped
    /// every [`Rebalance::SWEEP_EVERY`]-th).
    ticks: Vec<u64>,
}

/// `v` cents of demand as of `at`, decayed to `now`.
fn decayed(v: f64, at: Micros, now: Micros) -> f64 {
    if v == 0.0 {
        return 0.0;
    }
    v * 0.5f64.powf(now.saturating_sub(at) as f64 / Rebalance::HALF_LIFE as f64)
}

/// Region `r`'s surplus of an account's rights over its target share
/// (the balance it sees, split in proportion to the demand `w` it knows of
/// per region, each initial holder credited [`Rebalance::PRIOR`], which is
/// added to `w`), and the total weight.
fn surplus(r: usize, w: &mut [f64], holder: &[bool], rights: i64, balance: i64) -> (f64, f64) {
    for (x, wx) in w.iter_mut().enumerate() {
        if holder[x] {
            *wx += Rebalance::PRIOR;
        }
    }
    let total: f64 = w.iter().sum();
    (rights as f64 - balance.max(0) as f64 * w[r] / total, total)
}

/// Whether region `r`, holding `rights` of an account whose balance it sees
/// as `balance`, may have a surplus of [`Rebalance::MIN_MOVE`] to give on
/// this turn, given only the other regions' *undecayed* demand (`peers`,
/// `peers[r]` ignored; overwritten). Its target share grows with its own demand and
/// shrinks with the others', and decay only lowers a demand, so its
/// smallest possible share is the one with no demand of its own and the
/// others' undecayed; if even that leaves it less than a minimum move above
/// its target, the full computation ([`surplus`]) finds nothing to give
/// either, and the exponentials are saved. The margin of one cent covers
/// rounding.
fn may_give(r: usize, peers: &mut [f64], holder: &[bool], rights: i64, balance: i64) -> bool {
    if rights < Rebalance::MIN_MOVE {
        return false;
    }
    peers[r] = 0.0;
    let (most, total) = surplus(r, peers, holder, rights, balance);
    total <= 0.0 || most >= Rebalance::MIN_MOVE as f64 - 1.0
}

/// How a region answered a charge's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Accepted,
    /// Declined: the money was short.
    Declined,
    /// Declined although the merged balance covered the charge (the
    /// region's replica or rights did not): a failed request for the
    /// site's verdicts, though the client hears a decline.
    Spurious,
}

impl Answer {
    fn declined(self) -> bool {
        self != Answer::Accepted
    }
}

/// Keys seen, each with a value (a region's answer, lww's effect id),
/// forgotten past the retry horizon (memory flat in run length).
struct Keys<V = Answer> {
    map: BTreeMap<u64, V>,
    order: VecDeque<(Micros, u64)>,
}

impl<V> Default for Keys<V> {
    fn default() -> Self {
        Keys {
            map: BTreeMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<V: Copy> Keys<V> {
    fn get(&self, key: u64) -> Option<V> {
        self.map.get(&key).copied()
    }

    /// Records `key` (with its value) unless known already; true when it
    /// was new.
    fn insert(&mut self, key: u64, value: V, now: Micros) -> bool {
        if self.map.contains_key(&key) {
            return false;
        }
        self.map.insert(key, value);
        self.order.push_back((now, key));
        true
    }

    fn prune(&mut self, now: Micros, horizon: Micros) {
        while let Some(&(t, k)) = self.order.front() {
            if t + horizon >= now {
                break;
            }
            self.order.pop_front();
            self.map.remove(&k);
        }
    }
}

/// Every booked effect, numbered in booking order: the effect its region's
/// register held when it was written (its parent in the lineage), whether
/// its client was told it was accepted, and, for charges, its idempotency
/// key. After convergence an lww register's value is the chain of effects
/// from its head back through the parents; an acknowledged effect off
/// every converged chain is a lost update, however many others were lost
/// with it. Kept for lww runs only: five bytes per effect for the run (a
/// multi-leader run is a drill's length), and a map entry per charge key
/// for a key horizon.
#[derive(Default)]
struct Lineage {
    parent: Vec<u32>,
    /// Per effect: [`Lineage::ACKNOWLEDGED`], [`Lineage::CHARGE`].
    flags: Vec<u8>,
    /// Charge keys → effect ids, to mark the acknowledgement when the
    /// answer reaches the client (a key booked twice keeps its first);
    /// forgotten a key horizon after booking, when no answer can come.
    ids: Keys<u32>,
}

impl Lineage {
    /// The parent of a register's first effect: the opening balance.
    const OPENING: u32 = u32::MAX;
    /// The effect's client was told it was accepted.
    const ACKNOWLEDGED: u8 = 1;
    /// The effect is a charge (else a top-up).
    const CHARGE: u8 = 2;

    /// Books effect `parent → new`, acknowledged at once (a top-up, whose
    /// answer the model does not play) or when its client hears so.
    ///
    /// Booked at `now`: a key booked more than `horizon` ago is forgotten
    /// (every answer to it has reached its client or never will).
    fn book(
        &mut self,
        parent: u32,
        key: Option<u64>,
        acknowledged: bool,
        now: Micros,
        horizon: Micros,
    ) -> u32 {
        let id = self.parent.len() as u32;
        self.parent.push(parent);
        self.flags.push(
            if acknowledged {
                Lineage::ACKNOWLEDGED
            } else {
                0
            } | if key.is_some() { Lineage::CHARGE } else { 0 },
        );
        self.ids.prune(now, horizon);
        if let Some(k) = key {
            self.ids.insert(k, id, now);
        }
        id
    }

    /// The client heard that charge `key` was accepted.
    fn acknowledge(&mut self, key: u64) {
        if let Some(id) = self.ids.get(key) {
            self.flags[id as usize] |= Lineage::ACKNOWLEDGED;
        }
    }

    /// Acknowledged effects on none of the chains ending at `heads`, and
    /// the first of them (by booking order).
    fn lost(&self, heads: &[u32]) -> (u64, Option<u32>) {
        let mut kept = vec![false; self.parent.len()];
        for &h in heads {
            let mut at = h;
            while at != Lineage::OPENING && !kept[at as usize] {
                kept[at as usize] = true;
                at = self.parent[at as usize];
            }
        }
        let acked = |i: usize| self.flags[i] & Lineage::ACKNOWLEDGED != 0;
        let mut lost = (0..self.parent.len()).filter(|&i| acked(i) && !kept[i]);
        let first = lost.next().map(|i| i as u32);
        (first.map_or(0, |_| 1 + lost.count() as u64), first)
    }
}

/// One region's state.
struct Region {
    /// Its view of every balance (lww: the register).
    balance: Vec<i64>,
    /// lww: each register's timestamp and lineage length.
    stamp: Vec<(i64, u8)>,
    len: Vec<u32>,
    /// lww: the effect at the head of each register's lineage
    /// ([`Lineage::OPENING`] before any).
    head: Vec<u32>,
    /// escrow: its rights per account.
    rights: Vec<i64>,
    keys: Keys,
    /// Writes it has booked (its log's last lsn).
    lsn: u64,
}

/// The link from one region to another: its stream and the ops on it.
struct Pipe {
    stream: FollowerStream,
    ops: VecDeque<(u64, Item)>,
    /// Per account with ops on the way: their commit times, oldest first
    /// (the age of the oldest is how old a read of it here is); an account
    /// held back ([`Held`]) counts once, at its first held write.
    pending: BTreeMap<u32, VecDeque<Micros>>,
    /// While a fault cuts the link (either end down, or a partition): the
    /// writes held back, to be sent as one catch-up when it heals.
    held: Option<Held>,
}

/// What a stream carries: one write, or the catch-up of every write held
/// back while the link was cut.
enum Item {
    Op(Op),
    Catchup(Box<Held>),
}

/// The writes a region could not send to another while the link was cut,
/// folded per account: what the receiver needs to reach the same state as
/// if it had applied them one by one (crdt, escrow: the sum of the effects;
/// lww: the newest write, since one region's writes to a register carry
/// increasing stamps), so memory does not grow with the outage. Sent as one
/// snapshot of the touched rows when the link heals (a delta-state
/// anti-entropy round, see docs/model.md).
#[derive(Default)]
struct Held {
    accounts: BTreeMap<u32, HeldLine>,
    /// The last held write's lsn and commit time.
    last: (u64, Micros),
    /// The held writes' idempotency keys within the key horizon of the
    /// newest (an older key cannot be retried any more), commit order.
    keys: VecDeque<(Micros, u64)>,
}

/// One account's held writes.
struct HeldLine {
    delta: i64,
    count: u32,
    newest: Op,
}

impl Pipe {
    /// Queues `item`, shipped on the stream as `lsn`, behind what is on
    /// the way; if nothing was, when its `Apply` is due (an `Apply` already
    /// due takes it in turn otherwise).
    fn queue(&mut self, lsn: u64, item: Item, now: Micros) -> Option<Micros> {
        let idle = self.ops.is_empty();
        self.ops.push_back((lsn, item));
        idle.then(|| self.stream.apply_time(lsn).unwrap_or(now))
    }

    /// Brings the stream to `t`: its heartbeats due by then are sent, or,
    /// while the link is cut, go unsent (a cut link delivers nothing; after
    /// it heals the next heartbeat is a fresh one).
    fn advance(&mut self, t: Micros) {
        if self.held.is_some() {
            while self.stream.next_heartbeat() <= t {
                self.stream.skip_heartbeat();
            }
            self.stream.settle(t);
        } else {
            self.stream.advance(t);
        }
    }
}

impl Held {
    /// Holds `op`, booked as `lsn` at `now`; true when it is the account's
    /// first held write.
    fn hold(&mut self, lsn: u64, now: Micros, op: &Op, horizon: Micros) -> bool {
        self.last = (lsn, now);
        while self.keys.front().is_some_and(|&(t, _)| t + horizon < now) {
            self.keys.pop_front();
        }
        self.keys.push_back((now, op.key));
        match self.accounts.entry(op.account) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(HeldLine {
                    delta: op.delta,
                    count: 1,
                    newest: *op,
                });
                true
            }
            std::collections::btree_map::Entry::Occupied(mut e) => {
                let line = e.get_mut();
                line.delta += op.delta;
                line.count += 1;
                line.newest = *op;
                false
            }
        }
    }
}

/// Reported staleness of a region that cannot serve reads (down, or a
/// witness): far over any bound, so `bounded` and `fallback` go elsewhere.
const UNAVAILABLE: Micros = Micros::MAX / 4;

/// The whole state of one multi-leader run.
pub(super) struct World<'a> {
    cfg: &'a MultiConfig,
    d: &'a DrillConfig,
    /// Region-to-region delays (and the paths' policies), from routing.
    router: Router<'a>,
    now: Micros,
    end: Micros,
    horizon: Micros,
    /// Requests so far.
    requests: u64,
    events: EventQueue<Ev>,
    regions: Vec<Region>,
    /// `pipes[from][to]`; `None` on the diagonal and to or from a witness.
    pipes: Vec<Vec<Option<Pipe>>>,
    net: Vec<Network>,
    slow: Vec<replication::rng::Rng>,
    /// Per region: the clock that stamps lww's writes.
    clocks: Vec<ClockModel>,
    outstanding: std::collections::BTreeSet<(u64, u32)>,
    /// The oracle: every booked effect, summed, per account.
    truth: Vec<i64>,
    /// Effects booked per account (the op-based paths' applied counts are
    /// judged against it).
    effects: Vec<u32>,
    /// Every booked effect's place in its register's lineage, and whether
    /// it was acknowledged: lww's losses are traced per effect.
    lineage: Lineage,
    booked: Keys,
    /// Escrow: rights in flight per account.
    in_flight: Vec<i64>,
    /// Escrow: attempts waiting for rights, `(key, attempt)`.
    waiting: std::collections::BTreeSet<(u64, u32)>,
    /// Top-ups sent so far (their keys).
    top_ups: u64,
    /// The runbook flags: which are on, and their switches.
    flags: Flags,
    /// Escrow under background rebalancing: what the regions know.
    bg: Option<Bg>,
    /// Good and valid events per site, second and objective.
    sli: SliCounter,
    /// The single-leader drills' monitor and alert rules, on B's reads and
    /// charge attempts.
    monitor: Monitor,
    /// Scratch: the staleness every region reports for the read at hand.
    staleness: Vec<Micros>,
    /// Per site, per second of first send: charges sent, and those
    /// answered (the recovery rule's counts; empty without a fault).
    sent: Vec<Vec<u32>>,
    answered: Vec<Vec<u32>>,
    out: MultiResult,
    /// The most the links held at a window's close: writes (items on the
    /// wire, ops queued behind them, keys held back by cuts) and accounts
    /// held back by cuts (tests of what the run holds).
    #[cfg(test)]
    most_held: (usize, usize),
}

impl<'a> World<'a> {
    fn new(cfg: &'a MultiConfig, seed: u64) -> World<'a> {
        let d = &cfg.drill;
        let t = &d.topology;
        // One network for both cores: every region-to-region delay from
        // routing, as the single-leader core takes it.
        let router = Router::new(t, d.read, d.write);
        let n = t.region_count();
        let accounts = d.workload.accounts as usize;
        let open = d.workload.opening_balance;
        let holders: Vec<usize> = cfg.rights_holders.iter().map(|r| r.idx()).collect();
        let regions = (0..n)
            .map(|r| {
                // The opening balance split over the holders; the first
                // holder takes the remainder.
                let share = match holders.iter().position(|&h| h == r) {
                    Some(0) => open - open / holders.len() as i64 * (holders.len() as i64 - 1),
                    Some(_) => open / holders.len() as i64,
                    None => 0,
                };
                Region {
                    balance: vec![open; accounts],
                    stamp: vec![(0, 0); accounts],
                    len: vec![0; accounts],
                    head: vec![Lineage::OPENING; accounts],
                    rights: vec![
                        if cfg.path == WritePath::Escrow {
                            share
                        } else {
                            0
                        };
                        accounts
                    ],
                    keys: Keys::default(),
                    lsn: 0,
                }
            })
            .collect();
        let pipes = (0..n)
            .map(|from| {
                (0..n)
                    .map(|to| {
                        (from != to && d.holds_data(from) && d.holds_data(to)).then(|| {
                            let id = ((from as u64) << 8) | to as u64;
                            let link = Link {
                                one_way: router.one_way(RegionId(from as u8), RegionId(to as u8)),
                                jitter: t.jitter(),
                                fsync: d.write.commit,
                            };
                            let lag = LagProcess::new(d.lag, substream(seed, "mlag", id));
                            // Heartbeats move the watermark a read reports
                            // when no write is on the way.
                            let mut stream = FollowerStream::new(
                                link,
                                lag,
                                d.workload.heartbeat,
                                substream(seed, "mlink", id),
                            );
                            slow_stream(&d.faults, &mut stream, from, to);
                            Pipe {
                                stream,
                                ops: VecDeque::new(),
                                pending: BTreeMap::new(),
                                held: None,
                            }
                        })
                    })
                    .collect()
            })
            .collect();
        let sites: Vec<SiteId> = t.site_ids().collect();
        // Per-second counts over the drill; recovery counts only where
        // there is a fault to recover from.
        let seconds = (d.duration / 1_000_000) as usize + 1;
        let recovery_seconds = if d.faults.is_empty() { 0 } else { seconds };
        let mut w = World {
            cfg,
            d,
            router,
            now: 0,
            end: d.duration,
            horizon: key_horizon(d),
            requests: 0,
            events: EventQueue::new(),
            regions,
            pipes,
            net: site_networks(t, seed),
            slow: site_slow_paths(t, seed),
            clocks: region_clocks(d, seed),
            outstanding: Default::default(),
            truth: vec![open; accounts],
            effects: vec![0; accounts],
            lineage: Lineage::default(),
            booked: Keys::default(),
            in_flight: vec![0; accounts],
            waiting: Default::default(),
            top_ups: 0,
            flags: Flags::default(),
            bg: None,
            sli: SliCounter::new(d, seconds),
            monitor: Monitor::new(d.signal_window, d.alerts.clone())
                .with_report_series(d.report_series),
            staleness: vec![0; n],
            sent: vec![vec![0; recovery_seconds]; sites.len()],
            answered: vec![vec![0; recovery_seconds]; sites.len()],
            #[cfg(test)]
            most_held: (0, 0),
            out: MultiResult {
                drill: d.name.clone(),
                write_path: cfg.path.name().to_string(),
                seed,
                sites: sites
                    .iter()
                    .map(|&s| MultiSite {
                        name: t.site_name(s).to_string(),
                        ..MultiSite::default()
                    })
                    .collect(),
                converged: true,
                invariants_expected: cfg.path.invariants_expected(),
                during: Window::new(sites.len()),
                outside: Window::new(sites.len()),
                ..MultiResult::default()
            },
        };
        for (i, f) in d.faults.iter().enumerate() {
            w.events.push(f.start, Ev::FaultStart(i));
            w.events.push(f.end, Ev::FaultEnd(i));
        }
        let window = w.monitor.window();
        w.events.push(window, Ev::Close);
        // `validate` refuses FORCE_LEADER_READ.
        for f in &d.flags {
            w.events.push(f.on, Ev::Flag(f.flag, true));
            w.events.push(f.off, Ev::Flag(f.flag, false));
        }
        if cfg.path == WritePath::Escrow && cfg.rebalance == Rebalance::Background {
            let opening: Vec<Vec<i64>> = w.regions.iter().map(|g| g.rights.clone()).collect();
            w.bg = Some(Bg {
                demand: vec![vec![(0.0, 0); accounts]; n],
                peer_demand: vec![vec![vec![(0.0, 0); accounts]; n]; n],
                believed: vec![opening; n],
                heard: vec![vec![None; n]; n],
                dirty: vec![vec![BTreeSet::new(); n]; n],
                active: vec![BTreeSet::new(); n],
                cooldown: vec![vec![0; accounts]; n],
                reports: BTreeMap::new(),
                next_report: 0,
                ticks: vec![0; n],
            });
            // Regions tick in turn, spread over the interval.
            for r in (0..n).filter(|&r| d.holds_data(r)) {
                let at = Rebalance::INTERVAL + Rebalance::INTERVAL * r as Micros / n as Micros;
                w.events.push(at, Ev::Tick(r as u8));
            }
        }
        w
    }

    fn down(&self, r: usize, t: Micros) -> bool {
        self.d.faults.iter().any(|f| {
            f.active(t) && matches!(f.kind, FaultKind::RegionDown { region } if region.idx() == r)
        })
    }

    fn in_fault(&self, t: Micros) -> bool {
        self.d
            .faults
            .iter()
            .any(|f| f.active(t) && f.kind.stops_traffic())
    }

    /// The region `site`'s new charges enter at `t`: its home, unless the
    /// home is down and health checks plus the DNS TTL have moved the site
    /// to the nearest region that is up (and back after the same delay).
    fn entry(&self, site: usize, t: Micros) -> usize {
        let topo = &self.d.topology;
        let home = topo.home(SiteId(site as u8)).idx();
        let moved = |f: &crate::drill::Fault| {
            let delay = self.d.detection + self.d.dns_ttl;
            matches!(f.kind, FaultKind::RegionDown { region } if region.idx() == home)
                && f.start + delay <= t
                && t < f.end + delay
        };
        if self.d.faults.iter().any(moved) {
            self.nearest_up(site, t).unwrap_or(home)
        } else {
            home
        }
    }

    /// The nearest data region of `site` that is up at `t`.
    fn nearest_up(&self, site: usize, t: Micros) -> Option<usize> {
        self.d
            .topology
            .regions_by_distance(SiteId(site as u8))
            .into_iter()
            .map(|r| r.idx())
            .find(|&r| self.d.holds_data(r) && !self.down(r, t))
    }

    /// When a message sent `from` → `to` at `t` is delivered, if a lost
    /// request (a cut link or a dead end drops it).
    fn rpc(&self, from: usize, to: usize, t: Micros) -> Option<Micros> {
        let blocked = self.d.faults.iter().any(|f| f.blocks(from, to, t));
        let one_way = self.one_way(from, to);
        (!blocked && !self.down(to, t + one_way)).then_some(t + one_way)
    }

    /// When rights sent `from` → `to` at `t` arrive: they are retried until
    /// the link heals, never lost.
    fn reliable(&self, from: usize, to: usize, mut t: Micros) -> Micros {
        while let Some(f) = self.d.faults.iter().find(|f| f.blocks(from, to, t)) {
            t = f.end;
        }
        t + self.one_way(from, to)
    }

    fn one_way(&self, a: usize, b: usize) -> Micros {
        self.router.one_way(RegionId(a as u8), RegionId(b as u8))
    }

    fn handle(&mut self, e: Ev) {
        match e {
            Ev::FaultStart(i) => self.fault_start(i),
            Ev::FaultEnd(i) => self.fault_end(i),
            Ev::Arrive(a) => self.arrive(a),
            Ev::Answer { a, answer } => self.answer(a, answer),
            Ev::Timeout(a) => {
                if self.outstanding.remove(&(a.key, a.number)) {
                    self.monitor
                        .charge_timed_out(self.now, self.d.write.deadline);
                    self.give_up(a);
                }
            }
            Ev::Retry(a) => self.send(a),
            Ev::TopUp {
                region,
                key,
                account,
                amount,
            } => self.top_up(region as usize, key, account, amount),
            Ev::Apply { from, to } => self.apply(from as usize, to as usize),
            Ev::Ask {
                a,
                donor,
                asked,
                need,
            } => self.ask(a, donor as usize, asked, need),
            Ev::Grant { a, rights, asked } => self.grant(a, rights, asked),
            Ev::GiveUpRights(a) => {
                if self.pending_rights_remove(a) {
                    self.decide(a, true);
                }
            }
            Ev::Tick(r) => self.tick(r as usize),
            Ev::Report { from, to, id } => self.report_in(from as usize, to as usize, id),
            Ev::Move {
                to,
                account,
                rights,
            } => self.move_in(to as usize, account, rights),
            Ev::Close => self.close_window(),
            // DISABLE_RECS has nothing to shed here (B serves no
            // eligibility reads); WRITE_READONLY_MODE is read by `send`.
            Ev::Flag(f, on) => {
                self.flags.set(f, on, self.now);
            }
        }
    }

    // ---- faults ----------------------------------------------------------

    fn fault_start(&mut self, i: usize) {
        let f = self.d.faults[i];
        for from in 0..self.pipes.len() {
            for to in 0..self.pipes.len() {
                if let Some(p) = self.pipes[from][to].as_mut() {
                    p.advance(f.start);
                    apply_fault(&f, &mut p.stream, from, to, f.start);
                    if f.blocks(from, to, f.start) && p.held.is_none() {
                        p.held = Some(Held::default());
                    }
                }
            }
        }
    }

    fn fault_end(&mut self, i: usize) {
        let d = self.d;
        let f = d.faults[i];
        let now = self.now;
        let mut last = now;
        for from in 0..self.pipes.len() {
            for to in 0..self.pipes.len() {
                if let Some(p) = self.pipes[from][to].as_mut() {
                    if let FaultKind::LagSpike { from: a, to: b, .. } = f.kind {
                        if (a.idx(), b.idx()) == (from, to) {
                            p.stream.set_extra(0);
                        }
                    }
                    p.advance(now);
                    if p.held.is_some() && !d.faults.iter().any(|g| g.blocks(from, to, now)) {
                        // The link heals: what was held goes as one
                        // snapshot of the touched rows, behind what was
                        // already on the wire.
                        let h = p.held.take().expect("checked");
                        if !h.accounts.is_empty() {
                            let (lsn, at) = h.last;
                            let transfer =
                                snapshot_transfer(p.stream.link(), h.accounts.len() as u64);
                            p.stream.ship_snapshot(
                                lsn,
                                at,
                                HlcStamp::physical(at as i64),
                                transfer,
                            );
                            if let Some(due) = p.queue(lsn, Item::Catchup(Box::new(h)), now) {
                                let (from, to) = (from as u8, to as u8);
                                self.events.push(due, Ev::Apply { from, to });
                            }
                        }
                    }
                    if let Some(&(lsn, _)) = p.ops.back() {
                        last = last.max(p.stream.apply_time(lsn).unwrap_or(now));
                    }
                }
            }
        }
        if f.kind.stops_traffic() {
            let c = last - now;
            self.out.convergence = Some(self.out.convergence.map_or(c, |x| x.max(c)));
        }
    }

    // ---- clients ---------------------------------------------------------

    fn request(&mut self, site: usize, req: Request, n: &mut u64) {
        self.net[site].draw();
        match req {
            Request::Read { account, .. } => self.read(site, account),
            Request::Charge { account, amount } => {
                *n += 1;
                self.out.charges += 1;
                self.sli.charge_sent(site, self.now);
                count(&mut self.sent, site, self.now);
                if self.in_fault(self.now) {
                    self.out.sites[site].sent_during += 1;
                }
                let region = self.entry(site, self.now) as u8;
                self.send(Attempt::first(
                    ((site as u64) << 48) | *n,
                    site,
                    account,
                    amount,
                    self.now,
                    region,
                ));
            }
            Request::TopUp { account, amount } => {
                self.top_ups += 1;
                let key = ((site as u64) << 48) | (1 << 47) | self.top_ups;
                let r = self.entry(site, self.now);
                if !self.down(r, self.now) {
                    let (out, _) = self.legs(site, r);
                    self.events.push(
                        self.now + out,
                        Ev::TopUp {
                            region: r as u8,
                            key,
                            account,
                            amount,
                        },
                    );
                }
            }
        }
    }

    fn legs(&mut self, site: usize, r: usize) -> (Micros, Micros) {
        let t = &self.d.topology;
        if self.net[site].entry_at != RegionId(r as u8) {
            self.net[site].set_entry(t, RegionId(r as u8));
        }
        self.net[site].legs_via_entry(RegionId(r as u8))
    }

    /// Sends (or re-sends) attempt `a`: a retry goes to the key's owner under
    /// escrow, else to the site's entry region or, if that is down, to the
    /// nearest region that is up (the client fails over).
    fn send(&mut self, mut a: Attempt) {
        a.sent = self.now;
        let site = a.site as usize;
        if self.flags.is_on(Flag::WriteReadonlyMode) {
            // Refused at the door, first attempt or retry: nothing is booked.
            self.out.rejected_charges += 1;
            self.monitor
                .charge_failed(self.now, ChargeFailure::Rejected);
            return;
        }
        if a.number > 1 {
            a.entry = if self.cfg.path == WritePath::Escrow {
                a.owner
            } else {
                let e = self.entry(site, self.now);
                if self.down(e, self.now) {
                    self.nearest_up(site, self.now).unwrap_or(e) as u8
                } else {
                    e as u8
                }
            };
        }
        let r = a.entry as usize;
        self.outstanding.insert((a.key, a.number));
        self.events
            .push(a.sent + self.d.write.deadline, Ev::Timeout(a));
        if self.down(r, self.now) {
            return;
        }
        let (out, back) = self.legs(site, r);
        a.back = back;
        let slow = slow_path(&mut self.slow[site], &self.d.workload);
        self.events.push(self.now + out + slow, Ev::Arrive(a));
    }

    fn give_up(&mut self, a: Attempt) {
        match a.retry(self.now, self.d.write.deadline, &self.d.workload) {
            Some((at, next)) => self.events.push(at, Ev::Retry(next)),
            None => self.out.unknown_outcome_charges += 1,
        }
    }

    fn answer(&mut self, a: Attempt, answer: Answer) {
        if !self.outstanding.remove(&(a.key, a.number)) {
            return;
        }
        // A decline is an answer: the attempt did not fail, as far as the
        // monitor (which cannot see the merged balance) can tell.
        self.monitor.charge_ok(self.now - a.sent);
        let latency = self.now - a.first_sent;
        let site = a.site as usize;
        // The verdicts judge the user's request: declined although the
        // money was there, it failed (a bad event, as an unanswered one).
        if answer != Answer::Spurious {
            self.sli.charge_answered(site, a.first_sent, latency);
        }
        let declined = answer.declined();
        self.window(a.first_sent).sites[site].write.record(latency);
        count(&mut self.answered, site, a.first_sent);
        let s = &mut self.out.sites[site];
        s.charge.record(latency);
        if self
            .d
            .faults
            .iter()
            .any(|f| f.active(a.first_sent) && f.kind.stops_traffic())
        {
            s.answered_during += 1;
        }
        if declined {
            self.out.declined_charges += 1;
        } else {
            self.out.acknowledged_charges += 1;
            if self.cfg.path == WritePath::Lww {
                self.lineage.acknowledge(a.key);
            }
        }
    }

    // ---- reads -----------------------------------------------------------

    /// The window (inside or outside the faults) a time belongs to.
    fn window(&mut self, t: Micros) -> &mut Window {
        if self.d.faults.iter().any(|f| f.active(t)) {
            &mut self.out.during
        } else {
            &mut self.out.outside
        }
    }

    /// Whether regions `a` and `b` reach each other at `t`.
    fn reachable(&self, a: usize, b: usize, t: Micros) -> bool {
        !self
            .d
            .faults
            .iter()
            .any(|f| f.blocks(a, b, t) || f.blocks(b, a, t))
    }

    /// Region `r`'s clock at true time `t`.
    fn pt(&self, r: usize, t: Micros) -> i64 {
        self.clocks.get(r).map_or(t as i64, |c| c.read(t))
    }

    /// The staleness region `r` reports now: its lag behind the region it
    /// is furthest behind. Every other region is a writer whose stream
    /// carries a watermark (the commit time of its last write visible
    /// here, or of its last heartbeat); `r` reads it as its own clock now
    /// minus the writer's clock at the watermark (`wall`), plus the skew
    /// bound as uncertainty under `hybrid`, as the single-leader replicas
    /// do.
    fn reported(&mut self, r: usize) -> Micros {
        let now = self.now;
        if !self.d.holds_data(r) || self.down(r, now) {
            return UNAVAILABLE;
        }
        let mut worst = 0;
        for from in 0..self.pipes.len() {
            let Some(p) = self.pipes[from][r].as_mut() else {
                continue;
            };
            p.advance(now);
            let mark = p.stream.watermark();
            let wall = (self.pt(r, now) - self.pt(from, mark)).max(0);
            let reported = match self.d.watermark {
                Watermark::Wall => wall,
                Watermark::Hybrid => wall + self.d.skew_bound as i64,
            };
            worst = worst.max(reported as Micros);
        }
        worst
    }

    /// How old the balance of `account` that region `r` answers with is
    /// now: the age of the oldest write to it booked in another region
    /// and not yet applied here; 0 if none.
    fn data_age(&self, r: usize, account: u32) -> Micros {
        (0..self.pipes.len())
            .filter_map(|from| self.pipes[from][r].as_ref())
            .filter_map(|p| p.pending.get(&account).and_then(|q| q.front()))
            .map(|&at| self.now.saturating_sub(at))
            .max()
            .unwrap_or(0)
    }

    /// One balance read from `site` now, by the drill's read strategy.
    /// Every region takes writes, so the local replica is fresh for the
    /// site's own region and behind the others by their streams' lag. With
    /// no leader to escalate to, a read the strategy sends away from a
    /// stale entry region (`bounded`, `fallback`) goes to the freshest
    /// region the entry region reaches; a contract no reachable region
    /// meets fails the read, as it does on a single leader.
    fn read(&mut self, site: usize, account: u32) {
        let now = self.now;
        let e = self.entry(site, now);
        if self.down(e, now) || !self.d.holds_data(e) {
            return self.failed_read(site);
        }
        let strategy = self.d.strategy;
        // `local` reads only the entry region's staleness; the others may
        // go to the freshest region and need every region's.
        for r in 0..self.staleness.len() {
            if r == e || strategy != ReadStrategy::Local {
                self.staleness[r] = self.reported(r);
            }
        }
        let fresh = (0..self.staleness.len())
            .filter(|&r| r != e && self.staleness[r] < UNAVAILABLE && self.reachable(e, r, now))
            .min_by_key(|&r| (self.staleness[r], self.one_way(e, r), r))
            .unwrap_or(e);
        if self.net[site].entry_at != RegionId(e as u8) {
            self.net[site].set_entry(&self.d.topology, RegionId(e as u8));
        }
        let out = {
            let snap = self.net[site].snapshot(RegionId(fresh as u8), &self.staleness);
            self.router.read(strategy, &snap)
        };
        let limit = match strategy {
            ReadStrategy::Bounded => self.d.read.max_staleness,
            ReadStrategy::Fallback => self.d.read.fallback_threshold,
            _ => UNAVAILABLE - 1,
        };
        let served = out.served_by.idx();
        if out.staleness > limit || served != e && !self.reachable(e, served, now) {
            return self.failed_read(site);
        }
        let data_age = self.data_age(served, account);
        let bound = self.d.read.max_staleness;
        // The lag signal watches the entry region's replica, whoever answered.
        self.monitor.read(now, out.staleness, self.staleness[e]);
        self.monitor.answered(out.staleness, data_age);
        self.sli
            .read(site, now, out.latency, out.staleness, data_age);
        // No region of B leads: no read is a leader's.
        self.window(now).sites[site].record_read(&out, data_age, bound, false);
    }

    fn failed_read(&mut self, site: usize) {
        let now = self.now;
        self.monitor.read_failed(now);
        self.window(now).sites[site].failed_reads += 1;
        self.sli.read_failed(site, now);
    }

    // ---- regions ---------------------------------------------------------

    /// An attempt reaches its region.
    fn arrive(&mut self, a: Attempt) {
        let r = a.entry as usize;
        if self.down(r, self.now) {
            return;
        }
        self.regions[r].keys.prune(self.now, self.horizon);
        if let Some(answer) = self.regions[r].keys.get(a.key) {
            self.out.duplicates_suppressed += 1;
            return self.reply(a, answer);
        }
        let acct = a.account as usize;
        let have = match self.cfg.path {
            WritePath::Escrow => self.regions[r].rights[acct],
            _ => self.regions[r].balance[acct],
        };
        let now = self.now;
        if let Some(bg) = self.bg.as_mut() {
            let (v, at) = bg.demand[r][acct];
            bg.demand[r][acct] = (decayed(v, at, now) + a.amount as f64, now);
            bg.active[r].insert(a.account);
            for d in &mut bg.dirty[r] {
                d.insert(a.account);
            }
        }
        if have >= a.amount {
            return self.decide(a, false);
        }
        if self.cfg.path != WritePath::Escrow {
            return self.decide(a, true);
        }
        if let Some(bg) = self.bg.as_ref() {
            // Neither its replica of the balance nor the rights the other
            // regions last reported cover the charge: asking for rights
            // would only delay the decline.
            let reported: i64 = (0..self.regions.len())
                .filter(|&x| x != r)
                .map(|x| bg.believed[r][x][acct])
                .sum();
            if self.regions[r].balance[acct].max(have + reported) < a.amount {
                self.out.declined_locally += 1;
                return self.decide(a, true);
            }
        }
        self.request_rights(a);
    }

    /// Region `a.entry` books (or declines) `a` now and answers after its
    /// commit.
    fn decide(&mut self, a: Attempt, declined: bool) {
        let r = a.entry as usize;
        let acct = a.account as usize;
        let answer = match declined {
            false => Answer::Accepted,
            true if self.truth[acct] >= a.amount => Answer::Spurious,
            true => Answer::Declined,
        };
        if !self.regions[r].keys.insert(a.key, answer, self.now) {
            // Booked meanwhile (a rights wait overlapped a retry).
            let first = self.regions[r].keys.get(a.key).unwrap_or(Answer::Declined);
            return self.reply(a, first);
        }
        if declined {
            if answer == Answer::Spurious {
                self.out.spurious_declines += 1;
                if self
                    .d
                    .faults
                    .iter()
                    .any(|f| f.active(a.first_sent) && f.kind.stops_traffic())
                {
                    self.out.sites[a.site as usize].spurious_during += 1;
                }
            }
        } else {
            if self.cfg.path == WritePath::Escrow {
                self.regions[r].rights[acct] -= a.amount;
            }
            self.book(r, a.key, a.account, -a.amount);
            if self.cfg.path == WritePath::Escrow {
                self.conserve(acct);
                self.changed(r, a.account);
            }
        }
        self.reply(a, answer);
    }

    /// The region answers once its commit is done (slower while its disk
    /// stalls), if it is still up then.
    fn reply(&mut self, a: Attempt, answer: Answer) {
        let r = a.entry as usize;
        let stall: Micros = self.d.faults.iter().map(|f| f.stall(r, self.now)).sum();
        let done = self.now + self.d.write.commit + stall;
        let at = done + a.back;
        if !self.down(a.entry as usize, done) && at <= a.sent + self.d.write.deadline {
            self.events.push(at, Ev::Answer { a, answer });
        }
    }

    /// Region `r` books an effect: its own balance, the oracle, and the op
    /// shipped to every other region.
    fn book(&mut self, r: usize, key: u64, account: u32, delta: i64) {
        let acct = account as usize;
        if !self.booked.insert(key, Answer::Accepted, self.now) {
            self.out.duplicate_effects += 1;
        }
        self.booked.prune(self.now, self.horizon);
        let before = self.truth[acct];
        self.truth[acct] += delta;
        if self.truth[acct] < 0 && delta < 0 {
            if before >= 0 {
                self.out.overspend_incidents += 1;
            }
            self.out.overspend_amount += (-self.truth[acct]).min(-delta);
        }
        self.effects[acct] += 1;
        let reg = &mut self.regions[r];
        reg.balance[acct] += delta;
        reg.len[acct] += 1;
        // A top-up (the only positive effect) has no answer to wait for.
        let id = if self.cfg.path == WritePath::Lww {
            let charge = (delta < 0).then_some(key);
            self.lineage
                .book(reg.head[acct], charge, delta > 0, self.now, self.horizon)
        } else {
            Lineage::OPENING
        };
        reg.head[acct] = id;
        let clock = self
            .clocks
            .get(r)
            .map_or(self.now as i64, |c| c.read(self.now));
        reg.stamp[acct] = (clock.max(reg.stamp[acct].0 + 1), r as u8);
        reg.lsn += 1;
        let op = Op {
            key,
            account,
            delta,
            value: reg.balance[acct],
            stamp: reg.stamp[acct],
            len: reg.len[acct],
            id,
        };
        let lsn = reg.lsn;
        let now = self.now;
        for to in 0..self.pipes.len() {
            if let Some(p) = self.pipes[r][to].as_mut() {
                if let Some(h) = p.held.as_mut() {
                    if h.hold(lsn, now, &op, self.horizon) {
                        p.pending.entry(account).or_default().push_back(now);
                    }
                    continue;
                }
                // The watermark is on the true clock (the commit time);
                // a reading turns it into the regions' clocks (`reported`).
                p.stream.ship(lsn, now, HlcStamp::physical(now as i64));
                p.pending.entry(account).or_default().push_back(now);
                if let Some(at) = p.queue(lsn, Item::Op(op), now) {
                    let (from, to) = (r as u8, to as u8);
                    self.events.push(at, Ev::Apply { from, to });
                }
            }
        }
    }

    /// The stream `from` → `to` applies what has become visible by now.
    fn apply(&mut self, from: usize, to: usize) {
        let now = self.now;
        let path = self.cfg.path;
        let Some(p) = self.pipes[from][to].as_mut() else {
            return;
        };
        p.advance(now);
        let upto = p.stream.applied_lsn();
        let reg = &mut self.regions[to];
        reg.keys.prune(now, self.horizon);
        while p.ops.front().is_some_and(|&(l, _)| l <= upto) {
            let (_, item) = p.ops.pop_front().expect("checked");
            let mut arrived = |account: u32| {
                if let Some(q) = p.pending.get_mut(&account) {
                    q.pop_front();
                    if q.is_empty() {
                        p.pending.remove(&account);
                    }
                }
            };
            match item {
                Item::Op(op) => {
                    arrived(op.account);
                    apply_op(reg, path, &op, now);
                }
                Item::Catchup(h) => {
                    h.accounts.keys().for_each(|&a| arrived(a));
                    apply_held(reg, path, &h, now);
                }
            }
        }
        if let Some(&(lsn, _)) = p.ops.front() {
            let at = p.stream.apply_time(lsn).unwrap_or(now).max(now + 1);
            self.events.push(
                at,
                Ev::Apply {
                    from: from as u8,
                    to: to as u8,
                },
            );
        }
    }

    fn top_up(&mut self, r: usize, key: u64, account: u32, amount: i64) {
        if self.down(r, self.now) || !self.regions[r].keys.insert(key, Answer::Accepted, self.now) {
            return;
        }
        if self.cfg.path == WritePath::Escrow {
            self.regions[r].rights[account as usize] += amount;
        }
        self.book(r, key, account, amount);
        if self.cfg.path == WritePath::Escrow {
            self.conserve(account as usize);
            self.changed(r, account);
        }
    }

    // ---- escrow rights ---------------------------------------------------

    /// Region `a.entry` holds `have` rights, short of `a.amount`: it asks
    /// the nearest other holder for the rest, if the round trip fits the
    /// client's deadline; else it declines.
    fn request_rights(&mut self, a: Attempt) {
        let r = a.entry as usize;
        let acct = a.account as usize;
        let need = a.amount - self.regions[r].rights[acct];
        // Under background rebalancing rights can be anywhere: the nearest
        // region believed to hold enough, else the nearest opening holder.
        let believed = self.bg.as_ref().and_then(|bg| {
            (0..self.regions.len())
                .filter(|&x| x != r && self.d.holds_data(x) && bg.believed[r][x][acct] >= need)
                .min_by_key(|&x| (self.one_way(r, x), x))
        });
        let donor = believed.or_else(|| {
            self.d
                .topology
                .region_ids()
                .map(|x| x.idx())
                .filter(|&x| x != r && self.cfg.rights_holders.iter().any(|h| h.idx() == x))
                .min_by_key(|&x| (self.one_way(r, x), x))
        });
        let Some(donor) = donor else {
            return self.decide(a, true);
        };

        let rtt = 2 * self.one_way(r, donor);
        let fits = self.now + rtt + self.d.write.commit + a.back <= a.sent + self.d.write.deadline;
        if !fits {
            return self.decide(a, true);
        }
        self.out.rights_requests += 1;
        if self.truth[acct] < a.amount {
            self.out.rights_requests_short += 1;
        }
        self.pending_rights_insert(a);
        self.events.push(self.now + rtt + 1, Ev::GiveUpRights(a));
        if let Some(at) = self.rpc(r, donor, self.now) {
            let asked = self.now;
            self.events.push(
                at,
                Ev::Ask {
                    a,
                    donor: donor as u8,
                    asked,
                    need,
                },
            );
        }
    }

    /// The donor hands over what the requester lacks, or half of its own
    /// rights if that is more; nothing if it holds less than the lack.
    fn ask(&mut self, a: Attempt, donor: usize, asked: Micros, need: i64) {
        let r = a.entry as usize;
        if self.down(donor, self.now) {
            return;
        }
        let acct = a.account as usize;
        let held = self.regions[donor].rights[acct];
        let give = if held >= need { need.max(held / 2) } else { 0 };
        self.regions[donor].rights[acct] -= give;
        self.in_flight[acct] += give;
        self.conserve(acct);
        self.changed(donor, a.account);
        // A refusal is an ordinary reply (lost on a cut link); granted
        // rights are retried until they arrive.
        let at = if give > 0 {
            Some(self.reliable(donor, r, self.now))
        } else {
            self.rpc(donor, r, self.now)
        };
        if let Some(at) = at {
            self.events.push(
                at,
                Ev::Grant {
                    a,
                    rights: give,
                    asked,
                },
            );
        }
    }

    fn grant(&mut self, a: Attempt, rights: i64, asked: Micros) {
        let r = a.entry as usize;
        let acct = a.account as usize;
        self.in_flight[acct] -= rights;
        self.regions[r].rights[acct] += rights;
        self.conserve(acct);
        self.changed(r, a.account);
        if rights > 0 {
            self.out.rights_transfers += 1;
            self.out.rights_latency.record(self.now - asked);
        } else {
            self.out.rights_refused += 1;
        }
        if self.pending_rights_remove(a) {
            let ok = self.regions[r].rights[acct] >= a.amount;
            self.decide(a, !ok);
        }
    }

    // ---- escrow: background rebalancing -----------------------------------

    /// Region `r`'s rights to `account` changed: its next reports say so.
    fn changed(&mut self, r: usize, account: u32) {
        if let Some(bg) = self.bg.as_mut() {
            for d in &mut bg.dirty[r] {
                d.insert(account);
            }
        }
    }

    /// Region `r`'s turn: it reports to every other data region, then moves
    /// surplus rights toward demand.
    fn tick(&mut self, r: usize) {
        let next = self.now + Rebalance::INTERVAL;
        if next < self.end {
            self.events.push(next, Ev::Tick(r as u8));
        }
        if self.down(r, self.now) {
            return;
        }
        self.report_out(r);
        self.rebalance(r);
    }

    /// Region `r` tells every other data region the demand and rights of
    /// the accounts that changed since its last report got through (an
    /// empty report is a heartbeat). A report that cannot get through (cut
    /// link, region down) is not lost: its accounts stay in the next one.
    fn report_out(&mut self, r: usize) {
        let now = self.now;
        for x in 0..self.regions.len() {
            if x == r || !self.d.holds_data(x) {
                continue;
            }
            let Some(at) = self.rpc(r, x, now) else {
                continue;
            };
            let bg = self.bg.as_mut().expect("background");
            let lines: Vec<Line> = std::mem::take(&mut bg.dirty[r][x])
                .into_iter()
                .map(|acct| {
                    let (v, t) = bg.demand[r][acct as usize];
                    (
                        acct,
                        decayed(v, t, now),
                        now,
                        self.regions[r].rights[acct as usize],
                    )
                })
                .collect();
            let id = bg.next_report;
            bg.next_report += 1;
            bg.reports.insert(id, lines);
            self.events.push(
                at,
                Ev::Report {
                    from: r as u8,
                    to: x as u8,
                    id,
                },
            );
        }
    }

    /// A report from `from` reaches `to`.
    fn report_in(&mut self, from: usize, to: usize, id: u64) {
        let now = self.now;
        let bg = self.bg.as_mut().expect("background");
        let lines = bg.reports.remove(&id).unwrap_or_default();
        bg.heard[to][from] = Some(now);
        for (acct, v, t, rights) in lines {
            bg.peer_demand[to][from][acct as usize] = (v, t);
            bg.believed[to][from][acct as usize] = rights;
            if v > 0.0 {
                bg.active[to].insert(acct);
            }
        }
    }

    /// Region `r` sends its surplus rights (above its target share: the
    /// balance it sees, split in proportion to the demand it knows of) to
    /// the region furthest below its own target, largest first, at most
    /// [`Rebalance::MAX_MOVES`] a turn; only to a region it has heard from
    /// lately (a cut link stops the reports, and so the transfers).
    fn rebalance(&mut self, r: usize) {
        let now = self.now;
        let n = self.regions.len();
        let fresh: Vec<bool> = {
            let bg = self.bg.as_ref().expect("background");
            (0..n)
                .map(|x| {
                    x != r
                        && self.d.holds_data(x)
                        && bg.heard[r][x].is_some_and(|t| now - t <= 2 * Rebalance::INTERVAL)
                        && self.rpc(r, x, now).is_some()
                })
                .collect()
        };
        let holder: Vec<bool> = (0..n)
            .map(|x| self.cfg.rights_holders.iter().any(|h| h.idx() == x))
            .collect();
        let mut moves: Vec<(i64, u32, usize)> = Vec::new();
        let mut idle: Vec<u32> = Vec::new();
        {
            let bg = self.bg.as_mut().expect("background");
            bg.ticks[r] += 1;
            let sweep = bg.ticks[r].is_multiple_of(Rebalance::SWEEP_EVERY);
            let bg = self.bg.as_ref().expect("background");
            let mut w = vec![0.0f64; n];
            for &acct in &bg.active[r] {
                let a = acct as usize;
                let (rights, balance) = (self.regions[r].rights[a], self.regions[r].balance[a]);
                // Most accounts have nothing to give: find them without an
                // exponential (idle ones are still dropped, on a sweep).
                if !sweep {
                    for (x, wx) in w.iter_mut().enumerate() {
                        *wx = if x == r {
                            0.0
                        } else {
                            bg.peer_demand[r][x][a].0
                        };
                    }
                    if !may_give(r, &mut w, &holder, rights, balance) {
                        continue;
                    }
                }
                for (x, wx) in w.iter_mut().enumerate() {
                    let (v, t) = if x == r {
                        bg.demand[r][a]
                    } else {
                        bg.peer_demand[r][x][a]
                    };
                    *wx = decayed(v, t, now);
                }
                let demand: f64 = w.iter().sum();
                if demand < 1.0 {
                    idle.push(acct);
                    continue;
                }
                if rights < Rebalance::MIN_MOVE {
                    continue;
                }
                if now < bg.cooldown[r][a] {
                    continue;
                }
                let (surplus, total) = surplus(r, &mut w, &holder, rights, balance);
                if surplus < Rebalance::MIN_MOVE as f64 {
                    continue;
                }
                let balance = balance.max(0) as f64;
                let best = (0..n)
                    .filter(|&x| fresh[x])
                    .map(|x| (balance * w[x] / total - bg.believed[r][x][a] as f64, x))
                    .max_by(|p, q| p.0.total_cmp(&q.0).then(q.1.cmp(&p.1)));
                if let Some((deficit, x)) = best {
                    let give = surplus.min(deficit).floor() as i64;
                    if give >= Rebalance::MIN_MOVE {
                        moves.push((give, acct, x));
                    }
                }
            }
        }
        let bg = self.bg.as_mut().expect("background");
        for acct in idle {
            bg.active[r].remove(&acct);
        }
        moves.sort_by_key(|&(give, acct, _)| (std::cmp::Reverse(give), acct));
        moves.truncate(Rebalance::MAX_MOVES);
        for (give, acct, x) in moves {
            let a = acct as usize;
            self.regions[r].rights[a] -= give;
            self.in_flight[a] += give;
            self.conserve(a);
            self.changed(r, acct);
            let rtt = 2 * self.one_way(r, x);
            let bg = self.bg.as_mut().expect("background");
            bg.believed[r][x][a] += give;
            bg.cooldown[r][a] = now + rtt + 2 * Rebalance::INTERVAL;
            // Retried until the link heals, never lost.
            let at = self.reliable(r, x, now);
            self.events.push(
                at,
                Ev::Move {
                    to: x as u8,
                    account: acct,
                    rights: give,
                },
            );
        }
    }

    /// Rights moved in the background reach region `to`.
    fn move_in(&mut self, to: usize, account: u32, rights: i64) {
        let a = account as usize;
        self.in_flight[a] -= rights;
        self.regions[to].rights[a] += rights;
        self.conserve(a);
        self.changed(to, account);
        self.out.background_transfers += 1;
    }

    fn pending_rights_insert(&mut self, a: Attempt) {
        self.waiting.insert((a.key, a.number));
    }

    fn pending_rights_remove(&mut self, a: Attempt) -> bool {
        self.waiting.remove(&(a.key, a.number))
    }

    /// Rights held by every region plus rights in flight equal the merged
    /// balance of `acct`.
    fn conserve(&mut self, acct: usize) {
        self.out.conservation_checks += 1;
        let held: i64 = self.regions.iter().map(|g| g.rights[acct]).sum();
        if held + self.in_flight[acct] != self.truth[acct] || self.in_flight[acct] < 0 {
            self.out.conservation_breaches += 1;
        }
    }

    // ---- the end ---------------------------------------------------------

    /// Drains every link (traffic has stopped, faults are over), then checks
    /// the money against the oracle.
    /// Closes a monitoring window (alerts fire or resolve at its end) and
    /// schedules the next.
    fn close_window(&mut self) {
        let now = self.now;
        let last_fault = self
            .d
            .faults
            .iter()
            .map(|f| f.start)
            .filter(|&s| s < now)
            .max();
        self.monitor.close(now, last_fault);
        #[cfg(test)]
        {
            let pipes = || self.pipes.iter().flatten().flatten();
            let writes = pipes()
                .map(|p| {
                    p.ops.len() + p.stream.in_flight() + p.held.as_ref().map_or(0, |h| h.keys.len())
                })
                .sum();
            let accounts = pipes()
                .map(|p| p.held.as_ref().map_or(0, |h| h.accounts.len()))
                .sum();
            self.most_held.0 = self.most_held.0.max(writes);
            self.most_held.1 = self.most_held.1.max(accounts);
        }
        let next = now + self.monitor.window();
        if next <= self.end {
            self.events.push(next, Ev::Close);
        }
    }

    fn finish(mut self) -> MultiResult {
        for from in 0..self.pipes.len() {
            for to in 0..self.pipes.len() {
                if let Some(p) = self.pipes[from][to].as_mut() {
                    p.stream.drain();
                    let reg = &mut self.regions[to];
                    while let Some((_, item)) = p.ops.pop_front() {
                        match item {
                            Item::Op(op) => apply_op(reg, self.cfg.path, &op, Micros::MAX),
                            Item::Catchup(h) => apply_held(reg, self.cfg.path, &h, Micros::MAX),
                        }
                    }
                    // A cut that outlasts the run heals at its end.
                    if let Some(h) = p.held.take() {
                        apply_held(reg, self.cfg.path, &h, Micros::MAX);
                    }
                }
            }
        }
        let data: Vec<usize> = (0..self.regions.len())
            .filter(|&r| self.d.holds_data(r))
            .collect();
        let first = data[0];
        let mut breaches: Vec<String> = Vec::new();
        for &r in &data[1..] {
            if self.regions[r].balance != self.regions[first].balance {
                self.out.converged = false;
            }
        }
        if !self.out.converged {
            breaches.push("regions did not converge to the same balances".into());
        }
        for acct in 0..self.truth.len() {
            let got = self.regions[first].balance[acct];
            self.out.lost_amount += (self.truth[acct] - got).abs();
            // The op-based paths apply every effect: one missing shows as
            // a count short of the booked.
            if self.cfg.path != WritePath::Lww {
                self.out.lost_updates += (self.effects[acct]
                    - self.regions[first].len[acct].min(self.effects[acct]))
                    as u64;
            }
            if self.cfg.path == WritePath::Escrow {
                self.conserve(acct);
            }
        }
        let mut first_lost = None;
        if self.cfg.path == WritePath::Lww {
            // Every converged region holds the same registers; the first
            // one's heads are the chains that stood.
            let (n, first) = self.lineage.lost(&self.regions[first].head);
            self.out.lost_updates = n;
            // Named by its place in booking order (its key was forgotten a
            // key horizon after booking).
            first_lost = first.map(|id| {
                let what = if self.lineage.flags[id as usize] & Lineage::CHARGE != 0 {
                    "a charge"
                } else {
                    "a top-up"
                };
                format!("first: {what}, effect {} in booking order", id + 1)
            });
        }
        if self.out.overspend_incidents > 0 {
            breaches.push(format!(
                "{} balances went below zero once merged ({} cents)",
                self.out.overspend_incidents, self.out.overspend_amount
            ));
        }
        if self.out.lost_updates > 0 || self.out.lost_amount > 0 {
            breaches.push(format!(
                "{} acknowledged effects missing after convergence, {} cents off the booked \
                 balances{}",
                self.out.lost_updates,
                self.out.lost_amount,
                first_lost.map_or(String::new(), |f| format!(" ({f})"))
            ));
        }
        if self.out.duplicate_effects > 0 {
            breaches.push(format!(
                "{} idempotency keys booked twice",
                self.out.duplicate_effects
            ));
        }
        if self.out.conservation_breaches > 0 {
            breaches.push(format!(
                "escrow rights not conserved {} times",
                self.out.conservation_breaches
            ));
        }
        let first_fault = self.d.faults.iter().map(|f| f.start).min();
        let recovered = |site: usize, start: Micros| {
            let sent = self.sent.get(site)?;
            recovered_after(self.d, sent, &self.answered[site], first_fault?, start)
        };
        self.out.alerts = std::mem::take(&mut self.monitor.firings);
        self.out.flags = self.flags.take_log();
        self.out.signals = std::mem::take(&mut self.monitor.history);
        self.out.time_to_detect = crate::ops::time_to_detect(&self.out.alerts);
        self.out.sli = self.sli.finish(
            &self.d.faults,
            self.d.duration / 1_000_000,
            &self.d.burn_policy(),
            self.d.burn_step_s(),
            |site, f| recovered(site, f.start),
        );
        if let Some(f) = first_fault {
            self.out.rto_by_site = (0..self.sent.len()).map(|s| recovered(s, f)).collect();
        }
        self.out.invariants_ok = breaches.is_empty();
        self.out.first_breach = breaches.first().cloned();
        if self.cfg.path.invariants_expected() {
            self.out.defect = self.out.first_breach.clone();
        }
        self.out
    }
}

/// Region `reg` applies a remote op: crdt and escrow add its effect; lww
/// keeps the newer register. Either way the key is known from now on.
fn apply_op(reg: &mut Region, path: WritePath, op: &Op, now: Micros) {
    let acct = op.account as usize;
    reg.keys
        .insert(op.key, Answer::Accepted, now.min(Micros::MAX / 2));
    match path {
        WritePath::Lww => {
            if op.stamp > reg.stamp[acct] {
                reg.balance[acct] = op.value;
                reg.stamp[acct] = op.stamp;
                reg.len[acct] = op.len;
                reg.head[acct] = op.id;
            }
        }
        _ => {
            reg.balance[acct] += op.delta;
            reg.len[acct] += 1;
        }
    }
}

/// Region `reg` applies a catch-up: every key held is known from now on,
/// and each account ends as its held writes applied one by one would leave
/// it (crdt, escrow: their effects added; lww: the newest write, which
/// carries the highest of their stamps, kept if newer than the register).
fn apply_held(reg: &mut Region, path: WritePath, h: &Held, now: Micros) {
    for &(_, key) in &h.keys {
        reg.keys
            .insert(key, Answer::Accepted, now.min(Micros::MAX / 2));
    }
    for (&account, line) in &h.accounts {
        match path {
            WritePath::Lww => apply_op(reg, path, &line.newest, now),
            _ => {
                reg.balance[account as usize] += line.delta;
                reg.len[account as usize] += line.count;
            }
        }
    }
}

/// Plays one run of `cfg` with `seed`: every site's traffic for the drill's
/// duration, then what is in flight, then the drain and the money check.
pub(super) fn play(cfg: &MultiConfig, seed: u64) -> MultiResult {
    let d = &cfg.drill;
    let mut traffic = Traffic::new(seed, d.topology.site_ids(), d.rate, &d.workload);
    drive(cfg, seed, &mut traffic)
}

/// Plays exactly the charges and top-ups of `script` (in time order)
/// instead of the drill's random traffic.
pub(super) fn play_script(cfg: &MultiConfig, seed: u64, script: &[super::Scripted]) -> MultiResult {
    let requests = script.iter().map(|s| match *s {
        super::Scripted::Charge {
            at,
            site,
            account,
            amount,
        } => (at, site.idx(), Request::Charge { account, amount }),
        super::Scripted::TopUp {
            at,
            site,
            account,
            amount,
        } => (at, site.idx(), Request::TopUp { account, amount }),
    });
    drive(cfg, seed, &mut Script(requests.peekable()))
}

/// Plays the requests `arrivals` yields until the drill's end, then what
/// is in flight, then drains and checks.
fn drive(cfg: &MultiConfig, seed: u64, arrivals: &mut impl Arrivals) -> MultiResult {
    let mut w = World::new(cfg, seed);
    let end = w.end;
    crate::des::drive::drive(&mut w, arrivals, Stop::At(end), &mut |_| {});
    w.finish()
}

impl Play for World<'_> {
    fn run_until(&mut self, t: Micros) {
        while let Some((at, e)) = self.events.pop_until(t) {
            self.now = at;
            self.handle(e);
        }
    }
    fn request(&mut self, at: Micros, site: usize, req: Request, key: &mut u64) {
        self.now = at;
        self.requests += 1;
        World::request(self, site, req, key);
    }
    fn requests(&self) -> u64 {
        self.requests
    }
    fn end(&self) -> Micros {
        self.end
    }
    fn stop_now(&mut self) {
        self.end = self.now;
    }
    fn horizon(&self) -> Micros {
        self.horizon
    }
}

/// Counts one charge of `site` at `at` into its second (nothing past the
/// counts' end).
fn count(which: &mut [Vec<u32>], site: usize, at: Micros) {
    if let Some(c) = which
        .get_mut(site)
        .and_then(|s| s.get_mut((at / 1_000_000) as usize))
    {
        *c += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::{decayed, may_give, surplus, Lineage, World};
    use crate::des::drive::drive;
    use crate::des::workload::Traffic;
    use crate::des::Stop;
    use crate::drill::{Builtin, DrillConfig, FaultKind, JpRole};
    use crate::multi::{MultiConfig, MultiResult, Rebalance, WritePath};
    use proptest::prelude::*;
    use topology::{ms, Micros};

    /// Plays the built-in region-down drill (SG down from its start time)
    /// on `path` at `rate` requests/s per site, SG down `outage` of a
    /// `duration` drill: what the links held at most (writes, accounts),
    /// the writes booked per second, the accounts, and the result.
    fn held(
        path: WritePath,
        outage: Micros,
        duration: Micros,
    ) -> ((usize, usize), f64, usize, MultiResult) {
        let mut d = DrillConfig::builtin(Builtin::RegionDown, JpRole::Replica);
        d.rate = 200.0;
        d.duration = duration;
        d.onset_window = 0;
        let f = &mut d.faults[0];
        assert!(matches!(f.kind, FaultKind::RegionDown { .. }));
        f.end = f.start + outage;
        let cfg = MultiConfig::new(d, path);
        cfg.validate().expect("a valid drill");
        let seed = 5;
        let mut w = World::new(&cfg, seed);
        let d = &cfg.drill;
        let mut traffic = Traffic::new(seed, d.topology.site_ids(), d.rate, &d.workload);
        drive(&mut w, &mut traffic, Stop::At(d.duration), &mut |_| {});
        let most = w.most_held;
        let booked: u64 = w.regions.iter().map(|r| r.lsn).sum();
        let accounts = d.workload.accounts as usize;
        let per_s = booked as f64 / (duration as f64 / 1e6);
        (most, per_s, accounts, w.finish())
    }

    /// A cut link holds the writes it cannot send folded per account, so
    /// what the run holds does not grow with the outage; the returning
    /// region catches up from them to the same balances (crdt and escrow
    /// lose nothing; every region converges).
    #[test]
    fn what_the_links_hold_is_flat_in_the_length_of_an_outage() {
        for path in [WritePath::Lww, WritePath::Crdt, WritePath::Escrow] {
            let mut most = Vec::new();
            for outage in [120_000.0, 360_000.0] {
                let ((writes, held_accounts), per_s, accounts, r) =
                    held(path, ms(outage), ms(600_000.0));
                assert!(per_s > 5.0, "{path:?}: {per_s} writes/s: too few to tell");
                // A key horizon (5.8 s) of keys and a few seconds on the
                // wire, far below an outage's worth of writes (the links
                // into SG carry about all of them: 120 or 360 s); at most
                // every account on each of the two links into SG.
                let bound = (per_s * 30.0) as usize;
                assert!(
                    writes <= bound,
                    "{path:?}, {outage} ms down: held {writes} writes > {bound}"
                );
                assert!(held_accounts <= 2 * accounts, "{path:?}: {held_accounts}");
                assert!(r.converged, "{path:?}: {:?}", r.first_breach);
                if path != WritePath::Lww {
                    assert_eq!(r.lost_updates, 0, "{path:?}: {:?}", r.first_breach);
                    assert_eq!(r.lost_amount, 0, "{path:?}");
                }
                most.push(writes);
            }
            // Three times the outage holds at most a little more.
            assert!(most[1] <= most[0] * 3 / 2 + 100, "{path:?}: {most:?}");
        }
    }

    proptest! {
        /// The shortcut is sound: whenever `may_give` says a region has
        /// nothing to give, the full computation (every demand decayed,
        /// the region's own included) finds a surplus under a minimum move.
        #[test]
        fn an_account_passed_over_has_nothing_to_give(
            r in 0usize..3,
            holder in proptest::collection::vec(any::<bool>(), 3),
            demand in proptest::collection::vec(0.0f64..1e7, 3),
            age in proptest::collection::vec(0u64..200_000_000, 3),
            rights in 0i64..2_000_000,
            balance in -1_000i64..4_000_000,
        ) {
            prop_assume!(holder.iter().any(|&h| h));
            let now = 300_000_000;
            let mut peers = demand.clone();
            if !may_give(r, &mut peers, &holder, rights, balance) {
                let mut w: Vec<f64> = (0..3).map(|x| decayed(demand[x], now - age[x], now)).collect();
                let (full, _) = surplus(r, &mut w, &holder, rights, balance);
                prop_assert!(full < Rebalance::MIN_MOVE as f64, "full surplus {full}");
            }
        }
    }

    /// And it is not vacuous: a region holding everything, with no demand
    /// anywhere, may give; one holding less than a minimum move may not.
    #[test]
    fn the_shortcut_passes_over_only_what_it_must() {
        let holder = [true, true, false];
        assert!(may_give(0, &mut [0.0; 3], &holder, 1_000_000, 1_000_000));
        assert!(!may_give(
            0,
            &mut [0.0; 3],
            &holder,
            Rebalance::MIN_MOVE - 1,
            1_000_000
        ));
        // Half the balance each, no demand: at its target, nothing to give.
        assert!(!may_give(0, &mut [0.0; 3], &holder, 500_000, 1_000_000));
    }

    #[test]
    fn a_loss_is_an_acknowledged_effect_off_every_chain_that_stood() {
        let mut l = Lineage::default();
        // Region A writes a1 then a2; region B, not having seen them,
        // writes b1 on the opening balance; B's register wins.
        let a1 = l.book(Lineage::OPENING, Some(11), false, 0, 1);
        let a2 = l.book(a1, Some(12), false, 0, 1);
        let b1 = l.book(Lineage::OPENING, Some(21), false, 0, 1);
        // A top-up on B's chain, acknowledged at booking.
        let b2 = l.book(b1, None, true, 0, 1);
        l.acknowledge(11);
        l.acknowledge(21);
        // a2 was never acknowledged (its answer was lost): off the chain,
        // but not an acknowledged loss.
        assert_eq!(l.lost(&[b2]), (1, Some(a1)));
        l.acknowledge(12);
        assert_eq!(l.lost(&[b2]), (2, Some(a1)));
        // Had A's chain stood, B's two would be the losses.
        assert_eq!(l.lost(&[a2]), (2, Some(b1)));
        // Two accounts' heads: both chains stand, nothing is lost.
        assert_eq!(l.lost(&[a2, b2]), (0, None));
        // An unknown key acknowledges nothing.
        l.acknowledge(99);
        assert_eq!(l.lost(&[a2, b2]), (0, None));
    }
}
