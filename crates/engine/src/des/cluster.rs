//! The cluster's data: each term's log, the streams it ships, every region's
//! replica, and the reconciliation that follows a heal.

use ledger::{Acknowledged, Entry, EntryKind, Ledger, Replica};
use replication::clock::HlcStamp;
use replication::rng::substream;
use replication::{snapshot_transfer, FollowerStream, LagProcess, Link};
use topology::{Micros, RegionId};

use super::faults::{apply_fault, slow_stream};
use super::{Core, Recovery};

impl Core<'_> {
    /// The stream term `term` ships to region `to`, starting at `start`. Its
    /// lag and its network jitter draw from sub-streams `lag/<link>` and
    /// `link/<link>`, where the link id packs the term, sender and receiver.
    /// It knows every link delay and disk stall of the run on its way.
    fn new_stream(&self, term: usize, to: usize, start: Micros) -> FollowerStream {
        let from = self.terms[term].region;
        let id = ((term as u64) << 16) | ((from as u64) << 8) | to as u64;
        let link = Link {
            one_way: self
                .router
                .one_way(RegionId(from as u8), RegionId(to as u8)),
            jitter: self.cfg.topology.jitter(),
            fsync: self.cfg.write.commit,
        };
        let lag = LagProcess::new(self.cfg.lag, substream(self.seed, "lag", id));
        let mut stream = FollowerStream::new(
            link,
            lag,
            self.cfg.workload.heartbeat,
            substream(self.seed, "link", id),
        )
        .starting_at(start);
        slow_stream(&self.cfg.faults, &mut stream, from, to);
        stream
    }

    /// Every send and receipt due by now on every stream, in time order
    /// (receipts first at one instant, then by term and region): each
    /// heartbeat leaves stamped by its leader's hybrid clock, each receipt
    /// moves its follower's. Run before anything else at a new instant, so
    /// that each region's clock sees its events in order. The next sends and
    /// receipts of every stream are filed in `self.dues`, ordered as they are
    /// played, so the pump takes the first instead of scanning every term's
    /// streams (whatever moves a stream re-files it: [`Self::refile`]).
    pub(crate) fn pump(&mut self) {
        let now = self.now;
        debug_assert_eq!(
            self.dues.first().copied(),
            self.scan_dues(),
            "the pump's index and its streams disagree"
        );
        while let Some(&(t, send, s, r)) = self.dues.first() {
            if t > now {
                break;
            }
            let leader = self.terms[s].region;
            let (pt_leader, pt_follower) = (self.pt(leader, t), self.pt(r, t));
            let down = send && self.down(leader, t);
            let Some(st) = self.terms[s].streams[r].as_mut() else {
                break;
            };
            if send {
                if down {
                    // A region that is down sends nothing.
                    st.skip_heartbeat();
                } else {
                    st.heartbeat(self.hlcs[leader].send(pt_leader));
                }
                // Every receipt up to `t` is taken: what is visible by then
                // may go (this keeps streams nobody reads from small).
                st.settle(t);
            } else if let Some((_, stamp)) = st.deliver(now) {
                self.hlcs[r].recv(pt_follower, stamp);
            }
            self.refile(s, r);
        }
    }

    /// Files stream `(s, r)`'s next receipt and next heartbeat in the pump's
    /// index in place of what was filed for it before. Call after anything
    /// that may move them: sending, advancing, settling, cutting, dropping.
    pub(crate) fn refile(&mut self, s: usize, r: usize) {
        let term = &mut self.terms[s];
        let now = term.streams[r].as_ref().map_or((None, None), |st| {
            (st.next_receipt(), Some(st.next_heartbeat()))
        });
        let was = std::mem::replace(&mut term.filed[r], now);
        if was == now {
            return;
        }
        for (t, send) in [(was.0, false), (was.1, true)] {
            if let Some(t) = t {
                self.dues.remove(&(t, send, s, r));
            }
        }
        for (t, send) in [(now.0, false), (now.1, true)] {
            if let Some(t) = t {
                self.dues.insert((t, send, s, r));
            }
        }
    }

    /// [`Self::refile`] for every stream of term `s`.
    pub(crate) fn refile_term(&mut self, s: usize) {
        for r in 0..self.terms[s].streams.len() {
            self.refile(s, r);
        }
    }

    /// The first send or receipt due on any stream, by scanning them all:
    /// what the pump's index must hold first (checked in debug builds).
    fn scan_dues(&self) -> Option<(Micros, bool, usize, usize)> {
        let mut next: Option<(Micros, bool, usize, usize)> = None;
        for (s, term) in self.terms.iter().enumerate() {
            for (r, st) in term.streams.iter().enumerate() {
                let Some(st) = st else { continue };
                let due = [
                    (st.next_receipt(), false),
                    (Some(st.next_heartbeat()), true),
                ];
                for (t, send) in due {
                    let key = t.map(|t| (t, send, s, r));
                    if key.is_some() && next.is_none_or(|n| key < Some(n)) {
                        next = key;
                    }
                }
            }
        }
        next
    }

    /// The stamp a backlog carries for entry `lsn` of term `s`'s log,
    /// committed at `committed_at`: the clock reading of the leader that
    /// committed it (the term of `s`'s lineage that appended it) at the
    /// commit. That leader's hybrid clock read at least this, so the stamp
    /// is never younger than the one the entry was committed with: a
    /// follower catching up never claims more freshness than it has.
    fn commit_stamp(&self, s: usize, lsn: u64, committed_at: Micros) -> HlcStamp {
        let mut k = s;
        while k > 0 && lsn <= self.terms[k].prefix {
            k -= 1;
        }
        HlcStamp::physical(self.pt(self.terms[k].region, committed_at))
    }

    /// Makes term `s` the source of region `r`'s log from now on: cuts the
    /// replica back to what it shares with `s`'s log and ships the rest.
    ///
    /// A replica behind the checkpoint of `s`'s log (the entries it lacks are
    /// folded away: it was down or cut off while the live regions moved on)
    /// first gets a snapshot of that checkpoint, which takes its transfer
    /// time over the link ([`replication::snapshot_transfer`]), then the
    /// entries after it; until the snapshot is visible it keeps what it had.
    pub(crate) fn attach(&mut self, s: usize, r: usize) {
        let prev = self.follows[r];
        if prev != s {
            let keep = self
                .common_prefix(prev, s)
                .min(self.replicas[r].applied_lsn());
            if keep < self.replicas[r].applied_lsn() {
                // Either log holds the shared prefix; the one whose
                // checkpoint is not past it can rebuild it.
                let from = if self.terms[s].ledger.checkpoint().lsn <= keep {
                    s
                } else {
                    prev
                };
                self.replicas[r] = self.replica_of(from, keep);
            }
        }
        self.follows[r] = s;
        let now = self.now;
        let mut stream = self.new_stream(s, r, now);
        let base = self.terms[s].ledger.checkpoint().lsn;
        let mut first = self.replicas[r].applied_lsn() + 1;
        self.snapshots[r] = None;
        if first <= base {
            let at = self.terms[s].folded_at;
            let transfer = snapshot_transfer(stream.link(), self.cfg.workload.accounts as u64);
            stream.ship_snapshot(base, at, self.commit_stamp(s, base, at), transfer);
            self.snapshots[r] = Some(self.terms[s].ledger.checkpoint().clone());
            first = base + 1;
            self.note(format!(
                "{} is behind {}'s compacted log: it catches up from a snapshot up to lsn {base} \
                 ({} ms to transfer)",
                self.name(r),
                self.name(self.terms[s].region),
                topology::to_ms(transfer)
            ));
        }
        let ledger = &self.terms[s].ledger;
        for l in first..=ledger.last_lsn() {
            let committed = ledger.entry(l).map_or(now, |e| e.committed_at);
            stream.ship_backlog(l, committed, self.commit_stamp(s, l, committed));
        }
        let from = self.terms[s].region;
        for f in self.cfg.faults.iter().filter(|f| f.active(now)) {
            apply_fault(f, &mut stream, from, r, now);
        }
        self.terms[s].streams[r] = Some(stream);
        // Its first heartbeat is due now, behind the backlog.
        self.refile(s, r);
        self.pump();
    }

    /// Brings region `r`'s replica up to what its stream has applied by now.
    pub(crate) fn sync(&mut self, r: usize) {
        let s = self.follows[r];
        if self.terms[s].region == r {
            return;
        }
        let now = self.now;
        if let Some(stream) = self.terms[s].streams[r].as_mut() {
            stream.advance(now);
            self.marks[r] = self.marks[r].max(stream.watermark());
            self.hlc_marks[r] = self.hlc_marks[r].max(stream.watermark_hlc());
            let target = stream.applied_lsn();
            let ledger = &self.terms[s].ledger;
            let rep = &mut self.replicas[r];
            // A snapshot visible by now replaces what the replica had.
            if self.snapshots[r].as_ref().is_some_and(|c| c.lsn <= target) {
                let snap = self.snapshots[r].take().expect("checked");
                if rep.applied_lsn() < snap.lsn {
                    *rep = Replica::from_checkpoint(&snap);
                }
            }
            for l in rep.applied_lsn() + 1..=target.min(ledger.last_lsn()) {
                rep.apply(ledger.entry(l).expect("shipped"))
                    .expect("in order");
            }
            self.refile(s, r);
        }
    }

    /// Ships term `s`'s entries from `from_lsn` on to every follower, each
    /// entry stamped once by the leader's hybrid clock (its commit stamp).
    pub(crate) fn ship(&mut self, s: usize, from_lsn: u64) {
        self.pump();
        let now = self.now;
        let leader = self.terms[s].region;
        let pt = self.pt(leader, now);
        let term = &mut self.terms[s];
        for l in from_lsn..=term.ledger.last_lsn() {
            let stamp = self.hlcs[leader].send(pt);
            for stream in term.streams.iter_mut().flatten() {
                stream.ship(l, now, stamp);
            }
        }
        // Their receipts are due from now on.
        self.refile_term(s);
    }

    /// After a fault ends: any deposed leader that can now hear the newest
    /// term steps down; without fencing its charges are merged first.
    pub(crate) fn heal(&mut self) {
        let newest = self.terms.len() - 1;
        for s in 0..newest {
            let r = self.terms[s].region;
            if !self.terms[s].alive && self.follows[r] == newest {
                continue;
            }
            let new_region = self.terms[newest].region;
            if self.down(r, self.now) || !self.reachable(r, new_region, self.now) {
                continue;
            }
            if self.terms[s].alive && !self.cfg.fencing {
                self.merge(s, newest);
            }
            if self.terms[s].alive || self.follows[r] != newest {
                self.terms[s].alive = false;
                self.note(format!(
                    "{} learns term {} and rejoins as a follower of {}",
                    self.name(r),
                    self.terms[newest].number,
                    self.name(new_region)
                ));
                self.replicas[r] = self.replica_of(s, self.common_prefix(s, newest));
                self.attach(newest, r);
            }
            for x in 0..self.follows.len() {
                if self.follows[x] == s && x != r && self.reachable(x, new_region, self.now) {
                    self.attach(newest, x);
                }
            }
        }
    }

    /// A replica holding term `s`'s log up to `upto`: its checkpoint, then
    /// the entries after it.
    pub(crate) fn replica_of(&self, s: usize, upto: u64) -> Replica {
        let ledger = &self.terms[s].ledger;
        let base = ledger.checkpoint();
        debug_assert!(upto >= base.lsn, "no replica below the checkpoint");
        let mut rep = Replica::from_checkpoint(base);
        for l in base.lsn + 1..=upto {
            rep.apply(self.terms[s].ledger.entry(l).expect("in range"))
                .expect("in order");
        }
        rep
    }

    /// The longest log prefix terms `a` and `b` share. Each term took its
    /// predecessor's log up to its `prefix` and appended its own entries, so
    /// two terms agree at most up to the smallest prefix taken between them
    /// (the lineage bound); below that, where both still hold entries, they
    /// are compared. A term's checkpoint never passes what a majority of the
    /// voters held, so a promotion's prefix is never below its predecessor's
    /// checkpoint (see [`Self::compact`]): below the lineage bound, what one
    /// log folded the other holds the same.
    pub(crate) fn common_prefix(&self, a: usize, b: usize) -> u64 {
        let (x, y) = (&self.terms[a].ledger, &self.terms[b].ledger);
        let (lo, hi) = (a.min(b), a.max(b));
        let lineage = self.terms[lo + 1..=hi]
            .iter()
            .map(|t| t.prefix)
            .min()
            .unwrap_or(u64::MAX);
        let n = x.last_lsn().min(y.last_lsn()).min(lineage);
        let base = x.checkpoint().lsn.max(y.checkpoint().lsn);
        if n <= base {
            return n;
        }
        (base + 1..=n)
            .take_while(|&l| x.entry(l) == y.entry(l))
            .last()
            .unwrap_or(base)
    }

    /// Folds the log that can no longer change or be asked for into the
    /// newest term's checkpoint, so that memory stays flat however long the
    /// run and however long a fault: entries applied by every region that
    /// follows the newest term (each reads its entries from this log), held
    /// by a majority of the voters (so any promotion's prefix covers the
    /// checkpoint), and whose acknowledgements are all in (committed more
    /// than a key horizon ago: a retry answered from its key acknowledges
    /// the first attempt's entry). A region still on an older term that the
    /// leader cannot reach (down, cut off) does not hold compaction back: when
    /// it rejoins it catches up from a snapshot ([`Self::attach`]). The
    /// acknowledgements the folded entries settle are checked now, against
    /// the entries about to go, and expired idempotency keys (past every
    /// retry) are forgotten. Those of an older term still alive are settled
    /// too: with fencing it is never merged (what it has beyond the lineage
    /// is lost), and without fencing nothing is folded while it is alive.
    pub(crate) fn compact(&mut self) {
        let newest = self.terms.len() - 1;
        let Some(applied) = self.compaction_bound(newest) else {
            return;
        };
        let ledger = &self.terms[newest].ledger;
        // A retry answered from its key can acknowledge an entry up to the
        // key horizon after its commit.
        let settled = self.now.saturating_sub(self.key_horizon() + 1);
        let tail = ledger.entries();
        let answered =
            ledger.checkpoint().lsn + tail.partition_point(|e| e.committed_at < settled) as u64;
        let upto = applied.min(answered);
        if upto <= ledger.checkpoint().lsn {
            return;
        }
        let acked = std::mem::take(&mut self.money.acked);
        for (ack, at, term, origin) in acked {
            if ack.lsn > upto {
                self.money.acked.push((ack, at, term, origin));
                continue;
            }
            let entry = self.terms[newest].ledger.entry(ack.lsn);
            let held = self.money.checker.acknowledged(&ack, entry);
            self.settle(&ack, at, term, origin, held);
        }
        let keys_before = self.now.saturating_sub(self.key_horizon());
        let folded = self.terms[newest].ledger.compact(upto, keys_before);
        let term = &mut self.terms[newest];
        if let Some(last) = folded.last() {
            term.folded_at = last.committed_at;
        }
        let own_from = if newest == 0 { 0 } else { term.prefix };
        for e in folded.iter().filter(|e| e.lsn > own_from) {
            let first = &mut term.first_own[e.account as usize];
            first.get_or_insert((e.lsn, e.committed_at));
        }
        self.money.checker.fold(&folded);
    }

    /// How far term `s` (the newest) may fold its log, before the key
    /// horizon: `None` while it must wait.
    ///
    /// With fencing, every region that follows `s` must have applied it and a
    /// majority of `s`'s voters must hold it. A region on an older term
    /// waits for the heal to rejoin if the leader reaches it (the heal is
    /// under way), and is left out if not: it will take a snapshot. Without
    /// fencing a minority may promote itself, which needs the log its
    /// members hold, so compaction waits, as it always did, until no older
    /// term is alive and every region follows `s`.
    fn compaction_bound(&self, s: usize) -> Option<u64> {
        let leader = self.terms[s].region;
        let last = self.terms[s].ledger.last_lsn();
        let n = self.follows.len();
        if !self.cfg.fencing {
            if self.terms[..s].iter().any(|t| t.alive) || self.follows.iter().any(|&f| f != s) {
                return None;
            }
            return Some(
                (0..n)
                    .filter(|&r| r != leader)
                    .map(|r| self.replicas[r].applied_lsn())
                    .min()
                    .unwrap_or(last),
            );
        }
        let now = self.now;
        let mut bound = last;
        // What each region holds of `s`'s log.
        let mut held = vec![0; n];
        for (r, h) in held.iter_mut().enumerate() {
            let applied = self.replicas[r].applied_lsn();
            *h = if r == leader {
                last
            } else if self.follows[r] == s {
                bound = bound.min(applied);
                applied
            } else if !self.down(r, now) && self.reachable(leader, r, now) {
                return None;
            } else {
                // Its own term's log agrees with `s`'s up to the lineage bound.
                let f = self.follows[r];
                let (lo, hi) = (f.min(s), f.max(s));
                let lineage = self.terms[lo + 1..=hi].iter().map(|t| t.prefix).min();
                applied.min(lineage.unwrap_or(u64::MAX))
            };
        }
        let mut voters: Vec<u64> = (0..n)
            .filter(|&r| self.votes_in(s, r))
            .map(|r| held[r])
            .collect();
        voters.sort_unstable_by(|a, b| b.cmp(a));
        let majority = voters.get(voters.len() / 2).copied().unwrap_or(last);
        Some(bound.min(majority))
    }

    /// Settles one acknowledgement once it is known whether the final log
    /// holds it: an answer that stood (for the site's RTO), or a loss (for
    /// the RPO), and whether a deposed term had acknowledged it beyond the
    /// prefix its successor took over.
    pub(crate) fn settle(
        &mut self,
        ack: &Acknowledged,
        commit: Micros,
        term: usize,
        (site, first_sent): (u8, Micros),
        held: bool,
    ) {
        let charge = ack.kind == EntryKind::Charge;
        if !held {
            self.money.lost.push((commit, ack.amount, ack.kind));
        } else if charge {
            // A site's RTO counts charges.
            Recovery::count(&mut self.recovery.answered, site as usize, first_sent);
        }
        let successor = self.recovery.promotions.get(term);
        if charge && term + 1 < self.terms.len() && successor.is_some_and(|p| ack.lsn > p.2) {
            self.money.beyond_prefix += 1;
        }
    }

    /// How long an idempotency key can still come back: every attempt and
    /// its backoff, the slowest slow path, and one more deadline of margin.
    pub(crate) fn key_horizon(&self) -> Micros {
        super::key_horizon(self.cfg)
    }

    /// Split-brain reconciliation: the deposed leader's divergent entries were
    /// acknowledged to clients, so they are appended to the survivor's log.
    fn merge(&mut self, from: usize, into: usize) {
        let p = self.common_prefix(from, into);
        let source = &self.terms[from].ledger;
        let skip = p.saturating_sub(source.checkpoint().lsn) as usize;
        let extra: Vec<Entry> = source.entries()[skip.min(source.entries().len())..].to_vec();
        if extra.is_empty() {
            return;
        }
        let mut entries = self.terms[into].ledger.entries().to_vec();
        let mut renumber = Vec::new();
        let base = self.terms[into].ledger.checkpoint().clone();
        for e in &extra {
            let lsn = base.lsn + entries.len() as u64 + 1;
            renumber.push((e.lsn, lsn));
            entries.push(Entry {
                lsn,
                committed_at: self.now,
                ..*e
            });
        }
        let before = self.terms[into].ledger.last_lsn() + 1;
        self.terms[into].ledger = Ledger::from_parts_unchecked(base, entries);
        for (ack, _, term, _) in &mut self.money.acked {
            if *term == from {
                if let Some(&(_, new)) = renumber.iter().find(|(old, _)| *old == ack.lsn) {
                    ack.lsn = new;
                    *term = into;
                }
            }
        }
        self.note(format!(
            "split brain healed: {} entries from {} merged into {}'s log",
            extra.len(),
            self.name(self.terms[from].region),
            self.name(self.terms[into].region)
        ));
        self.ship(into, before);
    }
}
