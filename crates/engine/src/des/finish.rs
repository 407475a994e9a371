//! The end of a run: every fault has ended, so reconcile, let every follower
//! catch up with the final leader, check the money and build the result.

use ledger::{Acknowledged, Breach, Checker, Checkpoint, EntryKind, InvariantReport, Replica};
use replication::clock::ClockModel;
use topology::{Micros, RegionId};

use super::{Core, Counters};
use crate::drill::{
    Charges, DrillConfig, DrillResult, Failover, Operations, Promotion, Reads, Recovery, Response,
    Window,
};
use crate::ops::{Degradation, UserImpact};

/// Everything a run measured: the drill's report, plus the counters and the
/// invariant check a wallet report shows.
pub(crate) struct Outcome {
    pub(crate) result: DrillResult,
    pub(crate) counters: Counters,
    pub(crate) invariants: InvariantReport,
    pub(crate) ledger_entries: u64,
    /// Time of the last request sent.
    pub(crate) simulated: Micros,
}

impl Core<'_> {
    /// Per site, how long after the first fault its charges recovered: the
    /// first second from which, for `recovery_hold`, every second's charges
    /// (by first send) were answered — declined, or accepted and kept in the
    /// final ledger — at no less than `recovery_share` of the site's
    /// pre-fault rate. Seconds without a charge do not count against it.
    /// `None`: not within the drill. Empty when the run had no fault.
    fn rto_by_site(&self) -> Vec<Option<Micros>> {
        let Some(fault) = self.recovery.first_fault else {
            return Vec::new();
        };
        (0..self.recovery.sent.len())
            .map(|site| self.recovered_after(site, fault))
            .collect()
    }

    /// How long after `start` the charges of `site` recovered, by the rule
    /// of [`Self::rto_by_site`] (the rate before the first fault as the
    /// reference); `None`: not within the drill.
    fn recovered_after(&self, site: usize, start: Micros) -> Option<Micros> {
        let (sent, answered) = (self.recovery.sent.get(site)?, &self.recovery.answered[site]);
        recovered_after(self.cfg, sent, answered, self.recovery.first_fault?, start)
    }

    /// Per site, the share of the charges first sent while a region was down
    /// or a link cut whose answer stood (declined, or accepted and kept);
    /// `None` for a site that sent none then. Empty with no fault.
    fn availability_by_site(&self) -> Vec<Option<f64>> {
        self.cut_charges_by_site()
            .into_iter()
            .map(|(s, a)| (s > 0).then(|| a as f64 / s as f64))
            .collect()
    }

    /// Per site, the charges first sent while a region was down or a link
    /// cut, and those whose answer stood.
    fn cut_charges_by_site(&self) -> Vec<(u64, u64)> {
        let cuts: Vec<_> = self
            .cfg
            .faults
            .iter()
            .filter(|f| f.kind.stops_traffic())
            .collect();
        let during = |sec: usize| {
            let t = sec as Micros * 1_000_000;
            cuts.iter().any(|f| f.start <= t && t < f.end)
        };
        self.recovery
            .sent
            .iter()
            .zip(&self.recovery.answered)
            .map(|(sent, answered)| {
                (0..sent.len())
                    .filter(|&i| during(i))
                    .fold((0u64, 0u64), |x, i| {
                        (x.0 + sent[i] as u64, x.1 + answered[i] as u64)
                    })
            })
            .collect()
    }

    pub(super) fn finish(mut self) -> Outcome {
        let cfg = self.cfg;
        let simulated = self.now.min(self.end);
        self.heal();
        let last = self.terms.len() - 1;
        for r in 0..self.follows.len() {
            if r != self.terms[last].region && self.follows[r] != last {
                self.attach(last, r);
            }
        }
        let mut followers = Vec::new();
        for r in 0..self.follows.len() {
            if r == self.terms[last].region {
                continue;
            }
            if let Some(s) = self.terms[last].streams[r].as_mut() {
                s.drain();
                self.refile(last, r);
            }
            self.sync(r);
            if cfg.holds_data(r) {
                followers.push(r);
            }
        }
        self.timeline.sort_by_key(|m| m.at);
        let final_ledger = &self.terms[last].ledger;
        let reps: Vec<&Replica> = followers.iter().map(|&r| &self.replicas[r]).collect();
        let acks: Vec<Acknowledged> = self.money.acked.iter().map(|a| a.0).collect();
        let checker = std::mem::replace(
            &mut self.money.checker,
            Checker::new(&Checkpoint::empty(0), Micros::MAX),
        );
        let invariants = checker.finish(final_ledger, &acks, &reps);
        let ledger_entries = final_ledger.last_lsn();
        let held: Vec<bool> = self
            .money
            .acked
            .iter()
            .map(|(a, ..)| a.held_by(final_ledger.entry(a.lsn)))
            .collect();
        for ((a, at, term, origin), held) in
            std::mem::take(&mut self.money.acked).into_iter().zip(held)
        {
            self.settle(&a, at, term, origin, held);
        }
        let lost = std::mem::take(&mut self.money.lost);
        let rto_by_site = self.rto_by_site();
        let sli = self.sli.finish(
            &cfg.faults,
            cfg.duration / 1_000_000,
            &cfg.burn_policy(),
            cfg.burn_step_s(),
            |site, f| self.recovered_after(site, f.start),
        );
        let burn_inputs = self.sli.burn_inputs(&sli);
        let availability_by_site = self.availability_by_site();
        let not_completed_by_site = self
            .cut_charges_by_site()
            .into_iter()
            .map(|(s, a)| s.saturating_sub(a))
            .collect();
        // What this configuration promises: with fencing, never an overspend,
        // a second effect or a broken cache; under `majority`, not even a lost
        // acknowledgement. Async and semi-sync lose their unreplicated tail
        // by design: that is their RPO, reported, not a defect.
        let promised = |b: &&Breach| match b {
            Breach::LostAcknowledged { .. } => {
                cfg.replication == crate::drill::Replication::Majority
            }
            _ => true,
        };
        // With exact clocks and fencing a replica never reports less
        // staleness than its data has; with skewed clocks, or a deposed leader
        // that cannot know it was deposed, under-reporting is the finding.
        let exact_clocks = cfg.clocks.iter().all(|c| *c == ClockModel::Exact);
        let order = self.n.staleness_order_violations;
        let defect = invariants
            .breaches
            .iter()
            .filter(promised)
            .find(|_| cfg.fencing)
            .map(|b| b.to_string())
            .or_else(|| {
                (cfg.fencing && exact_clocks && order > 0).then(|| {
                    format!("{order} reads returned data older than the staleness their replica reported")
                })
            });
        let count = |f: fn(&Breach) -> bool| invariants.breaches.iter().filter(|b| f(b)).count();
        let overspend = count(|b| matches!(b, Breach::NegativeBalance { .. })) as u64;
        let dups = count(|b| matches!(b, Breach::DuplicateEffect { .. })) as u64;
        let fault = self.recovery.first_fault.unwrap_or(0);
        let oldest = lost.iter().map(|l| l.0).min();
        let newest = lost.iter().map(|l| l.0).max();
        let lost_of = |k: EntryKind| lost.iter().filter(move |l| l.2 == k);
        for w in [&mut self.during, &mut self.outside] {
            w.judge(cfg);
        }
        let terms = &self.terms;
        let result = DrillResult {
            drill: cfg.name.clone(),
            policy: cfg.policy,
            replication: cfg.replication,
            read_strategy: cfg.strategy,
            fencing: cfg.fencing,
            watermark: cfg.watermark,
            max_offset_enforced: cfg.max_offset_enforced,
            recovery: Recovery {
                rto: self.recovery.rto,
                rto_worst: if rto_by_site.is_empty() {
                    None
                } else {
                    rto_by_site
                        .iter()
                        .copied()
                        .try_fold(0, |w, r| r.map(|r| r.max(w)))
                },
                rto_by_site,
                availability_by_site,
                not_completed_by_site,
                rpo: match (oldest, newest) {
                    (Some(o), Some(n)) => n.max(fault) - o,
                    _ => 0,
                },
            },
            money: crate::drill::Money {
                lost_acknowledged_charges: lost_of(EntryKind::Charge).count() as u64,
                lost_amount: lost_of(EntryKind::Charge).map(|l| l.1).sum(),
                lost_acknowledged_top_ups: lost_of(EntryKind::TopUp).count() as u64,
                lost_top_up_amount: lost_of(EntryKind::TopUp).map(|l| l.1).sum(),
                overspend_incidents: overspend,
                duplicate_effects: dups,
                invariants_ok: invariants.ok(),
                first_breach: invariants.first().map(|b| b.to_string()),
                defect,
            },
            failover: Failover {
                lost_window: match (oldest, newest) {
                    (Some(a), Some(b)) => b - a,
                    _ => 0,
                },
                longest_write_gap: self.recovery.longest_gap,
                promotions: self
                    .recovery
                    .promotions
                    .iter()
                    .map(|&(at, r, prefix_lsn)| Promotion {
                        at,
                        region: cfg.topology.region_name(RegionId(r as u8)).to_string(),
                        prefix_lsn,
                    })
                    .collect(),
                // Promotion k (0-based) made term k + 1 from term k's log prefix.
                acked_beyond_promoted_prefix: self.money.beyond_prefix,
                lease_overlap: self
                    .recovery
                    .promotions
                    .iter()
                    .enumerate()
                    .filter_map(|(k, &(at, _, _))| {
                        terms[k].last_admit.map(|l| l.saturating_sub(at))
                    })
                    .max()
                    .unwrap_or(0),
            },
            charges: Charges {
                rejected: self.n.rejected,
                unknown_outcome: self.n.unknown,
                acknowledged: self.money.acked_total,
                sent: self.n.charges,
            },
            during: std::mem::replace(&mut self.during, Window::new(0)),
            outside: std::mem::replace(&mut self.outside, Window::new(0)),
            operations: Operations {
                timeline: std::mem::take(&mut self.timeline),
                alerts: self.ops.monitor.firings.clone(),
                signals: std::mem::take(&mut self.ops.monitor.history),
                flags: self.ops.flags.take_log(),
                signal_window: cfg.signal_window,
            },
            reads: Reads {
                staleness_error: std::mem::take(&mut self.accuracy.staleness_error),
                underreported_reads: self.accuracy.underreported,
                follower_reads: self.accuracy.follower_reads,
                staleness_order_violations: self.n.staleness_order_violations,
                offset_refused_reads: self.n.offset_refused_reads,
            },
            response: Response {
                impact: Degradation::ALL
                    .iter()
                    .zip(self.ops.monitor.impact)
                    .map(|(k, i)| UserImpact::of(*k, i, cfg.signal_window))
                    .collect(),
                runbook: std::mem::take(&mut self.ops.runbook_steps),
            },
            first_fault: self.recovery.first_fault,
            duration: cfg.duration,
            sli,
            burn_inputs,
        };
        Outcome {
            result,
            counters: self.n.clone(),
            invariants,
            ledger_entries,
            simulated,
        }
    }
}

/// How long after `start` a site's charges recovered, given its charges
/// per second of first send (`sent`) and those whose answer stood
/// (`answered`): the first second from which, for `recovery_hold`, every
/// second's answered charges were at least `recovery_share` of the share
/// answered before the first fault (at `first_fault`). Seconds without a
/// charge do not count against it. `None`: not within the drill. Both
/// write paths' cores judge recovery by this one rule.
pub(crate) fn recovered_after(
    cfg: &DrillConfig,
    sent: &[u32],
    answered: &[u32],
    first_fault: Micros,
    start: Micros,
) -> Option<Micros> {
    let before_fault = (first_fault / 1_000_000) as usize;
    let f = (start / 1_000_000) as usize;
    let hold = (cfg.recovery_hold / 1_000_000).max(1) as usize;
    let (s, a): (u64, u64) = (0..before_fault.min(sent.len()))
        .map(|i| (sent[i] as u64, answered[i] as u64))
        .fold((0, 0), |x, y| (x.0 + y.0, x.1 + y.1));
    let before = if s == 0 { 1.0 } else { a as f64 / s as f64 };
    let floor = cfg.recovery_share * before;
    let ok = |i: usize| sent[i] == 0 || answered[i] as f64 >= floor * sent[i] as f64;
    let last = sent.len().saturating_sub(hold);
    (f..last)
        .find(|&t| (t..t + hold).all(ok))
        .map(|t| (t - f) as Micros * 1_000_000)
}
