//! The cluster's data: each term's log, the streams it ships, every region's
//! replica, and the reconciliation that follows a heal.

use ledger::{Acknowledged, Entry, EntryKind, Ledger, Replica};
use replication::clock::HlcStamp;
use replication::rng::substream;
use replication::{FollowerStream, LagProcess, Link};
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
    /// that each region's clock sees its events in order. `self.due` (the
    /// earliest instant anything is due) skips the scan until then; whatever
    /// sends outside the pump lowers it.
    pub(crate) fn pump(&mut self) {
        let now = self.now;
        while self.due <= now {
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
            let Some((t, send, s, r)) = next else {
                self.due = Micros::MAX;
                break;
            };
            self.due = t;
            if t > now {
                break;
            }
            let leader = self.terms[s].region;
            let (pt_leader, pt_follower) = (self.pt(leader, t), self.pt(r, t));
            let Some(st) = self.terms[s].streams[r].as_mut() else {
                break;
            };
            if send {
                st.heartbeat(self.hlcs[leader].send(pt_leader));
                // Every receipt up to `t` is taken: what is visible by then
                // may go (this keeps streams nobody reads from small).
                st.settle(t);
            } else if let Some((_, stamp)) = st.deliver(now) {
                self.hlcs[r].recv(pt_follower, stamp);
            }
        }
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
    pub(crate) fn attach(&mut self, s: usize, r: usize) {
        let prev = self.follows[r];
        if prev != s {
            let keep = self
                .common_prefix(prev, s)
                .min(self.replicas[r].applied_lsn());
            if keep < self.replicas[r].applied_lsn() {
                self.replicas[r] = self.replica_of(s, keep);
            }
        }
        self.follows[r] = s;
        let now = self.now;
        let mut stream = self.new_stream(s, r, now);
        let ledger = &self.terms[s].ledger;
        for l in self.replicas[r].applied_lsn() + 1..=ledger.last_lsn() {
            let committed = ledger.entry(l).map_or(now, |e| e.committed_at);
            stream.ship_backlog(l, committed, self.commit_stamp(s, l, committed));
        }
        let from = self.terms[s].region;
        for f in self.cfg.faults.iter().filter(|f| f.active(now)) {
            apply_fault(f, &mut stream, from, r, now);
        }
        self.terms[s].streams[r] = Some(stream);
        // Its first heartbeat is due now, behind the backlog.
        self.due = self.due.min(now);
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
            for l in rep.applied_lsn() + 1..=target.min(ledger.last_lsn()) {
                rep.apply(ledger.entry(l).expect("shipped"))
                    .expect("in order");
            }
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
        self.due = self.due.min(now);
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

    /// The longest log prefix terms `a` and `b` share. Below the later of
    /// their checkpoints they agree: a term compacts only while every region
    /// follows it, so whatever it folded was the log every term had.
    pub(crate) fn common_prefix(&self, a: usize, b: usize) -> u64 {
        let (x, y) = (&self.terms[a].ledger, &self.terms[b].ledger);
        let base = x.checkpoint().lsn.max(y.checkpoint().lsn);
        let n = x.last_lsn().min(y.last_lsn());
        (base + 1..=n)
            .take_while(|&l| x.entry(l) == y.entry(l))
            .last()
            .unwrap_or(base.min(n))
    }

    /// Folds the log that can no longer change or be asked for into the
    /// newest term's checkpoint, so that memory stays flat however long the
    /// run: entries every replica has applied and whose acknowledgements are
    /// all in (committed more than a key horizon ago: a retry answered from
    /// its key acknowledges the first attempt's entry), while a single term is
    /// alive and every region follows it. The acknowledgements they settle
    /// are checked now, against the entries about to go, and expired
    /// idempotency keys (past every retry) are forgotten.
    pub(crate) fn compact(&mut self) {
        let newest = self.terms.len() - 1;
        if self.terms[..newest].iter().any(|t| t.alive) || self.follows.iter().any(|&f| f != newest)
        {
            return;
        }
        let leader = self.terms[newest].region;
        let ledger = &self.terms[newest].ledger;
        let applied = (0..self.follows.len())
            .filter(|&r| r != leader)
            .map(|r| self.replicas[r].applied_lsn())
            .min()
            .unwrap_or_else(|| ledger.last_lsn());
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
        self.money.checker.fold(&folded);
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
