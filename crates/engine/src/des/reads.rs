//! Clients reading: the configured strategy picks the replica through
//! `routing`, read-your-writes may hold or forward the read, and each answer
//! is measured three ways: its latency, the staleness the serving replica
//! reported (`reported_staleness`), and how old the balance really was
//! (`data_age`, judged against the newest term's ledger).

use routing::ReadStrategy;
use topology::{Micros, RegionId};

use super::workload::ReadKind;
use super::Core;
use crate::ops::{Degradation, Flag};
use crate::wallet::ReadYourWrites;

/// Reported staleness of a region that cannot serve reads (down, or a
/// witness): far over any bound, so `bounded` and `fallback` go elsewhere.
const UNAVAILABLE: Micros = Micros::MAX / 4;

impl Core<'_> {
    /// Whether region `r` leads the term it follows.
    fn leads(&self, r: usize) -> bool {
        self.terms[self.follows[r]].region == r
    }

    /// The staleness region `r` reports now, and the truth (now minus its
    /// watermark on the true clock). A leader is fresh while it holds its
    /// lease; once the lease has run out (fencing on) a successor may be
    /// committing, so it reports the time since its lease ended, on its own
    /// clock, as a leaseholder-read system does.
    fn reported_staleness(&mut self, r: usize) -> (Micros, Micros) {
        if self.refuses_reads(r) {
            return (UNAVAILABLE, UNAVAILABLE);
        }
        if self.leads(r) {
            let s = self.follows[r];
            if self.cfg.fencing && !self.down(r, self.now) {
                let expired = self.lease_expired_for(s);
                return (expired, expired);
            }
            return (0, 0);
        }
        if !self.cfg.holds_data(r) || self.down(r, self.now) {
            return (UNAVAILABLE, UNAVAILABLE);
        }
        self.sync(r);
        self.skew(r)
    }

    /// Whether region `r` refuses reads for its clock: the offset check
    /// fences it, and it would serve them as a follower or under its lease
    /// (without fencing a leader has no lease to lose).
    fn refuses_reads(&self, r: usize) -> bool {
        self.offset_fenced(r) && (self.cfg.fencing || !self.leads(r))
    }

    /// One read from `site` now.
    pub(super) fn read(&mut self, site: usize, account: u32, kind: ReadKind) {
        let now = self.now;
        if kind == ReadKind::Eligibility && self.flag(Flag::DisableRecs) {
            self.ops.monitor.degraded(Degradation::FeatureDisabled, now);
            self.count_degraded(site);
            return;
        }
        let e = self.entry[site];
        if self.down(e, now) {
            return self.failed_read(site);
        }
        let leader = self.terms[self.leader_for(e)].region;
        self.n.offset_refused_reads += self.refuses_reads(e) as u64;
        for r in 0..self.staleness.len() {
            self.staleness[r] = self.reported_staleness(r).0;
        }
        // FORCE_LEADER_READ overrides the strategy while the leader is up.
        let strategy = if self.flag(Flag::ForceLeaderRead) && !self.down(leader, now) {
            ReadStrategy::Leader
        } else {
            self.cfg.strategy
        };
        let mut out = {
            let snap = self.net[site].snapshot(RegionId(leader as u8), &self.staleness);
            self.router.read(strategy, &snap)
        };
        let r = out.served_by.idx();
        // A staleness contract the strategy cannot meet (the leader it would
        // ask is itself out of date, cut off behind a partition) fails the
        // read rather than break the contract.
        let limit = match strategy {
            ReadStrategy::Bounded => self.cfg.read.max_staleness,
            ReadStrategy::Fallback => self.cfg.read.fallback_threshold,
            _ => UNAVAILABLE - 1,
        };
        if out.staleness > limit || r != e && !self.reachable(e, r, now) {
            return self.failed_read(site);
        }
        let mut follower = !self.leads(r);
        let s = self.follows[r];
        let mut applied = if follower {
            self.replicas[r].applied_lsn()
        } else {
            self.terms[s].ledger.last_lsn()
        };
        let mut served_at = now;
        let mut forwarded = false;
        let wanted = self.money.session[account as usize];
        let ryw = self.cfg.workload.read_your_writes;
        if follower && wanted > applied && ryw != ReadYourWrites::Off {
            let arrives = self.terms[s].streams[r]
                .as_ref()
                .and_then(|st| st.apply_time(wanted));
            // By `at` the replica has applied at least the session's write, so
            // its watermark is at least that write's commit.
            let mark = self.marks[r];
            // Folded into the checkpoint: the snapshot on its way carries it,
            // and moves the watermark to the last folded commit.
            let ledger = &self.terms[s].ledger;
            let committed = match ledger.entry(wanted) {
                Some(x) => x.committed_at,
                None if wanted <= ledger.checkpoint().lsn => self.terms[s].folded_at,
                None => 0,
            };
            let after_wait = |at: Micros| at - mark.max(committed);
            // Waiting must not break the strategy's own staleness limit.
            let limit = match strategy {
                ReadStrategy::Bounded => self.cfg.read.max_staleness,
                ReadStrategy::Fallback => self.cfg.read.fallback_threshold,
                _ => Micros::MAX,
            };
            match (ryw, arrives) {
                (ReadYourWrites::Wait, Some(at))
                    if at - now <= self.cfg.workload.ryw_wait_bound && after_wait(at) <= limit =>
                {
                    self.n.ryw_waits += 1;
                    out.latency += at - now;
                    out.staleness = after_wait(at);
                    served_at = at;
                    applied = wanted;
                }
                _ => {
                    forwarded = true;
                    self.n.ryw_forwards += 1;
                    out.latency = self.net[site].via_entry(RegionId(leader as u8));
                    out.served_by = RegionId(leader as u8);
                    out.staleness = 0;
                    follower = false;
                    applied = self.terms[self.follows[leader]].ledger.last_lsn();
                }
            }
        }
        let served = out.served_by.idx();
        // A read the entry region relays to the leader (bounded's forward, a
        // read-your-writes forward) crosses the link between them, and any
        // delay on it; `leader` and `fallback` reads go there from the site.
        let relayed = served != e && (forwarded || strategy == ReadStrategy::Bounded && !follower);
        if relayed {
            out.latency += self.link_delay(e, served, now) + self.link_delay(served, e, now);
        }
        let data_age = self.data_age(served, account, applied, served_at);
        if follower {
            let (reported, truth) = self.skew(served);
            self.accuracy.follower_reads += 1;
            self.accuracy.underreported += (reported < truth) as u64;
            self.accuracy
                .staleness_error
                .record(reported.abs_diff(truth));
        }
        self.n.staleness_order_violations += (data_age > out.staleness) as u64;

        let local = if self.leads(e) { 0 } else { self.staleness[e] };
        self.ops.monitor.read(now, out.staleness, local);
        self.ops.monitor.answered(out.staleness, data_age);
        let bound = self.cfg.read.max_staleness;
        if out.staleness > bound {
            self.count_degraded(site);
        }
        self.sli
            .read(site, now, out.latency, out.staleness, data_age);
        self.window(now).sites[site].record_read(&out, data_age, bound, !follower);
        if kind == ReadKind::Eligibility {
            let balance = self.balance_seen(served, account, applied);
            self.n.eligible += (balance >= self.cfg.workload.eligibility_threshold) as u64;
        }
    }

    /// How old the balance of `account` served by `r` (holding its term's log
    /// up to `applied`) is at `served_at`: the age of the oldest write to
    /// that account the newest term has and the answer lacks; 0 if none.
    fn data_age(&self, r: usize, account: u32, applied: u64, served_at: Micros) -> Micros {
        let newest = self.terms.len() - 1;
        let cursor = if self.follows[r] == newest {
            if self.leads(r) {
                return 0;
            }
            applied
        } else {
            applied.min(self.terms[newest].prefix)
        };
        self.first_after(newest, account, cursor)
            .map_or(0, |(_, at)| served_at.saturating_sub(at))
    }

    /// The lsn and commit time of the first entry of `account` after lsn
    /// `cursor` in term `t`'s log, whether it is still kept or folded into
    /// the checkpoint: a region left behind on an older term reads from a
    /// cursor the newest term may have compacted past. Below the term's
    /// checkpoint its inherited part (up to its prefix) is its predecessor's
    /// log, and its own first entry per account is remembered when folded.
    fn first_after(&self, t: usize, account: u32, cursor: u64) -> Option<(u64, Micros)> {
        let term = &self.terms[t];
        let found = |c| {
            term.ledger
                .first_entry_of_account_after(account, c)
                .map(|x| (x.lsn, x.committed_at))
        };
        if cursor >= term.ledger.checkpoint().lsn {
            return found(cursor);
        }
        let own_from = if t == 0 { 0 } else { term.prefix };
        if t > 0 && cursor < own_from {
            if let Some((l, at)) = self.first_after(t - 1, account, cursor) {
                if l <= own_from {
                    return Some((l, at));
                }
            }
        }
        if cursor <= own_from {
            if let Some(first) = term.first_own.get(account as usize).copied().flatten() {
                return Some(first);
            }
        }
        found(cursor)
    }

    /// The balance region `r` answers with, having applied its term's log up
    /// to `applied` (beyond its replica after a read-your-writes wait).
    fn balance_seen(&self, r: usize, account: u32, applied: u64) -> i64 {
        let s = self.follows[r];
        let ledger = &self.terms[s].ledger;
        if self.leads(r) {
            return ledger.balance(account);
        }
        let mut balance = self.replicas[r].balance(account);
        let mut cursor = self.replicas[r].applied_lsn();
        // A snapshot on its way that the wait covers: its balance, then the
        // entries after it (the log before it is folded away).
        if let Some(snap) = self.snapshots[r]
            .as_ref()
            .filter(|c| cursor < c.lsn && c.lsn <= applied)
        {
            balance = snap.balances[account as usize];
            cursor = snap.lsn;
        }
        while let Some(x) = ledger.first_entry_of_account_after(account, cursor) {
            if x.lsn > applied {
                break;
            }
            balance += x.delta();
            cursor = x.lsn;
        }
        balance
    }

    fn failed_read(&mut self, site: usize) {
        let now = self.now;
        self.window(now).sites[site].failed_reads += 1;
        self.sli.read_failed(site, now);
        self.ops.monitor.read_failed(now);
        self.count_degraded(site);
    }

    /// The staleness replica `e` reports now, and the truth (now minus its
    /// watermark, on the true clock).
    ///
    /// `wall`: its own clock minus the leader's wall-clock stamp on the
    /// watermark. `hlc`: a reading of its hybrid clock (a local event) minus
    /// the leader's hybrid stamp on the watermark, plus the configured
    /// maximum clock offset as uncertainty: `l` differs from true time by at
    /// most the largest clock offset, on either side.
    pub(crate) fn skew(&mut self, e: usize) -> (Micros, Micros) {
        let now = self.now;
        let mark = self.marks[e];
        let truth = now.saturating_sub(mark);
        let leader = self.terms[self.follows[e]].region;
        let wall = self.pt(e, now);
        let reported = match self.cfg.watermark {
            crate::drill::Watermark::Wall => (wall - self.pt(leader, mark)).max(0),
            crate::drill::Watermark::Hybrid => {
                let l = self.hlcs[e].now(wall).l;
                (l - self.hlc_marks[e].l + self.cfg.skew_bound as i64).max(0)
            }
        } as Micros;
        (reported, truth)
    }
}
