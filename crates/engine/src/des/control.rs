//! The control plane: leases, failure detection, promotion of a new term,
//! and client re-routing by health checks and DNS.

use topology::{Micros, SiteId};

use super::{Core, Ev, Term};
use crate::drill::Policy;

impl Core<'_> {
    /// Term `s` renews its lease if its region is up and reaches a majority.
    pub(super) fn renew(&mut self, s: usize) {
        let region = self.terms[s].region;
        let voters = self.voters_for(self.terms[s].excluded);
        // A voter that has moved on to a newer term refuses to extend an
        // older one's lease (as a Raft follower rejects a stale term).
        let current: Vec<usize> = voters
            .into_iter()
            .filter(|&v| v == region || self.follows[v] <= s)
            .collect();
        let total = self.voters_for(self.terms[s].excluded).len();
        let reach = current
            .iter()
            .filter(|&&v| !self.down(v, self.now) && self.reachable(region, v, self.now))
            .count();
        if self.terms[s].alive
            && !self.down(region, self.now)
            && !self.offset_fenced(region)
            && reach > total / 2
        {
            self.terms[s].lease_from = self.now;
        }
        if self.terms[s].alive && self.now < self.end {
            self.push(self.now + self.cfg.renew_every, Ev::Renew(s));
        }
    }

    /// Whether term `s` may admit a charge now.
    pub(crate) fn admits(&self, s: usize) -> bool {
        let term = &self.terms[s];
        term.alive
            && !self.down(term.region, self.now)
            && (!self.cfg.fencing || self.holds_lease(s))
    }

    /// Whether term `s`'s leader, reading its own clock, believes its lease
    /// still valid with the skew margin: `clock(now) + skew < clock(grant) + lease`.
    /// With clocks that only differ by an offset this is exact; a clock
    /// stepped back or running slow makes the leader believe it longer. A
    /// leader fenced by the offset check holds no lease at all.
    fn holds_lease(&self, s: usize) -> bool {
        let term = &self.terms[s];
        let read = |t: Micros| self.pt(term.region, t);
        !self.offset_fenced(term.region)
            && read(self.now) + (self.cfg.skew_bound as i64)
                < read(term.lease_from) + self.cfg.lease as i64
    }

    /// Whether the offset check (when on) keeps region `r` from holding a
    /// lease, promoting, and serving reads: its clock was last measured
    /// beyond the skew bound from a majority of the regions it reached.
    pub(crate) fn offset_fenced(&self, r: usize) -> bool {
        self.cfg.max_offset_enforced && self.clock_out[r]
    }

    /// The offset check, once per renewal period (as CockroachDB's remote
    /// clock monitor measures on its heartbeats). Modelling choice: a
    /// heartbeat round trip measures the true difference between the two
    /// clocks (no network error), between regions that are up and reach
    /// each other. A region is beyond the bound when more than half of those
    /// it measured are over `skew_bound` away; one that measured nobody
    /// (down, or cut off from everyone) keeps its verdict. Each change is
    /// noted on the timeline; a region back within the bound looks for a
    /// leader again.
    pub(super) fn check_offsets(&mut self) {
        let now = self.now;
        let bound = self.cfg.skew_bound;
        for r in 0..self.follows.len() {
            let gaps = self.measure_offsets(r);
            let beyond = gaps.iter().filter(|&&g| g > bound).count();
            let out = 2 * beyond > gaps.len();
            if gaps.is_empty() || out == self.clock_out[r] {
                continue;
            }
            self.clock_out[r] = out;
            let what = match (out, self.cfg.max_offset_enforced) {
                (true, true) => "it holds no lease and serves no reads",
                (true, false) => "offset check off: it goes on serving",
                (false, true) => "it serves again",
                (false, false) => "offset check off",
            };
            let (how, k) = if out {
                ("beyond", beyond)
            } else {
                ("within", gaps.len() - beyond)
            };
            self.note(format!(
                "{} measures its clock {how} the {} ms bound from {k} of the {} regions it \
                 reaches: {what}",
                self.name(r),
                topology::to_ms(bound),
                gaps.len(),
            ));
            if !out {
                self.look_for_leader(r);
            }
        }
        if now < self.end {
            self.push(now + self.cfg.renew_every, Ev::Offsets);
        }
    }

    /// What region `r` measures now: the gap between its clock and that of
    /// every region it reaches (nothing if it is down).
    fn measure_offsets(&self, r: usize) -> Vec<u64> {
        let now = self.now;
        if self.down(r, now) {
            return Vec::new();
        }
        (0..self.follows.len())
            .filter(|&x| x != r && !self.down(x, now) && self.reachable(r, x, now))
            .map(|x| self.offset(r, now).abs_diff(self.offset(x, now)))
            .collect()
    }

    /// Region `r` checks whether it has lost its leader to an active fault
    /// (as its failure detector would on its next heartbeat).
    fn look_for_leader(&mut self, r: usize) {
        let now = self.now;
        if let Some(fault) = self.cfg.faults.iter().position(|f| f.active(now)) {
            self.push(now, Ev::Detect { region: r, fault });
        }
    }

    /// How long ago term `s`'s lease ran out, by its leader's own clock
    /// (0 while it holds it).
    pub(crate) fn lease_expired_for(&self, s: usize) -> Micros {
        let term = &self.terms[s];
        let read = |t: Micros| self.pt(term.region, t);
        let end = read(term.lease_from) + self.cfg.lease as i64;
        (read(self.now) - end).max(0) as Micros
    }

    /// How long region `by` must still wait, by its own clock, before term
    /// `old`'s lease has surely expired: `clock(grant) + lease + skew`.
    fn lease_wait(&self, by: usize, old: usize) -> Micros {
        let read = |t: Micros| self.pt(by, t);
        let until =
            read(self.terms[old].lease_from) + (self.cfg.lease + self.cfg.skew_bound) as i64;
        (until - read(self.now)).max(0) as Micros
    }

    /// Region `r`'s clock offset at true time `t`.
    pub(crate) fn offset(&self, r: usize, t: Micros) -> i64 {
        self.clocks.get(r).map_or(0, |c| c.offset_at(t))
    }

    /// What region `r`'s physical clock reads at true time `t`.
    pub(crate) fn pt(&self, r: usize, t: Micros) -> i64 {
        t as i64 + self.offset(r, t)
    }

    pub(super) fn detect(&mut self, r: usize, fault: usize) {
        let s = self.follows[r];
        let leader = self.terms[s].region;
        if s != self.terms.len() - 1
            || self.reachable(r, leader, self.now) && !self.down(leader, self.now)
            || self.pending[s]
            || self.offset_fenced(r)
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
                term: s,
            },
        );
    }

    /// The voters that count: everyone but a region an operator removed
    /// from the voter set.
    fn voters_for(&self, excluded: Option<usize>) -> Vec<usize> {
        (0..self.follows.len())
            .filter(|&v| Some(v) != excluded)
            .collect()
    }

    /// Whether region `r` votes in term `s`: every region does but one an
    /// operator removed from the voter set when promoting that term.
    pub(crate) fn votes_in(&self, s: usize, r: usize) -> bool {
        self.terms[s].excluded != Some(r)
    }

    /// How many of term `s`'s voting followers must hold an entry durably
    /// before its leader acknowledges it: the commit quorum follows the
    /// term's voter set, as its elections and leases do.
    pub(crate) fn acks_needed(&self, s: usize) -> usize {
        let voters = self.voters_for(self.terms[s].excluded).len();
        self.cfg.replication.acks_needed(voters)
    }

    /// Whether `from` reaches a majority of `voters` (itself included).
    fn has_majority(&self, from: usize, voters: &[usize]) -> bool {
        let reach = voters
            .iter()
            .filter(|&&v| !self.down(v, self.now) && self.reachable(from, v, self.now))
            .count();
        reach > voters.len() / 2
    }

    /// The log a region holds durably for term `old`: what its stream has
    /// made durable (received and fsynced, applied or not).
    fn durable_prefix(&mut self, r: usize, old: usize) -> u64 {
        self.sync(r);
        let applied = self.replicas[r].applied_lsn();
        if self.follows[r] != old {
            return applied;
        }
        self.terms[old].streams[r]
            .as_ref()
            .map_or(applied, |s| s.durable_lsn().max(applied))
    }

    /// Promotes a data region on `by`'s side to replace term `old`, if it is
    /// still needed and (with fencing) safe: `by`'s side has a majority of the
    /// voters and the old leader's lease, as it stands *now*, has surely
    /// expired (a lease renewed meanwhile postpones the promotion).
    ///
    /// The new term takes the longest log held durably on this side, by a
    /// data replica or a witness (the new leader fetches the tail it lacks),
    /// and is led by the most up-to-date data replica. Modelling shortcut: the
    /// new leader applies that log at once; a real one first replays its
    /// backlog, which adds the backlog's apply time to the RTO.
    pub(super) fn promote(&mut self, by: usize, fault: usize, old: usize) {
        self.pending[old] = false;
        let old_region = self.terms[old].region;
        if old != self.terms.len() - 1
            || self.reachable(by, old_region, self.now) && !self.down(old_region, self.now)
        {
            return;
        }
        // A region fenced by the offset check cannot trust its lease
        // arithmetic, nor lead: it leaves the promotion to the others.
        if self.offset_fenced(by) {
            self.note(format!(
                "{} does not promote: its clock is beyond the bound",
                self.name(by)
            ));
            for x in (0..self.follows.len()).filter(|&x| x != by) {
                self.push(self.now, Ev::Detect { region: x, fault });
            }
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
                self.pending[old] = true;
                self.push(
                    self.now + wait,
                    Ev::Promote {
                        region: by,
                        fault,
                        term: old,
                    },
                );
                return;
            }
        }
        let mut longest = 0;
        let mut best: Option<(u64, usize)> = None;
        for r in 0..self.follows.len() {
            if r == old_region || self.down(r, self.now) || !self.reachable(by, r, self.now) {
                continue;
            }
            let have = self.durable_prefix(r, old);
            longest = longest.max(have);
            let can_lead = self.cfg.holds_data(r) && !self.offset_fenced(r);
            if can_lead && best.is_none_or(|(b, _)| have > b) {
                best = Some((have, r));
            }
        }
        let Some((_, r)) = best else {
            self.note("no follower can be promoted".to_string());
            return;
        };
        let prefix = longest.min(self.terms[old].ledger.last_lsn());
        let ledger = self.terms[old].ledger.truncated(prefix);
        let number = self.terms[old].number + 1;
        let n = self.follows.len();
        let folded_at = self.terms[old].folded_at;
        self.terms.push(Term {
            lease_from: self.now,
            excluded,
            folded_at,
            ..Term::new(r, ledger, number, prefix, n)
        });
        self.pending.push(false);
        let s = self.terms.len() - 1;
        self.follows[r] = s;
        self.replicas[r] = self.replica_of(s, prefix);
        self.recovery.promotions.push((self.now, r, prefix));
        self.note(format!(
            "{} promoted to leader, term {number}, with the log up to lsn {prefix} (fault {})",
            self.name(r),
            fault + 1
        ));
        for x in 0..n {
            if x != r && !self.down(x, self.now) && self.reachable(r, x, self.now) {
                self.attach(s, x);
            }
        }
        self.push(self.now + self.cfg.renew_every, Ev::Renew(s));
        // Entry regions that can reach the new leader route charges to it,
        // and health checks move clients off regions that cannot.
        for site in 0..self.entry.len() {
            self.push(self.now + self.cfg.dns_ttl, Ev::Route { site });
        }
        self.heal();
    }

    /// Health checks and DNS move a site's clients to the nearest region up.
    ///
    /// A region is healthy for a site's traffic when it is up, holds data,
    /// and reaches the newest leader (or is it): a region cut off from the
    /// leader serves neither charges nor fresh reads. With no healthy region,
    /// clients of a dead home go to the nearest region up. Health checks run every
    /// detection period; a decision reaches clients after the DNS TTL, so a
    /// route change lands `detection + dns_ttl` after what caused it.
    pub(super) fn route(&mut self, site: usize) {
        let cfg = self.cfg;
        let t = &cfg.topology;
        let sid = SiteId(site as u8);
        let home = t.home(sid).idx();
        let newest = self.terms.len() - 1;
        let leader = self.terms[newest].region;
        let healthy = |r: usize| {
            !self.down(r, self.now)
                && cfg.holds_data(r)
                && (r == leader || self.reachable(r, leader, self.now))
        };
        // Failing a healthy region, any region up beats a dead one: it can
        // still answer reads.
        let up = |r: usize| !self.down(r, self.now) && cfg.holds_data(r);
        let nearest = |ok: &dyn Fn(usize) -> bool| {
            t.regions_by_distance(sid)
                .into_iter()
                .map(|r| r.idx())
                .find(|&r| ok(r))
        };
        let to = if healthy(home) {
            home
        } else {
            nearest(&healthy)
                .or_else(|| (!up(home)).then(|| nearest(&up)).flatten())
                .unwrap_or(home)
        };
        if to != self.entry[site] {
            self.entry[site] = to;
            self.net[site].set_entry(t, topology::RegionId(to as u8));
            self.note(format!(
                "clients of {} now go to {}",
                t.site_name(sid),
                self.name(to)
            ));
        }
    }

    /// The term a region forwards requests to: the newest leader it can reach.
    pub(crate) fn leader_for(&self, entry: usize) -> usize {
        let s = self.follows[entry];
        if self.terms[s].region == entry && self.terms[s].alive {
            return s;
        }
        (0..self.terms.len())
            .rev()
            .find(|&x| self.terms[x].alive && self.reachable(entry, self.terms[x].region, self.now))
            .unwrap_or(s)
    }
}
