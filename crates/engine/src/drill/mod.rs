//! Failover drills: a fault timeline played against a replicated wallet, with
//! leadership, leases, epochs and client re-routing, measuring RTO, RPO and
//! the money at risk.
//!
//! Both client sites send traffic at once. Every region that holds data has a
//! copy of the log; the leader (a `Slot`: a region, its ledger, its epoch and
//! its lease) ships entries to every follower through a
//! [`FollowerStream`]. Faults cut links (nothing crosses until the fault ends),
//! take regions down (a dead leader's unsent log is lost), or add lag. The
//! control plane reacts as the policy says: refuse writes, let an operator
//! promote a follower, or promote one automatically once the old leader's lease
//! has surely expired. With `fencing` off there are no leases and a promotion
//! does not wait, so a partition can leave two leaders admitting charges; when
//! it heals, the deposed leader's charges are merged into the survivor's log,
//! as they were already acknowledged, and the invariant checker shows the cost.

mod config;

pub use config::{
    topology_with_jp, DrillConfig, Fault, FaultKind, JpRole, Policy, Replication, Watermark, DRILLS,
};

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use ledger::{Acknowledged, ChargeOutcome as Booked, Entry, IdemKey, Ledger, Replica};
use metrics::{LatencyHistogram, Series, SloVerdict};
use replication::rng::{below, exponential, substream, unit, Rng};
use replication::{FollowerStream, LagProcess};
use topology::{ms, Micros, RegionId, SiteId};

use crate::ops::{Degradation, Firing, Flag, Impact, Monitor, Signal};
use crate::EngineError;
use replication::clock::hlc;

/// What an active fault does to the stream from region `from` to region `to`:
/// a cut link delivers nothing before the fault ends; a lag spike slows it.
fn apply_fault(f: &Fault, stream: &mut FollowerStream, from: usize, to: usize, t: Micros) {
    if f.blocks(from, to, t) {
        stream.cut(f.end);
    }
    if let FaultKind::LagSpike {
        from: a,
        to: b,
        extra,
    } = f.kind
    {
        if a.idx() == from && b.idx() == to {
            stream.set_extra(extra);
        }
    }
}

/// One line of the drill's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Moment {
    /// When.
    pub at: Micros,
    /// What happened.
    pub what: String,
}

/// Latency and staleness inside or outside the fault windows.
#[derive(Debug, Clone, Default)]
pub struct Window {
    /// Read latency.
    pub read: LatencyHistogram,
    /// The same, per client site (index = site id).
    pub read_by_site: Vec<LatencyHistogram>,
    /// End-to-end latency of acknowledged charges.
    pub write: LatencyHistogram,
    /// The same, per client site (index = site id).
    pub write_by_site: Vec<LatencyHistogram>,
    /// Staleness reported by the serving replica.
    pub staleness: LatencyHistogram,
    /// Reads answered with staleness over 2 s.
    pub stale_reads: u64,
    /// Reads that got no answer (their region was down).
    pub failed_reads: u64,
    /// SLO verdicts for this window.
    pub slo: Vec<SloVerdict>,
}

/// What a drill measured.
#[derive(Debug, Clone)]
pub struct DrillResult {
    /// The drill's name.
    pub drill: String,
    /// Policy, mode, fencing.
    pub policy: Policy,
    /// Replication mode.
    pub replication: Replication,
    /// Leases and epochs on.
    pub fencing: bool,
    /// How replicas computed the staleness they reported.
    pub watermark: Watermark,
    /// From the first fault to the first charge sent after it being acknowledged.
    pub rto: Option<Micros>,
    /// The span of acknowledged writes lost: from the oldest lost charge's
    /// commit to the fault or to the newest lost charge's commit, whichever is
    /// later (a leader cut off by a partition can keep acknowledging charges
    /// that are lost later).
    pub rpo: Micros,
    /// Acknowledged charges missing from the final ledger.
    pub lost_acknowledged_charges: u64,
    /// Their amount, in cents.
    pub lost_amount: i64,
    /// Time between the first and last lost charge's commit.
    pub lost_window: Micros,
    /// The longest time without any acknowledged charge after the first fault.
    pub longest_write_gap: Micros,
    /// Promotions: when, which region, and the log prefix (lsn) it took over.
    pub promotions: Vec<(Micros, String, u64)>,
    /// Acknowledged charges of each deposed leader beyond the log prefix its
    /// successor took over: what theory says a failover must lose.
    pub acked_beyond_promoted_prefix: u64,
    /// The longest time a deposed leader went on admitting charges after its
    /// successor was promoted: 0 when leases kept the two apart (with
    /// fencing and clocks within the skew bound); positive in a split brain.
    pub lease_overlap: Micros,
    /// Charges refused at once (leader known to be unreachable or read-only).
    pub rejected_charges: u64,
    /// Charges whose every attempt timed out.
    pub unknown_outcome_charges: u64,
    /// Charges acknowledged.
    pub acknowledged_charges: u64,
    /// Charges sent.
    pub charges: u64,
    /// Balances driven below zero in the final ledger (double spends).
    pub overspend_incidents: u64,
    /// Idempotency keys applied twice in the final ledger.
    pub duplicate_effects: u64,
    /// Whether every money invariant held.
    pub invariants_ok: bool,
    /// The first breach, if any.
    pub first_breach: Option<String>,
    /// Inside the fault windows.
    pub during: Window,
    /// Outside them.
    pub outside: Window,
    /// What happened when.
    pub timeline: Vec<Moment>,
    /// Every alert firing.
    pub alerts: Vec<Firing>,
    /// Every flag switched: flag, on, off (None if still on at the end).
    pub flags: Vec<(Flag, Micros, Option<Micros>)>,
    /// |reported − true| staleness of every read a follower served.
    pub staleness_error: LatencyHistogram,
    /// Follower-served reads whose reported staleness was below the truth.
    pub underreported_reads: u64,
    /// Follower-served reads.
    pub follower_reads: u64,
    /// What users saw, per [`Degradation`] kind.
    pub impact: Vec<(Degradation, Impact)>,
    /// The runbook steps played: name, time, degraded responses since the previous step.
    pub runbook: Vec<(String, Micros, u64)>,
    /// Monitoring window length.
    pub signal_window: Micros,
}

/// A leader: a region, its copy of the log, its epoch and lease, and the
/// streams it ships to every other region.
struct Slot {
    region: usize,
    ledger: Ledger,
    epoch: u64,
    /// True time of the last lease grant; each region measures the lease from
    /// it on its own clock.
    lease_from: Micros,
    /// True time of the last charge this slot admitted.
    last_admit: Option<Micros>,
    /// Still admitting writes (not deposed, not merged away).
    alive: bool,
    /// A region an operator removed from the voter set when promoting this slot.
    excluded: Option<usize>,
    streams: Vec<Option<FollowerStream>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Attempt {
    key: u64,
    site: u8,
    account: u32,
    amount: i64,
    first_sent: Micros,
    sent: Micros,
    number: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ev {
    FaultStart(usize),
    FaultEnd(usize),
    Renew(usize),
    Detect {
        region: usize,
        fault: usize,
    },
    Promote {
        region: usize,
        fault: usize,
        slot: usize,
    },
    Route {
        site: usize,
    },
    Arrive {
        slot: usize,
        a: Attempt,
    },
    Ack {
        slot: usize,
        a: Attempt,
        lsn: u64,
        declined: bool,
        commit: Micros,
    },
    Retry(Attempt),
    Tick,
    Flag {
        flag: Flag,
        on: bool,
    },
    Step {
        n: u8,
        round: u32,
    },
    TopUp {
        slot: usize,
        account: u32,
        amount: i64,
    },
}

struct Lost {
    at: Micros,
    amount: i64,
}

struct Drill<'a> {
    cfg: &'a DrillConfig,
    seed: u64,
    now: Micros,
    slots: Vec<Slot>,
    /// Per region: the slot it follows (or leads).
    follows: Vec<usize>,
    replicas: Vec<Replica>,
    marks: Vec<Micros>,
    /// Per site: the region its traffic lands in.
    entry: Vec<usize>,
    events: BinaryHeap<Reverse<(Micros, u64, Ev)>>,
    seq: u64,
    rng: Rng,
    acked: Vec<(Acknowledged, Micros, usize)>,
    charges: u64,
    rejected: u64,
    unknown: u64,
    first_fault: Option<Micros>,
    rto: Option<Micros>,
    last_ack: Option<Micros>,
    longest_gap: Micros,
    promotions: Vec<(Micros, usize, u64)>,
    timeline: Vec<Moment>,
    during: Window,
    outside: Window,
    /// Per slot: a promotion to replace it is scheduled.
    pending: Vec<bool>,
    flag_on: [bool; 3],
    flag_log: Vec<(Flag, Micros, Option<Micros>)>,
    monitor: Monitor,
    staleness_error: LatencyHistogram,
    underreported: u64,
    follower_reads: u64,
    /// Degraded responses so far, and per site in the current window.
    degraded_total: u64,
    degraded_sites: Vec<u64>,
    runbook_steps: Vec<(String, Micros, u64)>,
    runbook_alert: Option<String>,
    /// Degraded responses per site in the last closed window.
    last_sites: Vec<u64>,
    /// Which runbook attempt the scheduled steps belong to.
    runbook_round: u32,
}

impl<'a> Drill<'a> {
    fn note(&mut self, what: String) {
        self.timeline.push(Moment { at: self.now, what });
    }

    /// Whether entry region `e` treats leader region `l` as unavailable: it
    /// cannot reach it, or a fault between them ended less than one detection
    /// period ago (health checks have not yet seen it recover). Returns since
    /// when the problem has been known, for the fast-reject decision.
    fn leader_unavailable(&self, e: usize, l: usize) -> Option<Micros> {
        let t = self.now;
        self.cfg
            .faults
            .iter()
            .filter(|f| {
                let during = f.blocks(e, l, t) || f.blocks(l, e, t);
                let lately = t >= f.end
                    && t < f.end + self.cfg.detection
                    && (f.blocks(e, l, f.end - 1) || f.blocks(l, e, f.end - 1));
                during || lately
            })
            .map(|f| f.start)
            .min()
    }

    fn push(&mut self, at: Micros, e: Ev) {
        self.seq += 1;
        self.events.push(Reverse((at, self.seq, e)));
    }

    fn name(&self, r: usize) -> &str {
        self.cfg.topology.region_name(RegionId(r as u8))
    }

    fn down(&self, r: usize, t: Micros) -> bool {
        self.cfg.faults.iter().any(|f| {
            f.active(t) && matches!(f.kind, FaultKind::RegionDown { region } if region.idx() == r)
        })
    }

    fn reachable(&self, a: usize, b: usize, t: Micros) -> bool {
        !self
            .cfg
            .faults
            .iter()
            .any(|f| f.blocks(a, b, t) || f.blocks(b, a, t))
    }

    fn in_fault(&self, t: Micros) -> bool {
        self.cfg.faults.iter().any(|f| f.active(t))
    }

    fn window(&mut self, t: Micros) -> &mut Window {
        if self.in_fault(t) {
            &mut self.during
        } else {
            &mut self.outside
        }
    }

    fn new_stream(&self, slot: usize, to: usize, start: Micros) -> FollowerStream {
        let lag = LagProcess::new(
            self.cfg.lag,
            substream(self.seed, "lag", (slot * 64 + to) as u64),
        );
        FollowerStream::new(lag, self.cfg.workload.heartbeat).starting_at(start)
    }

    /// Makes slot `s` the source of region `r`'s log from now on: cuts the
    /// replica back to what it shares with `s`'s log and ships the rest.
    fn attach(&mut self, s: usize, r: usize) {
        let prev = self.follows[r];
        if prev != s {
            let keep = self
                .common_prefix_slots(prev, s)
                .min(self.replicas[r].applied_lsn());
            if keep < self.replicas[r].applied_lsn() {
                self.replicas[r] = self.replica_of(s, keep);
            }
        }
        self.follows[r] = s;
        let now = self.now;
        let mut stream = self.new_stream(s, r, now);
        for l in self.replicas[r].applied_lsn() + 1..=self.slots[s].ledger.last_lsn() {
            stream.ship(l, now);
        }
        self.cut_for_faults(&mut stream, s, r);
        self.slots[s].streams[r] = Some(stream);
    }

    /// Applies any fault already active on the link to a new stream.
    fn cut_for_faults(&self, stream: &mut FollowerStream, s: usize, r: usize) {
        let from = self.slots[s].region;
        for f in self.cfg.faults.iter().filter(|f| f.active(self.now)) {
            apply_fault(f, stream, from, r, self.now);
        }
    }

    /// Brings region `r`'s replica up to what its stream has applied by now.
    fn sync(&mut self, r: usize) {
        let s = self.follows[r];
        if self.slots[s].region == r {
            return;
        }
        let now = self.now;
        if let Some(stream) = self.slots[s].streams[r].as_mut() {
            stream.advance(now);
            self.marks[r] = self.marks[r].max(stream.watermark());
            let target = stream.applied_lsn();
            let ledger = &self.slots[s].ledger;
            let rep = &mut self.replicas[r];
            for l in rep.applied_lsn() + 1..=target.min(ledger.last_lsn()) {
                rep.apply(ledger.entry(l).expect("shipped"))
                    .expect("in order");
            }
        }
    }

    /// Whether slot `s` may admit a charge now.
    fn admits(&self, s: usize) -> bool {
        let slot = &self.slots[s];
        slot.alive
            && !self.down(slot.region, self.now)
            && (!self.cfg.fencing || self.holds_lease(s))
    }

    /// Whether slot `s`'s leader, reading its own clock, believes its lease
    /// still valid with the skew margin: `clock(now) + skew < clock(grant) + lease`.
    /// With clocks that only differ by an offset this is exact; a clock
    /// stepped back or running slow makes the leader believe it longer.
    fn holds_lease(&self, s: usize) -> bool {
        let slot = &self.slots[s];
        let read = |t: Micros| t as i64 + self.offset(slot.region, t);
        read(self.now) + (self.cfg.skew_bound as i64)
            < read(slot.lease_from) + self.cfg.lease as i64
    }

    /// How long region `by` must still wait, by its own clock, before slot
    /// `old`'s lease has surely expired: `clock(grant) + lease + skew`.
    fn lease_wait(&self, by: usize, old: usize) -> Micros {
        let read = |t: Micros| t as i64 + self.offset(by, t);
        let until =
            read(self.slots[old].lease_from) + (self.cfg.lease + self.cfg.skew_bound) as i64;
        (until - read(self.now)).max(0) as Micros
    }

    fn ship(&mut self, s: usize, from_lsn: u64) {
        let now = self.now;
        let slot = &mut self.slots[s];
        for l in from_lsn..=slot.ledger.last_lsn() {
            for stream in slot.streams.iter_mut().flatten() {
                stream.ship(l, now);
            }
        }
    }

    fn handle(&mut self, e: Ev) {
        match e {
            Ev::FaultStart(i) => self.fault_start(i),
            Ev::FaultEnd(i) => self.fault_end(i),
            Ev::Renew(s) => {
                let region = self.slots[s].region;
                let voters = self.voters_for(self.slots[s].excluded);
                if self.slots[s].alive
                    && !self.down(region, self.now)
                    && self.has_majority(region, &voters)
                {
                    self.slots[s].lease_from = self.now;
                }
                if self.slots[s].alive && self.now < self.cfg.duration {
                    self.push(self.now + self.cfg.renew_every, Ev::Renew(s));
                }
            }
            Ev::Detect { region, fault } => self.detect(region, fault),
            Ev::Promote {
                region,
                fault,
                slot,
            } => self.promote(region, fault, slot),
            Ev::Route { site } => self.route(site),
            Ev::Arrive { slot, a } => self.arrive(slot, a),
            Ev::Ack {
                slot,
                a,
                lsn,
                declined,
                commit,
            } => self.ack(slot, a, lsn, declined, commit),
            Ev::Retry(a) => self.send(a),
            Ev::Tick => self.tick(),
            Ev::Flag { flag, on } => self.set_flag(flag, on),
            // Nobody acts on a drill that has ended.
            Ev::Step { n, round } => {
                if round == self.runbook_round && self.now <= self.cfg.duration {
                    self.step(n)
                }
            }
            Ev::TopUp {
                slot,
                account,
                amount,
            } => {
                if self.admits(slot) {
                    let before = self.slots[slot].ledger.last_lsn() + 1;
                    self.slots[slot]
                        .ledger
                        .top_up(account, amount, self.now)
                        .expect("validated top-up");
                    self.ship(slot, before);
                }
            }
        }
    }

    fn fault_start(&mut self, i: usize) {
        let f = self.cfg.faults[i];
        self.first_fault.get_or_insert(f.start);
        self.note(format!("fault {} starts: {}", i + 1, self.describe(&f)));
        for s in 0..self.slots.len() {
            let from = self.slots[s].region;
            for r in 0..self.follows.len() {
                let Some(stream) = self.slots[s].streams[r].as_mut() else {
                    continue;
                };
                stream.advance(f.start);
                if matches!(f.kind, FaultKind::RegionDown { region } if region.idx() == from) {
                    // The sender died: what it had not delivered is gone.
                    stream.drop_in_flight();
                }
                apply_fault(&f, stream, from, r, f.start);
            }
        }
        // Who loses sight of its leader, and who must act.
        for r in 0..self.follows.len() {
            let leader = self.slots[self.follows[r]].region;
            if r != leader && f.blocks(leader, r, f.start) | f.blocks(r, leader, f.start) {
                self.push(
                    f.start + self.cfg.detection,
                    Ev::Detect {
                        region: r,
                        fault: i,
                    },
                );
            }
        }
        for site in 0..self.entry.len() {
            let home = self.cfg.topology.home(SiteId(site as u8)).idx();
            if matches!(f.kind, FaultKind::RegionDown { region } if region.idx() == home) {
                self.push(
                    f.start + self.cfg.detection + self.cfg.dns_ttl,
                    Ev::Route { site },
                );
            }
        }
    }

    fn fault_end(&mut self, i: usize) {
        let f = self.cfg.faults[i];
        self.note(format!("fault {} ends", i + 1));
        if let FaultKind::LagSpike { from, to, .. } = f.kind {
            for s in 0..self.slots.len() {
                if self.slots[s].region == from.idx() {
                    if let Some(st) = self.slots[s].streams[to.idx()].as_mut() {
                        st.set_extra(0);
                    }
                }
            }
        }
        if let FaultKind::RegionDown { region } = f.kind {
            let r = region.idx();
            // A returning leader re-sends what its followers miss.
            for s in 0..self.slots.len() {
                if self.slots[s].region == r && self.slots[s].alive {
                    for x in 0..self.follows.len() {
                        if x != r && self.follows[x] == s && self.cfg.holds_data(x) {
                            self.sync(x);
                            self.attach(s, x);
                        }
                    }
                    self.push(self.now, Ev::Renew(s));
                }
            }
            for site in 0..self.entry.len() {
                if self.cfg.topology.home(SiteId(site as u8)).idx() == r {
                    self.push(
                        f.end + self.cfg.detection + self.cfg.dns_ttl,
                        Ev::Route { site },
                    );
                }
            }
        }
        self.heal();
    }

    /// After a fault ends: any deposed leader that can now hear the newest
    /// epoch steps down; without fencing its charges are merged first.
    fn heal(&mut self) {
        let newest = self.slots.len() - 1;
        for s in 0..newest {
            let r = self.slots[s].region;
            if !self.slots[s].alive && self.follows[r] == newest {
                continue;
            }
            let new_region = self.slots[newest].region;
            if self.down(r, self.now) || !self.reachable(r, new_region, self.now) {
                continue;
            }
            if self.slots[s].alive && !self.cfg.fencing {
                self.merge(s, newest);
            }
            if self.slots[s].alive || self.follows[r] != newest {
                self.slots[s].alive = false;
                self.note(format!(
                    "{} learns epoch {} and rejoins as a follower of {}",
                    self.name(r),
                    self.slots[newest].epoch,
                    self.name(new_region)
                ));
                self.replicas[r] = self.replica_of(s, self.common_prefix_slots(s, newest));
                self.attach(newest, r);
            }
            for x in 0..self.follows.len() {
                if self.follows[x] == s
                    && x != r
                    && self.reachable(x, new_region, self.now)
                    && self.cfg.holds_data(x)
                {
                    self.attach(newest, x);
                }
            }
        }
    }

    fn replica_of(&self, s: usize, upto: u64) -> Replica {
        let mut rep = Replica::new(self.cfg.workload.accounts);
        for l in 1..=upto {
            rep.apply(self.slots[s].ledger.entry(l).expect("in range"))
                .expect("in order");
        }
        rep
    }

    fn common_prefix_slots(&self, a: usize, b: usize) -> u64 {
        let (x, y) = (&self.slots[a].ledger, &self.slots[b].ledger);
        let n = x.last_lsn().min(y.last_lsn());
        (1..=n)
            .take_while(|&l| x.entry(l) == y.entry(l))
            .last()
            .unwrap_or(0)
    }

    /// Split-brain reconciliation: the deposed leader's divergent entries were
    /// acknowledged to clients, so they are appended to the survivor's log.
    fn merge(&mut self, from: usize, into: usize) {
        let p = self.common_prefix_slots(from, into);
        let extra: Vec<Entry> = self.slots[from].ledger.entries()[p as usize..].to_vec();
        if extra.is_empty() {
            return;
        }
        let mut entries = self.slots[into].ledger.entries().to_vec();
        let mut renumber = Vec::new();
        for e in &extra {
            let lsn = entries.len() as u64 + 1;
            renumber.push((e.lsn, lsn));
            entries.push(Entry {
                lsn,
                committed_at: self.now,
                ..*e
            });
        }
        let accounts = self.cfg.workload.accounts;
        let before = self.slots[into].ledger.last_lsn() + 1;
        self.slots[into].ledger = Ledger::from_entries_unchecked(accounts, entries);
        for (ack, _, slot) in &mut self.acked {
            if *slot == from {
                if let Some(&(_, new)) = renumber.iter().find(|(old, _)| *old == ack.lsn) {
                    ack.lsn = new;
                    *slot = into;
                }
            }
        }
        self.note(format!(
            "split brain healed: {} entries from {} merged into {}'s log",
            extra.len(),
            self.name(self.slots[from].region),
            self.name(self.slots[into].region)
        ));
        self.ship(into, before);
    }

    fn describe(&self, f: &Fault) -> String {
        match f.kind {
            FaultKind::RegionDown { region } => format!("{} down", self.name(region.idx())),
            FaultKind::Partition { a, b, both_ways } => format!(
                "partition {} {} {}",
                self.name(a.idx()),
                if both_ways { "<->" } else { "->" },
                self.name(b.idx())
            ),
            FaultKind::LagSpike { from, to, extra } => format!(
                "lag spike {} -> {} +{} ms",
                self.name(from.idx()),
                self.name(to.idx()),
                topology::to_ms(extra)
            ),
        }
    }

    fn detect(&mut self, r: usize, fault: usize) {
        let s = self.follows[r];
        let leader = self.slots[s].region;
        if s != self.slots.len() - 1
            || self.reachable(r, leader, self.now) && !self.down(leader, self.now)
            || self.pending[s]
        {
            return;
        }
        self.note(format!(
            "{} misses the leader's heartbeats ({} suspected)",
            self.name(r),
            self.name(leader)
        ));
        let at = match self.cfg.policy {
            Policy::RejectWrites => return,
            Policy::PromoteManual => self.now + self.cfg.operator_delay,
            Policy::PromoteAuto => self.now,
        };
        self.pending[s] = true;
        self.push(
            at,
            Ev::Promote {
                region: r,
                fault,
                slot: s,
            },
        );
    }

    /// The voters that count: everyone but a region an operator removed
    /// from the voter set.
    fn voters_for(&self, excluded: Option<usize>) -> Vec<usize> {
        self.cfg
            .voters()
            .into_iter()
            .filter(|&v| Some(v) != excluded)
            .collect()
    }

    /// Whether `from` reaches a majority of `voters` (itself included).
    fn has_majority(&self, from: usize, voters: &[usize]) -> bool {
        let reach = voters
            .iter()
            .filter(|&&v| !self.down(v, self.now) && self.reachable(from, v, self.now))
            .count();
        reach > voters.len() / 2
    }

    /// Promotes a follower on `by`'s side to replace slot `old`, if it is
    /// still needed and (with fencing) safe: `by`'s side has a majority of the
    /// voters and the old leader's lease, as it stands *now*, has surely
    /// expired (a lease renewed meanwhile postpones the promotion).
    fn promote(&mut self, by: usize, fault: usize, old: usize) {
        self.pending[old] = false;
        let old_region = self.slots[old].region;
        if old != self.slots.len() - 1
            || self.reachable(by, old_region, self.now) && !self.down(old_region, self.now)
        {
            return;
        }
        // An operator removes the lost leader from the voter set; automatic
        // promotion must win a majority of the full set.
        let excluded = (self.cfg.policy == Policy::PromoteManual).then_some(old_region);
        let voters = self.voters_for(excluded);
        if self.cfg.fencing {
            if !self.has_majority(by, &voters) {
                self.note(format!(
                    "{} cannot reach a majority of voters: no promotion",
                    self.name(by)
                ));
                return;
            }
            let wait = self.lease_wait(by, old);
            if wait > 0 {
                let safe = self.now + wait;
                self.pending[old] = true;
                self.push(
                    safe,
                    Ev::Promote {
                        region: by,
                        fault,
                        slot: old,
                    },
                );
                return;
            }
        }
        // The most up-to-date data region on this side of the fault.
        let mut best: Option<(u64, usize)> = None;
        for r in 0..self.follows.len() {
            if r == old_region
                || !self.cfg.holds_data(r)
                || self.down(r, self.now)
                || !self.reachable(by, r, self.now)
            {
                continue;
            }
            self.sync(r);
            let applied = self.replicas[r].applied_lsn();
            if best.is_none_or(|(b, _)| applied > b) {
                best = Some((applied, r));
            }
        }
        let Some((prefix, r)) = best else {
            self.note("no follower can be promoted".to_string());
            return;
        };
        let ledger = self.slots[old].ledger.truncated(prefix);
        let epoch = self.slots[old].epoch + 1;
        let n = self.follows.len();
        self.slots.push(Slot {
            region: r,
            ledger,
            epoch,
            lease_from: self.now,
            last_admit: None,
            alive: true,
            excluded,
            streams: (0..n).map(|_| None).collect(),
        });
        self.pending.push(false);
        let s = self.slots.len() - 1;
        self.follows[r] = s;
        self.promotions.push((self.now, r, prefix));
        self.note(format!(
            "{} promoted to leader, epoch {epoch}, with the log up to lsn {prefix} (fault {})",
            self.name(r),
            fault + 1
        ));
        for x in 0..n {
            if x != r
                && self.cfg.holds_data(x)
                && !self.down(x, self.now)
                && self.reachable(r, x, self.now)
            {
                self.attach(s, x);
            }
        }
        self.push(self.now + self.cfg.renew_every, Ev::Renew(s));
        // Entry regions that can reach the new leader route charges to it.
        self.heal();
    }

    fn route(&mut self, site: usize) {
        let t = &self.cfg.topology;
        let sid = SiteId(site as u8);
        let home = t.home(sid).idx();
        let to = if !self.down(home, self.now) {
            home
        } else {
            t.regions_by_distance(sid)
                .into_iter()
                .map(|r| r.idx())
                .find(|&r| !self.down(r, self.now) && self.cfg.holds_data(r))
                .unwrap_or(home)
        };
        if to != self.entry[site] {
            self.entry[site] = to;
            self.note(format!(
                "clients of {} now go to {}",
                t.site_name(sid),
                self.name(to)
            ));
        }
    }

    /// The slot a region forwards charges to: the newest leader it can reach.
    fn leader_for(&self, entry: usize) -> usize {
        let s = self.follows[entry];
        if self.slots[s].region == entry && self.slots[s].alive {
            return s;
        }
        (0..self.slots.len())
            .rev()
            .find(|&x| self.slots[x].alive && self.reachable(entry, self.slots[x].region, self.now))
            .unwrap_or(s)
    }

    /// A client sends (or re-sends) a charge now.
    fn send(&mut self, mut a: Attempt) {
        a.sent = self.now;
        if self.flag(Flag::WriteReadonlyMode) {
            self.rejected += 1;
            self.monitor.charge_failed(self.now, true);
            self.count_degraded(a.site as usize);
            return;
        }
        let site = SiteId(a.site);
        let e = self.entry[a.site as usize];
        if self.down(e, self.now) {
            // DNS still points at a dead region: the client hears nothing.
            return self.give_up(a);
        }
        let slot = self.leader_for(e);
        let l = self.slots[slot].region;
        if l != e {
            if let Some(since) = self.leader_unavailable(e, l) {
                if self.now >= since + self.cfg.detection {
                    self.reject(a.site);
                    return;
                }
                return self.give_up(a);
            }
        }
        if !self.admits(slot) {
            // The leader knows it is read-only or has lost its lease.
            self.reject(a.site);
            return;
        }
        let t = &self.cfg.topology;
        let path = t.rtt_site(site, RegionId(e as u8))
            + t.rtt_regions(RegionId(e as u8), RegionId(l as u8));
        let slow = if unit(&mut self.rng) < self.cfg.workload.slow_prob {
            below(&mut self.rng, self.cfg.workload.slow_max)
        } else {
            0
        };
        self.push(self.now + path / 2 + slow, Ev::Arrive { slot, a });
    }

    /// The charge is refused at once: the leader is known to be unavailable.
    fn reject(&mut self, site: u8) {
        self.rejected += 1;
        self.monitor.charge_failed(self.now, true);
        self.count_degraded(site as usize);
    }

    /// The attempt got no answer: retry after the deadline, or give up.
    fn give_up(&mut self, a: Attempt) {
        self.monitor.charge_failed(self.now, false);
        self.count_degraded(a.site as usize);
        if a.number < self.cfg.workload.max_attempts {
            let at = (a.sent + self.cfg.write.deadline + self.cfg.workload.backoff).max(self.now);
            self.push(
                at,
                Ev::Retry(Attempt {
                    number: a.number + 1,
                    ..a
                }),
            );
        } else {
            self.unknown += 1;
        }
    }

    fn arrive(&mut self, s: usize, a: Attempt) {
        if !self.admits(s) {
            return self.give_up(a);
        }
        self.slots[s].last_admit = Some(self.now);
        let before = self.slots[s].ledger.last_lsn() + 1;
        let reply = self.slots[s]
            .ledger
            .charge(a.account, a.amount, IdemKey(a.key), self.now)
            .expect("validated charge");
        self.ship(s, before);
        let commit = self.now + self.cfg.write.commit;
        let (lsn, declined) = match reply.outcome {
            Booked::Accepted { lsn } => (lsn, false),
            Booked::Declined { .. } => (0, true),
        };
        // Wait for the followers the mode requires.
        let need = self.cfg.acks_needed();
        let mut ready = commit;
        if need > 0 && !declined {
            let leader = self.slots[s].region;
            let mut times: Vec<Micros> = Vec::new();
            for r in 0..self.follows.len() {
                if r == leader || !self.cfg.holds_data(r) || self.follows[r] != s {
                    continue;
                }
                if let Some(stream) = self.slots[s].streams[r].as_ref() {
                    let back = self
                        .cfg
                        .topology
                        .rtt_regions(RegionId(leader as u8), RegionId(r as u8))
                        / 2;
                    let at = stream.apply_time(lsn).unwrap_or(self.now).max(self.now);
                    times.push(at + back);
                }
            }
            times.sort_unstable();
            ready = match times.get(need - 1) {
                Some(&t) => ready.max(t),
                None => Micros::MAX,
            };
        }
        if ready == Micros::MAX || ready > a.sent + self.cfg.write.deadline {
            // The client stops waiting; the entry may still replicate.
            return self.give_up(a);
        }
        self.push(
            ready,
            Ev::Ack {
                slot: s,
                a,
                lsn,
                declined,
                commit: self.now,
            },
        );
    }

    fn ack(&mut self, s: usize, a: Attempt, lsn: u64, declined: bool, commit: Micros) {
        let t = &self.cfg.topology;
        let e = self.entry[a.site as usize];
        let back = (t.rtt_site(SiteId(a.site), RegionId(e as u8))
            + t.rtt_regions(RegionId(e as u8), RegionId(self.slots[s].region as u8)))
            / 2;
        let done = self.now + back;
        let alive = self.slots[s].alive && !self.down(self.slots[s].region, self.now);
        if !alive
            || done > a.sent + self.cfg.write.deadline
            || !declined && !self.replicated(s, lsn)
        {
            return self.give_up(a);
        }

        let first = a.first_sent;
        self.monitor.charge_ok(done - a.sent);
        let w = self.window(first);
        w.write.record(done - first);
        let site = a.site as usize;
        if w.write_by_site.len() <= site {
            w.write_by_site.resize_with(site + 1, LatencyHistogram::new);
        }
        w.write_by_site[site].record(done - first);
        if declined {
            // An answer, but not a charge taken: RTO and gaps count charges.
            return;
        }
        if let Some(last) = self.last_ack {
            if self.first_fault.is_some() {
                self.longest_gap = self.longest_gap.max(done.saturating_sub(last));
            }
        }
        self.last_ack = Some(self.last_ack.map_or(done, |l| l.max(done)));
        if let Some(f) = self.first_fault {
            if first >= f && self.rto.is_none() {
                self.rto = Some(done - f);
                self.timeline.push(Moment {
                    at: done,
                    what: "first charge sent since the fault is acknowledged".to_string(),
                });
            }
        }
        {
            self.acked.push((
                Acknowledged {
                    key: IdemKey(a.key),
                    lsn,
                    account: a.account,
                    amount: a.amount,
                },
                commit,
                s,
            ));
        }
    }

    /// Whether as many followers as the mode requires really hold `lsn` now
    /// (a link cut after the commit can delay the copies the ack counted on).
    fn replicated(&mut self, s: usize, lsn: u64) -> bool {
        let need = self.cfg.acks_needed();
        if need == 0 {
            return true;
        }
        let leader = self.slots[s].region;
        let now = self.now;
        let mut have = 0;
        for r in 0..self.follows.len() {
            if r == leader || self.follows[r] != s {
                continue;
            }
            if let Some(st) = self.slots[s].streams[r].as_mut() {
                st.advance(now);
                have += (st.applied_lsn() >= lsn) as usize;
            }
        }
        have >= need
    }

    fn flag(&self, f: Flag) -> bool {
        self.flag_on[f as usize]
    }

    fn set_flag(&mut self, f: Flag, on: bool) {
        if self.flag_on[f as usize] == on {
            return;
        }
        self.flag_on[f as usize] = on;
        if on {
            self.flag_log.push((f, self.now, None));
        } else if let Some(span) = self
            .flag_log
            .iter_mut()
            .rev()
            .find(|x| x.0 == f && x.2.is_none())
        {
            span.2 = Some(self.now);
        }
        self.note(format!("flag {f} {}", if on { "on" } else { "off" }));
    }

    fn count_degraded(&mut self, site: usize) {
        self.degraded_total += 1;
        self.degraded_sites[site] += 1;
    }

    fn degrade(&mut self, kind: Degradation, site: usize) {
        self.monitor.degraded(kind, self.now);
        self.count_degraded(site);
    }

    fn offset(&self, r: usize, t: Micros) -> i64 {
        self.cfg.clocks.get(r).map_or(0, |c| c.offset_at(t))
    }

    /// The staleness replica `e` reports now, and the truth.
    fn skew(&self, e: usize) -> (Micros, Micros) {
        let now = self.now;
        let mark = self.marks[e];
        let truth = now.saturating_sub(mark);
        let leader = self.slots[self.follows[e]].region;
        let stamp = mark as i64 + self.offset(leader, mark);
        let wall = now as i64 + self.offset(e, now);
        let reported = match self.cfg.watermark {
            Watermark::Wall => (wall - stamp).max(0),
            Watermark::Hybrid => hlc(wall, stamp) - stamp + self.cfg.skew_bound as i64,
        } as Micros;
        (reported, truth)
    }

    /// A read a follower served: how wrong its reported staleness was.
    fn record_skew(&mut self, reported: Micros, truth: Micros) {
        self.follower_reads += 1;
        self.underreported += (reported < truth) as u64;
        self.staleness_error.record(reported.abs_diff(truth));
    }

    /// Closes a monitoring window: signals, alerts, and the runbook trigger.
    fn tick(&mut self) {
        let last_fault = self
            .cfg
            .faults
            .iter()
            .map(|f| f.start)
            .filter(|&s| s < self.now)
            .max();
        for (name, fired) in self.monitor.close(self.now, last_fault) {
            self.note(format!(
                "alert {name} {}",
                if fired { "fires" } else { "resolves" }
            ));
            if fired && self.cfg.runbook && self.runbook_alert.is_none() {
                self.start_runbook(name.clone());
            }
            if !fired && self.runbook_alert.as_deref() == Some(name.as_str()) {
                if self.runbook_steps.len() >= 3 {
                    let round = self.runbook_round;
                    self.push(self.now + ms(60_000.0), Ev::Step { n: 5, round });
                } else {
                    // Resolved before any mitigation: nothing to undo.
                    self.stand_down(&name);
                }
            }
        }
        self.last_sites = std::mem::replace(&mut self.degraded_sites, vec![0; self.entry.len()]);
        if self.now < self.cfg.duration {
            self.push(self.now + self.cfg.signal_window, Ev::Tick);
        }
    }

    /// Opens the runbook for alert `name`: detect now, then confirm,
    /// mitigate and communicate 30, 60 and 90 s later. Steps run 1 µs after
    /// their instant, so a window closing at the same instant is seen first.
    fn start_runbook(&mut self, name: String) {
        if self.now >= self.cfg.duration {
            return;
        }
        self.runbook_alert = Some(name);
        self.runbook_round += 1;
        let round = self.runbook_round;
        for (k, delay) in [0.0, 30_000.0, 60_000.0, 90_000.0].into_iter().enumerate() {
            let at = self.now + ms(delay) + if k == 0 { 0 } else { 1 };
            self.push(
                at,
                Ev::Step {
                    n: k as u8 + 1,
                    round,
                },
            );
        }
    }

    /// Abandons the running runbook (its alert was a blip), then opens it
    /// again for any other alert still firing.
    fn stand_down(&mut self, alert: &str) {
        self.note(format!(
            "runbook: alert {alert} already resolved, standing down"
        ));
        self.runbook_steps.clear();
        self.runbook_alert = None;
        self.runbook_round += 1;
        if let Some(other) = self.monitor.firing().into_iter().find(|n| n != alert) {
            self.start_runbook(other);
        }
    }

    /// The runbook's mitigation for the alert that started it.
    fn mitigation(&self) -> Flag {
        let name = self.runbook_alert.as_deref().unwrap_or("");
        let rule = self.cfg.alerts.iter().find(|r| r.name == name);
        match rule.map(|r| r.signal) {
            Some(Signal::LagP95 | Signal::LagP99 | Signal::StaleReadShare) => Flag::ForceLeaderRead,
            Some(
                Signal::ChargeErrorRate
                | Signal::RejectedShare
                | Signal::ChargeP95
                | Signal::ChargeP99,
            ) => Flag::WriteReadonlyMode,
            _ => Flag::DisableRecs,
        }
    }

    /// Runbook step `n` (1–5) of DESIGN.md.
    fn step(&mut self, n: u8) {
        if self.runbook_steps.len() + 1 != n as usize {
            return;
        }
        let alert = self.runbook_alert.clone().unwrap_or_default();
        if n == 2 && !self.monitor.is_firing(&alert) {
            // A blip (a natural lag episode): the on-call stands down.
            self.stand_down(&alert);
            return;
        }
        let what = match n {
            1 => format!(
                "detect: alert {} fired",
                self.runbook_alert.clone().unwrap_or_default()
            ),
            2 => {
                let t = &self.cfg.topology;
                let sites: Vec<&str> = self
                    .last_sites
                    .iter()
                    .enumerate()
                    .filter(|(_, &c)| c > 0)
                    .map(|(i, _)| t.site_name(SiteId(i as u8)))
                    .collect();
                format!(
                    "confirm blast radius: degraded responses last window from sites [{}]",
                    sites.join(", ")
                )
            }
            3 => {
                let f = self.mitigation();
                self.set_flag(f, true);
                format!("mitigate: {f} on")
            }
            4 => "communicate: status page and in-app banner".to_string(),
            _ => {
                let f = self.mitigation();
                self.set_flag(f, false);
                format!("recover: alert resolved, {f} off")
            }
        };
        let before = self.runbook_steps.iter().map(|x| x.2).sum::<u64>();
        self.runbook_steps
            .push((what.clone(), self.now, self.degraded_total - before));
        self.note(format!("runbook step {n}: {what}"));
    }

    fn read(&mut self, site: usize, eligibility: bool) {
        let e = self.entry[site];
        let now = self.now;
        if eligibility && self.flag(Flag::DisableRecs) {
            self.degrade(Degradation::FeatureDisabled, site);
            return;
        }
        if self.down(e, now) {
            self.window(now).failed_reads += 1;
            self.monitor.read_failed(now);
            self.count_degraded(site);
            return;
        }
        let local = self.slots[self.follows[e]].region == e;
        // What the local replica would report (and its true lag), for the
        // answer and for the lag signal operators watch.
        let (reported, truth) = if local {
            (0, 0)
        } else {
            self.sync(e);
            self.skew(e)
        };
        let t = &self.cfg.topology;
        // FORCE_LEADER_READ sends the read to the leader when it is up;
        // otherwise the entry region's replica answers.
        let leader = self.slots[self.leader_for(e)].region;
        let to_leader = self.flag(Flag::ForceLeaderRead) && !self.down(leader, now);
        let served_by = if to_leader { leader } else { e };
        let latency = t.rtt_site(SiteId(site as u8), RegionId(served_by as u8));
        let staleness = if to_leader { 0 } else { reported };
        if !local && !to_leader {
            self.record_skew(reported, truth);
        }
        self.monitor.read(now, staleness, reported);
        if staleness > ms(2000.0) {
            self.count_degraded(site);
        }
        let w = self.window(now);
        w.read.record(latency);
        if w.read_by_site.len() <= site {
            w.read_by_site.resize_with(site + 1, LatencyHistogram::new);
        }
        w.read_by_site[site].record(latency);
        w.staleness.record(staleness);
        w.stale_reads += (staleness > ms(2000.0)) as u64;
    }
}

/// Plays one drill.
pub fn run_drill(cfg: &DrillConfig, seed: u64) -> Result<DrillResult, EngineError> {
    cfg.validate()?;
    let t = &cfg.topology;
    let n = t.region_count();
    let w = &cfg.workload;
    let mut ledger = Ledger::new(w.accounts).expect("validated");
    for a in 0..w.accounts {
        if w.opening_balance > 0 {
            ledger.top_up(a, w.opening_balance, 0).expect("valid");
        }
    }
    let leader = cfg.leader.idx();
    let mut d = Drill {
        cfg,
        seed,
        now: 0,
        slots: vec![Slot {
            region: leader,
            ledger,
            epoch: 1,
            lease_from: 0,
            last_admit: None,
            alive: true,
            excluded: None,
            streams: (0..n).map(|_| None).collect(),
        }],
        follows: vec![0; n],
        replicas: (0..n).map(|_| Replica::new(w.accounts)).collect(),
        marks: vec![0; n],
        entry: t.site_ids().map(|s| t.home(s).idx()).collect(),
        events: BinaryHeap::new(),
        seq: 0,
        rng: substream(seed, "drill", 0),
        acked: Vec::new(),
        charges: 0,
        rejected: 0,
        unknown: 0,
        first_fault: None,
        rto: None,
        last_ack: None,
        longest_gap: 0,
        promotions: Vec::new(),
        timeline: Vec::new(),
        during: Window::default(),
        outside: Window::default(),
        pending: vec![false],
        flag_on: [false; 3],
        flag_log: Vec::new(),
        monitor: Monitor::new(cfg.signal_window, cfg.alerts.clone()),
        staleness_error: LatencyHistogram::new(),
        underreported: 0,
        follower_reads: 0,
        degraded_total: 0,
        degraded_sites: vec![0; t.site_ids().count()],
        runbook_steps: Vec::new(),
        runbook_alert: None,
        last_sites: Vec::new(),
        runbook_round: 0,
    };
    for r in 0..n {
        if r != leader && cfg.holds_data(r) {
            d.attach(0, r);
        }
    }
    for (i, f) in cfg.faults.iter().enumerate() {
        d.push(f.start, Ev::FaultStart(i));
        d.push(f.end, Ev::FaultEnd(i));
    }
    d.push(cfg.renew_every, Ev::Renew(0));
    d.push(cfg.signal_window, Ev::Tick);
    for f in &cfg.flags {
        d.push(
            f.on,
            Ev::Flag {
                flag: f.flag,
                on: true,
            },
        );
        d.push(
            f.off,
            Ev::Flag {
                flag: f.flag,
                on: false,
            },
        );
    }

    let sites: Vec<SiteId> = t.site_ids().collect();
    let mut arrivals: Vec<(f64, Rng)> = sites
        .iter()
        .map(|s| {
            let mut rng = substream(seed, "arrivals", s.0 as u64);
            (exponential(&mut rng, 1e6 / cfg.rate), rng)
        })
        .collect();
    let mut key = 0u64;
    loop {
        let (site, next) = arrivals
            .iter()
            .enumerate()
            .map(|(i, a)| (i, a.0))
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .expect("at least one site");
        let at = next as Micros;
        let horizon = if at >= cfg.duration { Micros::MAX } else { at };
        while let Some(&Reverse((when, _, e))) = d.events.peek() {
            if when > horizon {
                break;
            }
            d.events.pop();
            d.now = when;
            d.handle(e);
        }
        if at >= cfg.duration {
            break;
        }
        d.now = at;
        let mut rng = std::mem::replace(&mut d.rng, substream(0, "", 0));
        let account = (below(&mut rng, w.accounts as u64)) as u32;
        let u = unit(&mut rng);
        let m = w.mix;
        if u < m.balance + m.eligibility {
            d.rng = rng;
            d.read(site, u >= m.balance);
        } else if u < m.balance + m.eligibility + m.charge {
            let amount = w.charge_amount.0
                + below(&mut rng, (w.charge_amount.1 - w.charge_amount.0 + 1) as u64) as i64;
            d.rng = rng;
            key += 1;
            d.charges += 1;
            d.send(Attempt {
                key,
                site: site as u8,
                account,
                amount,
                first_sent: at,
                sent: at,
                number: 1,
            });
        } else {
            let amount = w.top_up_amount.0
                + below(&mut rng, (w.top_up_amount.1 - w.top_up_amount.0 + 1) as u64) as i64;
            d.rng = rng;
            let e = d.entry[site];
            if !d.down(e, at) {
                let slot = d.leader_for(e);
                if d.reachable(e, d.slots[slot].region, at) {
                    let path = t.rtt_site(SiteId(site as u8), RegionId(e as u8))
                        + t.rtt_regions(RegionId(e as u8), RegionId(d.slots[slot].region as u8));
                    d.push(
                        at + path / 2,
                        Ev::TopUp {
                            slot,
                            account,
                            amount,
                        },
                    );
                }
            }
        }
        let a = &mut arrivals[site];
        a.0 += exponential(&mut a.1, 1e6 / cfg.rate);
    }
    finish(d)
}

fn finish(mut d: Drill<'_>) -> Result<DrillResult, EngineError> {
    let cfg = d.cfg;
    // Every fault has ended; merge or depose whatever is left, then let
    // every follower catch up with the final leader.
    d.heal();
    let last = d.slots.len() - 1;
    for r in 0..d.follows.len() {
        if r != d.slots[last].region && cfg.holds_data(r) && d.follows[r] != last {
            d.attach(last, r);
        }
    }
    let mut followers = Vec::new();
    for r in 0..d.follows.len() {
        if r == d.slots[last].region || !cfg.holds_data(r) {
            continue;
        }
        if let Some(s) = d.slots[last].streams[r].as_mut() {
            s.drain();
        }
        d.sync(r);
        followers.push(r);
    }
    d.timeline.sort_by_key(|m| m.at);
    let final_ledger = &d.slots[last].ledger;
    let reps: Vec<&Replica> = followers.iter().map(|&r| &d.replicas[r]).collect();
    let acks: Vec<Acknowledged> = d.acked.iter().map(|a| a.0).collect();
    let report = ledger::check(final_ledger, &acks, &reps);
    let lost: Vec<Lost> = d
        .acked
        .iter()
        .filter(|(a, _, _)| {
            final_ledger.entry(a.lsn).is_none_or(|e| {
                e.key != Some(a.key) || e.amount != a.amount || e.account != a.account
            })
        })
        .map(|(a, at, _)| Lost {
            at: *at,
            amount: a.amount,
        })
        .collect();
    let overspend = report
        .breaches
        .iter()
        .filter(|b| matches!(b, ledger::Breach::NegativeBalance { .. }))
        .count() as u64;
    let dups = report
        .breaches
        .iter()
        .filter(|b| matches!(b, ledger::Breach::DuplicateEffect { .. }))
        .count() as u64;
    let fault = d.first_fault.unwrap_or(0);
    let oldest = lost.iter().map(|l| l.at).min();
    let newest = lost.iter().map(|l| l.at).max();
    for w in [&mut d.during, &mut d.outside] {
        w.slo = cfg
            .slos
            .iter()
            .filter_map(|s| {
                // A site-scoped objective is judged on that site's traffic.
                let site = s
                    .site
                    .as_deref()
                    .map(|n| cfg.topology.site(n).ok().map(|x| x.idx()));
                let h = match (s.series, site) {
                    (_, Some(None)) => return None,
                    (Series::Read, Some(Some(i))) => w.read_by_site.get(i)?,
                    (Series::Write, Some(Some(i))) => w.write_by_site.get(i)?,
                    (Series::Read, None) => &w.read,
                    (Series::Write, None) => &w.write,
                    (Series::Staleness, _) => &w.staleness,
                };
                s.judge(h)
            })
            .collect();
    }
    Ok(DrillResult {
        drill: cfg.name.clone(),
        policy: cfg.policy,
        replication: cfg.replication,
        fencing: cfg.fencing,
        watermark: cfg.watermark,
        rto: d.rto,
        rpo: match (oldest, newest) {
            (Some(o), Some(n)) => n.max(fault) - o,
            _ => 0,
        },
        lost_acknowledged_charges: lost.len() as u64,
        lost_amount: lost.iter().map(|l| l.amount).sum(),
        lost_window: match (oldest, newest) {
            (Some(a), Some(b)) => b - a,
            _ => 0,
        },
        longest_write_gap: d.longest_gap,
        promotions: d
            .promotions
            .iter()
            .map(|&(at, r, p)| {
                (
                    at,
                    cfg.topology.region_name(RegionId(r as u8)).to_string(),
                    p,
                )
            })
            .collect(),
        // Promotion k (0-based) made slot k + 1 from slot k's log prefix.
        acked_beyond_promoted_prefix: d
            .promotions
            .iter()
            .enumerate()
            .map(|(k, &(_, _, p))| {
                d.acked
                    .iter()
                    .filter(|(a, _, slot)| *slot == k && a.lsn > p)
                    .count() as u64
            })
            .sum(),
        lease_overlap: d
            .promotions
            .iter()
            .enumerate()
            .filter_map(|(k, &(at, _, _))| d.slots[k].last_admit.map(|l| l.saturating_sub(at)))
            .max()
            .unwrap_or(0),
        rejected_charges: d.rejected,
        unknown_outcome_charges: d.unknown,
        acknowledged_charges: d.acked.len() as u64,
        charges: d.charges,
        overspend_incidents: overspend,
        duplicate_effects: dups,
        invariants_ok: report.ok(),
        first_breach: report.first().map(|b| b.to_string()),
        during: d.during,
        outside: d.outside,
        timeline: d.timeline,
        alerts: d.monitor.firings.clone(),
        flags: d.flag_log,
        staleness_error: d.staleness_error,
        underreported_reads: d.underreported,
        follower_reads: d.follower_reads,
        impact: Degradation::ALL
            .iter()
            .zip(d.monitor.impact)
            .map(|(k, i)| (*k, i))
            .collect(),
        runbook: d.runbook_steps,
        signal_window: cfg.signal_window,
    })
}
