//! Clients writing: charges with deadlines, idempotent retries and the
//! replication mode's acknowledgement, and top-ups.

use ledger::{Acknowledged, ChargeOutcome as Booked, EntryKind, IdemKey};
use topology::{Micros, RegionId, SiteId};

use super::{Attempt, Core, Ev, Recovery, TopUpWrite};
use crate::drill::Moment;
use crate::ops::{ChargeFailure, Flag};

impl Core<'_> {
    /// A client sends (or re-sends) a charge now.
    pub(super) fn send(&mut self, mut a: Attempt) {
        a.sent = self.now;
        let site = a.site as usize;
        if self.flag(Flag::WriteReadonlyMode) {
            return self.reject(site);
        }
        let e = self.entry[site];
        if self.down(e, self.now) {
            // DNS still points at a dead region: the client hears nothing.
            return self.give_up(a);
        }
        let term = self.leader_for(e);
        let l = self.terms[term].region;
        if l != e {
            if let Some(since) = self.leader_unavailable(e, l) {
                if self.now >= since + self.cfg.detection {
                    return self.reject(site);
                }
                return self.give_up(a);
            }
        }
        let (entry, leader) = (RegionId(e as u8), RegionId(l as u8));
        // The leader knows it is read-only or has lost its lease; or the
        // entry region sees from the base RTTs that the deadline cannot be met.
        if !self.admits(term)
            || !self
                .router
                .charge_plan(SiteId(a.site), entry, leader)
                .admitted()
        {
            return self.reject(site);
        }
        (a.out, a.back) = self.net[site].legs_via_entry(leader);
        // A delayed link between the entry region and the leader slows the
        // hop it forwards the charge on (its way back: see `arrive`).
        a.out += self.link_delay(e, l, self.now);
        a.entry = e as u8;
        self.n.attempts += 1;
        // The client's own timer: no answer by the deadline, it gives up.
        self.outstanding.insert((a.key, a.number));
        self.push(a.sent + self.cfg.write.deadline, Ev::Timeout(a));
        let slow = super::slow_path(&mut self.slow[site], &self.cfg.workload);
        self.push(self.now + a.out + slow, Ev::Arrive { term, a });
    }

    /// The charge is refused at once: the leader is known to be unavailable.
    fn reject(&mut self, site: usize) {
        self.n.rejected += 1;
        self.ops
            .monitor
            .charge_failed(self.now, ChargeFailure::Rejected);
        self.count_degraded(site);
    }

    /// The client's deadline for attempt `a` has passed: if no answer came,
    /// it gives up on the attempt.
    pub(super) fn timeout(&mut self, a: Attempt) {
        if self.outstanding.remove(&(a.key, a.number)) {
            self.give_up(a);
        }
    }

    /// The attempt got no answer: retry after the deadline, or give up.
    fn give_up(&mut self, a: Attempt) {
        self.ops
            .monitor
            .charge_timed_out(self.now, self.cfg.write.deadline);
        self.count_degraded(a.site as usize);
        match a.retry(self.now, self.cfg.write.deadline, &self.cfg.workload) {
            Some((at, next)) => self.push(at, Ev::Retry(next)),
            None => self.n.unknown += 1,
        }
    }

    /// The attempt reaches the leader of term `s`: it is booked (or
    /// recognised as a repeat of its key), and acknowledged once the leader's
    /// own commit and the acks the replication mode needs are in.
    /// An attempt the leader drops, or answers too late, is left to the
    /// client's timer.
    pub(super) fn arrive(&mut self, s: usize, mut a: Attempt) {
        if !self.admits(s) {
            return;
        }
        let leader = self.terms[s].region;
        self.terms[s].last_admit = Some(self.now);
        let before = self.terms[s].ledger.last_lsn() + 1;
        let reply = self.terms[s]
            .ledger
            .charge(a.account, a.amount, IdemKey(a.key), self.now)
            .expect("validated charge");
        if reply.duplicate {
            self.n.duplicates_suppressed += 1;
        } else if a.number > 1 {
            self.n.retries_raced_original += 1;
        }
        self.ship(s, before);
        let (lsn, declined) = match reply.outcome {
            Booked::Accepted { lsn } => (lsn, false),
            Booked::Declined { .. } => (0, true),
        };
        let commit = self.commit_done(leader);
        let ready = if declined {
            commit
        } else {
            self.ack_ready(s, lsn)
                .map_or(Micros::MAX, |t| t.max(commit))
        };
        if ready == Micros::MAX {
            return;
        }
        a.back += self.link_delay(leader, a.entry as usize, ready);
        if ready + a.back > a.sent + self.cfg.write.deadline {
            // The client will stop waiting; the entry may still replicate.
            return;
        }
        self.push(
            ready,
            Ev::Ack {
                term: s,
                a,
                lsn,
                declined,
                commit: self.now,
            },
        );
    }

    /// When the leader in region `leader` has its own commit of what it
    /// books now: the commit time (an fsync), plus any disk stall there.
    fn commit_done(&self, leader: usize) -> Micros {
        self.now + self.cfg.write.commit + self.disk_stall(leader, self.now)
    }

    /// When the leader of term `s` holds the acks the replication mode needs
    /// for `lsn`: the k-th earliest *durable receipt* among its voting
    /// followers (data replicas and witnesses; not a region an operator
    /// removed from the term's voter set), plus that follower's one-way trip
    /// back (and any link delay on it when the ack leaves).
    /// `None` if too few followers will ever have it.
    fn ack_ready(&self, s: usize, lsn: u64) -> Option<Micros> {
        let need = self.acks_needed(s);
        if need == 0 {
            return Some(self.now);
        }
        let leader = self.terms[s].region;
        let mut times: Vec<Micros> = (0..self.follows.len())
            .filter(|&r| r != leader && self.follows[r] == s && self.votes_in(s, r))
            .filter_map(|r| {
                let st = self.terms[s].streams[r].as_ref()?;
                let durable = st.durable_time(lsn)?.max(self.now);
                Some(durable + st.link().one_way + self.link_delay(r, leader, durable))
            })
            .collect();
        times.sort_unstable();
        times.get(need - 1).copied()
    }

    /// Whether an acknowledgement the leader of term `s` sends now for
    /// `lsn` reaches a client that sent at `sent`, `back` away, in time: the
    /// leader still leads and is up, the answer lands by the deadline, and
    /// (for a write taken) the copies the mode needs are really durable.
    fn answer_lands(&mut self, s: usize, lsn: Option<u64>, sent: Micros, back: Micros) -> bool {
        let alive = self.terms[s].alive && !self.down(self.terms[s].region, self.now);
        alive
            && self.now + back <= sent + self.cfg.write.deadline
            && lsn.is_none_or(|lsn| self.replicated(s, lsn))
    }

    pub(super) fn ack(&mut self, s: usize, a: Attempt, lsn: u64, declined: bool, commit: Micros) {
        let done = self.now + a.back;
        if !self.answer_lands(s, (!declined).then_some(lsn), a.sent, a.back)
            || !self.outstanding.remove(&(a.key, a.number))
        {
            return;
        }
        let first = a.first_sent;
        self.ops.monitor.charge_ok(done - a.sent);
        let site = a.site as usize;
        self.window(first).sites[site].write.record(done - first);
        self.sli.charge_answered(site, first, done - first);
        if declined {
            // An answer, but not a charge taken: the gaps count charges.
            self.n.declined += 1;
            Recovery::count(&mut self.recovery.answered, site, first);
            return;
        }
        if let Some(last) = self.recovery.last_ack {
            if self.recovery.first_fault.is_some() {
                self.recovery.longest_gap =
                    self.recovery.longest_gap.max(done.saturating_sub(last));
            }
        }
        self.recovery.last_ack = Some(self.recovery.last_ack.map_or(done, |l| l.max(done)));
        if let Some(f) = self.recovery.first_fault {
            if first >= f && self.recovery.rto.is_none() {
                self.recovery.rto = Some(done - f);
                self.timeline.push(Moment {
                    at: done,
                    what: "first charge sent since the fault is acknowledged".to_string(),
                });
            }
        }
        let session = &mut self.money.session[a.account as usize];
        *session = (*session).max(lsn);
        self.money.acked_total += 1;
        self.money.acked.push((
            Acknowledged {
                kind: EntryKind::Charge,
                key: IdemKey(a.key),
                lsn,
                account: a.account,
                amount: a.amount,
            },
            commit,
            s,
            (a.site, a.first_sent),
        ));
    }

    /// Whether as many followers as the mode requires really hold `lsn`
    /// durably now (a link cut after the commit can delay the copies the ack
    /// counted on).
    fn replicated(&mut self, s: usize, lsn: u64) -> bool {
        let need = self.acks_needed(s);
        if need == 0 {
            return true;
        }
        let leader = self.terms[s].region;
        let now = self.now;
        let mut have = 0;
        for r in 0..self.follows.len() {
            if r == leader || self.follows[r] != s || !self.votes_in(s, r) {
                continue;
            }
            if let Some(st) = self.terms[s].streams[r].as_mut() {
                st.advance(now);
                have += (st.durable_lsn() >= lsn) as usize;
                self.refile(s, r);
            }
        }
        have >= need
    }

    /// A top-up from `site`: sent to the leader its entry region reaches.
    pub(super) fn send_top_up(&mut self, site: usize, key: u64, account: u32, amount: i64) {
        let e = self.entry[site];
        if self.down(e, self.now) {
            return;
        }
        let term = self.leader_for(e);
        let l = self.terms[term].region;
        if self.reachable(e, l, self.now) {
            let (out, back) = self.net[site].legs_via_entry(RegionId(l as u8));
            let w = TopUpWrite {
                key,
                site: site as u8,
                account,
                amount,
                sent: self.now,
                back,
                entry: e as u8,
            };
            let out = out + self.link_delay(e, l, self.now);
            self.push(self.now + out, Ev::TopUp { term, w });
        }
    }

    /// A top-up reaches the leader of term `s`: booked, and acknowledged when
    /// the replication mode's acks are in (if the client still waits).
    pub(super) fn book_top_up(&mut self, s: usize, mut w: TopUpWrite) {
        if !self.admits(s) {
            return;
        }
        let leader = self.terms[s].region;
        let before = self.terms[s].ledger.last_lsn() + 1;
        // Validation caps amounts so that no balance can overflow in a run
        // the clock can express; a refused top-up is counted, never a crash.
        match self.terms[s]
            .ledger
            .top_up_keyed(w.account, w.amount, IdemKey(w.key), self.now)
        {
            Ok(lsn) => {
                self.n.top_ups += 1;
                self.ship(s, before);
                let commit = self.commit_done(leader);
                if let Some(ready) = self.ack_ready(s, lsn).map(|t| t.max(commit)) {
                    w.back += self.link_delay(leader, w.entry as usize, ready);
                    if ready + w.back <= w.sent + self.cfg.write.deadline {
                        let at = self.now;
                        self.push(
                            ready,
                            Ev::TopUpAck {
                                term: s,
                                w,
                                lsn,
                                commit: at,
                            },
                        );
                    }
                }
            }
            Err(_) => self.n.top_ups_refused += 1,
        }
    }

    /// The leader of term `s` acknowledges a top-up.
    pub(super) fn top_up_ack(&mut self, s: usize, w: TopUpWrite, lsn: u64, commit: Micros) {
        if !self.answer_lands(s, Some(lsn), w.sent, w.back) {
            return;
        }
        self.money.acked.push((
            Acknowledged {
                kind: EntryKind::TopUp,
                key: IdemKey(w.key),
                lsn,
                account: w.account,
                amount: w.amount,
            },
            commit,
            s,
            (w.site, w.sent),
        ));
    }
}
