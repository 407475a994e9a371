//! The discrete-event core every wallet run and every drill plays on.
//!
//! One [`Core`] holds simulated time, the [`EventQueue`], the cluster (each
//! leadership [`Term`] with its ledger, lease and the streams it ships to every
//! other region), the faults, the clients of every site, and the measurements.
//! A wallet run is a drill with no fault, a fixed leader and one client site;
//! a drill adds a fault timeline, the control plane's reactions and the
//! runbook. The concerns live in their own files:
//!
//! * `queue.rs` — the event queue, `(time, seq)` ordered;
//! * `workload.rs` — arrivals, the request mix, accounts and amounts per site;
//! * `cluster.rs` — terms, log shipping, replicas, reconciliation after a heal,
//!   and the pump that plays every heartbeat and receipt due, in time order,
//!   through each region's hybrid logical clock;
//! * `control.rs` — leases, the clock-offset check, failure detection,
//!   promotion, client re-routing;
//! * `faults.rs` — which regions are down or cut off, which links and disks
//!   are slow (link delays, disk stalls), and fault start/end;
//! * `client.rs` — charges and top-ups: attempts, deadlines, retries, acks;
//! * `reads.rs` — reads by the configured strategy, read-your-writes, data age;
//! * `runbook.rs` — monitoring windows, alerts, flags and the runbook steps;
//! * `finish.rs` — the end of a run: drain, check the money, build the result.
//!
//! Every path latency comes from `routing` through a per-site [`Network`]
//! snapshot; every random draw from a named sub-stream of the master seed
//! (see docs/architecture.md for the tree).

pub(crate) mod attempt;
mod client;
mod cluster;
mod control;
pub(crate) mod drive;
pub(crate) mod faults;
mod finish;
pub(crate) mod queue;
mod reads;
mod runbook;
#[cfg(test)]
mod tests;
pub(crate) mod workload;

use std::collections::BTreeSet;

use ledger::{Acknowledged, Checker, Checkpoint, Ledger, Replica};
use metrics::LatencyHistogram;
use replication::clock::{ClockModel, Hlc, HlcStamp};
use replication::rng::{below, substream, unit, Rng};
use replication::FollowerStream;
use routing::Router;
use topology::{Micros, RegionId, SiteId};

use crate::drill::{DrillConfig, Moment, Window};
use crate::ops::{AlertId, Flag, Monitor, Switch};
use crate::Network;
use queue::EventQueue;
use workload::{Request, Traffic};

pub(crate) use attempt::Attempt;
pub(crate) use finish::{recovered_after, Outcome};

/// A leadership term: the region that leads it, its copy of the log, its
/// lease, and the streams it ships to every other region.
pub(crate) struct Term {
    /// The leading region.
    pub(crate) region: usize,
    /// The term's log: the truth while the term lasts.
    pub(crate) ledger: Ledger,
    /// Term number (epoch), 1 for the first leader.
    pub(crate) number: u64,
    /// The log prefix inherited at promotion (`u64::MAX` for the first term).
    pub(crate) prefix: u64,
    /// True time of the last lease grant; each region measures the lease from
    /// it on its own clock.
    pub(crate) lease_from: Micros,
    /// True time of the last charge this term admitted.
    pub(crate) last_admit: Option<Micros>,
    /// Still admitting writes (not deposed, not merged away).
    pub(crate) alive: bool,
    /// A region an operator removed from the voter set when promoting this term.
    pub(crate) excluded: Option<usize>,
    /// Per region: the stream this term ships to it.
    pub(crate) streams: Vec<Option<FollowerStream>>,
    /// Per region: the next receipt and heartbeat of its stream as filed in
    /// the pump's index (`Core::dues`).
    pub(crate) filed: Vec<(Option<Micros>, Option<Micros>)>,
    /// Commit time of the last entry folded into the ledger's checkpoint
    /// (the watermark a snapshot of it carries).
    pub(crate) folded_at: Micros,
    /// Per account: the lsn and commit time of this term's first own entry
    /// (after its prefix), once folded into the checkpoint: the true data age
    /// of a region left behind at the prefix (see `reads::first_after`).
    pub(crate) first_own: Vec<Option<(u64, Micros)>>,
}

impl Term {
    /// A term led by `region` over `ledger`, shipping to none of `n` regions yet.
    pub(crate) fn new(region: usize, ledger: Ledger, number: u64, prefix: u64, n: usize) -> Term {
        let ledger_accounts = ledger.accounts() as usize;
        Term {
            region,
            ledger,
            number,
            prefix,
            lease_from: 0,
            last_admit: None,
            alive: true,
            excluded: None,
            streams: (0..n).map(|_| None).collect(),
            filed: vec![(None, None); n],
            folded_at: 0,
            first_own: vec![None; ledger_accounts],
        }
    }
}

/// What can happen at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ev {
    FaultStart(usize),
    FaultEnd(usize),
    Renew(usize),
    /// Every region measures its clock against the regions it reaches.
    Offsets,
    Detect {
        region: usize,
        fault: usize,
    },
    Promote {
        region: usize,
        fault: usize,
        term: usize,
    },
    Route {
        site: usize,
    },
    Arrive {
        term: usize,
        a: Attempt,
    },
    Ack {
        term: usize,
        a: Attempt,
        lsn: u64,
        declined: bool,
        commit: Micros,
    },
    Retry(Attempt),
    Timeout(Attempt),
    Tick,
    Compact,
    Flag {
        flag: Flag,
        to: Switch,
    },
    Step {
        n: u8,
        round: u32,
    },
    TopUp {
        term: usize,
        w: TopUpWrite,
    },
    TopUpAck {
        term: usize,
        w: TopUpWrite,
        lsn: u64,
        commit: Micros,
    },
}

/// A top-up on its way: one attempt, acknowledged like a charge (the
/// replication mode's acks, within the deadline) but never retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TopUpWrite {
    pub(crate) key: u64,
    pub(crate) site: u8,
    pub(crate) account: u32,
    pub(crate) amount: i64,
    pub(crate) sent: Micros,
    /// One-way time back to the client.
    pub(crate) back: Micros,
    /// The region it entered (which forwards it to the leader).
    pub(crate) entry: u8,
}

/// When a run stops sending traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// At this simulated time (drills).
    At(Micros),
    /// After this many requests (wallet cells).
    Requests(u64),
}

/// Money and client counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    pub(crate) charges: u64,
    pub(crate) attempts: u64,
    pub(crate) rejected: u64,
    pub(crate) unknown: u64,
    pub(crate) declined: u64,
    pub(crate) duplicates_suppressed: u64,
    pub(crate) retries_raced_original: u64,
    pub(crate) top_ups: u64,
    pub(crate) top_ups_sent: u64,
    pub(crate) top_ups_refused: u64,
    pub(crate) ryw_waits: u64,
    pub(crate) ryw_forwards: u64,
    pub(crate) staleness_order_violations: u64,
    pub(crate) offset_refused_reads: u64,
    pub(crate) eligible: u64,
    pub(crate) requests: u64,
}

/// The whole state of one run.
pub(crate) struct Core<'a> {
    pub(crate) cfg: &'a DrillConfig,
    pub(crate) seed: u64,
    pub(crate) router: Router<'a>,
    pub(crate) now: Micros,
    /// When traffic stops (known at the start for drills, set when the last
    /// request is sent for a request-count run); nothing periodic is
    /// rescheduled past it.
    pub(crate) end: Micros,
    pub(crate) terms: Vec<Term>,
    /// Per region: the term it follows (or leads).
    pub(crate) follows: Vec<usize>,
    pub(crate) replicas: Vec<Replica>,
    /// Per region: the highest watermark its replica has seen.
    pub(crate) marks: Vec<Micros>,
    /// Per region: its hybrid logical clock, ticked on every send (entries,
    /// heartbeats) and receipt, and on every staleness reading.
    pub(crate) hlcs: Vec<Hlc>,
    /// Per region: the leader's hybrid clock stamp on its watermark.
    pub(crate) hlc_marks: Vec<HlcStamp>,
    /// Every stream's next receipt and next heartbeat, `(time, is a
    /// heartbeat, term, region)`: the pump plays them in this order.
    pub(crate) dues: BTreeSet<(Micros, bool, usize, usize)>,
    /// Per region: the snapshot on its way to it (see `attach`), installed
    /// when its stream has applied it.
    pub(crate) snapshots: Vec<Option<Checkpoint>>,
    /// Per site: the region its traffic lands in.
    pub(crate) entry: Vec<usize>,
    /// Per site: this request's network draws (sub-stream `net/<site>`).
    pub(crate) net: Vec<Network>,
    /// Per site: slow-path draws at the leader (sub-stream `slow/<site>`).
    pub(crate) slow: Vec<Rng>,
    /// Per region: its clock, periodic noise drawn from `clock/<region>`.
    pub(crate) clocks: Vec<ClockModel>,
    /// Per region: its clock was last measured beyond the skew bound from a
    /// majority of the regions it reached (see `check_offsets`).
    pub(crate) clock_out: Vec<bool>,
    /// Scratch: the staleness every region reports for the read at hand.
    pub(crate) staleness: Vec<Micros>,
    pub(crate) events: EventQueue<Ev>,
    /// Attempts sent and not yet answered or timed out: `(key, attempt)`.
    /// Bounded by the rate times the deadline; looked up, never iterated.
    pub(crate) outstanding: BTreeSet<(u64, u32)>,
    /// Acknowledgements, sessions and the running invariant check.
    pub(crate) money: Money,
    pub(crate) n: Counters,
    /// When the faults hit and how writes recovered.
    pub(crate) recovery: Recovery,
    pub(crate) timeline: Vec<Moment>,
    pub(crate) during: Window,
    pub(crate) outside: Window,
    /// Per term: a promotion to replace it is scheduled.
    pub(crate) pending: Vec<bool>,
    /// Monitoring, flags and the runbook.
    pub(crate) ops: Ops,
    /// How far reported staleness is from the truth on follower reads.
    pub(crate) accuracy: Accuracy,
    /// Good and valid events per site, second and objective.
    pub(crate) sli: crate::drill::sli::SliCounter,
    /// The most the run held at any compaction (tests only).
    #[cfg(test)]
    pub(crate) footprint: tests::Footprint,
}

/// The money side of a run.
pub(crate) struct Money {
    /// Acknowledged writes (charges and top-ups) not yet settled by
    /// compaction: the ack, its commit time, its term, and the site and time
    /// it was first sent.
    pub(crate) acked: Vec<(Acknowledged, Micros, usize, (u8, Micros))>,
    /// Acknowledged charges so far (settled or not).
    pub(crate) acked_total: u64,
    /// Settled acknowledgements the final log lacks: commit time, amount,
    /// and whether it was a charge or a top-up.
    pub(crate) lost: Vec<(Micros, i64, ledger::EntryKind)>,
    /// Settled acknowledgements of a deposed term beyond its successor's prefix.
    pub(crate) beyond_prefix: u64,
    /// The money invariants, checked as the log is compacted.
    pub(crate) checker: Checker,
    /// Per account: lsn of the session's last acknowledged charge.
    pub(crate) session: Vec<u64>,
}

/// Faults and recovery.
#[derive(Default)]
pub(crate) struct Recovery {
    pub(crate) first_fault: Option<Micros>,
    pub(crate) rto: Option<Micros>,
    pub(crate) last_ack: Option<Micros>,
    pub(crate) longest_gap: Micros,
    /// When, which region, and the log prefix it took over.
    pub(crate) promotions: Vec<(Micros, usize, u64)>,
    /// Per site, per second of first send: charges sent (empty when the run
    /// has no fault, so nothing to recover from).
    pub(crate) sent: Vec<Vec<u32>>,
    /// The same, counting charges whose answer stood: declined, or accepted
    /// and present in the final ledger.
    pub(crate) answered: Vec<Vec<u32>>,
}

impl Recovery {
    /// Counts one charge of `site` first sent at `at` into `which`.
    pub(crate) fn count(which: &mut [Vec<u32>], site: usize, at: Micros) {
        if let Some(c) = which
            .get_mut(site)
            .and_then(|s| s.get_mut((at / 1_000_000) as usize))
        {
            *c += 1;
        }
    }
}

/// Operating the run.
pub(crate) struct Ops {
    pub(crate) flags: crate::ops::Flags,
    pub(crate) monitor: Monitor,
    /// Degraded responses so far, and per site in the current window.
    pub(crate) degraded_total: u64,
    pub(crate) degraded_sites: Vec<u64>,
    pub(crate) runbook_steps: Vec<crate::drill::RunbookStep>,
    pub(crate) runbook_alert: Option<AlertId>,
    /// Degraded responses per site in the last closed window.
    pub(crate) last_sites: Vec<u64>,
    /// Which runbook attempt the scheduled steps belong to.
    pub(crate) runbook_round: u32,
}

/// Reported against true staleness on the reads a follower served.
#[derive(Default)]
pub(crate) struct Accuracy {
    pub(crate) staleness_error: LatencyHistogram,
    pub(crate) underreported: u64,
    pub(crate) follower_reads: u64,
}

impl<'a> Core<'a> {
    fn new(cfg: &'a DrillConfig, seed: u64, end: Micros) -> Core<'a> {
        let t = &cfg.topology;
        let n = t.region_count();
        let w = &cfg.workload;
        let mut ledger = Ledger::new(w.accounts).expect("validated: at least one account");
        if w.opening_balance > 0 {
            for a in 0..w.accounts {
                ledger
                    .top_up(a, w.opening_balance, 0)
                    .expect("validated opening balance");
            }
        }
        let leader = cfg.leader.idx();
        let sites: Vec<SiteId> = t.site_ids().collect();
        let mut core = Core {
            cfg,
            seed,
            router: Router::new(t, cfg.read, cfg.write),
            now: 0,
            end,
            terms: vec![Term::new(leader, ledger, 1, u64::MAX, n)],
            follows: vec![0; n],
            replicas: (0..n).map(|_| Replica::new(w.accounts)).collect(),
            marks: vec![0; n],
            hlcs: vec![Hlc::new(); n],
            // Every replica starts with the log as of time 0, stamped on the
            // first leader's clock (set below, once the clocks are known).
            hlc_marks: vec![HlcStamp::physical(0); n],
            dues: BTreeSet::new(),
            snapshots: vec![None; n],
            entry: sites.iter().map(|&s| t.home(s).idx()).collect(),
            net: site_networks(t, seed),
            slow: site_slow_paths(t, seed),
            clocks: region_clocks(cfg, seed),
            clock_out: vec![false; n],
            staleness: vec![0; n],
            events: EventQueue::new(),
            outstanding: BTreeSet::new(),
            money: Money {
                acked: Vec::new(),
                acked_total: 0,
                lost: Vec::new(),
                beyond_prefix: 0,
                checker: Checker::new(&Checkpoint::empty(w.accounts), Micros::MAX),
                session: vec![0; w.accounts as usize],
            },
            n: Counters::default(),
            recovery: {
                // Per-second counts only where there is a fault to recover
                // from: at most a day of seconds per site.
                let seconds = if cfg.faults.is_empty() {
                    0
                } else {
                    (end / 1_000_000) as usize + 1
                };
                Recovery {
                    sent: vec![vec![0; seconds]; sites.len()],
                    answered: vec![vec![0; seconds]; sites.len()],
                    ..Recovery::default()
                }
            },
            timeline: Vec::new(),
            during: Window::new(sites.len()),
            outside: Window::new(sites.len()),
            pending: vec![false],
            ops: Ops {
                flags: crate::ops::Flags::default(),
                monitor: Monitor::new(cfg.signal_window, cfg.alerts.clone())
                    .with_report_series(cfg.report_series),
                degraded_total: 0,
                degraded_sites: vec![0; sites.len()],
                runbook_steps: Vec::new(),
                runbook_alert: None,
                last_sites: Vec::new(),
                runbook_round: 0,
            },
            accuracy: Accuracy::default(),
            #[cfg(test)]
            footprint: tests::Footprint::default(),
            // Per-second counts over the drill (none for a run measured in
            // requests, which has no phases).
            sli: crate::drill::sli::SliCounter::new(
                cfg,
                if end == Micros::MAX {
                    0
                } else {
                    (end / 1_000_000) as usize + 1
                },
            ),
        };
        core.money.checker = Checker::new(&Checkpoint::empty(w.accounts), core.key_horizon());
        core.hlc_marks = vec![HlcStamp::physical(core.pt(leader, 0)); n];
        for r in 0..n {
            if r != leader {
                core.attach(0, r);
            }
        }
        for (i, f) in cfg.faults.iter().enumerate() {
            core.events.push(f.start, Ev::FaultStart(i));
            core.events.push(f.end, Ev::FaultEnd(i));
        }
        core.events.push(cfg.renew_every, Ev::Renew(0));
        core.events.push(0, Ev::Offsets);
        core.events.push(cfg.signal_window, Ev::Tick);
        core.events.push(COMPACT_EVERY, Ev::Compact);
        for f in &cfg.flags {
            let (flag, on, off) = (f.flag, f.on, f.off);
            core.events.push(
                on,
                Ev::Flag {
                    flag,
                    to: Switch::On,
                },
            );
            core.events.push(
                off,
                Ev::Flag {
                    flag,
                    to: Switch::Off,
                },
            );
        }
        core
    }

    pub(crate) fn push(&mut self, at: Micros, e: Ev) {
        self.events.push(at, e);
    }

    pub(crate) fn note(&mut self, what: String) {
        self.timeline.push(Moment { at: self.now, what });
    }

    pub(crate) fn name(&self, r: usize) -> &str {
        self.cfg.topology.region_name(RegionId(r as u8))
    }

    /// Runs every event due by `t`, in time order.
    fn run_until(&mut self, t: Micros) {
        while let Some((at, e)) = self.events.pop_until(t) {
            self.now = at;
            self.handle(e);
        }
    }

    fn handle(&mut self, e: Ev) {
        // A fault's end first stops its lag spike, so that what is sent from
        // its end on is not slowed (fault_end pumps once that is done).
        if !matches!(e, Ev::FaultEnd(_)) {
            self.pump();
        }
        match e {
            Ev::FaultStart(i) => self.fault_start(i),
            Ev::FaultEnd(i) => self.fault_end(i),
            Ev::Renew(s) => self.renew(s),
            Ev::Offsets => self.check_offsets(),
            Ev::Detect { region, fault } => self.detect(region, fault),
            Ev::Promote {
                region,
                fault,
                term,
            } => self.promote(region, fault, term),
            Ev::Route { site } => self.route(site),
            Ev::Arrive { term, a } => self.arrive(term, a),
            Ev::Ack {
                term,
                a,
                lsn,
                declined,
                commit,
            } => self.ack(term, a, lsn, declined, commit),
            Ev::Retry(a) => self.send(a),
            Ev::Timeout(a) => self.timeout(a),
            Ev::Tick => self.tick(),
            Ev::Compact => {
                self.compact();
                #[cfg(test)]
                self.footprint.sample(
                    self.now,
                    &self.terms,
                    self.money.acked.len(),
                    self.dues.len(),
                );
                if self.now < self.end {
                    self.push(self.now + COMPACT_EVERY, Ev::Compact);
                }
            }
            Ev::Flag { flag, to } => self.set_flag(flag, to),
            // Nobody acts on a run that has ended.
            Ev::Step { n, round } => {
                if round == self.ops.runbook_round && self.now <= self.end {
                    self.step(n)
                }
            }
            Ev::TopUp { term, w } => self.book_top_up(term, w),
            Ev::TopUpAck {
                term,
                w,
                lsn,
                commit,
            } => self.top_up_ack(term, w, lsn, commit),
        }
    }

    /// One request from `site`, arriving now.
    fn request(&mut self, site: usize, req: Request, key: &mut u64) {
        self.pump();
        self.n.requests += 1;
        self.net[site].draw();
        match req {
            Request::Read { account, kind } => self.read(site, account, kind),
            Request::Charge { account, amount } => {
                *key += 1;
                self.n.charges += 1;
                Recovery::count(&mut self.recovery.sent, site, self.now);
                self.sli.charge_sent(site, self.now);
                self.send(Attempt::first(
                    ((site as u64) << 48) | *key,
                    site,
                    account,
                    amount,
                    self.now,
                    0,
                ));
            }
            Request::TopUp { account, amount } => {
                // Top-up keys live beside the charges' (bit 47 set).
                self.n.top_ups_sent += 1;
                let key = ((site as u64) << 48) | (1 << 47) | self.n.top_ups_sent;
                self.send_top_up(site, key, account, amount)
            }
        }
    }
}

/// Every region's clock for a run: a periodic clock's noise seeded from the
/// run's sub-stream `clock/<region>`.
/// Per client site: its network draws (sub-stream `net/<site>`).
pub(crate) fn site_networks(t: &topology::Topology, seed: u64) -> Vec<Network> {
    t.site_ids()
        .map(|s| Network::new(t, s, t.home(s), substream(seed, "net", s.0 as u64)))
        .collect()
}

/// Per client site: its slow-path draws at the leader (sub-stream `slow/<site>`).
pub(crate) fn site_slow_paths(t: &topology::Topology, seed: u64) -> Vec<Rng> {
    t.site_ids()
        .map(|s| substream(seed, "slow", s.0 as u64))
        .collect()
}

pub(crate) fn region_clocks(cfg: &DrillConfig, seed: u64) -> Vec<ClockModel> {
    cfg.clocks
        .iter()
        .enumerate()
        .map(|(r, c)| match *c {
            ClockModel::Periodic {
                amplitude,
                period,
                noise,
                ..
            } => ClockModel::Periodic {
                amplitude,
                period,
                noise,
                seed: below(&mut substream(seed, "clock", r as u64), u64::MAX),
            },
            other => other,
        })
        .collect()
}

/// How long an idempotency key can still come back: every attempt and
/// its backoff, the slowest slow path, and one more deadline of margin.
pub(crate) fn key_horizon(cfg: &DrillConfig) -> Micros {
    let w = &cfg.workload;
    let attempt = cfg.write.deadline + w.backoff;
    attempt * w.max_attempts as Micros + w.slow_max + cfg.write.deadline
}

/// The slow path of one charge attempt where it is booked: with the
/// workload's probability, a delay uniform below its maximum (sub-stream
/// `slow/<site>`).
pub(crate) fn slow_path(rng: &mut Rng, w: &crate::wallet::WalletConfig) -> Micros {
    if unit(rng) < w.slow_prob {
        below(rng, w.slow_max)
    } else {
        0
    }
}

/// How often the ledger folds what can no longer change into its
/// checkpoint, in simulated time. Bookkeeping only (what is folded, and the
/// figures, do not depend on it): every second, so that what a run holds is
/// about one key horizon of entries, keys and acknowledgements, not a key
/// horizon plus ten seconds.
pub(crate) const COMPACT_EVERY: Micros = 1_000_000;

/// Plays a run: traffic from `sites` until `stop`, then the events still in
/// flight, then the end-of-run checks. `progress` gets the requests sent so far.
pub(crate) fn run(
    cfg: &DrillConfig,
    seed: u64,
    sites: &[SiteId],
    stop: Stop,
    progress: &mut dyn FnMut(u64),
) -> Outcome {
    play(cfg, seed, sites, stop, progress).finish()
}

/// [`run`] up to its end-of-run checks: the core as the last event left it.
fn play<'a>(
    cfg: &'a DrillConfig,
    seed: u64,
    sites: &[SiteId],
    stop: Stop,
    progress: &mut dyn FnMut(u64),
) -> Core<'a> {
    let end = match stop {
        Stop::At(t) => t,
        Stop::Requests(_) => Micros::MAX,
    };
    let mut core = Core::new(cfg, seed, end);
    let mut traffic = Traffic::new(seed, sites.iter().copied(), cfg.rate, &cfg.workload);
    drive::drive(&mut core, &mut traffic, stop, progress);
    core
}

impl drive::Play for Core<'_> {
    fn run_until(&mut self, t: Micros) {
        Core::run_until(self, t);
    }
    fn request(&mut self, at: Micros, site: usize, req: Request, key: &mut u64) {
        self.now = at;
        Core::request(self, site, req, key);
    }
    fn requests(&self) -> u64 {
        self.n.requests
    }
    fn end(&self) -> Micros {
        self.end
    }
    fn stop_now(&mut self) {
        self.end = self.now;
    }
    fn horizon(&self) -> Micros {
        self.key_horizon()
    }
}
