//! The invariant checker: replays the log from scratch and trusts no cache.

use std::fmt;

use std::collections::VecDeque;

use crate::{
    AccountId, Amount, Checkpoint, Entry, EntryKind, IdemKey, Ledger, LookupMap, Lsn, Micros,
    Replica,
};

/// A write (a charge or a keyed top-up) the client was told succeeded.
/// Every one of them must be in the final ledger, unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Acknowledged {
    /// What was written: [`EntryKind::Charge`] or [`EntryKind::TopUp`].
    pub kind: EntryKind,
    /// The write's idempotency key.
    pub key: IdemKey,
    /// The lsn the client was given.
    pub lsn: Lsn,
    /// The charged account.
    pub account: AccountId,
    /// The charged amount.
    pub amount: Amount,
}

impl Acknowledged {
    /// Whether `entry` (what a log holds at this acknowledgement's lsn) is
    /// the write the client was told about.
    pub fn held_by(&self, entry: Option<&Entry>) -> bool {
        entry.is_some_and(|e| {
            e.kind == self.kind
                && e.key == Some(self.key)
                && e.account == self.account
                && e.amount == self.amount
        })
    }
}

/// One broken money invariant, naming the first entry (or account) at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Breach {
    /// Replaying the log, the charge at `lsn` left `account` below zero: an
    /// overspend was admitted.
    NegativeBalance {
        /// The overdrawn account.
        account: AccountId,
        /// The charge that overdrew it.
        lsn: Lsn,
        /// The balance right after it.
        balance: Amount,
    },
    /// Two entries carry the same idempotency key: one request took effect twice.
    DuplicateEffect {
        /// The key.
        key: IdemKey,
        /// The entry that had the effect.
        first: Lsn,
        /// The entry that had it again.
        again: Lsn,
    },
    /// A charge the client was told succeeded is not at its lsn in the final
    /// ledger, or is there with another key, account or amount.
    LostAcknowledged {
        /// What was acknowledged.
        kind: EntryKind,
        /// The acknowledged key.
        key: IdemKey,
        /// The lsn the client was given.
        lsn: Lsn,
    },
    /// Money in minus money out is not what the (cached) balances hold.
    NotConserved {
        /// Sum of all top-ups.
        top_ups: Amount,
        /// Sum of all charges.
        charges: Amount,
        /// Sum of all refunds.
        refunds: Amount,
        /// Sum of the leader's cached balances.
        sum_of_balances: Amount,
    },
    /// The leader's cached balance is not the fold of the account's entries.
    CacheDrift {
        /// The account.
        account: AccountId,
        /// What the cache says.
        cached: Amount,
        /// What the entries add up to.
        derived: Amount,
    },
    /// A replica that has applied the whole log disagrees with the leader.
    Diverged {
        /// Index of the replica in the slice given to [`check`].
        replica: usize,
        /// The first account that differs.
        account: AccountId,
        /// Its balance on the replica.
        replica_balance: Amount,
        /// Its balance by folding the leader's log.
        leader_balance: Amount,
    },
    /// The refund at `refund` brought the refunds of the charge at `charge`
    /// above the charge. A refund of something that is not an earlier charge
    /// of the same account counts as refunding a charge of 0.
    RefundOverCharge {
        /// The refunded charge's lsn (0 if the refund names none).
        charge: Lsn,
        /// The refund that crossed the cap.
        refund: Lsn,
        /// The charge's refunds up to and including that one.
        refunded: Amount,
        /// The charge's amount.
        charged: Amount,
    },
    /// The log is not dense: the entry at position `expected - 1` carries
    /// another lsn, so something was dropped, reordered or rewritten.
    Misnumbered {
        /// The lsn the position calls for.
        expected: Lsn,
        /// The lsn the entry carries.
        got: Lsn,
    },
    /// A replica given to [`check`] has not applied exactly the leader's log,
    /// so comparing balances would prove nothing.
    ReplicaNotCaughtUp {
        /// Index of the replica in the slice given to [`check`].
        replica: usize,
        /// The replica's last applied lsn.
        applied: Lsn,
        /// The leader's last lsn.
        last: Lsn,
    },
}

impl fmt::Display for Breach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Breach::NegativeBalance {
                account,
                lsn,
                balance,
            } => write!(
                f,
                "overspend: the charge at lsn {lsn} left account {account} at {balance}"
            ),
            Breach::DuplicateEffect { key, first, again } => write!(
                f,
                "duplicate effect: {key} took effect at lsn {first} and again at lsn {again}"
            ),
            Breach::LostAcknowledged { kind, key, lsn } => {
                let what = match kind {
                    EntryKind::TopUp => "top-up",
                    EntryKind::Refund => "refund",
                    EntryKind::Charge => "charge",
                };
                write!(
                    f,
                    "lost acknowledged {what}: {key} was acknowledged at lsn {lsn}, \
                     but the final ledger has no such {what} there"
                )
            }
            Breach::NotConserved {
                top_ups,
                charges,
                refunds,
                sum_of_balances,
            } => write!(
                f,
                "money not conserved: top-ups {top_ups} - charges {charges} + refunds {refunds} \
                 = {} but the balances add up to {sum_of_balances}",
                top_ups.wrapping_sub(charges).wrapping_add(refunds)
            ),
            Breach::CacheDrift {
                account,
                cached,
                derived,
            } => write!(
                f,
                "cache drift: account {account} has cached balance {cached} \
                 but its entries add up to {derived}"
            ),
            Breach::Diverged {
                replica,
                account,
                replica_balance,
                leader_balance,
            } => write!(
                f,
                "replica {replica} diverged: account {account} is {replica_balance} there \
                 but {leader_balance} on the leader"
            ),
            Breach::RefundOverCharge {
                charge,
                refund,
                refunded,
                charged,
            } => write!(
                f,
                "refund over charge: the refund at lsn {refund} brought refunds of the charge \
                 at lsn {charge} to {refunded}, more than its {charged}"
            ),
            Breach::Misnumbered { expected, got } => write!(
                f,
                "broken log: the entry where lsn {expected} belongs carries lsn {got}"
            ),
            Breach::ReplicaNotCaughtUp {
                replica,
                applied,
                last,
            } => write!(
                f,
                "replica {replica} has applied up to lsn {applied}, the leader is at {last}: \
                 let replication drain before checking"
            ),
        }
    }
}

/// How many breaches an [`InvariantReport`] keeps; the rest are only counted.
pub const MAX_STORED_BREACHES: usize = 100;

/// The checker's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvariantReport {
    /// The first [`MAX_STORED_BREACHES`] breaches, in the order found: the
    /// log's in lsn order, then acknowledgements, caches and replicas.
    pub breaches: Vec<Breach>,
    /// How many breaches were found, stored or not.
    pub breach_count: u64,
    /// How many log entries were replayed.
    pub entries_checked: u64,
}

impl InvariantReport {
    /// No invariant was broken.
    pub fn ok(&self) -> bool {
        self.breach_count == 0
    }

    /// The first breach found, the one to debug first.
    pub fn first(&self) -> Option<&Breach> {
        self.breaches.first()
    }

    fn record(&mut self, breach: Breach) {
        if self.breaches.len() < MAX_STORED_BREACHES {
            self.breaches.push(breach);
        }
        self.breach_count += 1;
    }
}

impl fmt::Display for InvariantReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.first() {
            None => write!(
                f,
                "all money invariants hold over {} entries",
                self.entries_checked
            ),
            Some(first) => write!(
                f,
                "{} breach(es) over {} entries; first: {first}",
                self.breach_count, self.entries_checked
            ),
        }
    }
}

/// Replays the ledger from its checkpoint and checks every money invariant:
/// * no balance ever below zero, replaying in lsn order, and lsns dense;
/// * each idempotency key applied at most once;
/// * every acknowledged charge present at its lsn with the same key, account
///   and amount;
/// * refunds never above their charge;
/// * the leader's cached balances equal the fold, and conserve money
///   (`top_ups - charges + refunds == sum of balances`);
/// * every replica given has applied the whole log and equals the fold.
///
/// At most [`MAX_STORED_BREACHES`] breaches are stored (all are counted), so
/// memory stays flat however broken the run. O(entries + acknowledged +
/// replicas × accounts). A ledger that was never compacted is replayed from
/// scratch; for one that was, see [`Checker`].
pub fn check(
    ledger: &Ledger,
    acknowledged: &[Acknowledged],
    replicas: &[&Replica],
) -> InvariantReport {
    Checker::new(ledger.checkpoint(), Micros::MAX).finish(ledger, acknowledged, replicas)
}

/// The invariant checker as a run goes: [`fold`](Self::fold) the entries a
/// ledger compacts away as it compacts them (and check the acknowledgements
/// they settle with [`acknowledged`](Self::acknowledged)), then
/// [`finish`](Self::finish) with the final ledger. The result is the same as
/// [`check`] on the whole log, with one documented limit: a key is checked
/// for a second effect only within `key_window` of its first (the ledger
/// forgets keys after their retry horizon, as payment APIs do), and a refund
/// is checked against its charge only while both are folded in one call.
#[derive(Debug, Clone)]
pub struct Checker {
    replay: Replay,
    next: Lsn,
    first_use: LookupMap<IdemKey, Lsn>,
    key_log: VecDeque<(Micros, IdemKey)>,
    key_window: Micros,
    refunded: LookupMap<Lsn, Amount>,
    report: InvariantReport,
}

impl Checker {
    /// A checker that trusts `base` (the checkpoint the run started from:
    /// an empty one for a new ledger) and remembers keys for `key_window`.
    pub fn new(base: &Checkpoint, key_window: Micros) -> Checker {
        Checker {
            replay: Replay {
                balances: base.balances.clone(),
                top_ups: base.top_ups,
                charges: base.charges,
                refunds: base.refunds,
            },
            next: base.lsn + 1,
            first_use: LookupMap::default(),
            key_log: VecDeque::new(),
            key_window,
            refunded: LookupMap::default(),
            report: InvariantReport {
                breaches: Vec::new(),
                breach_count: 0,
                entries_checked: 0,
            },
        }
    }

    /// Checks the next entries of the log, in lsn order, and folds them.
    pub fn fold(&mut self, entries: &[Entry]) {
        let first = entries.first().map_or(0, |e| e.lsn);
        let within = |lsn: Lsn| {
            let i = usize::try_from(lsn.checked_sub(first)?).ok()?;
            entries.get(i).filter(|c| c.lsn == lsn)
        };
        for e in entries {
            self.entry(e, within(e.refund_of.unwrap_or(0)));
        }
        self.report.entries_checked += entries.len() as u64;
    }

    fn entry(&mut self, e: &Entry, refunded_charge: Option<&Entry>) {
        let report = &mut self.report;
        let replay = &mut self.replay;
        if e.lsn != self.next {
            report.record(Breach::Misnumbered {
                expected: self.next,
                got: e.lsn,
            });
        }
        self.next += 1;
        while let Some(&(t, key)) = self.key_log.front() {
            if e.committed_at.saturating_sub(t) <= self.key_window {
                break;
            }
            self.key_log.pop_front();
            self.first_use.remove(&key);
        }
        if let Some(key) = e.key {
            let first = *self.first_use.entry(key).or_insert(e.lsn);
            if first == e.lsn {
                self.key_log.push_back((e.committed_at, key));
            } else {
                report.record(Breach::DuplicateEffect {
                    key,
                    first,
                    again: e.lsn,
                });
            }
        }
        let balance = &mut replay.balances[e.account as usize];
        *balance += e.delta();
        if e.delta() < 0 && *balance < 0 {
            report.record(Breach::NegativeBalance {
                account: e.account,
                lsn: e.lsn,
                balance: *balance,
            });
        }
        // Totals wrap rather than panic: a long run's top-ups alone may pass
        // i64::MAX, and the conservation identity still holds modulo 2^64.
        match e.kind {
            EntryKind::TopUp => replay.top_ups = replay.top_ups.wrapping_add(e.amount),
            EntryKind::Charge => replay.charges = replay.charges.wrapping_add(e.amount),
            EntryKind::Refund => {
                replay.refunds = replay.refunds.wrapping_add(e.amount);
                let charge = e.refund_of.unwrap_or(0);
                let charged = refunded_charge
                    .filter(|c| {
                        c.kind == EntryKind::Charge && c.lsn < e.lsn && c.account == e.account
                    })
                    .map_or(0, |c| c.amount);
                let total = self.refunded.entry(charge).or_default();
                *total += e.amount;
                if *total > charged {
                    report.record(Breach::RefundOverCharge {
                        charge,
                        refund: e.lsn,
                        refunded: *total,
                        charged,
                    });
                }
            }
        }
    }

    /// Whether the acknowledged charge `ack` is the entry the final log holds
    /// at its lsn (`entry`, looked up before it is compacted away); records
    /// a [`Breach::LostAcknowledged`] if not.
    pub fn acknowledged(&mut self, ack: &Acknowledged, entry: Option<&Entry>) -> bool {
        let present = ack.held_by(entry);
        if !present {
            self.report.record(Breach::LostAcknowledged {
                kind: ack.kind,
                key: ack.key,
                lsn: ack.lsn,
            });
        }
        present
    }

    /// Folds what is left of `ledger` (everything after the checkpoint this
    /// checker has reached), checks the remaining acknowledgements, the
    /// ledger's caches and every replica, and returns the report.
    pub fn finish(
        mut self,
        ledger: &Ledger,
        acknowledged: &[Acknowledged],
        replicas: &[&Replica],
    ) -> InvariantReport {
        self.fold(ledger.entries());
        for ack in acknowledged {
            self.acknowledged(ack, ledger.entry(ack.lsn));
        }
        let mut report = self.report;
        check_cache(ledger, &self.replay, &mut report);
        check_replicas(ledger, &self.replay.balances, replicas, &mut report);
        report
    }
}

/// What the fold of the log adds up to.
#[derive(Debug, Clone)]
struct Replay {
    balances: Vec<Amount>,
    top_ups: Amount,
    charges: Amount,
    refunds: Amount,
}

fn check_cache(ledger: &Ledger, replay: &Replay, report: &mut InvariantReport) {
    let mut sum_of_balances: Amount = 0;
    for (account, &derived) in (0..).zip(&replay.balances) {
        let cached = ledger.balance(account);
        sum_of_balances = sum_of_balances.wrapping_add(cached);
        if cached != derived {
            report.record(Breach::CacheDrift {
                account,
                cached,
                derived,
            });
        }
    }
    let net = replay
        .top_ups
        .wrapping_sub(replay.charges)
        .wrapping_add(replay.refunds);
    if net != sum_of_balances {
        report.record(Breach::NotConserved {
            top_ups: replay.top_ups,
            charges: replay.charges,
            refunds: replay.refunds,
            sum_of_balances,
        });
    }
}

fn check_replicas(
    ledger: &Ledger,
    leader_balances: &[Amount],
    replicas: &[&Replica],
    report: &mut InvariantReport,
) {
    for (index, replica) in replicas.iter().enumerate() {
        if replica.applied_lsn() != ledger.last_lsn() {
            report.record(Breach::ReplicaNotCaughtUp {
                replica: index,
                applied: replica.applied_lsn(),
                last: ledger.last_lsn(),
            });
            continue;
        }
        let accounts = leader_balances.len().max(replica.balances().len());
        let balance_at =
            |balances: &[Amount], account: usize| balances.get(account).copied().unwrap_or(0);
        let first_difference = (0..accounts).find(|&account| {
            balance_at(replica.balances(), account) != balance_at(leader_balances, account)
        });
        if let Some(account) = first_difference {
            report.record(Breach::Diverged {
                replica: index,
                account: account as AccountId,
                replica_balance: balance_at(replica.balances(), account),
                leader_balance: balance_at(leader_balances, account),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cache drift cannot be made through the public API, so it is tested here.
    #[test]
    fn cache_drift_is_found_and_breaks_conservation() {
        let mut l = Ledger::new(3).unwrap();
        l.top_up(0, 100, 0).unwrap();
        l.top_up(2, 40, 0).unwrap();
        l.charge(2, 15, IdemKey(1), 1).unwrap();
        assert!(check(&l, &[], &[]).ok());

        l.corrupt_cached_balance(2, 7);
        let report = check(&l, &[], &[]);
        assert_eq!(
            report.breaches,
            [
                Breach::CacheDrift {
                    account: 2,
                    cached: 32,
                    derived: 25
                },
                Breach::NotConserved {
                    top_ups: 140,
                    charges: 15,
                    refunds: 0,
                    sum_of_balances: 132
                },
            ]
        );
        assert_eq!(report.breach_count, 2);
    }

    #[test]
    fn replicas_are_compared_with_the_fold_not_the_drifted_cache() {
        let mut l = Ledger::new(2).unwrap();
        l.top_up(1, 100, 0).unwrap();
        let mut r = Replica::new(2);
        r.catch_up(&l).unwrap();
        l.corrupt_cached_balance(1, -1);
        let report = check(&l, &[], &[&r]);
        assert!(
            !report
                .breaches
                .iter()
                .any(|b| matches!(b, Breach::Diverged { .. })),
            "{report}"
        );
        assert!(matches!(
            report.first(),
            Some(Breach::CacheDrift { account: 1, .. })
        ));
    }
}
