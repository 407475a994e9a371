//! The leader's ledger: rule-checked appends plus the caches derived from them.

use std::collections::VecDeque;

use crate::{
    AccountId, Amount, Entry, EntryKind, IdemKey, LedgerError, LookupMap, Lsn, Micros, Request,
};

/// What a charge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeOutcome {
    /// The charge was appended at `lsn`.
    Accepted {
        /// The charge's entry.
        lsn: Lsn,
    },
    /// Insufficient funds: nothing was appended. `balance` is what the
    /// account held when the charge was decided.
    Declined {
        /// The balance that was too small.
        balance: Amount,
    },
}

impl ChargeOutcome {
    /// The charge's lsn if it was accepted.
    pub fn lsn(self) -> Option<Lsn> {
        match self {
            ChargeOutcome::Accepted { lsn } => Some(lsn),
            ChargeOutcome::Declined { .. } => None,
        }
    }
}

/// The answer to [`Ledger::charge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChargeReply {
    /// The key's first outcome: for a retry, what the first attempt got.
    pub outcome: ChargeOutcome,
    /// The key was seen before; this call appended nothing.
    pub duplicate: bool,
}

/// The answer to [`Ledger::refund`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundReply {
    /// The refund's entry; for a retry, the one the first attempt appended.
    pub lsn: Lsn,
    /// The key was seen before; this call appended nothing.
    pub duplicate: bool,
}

/// What the ledger remembers about a key: the request, to recognise a retry,
/// and its first answer, to repeat it.
#[derive(Debug, Clone, Copy)]
enum Recorded {
    Charge {
        account: AccountId,
        amount: Amount,
        outcome: ChargeOutcome,
    },
    Refund {
        charge: Lsn,
        amount: Amount,
        lsn: Lsn,
    },
}

impl Recorded {
    /// What an appended entry says about its key. Declined charges append
    /// nothing, so [`Ledger::charge`] records them itself.
    fn from_entry(e: &Entry) -> Recorded {
        match e.kind {
            EntryKind::Refund => Recorded::Refund {
                charge: e.refund_of.unwrap_or(0),
                amount: e.amount,
                lsn: e.lsn,
            },
            EntryKind::Charge | EntryKind::TopUp => Recorded::Charge {
                account: e.account,
                amount: e.amount,
                outcome: ChargeOutcome::Accepted { lsn: e.lsn },
            },
        }
    }

    fn request(&self) -> Request {
        match *self {
            Recorded::Charge {
                account, amount, ..
            } => Request::Charge { account, amount },
            Recorded::Refund { charge, amount, .. } => Request::Refund { charge, amount },
        }
    }
}

/// The fold of the entries a ledger no longer keeps: every account's balance
/// and the money totals after entry `lsn`. A new ledger's checkpoint is lsn 0
/// with every balance 0; [`Ledger::compact`] moves it forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The last entry folded in (0: none).
    pub lsn: Lsn,
    /// Every account's balance after it.
    pub balances: Vec<Amount>,
    /// Sum of the top-ups folded in (wrapping).
    pub top_ups: Amount,
    /// Sum of the charges folded in (wrapping).
    pub charges: Amount,
    /// Sum of the refunds folded in (wrapping).
    pub refunds: Amount,
}

impl Checkpoint {
    /// Nothing folded yet: lsn 0, every balance 0.
    pub fn empty(accounts: u32) -> Checkpoint {
        Checkpoint {
            lsn: 0,
            balances: vec![0; accounts as usize],
            top_ups: 0,
            charges: 0,
            refunds: 0,
        }
    }

    /// Folds one entry in.
    pub(crate) fn fold(&mut self, e: &Entry) {
        if let Some(b) = self.balances.get_mut(e.account as usize) {
            *b += e.delta();
        }
        match e.kind {
            EntryKind::TopUp => self.top_ups = self.top_ups.wrapping_add(e.amount),
            EntryKind::Charge => self.charges = self.charges.wrapping_add(e.amount),
            EntryKind::Refund => self.refunds = self.refunds.wrapping_add(e.amount),
        }
        self.lsn = e.lsn;
    }
}

/// The leader's authoritative ledger.
///
/// The entries are the truth; everything else here is a cache derived from
/// them, one entry at a time: balances, each account's lsns, what each charge
/// has had refunded so far, and the first answer per idempotency key. The one
/// exception is a declined charge: it appends nothing, so its key's answer
/// lives only in the key table (and a ledger rebuilt from the log forgets it).
#[derive(Debug, Clone)]
pub struct Ledger {
    /// What the entries before the kept ones folded to.
    base: Checkpoint,
    /// The entries after `base.lsn`, in lsn order.
    entries: Vec<Entry>,
    /// Keys in the order they were first recorded, with that time: the
    /// expiry queue of [`Ledger::compact`].
    key_log: VecDeque<(Micros, IdemKey)>,
    balances: Vec<Amount>,
    lsns_by_account: Vec<Vec<Lsn>>,
    keys: LookupMap<IdemKey, Recorded>,
    refunded: LookupMap<Lsn, Amount>,
}

impl Ledger {
    /// An empty ledger over accounts `0..accounts`, every balance 0.
    pub fn new(accounts: u32) -> Result<Ledger, LedgerError> {
        if accounts == 0 {
            return Err(LedgerError::NoAccounts);
        }
        Ok(Ledger::empty(accounts))
    }

    fn empty(accounts: u32) -> Ledger {
        Ledger {
            base: Checkpoint::empty(accounts),
            entries: Vec::new(),
            key_log: VecDeque::new(),
            balances: vec![0; accounts as usize],
            lsns_by_account: vec![Vec::new(); accounts as usize],
            keys: LookupMap::default(),
            refunded: LookupMap::default(),
        }
    }

    /// Rebuilds a ledger from `entries` as given — lsns, amounts, keys and
    /// all — deriving every cache by folding them, without enforcing any rule.
    /// For tests that hand [`check`](crate::check) a ledger the API would
    /// never produce (an overspend, a duplicated key, a gap in the lsns).
    /// Keys of declined charges are not in the log, so they are not remembered.
    ///
    /// # Panics
    /// If an entry names an account `>= accounts`, or balances overflow.
    #[doc(hidden)]
    pub fn from_entries_unchecked(accounts: u32, entries: Vec<Entry>) -> Ledger {
        Ledger::from_parts_unchecked(Checkpoint::empty(accounts), entries)
    }

    /// [`from_entries_unchecked`](Self::from_entries_unchecked) on top of a
    /// checkpoint: the entries continue the log after `base.lsn`.
    ///
    /// # Panics
    /// As [`from_entries_unchecked`](Self::from_entries_unchecked).
    #[doc(hidden)]
    pub fn from_parts_unchecked(base: Checkpoint, entries: Vec<Entry>) -> Ledger {
        let accounts = base.balances.len() as u32;
        let mut ledger = Ledger::empty(accounts);
        ledger.balances = base.balances.clone();
        ledger.base = base;
        for e in &entries {
            assert!(
                e.account < accounts,
                "entry lsn {} names account {}, the ledger has {accounts}",
                e.lsn,
                e.account
            );
            ledger.derive(e);
        }
        // Binary search in `first_entry_of_account_after` needs sorted lsns,
        // which unchecked entries need not be.
        for lsns in &mut ledger.lsns_by_account {
            lsns.sort_unstable();
        }
        ledger.entries = entries;
        ledger
    }

    /// The ledger as it stood after entry `upto`: what a follower that had
    /// applied exactly that prefix holds, and so what it starts from when it
    /// is promoted to leader. Keys of declined charges are not in the log and
    /// are therefore not carried over.
    ///
    /// The checkpoint is kept: `upto` below it keeps nothing after it.
    pub fn truncated(&self, upto: Lsn) -> Ledger {
        let n = (upto.saturating_sub(self.base.lsn) as usize).min(self.entries.len());
        Ledger::from_parts_unchecked(self.base.clone(), self.entries[..n].to_vec())
    }

    /// What the entries folded away by [`compact`](Self::compact) added up to.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.base
    }

    /// Folds the entries up to `upto` into the checkpoint and forgets them,
    /// and forgets the idempotency keys first recorded before `keys_before`;
    /// returns the folded entries, for the caller's invariant checker.
    ///
    /// This is how a long run keeps its memory flat: a real ledger service
    /// checkpoints the log every replica has applied, and expires idempotency
    /// keys once no client can retry them any more (payment APIs keep them
    /// for a day). After compaction [`entry`](Self::entry) answers `None`
    /// below the checkpoint, a refund of a folded charge is an unknown
    /// charge, and a key used again after it expired is a new request.
    pub fn compact(&mut self, upto: Lsn, keys_before: Micros) -> Vec<Entry> {
        let n = (upto.saturating_sub(self.base.lsn) as usize).min(self.entries.len());
        let folded: Vec<Entry> = self.entries.drain(..n).collect();
        for e in &folded {
            self.base.fold(e);
        }
        let base = self.base.lsn;
        for lsns in &mut self.lsns_by_account {
            let k = lsns.partition_point(|&l| l <= base);
            lsns.drain(..k);
        }
        while let Some(&(t, key)) = self.key_log.front() {
            if t >= keys_before {
                break;
            }
            self.key_log.pop_front();
            self.keys.remove(&key);
        }
        folded
    }

    /// How many accounts the ledger has.
    pub fn accounts(&self) -> u32 {
        self.balances.len() as u32
    }

    /// Pays `amount` into `account`.
    pub fn top_up(
        &mut self,
        account: AccountId,
        amount: Amount,
        now: Micros,
    ) -> Result<Lsn, LedgerError> {
        self.paid_in(account, amount, None, now)
    }

    /// A top-up carrying the client's idempotency key, so that an
    /// acknowledged top-up can be found in a log after a failover (see
    /// [`Acknowledged`](crate::Acknowledged)).
    pub fn top_up_keyed(
        &mut self,
        account: AccountId,
        amount: Amount,
        key: IdemKey,
        now: Micros,
    ) -> Result<Lsn, LedgerError> {
        self.paid_in(account, amount, Some(key), now)
    }

    fn paid_in(
        &mut self,
        account: AccountId,
        amount: Amount,
        key: Option<IdemKey>,
        now: Micros,
    ) -> Result<Lsn, LedgerError> {
        self.check_account(account)?;
        check_amount(amount)?;
        self.append(EntryKind::TopUp, account, amount, key, None, now)
    }

    /// Atomic check-and-append: accepts the charge only if the balance covers
    /// `amount`, so no interleaving of charges can overspend.
    ///
    /// Idempotent per `key`: a key seen before returns its first outcome with
    /// `duplicate: true` and appends nothing, even if the balance has changed
    /// since. That includes a first outcome of [`ChargeOutcome::Declined`]:
    /// a declined key stays declined after a top-up, because the client may
    /// already have acted on the refusal, and one key must never have two
    /// answers. To try again after topping up, use a fresh key.
    ///
    /// The same key with a different account or amount (or used before for a
    /// refund) is [`LedgerError::KeyReused`], not a silent duplicate. Errors
    /// record nothing, so the key stays free.
    pub fn charge(
        &mut self,
        account: AccountId,
        amount: Amount,
        key: IdemKey,
        now: Micros,
    ) -> Result<ChargeReply, LedgerError> {
        self.check_account(account)?;
        check_amount(amount)?;
        match self.keys.get(&key) {
            Some(&Recorded::Charge {
                account: a,
                amount: m,
                outcome,
            }) if (a, m) == (account, amount) => {
                return Ok(ChargeReply {
                    outcome,
                    duplicate: true,
                })
            }
            Some(first) => return Err(key_reused(key, first, Request::Charge { account, amount })),
            None => {}
        }
        let balance = self.balances[account as usize];
        let outcome = if balance >= amount {
            let lsn = self.append(EntryKind::Charge, account, amount, Some(key), None, now)?;
            ChargeOutcome::Accepted { lsn }
        } else {
            let outcome = ChargeOutcome::Declined { balance };
            let recorded = Recorded::Charge {
                account,
                amount,
                outcome,
            };
            self.keys.insert(key, recorded);
            self.key_log.push_back((now, key));
            outcome
        };
        Ok(ChargeReply {
            outcome,
            duplicate: false,
        })
    }

    /// Gives back (part of) the accepted charge at lsn `charge`, to the
    /// account it was taken from. The refunds of one charge never add up to
    /// more than the charge ([`LedgerError::RefundExceedsCharge`]).
    ///
    /// Idempotent per `key` like [`Ledger::charge`]: a retry gets the first
    /// refund's lsn with `duplicate: true` and appends nothing — it is not
    /// counted against the cap a second time. Keys are shared with charges, so
    /// a charge's key cannot be reused for a refund.
    pub fn refund(
        &mut self,
        charge: Lsn,
        amount: Amount,
        key: IdemKey,
        now: Micros,
    ) -> Result<RefundReply, LedgerError> {
        check_amount(amount)?;
        let charged = match self.entry(charge) {
            Some(e) if e.kind == EntryKind::Charge => *e,
            _ => return Err(LedgerError::UnknownCharge { lsn: charge }),
        };
        match self.keys.get(&key) {
            Some(&Recorded::Refund {
                charge: c,
                amount: m,
                lsn,
            }) if (c, m) == (charge, amount) => {
                return Ok(RefundReply {
                    lsn,
                    duplicate: true,
                })
            }
            Some(first) => return Err(key_reused(key, first, Request::Refund { charge, amount })),
            None => {}
        }
        let refunded = self.refunded.get(&charge).copied().unwrap_or(0);
        if amount > charged.amount - refunded {
            return Err(LedgerError::RefundExceedsCharge {
                charge,
                charged: charged.amount,
                refunded,
                requested: amount,
            });
        }
        let lsn = self.append(
            EntryKind::Refund,
            charged.account,
            amount,
            Some(key),
            Some(charge),
            now,
        )?;
        Ok(RefundReply {
            lsn,
            duplicate: false,
        })
    }

    /// The account's balance, from the derived cache (O(1)).
    ///
    /// # Panics
    /// If `account >= self.accounts()`.
    pub fn balance(&self, account: AccountId) -> Amount {
        self.balances[account as usize]
    }

    /// The log after the checkpoint (the whole log until [`compact`](Self::compact)),
    /// in lsn order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry at `lsn`, if the log is that long and the entry has not been
    /// folded into the checkpoint (lsn 0 is never an entry).
    pub fn entry(&self, lsn: Lsn) -> Option<&Entry> {
        let index = usize::try_from(lsn.checked_sub(self.base.lsn + 1)?).ok()?;
        self.entries.get(index)
    }

    /// The lsn of the newest entry; 0 when the log is empty.
    pub fn last_lsn(&self) -> Lsn {
        self.entries.last().map_or(self.base.lsn, |e| e.lsn)
    }

    /// The oldest entry of `account` with lsn > `after`, or `None` if the
    /// account has none (or does not exist). A replica that has applied up to
    /// `after` has missed exactly the entries from this one on, so its
    /// `committed_at` tells how long the replica's answer has been stale.
    /// O(log n): a binary search in the account's own lsns.
    pub fn first_entry_of_account_after(&self, account: AccountId, after: Lsn) -> Option<&Entry> {
        let lsns = self.lsns_by_account.get(account as usize)?;
        let next = lsns[lsns.partition_point(|&lsn| lsn <= after)..].first()?;
        self.entry(*next)
    }

    /// The first outcome of the charge made with `key`; `None` if no charge
    /// used the key (including a key used for a refund).
    pub fn outcome_of(&self, key: IdemKey) -> Option<ChargeOutcome> {
        match self.keys.get(&key)? {
            Recorded::Charge { outcome, .. } => Some(*outcome),
            Recorded::Refund { .. } => None,
        }
    }

    /// Every account's balance by folding the entries onto the checkpoint,
    /// ignoring the cache.
    pub fn recompute_balances(&self) -> Vec<Amount> {
        let mut balances = self.base.balances.clone();
        for e in &self.entries {
            balances[e.account as usize] += e.delta();
        }
        balances
    }

    fn check_account(&self, account: AccountId) -> Result<(), LedgerError> {
        if account < self.accounts() {
            Ok(())
        } else {
            Err(LedgerError::UnknownAccount {
                account,
                accounts: self.accounts(),
            })
        }
    }

    /// The one place that writes: appends the entry and derives the caches
    /// from it. The caller has checked the rules; this only refuses an
    /// overflow.
    fn append(
        &mut self,
        kind: EntryKind,
        account: AccountId,
        amount: Amount,
        key: Option<IdemKey>,
        refund_of: Option<Lsn>,
        now: Micros,
    ) -> Result<Lsn, LedgerError> {
        let entry = Entry {
            lsn: self.last_lsn() + 1,
            account,
            kind,
            amount,
            key,
            refund_of,
            committed_at: now,
        };
        let balance = self.balances[account as usize];
        if balance.checked_add(entry.delta()).is_none() {
            return Err(LedgerError::Overflow {
                account,
                balance,
                amount,
            });
        }
        self.derive(&entry);
        self.entries.push(entry);
        Ok(entry.lsn)
    }

    /// Folds one entry into every cache: its account's balance and lsn list,
    /// its charge's refund total, its key's first answer. The only code that
    /// maintains the caches, for the API and the unchecked rebuild alike.
    fn derive(&mut self, e: &Entry) {
        let account = e.account as usize;
        self.balances[account] += e.delta();
        self.lsns_by_account[account].push(e.lsn);
        if let Some(charge) = e.refund_of {
            *self.refunded.entry(charge).or_default() += e.amount;
        }
        if let Some(key) = e.key {
            if let std::collections::hash_map::Entry::Vacant(v) = self.keys.entry(key) {
                v.insert(Recorded::from_entry(e));
                self.key_log.push_back((e.committed_at, key));
            }
        }
    }

    /// Shifts `account`'s cached balance without an entry: the bug
    /// [`Breach::CacheDrift`](crate::Breach::CacheDrift) exists to catch.
    #[cfg(test)]
    pub(crate) fn corrupt_cached_balance(&mut self, account: AccountId, by: Amount) {
        self.balances[account as usize] += by;
    }
}

fn check_amount(amount: Amount) -> Result<(), LedgerError> {
    if amount > 0 {
        Ok(())
    } else {
        Err(LedgerError::NonPositiveAmount { amount })
    }
}

fn key_reused(key: IdemKey, first: &Recorded, again: Request) -> LedgerError {
    LedgerError::KeyReused {
        key,
        first: first.request(),
        again,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: AccountId = 0;
    const BOB: AccountId = 1;

    fn ledger() -> Ledger {
        Ledger::new(2).unwrap()
    }

    fn accepted(reply: Result<ChargeReply, LedgerError>) -> Lsn {
        match reply.unwrap() {
            ChargeReply {
                outcome: ChargeOutcome::Accepted { lsn },
                duplicate: false,
            } => lsn,
            other => panic!("expected a fresh acceptance, got {other:?}"),
        }
    }

    #[test]
    fn a_ledger_needs_accounts() {
        assert_eq!(Ledger::new(0).unwrap_err(), LedgerError::NoAccounts);
        assert_eq!(Ledger::new(3).unwrap().accounts(), 3);
    }

    #[test]
    fn bad_requests_are_refused_and_append_nothing() {
        let mut l = ledger();
        assert_eq!(
            l.top_up(2, 10, 0),
            Err(LedgerError::UnknownAccount {
                account: 2,
                accounts: 2
            })
        );
        assert_eq!(
            l.top_up(ALICE, 0, 0),
            Err(LedgerError::NonPositiveAmount { amount: 0 })
        );
        assert_eq!(
            l.charge(ALICE, -5, IdemKey(1), 0),
            Err(LedgerError::NonPositiveAmount { amount: -5 })
        );
        assert_eq!(l.last_lsn(), 0);
        // A refused request does not use up its key.
        assert_eq!(l.outcome_of(IdemKey(1)), None);
    }

    #[test]
    fn top_ups_append_dense_lsns_and_move_the_balance() {
        let mut l = ledger();
        assert_eq!(l.top_up(ALICE, 100, 5), Ok(1));
        assert_eq!(l.top_up(BOB, 30, 6), Ok(2));
        assert_eq!(l.top_up(ALICE, 20, 7), Ok(3));
        assert_eq!((l.balance(ALICE), l.balance(BOB)), (120, 30));
        assert_eq!(l.last_lsn(), 3);
        let e = l.entry(2).unwrap();
        assert_eq!((e.account, e.amount, e.committed_at), (BOB, 30, 6));
        assert_eq!((l.entry(0), l.entry(4)), (None, None));
    }

    #[test]
    fn overspend_is_declined_and_changes_nothing() {
        let mut l = ledger();
        l.top_up(ALICE, 100, 0).unwrap();
        let reply = l.charge(ALICE, 101, IdemKey(1), 1).unwrap();
        assert_eq!(
            reply,
            ChargeReply {
                outcome: ChargeOutcome::Declined { balance: 100 },
                duplicate: false
            }
        );
        assert_eq!(l.balance(ALICE), 100);
        assert_eq!(l.last_lsn(), 1);
    }

    #[test]
    fn draining_to_zero_then_every_charge_is_declined() {
        let mut l = ledger();
        l.top_up(ALICE, 100, 0).unwrap();
        accepted(l.charge(ALICE, 60, IdemKey(1), 1));
        accepted(l.charge(ALICE, 40, IdemKey(2), 2));
        assert_eq!(l.balance(ALICE), 0);
        for key in 3..10 {
            let reply = l.charge(ALICE, 1, IdemKey(key), 3).unwrap();
            assert_eq!(reply.outcome, ChargeOutcome::Declined { balance: 0 });
            assert_eq!(l.balance(ALICE), 0);
        }
        assert_eq!(l.last_lsn(), 3);
    }

    #[test]
    fn a_retried_charge_appends_once_and_repeats_the_first_outcome() {
        let mut l = ledger();
        l.top_up(ALICE, 100, 0).unwrap();
        let lsn = accepted(l.charge(ALICE, 70, IdemKey(7), 1));
        // Now the balance (30) could not cover it; the retry must not care.
        let retry = l.charge(ALICE, 70, IdemKey(7), 2).unwrap();
        assert_eq!(
            retry,
            ChargeReply {
                outcome: ChargeOutcome::Accepted { lsn },
                duplicate: true
            }
        );
        l.top_up(ALICE, 500, 3).unwrap();
        assert_eq!(l.charge(ALICE, 70, IdemKey(7), 4).unwrap(), retry);
        assert_eq!(l.balance(ALICE), 530);
        assert_eq!(l.entries().len(), 3);
        assert_eq!(
            l.outcome_of(IdemKey(7)),
            Some(ChargeOutcome::Accepted { lsn })
        );
    }

    #[test]
    fn a_declined_key_stays_declined_after_a_top_up() {
        let mut l = ledger();
        l.top_up(ALICE, 10, 0).unwrap();
        let first = l.charge(ALICE, 50, IdemKey(3), 1).unwrap();
        assert_eq!(first.outcome, ChargeOutcome::Declined { balance: 10 });
        l.top_up(ALICE, 100, 2).unwrap();
        let retry = l.charge(ALICE, 50, IdemKey(3), 3).unwrap();
        assert_eq!(
            retry,
            ChargeReply {
                outcome: ChargeOutcome::Declined { balance: 10 },
                duplicate: true
            }
        );
        assert_eq!(l.balance(ALICE), 110);
        // A fresh key is how the client tries again.
        accepted(l.charge(ALICE, 50, IdemKey(4), 4));
        assert_eq!(l.balance(ALICE), 60);
    }

    #[test]
    fn a_key_reused_for_a_different_request_is_an_error() {
        let mut l = ledger();
        l.top_up(ALICE, 100, 0).unwrap();
        l.top_up(BOB, 100, 0).unwrap();
        let lsn = accepted(l.charge(ALICE, 10, IdemKey(1), 1));
        let first = Request::Charge {
            account: ALICE,
            amount: 10,
        };
        assert_eq!(
            l.charge(ALICE, 11, IdemKey(1), 2),
            Err(LedgerError::KeyReused {
                key: IdemKey(1),
                first,
                again: Request::Charge {
                    account: ALICE,
                    amount: 11
                }
            })
        );
        assert!(matches!(
            l.charge(BOB, 10, IdemKey(1), 2),
            Err(LedgerError::KeyReused { .. })
        ));
        assert_eq!(
            l.refund(lsn, 10, IdemKey(1), 3),
            Err(LedgerError::KeyReused {
                key: IdemKey(1),
                first,
                again: Request::Refund {
                    charge: lsn,
                    amount: 10
                }
            })
        );
        assert_eq!((l.balance(ALICE), l.balance(BOB)), (90, 100));
        assert_eq!(l.last_lsn(), lsn);
    }

    #[test]
    fn refunds_are_capped_by_their_charge() {
        let mut l = ledger();
        l.top_up(ALICE, 100, 0).unwrap();
        let charge = accepted(l.charge(ALICE, 80, IdemKey(1), 1));
        assert_eq!(l.refund(charge, 50, IdemKey(2), 2).unwrap().lsn, 3);
        assert_eq!(
            l.refund(charge, 31, IdemKey(3), 3),
            Err(LedgerError::RefundExceedsCharge {
                charge,
                charged: 80,
                refunded: 50,
                requested: 31
            })
        );
        // The refused key is still free, and exactly the rest fits.
        let rest = l.refund(charge, 30, IdemKey(3), 4).unwrap();
        assert_eq!(
            rest,
            RefundReply {
                lsn: 4,
                duplicate: false
            }
        );
        assert!(matches!(
            l.refund(charge, 1, IdemKey(4), 5),
            Err(LedgerError::RefundExceedsCharge { refunded: 80, .. })
        ));
        assert_eq!(l.balance(ALICE), 100);
        let e = l.entry(4).unwrap();
        assert_eq!(
            (e.kind, e.refund_of, e.account),
            (EntryKind::Refund, Some(charge), ALICE)
        );
    }

    #[test]
    fn a_retried_refund_appends_once_even_at_the_cap() {
        let mut l = ledger();
        l.top_up(ALICE, 100, 0).unwrap();
        let charge = accepted(l.charge(ALICE, 40, IdemKey(1), 1));
        let first = l.refund(charge, 40, IdemKey(2), 2).unwrap();
        let retry = l.refund(charge, 40, IdemKey(2), 3).unwrap();
        assert_eq!(
            retry,
            RefundReply {
                lsn: first.lsn,
                duplicate: true
            }
        );
        assert_eq!(l.balance(ALICE), 100);
        assert_eq!(l.last_lsn(), first.lsn);
        assert_eq!(l.outcome_of(IdemKey(2)), None);
    }

    #[test]
    fn only_charges_can_be_refunded() {
        let mut l = ledger();
        let top_up = l.top_up(ALICE, 100, 0).unwrap();
        let charge = accepted(l.charge(ALICE, 40, IdemKey(1), 1));
        let refund = l.refund(charge, 10, IdemKey(2), 2).unwrap().lsn;
        for lsn in [0, top_up, refund, refund + 1] {
            assert_eq!(
                l.refund(lsn, 1, IdemKey(9), 3),
                Err(LedgerError::UnknownCharge { lsn })
            );
        }
    }

    #[test]
    fn overflow_is_refused() {
        let mut l = ledger();
        l.top_up(ALICE, Amount::MAX, 0).unwrap();
        assert_eq!(
            l.top_up(ALICE, 1, 1),
            Err(LedgerError::Overflow {
                account: ALICE,
                balance: Amount::MAX,
                amount: 1
            })
        );
        assert_eq!((l.balance(ALICE), l.last_lsn()), (Amount::MAX, 1));
    }

    #[test]
    fn first_entry_of_account_after_skips_other_accounts() {
        let mut l = ledger();
        l.top_up(ALICE, 100, 10).unwrap(); // 1
        l.top_up(BOB, 100, 20).unwrap(); // 2
        l.top_up(BOB, 100, 30).unwrap(); // 3
        l.top_up(ALICE, 100, 40).unwrap(); // 4
        let lsn_after = |account, after| {
            l.first_entry_of_account_after(account, after)
                .map(|e| e.lsn)
        };
        assert_eq!(lsn_after(ALICE, 0), Some(1));
        assert_eq!(lsn_after(ALICE, 1), Some(4));
        assert_eq!(lsn_after(ALICE, 3), Some(4));
        assert_eq!(lsn_after(ALICE, 4), None);
        assert_eq!(lsn_after(BOB, 2), Some(3));
        assert_eq!(lsn_after(7, 0), None);
        assert_eq!(
            l.first_entry_of_account_after(ALICE, 2)
                .unwrap()
                .committed_at,
            40
        );
    }

    #[test]
    fn recompute_matches_the_cache() {
        let mut l = ledger();
        l.top_up(ALICE, 100, 0).unwrap();
        l.top_up(BOB, 7, 0).unwrap();
        let charge = accepted(l.charge(ALICE, 30, IdemKey(1), 1));
        l.refund(charge, 5, IdemKey(2), 2).unwrap();
        assert_eq!(l.recompute_balances(), vec![75, 7]);
        l.corrupt_cached_balance(BOB, 1);
        assert_eq!(l.recompute_balances(), vec![75, 7]);
        assert_eq!(l.balance(BOB), 8);
    }

    #[test]
    fn unchecked_rebuild_derives_the_same_caches() {
        let mut l = ledger();
        l.top_up(ALICE, 100, 0).unwrap();
        l.top_up(BOB, 50, 0).unwrap();
        let charge = accepted(l.charge(ALICE, 30, IdemKey(1), 1));
        l.charge(BOB, 90, IdemKey(2), 1).unwrap();
        l.refund(charge, 10, IdemKey(3), 2).unwrap();
        let mut rebuilt = Ledger::from_entries_unchecked(2, l.entries().to_vec());
        assert_eq!(
            rebuilt.recompute_balances(),
            vec![l.balance(ALICE), l.balance(BOB)]
        );
        assert_eq!((rebuilt.balance(ALICE), rebuilt.balance(BOB)), (80, 50));
        assert_eq!(rebuilt.outcome_of(IdemKey(1)), l.outcome_of(IdemKey(1)));
        // The refund total came back too: only 20 of the charge is left.
        assert!(matches!(
            rebuilt.refund(charge, 21, IdemKey(4), 3),
            Err(LedgerError::RefundExceedsCharge { refunded: 10, .. })
        ));
    }
}
